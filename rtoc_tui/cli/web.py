"""`rtoc web`: the web view of a user folder's stored history, with no logger running.

A running logger serves its own view (web.active or `rtoc run --web`), with live data.
This command is for the times none runs there: it opens the store the folder's config selects
(SQLite in data/ or PostgreSQL) read-only, like RTOC's web server did with PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from dataclasses import replace
from typing import Annotated

import typer
from rich.markup import escape

from ..config.home import Home, load_config, resolve_home
from ..config.schema import ConfigError
from .common import HomeOpt, console, err_console
from .common import fail as _fail
from .config import STATUS_STALE_S, pid_alive

# The storage layer, the client and aiohttp are imported inside the command, so other
# commands never load them.


def _running_logger(h: Home) -> int | None:
    """The pid of a logger running on this folder (from its fresh status.json), if any."""
    try:
        data = json.loads(h.status_file.read_text(encoding="utf-8"))
        pid = int(data.get("pid") or 0)
        fresh = time.time() - float(data.get("written_at") or 0) < STATUS_STALE_S
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return pid if pid and fresh and pid_alive(pid) else None


def web_cmd(
    home: HomeOpt = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to bind (default: web.host)")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port", help="Port (default: global.webserver_port, 8050)", min=0, max=65535
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging")] = False,
) -> None:
    """Serve the web view of the stored history of a user folder (read-only, no logger needed).

    Open the printed address in a browser. A running logger shows live data in its own view
    instead: set web.active, or start it with `rtoc run --web`.

    Examples:

      rtoc web --home /var/lib/rtoc

      rtoc web --host 0.0.0.0      # needs web.password; use web.tls_cert/web.tls_key for HTTPS
    """
    from .. import runtime
    from ..client.store import StoreClient
    from ..storage import StorageError, make_engine

    try:
        from ..web.security import WebConfigError, WebOptions
        from ..web.service import WebServer
    except ModuleNotFoundError as exc:
        if exc.name != "aiohttp":
            raise
        from ..web import MISSING_EXTRA

        raise _fail(MISSING_EXTRA) from exc

    runtime.setup_logging(logging.DEBUG if verbose else logging.INFO)
    h = Home(resolve_home(home))
    try:
        h.ensure()
        cfg = load_config(h.config_file).config
    except (ConfigError, OSError) as exc:
        raise _fail(str(exc)) from exc
    options = WebOptions.from_config(cfg)
    if host is not None:
        options = replace(options, host=host)
    if port is not None:
        options = replace(options, port=port)
    try:
        options.check()
    except WebConfigError as exc:
        raise _fail(str(exc)) from exc
    pid = _running_logger(h)
    if pid is not None:
        err_console.print(
            f"[yellow]A logger (pid {pid}) runs on {escape(str(h.root))}:[/] this view shows what "
            "it has stored so far; its own view (web.active, `rtoc run --web`) shows live data."
        )
    engine = make_engine(h, cfg)
    try:
        engine.open()
    except StorageError as exc:
        raise _fail(f"cannot open the store: {exc}") from exc
    client = StoreClient(engine, cfg.global_.name)
    code = asyncio.run(_serve(WebServer(client, options)))
    raise typer.Exit(code)


async def _serve(server: object) -> int:
    from ..web.security import WebConfigError
    from ..web.service import WebServer

    assert isinstance(server, WebServer)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await server.start()
        except WebConfigError as exc:
            err_console.print(f"[bold red]rtoc:[/] {escape(str(exc))}")
            return 2
        console.print(f"web view of the stored history at [bold]{server.url}[/] (Ctrl-C stops)")
        for line in server.options.warnings():
            err_console.print(f"[bold yellow]{escape(line)}[/]")
        await stop.wait()
        return 0
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await server.stop()
        await server.client.close()


def register(app: typer.Typer) -> None:
    """Add `web` to the rtoc command."""
    app.command("web")(web_cmd)
