"""Helpers of the web view tests: a logger serving its web view from a thread, Chromium's path.

Chromium and chromedriver come from Debian's packages (`.ci/run` installs them); the browser
runs headless with a fresh profile and no network access beyond 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import helpers
import pytest

from rtoc_tui import runtime
from rtoc_tui.config.home import Home
from rtoc_tui.core.logger import Logger

CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


class LoggerThread:
    """A logger (with its web view) running on its own asyncio loop in a thread."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="logger", daemon=True)
        self.logger: Logger | None = None

    def run(self, coro: Any, timeout: float = 30.0) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def start(self) -> Logger:
        self.thread.start()

        async def build() -> Logger:
            lg = runtime.build_logger(self.home)
            await lg.start(autorun=False)
            return lg

        self.logger = self.run(build())
        return self.logger

    def stop(self) -> None:
        if self.logger is not None:
            self.run(self.logger.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @property
    def url(self) -> str:
        assert self.logger is not None
        return str(self.logger.web.url)  # type: ignore[attr-defined]


def web_home(root: Path, extra: dict[str, Any] | None = None) -> Home:
    h = Home(root)
    h.ensure()
    h.write_autorun([])
    cfg: dict[str, Any] = {
        "global": {"webserver_port": 0},
        "web": {"active": True},
        "backup": {"active": False},
    }
    for k, v in (extra or {}).items():
        cfg.setdefault(k, {}).update(v)
    h.config_file.write_text(json.dumps(cfg), encoding="utf-8")
    return h


def artefact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $RTOC_TEST_ARTEFACTS if set, else a pytest tmp folder."""
    env = os.environ.get("RTOC_TEST_ARTEFACTS")
    path = Path(env) if env else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def find_binary(*names: str) -> str:
    for n in names:
        path = shutil.which(n) or (f"/usr/bin/{n}" if Path(f"/usr/bin/{n}").exists() else None)
        if path:
            return path
    raise RuntimeError(
        f"{names[0]} not found: install Debian's chromium and chromium-driver (.ci/run does)"
    )


def wait_for(pred: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """helpers.wait_for for a browser: a page mid-load may raise, which counts as not yet."""

    def attempt() -> Any:
        try:
            return pred()
        except Exception:
            return None

    return helpers.wait_for(attempt, timeout, what, interval=0.05)
