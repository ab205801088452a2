"""Fixtures shared by the driver tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rtoc_tui.core import plugin as plugin_mod
from rtoc_tui.core.logger import Logger
from rtoc_tui.core.plugin import LoggerPlugin


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry a failing device after at most 50 ms instead of 30 s."""
    monkeypatch.setattr(plugin_mod, "BACKOFF_MAX_S", 0.05)


@pytest.fixture
def start_driver(logger: Logger) -> Iterator[Callable[..., LoggerPlugin]]:
    """start_driver(name, **settings) -> the running driver; after the test every driver is
    stopped and none of their timer threads may be left running."""
    names: set[str] = set()

    def _start(name: str, **settings: Any) -> LoggerPlugin:
        logger.devices.settings[name] = settings
        plugin = logger.devices.start(name)
        names.add(f"rtoc-{plugin.devicename}")
        return plugin

    yield _start
    logger.devices.stop_all()
    alive = [t.name for t in threading.enumerate() if t.name in names]
    assert not alive, f"driver threads left running: {alive}"
