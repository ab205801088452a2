"""The main screen against a LocalClient: header, panes and their basic state."""

from __future__ import annotations

from rtoc_tui.client.local import LocalClient
from rtoc_tui.ui.app import build_app
from rtoc_tui.ui.panes.devices import DevicesPane
from rtoc_tui.ui.panes.events import EventsPane
from rtoc_tui.ui.panes.plot import PlotPane
from rtoc_tui.ui.panes.signals import SignalsPane
from rtoc_tui.ui.widgets.footer import FittingFooter
from rtoc_tui.ui.widgets.plot import PlotextPlot
from rtoc_tui.ui.widgets.status import StatusBar

from .conftest import StableClient, settle, wait_for


async def test_main_screen_shows_everything(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        header = str(app.screen.query_one(StatusBar).render())
        assert "(local)" in header and "3 signals" in header and "3 events" in header
        devices = app.screen.query_one(DevicesPane).devices
        assert set(devices) == {"Generator", "System"}
        assert {d.state for d in devices.values()} == {"stopped"}
        signals = app.screen.query_one(SignalsPane)
        assert signals.plotted == {"Generator.Sinus", "Bench.Voltage", "Bench.Current"}
        plot = app.screen.query_one(PlotPane)
        plots = list(plot.query(PlotextPlot))
        assert len(plots) == 3  # one plot per unit: "", A, V
        units = sorted(p.spec.footer[0].plain.split(" ")[0] for p in plots)
        assert units == ["[-]", "[A]", "[V]"]
        events = app.screen.query_one(EventsPane).visible_events()
        assert [e.id for e in events] == ["probe", "lim", "start"]  # newest first


async def test_runs_at_80x24(ui_logger, clock):
    app = build_app(LocalClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for pane in (DevicesPane, SignalsPane, PlotPane, EventsPane):
            region = app.screen.query_one(pane).region
            assert region.width > 0 and region.height >= 3, pane
        assert app.screen.query_one(PlotPane).plot_width() > 20


async def test_startup_objects_are_frozen_out_of_the_gc(ui_logger, clock, monkeypatch):
    import gc

    from rtoc_tui.ui.app import RtocApp

    monkeypatch.setattr(RtocApp, "GC_FREEZE_AFTER_S", 0.05)
    gc.unfreeze()
    app = build_app(LocalClient(ui_logger), ui_logger.config, clock=clock)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.pause(0.2)
            assert gc.get_freeze_count() > 10_000  # the app's widgets, styles, modules
    finally:
        gc.unfreeze()


async def test_header_and_footer_at_80_columns_cut_no_word(ui_logger, clock):
    """Issue 13 item 10: lower-priority header fields go first; the footer keeps `? Help`."""
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        header = app.screen.query_one(StatusBar)._text
        assert header is not None and header.cell_len <= 80
        assert header.plain.rstrip().endswith(("events", "event", "S/s", "signals", "running"))
        assert "…" not in header.plain
        keys = [k.key_display for k in app.screen.query_one(FittingFooter).children]
        assert "?" in keys and "q" not in keys
        await pilot.resize_terminal(200, 50)
        await wait_for(
            pilot,
            lambda: "q" in [k.key_display for k in app.screen.query_one(FittingFooter).children],
        )
