"""Small helpers shared by the tests (importable as `helpers`: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any


def wait_for(
    cond: Callable[[], Any],
    timeout: float = 5.0,
    what: str | Callable[[], str] = "condition",
    interval: float = 0.005,
) -> Any:
    """Poll cond until it returns something truthy (and return that), or fail after timeout s.

    The one wait of the test suite (wait_until is the same inside an event loop); `what` says
    what was awaited, or is called to describe the state at the timeout (e.g. a screen).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:g} s waiting for {detail}")
        time.sleep(interval)


async def wait_until(
    cond: Callable[[], Any],
    timeout: float = 30.0,
    what: str = "condition",
    pause: Callable[[float], Awaitable[Any]] | None = None,
) -> Any:
    """wait_for inside a running event loop: the loop (or a Pilot, pause=pilot.pause) runs
    between polls. Returns cond()'s truthy value; fails after timeout seconds."""
    sleep = pause or asyncio.sleep
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await sleep(0.02)


def events(logger: Any, event_id: str) -> list[Any]:
    """The logger's events with this id, oldest first."""
    return [e for e in logger.events.all() if e.id == event_id]


def latest(logger: Any, name: str) -> float | None:
    """The newest y value of signal "Device.Signal", or None."""
    buf = logger.store.get(name)
    last = None if buf is None else buf.latest()
    return None if last is None else last[1]


def count(logger: Any, name: str) -> int:
    """Samples held in memory for signal "Device.Signal"."""
    buf = logger.store.get(name)
    return 0 if buf is None else len(buf)


@contextmanager
def standalone_emulator(module: str, *args: str) -> Iterator[str]:
    """Run `python -m rtoc_tui.drivers.<module>.emulator ARGS` and yield its first output line
    (where it listens); on exit type `quit`, which must end it with code 0. Never left running."""
    cmd = [sys.executable, "-m", f"rtoc_tui.drivers.{module}.emulator", *args]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None and proc.stdin is not None
            yield proc.stdout.readline()
            proc.stdin.write("quit\n")
            proc.stdin.flush()
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
