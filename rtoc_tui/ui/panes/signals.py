"""The signals pane: Device > Signal tree with latest value, count and inactivity mark.

Space or enter toggles a signal (or a whole device) in and out of the plot; c clears, delete
deletes, e exports, i shows statistics of the visible window. Typing a character that is not
a key of its own (or /) starts the filter.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input, Tree
from textual.widgets.tree import TreeNode

from ...api import SignalInfo
from ..format import fmt_count, fmt_value
from ..state import LoggerState, color_of, rich_color
from ..widgets.filter_keys import FilterKeys
from ..work import client_call, rtoc_app
from .base import Pane

DEVICE_PREFIX = "device:"
LABELS_HZ = 2.0  # how often the latest values in the tree are redrawn


class SignalTree(FilterKeys, Tree[str]):
    """The tree; printable keys that are no binding start the pane's filter (FilterKeys)."""

    FILTER_BOX_ID = "signals-filter"
    FILTER_ON_PRINTABLE = True

    BINDINGS: ClassVar[list[Any]] = [
        Binding("space", "toggle_plot", "Plot", id="signals.toggle", key_display="space"),
        Binding("enter", "toggle_plot", "Plot on/off", id="signals.toggle_enter", show=False),
        Binding("right", "expand", "Expand", show=False),
        Binding("left", "collapse", "Collapse", show=False),
    ]

    class ToggleRequested(Message):
        """Toggle the node under the cursor in or out of the plot."""

        def __init__(self, data: str | None) -> None:
            super().__init__()
            self.data = data

    def action_toggle_plot(self) -> None:
        node = self.cursor_node
        if node is not None:
            self.post_message(self.ToggleRequested(node.data))

    def action_expand(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand:
            node.expand()

    def action_collapse(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)


class SignalsPane(Pane):
    """Signals by device (RTOC's signal widget)."""

    ALLOW_MAXIMIZE = True

    BINDINGS: ClassVar[list[Any]] = [
        Binding("slash", "filter", "Filter", id="signals.filter", key_display="/"),
        Binding("a", "toggle_all", "All on/off", id="signals.all", show=False),
        Binding("c", "clear", "Clear", id="signals.clear", show=False),
        Binding("delete", "delete", "Delete", id="signals.delete", key_display="del", show=False),
        Binding("e", "export", "Export", id="signals.export"),
        Binding("i", "stats", "Stats", id="signals.stats"),
        Binding("escape", "end_filter", "Close filter", id="signals.end_filter", show=False),
    ]

    class PlotSelectionChanged(Message):
        """The set of plotted signals changed."""

        def __init__(self, plotted: frozenset[str]) -> None:
            super().__init__()
            self.plotted = plotted

    class StatsRequested(Message):
        """Show statistics of a signal over the plot's visible window."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class ExportRequested(Message):
        """Export signals (the screen asks where and for which range)."""

        def __init__(self, names: list[str]) -> None:
            super().__init__()
            self.names = names

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.signals: dict[str, SignalInfo] = {}
        self.hidden: set[str] = set()  # signals the user took out of the plot
        self.text_filter = ""
        self.inactivity_s = 2.0
        self._structure: tuple[Any, ...] = ()
        self._leaves: dict[str, TreeNode[str]] = {}
        self._labels: dict[str, Text] = {}
        self._plotted: frozenset[str] = frozenset()
        self._labels_at = 0.0

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="type to filter signals", id="signals-filter", select_on_focus=False
        )
        tree = SignalTree("signals", id="signals-tree")
        tree.show_root = False
        tree.guide_depth = 2
        yield tree

    def on_mount(self) -> None:
        self.border_title = "Signals"
        self.query_one("#signals-filter").display = False

    # -- data -------------------------------------------------------------------------------
    @property
    def plotted(self) -> frozenset[str]:
        """Signals shown in the plot (all but those the user hid)."""
        return self._plotted

    def apply_state(self, state: LoggerState, new_events: object = None) -> None:
        """Show the newest signal list (labels updated in place, tree rebuilt when needed)."""
        self.signals = state.signals
        self._sync()

    def _visible_names(self) -> list[str]:
        needle = self.text_filter.lower()
        names = sorted(self.signals, key=lambda n: (self.signals[n].dname, self.signals[n].sname))
        return [n for n in names if needle in n.lower()] if needle else names

    def _sync(self, force: bool = False) -> None:
        names = self._visible_names()
        structure = (tuple(names), self.text_filter)
        rebuilt = structure != self._structure
        if rebuilt:
            self._rebuild(names)
            self._structure = structure
        self._update_labels(force or rebuilt)
        plotted = frozenset(n for n in self.signals if n not in self.hidden)
        if plotted != self._plotted:
            self._plotted = plotted
            self.post_message(self.PlotSelectionChanged(plotted))
        shown = len(self._leaves)
        filt = f' "{self.text_filter}"' if self.text_filter else ""
        self.set_subtitle(f"{len(plotted)} plotted / {shown}{filt}")

    def _update_labels(self, force: bool) -> None:
        # Values change with every poll; a Tree redraws all rows when labels change (~0.5 ms
        # a row), so labels follow at most LABELS_HZ unless something else changed.
        now_m = time.monotonic()
        if not force and now_m - self._labels_at < 1.0 / LABELS_HZ:
            return
        self._labels_at = now_m
        now = rtoc_app(self).clock()
        for name, node in self._leaves.items():
            info = self.signals.get(name)
            if info is None:
                continue
            label = self._label(info, now)
            if label != self._labels.get(name):
                self._labels[name] = label
                node.set_label(label)

    def _rebuild(self, names: list[str]) -> None:
        tree = self.query_one(SignalTree)
        cursor = tree.cursor_node.data if tree.cursor_node is not None else None
        collapsed = {
            str(n.data)[len(DEVICE_PREFIX) :]
            for n in tree.root.children
            if n.data and not n.is_expanded
        }
        tree.clear()
        self._leaves = {}
        self._labels = {}
        devices: dict[str, TreeNode[str]] = {}
        for name in names:
            info = self.signals[name]
            dev = devices.get(info.dname)
            if dev is None:
                dev = tree.root.add(
                    Text(info.dname, style="bold"),
                    data=DEVICE_PREFIX + info.dname,
                    expand=info.dname not in collapsed,
                )
                devices[info.dname] = dev
            self._leaves[name] = dev.add_leaf(info.sname, data=name)
        if cursor is not None:
            for node in [*devices.values(), *self._leaves.values()]:
                if node.data == cursor:
                    tree.move_cursor(node)
                    break

    def _label(self, info: SignalInfo, now: float) -> Text:
        plotted = info.name not in self.hidden
        color = rich_color(color_of(info.id))
        idle = info.updated > 0 and now - info.updated > self.inactivity_s
        latest = fmt_value(info.latest[1], info.unit) if info.latest else "-"
        return Text.assemble(
            ("■ " if plotted else "□ ", color if plotted else "dim"),
            (info.sname, "dim" if idle else ""),
            " ",
            (latest, "bold" if not idle else "dim"),
            " ",
            (f"n={fmt_count(info.count)}", "dim"),
            (" idle" if idle else "", "italic dim yellow"),
        )

    # -- selection --------------------------------------------------------------------------
    def selected_names(self) -> list[str]:
        """Signals under the cursor: one signal, or all shown signals of a device node."""
        node = self.query_one(SignalTree).cursor_node
        if node is None or node.data is None:
            return []
        if node.data.startswith(DEVICE_PREFIX):
            return [str(c.data) for c in node.children if c.data]
        return [node.data]

    def select(self, name: str) -> bool:
        """Move the cursor to a signal (clearing a filter that hides it)."""
        if name not in self._leaves and self.text_filter:
            self.query_one("#signals-filter", Input).value = ""
            self.text_filter = ""
            self._sync()
        node = self._leaves.get(name)
        if node is None:
            return False
        tree = self.query_one(SignalTree)
        tree.move_cursor(node)
        return True

    def set_plotted(self, names: list[str], on: bool) -> None:
        """Put signals in or out of the plot."""
        if on:
            self.hidden.difference_update(names)
        else:
            self.hidden.update(names)
        self._sync(force=True)

    def toggle(self, names: list[str]) -> None:
        """Toggle signals; for several, all go in unless all are in already."""
        if not names:
            return
        all_on = all(n not in self.hidden for n in names)
        self.set_plotted(names, not all_on)

    @on(SignalTree.ToggleRequested)
    def _toggle_requested(self, event: SignalTree.ToggleRequested) -> None:
        event.stop()
        self.toggle(self.selected_names())

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()  # a click selects; toggling is space/enter

    # -- filter -----------------------------------------------------------------------------
    def action_filter(self) -> None:
        tree = self.query_one(SignalTree)
        tree.start_typing()
        tree.focus()

    @on(FilterKeys.FilterAccepted)
    def _filter_accepted(self, event: FilterKeys.FilterAccepted) -> None:
        event.stop()
        if self._leaves:
            self.query_one(SignalTree).move_cursor(next(iter(self._leaves.values())))

    def action_end_filter(self) -> None:
        box = self.query_one("#signals-filter", Input)
        if box.has_focus and box.value:
            box.value = ""
        else:
            box.display = bool(box.value)
        self.query_one(SignalTree).focus()

    @on(Input.Changed, "#signals-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.text_filter = event.value.strip()
        self._sync()

    @on(Input.Submitted, "#signals-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        tree = self.query_one(SignalTree)
        if self._leaves:
            tree.move_cursor(next(iter(self._leaves.values())))
        tree.focus()

    # -- actions ----------------------------------------------------------------------------
    def action_toggle_all(self) -> None:
        names = [n for n in self._visible_names()]
        self.toggle(names)

    def action_clear(self) -> None:
        names = self.selected_names()
        if names:
            self.clear_signals(names)

    def clear_signals(self, names: list[str], confirm: bool = True) -> None:
        """Drop the samples of signals (they stay listed), after a confirmation."""
        question = f"Clear every sample of {self._what(names)} (memory and store)?"
        client = rtoc_app(self).client
        self._confirmed(
            question if confirm else None,
            "Clear",
            "cleared",
            names,
            lambda: client.clear_signals(names),
        )

    def action_delete(self) -> None:
        names = self.selected_names()
        if names:
            self.delete_signals(names)

    def delete_signals(self, names: list[str], confirm: bool = True) -> None:
        """Delete signals (after a confirmation)."""
        question = f"Delete {self._what(names)}?"
        client = rtoc_app(self).client
        self._confirmed(
            question if confirm else None,
            "Delete",
            "deleted",
            names,
            lambda: client.delete_signals(names),
        )

    def _confirmed(
        self,
        question: str | None,
        verb: str,
        done_word: str,
        names: list[str],
        call: Callable[[], Awaitable[Any]],
    ) -> None:
        """Ask question (None: don't ask), then run the client call and refresh."""
        from ..screens.dialogs import ConfirmDialog

        def go(ok: bool | None) -> None:
            if ok:
                client_call(
                    self,
                    call,
                    group="signals",
                    done=lambda _r: rtoc_app(self).refresh_now(),
                    success=f"{done_word} {self._what(names)}",
                )

        if question is None:
            go(True)
        else:
            self.app.push_screen(ConfirmDialog(question, verb), go)

    def action_export(self) -> None:
        names = self.selected_names()
        if names:
            self.post_message(self.ExportRequested(names))

    def action_stats(self) -> None:
        names = self.selected_names()
        if len(names) == 1:
            self.post_message(self.StatsRequested(names[0]))
        elif names:
            self.app.notify("statistics: select one signal", severity="warning")

    @staticmethod
    def _what(names: list[str]) -> str:
        return names[0] if len(names) == 1 else f"{len(names)} signals"


def default_export_path(names: list[str], remote: bool, fmt: str = "csv") -> str:
    """A file name for an export: in the current directory, or bare when the logger is remote
    (the logger writes the file on its own machine)."""
    stem = names[0] if len(names) == 1 else "signals"
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in stem)
    name = f"{safe}.{fmt}"
    return name if remote else os.path.join(os.getcwd(), name)
