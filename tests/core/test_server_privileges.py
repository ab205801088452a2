"""Who may do what (issue 15, item 1): RTOC's data and read keys stay open on loopback;
privileged requests need the per-install token (or the password), also on loopback; exports
stay inside the user folder's exports/."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rtoc_tui import wire
from rtoc_tui.api import ClientError
from rtoc_tui.client.remote import RemoteClient
from rtoc_tui.client.rtoc_jsonsocket import request
from rtoc_tui.core.logger import Logger
from rtoc_tui.server.tcp import TcpServer

PRIVILEGED_OPS: list[dict[str, Any]] = [
    {"op": "run_script", "args": {"source": "import os"}},
    {"op": "set_config", "args": {"updates": {"global.name": "pwned"}}},
    {"op": "set_global_action", "args": {"name": "a", "spec": {"script": "x"}}},
    {"op": "set_global_event", "args": {"name": "e", "spec": {"cond": "True"}}},
    {"op": "save_script", "args": {"name": "a", "source": "x"}},
    {"op": "export", "args": {"path": "x.csv"}},
    {"op": "start_device", "args": {"name": "Generator"}},
    {"op": "call_function", "args": {"device": "Generator", "name": "setFrequency"}},
    {"op": "set_parameter", "args": {"device": "Generator", "name": "gen_freq", "value": 2}},
    {"op": "delete_signals", "args": {"names": ["D.s"]}},
    {"op": "clear_signals", "args": {}},
    {"op": "clear_events", "args": {}},
]
PRIVILEGED_KEYS: list[dict[str, Any]] = [
    {"logger": {"clear": "all"}},
    {"logger": {"resize": 10}},
    {"logger": {"export": ["x.json"]}},
    {"plugin": {"Generator": {"start": True}}},
    {"plugin": {"Generator": {"setFrequency()": [3.0]}}},
    {"plot": True, "x": [1.0], "y": [2.0], "sname": ["s"], "dname": "D"},  # replaces D.s
]


@pytest.fixture
async def server(logger: Logger) -> AsyncIterator[TcpServer]:
    srv = TcpServer(logger, port=0)
    await srv.start()
    logger.store.append_one("D", "s", 1.0, 1.0)
    yield srv
    await srv.stop()
    await asyncio.to_thread(logger.devices.stop_all)


async def ask(srv: TcpServer, data: Any) -> Any:
    return await asyncio.to_thread(request, "127.0.0.1", srv.port, data)


def test_the_token_is_made_once_and_only_the_user_can_read_it(logger: Logger) -> None:
    assert not logger.home.token_file.exists()
    TcpServer(logger, port=0)
    token = logger.home.auth_token()
    assert token and len(token) >= 40
    assert stat.S_IMODE(logger.home.token_file.stat().st_mode) == 0o600
    os.chmod(logger.home.token_file, 0o644)  # loosened by someone: tightened again on start
    TcpServer(logger, port=0)
    assert logger.home.auth_token() == token
    assert stat.S_IMODE(logger.home.token_file.stat().st_mode) == 0o600


async def test_reads_and_data_stay_open_on_loopback(server: TcpServer, logger: Logger) -> None:
    assert (await ask(server, {"y": [2.0], "sname": ["t"], "dname": "D"}))["sent"] is True
    for req in (
        {"getLatest": True},
        {"getSignalList": True},
        {"getSession": True},
        {"getPluginList": True},
        {"logger": {"info": None}},
        {"event": "hello"},
        {"rtoc": {"op": "config"}},
        {"rtoc": {"op": "status"}},
        {"plot": True, "x": [1.0], "y": [2.0], "sname": ["new"], "dname": "D"},  # a new signal
        {"plot": True, "x": [3.0], "y": [4.0], "sname": ["new"], "dname": "D"},  # a plot again
    ):
        reply = await ask(server, req)
        assert reply["error"] is False, (req, reply)
        assert reply.get("rtoc", {"ok": True})["ok"] is True, (req, reply)


async def test_privileged_requests_need_authentication_on_loopback(
    server: TcpServer, logger: Logger
) -> None:
    for op in PRIVILEGED_OPS:
        reply = await ask(server, {"rtoc": {**op, "id": 1}})
        assert reply["rtoc"]["ok"] is False, op
        assert (
            "needs authentication" in reply["rtoc"]["error"]
            and "auth_token" in reply["rtoc"]["error"]
        )
    for req in PRIVILEGED_KEYS:
        reply = await ask(server, req)
        assert reply["error"] is True and "needs authentication" in reply["errorText"], req
    assert logger.config.global_.name != "pwned"
    assert logger.devices.get("Generator") is None
    assert logger.store.get("D.s").latest() == (1.0, 1.0)  # type: ignore[union-attr]
    assert not (logger.home.exports_dir / "x.json").exists()


async def test_the_token_authenticates_and_is_never_echoed(
    server: TcpServer, logger: Logger
) -> None:
    token = logger.home.auth_token()
    reply = await ask(server, {"logger": {"resize": 1234}, "auth": token, "note": 1})
    assert reply["logger"]["resize"] is True and logger.store.record_length == 1234
    assert reply["note"] == 1 and "auth" not in reply and token not in json.dumps(reply)
    ok = await ask(
        server,
        {
            "rtoc": {
                "op": "set_config",
                "id": 2,
                "args": {"updates": {"global.name": "Lab"}},
                "auth": token,
            }
        },
    )
    assert ok["rtoc"]["ok"] is True and logger.config.global_.name == "Lab"
    wrong = await ask(server, {"logger": {"resize": 10}, "auth": "guess"})
    assert wrong["error"] is True and "wrong token" in wrong["errorText"]
    # a wrong token on a read leaves it a read: an SSH forward with another machine's token
    assert (await ask(server, {"getLatest": True, "auth": "guess"}))["error"] is False


async def test_the_password_authenticates_plain_loopback_requests(logger: Logger) -> None:
    srv = TcpServer(logger, port=0, password="pw-123")
    await srv.start()
    try:
        refused = await ask(srv, {"logger": {"resize": 10}})
        assert refused["error"] is True
        ok = await ask(srv, {"logger": {"resize": 10}, "auth": "pw-123"})
        assert ok["logger"]["resize"] is True
        enc = await asyncio.to_thread(
            request, "127.0.0.1", srv.port, {"logger": {"resize": 20}}, "pw-123", encrypt=True
        )
        assert enc["logger"]["resize"] is True and logger.store.record_length == 20
    finally:
        await srv.stop()


async def test_remote_client_reads_the_token_by_itself(
    server: TcpServer, logger: Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    anonymous = RemoteClient("127.0.0.1", server.port)  # RTOC_HOME: another user folder
    await anonymous.connect()
    try:
        assert anonymous.info.extra["server"]["privileged"] is False
        with pytest.raises(ClientError, match="needs authentication"):
            await anonymous.set_config({"global.name": "x"})
    finally:
        await anonymous.close()
    monkeypatch.setenv("RTOC_HOME", str(logger.home.root))  # the logger's own user folder
    owner = RemoteClient("127.0.0.1", server.port)
    await owner.connect()
    try:
        assert owner.info.extra["server"]["privileged"] is True
        await owner.set_config({"global.name": "Mine"})
        assert logger.config.global_.name == "Mine"
    finally:
        await owner.close()


async def test_exports_stay_inside_the_exports_folder(
    server: TcpServer, logger: Logger, tmp_path: Path
) -> None:
    token = logger.home.auth_token()
    outside = tmp_path / "outside.csv"
    for path in (str(outside), "../escape.csv", "sub/../../escape.csv", "/etc/cron.d/x"):
        reply = await ask(
            server, {"rtoc": {"op": "export", "id": 1, "args": {"path": path}, "auth": token}}
        )
        assert reply["rtoc"]["ok"] is False and "exports" in reply["rtoc"]["error"], path
    assert not outside.exists() and not (logger.home.root / "escape.csv").exists()
    good = await ask(
        server, {"rtoc": {"op": "export", "id": 2, "args": {"path": "run1.csv"}, "auth": token}}
    )
    assert good["rtoc"]["ok"] is True
    written = Path(good["rtoc"]["result"])
    assert written.parent == logger.home.exports_dir.resolve() and written.exists()
    rtoc_key = await ask(server, {"logger": {"export": ["/tmp/abs.json", "json"]}, "auth": token})
    assert rtoc_key["logger"]["export"] is True
    assert (logger.home.exports_dir / "abs.json").exists()


async def test_encrypted_clients_hold_the_password_and_are_privileged(logger: Logger) -> None:
    srv = TcpServer(logger, port=0, password="pw", is_local=lambda host: False)
    await srv.start()
    try:
        key = wire.derive_key("pw")
        reply = await asyncio.to_thread(
            request, "127.0.0.1", srv.port, {"logger": {"resize": 77}}, "pw", encrypt=True
        )
        assert reply["logger"]["resize"] is True and key is not None
    finally:
        await srv.stop()
