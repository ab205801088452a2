"""Fixtures for the UI tests: a fake clock, a logger with deterministic data, app helpers."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import numpy as np
import pytest
from helpers import wait_until

from rtoc_tui.api import DeviceInfo, Status
from rtoc_tui.client.local import LocalClient
from rtoc_tui.core.logger import Logger

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
SNAPSHOT_DEVICES = ("Generator", "System")


class FakeClock:
    """A clock that only moves when told to (logger, generator and UI share it)."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


class StableClient(LocalClient):
    """LocalClient with the figures that depend on wall time or on which drivers other
    people add (the driver list) pinned down, so snapshots stay the same."""

    def __init__(self, logger: Logger, devices: tuple[str, ...] = SNAPSHOT_DEVICES) -> None:
        super().__init__(logger)
        self.device_names = devices

    async def devices(self) -> list[DeviceInfo]:
        return [d for d in await super().devices() if d.name in self.device_names]

    async def status(self) -> Status:
        s = await super().status()
        return Status(
            s.name,
            s.uptime_s,
            s.signals,
            s.samples_in_memory,
            s.samples_total,
            0.0,
            s.events,
            s.devices_running,
            s.clients,
            s.storage,
            s.storage_lag_s,
            s.record_length,
        )


@pytest.fixture(autouse=True)
def _no_gc_freeze(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app freezes the GC's view of startup objects; in the test process that would pile
    up every earlier test's objects (tests that check it turn it back on)."""
    from rtoc_tui.ui.app import RtocApp

    monkeypatch.setattr(RtocApp, "GC_FREEZE_AFTER_S", None)


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clock times in the UI are local time: pin the zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def sinus(t: np.ndarray, t0: float, freq: float = 0.2, level: float = 1.0) -> np.ndarray:
    """The Generator's Sinus waveform (phase 1, offset 1) with its defaults."""
    return level * np.sin(2 * math.pi * freq * (t - t0) + 1.0) + 1.0


def fill(logger: Logger, t_end: float = T0, seconds: float = 120.0) -> None:
    """Deterministic history: a sine (no unit), voltage (V) and current (A), and events."""
    t = np.arange(t_end - seconds, t_end, 0.1)
    logger.store.append("Generator", "Sinus", t, sinus(t, t_end), unit="")
    logger.store.append("Bench", "Voltage", t, 5.0 + 0.5 * np.sin(2 * math.pi * t / 20.0), "V")
    logger.store.append(
        "Bench", "Current", t, 0.5 + 0.2 * (np.floor((t - t_end) / 15.0) % 2), unit="A"
    )
    logger.event(
        "limit reached", sname="Voltage", dname="Bench", priority=1, id="lim", x=t_end - 30
    )
    logger.event("run started", dname="Bench", priority=0, id="start", x=t_end - 90)
    logger.event("probe lost", sname="Current", dname="Bench", priority=2, id="probe", x=t_end - 10)


@pytest.fixture
def ui_logger(make_logger: Callable[..., Logger], clock: FakeClock) -> Iterator[Logger]:
    """A logger on the fake clock with deterministic history (not started, no drivers)."""
    logger = make_logger(clock=clock)
    fill(logger, clock())
    yield logger
    logger.devices.stop_all()


async def wait_for(
    pilot: Any, predicate: Callable[[], bool], timeout: float = 5.0, what: str = ""
) -> None:
    """Let the app run until predicate() is true (fails after timeout seconds)."""
    await wait_until(predicate, timeout, what or str(predicate), pause=pilot.pause)


async def settle(pilot: Any, polls: int = 1, renders: int = 1) -> None:
    """Wait for the first polls and plot frames, then for the workers to finish."""
    app = pilot.app
    await wait_for(pilot, lambda: app.state.polls >= polls, what="polls")
    plot = app.screen.query("PlotPane")
    if plot:
        await wait_for(pilot, lambda: plot.first().renders >= renders, what="plot render")
    await app.workers.wait_for_complete()
    await pilot.pause()
    await plots_idle(pilot)


async def plots_idle(pilot: Any) -> None:
    """Wait until every plot on screen shows its newest frame (built in a thread)."""
    app = pilot.app

    def idle() -> bool:
        return all(
            p.idle
            for p in app.screen.query("PlotextPlot")
            # only plots with some rows inside the (scrolling) plot pane get drawn
            if p.is_on_screen and p.region.intersection(p.parent.scrollable_content_region).area
        )

    await wait_for(pilot, idle, what="plot frames")
    await pilot.pause()


def run(coro: Awaitable[Any]) -> Any:
    """Run a coroutine in a fresh loop (for the synchronous snapshot tests)."""
    return asyncio.run(coro)  # type: ignore[arg-type]


class RecordingClient(StableClient):
    """StableClient that records the window and stats requests the UI makes."""

    def __init__(self, logger: Logger, **kw: Any) -> None:
        super().__init__(logger, **kw)
        self.windows: list[tuple[list[str], float | None, float | None, int]] = []
        self.stats_calls: list[tuple[str, float | None, float | None]] = []

    async def window(self, names, xmin, xmax, n_points):  # type: ignore[no-untyped-def]
        self.windows.append((list(names), xmin, xmax, n_points))
        return await super().window(names, xmin, xmax, n_points)

    async def stats(self, name, xmin=None, xmax=None):  # type: ignore[no-untyped-def]
        self.stats_calls.append((name, xmin, xmax))
        return await super().stats(name, xmin, xmax)


def text_of(renderable: Any, width: int = 100) -> str:
    """Plain text of a Rich renderable."""
    from rich.console import Console

    console = Console(width=width, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()
