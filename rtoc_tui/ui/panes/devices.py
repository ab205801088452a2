"""The devices pane: every driver with its state; start, stop, samplerate, open details."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from ...api import DeviceInfo
from ..format import fmt_value
from ..state import LoggerState, is_active
from ..work import client_call, rtoc_app
from .base import Pane

STATE_STYLES = {
    "running": "bold green",
    "stuck": "bold yellow",  # running, but its timer call hangs (the reason says since when)
    "stopped": "dim",
    "error": "bold red",
}
STATE_MARKS = {"running": "●", "stuck": "◐", "stopped": "○", "error": "✖"}


class DevicesTable(DataTable[Any]):
    """The drivers table."""


class DevicesPane(Pane):
    """Drivers and their state (RTOC's device widget)."""

    ALLOW_MAXIMIZE = True

    BINDINGS: ClassVar[list[Any]] = [
        Binding("space,s", "toggle_device", "Start/stop", id="devices.toggle", key_display="space"),
        Binding("enter", "open", "Details", id="devices.open", key_display="⏎"),
        Binding("r", "samplerate", "Rate", id="devices.samplerate"),
        Binding("R", "retry", "Retry now", id="devices.retry", show=False),
    ]

    class OpenRequested(Message):
        """Show the device's parameters and functions."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class SamplerateRequested(Message):
        """Ask the user for a new samplerate of a running device."""

        def __init__(self, device: DeviceInfo) -> None:
            super().__init__()
            self.device = device

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._devices: dict[str, DeviceInfo] = {}
        self._busy: set[str] = set()

    def compose(self) -> ComposeResult:
        table = DevicesTable(id="devices-table", cursor_type="row")
        table.add_column("", key="mark", width=1)
        table.add_column("device", key="name")
        table.add_column("state", key="state")
        table.add_column("rate", key="rate")
        table.add_column("note", key="note")
        yield table

    def on_mount(self) -> None:
        self.border_title = "Devices"

    # -- data -------------------------------------------------------------------------------
    @property
    def devices(self) -> dict[str, DeviceInfo]:
        return self._devices

    def selected(self) -> DeviceInfo | None:
        """The device under the cursor."""
        table = self.query_one(DevicesTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:
            return None
        return self._devices.get(str(key.value))

    def apply_state(self, state: LoggerState, new_events: object = None) -> None:
        """Show the newest device list; cells are updated in place when the set is unchanged."""
        devices = {d.name: d for d in state.devices}
        if devices == self._devices:
            return
        table = self.query_one(DevicesTable)
        if list(devices) != list(self._devices):
            selected = self.selected()
            table.clear()
            for d in devices.values():
                table.add_row(*self._cells(d), key=d.name)
            if selected is not None and selected.name in devices:
                table.move_cursor(row=list(devices).index(selected.name), animate=False)
        else:
            for name, d in devices.items():
                if self._devices.get(name) != d:
                    for col, value in zip(
                        ("mark", "name", "state", "rate", "note"), self._cells(d), strict=True
                    ):
                        table.update_cell(name, col, value)
        self._devices = devices
        self._show_subtitle()

    def _show_subtitle(self) -> None:
        """The running count, or the error reason of the device under the cursor: at 80
        columns the note column is off-screen, and the reason is what the user needs."""
        d = self.selected()
        if d is not None and d.state == "error" and d.reason:
            self.set_subtitle(f"✖ {d.name}: {d.reason} · R retry, space stop")
            return
        running = sum(1 for d in self._devices.values() if d.state == "running")
        failed = sum(1 for d in self._devices.values() if d.state == "error")
        extra = f", {failed} failed" if failed else ""
        self.set_subtitle(f"{running}/{len(self._devices)} running{extra}")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_subtitle()

    def _cells(self, d: DeviceInfo) -> tuple[Any, ...]:
        style = STATE_STYLES.get(d.state, "")
        state = "starting" if d.name in self._busy and d.state == "stopped" else d.state
        rate = "" if d.samplerate is None else fmt_value(d.samplerate, "Hz")
        note = d.reason if d.state == "error" else ""
        return (
            Text(STATE_MARKS.get(d.state, "?"), style=style),
            d.name,
            Text(state, style=style),
            rate,
            Text(note, style="red" if d.state == "error" else "dim"),
        )

    # -- actions ----------------------------------------------------------------------------
    def action_toggle_device(self) -> None:
        d = self.selected()
        if d is not None:
            self.toggle_device(d.name)

    def action_retry(self) -> None:
        d = self.selected()
        if d is not None:
            self.retry_device(d.name)

    def retry_device(self, name: str) -> None:
        """Stop and start a driver now, without waiting for its back-off."""
        client = rtoc_app(self).client
        self._busy.add(name)

        async def retry(n: str) -> DeviceInfo:
            await client.stop_device(n)
            return await client.start_device(n)

        self._call(name, retry)

    def toggle_device(self, name: str, start: bool | None = None) -> None:
        """Start a stopped driver; stop a running one or one in error (it is retrying)."""
        d = self._devices.get(name)
        if start is None:
            start = d is None or not is_active(d.state)
        client = rtoc_app(self).client
        self._busy.add(name)
        self._call(name, client.start_device if start else client.stop_device)

    def _call(self, name: str, call: Any) -> None:
        def done(info: DeviceInfo) -> None:
            self._busy.discard(name)
            if info.state == "error":
                self.app.notify(f"{name}: {info.reason}", severity="error", title="devices")
            else:
                self.app.notify(f"{name} {info.state}", title="devices", timeout=3)
            rtoc_app(self).refresh_now()

        def failed(_text: str) -> None:
            self._busy.discard(name)
            rtoc_app(self).refresh_now()

        client_call(self, lambda: call(name), group="devices", done=done, failed=failed)

    def action_open(self) -> None:
        d = self.selected()
        if d is not None:
            self.post_message(self.OpenRequested(d.name))

    def action_samplerate(self) -> None:
        d = self.selected()
        if d is None:
            return
        if d.state != "running":
            self.app.notify(f"{d.name} is not running", severity="warning", title="devices")
            return
        self.post_message(self.SamplerateRequested(d))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Enter (or a click) on a row opens the device, like RTOC's device buttons.
        event.stop()
        self.action_open()
