"""The help screen: panes and every key, generated from the bindings."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

INTRO = (
    "rtoc shows a logger's devices, signals, live plot and events. Every action has a key; "
    "the command palette (ctrl+p) finds devices, signals and actions by name. Keys of the "
    "focused pane win over the screen's; uppercase letters move between panes and screens."
)

PANES = (
    ("Devices", "drivers and their state; start/stop, samplerate, enter for parameters and functions"),
    ("Signals", "Device > Signal with latest value, sample count, 'idle' when no data arrives"),
    ("Plot", "one plot per unit; time window, zoom, pan, pause, cursor read-out, event marks"),
    ("Events", "newest first; filter by text (/) and priority (0 1 2)"),
)  # fmt: skip


def _key_name(binding: Binding) -> str:
    if binding.key_display:
        return binding.key_display
    names = {
        "question_mark": "?",
        "slash": "/",
        "plus": "+",
        "minus": "-",
        "equals_sign": "=",
        "less_than_sign": "<",
        "greater_than_sign": ">",
        "comma": ",",
        "full_stop": ".",
        "left_square_bracket": "[",
        "right_square_bracket": "]",
        "left_curly_bracket": "{",
        "right_curly_bracket": "}",
        "delete": "del",
    }
    return " ".join(names.get(k.strip(), k.strip()) for k in binding.key.split(","))


def key_table(title: str, bindings: list[Any]) -> Table:
    """A table of keys and what they do."""
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    seen: set[str] = set()
    for b in bindings:
        if not isinstance(b, Binding) or not b.description or b.description in seen:
            continue
        seen.add(b.description)
        keys = ", ".join(_key_name(x) for x in [b]) if b.key else ""
        table.add_row(keys, b.description)
    return table


class HelpScreen(ModalScreen[None]):
    """Keys and panes."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape,q,question_mark,f1", "close", "Close", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        from ..app import RtocApp
        from ..panes.devices import DevicesPane
        from ..panes.events import EventsPane
        from ..panes.plot import PlotPane
        from ..panes.signals import SignalsPane, SignalTree
        from .automation import AutomationScreen
        from .device import DeviceScreen
        from .main import MainScreen
        from .scripts import ScriptScreen
        from .settings import SettingsScreen

        with VerticalScroll(id="help-body"):
            yield Static(Text("rtoc keys", style="bold"), classes="help-title")
            yield Static(INTRO, classes="help-text")
            panes = Table(show_header=False, box=None, padding=(0, 2))
            panes.add_column(style="bold")
            panes.add_column()
            for name, text in PANES:
                panes.add_row(name, text)
            yield Static(panes)
            groups = [
                ("Everywhere", RtocApp.BINDINGS + [Binding("ctrl+p", "", "Command palette")]),
                ("Main screen", MainScreen.BINDINGS + PlotPane.BINDINGS),
                ("Devices pane", DevicesPane.BINDINGS),
                ("Signals pane", SignalTree.BINDINGS + SignalsPane.BINDINGS),
                ("Events pane", EventsPane.BINDINGS),
                ("Device screen", DeviceScreen.BINDINGS),
                ("Script editor", ScriptScreen.BINDINGS),
                ("Automation", AutomationScreen.BINDINGS),
                ("Settings", SettingsScreen.BINDINGS),
            ]
            for title, bindings in groups:
                yield Static(key_table(title, bindings), classes="help-keys")
            yield Static("escape: close", classes="dialog-help")

    def action_close(self) -> None:
        self.dismiss(None)
