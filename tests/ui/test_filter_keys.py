"""Type-to-filter: a burst of keys (a fast typist, a paste) reaches the filter whole and never
fires a binding (issue 13 item 3)."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from rtoc_tui.ui.app import build_app
from rtoc_tui.ui.panes.events import EventsPane, EventsTable
from rtoc_tui.ui.panes.plot import PlotPane
from rtoc_tui.ui.panes.signals import SignalsPane, SignalTree

from .conftest import StableClient, settle, wait_for

KEY_NAMES = {"/": "slash", " ": "space"}


def burst(app, text: str) -> None:
    """Queue every key at once, as a terminal delivers them (Pilot.press waits between keys)."""
    for ch in text:
        app.post_message(events.Key(KEY_NAMES.get(ch, ch), ch))


async def test_signals_filter_takes_a_burst_and_fires_no_binding(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(SignalsPane)
        plot = app.screen.query_one(PlotPane)
        plotted, counts = set(pane.plotted), {n: len(ui_logger.store.get(n)) for n in pane.plotted}
        # c (clear), p (pause), a (all on/off) and e (export) are bindings of the pane/screen
        burst(app, "/cpae")
        box = pane.query_one("#signals-filter", Input)
        await wait_for(pilot, lambda: box.value == "cpae", what="the whole burst in the filter")
        burst(app, "\x7f")  # not printable: passes through
        await pilot.pause(0.3)
        assert set(pane.plotted) == plotted and not plot.paused
        assert {n: len(ui_logger.store.get(n)) for n in plotted} == counts, "nothing cleared"
        assert not app.screen.query(".-modal") and app.screen is not None
        assert app.screen.query_one(SignalTree).has_focus
        # typing without `/`: the first letter that is no binding starts it, then anything goes
        await pilot.press("escape", "escape")
        burst(app, "vcp")
        await wait_for(pilot, lambda: box.value == "vcp", what="v then c and p as text")
        assert set(pane.plotted) == plotted and not plot.paused


async def test_events_filter_takes_a_burst(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("V")
        pane = app.screen.query_one(EventsPane)
        shown = set(pane.shown_priorities)
        burst(app, "/limit 2")  # 2 is the "hide errors" binding outside the filter
        box = pane.query_one("#events-filter", Input)
        await wait_for(pilot, lambda: box.value == "limit 2", what="the whole burst")
        assert pane.shown_priorities == shown
        assert app.screen.query_one(EventsTable).has_focus
        await pilot.press("escape")  # clears the typed filter (it used to stay)
        assert box.value == "" and pane.text_filter == ""
