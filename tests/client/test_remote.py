"""RemoteClient beyond the shared contract: connection state, reconnecting, passwords,
pipelining without head-of-line blocking, and the traffic of incremental windows."""

from __future__ import annotations

import asyncio
import socket
import textwrap
import threading
from collections.abc import AsyncIterator

import numpy as np
import pytest
from helpers import wait_until

from rtoc_tui.api import ClientError, Disconnected
from rtoc_tui.client.remote import RemoteClient
from rtoc_tui.config.home import Home
from rtoc_tui.core.logger import Logger
from rtoc_tui.server.tcp import TcpServer


@pytest.fixture
async def server(logger: Logger) -> AsyncIterator[TcpServer]:
    srv = TcpServer(logger, port=0)
    await srv.start()
    yield srv
    await srv.stop()
    await asyncio.to_thread(logger.devices.stop_all)


@pytest.fixture
async def client(server: TcpServer) -> AsyncIterator[RemoteClient]:
    c = RemoteClient("127.0.0.1", server.port, token=server.logger.home.auth_token())
    await c.connect()
    yield c
    await c.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_connect_to_nothing_raises_disconnected_and_keeps_trying(logger: Logger) -> None:
    port = free_port()
    c = RemoteClient("127.0.0.1", port, backoff_max_s=0.1)
    with pytest.raises(Disconnected, match="refused"):
        await c.connect()
    assert c.info.connected is False and c.info.extra["state"] == "disconnected"
    with pytest.raises(Disconnected):
        await c.status()
    srv = TcpServer(logger, port=port)  # the logger comes up later: the client finds it
    await srv.start()
    try:
        assert await c.wait_connected(10.0)
        assert (await c.status()).name == logger.config.global_.name
    finally:
        await c.close()
        await srv.stop()


async def test_reconnects_after_the_server_restarts(logger: Logger) -> None:
    srv = TcpServer(logger, port=0)
    await srv.start()
    port = srv.port
    c = RemoteClient("127.0.0.1", port, backoff_max_s=0.1)
    await c.connect()
    try:
        await srv.stop()
        await wait_until(lambda: not c.info.connected)
        with pytest.raises(Disconnected):
            await c.signals()
        assert c.info.extra["error"]
        srv = TcpServer(logger, port=port)
        await srv.start()
        assert await c.wait_connected(10.0)
        assert c.info.connected and c.reconnects == 1
        await c.send("R", {"v": 1.0})
        assert [s.name for s in await c.signals()] == ["R.v"]
    finally:
        await c.close()
        await srv.stop()


async def test_wrong_password_is_reported(logger: Logger) -> None:
    srv = TcpServer(logger, port=0, password="right")
    await srv.start()
    try:
        bad = RemoteClient("127.0.0.1", srv.port, "wrong", encrypt=True, backoff_max_s=0.2)
        with pytest.raises(Disconnected, match="wrong password"):
            await bad.connect()
        await bad.close()
        good = RemoteClient("127.0.0.1", srv.port, "right", encrypt=True)
        await good.connect()
        assert good.info.extra["encrypted"] and good.info.extra["server"]["encrypted"] is True
        await good.send("E", {"v": 2.0})
        assert (await good.signals())[0].latest[1] == 2.0  # type: ignore[index]
        await good.close()
    finally:
        await srv.stop()


async def test_many_requests_in_flight_on_one_connection(
    client: RemoteClient, logger: Logger
) -> None:
    await asyncio.gather(*(client.send("P", {f"s{i % 7}": float(i)}) for i in range(300)))
    results = await asyncio.gather(*(client.stats(f"P.s{i}") for i in range(7)))
    assert sum(r.count for r in results if r is not None) == 300
    assert logger.clients == 1


SLOW_DEVICE = textwrap.dedent(
    """
    from RTOC.LoggerPlugin import LoggerPlugin

    class Plugin(LoggerPlugin):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.setDeviceName("Slow")
            self.gate = None

        def hold(self):
            self.gate.wait(20)
            return "released"
    """
)


async def test_a_slow_call_does_not_block_other_requests(
    client: RemoteClient, logger: Logger, home: Home
) -> None:
    (home.devices_dir / "Slow.py").write_text(SLOW_DEVICE, encoding="utf-8")
    await client.start_device("Slow")
    gate = threading.Event()
    logger.devices.get("Slow").gate = gate  # type: ignore[union-attr]
    slow = asyncio.create_task(client.call_function("Slow", "hold"))
    status = await client.status()  # answered while the device call still blocks
    assert status.devices_running == 1 and not slow.done()
    gate.set()
    assert await slow == "released"


async def test_errors_arrive_as_client_errors(client: RemoteClient) -> None:
    with pytest.raises(ClientError, match="unknown operation"):
        await client.call("no_such_op")
    with pytest.raises(ClientError, match="bad arguments"):
        await client.call("status", unexpected=1)
    assert client.info.connected  # a failed request does not cost the connection


async def test_append_bulk_binary(client: RemoteClient, logger: Logger) -> None:
    x = np.arange(10_000.0)
    assert await client.append("B.bulk", x, x * 2, "A") == 10_000
    buf = logger.store.get("B.bulk")
    assert buf is not None and buf.unit == "A" and buf.latest() == (9999.0, 19998.0)
    with pytest.raises(ClientError, match="Device.Signal"):
        await client.append("nodot", x, x)


async def test_incremental_windows_match_a_fresh_fetch_and_stay_small(
    server: TcpServer, logger: Logger
) -> None:
    names = [f"F.s{i:02d}" for i in range(16)]
    t0 = 1_700_000_000.0
    x = t0 + np.arange(7000) * 0.01  # 70 s at 100 Hz
    for i, n in enumerate(names):
        logger.store.append("F", n.split(".")[1], x, np.sin(x + i) + np.cos(7 * x), "V")
    live = RemoteClient("127.0.0.1", server.port)
    await live.connect()
    try:
        now = t0 + 70.0
        await live.window(names, now - 60, now, 400)
        for step in range(1, 21):  # 2 s of polls at 10 Hz with 10 new samples per signal each
            new_x = t0 + 70.0 + (np.arange(10) + (step - 1) * 10) * 0.01
            for i, n in enumerate(names):
                logger.store.append(
                    "F", n.split(".")[1], new_x, np.sin(new_x + i) + np.cos(7 * new_x)
                )
            now = float(new_x[-1])
            before = live.bytes_received
            polled = await live.window(names, now - 60, now, 400)
            assert live.bytes_received - before < 12_000  # 16 x 400 points cost ~200 kB in full
        fresh = RemoteClient("127.0.0.1", server.port)
        await fresh.connect()
        try:
            again = await fresh.window(names, now - 60, now, 400)
        finally:
            await fresh.close()
        for n in names:
            assert np.array_equal(polled[n].x, again[n].x) and np.array_equal(
                polled[n].y, again[n].y
            )
            assert 0 < len(polled[n].x) <= 400
    finally:
        await live.close()


async def test_window_cache_recovers_from_late_and_replaced_data(
    client: RemoteClient, logger: Logger
) -> None:
    x = np.arange(1000.0)
    logger.store.append("L", "s", x, np.zeros(1000))
    await client.window(["L.s"], 0.0, 999.0, 100)
    logger.store.append(
        "L", "s", np.array([500.5]), np.array([42.0])
    )  # late: lands in a cached bucket
    win = (await client.window(["L.s"], 0.0, 999.0, 100))["L.s"]
    assert win.y.max() == 42.0
    logger.store.plot([1.0, 2.0], [3.0, 4.0], "s", "L")
    win = (await client.window(["L.s"], 0.0, 999.0, 100))["L.s"]
    assert win.y.tolist() == [3.0, 4.0]
    win = (await client.window(["L.s"], -500.0, 499.0, 100))["L.s"]  # the window moved back
    assert win.x.tolist() == [1.0, 2.0]
