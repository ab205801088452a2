"""The PostgreSQL engine against a real server: round trip, shared database, server going away."""

from __future__ import annotations

import numpy as np
import psycopg
from helpers import wait_until

from rtoc_tui.config.home import Home
from rtoc_tui.core.logger import Logger

from .conftest import PgServer, StartFn, flush, stop


def errors(lg: Logger) -> list[str]:
    return [e.text for e in lg.events.all() if e.priority == 2 and e.id == "storageError"]


async def test_roundtrip_restore_and_decimated_query(pg: PgServer, start_logger: StartFn) -> None:
    lg, svc = await start_logger({"postgresql": pg.config, "global": {"recordLength": 1000}})
    assert svc.engine.kind == "postgresql" and svc.error is None
    for k in range(30):  # 30,000 samples through a 1,000-sample ring
        lg.store.append(
            "Dev",
            "U",
            np.arange(k * 1000, (k + 1) * 1000, dtype=float),
            np.sin(np.arange(1000.0)),
            "V",
        )
        assert await flush(svc)
    lg.event("done", dname="Dev", sname="U", priority=1, value=[1, 2])
    x, _y = svc.query("Dev.U", None, None, None)
    assert np.array_equal(x, np.arange(30_000.0))
    x, y = svc.query("Dev.U", None, None, 200)
    assert len(x) <= 200 and np.isclose(y.max(), np.sin(np.arange(1000.0)).max())
    await stop(lg)
    lg2, svc2 = await start_logger({"postgresql": pg.config, "global": {"recordLength": 1000}})
    x2, _ = lg2.store.get("Dev.U").copy()
    assert np.array_equal(x2, np.arange(29_000.0, 30_000.0))
    assert [(e.text, e.value) for e in svc2.events() if e.id == ""] == [("done", [1, 2])]
    assert lg2.status().storage.startswith("postgresql ")


async def test_loggers_sharing_a_database_keep_their_signals_apart(
    pg: PgServer, start_logger: StartFn, tmp_path
) -> None:
    a_home, b_home = Home(tmp_path / "a"), Home(tmp_path / "b")
    a, sa = await start_logger({"postgresql": pg.config, "global": {"name": "Lab"}}, a_home)
    b, sb = await start_logger({"postgresql": pg.config, "global": {"name": "Lab"}}, b_home)
    a.store.append("Dev", "U", [1.0, 2.0], [1.0, 1.0])
    b.store.append("Dev", "U", [1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    a.event("from a")
    assert await flush(sa) and await flush(sb)
    assert sa.engine.logger_id != sb.engine.logger_id
    assert sa.query("Dev.U", None, None, None)[1].tolist() == [1.0, 1.0]
    assert sb.query("Dev.U", None, None, None)[1].tolist() == [2.0, 2.0, 2.0]
    assert [e.text for e in sb.engine.events()] == []
    assert (a_home.data_dir / "logger_id").read_text() != (
        b_home.data_dir / "logger_id"
    ).read_text()


async def test_terminated_connection_is_reported_and_writing_resumes(
    pg: PgServer, start_logger: StartFn
) -> None:
    lg, svc = await start_logger({"postgresql": pg.config})
    lg.store.append("Dev", "U", np.arange(100.0), np.ones(100))
    assert await flush(svc)
    app = f"rtoc-{svc.engine.uid}"[:63]  # type: ignore[attr-defined]
    with psycopg.connect(pg.dsn, autocommit=True) as admin:
        n = admin.execute(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
            (app,),
        ).fetchone()[0]
    assert n >= 1
    lg.store.append("Dev", "U", np.arange(100.0, 200.0), np.ones(100))
    await wait_until(
        lambda: bool(errors(lg)) or (svc.pending_samples() == 0 and svc.failures == 0),
        what="a flush attempt",
    )
    svc.flush_now()
    await wait_until(
        lambda: svc.error is None and svc.pending_samples() == 0, 60, "writing to resume"
    )
    assert np.array_equal(svc.query("Dev.U", None, None, None)[0], np.arange(200.0))


async def test_server_stopped_and_restarted(private_pg: PgServer, start_logger: StartFn) -> None:
    lg, svc = await start_logger({"postgresql": private_pg.config})
    lg.store.append("Dev", "U", np.arange(100.0), np.ones(100))
    assert await flush(svc)
    private_pg.script("pause")  # the server goes away
    lg.store.append("Dev", "U", np.arange(100.0, 300.0), np.ones(200))
    await wait_until(lambda: bool(errors(lg)), 60, "the outage to be reported")
    assert "PostgreSQL server unreachable" in errors(lg)[0]
    assert "ERROR" in lg.status().storage
    lg.store.append("Dev", "U", np.arange(300.0, 400.0), np.ones(100))  # still ingesting
    x, _ = svc.query("Dev.U", None, None, None)  # answered from memory meanwhile
    assert len(x) == 400
    private_pg.script("resume")
    svc.flush_now()
    await wait_until(
        lambda: svc.error is None and svc.pending_samples() == 0, 90, "writing to resume"
    )
    assert any(e.id == "storageResumed" for e in lg.events.all())
    assert np.array_equal(svc.query("Dev.U", None, None, None)[0], np.arange(400.0))
    assert svc.samples_lost == 0


async def test_postgres_unreachable_at_start_does_not_stop_the_logger(
    start_logger: StartFn,
) -> None:
    cfg = {"active": True, "host": "127.0.0.1", "port": 1, "user": "nobody", "database": "none"}
    lg, svc = await start_logger({"postgresql": cfg})
    assert errors(lg) and svc.error is not None
    lg.store.append("Dev", "U", [1.0], [2.0])
    assert svc.query("Dev.U", None, None, None)[1].tolist() == [2.0]
