"""RTOC's client-side API against our server (issue 16): the `jsonsocket` module (Client,
Server, exceptions), `LoggerPlugin.createTCPClient`/`sendTCP`, and the TCP examples of RTOC's
documentation (sections 5.9.1, 5.9.2) run as separate programs."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from helpers import wait_for

from rtoc_tui.core import jsonsocket
from rtoc_tui.core.logger import Logger
from rtoc_tui.core.plugin import LoggerPlugin
from rtoc_tui.server.tcp import TcpServer

CLIENTS = Path(__file__).parent / "fixtures" / "rtoc_clients"


@pytest.fixture
async def server(logger: Logger) -> AsyncIterator[TcpServer]:
    srv = TcpServer(logger, port=0)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def locked(logger: Logger) -> AsyncIterator[TcpServer]:
    srv = TcpServer(logger, port=0, password="s3cret")
    await srv.start()
    yield srv
    await srv.stop()


def run_example(name: str, port: int, tmp_path: Path) -> str:
    """Run a documentation example as its own program, with 5050 replaced by port."""
    script = tmp_path / name
    script.write_text((CLIENTS / name).read_text().replace("5050", str(port)))
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_documented_jsonsocket_example(
    server: TcpServer, logger: Logger, tmp_path: Path
) -> None:
    out = await asyncio.to_thread(run_example, "jsonsocket_example.py", server.port, tmp_path)
    assert "'error': False" in out and "'sent': True" in out
    assert logger.store.get("Test.T4").latest() == (3.0, 4.0)


async def test_documented_loggerplugin_example(
    server: TcpServer, logger: Logger, tmp_path: Path
) -> None:
    out = await asyncio.to_thread(run_example, "loggerplugin_example.py", server.port, tmp_path)
    lines = out.splitlines()
    assert "'error': False" in lines[0] and "'sent': True" in lines[0]
    assert float(lines[1]) == 4.0
    assert logger.store.get("Test.T1").latest()[1] == 1.0


async def test_send_tcp_keys_threads_and_failures(server: TcpServer, logger: Logger) -> None:
    def exchange() -> tuple[object, ...]:
        plugin = LoggerPlugin()
        plugin.setDeviceName("Remote")
        plugin.createTCPClient("127.0.0.1", tcpport=server.port, threaded=False)
        sent = plugin.sendTCP([1.5, 2.5], ["a", "b"], unit=["V", "A"])
        plotted = plugin.sendTCP(x=[0, 1, 2], y=[3, 4, 5], sname=["xy"], plot=True)
        names = plugin.sendTCP(getSignalList=True)["signalList"]
        latest = plugin.sendTCP(getLatest=True)["latest"]
        evented = plugin.sendTCP(event={"text": "hi", "dname": "Remote", "sname": "a"})
        plugin.createTCPClient("127.0.0.1", tcpport=server.port)  # threaded, RTOC's default
        threaded = plugin.sendTCP(y=[9.0], sname=["c"])
        return sent, plotted, names, latest, evented, threaded

    sent, plotted, names, latest, evented, threaded = await asyncio.to_thread(exchange)
    assert sent["sent"] is True and plotted["sent"] is True and evented["error"] is False
    assert ["Remote", "a"] in names and ["Remote", "xy"] in names
    assert latest["Remote.b"][1] == 2.5
    assert threaded is None
    await asyncio.to_thread(wait_for, lambda: logger.store.get("Remote.c") is not None)
    assert logger.store.get("Remote.xy").copy()[1].tolist() == [3.0, 4.0, 5.0]
    assert logger.store.get("Remote.a").unit == "V"
    assert any(e.text == "hi" for e in logger.events.all())

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    plugin = LoggerPlugin()
    plugin.createTCPClient("127.0.0.1", tcpport=free, threaded=False)
    assert plugin.sendTCP(y=[1.0], sname=["x"]) is False
    assert LoggerPlugin().sendTCP(y=[1.0]) is False  # no createTCPClient: an error, not a crash


async def test_encrypted_exchange_and_rtoc_exceptions(
    locked: TcpServer, logger: Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RTOC never encrypts to 127.0.0.1; an empty whitelist makes the client encrypt
    monkeypatch.setattr(jsonsocket, "HOST_WHITELIST", [])

    def ask(keyword: str | None, data: dict[str, object]) -> object:
        client = jsonsocket.Client()
        client.connect("127.0.0.1", locked.port, keyword)
        client.send(data)
        return client.recv_and_close()

    reply = await asyncio.to_thread(ask, "s3cret", {"y": [1.0], "sname": ["e"], "dname": "Enc"})
    assert reply["sent"] is True and logger.store.get("Enc.e") is not None
    with pytest.raises(jsonsocket.WrongPasswordError):
        await asyncio.to_thread(ask, "wrong", {"getLatest": True})


def test_rtoc_server_and_client_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonsocket, "HOST_WHITELIST", [])
    server = jsonsocket.Server("127.0.0.1", 0, keyword="k")
    port = server.socket.getsockname()[1]
    got: list[object] = []

    def serve() -> None:
        for reply_key in ("k", None):
            server.accept()
            got.append(server.recv())
            server.setKeyword(reply_key)
            server.send({"echo": got[-1]})
            server.setKeyword("k")

    t = threading.Thread(target=serve)
    t.start()
    client = jsonsocket.Client()
    client.setKeyword("ignored: connect sets the keyword")
    assert client.connect("127.0.0.1", port, "k").send({"a": 1}).recv_and_close() == {
        "echo": {"a": 1}
    }
    client.connect("127.0.0.1", port, "k").send({"b": 2})
    with pytest.raises(jsonsocket.NoPasswordProtectionError):  # the reply came back plain
        client.recv()
    client.close()
    t.join(5)
    server.close()
    assert got == [{"a": 1}, {"b": 2}]


def test_a_plain_client_to_an_encrypting_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonsocket, "HOST_WHITELIST", [])
    server = jsonsocket.Server("127.0.0.1", 0, keyword="k")
    port = server.socket.getsockname()[1]

    def serve() -> None:
        server.accept()
        server.setKeyword(None)
        server.recv()
        server.setKeyword("k")
        server.send({"secret": True})

    t = threading.Thread(target=serve)
    t.start()
    client = jsonsocket.Client().connect("127.0.0.1", port)
    client.send({"hello": 1})
    with pytest.raises(jsonsocket.PasswordProtectedError, match="password protected"):
        client.recv()
    client.close()
    t.join(5)
    server.close()


def test_plugins_import_rtocs_module_names(logger: Logger) -> None:
    (logger.home.devices_dir / "Bridge.py").write_text(
        "from RTOC.RTLogger import jsonsocket\nimport jsonsocket as js2\n"
        "from RTOC.LoggerPlugin import LoggerPlugin\n"
        "class Plugin(LoggerPlugin):\n"
        "    def __init__(self, *a, **k):\n"
        "        super().__init__(*a, **k)\n"
        "        self.same = jsonsocket is js2 and hasattr(jsonsocket, 'WrongPasswordError')\n"
    )
    logger.devices.refresh()
    try:
        assert logger.devices.start("Bridge").same is True
    finally:
        logger.devices.stop_all()
