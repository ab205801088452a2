"""Slow devices hold up nothing unrelated (issue 14, item 8): device calls and storage reads
use separate pools, a slow constructor delays no other driver, a hung timer is marked stuck."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from rtoc_tui.client.local import LocalClient
from rtoc_tui.core import plugin as plugin_mod
from rtoc_tui.core.logger import Logger

DRIVERS = {
    "Blocker": """
import threading, time
from rtoc_tui.core.plugin import LoggerPlugin

class Plugin(LoggerPlugin):
    def block(self, seconds):
        time.sleep(seconds)
        return True
""",
    "SlowStart": """
import time
from rtoc_tui.core.plugin import LoggerPlugin

class Plugin(LoggerPlugin):
    def __init__(self, logger=None):
        super().__init__(logger)
        time.sleep(3)
""",
    "Quick": """
from rtoc_tui.core.plugin import LoggerPlugin

class Plugin(LoggerPlugin):
    pass
""",
    "HungTimer": """
import threading
from rtoc_tui.core.plugin import LoggerPlugin

RELEASE = threading.Event()

class Plugin(LoggerPlugin):
    def __init__(self, logger=None):
        super().__init__(logger)
        self.setPerpetualTimer(self.tick, samplerate=100)
        self.start()

    def tick(self):
        RELEASE.wait(30)
""",
}


DRIVERS["SlowStart2"] = DRIVERS["SlowStart"]


@pytest.fixture
def lg(logger: Logger) -> Logger:
    for name, code in DRIVERS.items():
        (logger.home.devices_dir / f"{name}.py").write_text(code, encoding="utf-8")
    logger.devices.refresh()
    return logger


async def test_blocking_device_calls_do_not_delay_storage_reads(lg: Logger) -> None:
    class SlowlessStorage:  # a store that answers at once: only the pool can delay it
        def query(self, name, xmin, xmax, max_n):  # noqa: ANN001, ANN201
            return np.arange(3.0), np.arange(3.0)

        def unit(self, name):  # noqa: ANN001, ANN201
            return "V"

    lg.storage = SlowlessStorage()  # type: ignore[assignment]
    client = LocalClient(lg)
    await client.start_device("Blocker")
    calls = [asyncio.create_task(client.call_function("Blocker", "block", [3.0])) for _ in range(8)]
    await asyncio.sleep(0.2)
    t0 = time.monotonic()
    await client.query("Dev.s", None, None, 100)
    took = time.monotonic() - t0
    assert await asyncio.gather(*calls) == [True] * 8
    await asyncio.to_thread(lg.devices.stop_all)
    assert took < 1.0, f"a storage read waited {took:.1f} s behind device calls"


async def test_a_slow_constructor_delays_no_other_driver(lg: Logger) -> None:
    client = LocalClient(lg)
    slow = asyncio.create_task(client.start_device("SlowStart"))
    await asyncio.sleep(0.3)
    t0 = time.monotonic()
    await client.start_device("Quick")
    took = time.monotonic() - t0
    await slow
    t1 = time.monotonic()
    started = await asyncio.to_thread(lg.devices.autorun, ["SlowStart", "Quick"])
    assert started == ["SlowStart", "Quick"]  # already running: nothing to wait for
    assert time.monotonic() - t1 < 1.0
    await asyncio.to_thread(lg.devices.stop_all)
    assert took < 1.0, f"starting Quick waited {took:.1f} s for SlowStart's constructor"


async def test_autorun_starts_drivers_side_by_side(lg: Logger) -> None:
    t0 = time.monotonic()
    started = await asyncio.to_thread(lg.devices.autorun, ["SlowStart", "SlowStart2", "Quick"])
    assert started == ["SlowStart", "SlowStart2", "Quick"]
    assert time.monotonic() - t0 < 5.0  # one after the other it took 6 s
    await asyncio.to_thread(lg.devices.stop_all)


def test_a_hung_timer_is_marked_stuck_with_since_when(
    lg: Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin_mod, "STUCK_MIN_S", 0.3)
    p = lg.devices.start("HungTimer")
    release = next(
        v
        for v in vars(__import__("sys").modules[type(p).__module__]).values()
        if isinstance(v, threading.Event)
    )
    try:
        time.sleep(0.8)
        (st,) = [d for d in lg.devices.status() if d.name == "HungTimer"]
        assert st.state == "stuck" and "blocked since" in st.reason
        assert lg.devices.check_stuck() == ["HungTimer"]
        assert lg.devices.check_stuck() == ["HungTimer"]
        stuck = [e for e in lg.events.all() if e.id == "deviceStuck"]
        assert len(stuck) == 1 and stuck[0].priority == 2  # once per episode
    finally:
        release.set()
        lg.devices.stop_all()
