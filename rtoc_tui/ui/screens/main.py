"""The main screen: devices and signals on the left, plot and events on the right."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical

from ...api import DeviceInfo, EventInfo, SignalStats
from ...config.schema import TuiSection
from ..format import fmt_clock, fmt_span, fmt_value
from ..panes.devices import DevicesPane
from ..panes.events import EventsPane
from ..panes.plot import PlotPane
from ..panes.signals import SignalsPane, default_export_path
from ..state import LoggerState
from ..widgets.footer import FittingFooter
from ..widgets.status import StatusBar
from ..work import client_call, rtoc_app
from .base import RtocScreen
from .dialogs import ConfirmDialog, ExportChoice, ExportDialog, InfoDialog, PromptDialog


class MainScreen(RtocScreen):
    """Devices, signals, plot and events at once (RTOC's main window)."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("D", "focus_pane('devices')", "Devices", id="focus.devices", show=False),
        Binding("S", "focus_pane('signals')", "Signals", id="focus.signals", show=False),
        Binding("P", "focus_pane('plot')", "Plot", id="focus.plot", show=False),
        Binding("V", "focus_pane('events')", "Events", id="focus.events", show=False),
        Binding("M", "toggle_maximize", "Maximize", id="maximize", show=False),
        Binding("p", "plot('pause')", "Pause", id="plot.pause"),
        Binding("w", "plot('window(1)')", "Window", id="plot.window_next"),
        Binding("W", "plot('window(-1)')", "Window back", id="plot.window_prev", show=False),
        Binding("plus,equals_sign", "plot('zoom(0.5)')", "Zoom in", id="plot.zoom_in", show=False),
        Binding("minus", "plot('zoom(2.0)')", "Zoom out", id="plot.zoom_out", show=False),
        Binding("less_than_sign,comma", "plot('pan(-0.25)')", "Pan back", id="plot.back", show=False),
        Binding("greater_than_sign,full_stop", "plot('pan(0.25)')", "Pan forward", id="plot.fwd", show=False),
        Binding("t", "plot('time_axis')", "Time axis", id="plot.time_axis", show=False),
        Binding("k", "plot('cursor')", "Cursor", id="plot.cursor"),
        Binding("left_square_bracket", "plot('move_cursor(-0.025)')", "Cursor ←", id="plot.cursor_left", show=False),
        Binding("right_square_bracket", "plot('move_cursor(0.025)')", "Cursor →", id="plot.cursor_right", show=False),
        Binding("left_curly_bracket", "plot('move_cursor(-0.1)')", "Cursor ⇐", id="plot.cursor_left_fast", show=False),
        Binding("right_curly_bracket", "plot('move_cursor(0.1)')", "Cursor ⇒", id="plot.cursor_right_fast", show=False),
        Binding("m", "plot('toggle_events')", "Event marks", id="plot.events", show=False),
        Binding("l", "plot('toggle_legend')", "Legend", id="plot.legend", show=False),
    ]  # fmt: skip

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        with Horizontal(id="main-body"):
            with Vertical(id="sidebar"):
                yield DevicesPane(id="devices")
                yield SignalsPane(id="signals")
            with Vertical(id="content"):
                yield PlotPane(id="plot")
                yield EventsPane(id="events")
        yield FittingFooter()

    def on_mount(self) -> None:
        app = rtoc_app(self)
        self.apply_tui_settings(app.tui)
        self.query_one("#signals-tree").focus()
        self.apply_state(app.state, [])

    # -- state ------------------------------------------------------------------------------
    def apply_tui_settings(self, tui: TuiSection) -> None:
        """Settings that change how panes show things."""
        self.query_one(SignalsPane).inactivity_s = float(tui.signalInactivityTimeout)
        self.query_one(PlotPane).apply_tui_settings(tui)

    def apply_state(self, state: LoggerState, new_events: list[EventInfo]) -> None:
        """The poller's newest state, handed to every pane."""
        app = rtoc_app(self)
        info = app.client.info
        self.query_one(StatusBar).show(
            app.host_label(),
            info.remote,
            state.connected,
            state.status,
            state.error,
            web=str(info.extra.get("web", "")),
        )
        self.set_class(not state.connected, "-offline")
        self.query_one(DevicesPane).apply_state(state)
        self.query_one(SignalsPane).apply_state(state)
        self.query_one(PlotPane).apply_state(state, new_events)
        self.query_one(EventsPane).apply_state(state, new_events)

    # -- keys -------------------------------------------------------------------------------
    def action_focus_pane(self, pane: str) -> None:
        targets = {
            "devices": "#devices-table",
            "signals": "#signals-tree",
            "plot": "#plot",
            "events": "#events-table",
        }
        self.query_one(targets[pane]).focus()

    def action_toggle_maximize(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        focused = self.focused
        if focused is not None:
            for node in [focused, *focused.ancestors]:
                if isinstance(node, (DevicesPane, SignalsPane, PlotPane, EventsPane)):
                    self.maximize(node, container=False)
                    return

    async def action_plot(self, action: str) -> None:
        await self.query_one(PlotPane).run_action(action)

    def plot_action(self, action: str) -> None:
        """Run a plot action soon (from a synchronous caller such as the command palette)."""
        self.call_later(self.query_one(PlotPane).run_action, action)

    # -- requests from the panes ------------------------------------------------------------
    @on(SignalsPane.PlotSelectionChanged)
    def _plotted(self, event: SignalsPane.PlotSelectionChanged) -> None:
        self.query_one(PlotPane).set_plotted(event.plotted)

    @on(SignalsPane.StatsRequested)
    def _stats(self, event: SignalsPane.StatsRequested) -> None:
        self.show_stats(event.name)

    @on(SignalsPane.ExportRequested)
    def _export(self, event: SignalsPane.ExportRequested) -> None:
        self.export_signals(event.names)

    @on(DevicesPane.OpenRequested)
    def _open_device(self, event: DevicesPane.OpenRequested) -> None:
        self.open_device(event.name)

    @on(DevicesPane.SamplerateRequested)
    def _samplerate(self, event: DevicesPane.SamplerateRequested) -> None:
        self.ask_samplerate(event.device)

    @on(EventsPane.ClearRequested)
    def _clear_events(self) -> None:
        self.clear_events()

    # -- operations (also used by the command palette) ---------------------------------------
    def show_stats(self, name: str) -> None:
        """Statistics of a signal over the visible plot window."""
        xmin, xmax = self.query_one(PlotPane).visible_range()
        client = rtoc_app(self).client

        def done(st: SignalStats | None) -> None:
            self.app.push_screen(InfoDialog(f"Statistics of {name}", stats_table(name, st)))

        client_call(self, lambda: client.stats(name, xmin, xmax), group="stats", done=done)

    def export_signals(self, names: list[str]) -> None:
        """Ask where and how, then let the logger write the file."""
        app = rtoc_app(self)
        remote = app.client.info.remote
        xmin, xmax = self.query_one(PlotPane).visible_range()

        def go(choice: ExportChoice | None) -> None:
            if choice is None:
                return
            lo, hi = (xmin, xmax) if choice.visible_only else (None, None)
            client_call(
                self,
                lambda: app.client.export(choice.path, names, lo, hi, choice.fmt),
                group="export",
                done=lambda path: self.app.notify(f"exported to {path}", title="export"),
            )

        self.app.push_screen(ExportDialog(names, default_export_path(names, remote), remote), go)

    def open_device(self, name: str) -> None:
        """The device's parameters and functions."""
        from .device import DeviceScreen

        self.app.push_screen(DeviceScreen(name))

    def ask_samplerate(self, device: DeviceInfo) -> None:
        """Prompt for a new samplerate and set it."""
        client = rtoc_app(self).client

        def check(text: str) -> str | None:
            try:
                value = float(text)
            except ValueError:
                return "a number in Hz, e.g. 10 or 0.5"
            return None if value > 0 else "the samplerate must be above 0"

        def go(text: str | None) -> None:
            if text is None:
                return
            rate = float(text)
            client_call(
                self,
                lambda: client.set_parameter(device.name, "samplerate", rate),
                group="devices",
                done=lambda v: (
                    self.app.notify(f"{device.name}: samplerate {fmt_value(v, 'Hz')}"),
                    rtoc_app(self).refresh_now(),
                ),
            )

        current = "" if device.samplerate is None else f"{device.samplerate:g}"
        self.app.push_screen(
            PromptDialog(f"Samplerate of {device.name} (Hz)", current, check=check), go
        )

    def clear_events(self) -> None:
        """Clear the logger's event list (after a confirmation)."""
        app = rtoc_app(self)

        def cleared(_r: object) -> None:
            app.state.events.clear()
            self.query_one(EventsPane).clear_local()
            self.query_one(PlotPane).apply_state(app.state, [])

        def go(ok: bool | None) -> None:
            if ok:
                client_call(
                    self,
                    app.client.clear_events,
                    group="events",
                    done=cleared,
                    success="events cleared",
                )

        self.app.push_screen(ConfirmDialog("Clear all events?", "Clear"), go)

    def toggle_signal(self, name: str) -> None:
        """Put a signal in or out of the plot."""
        self.query_one(SignalsPane).toggle([name])

    def focus_signal(self, name: str) -> None:
        """Move the signals cursor to a signal."""
        pane = self.query_one(SignalsPane)
        if pane.select(name):
            self.query_one("#signals-tree").focus()

    def toggle_device(self, name: str, start: bool | None = None) -> None:
        """Start or stop a device."""
        self.query_one(DevicesPane).toggle_device(name, start)


def stats_table(name: str, st: SignalStats | None) -> Table | str:
    """Statistics as a small table."""
    if st is None:
        return f"{name}: no samples in the visible window"
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("samples", f"{st.count:,}"),
        ("min", fmt_value(st.min)),
        ("max", fmt_value(st.max)),
        ("mean", fmt_value(st.mean)),
        ("integral", fmt_value(st.integral) + " (unit x s)"),
        ("from", fmt_clock(st.xmin, with_date=True)),
        ("to", fmt_clock(st.xmax, with_date=True)),
        ("span", fmt_span(st.xmax - st.xmin)),
    ]
    for k, v in rows:
        table.add_row(k, v)
    return table
