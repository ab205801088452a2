"""The accept thread (transport.AcceptThread): one-shot requests are answered there without
the loop; anything else moves to the loop with what was read so far, and clients see no
difference. Which thread answered is recorded around the request handler.
"""

from __future__ import annotations

import asyncio
import json
import logging
import select
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest

from rtoc_tui import wire
from rtoc_tui.client.rtoc_jsonsocket import request
from rtoc_tui.core.logger import Logger
from rtoc_tui.server import transport
from rtoc_tui.server.tcp import TcpServer
from rtoc_tui.server.transport import AcceptThread, Listener

ACCEPT = "rtoc-tcp-accept"
PASSWORD = "pw"


@pytest.fixture
async def start(logger: Logger) -> AsyncIterator[Callable[..., Any]]:
    servers: list[TcpServer] = []

    async def _start(**kw: Any) -> TcpServer:
        srv = TcpServer(logger, port=0, **kw)
        await srv.start()
        servers.append(srv)
        return srv

    yield _start
    for srv in servers:
        await srv.stop()


@pytest.fixture
def answered_in(monkeypatch: pytest.MonkeyPatch) -> Callable[[TcpServer], list[str]]:
    """answered_in(server) -> a list that gets the thread name of every request handled."""

    def _watch(srv: TcpServer) -> list[str]:
        names: list[str] = []
        for attr in ("handle_data", "handle"):
            orig = getattr(srv.handler, attr)

            def wrapped(*a: Any, _orig: Any = orig, **kw: Any) -> Any:
                names.append(threading.current_thread().name)
                return _orig(*a, **kw)

            monkeypatch.setattr(srv.handler, attr, wrapped)
        return names

    return _watch


async def until(cond: Callable[[], Any], timeout: float = 5.0) -> None:
    """Poll a condition on the loop (the server runs on it too)."""
    t = time.monotonic()
    while not cond():
        assert time.monotonic() - t < timeout, "condition not reached"
        await asyncio.sleep(0.005)


async def read_frame(reader: asyncio.StreamReader) -> Any:
    header = await asyncio.wait_for(reader.readuntil(b"\n"), 10)
    length, taglen, noncelen = wire.parse_header(header[:-1], 1 << 30)
    body = await asyncio.wait_for(reader.readexactly(taglen + noncelen + length), 10)
    return json.loads(body[taglen + noncelen :])


def frame(obj: Any) -> bytes:
    return wire.pack(json.dumps(obj).encode())


async def test_one_shot_requests_never_reach_the_loop(
    start: Any, answered_in: Any, logger: Logger
) -> None:
    srv = await start()
    assert isinstance(srv._server, AcceptThread)
    names = answered_in(srv)
    data = {"y": [1.5], "sname": ["s"], "dname": "One", "unit": ["V"]}
    reply = await asyncio.to_thread(request, "127.0.0.1", srv.port, data)
    assert reply == {"error": False, "sent": True, **data}
    latest = await asyncio.to_thread(request, "127.0.0.1", srv.port, {"getLatest": ["One.s"]})
    assert latest["latest"]["One.s"][1:] == [1.5, "V"]
    assert names == [ACCEPT, ACCEPT]
    await until(lambda: srv.clients() == 0 and logger.clients == 0)  # closed by the thread
    assert not srv.connections  # no loop connection was ever made for them


async def test_persistent_connection_is_answered_in_the_thread_then_on_the_loop(
    start: Any, answered_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "HOLD_S", 5.0)  # stays in the thread between requests
    srv = await start()
    names = answered_in(srv)
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(frame({"y": [1.0], "sname": ["a"], "dname": "P"}))
    assert (await read_frame(reader))["sent"] is True
    writer.write(frame({"getLatest": ["P.a"]}))  # a second request after the first reply
    assert (await read_frame(reader))["latest"]["P.a"][1] == 1.0
    assert names == [ACCEPT, ACCEPT] and not srv.connections and srv.clients() == 1
    writer.close()
    await writer.wait_closed()
    await until(lambda: srv.clients() == 0)


async def test_idle_connection_moves_to_the_loop_and_keeps_its_order(
    start: Any, answered_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "HOLD_S", 0.02)
    srv = await start()
    names = answered_in(srv)
    loop_thread = threading.current_thread().name
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(frame({"y": [1.0], "sname": ["a"], "dname": "P"}))
    assert (await read_frame(reader))["sent"] is True
    await until(lambda: srv.connections)  # handed over after HOLD_S
    writer.write(b"".join(frame({"y": [float(i)], "sname": ["a"], "dname": "P"}) for i in range(5)))
    replies = [await read_frame(reader) for _ in range(5)]
    assert [r["y"] for r in replies] == [[0.0], [1.0], [2.0], [3.0], [4.0]]
    assert names == [ACCEPT] + [loop_thread] * 5
    writer.close()
    await writer.wait_closed()


async def test_half_sent_frame_is_completed_in_the_thread(
    start: Any, answered_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "HOLD_S", 5.0)
    srv = await start()
    names = answered_in(srv)
    data = frame({"y": [2.5], "sname": ["h"], "dname": "Half"})
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(data[:10])
    front = srv._server
    assert isinstance(front, AcceptThread)
    await until(lambda: any(c.decoder.pending for c in list(front._held.values())))
    writer.write(data[10:])
    assert (await read_frame(reader))["y"] == [2.5]
    assert names == [ACCEPT] and not srv.connections
    writer.close()
    await writer.wait_closed()


async def test_half_sent_frame_is_finished_by_the_loop_after_the_hold_time(
    start: Any, answered_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "HOLD_S", 0.02)
    srv = await start()
    names = answered_in(srv)
    data = frame({"y": [2.5], "sname": ["h"], "dname": "Half"})
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(data[:3])  # not even the whole header
    await until(lambda: srv.connections)
    writer.write(data[3:20])
    await asyncio.sleep(0)
    writer.write(data[20:])
    assert (await read_frame(reader))["y"] == [2.5]
    assert names == [threading.current_thread().name]
    writer.close()
    await writer.wait_closed()


async def test_half_sent_clients_do_not_slow_one_shot_clients(start: Any, answered_in: Any) -> None:
    srv = await start(read_timeout_s=30)
    names = answered_in(srv)
    held = []
    try:
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(b"100000,0,0\n" + b'{"y": [' * 10)
            held.append(s)

        def many() -> float:
            worst = 0.0
            for i in range(20):
                t = time.perf_counter()
                r = request("127.0.0.1", srv.port, {"y": [float(i)], "sname": ["w"], "dname": "W"})
                assert r["sent"] is True
                worst = max(worst, time.perf_counter() - t)
            return worst

        assert await asyncio.to_thread(many) < 0.5  # generous: CI machines are slow
        assert names == [ACCEPT] * 20
        await until(lambda: len(srv.connections) == 50)  # the slow ones went to the loop
    finally:
        for s in held:
            s.close()


@pytest.mark.parametrize(
    "req",
    [
        {"getPluginList": True},  # may block: devices
        {"rtoc": {"op": "hello"}},  # our extension key
        {"getLatest": True, "logger": {"info": True}},  # one key the thread does not answer
    ],
)
async def test_requests_the_thread_leaves_alone_are_answered_by_the_loop(
    start: Any, answered_in: Any, req: dict[str, Any]
) -> None:
    srv = await start()
    names = answered_in(srv)
    reply = await asyncio.to_thread(request, "127.0.0.1", srv.port, req)
    assert reply["error"] is False
    assert names == [threading.current_thread().name]


async def test_errors_and_encryption_take_the_loop_path(start: Any, answered_in: Any) -> None:
    srv = await start(password=PASSWORD)
    names = answered_in(srv)
    key = wire.derive_key(PASSWORD)
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(wire.pack(b"{not json"))  # an error reply, the connection stays open
    assert "not JSON" in (await read_frame(reader))["errorText"]
    writer.write(wire.pack(b'{"getLatest": true}', key))  # encrypted: decrypted on the loop
    header = await reader.readuntil(b"\n")
    length, taglen, noncelen = wire.parse_header(header[:-1], 1 << 20)
    body = await reader.readexactly(taglen + noncelen + length)
    plain = wire.decrypt(body[:taglen], body[taglen : taglen + noncelen], body[-length:], key)
    assert json.loads(plain)["latest"] == {}
    assert names == [threading.current_thread().name]
    writer.close()
    await writer.wait_closed()
    reply = await asyncio.to_thread(
        request, "127.0.0.1", srv.port, {"getLatest": True}, PASSWORD, encrypt=True
    )
    assert reply["error"] is False and names[-1] == threading.current_thread().name
    reply = await asyncio.to_thread(request, "127.0.0.1", srv.port, {"getLatest": True}, PASSWORD)
    assert reply["error"] is False  # RTOC's client: plain to 127.0.0.1, so the thread answers
    assert names[-1] == ACCEPT


async def test_a_reply_the_socket_does_not_take_is_finished_by_the_loop(
    start: Any, answered_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "HOLD_S", 5.0)
    monkeypatch.setattr(transport, "HOLD_PENDING_MAX", 1 << 30)  # keep the big request here
    srv = await start()
    names = answered_in(srv)
    tails: list[int] = []
    resume = srv._adopt

    def adopt(conn: Any) -> None:
        tails.append(len(conn.unsent))
        resume(conn)

    monkeypatch.setattr(srv._server, "_adopt", adopt)
    y = np.random.default_rng(1).random(300_000).tolist()  # a ~6 MB request, echoed
    req = {"plot": True, "y": y, "sname": ["big"], "dname": "Big"}
    reply = await asyncio.to_thread(request, "127.0.0.1", srv.port, req)
    assert reply["sent"] is True and reply["y"] == y
    assert names == [ACCEPT] and tails and tails[0] > 0


async def test_stop_closes_what_the_thread_holds(
    start: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "HOLD_S", 5.0)
    srv = await start()
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(frame({"getLatest": True}))
    await read_frame(reader)
    assert srv.clients() == 1 and not srv.connections
    await srv.stop()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_one_shots_and_a_pipelining_client_at_once(start: Any, logger: Logger) -> None:
    srv = await start()
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)

    def one_shots(k: int) -> None:
        for i in range(50):
            request("127.0.0.1", srv.port, {"y": [float(i)], "sname": [f"t{k}"], "dname": "C"})

    workers = [asyncio.to_thread(one_shots, k) for k in range(4)]
    writer.write(
        b"".join(frame({"y": [float(i)], "sname": ["pipe"], "dname": "C"}) for i in range(500))
    )
    await asyncio.gather(*workers)
    replies = [await read_frame(reader) for _ in range(500)]
    assert [r["y"][0] for r in replies] == [float(i) for i in range(500)]
    for name in ("C.t0", "C.t1", "C.t2", "C.t3"):
        assert len(logger.store.get(name)) == 50
    assert len(logger.store.get("C.pipe")) == 500
    writer.close()
    await writer.wait_closed()


async def test_without_epoll_the_loop_accepts(
    start: Any, answered_in: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(select, "epoll")  # as on macOS
    srv = await start()
    assert isinstance(srv._server, Listener)
    names = answered_in(srv)
    reply = await asyncio.to_thread(request, "127.0.0.1", srv.port, {"getSignalList": True})
    assert reply == {"error": False, "signalList": [], "getSignalList": True}
    assert names == [threading.current_thread().name]


async def test_a_failing_accept_pauses_instead_of_spinning(
    start: Any, caplog: pytest.LogCaptureFixture
) -> None:
    srv = await start()
    front = srv._server
    assert isinstance(front, AcceptThread)
    fd, (lsock, *rest) = next(iter(front._listeners.items()))
    calls = []

    class Failing:  # accept() fails once, as with too many open files
        def _accept(self) -> Any:
            calls.append(time.monotonic())
            if len(calls) == 1:
                raise OSError(24, "Too many open files")
            return lsock._accept()

    front._listeners[fd] = (Failing(), *rest)
    with caplog.at_level(logging.WARNING, "rtoc.server"):
        reply = await asyncio.to_thread(request, "127.0.0.1", srv.port, {"getLatest": True})
    assert reply["error"] is False and "accept failed" in caplog.text
    assert len(calls) == 2 and calls[1] - calls[0] >= transport.ACCEPT_RETRY_S * 0.9
