"""Running the web view: on a logger's asyncio loop (a logger service) or on its own.

The server runs on the loop it is started from, so a logger serves it beside its TCP server
without a thread. A slow or stuck browser costs one connection's buffers, never the loop:
aiohttp writes asynchronously, replies are bounded (app.py), and idle keep-alive connections
are closed after KEEPALIVE_S.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from ..api import LoggerClient
from .app import make_app
from .security import WebConfigError, WebOptions

log = logging.getLogger("rtoc.web")

KEEPALIVE_S = 30.0
SHUTDOWN_TIMEOUT_S = 2.0


class WebServer:
    """The web view of one client, listening on options.host:options.port."""

    name = "web"

    def __init__(
        self,
        client: LoggerClient,
        options: WebOptions,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        """With on_error, a failure to start is reported there and the caller carries on
        (a logger keeps logging without its web view); without, start() raises it."""
        self.client = client
        self.options = options
        self.on_error = on_error
        self.runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return self.options.url(self.port)

    @property
    def running(self) -> bool:
        return self.runner is not None

    async def start(self) -> None:
        """Check the settings, listen, and say where (and how safely) the view is served."""
        try:
            await self._start()
        except WebConfigError as exc:
            if self.on_error is None:
                raise
            log.error("web view not started: %s", exc)
            self.on_error(f"web view not started: {exc}")

    async def _start(self) -> None:
        self.options.check()
        ssl_ctx = self.options.ssl_context()
        app = make_app(self.client, self.options)
        runner = web.AppRunner(
            app, access_log=None, keepalive_timeout=KEEPALIVE_S, shutdown_timeout=SHUTDOWN_TIMEOUT_S
        )
        await runner.setup()
        site = web.TCPSite(
            runner, self.options.host, self.options.port, ssl_context=ssl_ctx, backlog=64
        )
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise WebConfigError(
                f"the web view cannot listen on {self.options.host}:{self.options.port}: "
                f"{exc.strerror or exc}; choose another port with global.webserver_port"
            ) from exc
        self.runner = runner
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.options.port
        log.info("web view at %s", self.url)
        if self.options.password:
            log.info(
                "web view token link (keep it private): %s?token=%s", self.url, self.options.token()
            )
        for line in self.options.warnings():
            log.warning("%s", line)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
