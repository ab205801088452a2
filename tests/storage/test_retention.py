"""Retention by age (per signal pattern) and size, in the background, shown in the status
(issue 14, item 6); by default nothing is deleted but a full disk is foreseen once."""

from __future__ import annotations

import json
import time
from collections import namedtuple
from typing import Any

import numpy as np
import pytest
from helpers import wait_until

from rtoc_tui.runtime import write_status_file
from rtoc_tui.storage import retention as R

from .conftest import StartFn, flush

DAY = 86400.0


def stored_x(svc: Any, name: str) -> np.ndarray:
    chunks = [x for x, _ in svc.iter_samples(name)]
    return np.concatenate(chunks) if chunks else np.empty(0)


async def test_age_limits_per_signal_pattern(start_logger: StartFn) -> None:
    lg, svc = await start_logger(
        {"backup": {"retentionDays": 10, "retentionSignals": {"Fast.*": 1}}}
    )
    now = time.time()
    old = now - 3 * DAY + np.arange(100.0)
    for name in ("Fast.a", "Slow.b"):
        lg.store.append(*name.split("."), old, np.ones(100))
    assert await flush(svc)
    new = now - 10 + np.arange(10.0)
    for name in ("Fast.a", "Slow.b"):
        lg.store.append(*name.split("."), new, np.ones(10))
    assert await flush(svc)
    assert svc.retention.run_once() == 100
    fast = [x for x, _ in svc.engine.iter_samples(svc._stored("Fast.a").id, None, None)]
    assert np.array_equal(np.concatenate(fast), new)  # 3 days > 1 day for Fast.*
    counts = {sig.name: sig.count for sig in svc.engine.signals()}
    assert counts["Slow.b"] == 110  # 10 days for the rest


async def test_age_limit_keeps_young_data_and_signals_without_a_time_axis(
    start_logger: StartFn,
) -> None:
    lg, svc = await start_logger({"backup": {"retentionDays": 1}})
    now = time.time()
    lg.store.append("T", "old", now - 5 * DAY + np.arange(50.0), np.ones(50))
    lg.store.plot(np.arange(20.0), np.ones(20), "spectrum", "T")  # x in Hz, not time
    assert await flush(svc)
    lg.store.append("T", "old", now + np.arange(5.0), np.ones(5))
    assert await flush(svc)
    assert svc.retention.run_once() == 50
    assert np.array_equal(stored_x(svc, "T.old"), now + np.arange(5.0))
    assert len(stored_x(svc, "T.spectrum")) == 20
    assert "1 days; 50 samples deleted" in svc.retention.describe()


async def test_size_limit_deletes_the_oldest_first(start_logger: StartFn) -> None:
    limit_samples = 1000
    lg, svc = await start_logger(
        {"backup": {"retentionMB": limit_samples * R.BYTES_PER_SAMPLE / 1e6}}
    )
    for i in range(5):
        lg.store.append("S", "a", 1e9 + np.arange(i * 600.0, (i + 1) * 600.0), np.ones(600))
        assert await flush(svc)
    assert svc.retention.run_once() == 2400
    x = np.sort(stored_x(svc, "S.a"))
    assert len(x) == 600 and x[0] == 1e9 + 2400  # the newest block(s) under the limit
    assert svc.engine.stored_samples() <= limit_samples


async def test_default_keeps_everything_and_warns_once_before_the_disk_is_full(
    start_logger: StartFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    lg, svc = await start_logger()
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(R.shutil, "disk_usage", lambda p: Usage(10**9, 0, 10**6))
    lg.store.append("D", "a", 1e9 + np.arange(10.0), np.ones(10))
    assert await flush(svc)
    t = time.time()
    assert svc.retention.run_once(t) == 0
    lg.store.append("D", "a", 1e9 + np.arange(10.0, 1010.0), np.ones(1000))
    assert await flush(svc)
    svc.retention.run_once(t + 60)  # 1,000 samples a minute: 24 MB a day > 1 MB free
    svc.retention.run_once(t + 120)
    warn = [e for e in lg.events.all() if e.id == "storageDisk"]
    assert len(warn) == 1 and "retentionDays" in warn[0].text
    assert len(stored_x(svc, "D.a")) == 1010  # nothing deleted by default
    write_status_file(lg)
    status = json.loads(lg.home.status_file.read_text())
    assert status["retention"].startswith("keeps everything")


async def test_retention_runs_in_the_background_beside_ingest(
    start_logger: StartFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(R, "INTERVAL_S", 0.1)
    lg, svc = await start_logger({"backup": {"retentionDays": 1}})
    lg.store.append("B", "a", time.time() - 2 * DAY + np.arange(100.0), np.ones(100))
    assert await flush(svc)
    lg.store.append("B", "a", time.time() + np.arange(3.0), np.ones(3))
    await wait_until(lambda: svc.retention.deleted == 100, what="retention in its thread")
    assert await flush(svc)
    assert len(stored_x(svc, "B.a")) == 3
