"""Signals pane: tree, filter, plot toggles, clear, delete, export, statistics."""

from __future__ import annotations

import csv

import numpy as np
from textual.widgets import Input

from rtoc_tui.ui.app import build_app
from rtoc_tui.ui.panes.plot import PlotPane
from rtoc_tui.ui.panes.signals import SignalsPane, SignalTree
from rtoc_tui.ui.screens.dialogs import ConfirmDialog, ExportDialog, InfoDialog
from rtoc_tui.ui.widgets.plot import PlotextPlot

from .conftest import T0, RecordingClient, StableClient, settle, text_of, wait_for


def leaves(pane: SignalsPane) -> list[str]:
    return sorted(pane._leaves)


async def test_tree_labels_show_value_unit_and_count(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(SignalsPane)
        assert leaves(pane) == ["Bench.Current", "Bench.Voltage", "Generator.Sinus"]
        label = pane._labels["Bench.Voltage"].plain
        value = ui_logger.store.get("Bench.Voltage").latest()[1]
        assert f"{value:.4g} V" in label and "n=1200" in label and "idle" not in label
        tree = app.screen.query_one(SignalTree)
        assert [n.label.plain for n in tree.root.children] == ["Bench", "Generator"]


async def test_inactive_signal_is_marked(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(SignalsPane)
        assert "idle" not in pane._labels["Bench.Voltage"].plain
        # No data for longer than tui.signalInactivityTimeout (2 s) by the UI's clock.
        clock.t = ui_logger.store.get("Bench.Voltage").updated + 3.0
        polls = app.state.polls
        await wait_for(pilot, lambda: app.state.polls > polls)
        await wait_for(pilot, lambda: "idle" in pane._labels["Bench.Voltage"].plain)


async def test_type_to_filter(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(SignalsPane)
        assert app.screen.query_one(SignalTree).has_focus
        await pilot.press("v", "o", "l")
        box = pane.query_one("#signals-filter", Input)
        assert box.display and box.value == "vol"
        assert leaves(pane) == ["Bench.Voltage"]
        await pilot.press("escape")  # clears the text
        assert leaves(pane) == ["Bench.Current", "Bench.Voltage", "Generator.Sinus"]
        await pilot.press("slash", "s", "i", "n", "enter")
        assert leaves(pane) == ["Generator.Sinus"]
        assert app.screen.query_one(SignalTree).has_focus


async def test_toggle_signals_in_and_out_of_the_plot(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(SignalsPane)
        plot = app.screen.query_one(PlotPane)
        assert pane.select("Bench.Voltage")
        await pilot.press("space")
        assert "Bench.Voltage" not in pane.plotted
        await wait_for(pilot, lambda: "Bench.Voltage" not in plot.plotted)
        await wait_for(pilot, lambda: len(plot.query(PlotextPlot)) == 2)
        assert pane._labels["Bench.Voltage"].plain.startswith("□")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(plot.query(PlotextPlot)) == 3)
        # a device node toggles all its signals
        tree = app.screen.query_one(SignalTree)
        tree.move_cursor(tree.root.children[0])  # Bench
        await pilot.press("space")
        assert pane.plotted == {"Generator.Sinus"}
        await pilot.press("a")  # all on
        assert len(pane.plotted) == 3


async def test_clear_and_delete(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(SignalsPane)
        pane.select("Bench.Current")
        n = len(ui_logger.store.get("Bench.Current"))
        await pilot.press("c")  # asks first (issue 13 item 4)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")
        assert len(ui_logger.store.get("Bench.Current")) == n
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: len(ui_logger.store.get("Bench.Current")) == 0)
        await wait_for(pilot, lambda: pane.signals["Bench.Current"].count == 0)
        pane.select("Bench.Voltage")
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")  # cancel keeps it
        assert ui_logger.store.get("Bench.Voltage") is not None
        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: ui_logger.store.get("Bench.Voltage") is None)
        await wait_for(pilot, lambda: "Bench.Voltage" not in leaves(pane))


async def test_export_visible_window_as_csv(ui_logger, clock, tmp_path):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    target = tmp_path / "voltage.csv"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(SignalsPane)
        pane.select("Bench.Voltage")
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        box = app.screen.query_one("#export-path", Input)
        assert box.value.endswith("Bench.Voltage.csv")
        box.value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, target.exists, what="the export file")
        await wait_for(pilot, lambda: any("exported" in n.message for n in app._notifications))
    rows = list(csv.reader(target.open()))
    assert len(rows) > 500  # the visible minute at 10 Hz, plus a header
    assert "Voltage" in " ".join(rows[0])


async def test_statistics_of_the_visible_window(ui_logger, clock):
    client = RecordingClient(ui_logger)
    app = build_app(client, ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.screen.query_one(SignalsPane).select("Bench.Voltage")
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, InfoDialog))
        assert client.stats_calls == [("Bench.Voltage", T0 - 60, T0)]
        body = text_of(app.screen.body)
        x, y = ui_logger.store.get("Bench.Voltage").copy()
        vis = y[(x >= T0 - 60) & (x <= T0)]
        assert f"{len(vis):,}" in body
        assert f"{vis.max():.4g}" in body and f"{vis.mean():.4g}" in body
        assert f"{np.trapezoid(vis, x[(x >= T0 - 60) & (x <= T0)]):.4g}" in body
        await pilot.press("escape")
        assert not isinstance(app.screen, InfoDialog)


async def test_export_as_xlsx_one_sheet_per_signal(ui_logger, clock, tmp_path):
    from python_calamine import CalamineWorkbook
    from textual.widgets import RadioButton

    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    target = tmp_path / "voltage.xlsx"
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.screen.query_one(SignalsPane).select("Bench.Voltage")
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        app.screen.query_one("#fmt-xlsx", RadioButton).value = True
        await pilot.pause()
        box = app.screen.query_one("#export-path", Input)
        assert box.value.endswith("Bench.Voltage.xlsx")  # the extension follows the format
        box.value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, target.exists, what="the export file")
    rows = CalamineWorkbook.from_path(str(target)).get_sheet_by_name("Bench.Voltage").to_python()
    assert rows[0] == ["x", "Bench.Voltage [V]"] and len(rows) > 500
