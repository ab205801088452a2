"""Events pane: newest first, text and priority filters, clear, toasts for warnings/errors."""

from __future__ import annotations

from rtoc_tui.ui.app import build_app
from rtoc_tui.ui.panes.events import EventsPane, EventsTable
from rtoc_tui.ui.screens.dialogs import ConfirmDialog

from .conftest import T0, StableClient, settle, wait_for


def ids(app):
    return [e.id for e in app.screen.query_one(EventsPane).visible_events()]


async def test_table_columns_and_order(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(EventsTable)
        assert [str(c.label) for c in table.columns.values()] == [
            "time", "P", "device", "signal", "text", "id"
        ]  # fmt: skip
        first = [str(v) for v in table.get_row_at(0)]
        assert first == ["22:13:10", "E", "Bench", "Current", "probe lost", "probe"]
        assert ids(app) == ["probe", "lim", "start"]


async def test_filters_by_text_and_priority(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("V")
        assert app.screen.query_one(EventsTable).has_focus
        await pilot.press("slash", "l", "i", "m", "i", "t")
        assert ids(app) == ["lim"]
        await pilot.press("enter")  # back to the table, filter kept
        assert app.screen.query_one(EventsTable).has_focus and ids(app) == ["lim"]
        await pilot.press("slash")
        app.screen.query_one("#events-filter").value = ""
        await pilot.press("escape")
        assert ids(app) == ["probe", "lim", "start"]
        await pilot.press("2")  # hide errors
        assert ids(app) == ["lim", "start"]
        await pilot.press("0")  # hide info too
        assert ids(app) == ["lim"]
        assert "0:-" in app.screen.query_one(EventsPane).border_subtitle
        await pilot.press("0", "2")
        assert ids(app) == ["probe", "lim", "start"]


async def test_clear_events(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("V", "delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_for(pilot, lambda: len(ui_logger.events) == 0)
        await wait_for(pilot, lambda: ids(app) == [])
        # new events after a clear still arrive
        ui_logger.event("after", dname="Bench", priority=0, id="after", x=T0)
        await wait_for(pilot, lambda: ids(app) == ["after"])


async def test_toast_for_new_warnings_and_errors_only(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        # the history at start is not toasted
        assert not any("limit reached" in n.message for n in app._notifications)
        ui_logger.event("all fine", dname="Bench", priority=0, x=T0)
        ui_logger.event("too hot", sname="Temp", dname="Oven", priority=1, x=T0)
        ui_logger.event("fuse blown", dname="Oven", priority=2, x=T0)
        await wait_for(pilot, lambda: any("fuse blown" in n.message for n in app._notifications))
        notes = {n.message: (n.severity, n.title) for n in app._notifications}
        assert notes["too hot"] == ("warning", "Oven.Temp")
        assert notes["fuse blown"] == ("error", "Oven")
        assert "all fine" not in notes


async def test_a_burst_of_errors_collapses_into_one_toast(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for i in range(20):
            ui_logger.event(f"error {i}", dname="Oven", priority=2, x=T0)
        await wait_for(pilot, lambda: any("20 new" in n.message for n in app._notifications))
        assert not any(n.message == "error 3" for n in app._notifications)


async def test_enter_shows_a_long_event_whole_at_80x24(ui_logger, clock):
    """Issue 13 item 9: a long event can be read (wrapped, with its id and value)."""
    from rtoc_tui.ui.screens.dialogs import InfoDialog

    long_text = "pressure above the limit " + "x" * 150 + " END"
    ui_logger.event(long_text, sname="P", dname="Boiler", priority=2, id="overpressure", value=7.5)
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("V")
        table = app.screen.query_one(EventsTable)
        assert table.has_focus
        table.move_cursor(row=ids(app).index("overpressure"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, InfoDialog))
        body = app.screen.query_one("#info-body")
        lines = [body.render_line(y).text for y in range(body.size.height)]
        joined = "".join(line.strip() for line in lines)
        assert "END" in joined and "overpressure" in joined and "7.5" in joined, lines
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, InfoDialog))
