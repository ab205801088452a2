"""Fixtures for the scripting tests: a logger with automation attached, and polling helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import helpers
import pytest

from rtoc_tui.core.logger import Logger
from rtoc_tui.scripting import Automation, attach_automation

ACTIVATED = {"global": {"globalEventsActivated": True, "globalActionsActivated": True}}


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    """wait_for(cond, timeout=5.0, what=...): poll until cond() is truthy (no bare sleeps)."""
    return helpers.wait_for


@pytest.fixture
def make_auto(
    make_logger: Callable[..., Logger],
) -> Iterator[Callable[..., tuple[Logger, Automation]]]:
    """make_auto(config=ACTIVATED, open=False) -> (logger, automation); all closed afterwards.

    With open=False no worker runs: tests call automation.evaluate_dirty() themselves, which
    makes global-event tests deterministic sample by sample.
    """
    made: list[tuple[Logger, Automation]] = []

    def _make(
        config: dict[str, Any] | None = ACTIVATED, open: bool = False
    ) -> tuple[Logger, Automation]:
        logger = make_logger(config)
        auto = attach_automation(logger)
        if open:
            auto.open()
        made.append((logger, auto))
        return logger, auto

    yield _make
    for logger, auto in made:
        logger.devices.stop_all()
        auto.close()


@pytest.fixture
def finish() -> Callable[[Automation, str], Any]:
    """finish(auto, run_id): wait until the run is no longer running; returns its output."""

    def _finish(auto: Automation, run_id: str, timeout: float = 5.0) -> Any:
        helpers.wait_for(
            lambda: auto.output(run_id).state != "running", timeout, f"script {run_id} to end"
        )
        return auto.output(run_id)

    return _finish
