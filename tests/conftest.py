"""Shared fixtures. Tests never touch the real home folder: HOME and RTOC_HOME point into tmp."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rtoc_tui.config.home import Home
from rtoc_tui.core.logger import Logger


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    fake_home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(fake_home))
    monkeypatch.setenv("RTOC_HOME", str(fake_home / ".rtoc"))
    for var in [v for v in __import__("os").environ if v.startswith("RTOC_") and v != "RTOC_HOME"]:
        monkeypatch.delenv(var, raising=False)
    return fake_home


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Commands run in-process (`rtoc drivers test` via CliRunner, runtime.setup_logging)
    replace the root logger's handlers and level for the process; restore them after each
    test, or a later test's caplog saw no ERROR records (a test-order-dependent failure)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """A fresh user folder (created, with the default config and no autorun drivers)."""
    h = Home(tmp_path / "rtoc-home")
    h.ensure()
    h.write_autorun([])
    return h


def write_config(home: Home, data: dict[str, Any]) -> None:
    home.config_file.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture
def logger(home: Home) -> Logger:
    """A Logger on a fresh home; not started (call `await logger.start()` if needed)."""
    return Logger.from_home(home)


@pytest.fixture
def make_logger(home: Home):
    """Factory: make_logger(config_dict=None, devices={...}) -> Logger on the `home` folder."""

    def _make(config: dict[str, Any] | None = None, **kw: Any) -> Logger:
        if config is not None:
            write_config(home, config)
        return Logger.from_home(home, **kw)

    return _make
