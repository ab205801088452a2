"""Global events and global actions (globalEvents.json / globalActions.json): view and edit."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static, TextArea

from ...api import EventInfo
from ..state import LoggerState
from ..widgets.footer import FittingFooter
from ..work import client_call, rtoc_app
from .base import RtocScreen
from .dialogs import ConfirmDialog

# Templates for new entries, with RTOC's keys (the logger validates them).
EVENT_TEMPLATE: dict[str, Any] = {
    "cond": "Generator.Square.latest >= 2",
    "text": "Square is high",
    "priority": 0,
    "return": " ",
    "id": "",
    "trigger": "rising",
    "sname": "",
    "dname": "",
    "active": True,
}
ACTION_TEMPLATE: dict[str, Any] = {
    "listenID": ["event_id"],
    "parameters": "",
    "script": "print('an event happened')",
    "active": True,
}


class SpecEditor(ModalScreen[tuple[str, dict[str, Any]] | None]):
    """Edit one entry as JSON; ctrl+s saves (when it parses), escape cancels."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("ctrl+s", "save", "Save", id="spec.save"),
        Binding("escape", "cancel", "Cancel", id="spec.cancel"),
    ]

    def __init__(self, kind: str, name: str, spec: dict[str, Any], new: bool) -> None:
        super().__init__(classes="dialog")
        self.kind = kind
        self.name_value = name
        self.spec = spec
        self.new = new

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box wide"):
            yield Label(
                f"{'New' if self.new else 'Edit'} global {self.kind}", classes="dialog-title"
            )
            yield Input(self.name_value, placeholder="name", id="spec-name", disabled=not self.new)
            yield TextArea(json.dumps(self.spec, indent=2), id="spec-text", tab_behavior="indent")
            yield Label("", id="spec-error", classes="error-text")
            yield Static("ctrl+s: save   escape: cancel", classes="dialog-help")

    def on_mount(self) -> None:
        target = "#spec-name" if self.new else "#spec-text"
        self.query_one(target).focus()

    def action_save(self) -> None:
        name = self.query_one("#spec-name", Input).value.strip()
        if not name:
            self.query_one("#spec-error", Label).update("a name is needed")
            return
        try:
            spec = json.loads(self.query_one("#spec-text", TextArea).text)
        except json.JSONDecodeError as exc:
            self.query_one("#spec-error", Label).update(
                f"not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
            )
            return
        if not isinstance(spec, dict):
            self.query_one("#spec-error", Label).update("the entry must be a JSON object {...}")
            return
        self.dismiss((name, spec))

    def action_cancel(self) -> None:
        self.dismiss(None)


class AutomationScreen(RtocScreen):
    """RTOC's event/action system: conditions that raise events, scripts that react."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "back", "Back", id="automation.back"),
        Binding("n", "new", "New", id="automation.new"),
        Binding("enter", "edit", "Edit", id="automation.edit", show=False),
        Binding("delete", "delete", "Delete", id="automation.delete", key_display="del"),
        Binding("ctrl+r", "reload", "Reload", id="automation.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.events: dict[str, dict[str, Any]] = {}
        self.actions: dict[str, dict[str, Any]] = {}

    def compose(self) -> ComposeResult:
        yield Label("Automation: global events raise events from conditions; global actions "
                    "run scripts when events happen.", id="automation-title")  # fmt: skip
        with Horizontal(id="automation-body"):
            with Vertical(id="automation-events", classes="pane"):
                t = DataTable(id="global-events", cursor_type="row")
                t.add_column("event", key="name")
                t.add_column("definition", key="spec")
                yield t
            with Vertical(id="automation-actions", classes="pane"):
                a = DataTable(id="global-actions", cursor_type="row")
                a.add_column("action", key="name")
                a.add_column("definition", key="spec")
                yield a
        yield FittingFooter()

    def on_mount(self) -> None:
        self.query_one("#automation-events").border_title = "Global events"
        self.query_one("#automation-actions").border_title = "Global actions"
        self.query_one("#global-events").focus()
        self.reload()

    def apply_state(self, state: LoggerState, new_events: list[EventInfo]) -> None:
        """Nothing to follow per tick (the lists change only through this screen or files)."""

    def reload(self) -> None:
        """Fetch both lists."""
        client = rtoc_app(self).client

        async def fetch() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
            return await client.global_events(), await client.global_actions()

        client_call(self, fetch, group="automation-load", done=self._show, skip_if_busy=True)

    def _show(self, lists: tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]) -> None:
        self.events, self.actions = lists
        for table_id, entries in (
            ("#global-events", self.events),
            ("#global-actions", self.actions),
        ):
            table = self.query_one(table_id, DataTable)
            table.clear()
            for name, spec in sorted(entries.items()):
                table.add_row(name, json.dumps(spec, separators=(", ", ": ")), key=name)

    def _focused_kind(self) -> str:
        focused = self.focused
        return "action" if focused is not None and focused.id == "global-actions" else "event"

    def _selected(self, kind: str) -> str | None:
        table = self.query_one(
            "#global-actions" if kind == "action" else "#global-events", DataTable
        )
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _save(self, kind: str, name: str, spec: dict[str, Any] | None) -> None:
        client = rtoc_app(self).client
        setter = client.set_global_action if kind == "action" else client.set_global_event
        client_call(
            self,
            lambda: setter(name, spec),
            group="automation",
            done=lambda _r: self.reload(),
            success=f"global {kind} {name} {'saved' if spec is not None else 'deleted'}",
        )

    def action_new(self) -> None:
        kind = self._focused_kind()
        template = ACTION_TEMPLATE if kind == "action" else EVENT_TEMPLATE
        self.app.push_screen(
            SpecEditor(kind, "", dict(template), new=True),
            lambda r: r is not None and self._save(kind, r[0], r[1]),
        )

    def action_edit(self) -> None:
        kind = self._focused_kind()
        name = self._selected(kind)
        if name is None:
            return
        entries = self.actions if kind == "action" else self.events
        self.app.push_screen(
            SpecEditor(kind, name, dict(entries.get(name, {})), new=False),
            lambda r: r is not None and self._save(kind, r[0], r[1]),
        )

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit()

    def action_delete(self) -> None:
        kind = self._focused_kind()
        name = self._selected(kind)
        if name is None:
            return
        self.app.push_screen(
            ConfirmDialog(f"Delete global {kind} {name!r}?", "Delete"),
            lambda ok: bool(ok) and self._save(kind, name, None),
        )

    def action_reload(self) -> None:
        self.reload()

    def action_back(self) -> None:
        self.app.pop_screen()
