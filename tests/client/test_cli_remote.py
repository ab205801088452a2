"""`rtoc send / latest / signals / fetch` against a real server (the CLI runs in a thread so the
server's loop keeps serving)."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from rtoc_tui.cli import app
from rtoc_tui.core.logger import Logger
from rtoc_tui.server.tcp import TcpServer

Run = Callable[..., Awaitable[Result]]


@pytest.fixture
async def server(logger: Logger) -> AsyncIterator[TcpServer]:
    srv = TcpServer(logger, port=0, password="pw", is_local=lambda host: False)  # a "remote" logger
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
def rtoc(server: TcpServer) -> Run:
    async def _run(*args: str, env: dict[str, str] | None = None) -> Result:
        argv = [*args, "--port", str(server.port), "--encrypt"]
        return await asyncio.to_thread(
            CliRunner().invoke, app, argv, env={"RTOC_PASSWORD": "pw"} if env is None else env
        )

    return _run


async def test_send_values_with_units(rtoc: Run, logger: Logger) -> None:
    result = await rtoc("send", "Lab", "T=21.5:°C", "RH=40", "--x", "1000")
    assert result.exit_code == 0, result.output
    assert "sent 2 values to Lab" in result.output
    t = logger.store.get("Lab.T")
    assert t is not None and t.latest() == (1000.0, 21.5) and t.unit == "°C"
    bad = await rtoc("send", "Lab", "T21")
    assert bad.exit_code == 2 and "SIGNAL=VALUE" in bad.output


async def test_latest_and_signals(rtoc: Run, logger: Logger) -> None:
    logger.store.append("Gen", "Square", np.array([1.7e9, 1.7e9 + 1]), np.array([0.0, 2.0]), "V")
    latest = await rtoc("latest", "--json")
    assert latest.exit_code == 0, latest.output
    assert json.loads(latest.output) == {"Gen.Square": {"x": 1.7e9 + 1, "y": 2.0, "unit": "V"}}
    table = await rtoc("latest", "Gen.Square")
    assert "Gen.Square" in table.output and "2" in table.output
    listed = await rtoc("signals", "--json")
    assert json.loads(listed.output) == [
        {"name": "Gen.Square", "unit": "V", "latest": 2.0, "first_x": 1.7e9, "last_x": 1.7e9 + 1}
    ]


async def test_fetch_to_csv_json_and_stdout(rtoc: Run, logger: Logger, tmp_path: Path) -> None:
    x = np.arange(100.0)
    logger.store.append("D", "s", x, x * 2, "V")
    out = tmp_path / "s.csv"
    result = await rtoc("fetch", "D.s", "-o", str(out), "--xmin", "10", "--xmax", "19", "--memory")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["x", "D.s [V]"] and len(rows) == 11
    assert [float(v) for v in rows[1]] == [10.0, 20.0]
    js = tmp_path / "s.json"
    assert (await rtoc("fetch", "D.s", "-o", str(js), "--max-n", "10")).exit_code == 0
    data = json.loads(js.read_text())
    assert data["unit"] == "V" and 0 < len(data["x"]) <= 10 and max(data["y"]) == 198.0
    stdout = await rtoc("fetch", "D.s", "--xmin", "98")
    assert stdout.output.splitlines()[1:] == ["98.0,196.0", "99.0,198.0"]
    missing = await rtoc("fetch", "D.none")
    assert missing.exit_code == 1 and "no signal" in missing.output


async def test_errors_are_clear(rtoc: Run, server: TcpServer) -> None:
    no_password = await rtoc("latest", env={})
    assert no_password.exit_code == 2 and "--encrypt needs --password" in no_password.output
    plain = await asyncio.to_thread(CliRunner().invoke, app, ["latest", "--port", str(server.port)])
    assert plain.exit_code == 1 and "encrypted frames" in plain.output
    wrong = await rtoc("latest", env={"RTOC_PASSWORD": "nope"})
    assert wrong.exit_code == 1 and "wrong password" in wrong.output


async def test_refused_connection(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await asyncio.to_thread(CliRunner().invoke, app, ["latest", "--port", str(port)])
    assert result.exit_code == 1 and "refused" in result.output


async def test_without_port_the_configured_tcp_port_is_used(
    server: TcpServer, logger: Logger, tmp_path: Path
) -> None:
    """Issue 13 item 11: tcp.port of the user folder (and RTOC_TCP_PORT) instead of 5050."""
    logger.store.append("Gen", "Square", np.array([1.7e9]), np.array([2.0]), "V")
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.json").write_text(json.dumps({"tcp": {"port": server.port}}))
    env = {"RTOC_PASSWORD": "pw", "RTOC_HOME": str(home)}
    for args in (["latest", "--home", str(home)], ["signals", "--encrypt"], ["latest"]):
        argv = [*args, "--encrypt"] if "--encrypt" not in args else args
        result = await asyncio.to_thread(CliRunner().invoke, app, argv, env=env)
        assert result.exit_code == 0, (args, result.output)
        assert "Gen.Square" in result.output
    # RTOC_TCP_PORT wins over the file, and the error names the host and port it tried
    env_port = {**env, "RTOC_TCP_PORT": "1"}
    refused = await asyncio.to_thread(
        CliRunner().invoke, app, ["latest", "--encrypt"], env=env_port
    )
    assert refused.exit_code == 1 and "127.0.0.1:1 refused" in refused.output


async def test_an_unknown_signal_is_an_error(rtoc: Run, logger: Logger) -> None:
    logger.store.append("Gen", "Square", np.array([1.7e9]), np.array([2.0]), "V")
    latest = await rtoc("latest", "Gen.Square", "Gen.Nope")
    assert latest.exit_code == 1 and "has no signal 'Gen.Nope'" in latest.output
    fetched = await rtoc("fetch", "Gen.Nope")
    assert fetched.exit_code == 1 and "has no signal 'Gen.Nope'" in fetched.output
