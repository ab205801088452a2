"""Hostile and broken clients: each gets an error reply or a closed connection and a log line,
and none of them blocks or slows the others. Remote clients are simulated with the server's
`is_local` hook, so the real socket path runs without needing another network interface.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from rtoc_tui import wire
from rtoc_tui.client.rtoc_jsonsocket import JsonSocketClient, request
from rtoc_tui.core.logger import Logger
from rtoc_tui.server.tcp import ServerConfigError, TcpServer, attach_tcp

PASSWORD = "correct horse"
Start = Callable[..., Awaitable[TcpServer]]


@pytest.fixture
async def start(logger: Logger) -> AsyncIterator[Start]:
    servers: list[TcpServer] = []

    async def _start(**kw: Any) -> TcpServer:
        kw.setdefault("port", 0)
        srv = TcpServer(logger, **kw)
        await srv.start()
        servers.append(srv)
        return srv

    yield _start
    for srv in servers:
        await srv.stop()


async def exchange(
    port: int, data: bytes, key: bytes | None = None, n: int | None = None, timeout: float = 10.0
) -> tuple[list[Any], bool]:
    """Send raw bytes; read n reply frames, or (n=None) until the server closes: (replies, closed).

    Waiting longer than timeout fails the test: the server must answer or close promptly."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    replies: list[Any] = []
    closed = False
    try:
        while n is None or len(replies) < n:
            try:
                header = await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
            except asyncio.IncompleteReadError:
                closed = True
                break
            length, taglen, noncelen = wire.parse_header(header[:-1], 1 << 30)
            body = await asyncio.wait_for(reader.readexactly(taglen + noncelen + length), timeout)
            if taglen:
                assert key is not None, "an encrypted reply to a client without the key"
                body = wire.decrypt(
                    body[:taglen], body[taglen : taglen + noncelen], body[taglen + noncelen :], key
                )
            replies.append(json.loads(body))
    finally:
        writer.close()
    return replies, closed


def encrypted(data: Any, password: str = PASSWORD) -> bytes:
    client = JsonSocketClient(password, encrypt=True)
    client.host = "remote.example"
    return client.frame(data)


async def test_wrong_password_gets_an_error_and_is_disconnected(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    srv = await start(password=PASSWORD)
    with caplog.at_level(logging.WARNING, "rtoc.server"):
        replies, closed = await exchange(srv.port, encrypted({"getLatest": True}, "wrong"))
    assert closed and replies == [{"error": True, "errorText": "wrong password"}]
    assert "wrong password" in caplog.text


async def test_rtoc_client_encrypts_and_gets_encrypted_replies(
    start: Start, logger: Logger
) -> None:
    srv = await start(password=PASSWORD)
    reply = await asyncio.to_thread(
        request,
        "127.0.0.1",
        srv.port,
        {"y": [1.0], "sname": ["s"], "dname": "E"},
        password=PASSWORD,
        encrypt=True,
    )
    assert reply["sent"] is True and logger.store.get("E.s") is not None
    replies, _ = await exchange(
        srv.port, encrypted({"getLatest": ["E.s"]}), wire.derive_key(PASSWORD), n=1
    )
    assert replies[0]["latest"]["E.s"][1] == 1.0
    # RTOC clients never encrypt to localhost: plain frames from loopback stay accepted
    plain = await asyncio.to_thread(
        request, "127.0.0.1", srv.port, {"getSignalList": True}, password=PASSWORD
    )
    assert plain["signalList"] == [["E", "s"]]


async def test_replayed_frame_is_rejected(start: Start, caplog: pytest.LogCaptureFixture) -> None:
    srv = await start(password=PASSWORD)
    frame = encrypted({"y": [1.0], "sname": ["s"], "dname": "R"})
    key = wire.derive_key(PASSWORD)
    first, _ = await exchange(srv.port, frame, key, n=1)
    assert first[0]["sent"] is True
    with caplog.at_level(logging.WARNING, "rtoc.server"):
        again, closed = await exchange(srv.port, frame, key)
    assert closed and again == [{"error": True, "errorText": "replayed frame rejected"}]
    assert "replayed" in caplog.text


async def test_oversize_header_is_refused_before_reading(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    srv = await start(max_frame_bytes=1024 * 1024)
    with caplog.at_level(logging.WARNING, "rtoc.server"):
        replies, closed = await exchange(srv.port, b"2147483648,0,0\n" + b"x" * 1000)
    assert closed and replies[0]["error"] is True
    assert "2147483648" in replies[0]["errorText"] and "limit" in replies[0]["errorText"]
    assert "exceeds the limit" in caplog.text


@pytest.mark.parametrize(
    "garbage", [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"12,x,3\n{}", b"\x16\x03\x01\x02\x00\x01"]
)
async def test_garbage_header_gets_an_error_and_is_disconnected(
    start: Start, garbage: bytes
) -> None:
    srv = await start()
    replies, closed = await exchange(srv.port, garbage)
    assert closed and replies[0]["error"] is True and "header" in replies[0]["errorText"]


async def test_bad_payloads_get_errors_and_the_connection_stays_usable(start: Start) -> None:
    srv = await start()
    data = (
        wire.pack(b"{this is not json")
        + wire.pack(b'{"text": "\xff\xfe\xfd"}')
        + wire.pack(b"[]")
        + wire.pack(b'{"getSignalList": true}')
    )
    replies, _ = await exchange(srv.port, data, n=4)
    assert replies[0]["error"] is True and "not JSON" in replies[0]["errorText"]
    assert replies[1]["error"] is True and "not UTF-8" in replies[1]["errorText"]
    assert replies[2]["error"] is True
    assert replies[3] == {"error": False, "signalList": [], "getSignalList": True}


async def test_half_sent_frame_does_not_block_others_and_times_out(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    srv = await start(read_timeout_s=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(b"1000,0,0\n" + b'{"y": [' * 5)  # a header and part of the payload, then silence
    await writer.drain()
    t = time.perf_counter()
    reply = await asyncio.to_thread(request, "127.0.0.1", srv.port, {"getSignalList": True})
    assert reply["error"] is False
    assert time.perf_counter() - t < 0.4  # served while the other one still hangs mid-frame
    with caplog.at_level(logging.INFO, "rtoc.server"):
        header = await asyncio.wait_for(reader.readuntil(b"\n"), 5)
        length = wire.parse_header(header[:-1], 1 << 20)[0]
        timeout_reply = json.loads(await reader.readexactly(length))
        assert await asyncio.wait_for(reader.read(), 5) == b""  # then closed
    assert timeout_reply["error"] is True and "timeout" in timeout_reply["errorText"]
    assert "middle of a frame" in caplog.text
    writer.close()


async def test_silent_client_is_disconnected(start: Start) -> None:
    srv = await start(read_timeout_s=0.3)
    replies, closed = await exchange(srv.port, b"")
    assert closed and "no request within" in replies[0]["errorText"]


async def test_idle_connection_is_closed_after_idle_timeout(start: Start) -> None:
    srv = await start(read_timeout_s=5.0, idle_timeout_s=0.3)
    replies, closed = await exchange(srv.port, wire.pack(b'{"getSignalList": true}'))
    assert closed and replies[0]["error"] is False and "idle" in replies[1]["errorText"]


async def test_too_many_clients_are_refused(start: Start) -> None:
    srv = await start(max_clients=1)
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    for _ in range(200):
        if srv.clients():  # the loop's connections and the accept thread's
            break
        await asyncio.sleep(0.01)
    replies, closed = await exchange(srv.port, b"")
    assert closed and "too many clients" in replies[0]["errorText"]
    writer.close()


async def test_remote_plain_client_is_refused_when_a_password_is_set(start: Start) -> None:
    srv = await start(password=PASSWORD, is_local=lambda host: False)
    replies, closed = await exchange(srv.port, wire.pack(b'{"getLatest": true}'))
    assert closed and replies[0]["error"] is True
    assert replies[0]["password"] == "RTOC-Server is password protected!"
    ok, _ = await exchange(
        srv.port, encrypted({"rtoc": {"op": "hello"}}), wire.derive_key(PASSWORD), n=1
    )
    hello = ok[0]["rtoc"]["result"]
    assert hello["loopback"] is False and hello["encrypted"] is True and hello["privileged"] is True


async def test_encrypted_frame_to_a_server_without_password(start: Start) -> None:
    srv = await start()
    replies, closed = await exchange(srv.port, encrypted({"getLatest": True}))
    assert closed and "no password" in replies[0]["errorText"]


async def test_insecure_remote_clients_may_not_script_or_change_config(start: Start) -> None:
    srv = await start(
        host="127.0.0.1", is_local=lambda host: False
    )  # as if bound publicly, no password
    for op in (
        {"op": "set_config", "args": {"updates": {"global.name": "x"}}},
        {"op": "run_script", "args": {"source": "1"}},
        {"op": "export", "args": {"path": "/tmp/x.csv"}},
    ):
        replies, _ = await exchange(srv.port, wire.pack(json.dumps({"rtoc": op}).encode()), n=1)
        assert replies[0]["rtoc"]["ok"] is False
        assert "needs authentication" in replies[0]["rtoc"]["error"]
    replies, _ = await exchange(srv.port, wire.pack(b'{"logger": {"export": ["x.json"]}}'), n=1)
    assert replies[0]["error"] is True and "needs authentication" in replies[0]["errorText"]


async def test_secrets_never_leave_the_server(make_logger: Callable[..., Logger]) -> None:
    secrets = ["tcp-pass-123", "telegram-tok-456", "pg-pass-789", "known-host-pw"]
    lg = make_logger(
        {
            "tcp": {"password": secrets[0], "knownHosts": {"pi:5050": ["pi", secrets[3]]}},
            "telegram": {"token": secrets[1]},
            "postgresql": {"password": secrets[2]},
        }
    )
    srv = TcpServer(lg, port=0)
    await srv.start()
    try:
        lg.store.append_one("D", "s", 1.0, 2.0)
        lg.event("e", dname="D", sname="s")
        requests = [
            {"getSession": True},
            {"logger": {"info": None}},
            {"getPluginList": True},
            {"getLatest": True},
            {"getEventList": True},
            {"getSignal": "all"},
            {"rtoc": {"op": "config"}},
            {"rtoc": {"op": "hello"}},
            {"rtoc": {"op": "status"}},
            {
                "rtoc": {
                    "op": "set_config",
                    "args": {"updates": {"tcp.knownHosts": "********", "global.name": "n"}},
                }
            },
        ]
        for req in requests:
            raw = await asyncio.to_thread(request, "127.0.0.1", srv.port, req)
            text = json.dumps(raw)
            assert not any(s in text for s in secrets), (req, text[:300])
        config = await asyncio.to_thread(request, "127.0.0.1", srv.port, {"rtoc": {"op": "config"}})
        values = {c["key"]: c["value"] for c in config["rtoc"]["result"]}
        assert (
            values["tcp.password"]
            == values["telegram.token"]
            == values["tcp.knownHosts"]
            == "********"
        )
        assert lg.config.tcp.knownHosts == {"pi:5050": ["pi", secrets[3]]}  # the mask was not saved
    finally:
        await srv.stop()


def test_public_bind_without_password_is_refused(logger: Logger) -> None:
    with pytest.raises(
        ServerConfigError, match="refusing to listen on '0.0.0.0' without a password"
    ):
        TcpServer(logger, host="0.0.0.0", port=0)
    TcpServer(logger, host="0.0.0.0", port=0, password="x")  # with a password it may


def test_attach_refuses_a_public_bind_from_config(make_logger: Callable[..., Logger]) -> None:
    lg = make_logger({"tcp": {"active": True, "host": "0.0.0.0"}})
    with pytest.raises(ServerConfigError, match="tcp.insecure"):
        attach_tcp(lg)


async def test_insecure_public_bind_starts_with_a_loud_warning(
    logger: Logger, caplog: pytest.LogCaptureFixture
) -> None:
    srv = TcpServer(logger, host="0.0.0.0", port=0, insecure=True)
    with caplog.at_level(logging.WARNING, "rtoc.server"):
        await srv.start()
    try:
        assert "INSECURE" in caplog.text
        reply = await asyncio.to_thread(request, "127.0.0.1", srv.port, {"getSignalList": True})
        assert reply["error"] is False
    finally:
        await srv.stop()


async def test_a_client_that_never_reads_does_not_stall_the_server(start: Start) -> None:
    srv = await start()
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    frame = wire.pack(b'{"getSession": true, "pad": "' + b"x" * 100_000 + b'"}')
    writer.write(frame * 200)  # 20 MB of replies that it never reads
    await asyncio.sleep(0)
    t = time.perf_counter()
    reply = await asyncio.to_thread(request, "127.0.0.1", srv.port, {"getSignalList": True})
    assert reply["error"] is False and time.perf_counter() - t < 2.0
    writer.close()


async def test_a_client_that_never_reads_is_dropped_after_the_read_timeout(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    srv = await start(read_timeout_s=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    frame = wire.pack(b'{"getSession": true, "pad": "' + b"x" * 100_000 + b'"}')
    with caplog.at_level(logging.WARNING, "rtoc.server"):
        writer.write(frame * 200)  # 20 MB of replies that it never reads
        for _ in range(1000):  # the accept thread may not have accepted it yet: wait for both
            if not srv.clients() and "does not read its replies" in caplog.text:
                break
            await asyncio.sleep(0.01)
    assert not srv.clients() and "does not read its replies" in caplog.text
    writer.close()
