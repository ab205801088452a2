"""`rtoc web --home DIR`: the web view of a stored history, read-only, with no logger running."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from rtoc_tui.api import ClientError, LoggerClient
from rtoc_tui.cli import app as cli_app
from rtoc_tui.client.store import StoreClient
from rtoc_tui.config.home import Home, load_config
from rtoc_tui.core.logger import Logger
from rtoc_tui.storage import attach_storage, make_engine
from rtoc_tui.web.app import make_app

T0 = 1_700_000_000.0
N = 50_000


async def record(home: Home) -> None:
    """A logger that stores 50k samples of two signals and three events, then stops."""
    home.config_file.write_text(
        json.dumps({"backup": {"active": True, "intervall": 0.1}, "global": {"name": "Lab 7"}}),
        encoding="utf-8",
    )
    lg = Logger.from_home(home)
    svc = attach_storage(lg)
    assert svc is not None
    await lg.start(autorun=False)
    x = T0 + np.arange(N) / 10.0
    lg.store.append("Tank", "Level", x, np.sin(np.arange(N) / 100.0), unit="m")
    lg.store.append("Tank", "Temp", x, 20 + np.arange(N) % 7, unit="°C")
    lg.event("filled", dname="Tank", sname="Level", priority=0, id="fill", x=T0 + 10)
    lg.event("too warm", dname="Tank", sname="Temp", priority=1, id="warm", value=26, x=T0 + 20)
    lg.event("valve stuck", dname="Tank", priority=2, id="valve", x=T0 + 30)
    await lg.stop()


@pytest.fixture
async def store_client(home: Home) -> Any:
    await record(home)
    engine = make_engine(home, load_config(home.config_file).config)
    engine.open()
    client = StoreClient(engine, "Lab 7")
    yield client
    await client.close()


async def test_store_client_reads_the_history(store_client: StoreClient) -> None:
    assert isinstance(store_client, LoggerClient)
    sigs = {s.name: s for s in await store_client.signals()}
    assert set(sigs) == {"Tank.Level", "Tank.Temp"}
    level = sigs["Tank.Level"]
    assert level.count == N and level.unit == "m"
    assert level.latest is not None and level.latest[0] == pytest.approx(T0 + (N - 1) / 10)
    w = (await store_client.window(["Tank.Level"], T0 + 100, T0 + 200, 100))["Tank.Level"]
    assert 0 < len(w.x) <= 100 and w.x[0] >= T0 + 100 and w.x[-1] <= T0 + 200
    assert w.y.max() == pytest.approx(np.sin(np.arange(1000, 2001) / 100.0).max(), rel=1e-6)
    chunk = (await store_client.read_since({"Tank.Temp": N - 5}))["Tank.Temp"]
    assert list(chunk.y) == [20 + i % 7 for i in range(N - 5, N)] and chunk.cursor == N
    st = await store_client.stats("Tank.Temp")
    assert st is not None and st.count == N and st.min == 20 and st.max == 26
    status = await store_client.status()
    assert status.name == "Lab 7" and "read-only" in status.storage and status.signals == 2
    evs = await store_client.events_since(0)
    assert [e.text for e in evs] == ["filled", "too warm", "valve stuck"]
    assert await store_client.events_since(evs[-1].seq) == []
    assert await store_client.devices() == [] and await store_client.config() == []


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.send("D", {"a": 1.0}),
        lambda c: c.clear_signals(None),
        lambda c: c.delete_signals(["Tank.Level"]),
        lambda c: c.add_event("x"),
        lambda c: c.start_device("Generator"),
        lambda c: c.run_script("print(1)"),
        lambda c: c.set_config({"tcp.port": 1}),
    ],
)
async def test_store_client_refuses_every_change(store_client: StoreClient, call: Any) -> None:
    with pytest.raises(ClientError, match="read-only|rtoc export"):
        await call(store_client)


async def test_web_view_over_the_store(aiohttp_client: Any, store_client: StoreClient) -> None:
    client = await aiohttp_client(make_app(store_client))
    st = await (await client.get("/api/status")).json()
    assert st["mode"] == "store" and st["name"] == "Lab 7"
    # "the newest 60 s" of a stored history ends at its newest sample, not at the wall clock
    j = await (await client.get("/api/data?s=Tank.Level&span=60&n=100")).json()
    newest = T0 + (N - 1) / 10
    assert j["xmax"] == pytest.approx(newest) and j["xmin"] == pytest.approx(newest - 60)
    s = j["series"]["Tank.Level"]
    x = s["x0"] + np.asarray(s["xi"]) * s["q"]
    assert len(x) <= 100 and x[0] >= newest - 60 - 1e-3
    ev = await (await client.get("/api/events?prio=1,2")).json()
    assert [e["text"] for e in ev["events"]] == ["valve stuck", "too warm"]


@pytest.fixture
def rtoc_web(home: Home) -> Iterator[Any]:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}
        p = subprocess.Popen(
            [sys.executable, "-m", "rtoc_tui", "web", "--home", str(home.root), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(10)


async def test_rtoc_web_command_serves_the_store(home: Home, rtoc_web: Any) -> None:
    await record(home)
    p = rtoc_web("--port", "0")
    assert p.stdout is not None
    line = p.stdout.readline()
    m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
    assert m, line + (p.stderr.read() if p.poll() is not None and p.stderr else "")
    with urllib.request.urlopen(m.group(1) + "api/signals", timeout=10) as r:
        names = sorted(s["name"] for s in json.loads(r.read())["signals"])
    assert names == ["Tank.Level", "Tank.Temp"]
    req = urllib.request.Request(m.group(1) + "api/status", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 405
    p.send_signal(signal.SIGTERM)
    assert p.wait(10) == 0


def test_rtoc_web_refuses_a_public_address_without_password(home: Home) -> None:
    result = CliRunner().invoke(cli_app, ["web", "--home", str(home.root), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "web.password" in result.output


def test_run_web_flag_serves_the_view(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    from rtoc_tui import runtime
    from rtoc_tui.web.service import WebServer

    seen: list[Logger] = []

    async def fake_headless(logger: Logger, **_kw: Any) -> int:
        seen.append(logger)
        return 0

    monkeypatch.setattr(runtime, "run_headless", fake_headless)
    result = CliRunner().invoke(cli_app, ["run", "--headless", "--web", "--home", str(home.root)])
    assert result.exit_code == 0, result.output
    (logger,) = seen
    assert logger.config.web.active is True and isinstance(logger.web, WebServer)
    assert logger.web.options.port == 8050 and logger.web.options.host == "127.0.0.1"
    seen.clear()
    result = CliRunner().invoke(cli_app, ["run", "--headless", "--home", str(home.root)])
    assert result.exit_code == 0 and seen[0].web is None  # off by default


async def test_store_client_refuses_imports(store_client: StoreClient) -> None:
    with pytest.raises(ClientError, match="read-only"):
        await store_client.import_signals([])
