"""kill -9 of a logger ingesting at full speed: every sample acknowledged more than two flush
intervals before the kill is found after a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from helpers import wait_until

from rtoc_tui.config.home import Home
from rtoc_tui.storage import SqliteEngine

from .conftest import StartFn, write_cfg

CHILD = Path(__file__).with_name("ingest_child.py")
INTERVAL_S = 0.25
N_SIGNALS = 4


async def test_kill_9_loses_nothing_older_than_two_flush_intervals(
    home: Home, start_logger: StartFn
) -> None:
    write_cfg(home, {"backup": {"intervall": INTERVAL_S}, "global": {"recordLength": 5_000_000}})
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(home.root), str(N_SIGNALS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acks: list[tuple[float, int]] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("READY"):
                ready.set()
            elif line.startswith("ACK "):
                _, t, k = line.split()
                acks.append((float(t), int(k)))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        await wait_until(ready.is_set, 60, "the child to start ingesting")
        # ingest for several flush intervals, then kill in the middle of the action
        await wait_until(
            lambda: len(acks) > 2 and acks[-1][0] - acks[0][0] > 8 * INTERVAL_S, 60, "ingest to run"
        )
        killed_at = time.time()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        reader.join(10)
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, err
    safe = [k for t, k in acks if t <= killed_at - 2 * INTERVAL_S]
    assert safe, "no acknowledgement older than two flush intervals"
    must_have = max(safe)
    assert must_have > 10_000  # it really was ingesting at speed

    eng = SqliteEngine(home.data_dir / "rtoc.sqlite")
    eng.open()
    try:
        for i in range(N_SIGNALS):
            sig = eng.find(f"Crash.s{i}")
            assert sig is not None
            x, y = eng.query(sig.id, None, None, None)
            assert len(x) >= must_have, (
                f"s{i}: {len(x)} stored, {must_have} acknowledged before the deadline"
            )
            assert np.array_equal(x[:must_have], np.arange(float(must_have))) and np.array_equal(
                y, x
            )
            assert np.array_equal(
                x, np.arange(float(len(x)))
            )  # a clean prefix: no gap, no duplicate
    finally:
        eng.close()

    # the restarted logger gets the recording back into memory
    lg, svc = await start_logger(
        {"backup": {"intervall": INTERVAL_S}, "global": {"recordLength": 1000}}
    )
    buf = lg.store.get("Crash.s0")
    assert buf is not None and len(buf) == 1000
    assert buf.latest() is not None and buf.latest()[0] >= must_have - 1
    assert svc.error is None
