"""The import screen at 80x24 against a LocalClient: file, preview, signal definitions with
their status, import with progress, profiles offered again for a file of the same shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, ProgressBar, Select, Static

from rtoc_tui.client.local import LocalClient
from rtoc_tui.transfer.profiles import Profiles
from rtoc_tui.ui.app import build_app
from rtoc_tui.ui.screens.importer import ImportScreen

from .conftest import wait_for


def _text(screen: ImportScreen, wid: str) -> str:
    return str(screen.query_one(wid, Static).render())


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    f = tmp_path / "bench.csv"
    f.write_text(
        "Operator: A. Lab\nZeit;U [V];Note\n0,5;1,25;a\n1,0;2,5;b\n1,5;3;c;extra\n2,0;4;d\n",
        encoding="utf-8",
    )
    return f


async def test_import_screen_at_80x24(ui_logger, clock, csv_file, tmp_path, monkeypatch):
    monkeypatch.setenv("RTOC_HOME", str(tmp_path / "home"))
    app = build_app(LocalClient(ui_logger), ui_logger.config, clock=clock, poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("I")
        await wait_for(pilot, lambda: isinstance(app.screen, ImportScreen), what="import screen")
        screen = app.screen
        assert isinstance(screen, ImportScreen)
        screen.query_one("#imp-path", Input).value = str(csv_file)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.table is not None, what="file read")
        await pilot.pause()
        preview = screen.query_one("#imp-preview", DataTable)
        assert [str(c.label) for c in preview.columns.values()] == ["Zeit", "U [V]", "Note"]
        assert preview.row_count == 3  # the ragged line is not in the table
        info = _text(screen, "#imp-info")
        assert "1 row skipped (line 5)" in info
        # the guess: x from Zeit, U a signal; the text column is left out
        sigs = screen.query_one("#imp-signals", DataTable)
        assert sigs.row_count == 1
        row = [str(c) for c in sigs.get_row_at(0)]
        assert row[:5] == ["✓", "bench.U", "V", "Zeit", "U"] and "3 samples" in row[5]
        # a signal from the text column: listed with the reason it cannot be imported
        screen.query_one("#imp-y", Select).value = "2"
        screen.query_one("#imp-name", Input).value = "Bench.Note"
        await pilot.pause()
        screen.action_add_signal()
        await pilot.pause()
        row = [str(c) for c in sigs.get_row_at(1)]
        assert row[0] == "✗" and "not numeric" in row[5] and "line 3" in row[5]
        assert "Bench.Note" in _text(screen, "#imp-status")
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.last_report is not None, what="import done")
        await pilot.pause()
        assert screen.last_report.stored == (("bench.U", 3),)
        assert screen.query_one(ProgressBar).percentage == 1.0
        status = _text(screen, "#imp-status")
        assert "imported 3 samples of 1 signals" in status and "Bench.Note" in status
        buf = ui_logger.store.get("bench.U")
        assert buf is not None and buf.unit == "V"
        x, y = buf.window(None, None)
        assert x.tolist() == [0.5, 1.0, 2.0] and y.tolist() == [1.25, 2.5, 4.0]
        # save the mapping as a profile
        await pilot.press("ctrl+s")
        await pilot.pause()
        app.screen.query_one(Input).value = "bench"
        await pilot.press("enter")
        await pilot.pause()
    prof = Profiles.in_home(tmp_path / "home").get("bench")
    assert [s.name for s in prof.mapping.signals] == ["bench.U", "Bench.Note"]


async def test_profile_offered_for_a_file_of_the_same_shape(
    ui_logger, clock, csv_file, tmp_path, monkeypatch
):
    from rtoc_tui.transfer.mapping import CsvMapping, CsvSignal
    from rtoc_tui.transfer.readers import open_source

    home = tmp_path / "home"
    monkeypatch.setenv("RTOC_HOME", str(home))
    table = open_source(csv_file).table()
    Profiles.in_home(home).save(
        "psu", "csv", table, CsvMapping(x=None, signals=[CsvSignal("U", "PSU.Volt", "mV", None)])
    )
    other = tmp_path / "other.csv"
    other.write_text("Zeit;U [V];Note\n1;7;x\n2;8;y\n", encoding="utf-8")
    app = build_app(LocalClient(ui_logger), ui_logger.config, clock=clock, poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = ImportScreen(str(other))
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.table is not None, what="file read")
        await pilot.pause()
        assert screen.query_one("#imp-profile", Select).value == "psu"
        row = [str(c) for c in screen.query_one("#imp-signals", DataTable).get_row_at(0)]
        assert row[1:4] == ["PSU.Volt", "mV", "index"]


async def test_unsupported_file_is_reported(ui_logger, clock, tmp_path, monkeypatch):
    monkeypatch.setenv("RTOC_HOME", str(tmp_path / "home"))
    f = tmp_path / "blob.bin"
    f.write_bytes(bytes(range(256)) * 8)
    app = build_app(LocalClient(ui_logger), ui_logger.config, clock=clock, poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = ImportScreen(str(f))
        await app.push_screen(screen)
        await wait_for(pilot, lambda: "cannot be imported" in _text(screen, "#imp-info"))
        assert "supported:" in _text(screen, "#imp-info")


def test_readers_load_no_logger() -> None:
    """The import screen's modules (file readers, mapping, profiles) load no part of the logger,
    so opening it in `rtoc attach` does not pull in the kernel or storage."""
    import subprocess
    import sys

    code = (
        "import sys, rtoc_tui.ui.screens.importer, rtoc_tui.transfer.csv_import, "
        "rtoc_tui.transfer.sheets, rtoc_tui.transfer.matlab, rtoc_tui.transfer.wav\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('rtoc_tui.core', "
        "'rtoc_tui.storage', 'rtoc_tui.server', 'rtoc_tui.scripting', 'rtoc_tui.client.local')))\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


async def test_every_sheet_is_selectable(ui_logger, clock, tmp_path, monkeypatch):
    import xlsxwriter

    monkeypatch.setenv("RTOC_HOME", str(tmp_path / "home"))
    f = tmp_path / "two.xlsx"
    wb = xlsxwriter.Workbook(str(f))
    a = wb.add_worksheet("First")
    a.write_row(0, 0, ["t", "A"])
    a.write_row(1, 0, [1, 2])
    b = wb.add_worksheet("Second")
    b.write_row(0, 0, ["time", "B [mA]", "C"])
    for i in range(3):
        b.write_row(1 + i, 0, [i, i * 10, -i])
    wb.close()
    app = build_app(LocalClient(ui_logger), ui_logger.config, clock=clock, poll=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = ImportScreen(str(f))
        await app.push_screen(screen)
        await wait_for(pilot, lambda: screen.table is not None, what="file read")
        sheet = screen.query_one("#imp-sheet", Select)
        assert [o[1] for o in sheet._options if isinstance(o[1], str)] == ["First", "Second"]
        sheet.value = "Second"
        await wait_for(pilot, lambda: screen.table.name == "Second", what="second sheet")
        await pilot.pause()
        sigs = screen.query_one("#imp-signals", DataTable)
        assert [str(sigs.get_row_at(i)[1]) for i in range(sigs.row_count)] == ["two.B", "two.C"]
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.last_report is not None, what="import done")
    b_sig = ui_logger.store.get("two.B")
    assert b_sig is not None and b_sig.unit == "mA"
    assert b_sig.window(None, None)[1].tolist() == [0.0, 10.0, 20.0]
