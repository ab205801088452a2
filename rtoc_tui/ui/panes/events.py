"""The events pane: newest first, filtered by text and priority, clearable."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Input

from ...api import EventInfo
from ..format import PRIORITY_LETTERS, PRIORITY_NAMES, fmt_clock
from ..state import PRIORITY_COLORS, LoggerState, rich_color
from ..widgets.filter_keys import FilterKeys
from .base import Pane

MAX_ROWS = 500  # rows shown; the filter searches all events the UI holds


class EventsTable(FilterKeys, DataTable[Any]):
    """The events table; `/` and typing filter it (FilterKeys)."""

    FILTER_BOX_ID = "events-filter"


class EventsPane(Pane):
    """Events of the logger (RTOC's event widget)."""

    ALLOW_MAXIMIZE = True

    BINDINGS: ClassVar[list[Any]] = [
        Binding("slash", "filter", "Filter", id="events.filter", key_display="/"),
        Binding("0", "toggle_priority(0)", "Info", id="events.info", show=False),
        Binding("1", "toggle_priority(1)", "Warnings", id="events.warnings", show=False),
        Binding("2", "toggle_priority(2)", "Errors", id="events.errors", show=False),
        Binding("delete,C", "clear", "Clear events", id="events.clear", key_display="del"),
        Binding("escape", "end_filter", "Close filter", id="events.end_filter", show=False),
    ]

    class ClearRequested(Message):
        """The user asked to clear all events (the screen confirms and does it)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shown_priorities: set[int] = {0, 1, 2}
        self.text_filter = ""
        self._events: list[EventInfo] = []
        self._key: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="filter events (text, device, signal, id)",
            id="events-filter",
            select_on_focus=False,
        )
        table = EventsTable(id="events-table", cursor_type="row", zebra_stripes=False)
        table.add_column("time", key="time", width=8)
        table.add_column("P", key="prio", width=1)
        table.add_column("device", key="device")
        table.add_column("signal", key="signal")
        table.add_column("text", key="text")
        table.add_column("id", key="id")
        yield table

    def on_mount(self) -> None:
        self.border_title = "Events"
        self.query_one("#events-filter").display = False
        self._update_subtitle()

    # -- data -------------------------------------------------------------------------------
    def apply_state(self, state: LoggerState, new_events: list[EventInfo]) -> None:
        """Show the state's events (rebuilt only when something changed)."""
        if new_events or len(state.events) != len(self._events):
            self._events = list(state.events)
            self._rebuild()

    def visible_events(self) -> list[EventInfo]:
        """The events the table shows, newest (by event time) first."""
        needle = self.text_filter.lower()
        out = []
        for e in sorted(self._events, key=lambda ev: (ev.x, ev.seq), reverse=True):
            if e.priority not in self.shown_priorities:
                continue
            if needle and not any(
                needle in str(v).lower() for v in (e.text, e.dname, e.sname, e.id)
            ):
                continue
            out.append(e)
            if len(out) >= MAX_ROWS:
                break
        return out

    def _rebuild(self) -> None:
        rows = self.visible_events()
        key = (tuple(e.seq for e in rows), self.text_filter, tuple(sorted(self.shown_priorities)))
        if key == self._key:
            return
        self._key = key
        table = self.query_one(EventsTable)
        cursor = table.cursor_row
        table.clear()
        table.add_rows(self._row(e) for e in rows)
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1), animate=False)
        self._update_subtitle(len(rows))

    @staticmethod
    def _row(e: EventInfo) -> Iterable[Any]:
        color = rich_color(PRIORITY_COLORS.get(e.priority, PRIORITY_COLORS[0]))
        prio = Text(PRIORITY_LETTERS.get(e.priority, "?"), style=f"bold {color}")
        text = Text(e.text, style=color if e.priority else "")
        return (fmt_clock(e.x).split(".")[0], prio, e.dname, e.sname, text, e.id)

    def _update_subtitle(self, shown: int | None = None) -> None:
        marks = " ".join(
            f"{p}:{PRIORITY_NAMES[p]}" if p in self.shown_priorities else f"{p}:-"
            for p in (0, 1, 2)
        )
        count = f"{shown}/{len(self._events)} " if shown is not None else ""
        filt = f' "{self.text_filter}"' if self.text_filter else ""
        self.set_subtitle(f"{count}{marks}{filt}")

    # -- actions ----------------------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on an event: every field, wrapped (a long text does not fit a row)."""
        event.stop()
        rows = self.visible_events()
        if 0 <= event.cursor_row < len(rows):
            from ..screens.dialogs import InfoDialog

            self.app.push_screen(InfoDialog("Event", event_detail(rows[event.cursor_row])))

    def action_filter(self) -> None:
        table = self.query_one(EventsTable)
        table.start_typing()
        table.focus()

    def action_end_filter(self) -> None:
        box = self.query_one("#events-filter", Input)
        if not box.value:
            box.display = False
        self.query_one(EventsTable).focus()

    def action_toggle_priority(self, priority: int) -> None:
        self.shown_priorities ^= {priority}
        self._rebuild()
        self._update_subtitle(len(self.visible_events()))

    def action_clear(self) -> None:
        self.post_message(self.ClearRequested())

    def clear_local(self) -> None:
        """Forget the shown events (after the logger cleared its list)."""
        self._events = []
        self._rebuild()

    @on(Input.Changed, "#events-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.text_filter = event.value.strip()
        self._rebuild()

    @on(Input.Submitted, "#events-filter")
    def _filter_submitted(self) -> None:
        self.action_end_filter()


def event_detail(e: EventInfo) -> Table:
    """An event's fields as a two-column table; the text and value wrap."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    color = rich_color(PRIORITY_COLORS.get(e.priority, PRIORITY_COLORS[0]))
    table.add_row("time", fmt_clock(e.x))
    table.add_row("priority", Text(f"{e.priority} {PRIORITY_NAMES.get(e.priority, '?')}", color))
    table.add_row("device", e.dname or "-")
    table.add_row("signal", e.sname or "-")
    table.add_row("id", e.id or "-")
    table.add_row("value", "-" if e.value is None else repr(e.value))
    table.add_row("text", e.text)
    return table
