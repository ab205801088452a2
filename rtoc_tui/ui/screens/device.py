"""A device's parameters (edit in place) and functions (call with arguments): RTOC's
DevicesRAW widget."""

from __future__ import annotations

import ast
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, Static, Tab, Tabs

from ...api import ClientError, DeviceDetail, EventInfo, ParameterInfo
from ..state import LoggerState, is_active
from ..widgets.footer import FittingFooter
from ..work import base_screen_visible, client_call, describe_error, rtoc_app
from .base import RtocScreen

REFRESH_S = 1.0


def parse_value(text: str, param: ParameterInfo | None) -> Any:
    """A typed value from what the user typed: text for str parameters, else a Python literal
    (numbers, True/False, None, lists...), falling back to the text itself."""
    if param is not None and param.type == "str":
        return text
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text


def parse_arguments(text: str) -> tuple[list[Any], dict[str, Any]]:
    """`1, 2.5, inverse=True` -> ([1, 2.5], {'inverse': True}); only literals are accepted."""
    text = text.strip()
    if not text:
        return [], {}
    try:
        call = ast.parse(f"f({text})", mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"not valid arguments: {exc.msg}") from None
    if not isinstance(call, ast.Call):
        raise ValueError("not valid arguments")
    try:
        args = [ast.literal_eval(a) for a in call.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
    except ValueError:
        raise ValueError(
            "arguments must be literals: numbers, strings, True/False, lists"
        ) from None
    if any(k.arg is None for k in call.keywords):
        raise ValueError("**kwargs is not supported")
    return args, kwargs


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class DeviceScreen(RtocScreen):
    """Parameters and functions of one running device."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "back", "Back", id="device.back"),
        Binding("s", "toggle", "Start/stop", id="device.toggle"),
        Binding("ctrl+r", "reload", "Reload", id="device.reload"),
        Binding("left_square_bracket", "group(-1)", "Prev group", id="device.prev_group"),
        Binding("right_square_bracket", "group(1)", "Next group", id="device.next_group"),
        Binding("tab", "app.focus_next", "Next", show=False),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.device = name
        self.detail: DeviceDetail | None = None
        self._editing: tuple[str, str] | None = None  # ("param" | "func", name)
        self._params: dict[str, ParameterInfo] = {}
        self._groups: list[str] = []  # the driver's parameter groups, in its order
        self.group = ""  # the group shown ("" = the driver declares none: all parameters)
        self._shown: set[str] = set()  # parameters in the table now
        self.last_result = ""

    def compose(self) -> ComposeResult:
        yield Label("", id="device-title")
        with Horizontal(id="device-body"):
            with Vertical(id="device-params", classes="pane"):
                yield Tabs(id="param-groups")
                table = DataTable(id="params-table", cursor_type="row")
                table.add_column("parameter", key="name")
                table.add_column("value", key="value")
                table.add_column("type", key="type")
                table.add_column("doc", key="doc")
                yield table
            with Vertical(id="device-functions", classes="pane"):
                ftable = DataTable(id="functions-table", cursor_type="row")
                ftable.add_column("function", key="name")
                ftable.add_column("signature", key="signature")
                ftable.add_column("doc", key="doc")
                yield ftable
        with Vertical(id="device-edit"):
            yield Label("", id="edit-label")
            yield Input(id="edit-input")
        yield Static("", id="device-result")
        yield FittingFooter()

    def on_mount(self) -> None:
        self.query_one("#device-params").border_title = "Parameters (enter: edit)"
        self.query_one("#device-functions").border_title = "Functions (enter: call)"
        self.query_one("#device-edit").display = False
        self.query_one("#param-groups").display = False
        self.query_one("#params-table").focus()
        self._update_title()
        self.reload()
        self.set_interval(REFRESH_S, self._refresh_values, name="device-refresh")

    # -- data -------------------------------------------------------------------------------
    def _state_of(self) -> tuple[str, str]:
        for d in rtoc_app(self).state.devices:
            if d.name == self.device:
                return d.state, d.reason
        return "unknown", ""

    def _update_title(self) -> None:
        state, reason = self._state_of()
        style = {"running": "green", "error": "red"}.get(state, "dim")
        title = Text.assemble(("Device ", "bold"), (self.device, "bold"), "  ", (state, style))
        if reason:
            title.append(f"  {reason}", style="red")
        if state != "running":
            title.append("   s: start", style="dim")
        self.query_one("#device-title", Label).update(title)

    def apply_state(self, state: LoggerState, new_events: list[EventInfo]) -> None:
        """Follow the device's state (reload when it starts)."""
        was = self.detail is not None
        self._update_title()
        running = self._state_of()[0] == "running"
        if running and not was:
            self.reload()

    def reload(self) -> None:
        """Fetch the device's parameters and functions again."""
        client = rtoc_app(self).client

        async def fetch() -> DeviceDetail | None:
            try:
                return await client.device_detail(self.device)
            except ClientError as exc:
                self._show_result(describe_error(exc), error=True)
                return None

        client_call(self, fetch, group="device-detail", done=self._show_detail, skip_if_busy=True)

    def _refresh_values(self) -> None:
        if self.detail is not None and self._editing is None and base_screen_visible(self):
            client = rtoc_app(self).client

            async def fetch() -> DeviceDetail | None:
                try:
                    return await client.device_detail(self.device)
                except ClientError:
                    return None

            client_call(
                self, fetch, group="device-detail", done=self._update_values, skip_if_busy=True
            )

    def _show_detail(self, detail: DeviceDetail | None) -> None:
        self.detail = detail
        funcs = self.query_one("#functions-table", DataTable)
        funcs.clear()
        self._params = {} if detail is None else {p.name: p for p in detail.parameters}
        self._show_groups(detail)
        self._fill_parameters()
        if detail is None:
            return
        for f in detail.functions:
            funcs.add_row(f.name, f.signature, f.doc.splitlines()[0] if f.doc else "", key=f.name)

    def _show_groups(self, detail: DeviceDetail | None) -> None:
        """The group tabs: shown only when the driver groups its parameters."""
        groups = [] if detail is None else list(dict.fromkeys(p.group for p in detail.parameters))
        groups = [g for g in groups if g]
        tabs = self.query_one("#param-groups", Tabs)
        tabs.display = bool(groups)
        if groups != self._groups:
            self._groups = groups
            self.refresh_bindings()
            tabs.clear()
            for n, group in enumerate(groups):
                tabs.add_tab(Tab(group, id=f"group-{n}"))
        if self.group not in groups:
            self.group = groups[0] if groups else ""
        if groups:
            tabs.active = f"group-{groups.index(self.group)}"

    def _fill_parameters(self) -> None:
        """The parameters of the group shown (all of them without groups)."""
        params = self.query_one("#params-table", DataTable)
        params.clear()
        self._shown = set()
        for p in self._params.values():
            if self.group and p.group != self.group:
                continue
            name = Text(p.name, style="" if p.writable else "dim")
            params.add_row(name, _short(p.value), p.type, p.doc, key=p.name)
            self._shown.add(p.name)

    @on(Tabs.TabActivated, "#param-groups")
    def _group_chosen(self, event: Tabs.TabActivated) -> None:
        event.stop()
        if event.tab is None or event.tab.id is None:
            return
        group = self._groups[int(event.tab.id.removeprefix("group-"))]
        if group != self.group:
            self.group = group
            self._fill_parameters()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The group keys only appear for a driver that groups its parameters."""
        if action == "group":
            return bool(self._groups)
        return True

    def action_group(self, step: int) -> None:
        """Show the previous or next parameter group."""
        if not self._groups:
            return
        n = (self._groups.index(self.group) + step) % len(self._groups)
        self.group = self._groups[n]
        self.query_one("#param-groups", Tabs).active = f"group-{n}"
        self._fill_parameters()

    def _update_values(self, detail: DeviceDetail | None) -> None:
        if detail is None or self.detail is None:
            return
        if [p.name for p in detail.parameters] != [p.name for p in self.detail.parameters]:
            self._show_detail(detail)
            return
        table = self.query_one("#params-table", DataTable)
        for p in detail.parameters:
            old = self._params.get(p.name)
            if p.name in self._shown and (old is None or old.value != p.value):
                table.update_cell(p.name, "value", _short(p.value))
            self._params[p.name] = p
        self.detail = detail

    def _show_result(self, text: str, error: bool = False) -> None:
        self.last_result = text
        self.query_one("#device-result", Static).update(
            Text(text, style="bold red" if error else "green")
        )

    # -- editing ------------------------------------------------------------------------------
    @on(DataTable.RowSelected, "#params-table")
    def _edit_parameter(self, event: DataTable.RowSelected) -> None:
        name = str(event.row_key.value)
        p = self._params.get(name)
        if p is None:
            return
        if not p.writable:
            self._show_result(f"{self.device}.{name} is read-only", error=True)
            return
        self._open_editor(("param", name), f"{self.device}.{name} =", _edit_text(p.value), p.doc)

    @on(DataTable.RowSelected, "#functions-table")
    def _call_function(self, event: DataTable.RowSelected) -> None:
        name = str(event.row_key.value)
        sig = ""
        if self.detail is not None:
            sig = next((f.signature for f in self.detail.functions if f.name == name), "")
        self._open_editor(("func", name), f"{self.device}.{name}{sig}  arguments:", "", "")

    def _open_editor(self, what: tuple[str, str], label: str, value: str, doc: str) -> None:
        self._editing = what
        box = self.query_one("#device-edit")
        box.display = True
        hint = (
            "enter: set   escape: cancel" if what[0] == "param" else "enter: call   escape: cancel"
        )
        self.query_one("#edit-label", Label).update(f"{label}   ({hint})")
        edit = self.query_one("#edit-input", Input)
        edit.value = value
        edit.placeholder = doc or "e.g. 1, 2.5, inverse=True"
        edit.cursor_position = len(value)
        edit.focus()

    def _close_editor(self) -> None:
        what = self._editing
        self._editing = None
        self.query_one("#device-edit").display = False
        target = "#functions-table" if what and what[0] == "func" else "#params-table"
        self.query_one(target).focus()

    @on(Input.Submitted, "#edit-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._editing is None:
            return
        kind, name = self._editing
        client = rtoc_app(self).client
        if kind == "param":
            value = parse_value(event.value, self._params.get(name))

            def param_done(new: Any) -> None:
                self._show_result(f"{self.device}.{name} = {_short(new)}")
                self._close_editor()
                self._refresh_after_change()

            client_call(
                self,
                lambda: client.set_parameter(self.device, name, value),
                group="device",
                done=param_done,
                failed=lambda text: self._show_result(text, error=True),
            )
            return
        try:
            args, kwargs = parse_arguments(event.value)
        except ValueError as exc:
            self._show_result(str(exc), error=True)
            return

        def call_done(result: Any) -> None:
            self._show_result(f"{self.device}.{name}({event.value}) → {_short(result, 200)}")
            self._close_editor()
            self._refresh_after_change()

        client_call(
            self,
            lambda: client.call_function(self.device, name, args, kwargs),
            group="device",
            done=call_done,
            failed=lambda text: self._show_result(text, error=True),
        )

    def _refresh_after_change(self) -> None:
        self._refresh_values()
        rtoc_app(self).refresh_now()

    # -- actions ----------------------------------------------------------------------------
    def action_back(self) -> None:
        if self._editing is not None:
            self._close_editor()
            return
        self.dismiss(None)

    def action_reload(self) -> None:
        self.reload()

    def action_toggle(self) -> None:
        state = self._state_of()[0]
        client = rtoc_app(self).client
        start = not is_active(state)

        def done(_info: object) -> None:
            if not start:
                self.detail = None
                self._show_detail(None)
            rtoc_app(self).refresh_now()

        client_call(
            self,
            (lambda: client.start_device(self.device))
            if start
            else (lambda: client.stop_device(self.device)),
            group="device",
            done=done,
            success=f"{self.device} {'started' if start else 'stopped'}",
        )


def _edit_text(value: Any) -> str:
    """The text shown for editing a value (strings without quotes)."""
    if isinstance(value, str):
        return value
    return repr(value)
