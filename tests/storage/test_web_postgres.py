"""`rtoc web` over PostgreSQL: the web view of a logger's history kept in a shared database.

Lives beside the other PostgreSQL tests for their server fixture (tests/storage/conftest.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rtoc_tui.client.store import StoreClient
from rtoc_tui.config.home import Home, load_config
from rtoc_tui.storage import make_engine
from rtoc_tui.web.app import make_app

from .conftest import PgServer, StartFn, flush, stop

pytestmark = pytest.mark.postgres


async def test_web_view_reads_a_postgres_history(
    pg: PgServer, start_logger: StartFn, home: Home, aiohttp_client: Any
) -> None:
    lg, svc = await start_logger({"postgresql": pg.config, "global": {"name": "PgLab"}})
    x = 1_700_000_000.0 + np.arange(5000) / 10.0
    lg.store.append("Boiler", "T", x, 60 + np.sin(x), unit="°C")
    lg.event("burner on", dname="Boiler", priority=1, id="burner", x=float(x[100]))
    assert await flush(svc)
    await stop(lg)

    cfg = load_config(home.config_file).config
    engine = make_engine(home, cfg)  # the same logger id (data/logger_id): its own signals
    engine.open()
    client = StoreClient(engine, cfg.global_.name)
    try:
        http = await aiohttp_client(make_app(client))
        st = await (await http.get("/api/status")).json()
        assert st["mode"] == "store" and "postgresql" in st["storage"]
        if pg.config["password"]:
            assert pg.config["password"] not in str(st)
        j = await (await http.get(f"/api/data?s=Boiler.T&xmin={x[0]}&xmax={x[-1]}&n=200")).json()
        s = j["series"]["Boiler.T"]
        got_y = np.asarray(s["y"], dtype=float)
        ref_x, ref_y = engine.query(engine.signals()[0].id, float(x[0]), float(x[-1]), 200)
        assert len(got_y) == len(ref_y) and np.allclose(got_y, ref_y, rtol=1e-6)
        ev = await (await http.get("/api/events")).json()
        assert [e["text"] for e in ev["events"]] == ["burner on"]
    finally:
        await client.close()
