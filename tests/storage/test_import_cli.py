"""`rtoc import` of every format: into the store when no logger runs, through a running logger
(so its clients see the data) when one does; profiles; XLSX export; staged remote imports."""

from __future__ import annotations

import asyncio
import json
import wave
from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio
import typer
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from rtoc_tui import runtime
from rtoc_tui.api import ClientError, ImportSignal
from rtoc_tui.cli.data import register
from rtoc_tui.client import remote as remote_mod
from rtoc_tui.client.remote import RemoteClient
from rtoc_tui.config.home import Home
from rtoc_tui.server.tcp import TcpServer
from rtoc_tui.storage import SqliteEngine
from rtoc_tui.transfer import EngineSource, export
from rtoc_tui.transfer.profiles import Profiles

from .conftest import StartFn, flush


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)
    register(app)
    return app


def stored(home: Path) -> dict[str, tuple[str, list[float], list[float]]]:
    eng = SqliteEngine(home / "data" / "rtoc.sqlite")
    eng.open()
    try:
        out = {}
        for s in eng.signals():
            parts = list(eng.iter_samples(s.id, None, None))
            x = np.concatenate([p[0] for p in parts]).tolist() if parts else []
            y = np.concatenate([p[1] for p in parts]).tolist() if parts else []
            out[s.name] = (s.unit, x, y)
        return out
    finally:
        eng.close()


def test_cli_imports_sheets_mat_and_wav_into_the_store(tmp_path: Path) -> None:
    import xlsxwriter

    home = tmp_path / "h"
    book = tmp_path / "book.xlsx"
    wb = xlsxwriter.Workbook(str(book))
    wb.add_worksheet("Empty")
    ws = wb.add_worksheet("Run2")
    ws.write_row(0, 0, ["t", "U", "I"])
    for i in range(4):
        ws.write_row(1 + i, 0, [i, i * 1.5, -i])
    wb.close()
    r = CliRunner().invoke(
        cli(),
        [
            "import",
            str(book),
            "--home",
            str(home),
            "--sheet",
            "Run2",
            "--x",
            "t",
            "--signal",
            "U=PSU.U:V",
            "--save-profile",
            "psu",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "imported 4 samples of 1 signals" in r.output and "into the store" in r.output
    assert stored(home)["PSU.U"] == ("V", [0, 1, 2, 3], [0, 1.5, 3, 4.5])
    # the saved profile maps a file of the same shape again
    assert Profiles.in_home(home).get("psu").mapping.sheet == "Run2"
    book2 = tmp_path / "book2.xlsx"
    wb = xlsxwriter.Workbook(str(book2))
    ws = wb.add_worksheet("Run2")
    ws.write_row(0, 0, ["t", "U", "I"])
    ws.write_row(1, 0, [10, 7, 0])
    wb.close()
    r = CliRunner().invoke(cli(), ["import", str(book2), "--home", str(home), "--profile", "psu"])
    assert r.exit_code == 0, r.output
    assert stored(home)["PSU.U"][2] == [0, 1.5, 3, 4.5, 7]
    r = CliRunner().invoke(cli(), ["import", str(book2), "--home", str(home), "--profile", "nope"])
    assert r.exit_code == 2 and "no import profile named 'nope'" in r.output and "psu" in r.output
    # MATLAB and WAV
    mat = tmp_path / "m.mat"
    sio.savemat(
        mat, {"time": np.arange(3.0), "volt": np.array([1.0, 2.0, 3.0]), "cfg": {"name": "x"}}
    )
    r = CliRunner().invoke(cli(), ["import", str(mat), "--home", str(home), "--device", "Mat"])
    assert r.exit_code == 0, r.output
    assert "note: cfg.name: text, not imported" in r.output
    assert stored(home)["Mat.volt"] == ("", [0, 1, 2], [1, 2, 3])
    wav = tmp_path / "s.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(3)
        w.setframerate(2)
        w.writeframes(
            b"".join(v.to_bytes(3, "little", signed=True) for v in (-8388608, 5, 8388607))
        )
    r = CliRunner().invoke(cli(), ["import", str(wav), "--home", str(home), "-s", "1=Mic.L"])
    assert r.exit_code == 0, r.output
    assert stored(home)["Mic.L"] == ("", [0, 0.5, 1.0], [-8388608, 5, 8388607])


def test_cli_bad_inputs_store_nothing(tmp_path: Path) -> None:
    home = tmp_path / "h"
    f = tmp_path / "r.csv"
    f.write_text("t,a\n1,2\n2\n3,x\n", encoding="utf-8")
    r = CliRunner().invoke(cli(), ["import", str(f), "--home", str(home), "-s", "a"])
    assert r.exit_code == 2
    assert (
        "nothing was stored" in r.output and "column 'a' is not numeric (line 4: 'x')" in r.output
    )
    blob = tmp_path / "x.bin"
    blob.write_bytes(bytes(range(256)) * 4)
    r = CliRunner().invoke(cli(), ["import", str(blob), "--home", str(home)])
    assert r.exit_code == 2 and "supported: CSV" in r.output and "WAV" in r.output
    assert stored(home) == {}


async def test_cli_import_goes_through_a_running_logger(
    start_logger: StartFn, home: Home, tmp_path: Path
) -> None:
    logger, svc = await start_logger()
    server = TcpServer(logger, port=0)
    await server.start()
    try:
        logger.config.tcp.active = True
        logger.config.tcp.port = server.port
        runtime.write_status_file(logger)
        f = tmp_path / "d.csv"
        f.write_text("x;v [V]\n1;10\n2;20\n3;30\n", encoding="utf-8")
        r = await asyncio.to_thread(
            CliRunner().invoke,
            cli(),
            ["import", str(f), "--home", str(home.root), "--device", "Run"],
        )
        assert r.exit_code == 0, r.output
        assert "into the running logger (127.0.0.1:" in r.output
        buf = logger.store.get("Run.v")  # in the logger's memory: attached UIs see it now
        assert buf is not None and buf.unit == "V"
        assert buf.window(None, None)[1].tolist() == [10, 20, 30]
        await flush(svc)
        # a session: its signals go through the logger, its events into the store
        sess = tmp_path / "s.json"
        sess.write_text(
            json.dumps(
                {
                    "data": {"Old.sig": [[1.0, 2.0], [5.0, 6.0], "A"]},
                    "events": {"Old.sig": [[1.5], ["threshold"]]},
                }
            ),
            encoding="utf-8",
        )
        r = await asyncio.to_thread(
            CliRunner().invoke, cli(), ["import", str(sess), "--home", str(home.root)]
        )
        assert r.exit_code == 0, r.output
        assert "imported 2 samples of 1 signals and 1 events" in r.output
        assert logger.store.get("Old.sig").window(None, None)[1].tolist() == [5.0, 6.0]
        assert [e.text for e in svc.engine.events(None, None)] == ["threshold"]
        # --store bypasses the logger
        r = await asyncio.to_thread(
            CliRunner().invoke,
            cli(),
            ["import", str(f), "--home", str(home.root), "--device", "Direct", "--store"],
        )
        assert r.exit_code == 0 and "into the store" in r.output
        assert logger.store.get("Direct.v") is None
    finally:
        await server.stop()


async def test_remote_import_is_staged_until_commit(
    start_logger: StartFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger, _svc = await start_logger()
    server = TcpServer(logger, port=0)
    await server.start()
    monkeypatch.setattr(remote_mod, "IMPORT_CHUNK_SAMPLES", 1000)
    client = RemoteClient("127.0.0.1", server.port, token=logger.home.auth_token())
    await client.connect()
    try:
        x = np.arange(4500.0)
        steps: list[int] = []
        rep = await client.import_signals(
            [ImportSignal("R.a", "A", x, x + 1)], lambda d, t: steps.append(d)
        )
        assert steps == [1000, 2000, 3000, 4000, 4500] and rep.stored == (("R.a", 4500),)
        assert logger.store.get("R.a").window(None, None)[1].tolist() == (x + 1).tolist()
        # chunks sent but never committed (the client went away): nothing is stored
        import_id = await client.call("import_begin")
        await client.call(
            "import_chunk",
            import_id=import_id,
            name="R.lost",
            unit="",
            x=remote_mod.wire.encode_array(x[:10]),
            y=remote_mod.wire.encode_array(x[:10]),
        )
        assert logger.store.get("R.lost") is None
        await client.call("import_abort", import_id=import_id)
        with pytest.raises(ClientError, match="no import"):
            await client.call("import_commit", import_id=import_id)
    finally:
        await client.close()
        await server.stop()


async def test_xlsx_export_sheets_and_table(start_logger: StartFn, tmp_path: Path) -> None:
    logger, svc = await start_logger()
    logger.store.append("D", "a", np.array([1.0, 2.0, 3.0]), np.array([10.0, np.nan, 30.0]), "V")
    logger.store.append("D", "b", np.array([1.5]), np.array([-1.0]), "")
    await flush(svc)
    engine = svc.engine
    out = export(EngineSource(engine), tmp_path / "s.xlsx")
    wb = CalamineWorkbook.from_path(str(out))
    assert wb.sheet_names == ["D.a", "D.b"]
    assert wb.get_sheet_by_name("D.a").to_python() == [
        ["x", "D.a [V]"],
        [1.0, 10.0],
        [2.0, ""],
        [3.0, 30.0],
    ]
    out = export(EngineSource(engine), tmp_path / "t.xlsx", fmt="xlsx-table")
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_name("Signals").to_python()
    assert rows[0] == ["D.a x", "D.a [V]", "D.b x", "D.b"]
    assert rows[1] == [1.0, 10.0, 1.5, -1.0] and rows[3][:2] == [3.0, 30.0]
    # and it imports back (the CSV layout's column pairs are recognised)
    from rtoc_tui.transfer import read_file

    data = read_file(str(out))
    assert {s.name: s.y.tolist() for s in data.signals} == {
        "D.a": [10.0, 30.0],
        "D.b": [-1.0],
    }
