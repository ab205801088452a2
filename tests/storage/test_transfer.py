"""Sessions, CSV/JSON export, CSV import with a mapping, RTOC session import, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from rtoc_tui.cli.data import register
from rtoc_tui.config.home import Home
from rtoc_tui.storage import SqliteEngine
from rtoc_tui.transfer import (
    CsvImportError,
    CsvMapping,
    CsvSignal,
    NullProgress,
    export_logger,
    load_session,
    read_csv,
    read_session,
    save_session,
)

from .conftest import StartFn, flush


def test_csv_import_with_mapping(tmp_path: Path) -> None:
    f = tmp_path / "m.csv"
    f.write_text("t;U [V];I;note\n0.5;1;10;a\n1.5;2;;b\n2.5;3;30;c\n", encoding="utf-8")
    data = read_csv(
        f,
        CsvMapping(x="t", signals=[CsvSignal("U"), CsvSignal(2, "PSU.Current", "A")], device="Lab"),
    )
    u, i = data.signals
    assert (u.name, u.unit, u.x.tolist(), u.y.tolist()) == (
        "Lab.U",
        "V",
        [0.5, 1.5, 2.5],
        [1.0, 2.0, 3.0],
    )
    assert (i.name, i.unit, i.x.tolist(), i.y.tolist()) == (
        "PSU.Current",
        "A",
        [0.5, 2.5],
        [10.0, 30.0],
    )
    # no x column: the row index
    data = read_csv(f, CsvMapping(x=None, signals=[CsvSignal("U")]))
    assert data.signals[0].x.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(CsvImportError, match="note"):
        read_csv(f, CsvMapping(x="t", signals=[CsvSignal("note")]))
    with pytest.raises(CsvImportError, match="no signal column named 'nope'"):
        read_csv(f, CsvMapping(signals=[CsvSignal("nope")]))


def test_csv_import_guesses_header_x_and_iso_times(tmp_path: Path) -> None:
    f = tmp_path / "g.csv"
    f.write_text(
        "time,temp [degC]\n2024-01-01T00:00:00+00:00,20.5\n2024-01-01T00:00:10+00:00,21\n",
        encoding="utf-8",
    )
    (s,) = read_csv(f).signals
    assert (s.name, s.unit, s.x.tolist()) == ("CSV.temp", "degC", [1704067200.0, 1704067210.0])
    g = tmp_path / "h.csv"
    g.write_text("1,2\n3,4\n", encoding="utf-8")  # no header: columns col1, col2, x = index
    assert [(s.name, s.y.tolist()) for s in read_csv(g).signals] == [
        ("CSV.col1", [1.0, 3.0]),
        ("CSV.col2", [2.0, 4.0]),
    ]


async def test_export_csv_json_roundtrip_with_range(start_logger: StartFn, tmp_path: Path) -> None:
    lg, svc = await start_logger()
    lg.store.append("A", "u", np.arange(10.0), np.arange(10.0) ** 2, "V")
    lg.store.append("B", "i", np.arange(5.0), -np.arange(5.0), "")
    lg.event("mark", dname="A", sname="u", x=3.0, priority=1, id="m", value=7)
    assert await flush(svc)
    out = export_logger(lg, tmp_path / "e.csv", ["A.u", "B.i"], 2.0, 6.0)
    rows = out.read_text().splitlines()
    assert rows[0] == "A.u x,A.u [V],B.i x,B.i"
    assert rows[1] == "2.0,4.0,2.0,-2.0" and rows[-1] == "6.0,36.0,,"
    back = read_csv(out)  # our own layout is recognised without a mapping
    assert [(s.name, s.x.tolist()) for s in back.signals] == [
        ("A.u", [2.0, 3.0, 4.0, 5.0, 6.0]),
        ("B.i", [2.0, 3.0, 4.0]),
    ]
    js = export_logger(lg, tmp_path / "e.json", None, None, 4.0, progress=NullProgress())
    data = read_session(js)
    assert {s.name: s.y.tolist() for s in data.signals} == {
        "A.u": [0, 1, 4, 9, 16],
        "B.i": [0, -1, -2, -3, -4],
    }
    assert [(e.text, e.x, e.priority, e.id, e.value) for e in data.events] == [
        ("mark", 3.0, 1, "m", 7)
    ]


def rtoc3_session() -> dict:
    """A session as RTOC 3.0's RT_data.exportJSON wrote it (json.dump of generateSessionJSON)."""
    return {
        "maxLength": 500000,
        "signals": {
            "1": [1, "Temperature", [1.0, 2.0, 3.0], [20.0, 21.0, 22.5], "degC"],
            "2": [2, "Voltage", [1.5, 2.5], [3.3, 3.2], ["V"]],
        },
        "events": {"1": [1, 1, 1, "too hot", 3.0, None, 2, "0a1b2c"]},
        "devices": {"1": "Heater", "2": "PSU"},
    }


async def test_rtoc_sessions_load_into_a_logger(start_logger: StartFn, tmp_path: Path) -> None:
    lg, svc = await start_logger()
    f3 = tmp_path / "rtoc3.json"
    f3.write_text(json.dumps(rtoc3_session(), indent=4), encoding="utf-8")
    res = load_session(lg, f3)
    assert (res.signals, res.samples, res.events) == (2, 5, 1)
    assert lg.store.get("Heater.Temperature").copy()[1].tolist() == [20.0, 21.0, 22.5]
    assert lg.store.get("PSU.Voltage").unit == "V"
    (ev,) = [e for e in lg.events.all() if e.text == "too hot"]
    assert (ev.dname, ev.sname, ev.priority, ev.id, ev.x) == (
        "Heater",
        "Temperature",
        2,
        "0a1b2c",
        3.0,
    )
    f2 = tmp_path / "rtoc2.json"  # RTOC 1.x/2.x: data by name, events as parallel lists
    f2.write_text(
        json.dumps(
            {
                "maxLength": 100,
                "data": {"Gen.Sin": [[0, 1], [0.0, 0.8], "V"]},
                "events": {"Gen.Sin": [[0.5], ["peak"]]},
                "scripts": "print(1)",
            }
        ),
        encoding="utf-8",
    )
    d2 = read_session(f2)
    assert (d2.signals[0].name, d2.signals[0].y.tolist(), d2.events[0].text, d2.events[0].x) == (
        "Gen.Sin",
        [0.0, 0.8],
        "peak",
        0.5,
    )
    assert d2.scripts == {"session_script.py": "print(1)"}
    assert await flush(svc)
    assert svc.query("Heater.Temperature", None, None, None)[0].tolist() == [1.0, 2.0, 3.0]


async def test_session_save_and_load_with_scripts_and_settings(
    start_logger: StartFn, home: Home, tmp_path: Path
) -> None:
    lg, _svc = await start_logger({"tcp": {"password": "s3cret"}, "global": {"name": "Bench"}})
    lg.store.append("Dev", "U", np.arange(3.0), np.ones(3), "V")
    lg.event("hello", dname="RTOC", sname="", value={"k": 1})
    (home.scripts_dir / "ramp.py").write_text("x = 1\n", encoding="utf-8")
    path = save_session(lg, tmp_path / "s.json")
    raw = json.loads(path.read_text())
    assert raw["settings"]["tcp"]["password"] == "" and raw["settings"]["global"]["name"] == "Bench"
    assert raw["scripts"] == {"ramp.py": "x = 1\n"} and raw["devices"] and raw["signals"]
    assert "s3cret" not in path.read_text()
    other = Home(tmp_path / "other")
    lg2, _ = await start_logger({}, other)
    res = load_session(lg2, path, apply_settings=True)
    assert res.scripts == ("ramp.py",) and res.settings_applied
    assert (other.scripts_dir / "ramp.py").read_text() == "x = 1\n"
    assert lg2.store.get("Dev.U").copy()[0].tolist() == [0.0, 1.0, 2.0]
    assert [e.value for e in lg2.events.all() if e.text == "hello"] == [{"k": 1}]
    cfg = json.loads(other.config_file.read_text())
    assert cfg["global"]["name"] == "Bench" and cfg.get("tcp", {}).get("password", "") == ""


def test_cli_import_and_export(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a group, as in rtoc_tui.cli.main
    register(app)
    runner = CliRunner()
    home = tmp_path / "h"
    f = tmp_path / "in.csv"
    f.write_text("a,b,c\n1,10,100\n2,20,200\n3,30,300\n", encoding="utf-8")
    r = runner.invoke(
        app, ["import", str(f), "--home", str(home), "--x", "1", "-s", "2=Meter.B:V", "-s", "c"]
    )
    assert r.exit_code == 0, r.output
    assert "imported 6 samples of 2 signals" in r.output
    eng = SqliteEngine(home / "data" / "rtoc.sqlite")
    eng.open()
    assert {s.name: (s.unit, s.count) for s in eng.signals()} == {
        "Meter.B": ("V", 3),
        "CSV.c": ("", 3),
    }
    eng.close()
    out = tmp_path / "out.json"
    r = runner.invoke(
        app, ["export", str(out), "--home", str(home), "-s", "Meter.B", "--from", "2", "--to", "3"]
    )
    assert r.exit_code == 0, r.output
    (sig,) = read_session(out).signals
    assert (sig.name, sig.x.tolist(), sig.y.tolist()) == ("Meter.B", [2.0, 3.0], [20.0, 30.0])
    r = runner.invoke(
        app, ["export", str(tmp_path / "x.csv"), "--home", str(home), "-s", "No.Such"]
    )
    assert r.exit_code == 2 and "no signal named No.Such" in r.output
    r = runner.invoke(app, ["import", str(tmp_path / "missing.csv"), "--home", str(home)])
    assert r.exit_code == 2 and "cannot read" in r.output
