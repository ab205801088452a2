"""One suite, two clients: LocalClient (in process) and RemoteClient (over a real TCP server on
loopback) must behave the same for every core operation of the LoggerClient interface."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from rtoc_tui.api import ClientError, LoggerClient
from rtoc_tui.client import local as L
from rtoc_tui.client.local import LocalClient
from rtoc_tui.client.remote import RemoteClient
from rtoc_tui.core.logger import Logger
from rtoc_tui.server.tcp import TcpServer


@pytest.fixture(params=["local", "remote"])
async def client(request: pytest.FixtureRequest, logger: Logger) -> AsyncIterator[LoggerClient]:
    if request.param == "local":
        yield LocalClient(logger)
    else:
        server = TcpServer(logger, port=0)
        await server.start()
        remote = RemoteClient("127.0.0.1", server.port, token=logger.home.auth_token())
        await remote.connect()
        try:
            yield remote
        finally:
            await remote.close()
            await server.stop()
    await asyncio.to_thread(logger.devices.stop_all)


def fill(
    logger: Logger, name: str = "D.s", n: int = 5000, t0: float = 1000.0, dt: float = 0.01
) -> tuple[np.ndarray, np.ndarray]:
    dname, sname = name.split(".")
    x = t0 + np.arange(n) * dt
    y = np.sin(x * 3.0) + 0.001 * np.arange(n)
    logger.store.append(dname, sname, x, y, "V")
    return x, y


async def test_connection_info(client: LoggerClient) -> None:
    assert isinstance(client, LoggerClient)
    assert client.info.connected is True


async def test_status(client: LoggerClient, logger: Logger) -> None:
    fill(logger)
    st = await client.status()
    assert (
        st.signals == 1
        and st.samples_in_memory == 5000
        and st.record_length == logger.store.record_length
    )
    assert st.name == logger.config.global_.name


async def test_send_signals_and_read_since(client: LoggerClient) -> None:
    await client.send("Dev", {"a": 1.5, "b": -2.0}, {"a": "V"}, x=100.0)
    sigs = {s.name: s for s in await client.signals()}
    assert sigs["Dev.a"].latest == (100.0, 1.5) and sigs["Dev.a"].unit == "V"
    assert sigs["Dev.b"].count == 1 and sigs["Dev.b"].written == 1
    chunks = await client.read_since({"Dev.a": 0, "Dev.b": 0, "Dev.none": 0})
    assert set(chunks) == {"Dev.a", "Dev.b"}
    assert chunks["Dev.a"].x.tolist() == [100.0] and chunks["Dev.a"].y.tolist() == [1.5]
    await client.send("Dev", {"a": 2.5}, x=101.0)
    more = await client.read_since({"Dev.a": chunks["Dev.a"].cursor})
    assert more["Dev.a"].y.tolist() == [2.5] and more["Dev.a"].missed == 0
    assert (await client.read_since({"Dev.a": more["Dev.a"].cursor}))["Dev.a"].x.size == 0


async def test_read_since_reports_missed_samples(client: LoggerClient, logger: Logger) -> None:
    logger.store.resize(100)
    fill(logger, n=250)
    chunk = (await client.read_since({"D.s": 0}))["D.s"]
    assert chunk.missed == 150 and chunk.x.size == 100 and chunk.cursor == 250


async def test_whole_buffer_window_is_the_core_window(client: LoggerClient, logger: Logger) -> None:
    fill(logger)
    got = await client.window(["D.s", "D.none"], None, None, 300)
    want = L.window_of(logger, ["D.s"], None, None, 300)
    assert set(got) == {"D.s"} and got["D.s"].unit == "V"
    assert np.array_equal(got["D.s"].x, want["D.s"].x) and np.array_equal(
        got["D.s"].y, want["D.s"].y
    )


def check_window(
    x: np.ndarray,
    y: np.ndarray,
    n_points: int,
    sx: np.ndarray,
    sy: np.ndarray,
    lo: float,
    hi: float,
) -> None:
    """What any min/max window must satisfy: bounds, order, size, and peaks kept."""
    inside = (sx >= lo) & (sx <= hi)
    assert 0 < len(x) <= n_points
    assert np.all(np.diff(x) >= 0) and x[0] >= lo and x[-1] <= hi
    assert y.min() == sy[inside].min() and y.max() == sy[inside].max()


async def test_time_window_keeps_bounds_and_peaks_while_sliding(
    client: LoggerClient, logger: Logger
) -> None:
    sx, sy = fill(logger, n=20000)
    for shift in (0.0, 0.05, 0.1, 3.3):
        lo, hi = 1020.0 + shift, 1080.0 + shift
        win = (await client.window(["D.s"], lo, hi, 400))["D.s"]
        check_window(win.x, win.y, 400, sx, sy, lo, hi)
    # new samples (a spike) arrive and the window slides over them
    logger.store.append("D", "s", np.array([1200.001, 1200.002]), np.array([50.0, -50.0]))
    sx, sy = np.r_[sx, 1200.001, 1200.002], np.r_[sy, 50.0, -50.0]
    win = (await client.window(["D.s"], 1140.01, 1200.01, 400))["D.s"]
    check_window(win.x, win.y, 400, sx, sy, 1140.01, 1200.01)
    assert win.y.max() == 50.0 and win.y.min() == -50.0


async def test_sparse_window_returns_the_samples(client: LoggerClient, logger: Logger) -> None:
    x = np.array([10.0, 20.0, 30.0])
    logger.store.append("D", "few", x, np.array([1.0, 3.0, 2.0]))
    win = (await client.window(["D.few"], 0.0, 100.0, 400))["D.few"]
    assert win.x.tolist() == [10.0, 20.0, 30.0] and win.y.tolist() == [1.0, 3.0, 2.0]


async def test_window_follows_clear_and_replace(client: LoggerClient, logger: Logger) -> None:
    fill(logger, n=1000)
    assert len((await client.window(["D.s"], 1000.0, 1010.0, 100))["D.s"].x) > 0
    logger.store.plot([1001.0, 1002.0], [7.0, 8.0], "s", "D")  # replaces the samples
    win = (await client.window(["D.s"], 1000.0, 1010.0, 100))["D.s"]
    assert win.y.tolist() == [7.0, 8.0]
    await client.clear_signals(["D.s"])
    assert len((await client.window(["D.s"], 1000.0, 1010.0, 100))["D.s"].x) == 0


async def test_stats(client: LoggerClient, logger: Logger) -> None:
    sx, sy = fill(logger)
    st = await client.stats("D.s", 1001.0, 1002.0)
    inside = (sx >= 1001.0) & (sx <= 1002.0)
    assert st is not None and st.count == int(inside.sum())
    assert st.min == sy[inside].min() and st.max == sy[inside].max()
    assert await client.stats("D.s", 5000.0, 6000.0) is None
    with pytest.raises(ClientError):
        await client.stats("D.none")


async def test_clear_and_delete_signals(client: LoggerClient, logger: Logger) -> None:
    fill(logger, "D.a")
    fill(logger, "D.b")
    await client.clear_signals(["D.a"])
    counts = {s.name: s.count for s in await client.signals()}
    assert counts == {"D.a": 0, "D.b": 5000}
    await client.delete_signals(["D.b"])
    assert [s.name for s in await client.signals()] == ["D.a"]
    await client.clear_signals()
    assert all(s.count == 0 for s in await client.signals())


async def test_events(client: LoggerClient, logger: Logger) -> None:
    await client.add_event("first", dname="D", sname="s", priority=1, id="one")
    logger.event("second", dname="D", sname="s", value={"v": 1})
    events = await client.events_since(0)
    assert [(e.text, e.priority, e.id) for e in events] == [("first", 1, "one"), ("second", 0, "")]
    assert events[1].value == {"v": 1}
    assert await client.events_since(events[-1].seq) == []
    await client.clear_events()
    assert await client.events_since(0) == []


async def test_devices_lifecycle_parameters_and_functions(client: LoggerClient) -> None:
    names = {d.name: d for d in await client.devices()}
    assert names["Generator"].state == "stopped"
    with pytest.raises(ClientError):
        await client.device_detail("Generator")
    started = await client.start_device("Generator")
    assert started.state == "running" and started.samplerate == 10.0
    detail = await client.device_detail("Generator")
    params = {p.name: p for p in detail.parameters}
    assert params["gen_freq"].value == 1.0 and params["gen_freq"].writable
    assert "setFrequency" in {f.name for f in detail.functions}
    assert await client.set_parameter("Generator", "gen_level", "2.5") == 2.5
    with pytest.raises(ClientError):
        await client.set_parameter("Generator", "no_such_parameter", 1)
    assert await client.call_function("Generator", "value_at", [0.0]) is not None
    with pytest.raises(ClientError):
        await client.call_function("Generator", "stream", [])  # plugin machinery is not callable
    with pytest.raises(ClientError):
        await client.start_device("NoSuchDriver")
    stopped = await client.stop_device("Generator")
    assert stopped.state == "stopped"


async def test_config_read_and_write(client: LoggerClient, logger: Logger) -> None:
    values = {c.key: c for c in await client.config()}
    assert values["tcp.port"].value == 5050 and values["tcp.port"].doc
    updated = {c.key: c.value for c in await client.set_config({"global.name": "Bench logger"})}
    assert updated["global.name"] == "Bench logger" == logger.config.global_.name
    with pytest.raises(ClientError):
        await client.set_config({"global.nope": 1})
    with pytest.raises(ClientError):
        await client.set_config({"tcp.port": "not a port"})


async def test_query_and_export(client: LoggerClient, logger: Logger) -> None:
    sx, sy = fill(logger)
    win = await client.query("D.s", 1001.0, 1002.0, 1000)
    inside = (sx >= 1001.0) & (sx <= 1002.0)
    assert win.unit == "V" and np.array_equal(win.x, sx[inside])
    with pytest.raises(ClientError):
        await client.query("D.none", None, None, 10)


async def test_scripting_answers_agree_without_automation(
    client: LoggerClient, logger: Logger
) -> None:
    assert logger.automation is None
    assert await client.scripts() == []
    assert await client.saved_scripts() == []
    assert await client.global_events() == {}
    with pytest.raises(ClientError, match="scripting is not available"):
        await client.run_script("print(1)")


async def test_import_signals_is_one_piece(client: LoggerClient, logger: Logger) -> None:
    from rtoc_tui.api import ImportSignal

    x = np.arange(2500, dtype=float)
    seen: list[tuple[int, int]] = []
    rep = await client.import_signals(
        [ImportSignal("Imp.a", "V", x, x * 2), ImportSignal("Imp.b", "", x[:10], -x[:10])],
        lambda done, total: seen.append((done, total)),
    )
    assert (rep.signals, rep.samples, rep.stored) == (2, 2510, (("Imp.a", 2500), ("Imp.b", 10)))
    assert seen and seen[-1] == (2510, 2510)
    a = logger.store.get("Imp.a")
    assert a is not None and a.unit == "V"
    ax, ay = a.window(None, None)
    assert ax.tolist() == x.tolist() and ay.tolist() == (x * 2).tolist()
    # a bad signal anywhere: nothing of the import is stored
    with pytest.raises(ClientError, match="nothing was stored.*Imp.bad.*3 x values but 2"):
        await client.import_signals(
            [
                ImportSignal("Imp.c", "", x[:5], x[:5]),
                ImportSignal("Imp.bad", "", x[:3], x[:2]),
            ]
        )
    with pytest.raises(ClientError, match="nothing was stored.*Device.Signal"):
        await client.import_signals([ImportSignal("nodot", "", x[:3], x[:3])])
    names = {s.name for s in await client.signals()}
    assert "Imp.c" not in names and "Imp.bad" not in names
