"""Replay and reflection of encrypted frames (issue 15, item 3): a captured frame stays refused
after a restart, the server's own reply sent back is never a request, and our clients bind
each encrypted request to the server run."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rtoc_tui import wire
from rtoc_tui.client.remote import RemoteClient
from rtoc_tui.client.rtoc_jsonsocket import JsonSocketClient
from rtoc_tui.core.logger import Logger
from rtoc_tui.server.tcp import TcpServer

PASSWORD = "replay-pw"
KEY = wire.derive_key(PASSWORD)


def encrypted(data: Any) -> bytes:
    client = JsonSocketClient(PASSWORD, encrypt=True)
    client.host = "remote.example"
    return client.frame(data)


async def raw_exchange(port: int, frame: bytes) -> tuple[bytes, Any]:
    """Send one frame; (the reply frame's bytes, its decrypted JSON)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(frame)
        header = await asyncio.wait_for(reader.readuntil(b"\n"), 5)
        length, taglen, noncelen = wire.parse_header(header[:-1], 1 << 30)
        body = await asyncio.wait_for(reader.readexactly(taglen + noncelen + length), 5)
        plain = (
            wire.decrypt(body[:taglen], body[taglen:-length], body[-length:], KEY)
            if taglen
            else body
        )
        return header + body, json.loads(plain)
    finally:
        writer.close()


async def server(logger: Logger) -> TcpServer:
    srv = TcpServer(logger, port=0, password=PASSWORD, is_local=lambda host: False)
    await srv.start()
    return srv


async def test_a_captured_frame_is_refused_after_a_restart(logger: Logger) -> None:
    frame = encrypted({"y": [1.0], "sname": ["s"], "dname": "R"})
    srv = await server(logger)
    try:
        _, first = await raw_exchange(srv.port, frame)
        assert first["sent"] is True
    finally:
        await srv.stop()
    again = await server(logger)  # a new run: RAM is empty, the user folder is not
    try:
        _, replayed = await raw_exchange(again.port, frame)
        assert replayed == {"error": True, "errorText": "replayed frame rejected"}
    finally:
        await again.stop()
    assert len(logger.store.get("R.s").copy()[0]) == 1  # type: ignore[union-attr]


async def test_a_reply_sent_back_is_not_a_request(logger: Logger) -> None:
    srv = await server(logger)
    try:
        reply_frame, reply = await raw_exchange(
            srv.port, encrypted({"y": [2.0], "sname": ["s"], "dname": "F"})
        )
        assert reply["sent"] is True
        _, reflected = await raw_exchange(srv.port, reply_frame)
        assert reflected["error"] is True and "reflection" in reflected["errorText"]
        assert len(logger.store.get("F.s").copy()[0]) == 1  # type: ignore[union-attr]
    finally:
        await srv.stop()


async def test_our_encrypted_requests_are_bound_to_the_server_run(logger: Logger) -> None:
    srv = await server(logger)
    client = RemoteClient("127.0.0.1", srv.port, PASSWORD, encrypt=True)
    try:
        await client.connect()
        await client.set_config({"global.name": "Bound"})  # privileged: the password holder
        assert logger.config.global_.name == "Bound"
        other_run = {"rtoc": {"op": "status", "id": 1, "instance": "an-old-run"}}
        _, refused = await raw_exchange(srv.port, encrypted(other_run))
        assert refused["error"] is True and "instance" in refused["errorText"]
        hello = {"rtoc": {"op": "hello", "id": 2}}
        _, ok = await raw_exchange(srv.port, encrypted(hello))
        assert ok["rtoc"]["result"]["instance"] == srv.ops.instance
    finally:
        await client.close()
        await srv.stop()


async def test_our_clients_negotiate_a_stronger_key(logger: Logger) -> None:
    srv = await server(logger)
    client = RemoteClient("127.0.0.1", srv.port, PASSWORD, encrypt=True)
    try:
        await client.connect()
        assert srv.strong_key is not None and client._key == srv.strong_key.key
        assert client._key != KEY  # not RTOC's SHA-256 of the password
        logger.store.append_one("K", "s", 1.0, 5.0)
        assert (await client.status()).signals == 1
        # RTOC clients keep working with the SHA-256 key on the same server
        _, rtoc = await raw_exchange(srv.port, encrypted({"getLatest": ["K.s"]}))
        assert rtoc["latest"]["K.s"][1] == 5.0
    finally:
        await client.close()
        await srv.stop()
