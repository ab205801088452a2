"""Protocol abuse by clients that send valid-looking input (issue 15, items 4-6): password
guessing is throttled per peer and logged once a minute; slow, silent and many connections
cannot lock good clients out; partial frames, signals, names and events stay within budgets;
a heavy read never runs on the accept thread."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from rtoc_tui import wire
from rtoc_tui.client.rtoc_jsonsocket import JsonSocketClient, request
from rtoc_tui.core.logger import Logger
from rtoc_tui.server import auth
from rtoc_tui.server.tcp import TcpServer

PASSWORD = "correct horse"
Start = Callable[..., Awaitable[TcpServer]]


@pytest.fixture
async def start(make_logger: Callable[..., Logger]) -> AsyncIterator[Start]:
    servers: list[TcpServer] = []

    async def _start(config: dict[str, Any] | None = None, **kw: Any) -> TcpServer:
        lg = make_logger(config or {})
        kw.setdefault("port", 0)
        srv = TcpServer(lg, **kw)
        await srv.start()
        servers.append(srv)
        return srv

    yield _start
    for srv in servers:
        await srv.stop()


def encrypted(data: Any, password: str) -> bytes:
    client = JsonSocketClient(password, encrypt=True)
    client.host = "remote.example"
    return client.frame(data)


async def one_reply(port: int, data: bytes, key: bytes | None = None) -> Any:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        header = await asyncio.wait_for(reader.readuntil(b"\n"), 5)
        length, taglen, noncelen = wire.parse_header(header[:-1], 1 << 30)
        body = await asyncio.wait_for(reader.readexactly(taglen + noncelen + length), 5)
        if taglen:
            assert key is not None
            body = wire.decrypt(body[:taglen], body[taglen:-length], body[-length:], key)
        return json.loads(body)
    finally:
        writer.close()


# -- item 4: online guessing ----------------------------------------------------------------------
async def test_wrong_passwords_back_off_per_peer_and_log_once(
    start: Start, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "BACKOFF_BASE_S", 30.0)  # no expiry during the run, even under load
    srv = await start(password=PASSWORD)
    key = wire.derive_key(PASSWORD)
    texts = []
    with caplog.at_level(logging.DEBUG, "rtoc.server"):
        for _ in range(30):
            reply = await one_reply(srv.port, encrypted({"getLatest": True}, "guess"))
            texts.append(reply["errorText"])
    assert texts[: auth.FREE_FAILURES + 1] == ["wrong password"] * (auth.FREE_FAILURES + 1)
    assert all("too many wrong passwords" in t for t in texts[auth.FREE_FAILURES + 1 :])
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "wrong password" in warnings[0].getMessage()
    # during the back-off even the right password is not tried; after it, it works
    blocked = await one_reply(srv.port, encrypted({"getLatest": True}, PASSWORD))
    assert "too many wrong passwords" in blocked["errorText"]
    srv.auth._peers["127.0.0.1"].blocked_until = time.monotonic()  # the back-off has run out
    ok = await one_reply(srv.port, encrypted({"getLatest": True}, PASSWORD), key)
    assert ok["error"] is False and srv.auth.blocked("127.0.0.1") == 0.0


async def test_token_guessing_backs_off_too(start: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "BACKOFF_BASE_S", 30.0)
    srv = await start()
    texts = []
    for i in range(8):
        req = {"logger": {"resize": 10}, "auth": f"guess-{i}"}
        texts.append((await asyncio.to_thread(request, "127.0.0.1", srv.port, req))["errorText"])
    assert "wrong token" in texts[0] and "too many wrong passwords" in texts[-1]
    token = srv.logger.home.auth_token()
    late = await asyncio.to_thread(
        request, "127.0.0.1", srv.port, {"logger": {"resize": 10}, "auth": token}
    )
    assert late["error"] is True and "too many wrong passwords" in late["errorText"]
    # reads stay open to the peer while its authentication is blocked
    assert (await asyncio.to_thread(request, "127.0.0.1", srv.port, {"getLatest": True}))[
        "error"
    ] is False


# -- item 5: lock-out ------------------------------------------------------------------------------
async def trickle(port: int, stop: asyncio.Event, every_s: float) -> None:
    """A slowloris: a frame announcing 100 kB, then one byte at a time."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    try:
        writer.write(b"100000\n")
        while not stop.is_set() and not reader.at_eof():
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(every_s)
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def good_requests(port: int, n: int) -> list[Any]:
    out = []
    for i in range(n):
        req = {"y": [float(i)], "sname": ["g"], "dname": "Good"}
        t = time.perf_counter()
        reply = await asyncio.to_thread(request, "127.0.0.1", port, req, timeout=5.0)
        out.append((reply, time.perf_counter() - t))
        await asyncio.sleep(0.02)
    return out


async def test_slowloris_connections_cannot_lock_good_clients_out(start: Start) -> None:
    srv = await start(
        {"tcp": {"maxClients": 8, "readTimeout": 1.0, "minByteRate": 100}},
    )
    stop = asyncio.Event()
    attackers = [asyncio.create_task(trickle(srv.port, stop, 0.3)) for _ in range(12)]
    await asyncio.sleep(0.8)  # they fill the server and age past MIN_IDLE_S
    try:
        results = await good_requests(srv.port, 10)
    finally:
        stop.set()
        await asyncio.gather(*attackers)
    refused = [r for r, _ in results if r.get("error")]
    assert refused == [], refused[:3]
    assert srv.guard.evicted > 0


async def test_trickling_inside_a_frame_is_dropped_by_the_byte_rate(start: Start) -> None:
    srv = await start({"tcp": {"readTimeout": 0.5, "minByteRate": 100}})
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"100000\n")
    t0 = time.monotonic()
    closed_after = None
    try:
        for _ in range(40):  # one byte every 0.1 s: never stalled for readTimeout
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.1)
            if reader.at_eof() or srv.clients() == 0:
                closed_after = time.monotonic() - t0
                break
    except (ConnectionError, OSError):
        closed_after = time.monotonic() - t0
    finally:
        writer.close()
    assert closed_after is not None and closed_after < 2.5


async def test_silent_connections_make_room_for_good_ones(start: Start) -> None:
    srv = await start({"tcp": {"maxClients": 6, "readTimeout": 30.0}})
    silent = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(6)]
    await asyncio.sleep(0.7)
    try:
        results = await good_requests(srv.port, 6)
        assert [r for r, _ in results if r.get("error")] == []
    finally:
        for _r, w in silent:
            w.close()


async def test_one_peer_is_capped(start: Start) -> None:
    srv = await start({"tcp": {"maxClientsPerPeer": 3, "readTimeout": 30.0}})
    conns = []
    for _ in range(6):
        conns.append(await asyncio.open_connection("127.0.0.1", srv.port))
        await asyncio.sleep(0.6)  # each ages past MIN_IDLE_S: the next evicts the oldest
    await asyncio.sleep(0.2)
    try:
        assert srv.guard.peers.get("127.0.0.1", 0) <= 3
        assert len(srv.connections) <= 3 and srv.guard.evicted >= 3
    finally:
        for _r, w in conns:
            w.close()


# -- item 6: budgets ------------------------------------------------------------------------------
async def test_partial_frames_share_one_budget(start: Start) -> None:
    budget = 1 << 20
    srv = await start({"tcp": {"maxPendingBytes": budget}})
    writers = []
    chunk = b" " * (400 * 1024)
    refused = 0
    for _ in range(5):
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writers.append(writer)
        writer.write(b"10000000\n" + chunk)
        await writer.drain()
        await asyncio.sleep(0.3)
        if reader.at_eof() or (await _peek_error(reader)):
            refused += 1
    try:
        assert srv.guard.pending_total <= budget
        assert refused >= 2
    finally:
        for w in writers:
            w.close()


async def _peek_error(reader: asyncio.StreamReader) -> bool:
    try:
        header = await asyncio.wait_for(reader.readuntil(b"\n"), 0.3)
    except (TimeoutError, asyncio.IncompleteReadError):
        return reader.at_eof()
    length = int(header.split(b",")[0])
    body = json.loads(await reader.readexactly(length))
    return "maxPendingBytes" in body.get("errorText", "")


async def test_signal_count_name_length_and_event_size_are_limited(start: Start) -> None:
    srv = await start({"global": {"maxSignals": 50, "maxNameLength": 64, "maxEventBytes": 1000}})
    port = srv.port
    many = {"y": [1.0] * 80, "sname": [f"s{i}" for i in range(80)], "dname": "Many"}
    reply = await asyncio.to_thread(request, "127.0.0.1", port, many)
    assert reply["error"] is True and "global.maxSignals" in reply["errorText"]
    assert len(srv.logger.store) == 50
    long_name = {"y": [1.0], "sname": ["n" * 10_000], "dname": "D"}
    reply = await asyncio.to_thread(request, "127.0.0.1", port, long_name)
    assert reply["error"] is True and "global.maxNameLength" in reply["errorText"]
    big_event = {"event": {"text": "x" * 5000, "dname": "D", "sname": "s"}}
    reply = await asyncio.to_thread(request, "127.0.0.1", port, big_event)
    assert reply["error"] is True and "global.maxEventBytes" in reply["errorText"]
    assert len(srv.logger.events.all()) == 0
    ok = await asyncio.to_thread(request, "127.0.0.1", port, {"event": "short"})
    assert ok["error"] is False


async def test_get_session_runs_in_a_worker_thread(
    start: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = await start()
    srv.logger.store.append_one("D", "s", 1.0, 1.0)
    threads: list[str] = []
    orig = srv.handler.session

    def session() -> Any:
        threads.append(threading.current_thread().name)
        return orig()

    monkeypatch.setattr(srv.handler, "session", session)
    reply = await asyncio.to_thread(request, "127.0.0.1", srv.port, {"getSession": True})
    assert reply["session"]["signals"]
    assert threads and threads[0] not in ("rtoc-tcp-accept", threading.main_thread().name)
