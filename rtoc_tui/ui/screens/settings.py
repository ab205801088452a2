"""The settings screen: the config.json values a user changes most, saved through the client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Label, Select, Static, Switch

from ...api import ConfigValue, EventInfo
from ...config.schema import SECRET_MASK, is_secret
from ..state import LoggerState, tui_settings
from ..widgets.footer import FittingFooter
from ..work import client_call, rtoc_app
from .base import RtocScreen


@dataclass(frozen=True)
class Field:
    """One setting on the screen."""

    key: str
    label: str
    kind: str  # int | float | bool | str | theme (secrets: config.schema.is_secret)
    note: str = ""


FIELDS: tuple[Field, ...] = (
    Field("global.recordLength", "Samples kept per signal", "int"),
    Field("tcp.active", "TCP server", "bool", "applies when the logger starts"),
    Field("tcp.port", "TCP port", "int", "applies when the logger starts"),
    Field("tcp.password", "TCP password", "str", "empty: no encryption"),
    Field("postgresql.active", "Store in PostgreSQL", "bool", "else SQLite; at the next start"),
    Field("tui.plot_hz", "Plot rate (Hz)", "float"),
    Field("tui.refresh_hz", "Data refresh rate (Hz)", "float"),
    Field("tui.signalInactivityTimeout", "Signal inactive after (s)", "float"),
    Field("tui.xTimeBase", "Time axis relative to now", "bool"),
    Field("tui.theme", "Theme", "theme"),
)


def _wid(key: str) -> str:
    return "set-" + key.replace(".", "-")


class SettingsScreen(RtocScreen):
    """Edit settings; ctrl+s saves to config.json through the logger."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("ctrl+s", "save", "Save", id="settings.save"),
        Binding("escape", "back", "Back", id="settings.back"),
        Binding("ctrl+r", "reload", "Reload", id="settings.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, ConfigValue] = {}

    def compose(self) -> ComposeResult:
        yield Label("Settings (ctrl+s saves to the logger's config.json)", id="settings-title")
        with VerticalScroll(id="settings-form"):
            for f in FIELDS:
                with Horizontal(classes="setting-row"):
                    yield Label(f.label, classes="setting-label")
                    yield self._editor(f)
                    yield Static("", id=_wid(f.key) + "-doc", classes="setting-doc")
        yield Label("", id="settings-error", classes="error-text")
        yield FittingFooter()

    def _editor(self, f: Field) -> Any:
        wid = _wid(f.key)
        if f.kind == "bool":
            return Switch(id=wid)
        if f.kind == "theme":
            themes = sorted(self.app.available_themes)
            return Select([(t, t) for t in themes], id=wid, allow_blank=False, value=self.app.theme)
        types = {"int": "integer", "float": "number"}
        return Input(
            id=wid,
            type=types.get(f.kind, "text"),
            password=is_secret(f.key),
            classes="setting-input",
        )

    def on_mount(self) -> None:
        self.reload()

    def apply_state(self, state: LoggerState, new_events: list[EventInfo]) -> None:
        """Settings do not follow live data."""

    def reload(self) -> None:
        """Read the current values from the logger."""
        client = rtoc_app(self).client
        client_call(self, client.config, group="settings-load", done=self._show, skip_if_busy=True)

    def _show(self, values: list[ConfigValue]) -> None:
        self.values = {v.key: v for v in values}
        for f in FIELDS:
            v = self.values.get(f.key)
            if v is None:
                continue
            widget = self.query_one("#" + _wid(f.key))
            if isinstance(widget, Switch):
                widget.value = bool(v.value)
            elif isinstance(widget, Select):
                if v.value in self.app.available_themes:
                    widget.value = v.value
            elif isinstance(widget, Input):
                widget.value = "" if v.value is None else str(v.value)
            note = f" {f.note}" if f.note else ""
            self.query_one("#" + _wid(f.key) + "-doc", Static).update(f"{v.doc} [{v.source}]{note}")

    def updates(self) -> tuple[dict[str, Any], list[str]]:
        """Changed values (typed) and the problems found."""
        out: dict[str, Any] = {}
        errors: list[str] = []
        for f in FIELDS:
            old = self.values.get(f.key)
            widget = self.query_one("#" + _wid(f.key))
            value: Any
            if isinstance(widget, Switch):
                value = widget.value
            elif isinstance(widget, Select):
                value = widget.value
            else:
                text = widget.value.strip() if isinstance(widget, Input) else ""
                try:
                    if f.kind == "int":
                        value = int(text)
                    elif f.kind == "float":
                        value = float(text)
                    else:
                        value = text
                except ValueError:
                    errors.append(f"{f.label}: {text!r} is not a number")
                    continue
                if f.kind in ("int", "float") and value <= 0:
                    errors.append(f"{f.label}: must be above 0")
                    continue
            if is_secret(f.key) and value == SECRET_MASK:
                continue
            if old is None or old.value != value:
                out[f.key] = value
        return out, errors

    def action_save(self) -> None:
        updates, errors = self.updates()
        error_label = self.query_one("#settings-error", Label)
        if errors:
            error_label.update("; ".join(errors))
            return
        if not updates:
            error_label.update("nothing changed")
            return
        client = rtoc_app(self).client

        def done(values: list[ConfigValue]) -> None:
            error_label.update("")
            self._show(values)
            if any(k.startswith("tui.") for k in updates):
                app = rtoc_app(self)
                app.update_tui_settings(tui_settings({v.key: v.value for v in values}))
            self.app.notify(f"saved: {', '.join(sorted(updates))}", title="settings")

        client_call(
            self,
            lambda: client.set_config(updates),
            group="settings",
            done=done,
            failed=lambda text: error_label.update(text),
        )

    @on(Select.Changed)
    def _theme_preview(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value in self.app.available_themes:
            self.app.theme = event.value

    def action_reload(self) -> None:
        self.reload()

    def action_back(self) -> None:
        self.app.pop_screen()
