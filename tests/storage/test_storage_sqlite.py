"""The storage service on real SQLite files: flush, query, restore, replace, clear, resample, status."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import wait_until

from rtoc_tui.client.local import LocalClient
from rtoc_tui.config.home import Home
from rtoc_tui.core.logger import Logger
from rtoc_tui.storage import SqliteEngine, attach_storage

from .conftest import StartFn, flush, stop


async def test_backup_inactive_attaches_nothing(make_logger) -> None:
    lg = make_logger({"backup": {"active": False}})
    assert attach_storage(lg) is None
    assert lg.storage is None and lg.services == []


async def test_flusher_stores_everything_beyond_record_length(
    start_logger: StartFn, home: Home
) -> None:
    lg, svc = await start_logger({"global": {"recordLength": 1000}})
    for k in range(10):  # 10,000 samples through a 1,000-sample ring, flushed as they come
        x = np.arange(k * 1000, (k + 1) * 1000, dtype=float)
        lg.store.append("Dev", "U", x, x * 2, "V")
        await wait_until(lambda: svc.pending_samples() == 0, what="flush")
    assert len(lg.store.get("Dev.U")) == 1000
    x, y = svc.query("Dev.U", None, None, None)
    assert np.array_equal(x, np.arange(10_000.0)) and np.array_equal(y, 2 * x)
    x, y = svc.query("Dev.U", 2500.0, 2600.0, None)
    assert (x[0], x[-1], len(x)) == (2500.0, 2600.0, 101)
    x, y = svc.query("Dev.U", None, None, 100)
    assert len(x) <= 100 and y.max() == 19_998.0 and y.min() == 0.0
    assert (home.data_dir / "rtoc.sqlite").exists()
    assert svc.samples_lost == 0


async def test_query_includes_unflushed_memory(start_logger: StartFn) -> None:
    lg, svc = await start_logger({"backup": {"intervall": 60.0}})
    lg.store.append("Dev", "U", [1.0, 2.0], [10.0, 20.0], "V")
    assert await flush(svc)
    lg.store.append("Dev", "U", [3.0], [30.0])  # not flushed: the next flush is a minute away
    x, y = svc.query("Dev.U", None, None, None)
    assert x.tolist() == [1.0, 2.0, 3.0] and y.tolist() == [10.0, 20.0, 30.0]
    assert [c[0].tolist() for c in svc.iter_samples("Dev.U")] == [[1.0, 2.0], [3.0]]


async def test_restart_restores_newest_samples_and_events(
    start_logger: StartFn, home: Home
) -> None:
    lg, svc = await start_logger({"global": {"recordLength": 5000}})
    lg.store.append("Dev", "U", np.arange(2000.0), np.arange(2000.0), "V")
    lg.event("overvoltage", dname="Dev", sname="U", priority=1, id="ov", value={"u": 5})
    await stop(lg)  # autoOnClose flushes everything
    lg2, svc2 = await start_logger({"global": {"recordLength": 500}})
    buf = lg2.store.get("Dev.U")
    assert buf is not None and buf.unit == "V"
    x, _y = buf.copy()
    assert np.array_equal(x, np.arange(1500.0, 2000.0))
    assert svc.samples_lost == 0
    evs = [e for e in lg2.events.all() if e.id == "ov"]
    assert len(evs) == 1 and evs[0].value == {"u": 5} and evs[0].priority == 1
    # restored data is not written a second time
    lg2.store.append("Dev", "U", [2000.0], [1.0])
    assert await flush(svc2)
    assert svc2.engine.find("Dev.U") is not None
    assert [s.count for s in svc2.engine.signals() if s.name == "Dev.U"] == [2001]
    assert sum(1 for e in svc2.engine.events() if e.id == "ov") == 1


async def test_restored_events_do_not_notify_listeners(start_logger: StartFn, home: Home) -> None:
    lg, _svc = await start_logger()
    lg.event("alarm", id="alarm")
    await stop(lg)
    seen = []
    lg2 = Logger.from_home(home)
    lg2.events.add_listener(seen.append)  # e.g. global actions: must not fire for old alarms
    attach_storage(lg2)
    await lg2.start(autorun=False)
    try:
        assert [e.id for e in lg2.events.all()] == ["alarm"] and seen == []
    finally:
        await lg2.stop()


async def test_load_on_open_false_starts_empty(start_logger: StartFn) -> None:
    lg, _svc = await start_logger()
    lg.store.append("Dev", "U", [1.0], [1.0])
    await stop(lg)
    lg2, svc2 = await start_logger({"backup": {"loadOnOpen": False}})
    assert lg2.store.get("Dev.U") is None
    assert svc2.query("Dev.U", None, None, None)[0].tolist() == [1.0]


async def test_plot_hold_off_replaces_stored_data(start_logger: StartFn) -> None:
    lg, svc = await start_logger()
    lg.plot([1, 2, 3], [1, 1, 1], sname="spectrum", dname="FFT")
    assert await flush(svc)
    lg.plot([10, 20], [5, 6], sname="spectrum", dname="FFT")  # replaces
    lg.plot([30], [7], sname="spectrum", dname="FFT", hold="on")  # then appends
    assert await flush(svc)
    x, y = svc.query("FFT.spectrum", None, None, None)
    assert x.tolist() == [10.0, 20.0, 30.0] and y.tolist() == [5.0, 6.0, 7.0]


async def test_backup_clear_drops_stored_samples_from_memory(start_logger: StartFn) -> None:
    lg, svc = await start_logger({"backup": {"clear": True}})
    lg.store.append("Dev", "U", np.arange(100.0), np.arange(100.0))
    await wait_until(lambda: len(lg.store.get("Dev.U")) == 0, what="memory cleared after storing")
    lg.store.append("Dev", "U", [100.0], [100.0])
    assert svc.query("Dev.U", None, None, None)[0].tolist() == list(np.arange(101.0))


async def test_resample_before_storing(start_logger: StartFn) -> None:
    lg, svc = await start_logger({"backup": {"resample": 2.0}})
    x = np.arange(0.0, 10.0, 0.1)  # 10 Hz
    lg.store.append("Dev", "U", x[:50], 3 * x[:50])
    assert await flush(svc)
    lg.store.append("Dev", "U", x[50:], 3 * x[50:])
    await stop(lg)
    eng = SqliteEngine(svc.engine.path)  # type: ignore[attr-defined]
    eng.open()
    found = eng.find("Dev.U")
    assert found is not None
    sx, sy = eng.query(found.id, None, None, None)
    eng.close()
    assert np.allclose(sx, np.arange(0.0, 10.0, 0.5)) and np.allclose(sy, 3 * sx)


async def test_status_reports_engine_and_lag(start_logger: StartFn) -> None:
    lg, svc = await start_logger()
    lg.store.append("Dev", "U", [1.0], [1.0])
    assert await flush(svc)
    st = lg.status()
    assert (
        st.storage.startswith("sqlite ") and st.storage_lag_s is not None and st.storage_lag_s < 5
    )


async def test_local_client_query_and_export(start_logger: StartFn, tmp_path) -> None:
    lg, svc = await start_logger({"global": {"recordLength": 100}})
    for k in range(10):  # 1,000 samples through a 100-sample ring
        lg.store.append("Dev", "U", np.arange(k * 100, k * 100 + 100.0), np.ones(100), "V")
        assert await flush(svc)
    client = LocalClient(lg)
    win = await client.query("Dev.U", None, None, 10_000)
    assert len(win.x) == 1000 and win.unit == "V"  # beyond what memory holds
    out = await client.export(str(tmp_path / "u.csv"), ["Dev.U"], 10.0, 19.0)
    lines = (tmp_path / "u.csv").read_text().splitlines()
    assert out.endswith("u.csv") and lines[0] == "Dev.U x,Dev.U [V]" and len(lines) == 11


def test_postgres_without_its_extra_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base install (no psycopg) with postgresql.active says which extra to install."""
    import sys

    from rtoc_tui.config.home import Home, load_config
    from rtoc_tui.config.schema import ConfigError
    from rtoc_tui.storage import make_engine

    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    monkeypatch.delitem(sys.modules, "rtoc_tui.storage.postgres", raising=False)
    home = Home(tmp_path / "h")
    home.ensure()
    cfg = load_config(home.config_file, env={}).config
    cfg.postgresql.active = True
    with pytest.raises(ConfigError, match=r"pip install 'rtoc-tui\[postgres\]'"):
        make_engine(home, cfg)
