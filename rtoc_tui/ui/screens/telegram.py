"""The Telegram bot's state and users; an admin at the terminal changes a user's role here."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Label, Static

from ...api import EventInfo, TelegramState
from ..state import LoggerState
from ..work import client_call, rtoc_app
from .base import RtocScreen

LEVELS = {0: "all events", 1: "warnings, errors", 2: "errors", 3: "none"}


class TelegramScreen(RtocScreen):
    """Bot state and users (telegram_clients.json); b/r/w/a set the selected user's role."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("b", "role('blocked')", "Blocked", id="telegram.blocked"),
        Binding("r", "role('read')", "Read", id="telegram.read"),
        Binding("w", "role('write')", "Write", id="telegram.write"),
        Binding("a", "role('admin')", "Admin", id="telegram.admin"),
        Binding("ctrl+r", "reload", "Reload", id="telegram.reload"),
        Binding("escape", "back", "Back", id="telegram.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state: TelegramState | None = None

    def compose(self) -> ComposeResult:
        yield Label("Telegram bot", id="telegram-title")
        yield Static("", id="telegram-state")
        table: DataTable[str] = DataTable(id="telegram-users", cursor_type="row")
        table.add_columns("chat id", "name", "role", "notified of")
        yield table
        yield Label("", id="telegram-error", classes="error-text")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.reload()

    def apply_state(self, state: LoggerState, new_events: list[EventInfo]) -> None:
        """The user list does not follow live data; ctrl+r reloads it."""

    def reload(self) -> None:
        client = rtoc_app(self).client
        client_call(self, client.telegram, group="telegram-load", done=self.show, skip_if_busy=True)

    def show(self, state: TelegramState) -> None:
        self.state = state
        if not state.running:
            text = (
                "The bot is not running (telegram.active and telegram.token in the settings; "
                "it starts with the logger). Offline: rtoc config telegram --role CHAT_ID=ROLE"
            )
        else:
            link = "connected" if state.connected else "not connected"
            text = (
                f"@{state.username or '?'}: {link}; {state.messages_sent} notifications sent, "
                f"{state.dropped} dropped, {state.pending} queued"
                + (f"; last error: {state.last_error}" if state.last_error else "")
            )
        self.query_one("#telegram-state", Static).update(text)
        table = self.query_one("#telegram-users", DataTable)
        row = table.cursor_row
        table.clear()
        for u in state.users:
            table.add_row(
                str(u.chat_id),
                u.name,
                u.permission,
                LEVELS.get(u.eventlevel, "?"),
                key=str(u.chat_id),
            )
        if state.users:
            table.move_cursor(row=min(max(row, 0), len(state.users) - 1))

    def selected(self) -> int | None:
        if self.state is None or not self.state.users:
            return None
        table = self.query_one("#telegram-users", DataTable)
        index = table.cursor_row
        if not 0 <= index < len(self.state.users):
            return None
        return self.state.users[index].chat_id

    def action_role(self, role: str) -> None:
        chat_id = self.selected()
        error = self.query_one("#telegram-error", Label)
        if chat_id is None:
            error.update("no user selected")
            return
        client = rtoc_app(self).client

        def done(state: TelegramState) -> None:
            error.update("")
            self.show(state)
            self.app.notify(f"chat {chat_id} is now {role}", title="telegram")

        client_call(
            self,
            lambda: client.set_telegram_role(chat_id, role),
            group="telegram",
            done=done,
            failed=lambda text: error.update(text),
        )

    def action_reload(self) -> None:
        self.reload()

    def action_back(self) -> None:
        self.app.pop_screen()
