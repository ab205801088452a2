"""The plot pane: live plots of the plotted signals, one plot per unit, stacked.

Data comes from `client.window(names, xmin, xmax, n_points)` with n_points ~ 2 x the plot
width, so the logger decimates (min/max per bucket) and a remote plot transfers only what is
drawn. While following live data only the new part of the window is fetched and appended to
a small per-signal cache (a few points per signal per frame instead of the whole window).
The pane redraws at most `tui.plot_hz` times a second, only when it is on screen, and only
when data arrived or the time axis moved by at least one column.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.timer import Timer

from ...api import ClientError, Disconnected, EventInfo, SignalInfo, SignalWindow
from ...config.schema import TuiSection
from ...decimate import grid_points
from ..format import fmt_clock, fmt_rel, fmt_span, fmt_value, time_ticks
from ..state import PRIORITY_COLORS, LoggerState, color_of, rich_color
from ..widgets.plot import FrameJob, PlotextPlot, PlotSpec, Trace, VLine, load_plotext, run_jobs
from ..work import base_screen_visible, describe_error, rtoc_app
from .base import Pane

log = logging.getLogger("rtoc.ui")

# Time window presets in seconds (None: everything in memory).
WINDOW_PRESETS: tuple[float | None, ...] = (10, 30, 60, 300, 900, 3600, 6 * 3600, 86400, None)
DEFAULT_SPAN_S = 60.0
CURSOR_RGB = (255, 255, 255)
XY_THRESHOLD = 1e8  # x values below this are not Unix times: an XY plot (RTOC plot())
ALL_REFRESH_S = 2.0  # "everything" is refetched whole, so not more often than this
MAX_EVENT_MARKS = 200
ACTIVE_S = 5.0  # a signal with data this recent is fetched on every plot tick
MIN_PLOT_ROWS = 9  # below this a stacked plot is unreadable: the pane scrolls instead


@dataclass
class Series:
    """The decimated points of one signal the plot holds (x absolute)."""

    x: np.ndarray
    y: np.ndarray
    epoch: int
    written: int
    fetched: int = 0  # which full fetch this series comes from (appends keep it)


def _compact(x: np.ndarray, y: np.ndarray, bucket: float) -> tuple[np.ndarray, np.ndarray]:
    """Keep at most a min and a max (in time order) per `bucket` of x, like a full fetch.

    Live appends bring a few points per tick, far more than one pair per column: without
    this a 1 min window grows to ~8 x the points a full fetch holds, and every frame pays for
    them. The newest, still filling bucket is left whole (its last point is the newest one).
    """
    if len(x) < 8 or not bucket > 0 or not np.isfinite(y).all():
        return x, y
    b = np.floor(x / bucket).astype(np.int64)
    n = int(np.searchsorted(b, b[-1], side="left"))  # points before the newest bucket
    if n < 3:
        return x, y
    if 2 * int(np.count_nonzero(b[1:n] != b[: n - 1]) + 1) >= n:
        return x, y  # already at most two points per bucket
    _, kx, ky = grid_points(x[:n], y[:n], bucket)
    return np.concatenate((kx, x[n:])), np.concatenate((ky, y[n:]))


def _is_xy(info: SignalInfo) -> bool:
    return info.latest is not None and info.latest[0] < XY_THRESHOLD


class PlotPane(Pane):
    """Live plots (RTOC's plot window) with time window, zoom, pan, pause and cursor."""

    ALLOW_MAXIMIZE = True
    can_focus = True

    BINDINGS: ClassVar[list[Any]] = [
        Binding("left", "pan(-0.25)", "Pan left", id="plot.pan_left", show=False),
        Binding("right", "pan(0.25)", "Pan right", id="plot.pan_right", show=False),
        Binding("end", "live", "Live", id="plot.live", show=False),
        Binding("home", "oldest", "Oldest", id="plot.oldest", show=False),
    ]

    class _FramesBuilt(Message):
        """Frames built in the worker thread, applied together."""

        def __init__(self, results: list[tuple[FrameJob, list[Any]]]) -> None:
            super().__init__()
            self.results = results

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._frames_building = False
        self._frames_due = False
        self.span: float | None = DEFAULT_SPAN_S
        self.paused = False
        self.anchor = 0.0  # right edge (absolute time) while paused or panned
        self._panned = False  # paused on another window than the live one
        self.relative = True
        self.cursor_rel: float | None = None  # cursor position relative to the right edge
        self.show_events = True
        self.legend = True
        self.grid = True
        self.plot_hz = 10.0
        self.plotted: frozenset[str] = frozenset()
        self.signals: dict[str, SignalInfo] = {}
        self.series: dict[str, Series] = {}
        self._marks: list[EventInfo] = []
        self._events_seen = -1
        self._events_version = 0
        self._timer: Timer | None = None
        self._fetching = False
        self._error = ""  # why the last fetch failed (shown in the subtitle)
        self._view_key: tuple[Any, ...] | None = None
        self._drawn_key: tuple[Any, ...] | None = None
        self._last_full = 0.0
        self._right = 0.0  # right edge of the frame drawn last
        self.fetches = 0  # window requests made (tests and the benchmark read them)
        self._full_fetches = 0
        self._fetched_slot = -1  # dot column of the last incremental fetch
        self._gen = 0  # bumped when the cached series are dropped (a fetch then is void)
        self.renders = 0

    def compose(self) -> ComposeResult:
        yield PlotextPlot(classes="plot")

    def on_mount(self) -> None:
        self.border_title = "Plot"
        # Import plotext (~0.2 s) while the app starts and waits for its first data, not
        # when the first frame is due.
        self.run_worker(
            load_plotext, thread=True, name="plotext-import", description="import plotext"
        )
        self._restart_timer()
        self._update_subtitle()

    # -- settings ---------------------------------------------------------------------------
    def apply_tui_settings(self, tui: TuiSection) -> None:
        """Rates and defaults from the tui settings."""
        self.relative = bool(tui.xTimeBase)
        self.show_events = bool(tui.showEvents)
        self.legend = bool(tui.plotLegendEnabled)
        self.grid = bool(tui.plotGridEnabled)
        if tui.plot_hz != self.plot_hz:
            self.plot_hz = tui.plot_hz
            if self.is_mounted:
                self._restart_timer()
        self.invalidate(refetch=False)

    def _restart_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        hz = max(0.2, float(self.plot_hz or 10.0))
        self._timer = self.set_interval(1.0 / hz, self.tick, name="plot")

    # -- inputs from the screen -------------------------------------------------------------
    def apply_state(self, state: LoggerState, new_events: list[EventInfo]) -> None:
        """New signal metadata (for units and change detection) and events (for markers)."""
        self.signals = state.signals
        if new_events or len(state.events) != self._events_seen:
            self._events_seen = len(state.events)
            self._marks = list(state.events)[-MAX_EVENT_MARKS * 5 :]
            self._events_version += 1

    def set_plotted(self, names: Iterable[str]) -> None:
        """The signals to plot."""
        plotted = frozenset(names)
        if plotted != self.plotted:
            self.plotted = plotted
            for name in list(self.series):
                if name not in plotted:
                    del self.series[name]
            self.tick()
            # At start the plots have no size yet: try again once laid out, not a tick later.
            self.call_after_refresh(self.tick)

    def invalidate(self, refetch: bool = True) -> None:
        """Redraw soon; with refetch, forget cached data and fetch the window again."""
        if refetch:
            self.series.clear()
            self._gen += 1
            self._view_key = None
        self._drawn_key = None
        self._update_subtitle()
        if self.is_mounted:
            self.tick()

    # -- view -------------------------------------------------------------------------------
    def now(self) -> float:
        return rtoc_app(self).clock()

    def right_edge(self) -> float:
        """Absolute time at the right edge of the plot."""
        return self.anchor if self.paused else self.now()

    def visible_range(self) -> tuple[float | None, float | None]:
        """The visible time window (absolute), for statistics and export."""
        right = self._right or self.right_edge()
        if self.span is None:
            return None, right
        return right - self.span, right

    def plot_width(self) -> int:
        widths = [p.content_region.width for p in self.query(PlotextPlot)]
        return max([w for w in widths if w > 0], default=0)

    def _n_points(self, width: int) -> int:
        # Two points (a bucket's min and max) per column: peaks survive, nothing is wasted.
        return max(16, 2 * width)

    def _on_screen(self) -> bool:
        return self.is_mounted and self.display and self.size.area > 0 and base_screen_visible(self)

    # -- the plot clock -------------------------------------------------------------------
    def tick(self) -> None:
        """Fetch and redraw if something changed (called at plot_hz, and after changes)."""
        if self._fetching or not self._on_screen():
            return
        if not rtoc_app(self).state.connected:
            return  # the poller reconnects; fetching now would only fail again
        width = self.plot_width()
        if width <= 0:
            return
        names = sorted(n for n in self.plotted if n in self.signals)
        right = self.right_edge()
        view_key = (self.span, width)
        if view_key != self._view_key:
            self.series.clear()  # a new window or width: fetch everything again
            self._gen += 1
            self._view_key = view_key
        for name in list(self.series):
            info = self.signals.get(name)
            if info is None or name not in self.plotted or info.epoch != self.series[name].epoch:
                del self.series[name]  # cleared or replaced since it was fetched
        missing = [n for n in names if n not in self.series]
        # New data: what the last poll reported, and, following live, whatever active
        # signals got since the last tick (the poll runs at refresh_hz, the plot at plot_hz).
        now = self.now()
        stale = [
            n
            for n in names
            if n in self.series
            and (
                self.series[n].written != self.signals[n].written
                or (
                    not _is_xy(self.signals[n])
                    # (a logger whose clock runs ahead of ours falls back to the poll)
                    and 0.0 <= now - self.signals[n].updated < ACTIVE_S
                )
            )
        ]
        if self.span is None and stale and not self.paused:
            if right - self._last_full >= ALL_REFRESH_S:
                missing, stale = names, []
            else:
                stale = []
        if self.paused:
            stale = []
        elif stale and self.span is not None:
            # New data is drawn once per braille dot column (see _render_key): fetching
            # more often would only fill the cache faster than anything shows it.
            slot = int(right // (self.span / max(1, 2 * width)))
            if slot == self._fetched_slot:
                stale = []
            else:
                self._fetched_slot = slot
        if missing or stale:
            self._fetching = True
            self.run_worker(
                self._fetch(missing, stale, right, width),
                group="plot",
                exit_on_error=False,
                name="plot-fetch",
            )
            return
        self._maybe_render(right, width)

    async def _fetch(self, missing: list[str], stale: list[str], right: float, width: int) -> None:
        client = rtoc_app(self).client
        # (a poll may have dropped a signal since the tick chose these names)
        signals = self.signals
        missing = [m for m in missing if m in signals]
        stale = [m for m in stale if m in signals]
        gen = self._gen
        try:
            n = self._n_points(width)
            time_names = [m for m in missing if not _is_xy(self.signals[m])]
            xy_names = [m for m in missing if _is_xy(self.signals[m])]
            results: dict[str, SignalWindow] = {}
            written = {name: self.signals[name].written for name in [*missing, *stale]}
            epochs = {name: self.signals[name].epoch for name in [*missing, *stale]}
            if time_names:
                xmin = None if self.span is None else right - self.span
                results.update(await client.window(time_names, xmin, right, n))
                self.fetches += 1
            if xy_names:
                results.update(await client.window(xy_names, None, None, n))
                self.fetches += 1
            if gen != self._gen:
                return  # the view changed while waiting: these windows are for the old one
            if missing:
                self._last_full = right
            for name in missing:
                w = results.get(name)
                self._full_fetches += 1
                self.series[name] = Series(
                    np.empty(0) if w is None else w.x,
                    np.empty(0) if w is None else w.y,
                    epochs[name],
                    written[name],
                    self._full_fetches,
                )
            if stale:
                await self._fetch_new(stale, right, n, written, epochs, gen)
        except (ClientError, Disconnected) as exc:
            self._error = describe_error(exc)
            self._update_subtitle()
            return
        except Exception as exc:  # a bug must not stop the plot for good: show it, go on
            log.exception("plot fetch failed")
            self.app.notify(describe_error(exc), title="plot", severity="error")
            return
        finally:
            self._fetching = False
        if self._error:
            self._error = ""
            self._update_subtitle()
        self._maybe_render(self.right_edge(), width)

    async def _fetch_new(
        self,
        names: list[str],
        right: float,
        n: int,
        written: dict[str, int],
        epochs: dict[str, int],
        gen: int,
    ) -> None:
        """Fetch only what is newer than each cached series and append it."""
        client = rtoc_app(self).client
        names = [m for m in names if m in self.series]
        if not names:
            return
        span = self.span or 0.0
        lasts = [self.series[m].x[-1] for m in names if len(self.series[m].x)]
        left = right - span if self.span is not None else -math.inf
        xmin = max(min(lasts), left) if lasts else left
        if not math.isfinite(xmin):
            xmin = None  # type: ignore[assignment]
        # As many points as the new part spans columns (x2), like the full window.
        frac = 1.0 if xmin is None or not span else max(0.0, right - xmin) / span
        n_new = max(8, int(math.ceil(frac * n)) + 4)
        results = await client.window(names, xmin, None, n_new)
        self.fetches += 1
        if gen != self._gen:
            return  # the view changed while waiting
        for name in names:
            old = self.series.get(name)
            w = results.get(name)
            if old is None or w is None:
                continue
            if epochs[name] != old.epoch:
                self.series.pop(name, None)
                continue
            last = old.x[-1] if len(old.x) else -math.inf
            keep = w.x > last
            x = np.concatenate((old.x, w.x[keep])) if keep.any() else old.x
            y = np.concatenate((old.y, w.y[keep])) if keep.any() else old.y
            if self.span is not None:
                cut = int(np.searchsorted(x, right - self.span * 1.05, side="left"))
                x, y = x[cut:], y[cut:]
                # One min/max pair per column (n is two points per column).
                x, y = _compact(x, y, 2.0 * self.span / n)
            self.series[name] = Series(x, y, old.epoch, written[name], old.fetched)

    # -- drawing ------------------------------------------------------------------------------
    def _render_key(self, right: float, width: int) -> tuple[Any, ...]:
        """What a frame depends on; equal keys mean the same picture.

        Live, the picture changes when the time axis or the newest sample moves into the next
        braille dot column (half a cell): a 1 min window on 190 columns moves a dot every
        160 ms, so drawing more often shows nothing new. New samples inside the newest dot
        column show up with the next dot column (at most one dot late).
        """
        span = self.span
        if span is None:  # everything: the window is as wide as the data
            firsts = [s.x[0] for s in self.series.values() if len(s.x)]
            span = (right - min(firsts)) if firsts else 0.0
        dot_s = span / max(1, 2 * width) if not self.paused else 0.0
        if self.paused:
            origin: tuple[Any, ...] = ("at", right)
        else:
            origin = ("live", int(right // dot_s) if dot_s > 0 else right)
        data = tuple(
            (n, s.fetched, int(s.x[-1] // dot_s))
            if dot_s > 0 and len(s.x)
            else (n, s.fetched, s.written, len(s.x))
            for n, s in sorted(self.series.items())
        )
        return (
            self._view_key,
            data,
            origin,
            self.relative,
            self.cursor_rel,
            self.show_events and self._events_version,
            self.legend,
            self.grid,
            self.size,
        )

    def _maybe_render(self, right: float, width: int) -> None:
        """Draw unless the frame would look the same (no new data, < one column of time)."""
        key = self._render_key(right, width)
        if key == self._drawn_key:
            return
        self._drawn_key = key
        self._right = right
        self.render_plots(right)

    def _groups(self) -> list[tuple[str, bool, list[str]]]:
        """(unit, is_xy, names) per plot: one plot per unit; XY data gets plots of its own."""
        groups: dict[tuple[bool, str], list[str]] = {}
        for name in sorted(self.plotted):
            info = self.signals.get(name)
            if info is None:
                continue
            groups.setdefault((_is_xy(info), info.unit), []).append(name)
        return [(unit, xy, names) for (xy, unit), names in sorted(groups.items())]

    def _ensure_plots(self, count: int) -> list[PlotextPlot]:
        plots = list(self.query(PlotextPlot))
        while len(plots) < count:
            plot = PlotextPlot(classes="plot")
            self.mount(plot)
            plots.append(plot)
        for extra in plots[count:]:
            extra.remove()
        plots = plots[:count]
        self._size_plots(plots)
        return plots

    def _size_plots(self, plots: list[PlotextPlot] | None = None) -> None:
        """Share the height between the plots; below MIN_PLOT_ROWS each, the pane scrolls."""
        plots = plots if plots is not None else list(self.query(PlotextPlot))
        if not plots:
            return
        avail = self.scrollable_content_region.height
        rows = max(MIN_PLOT_ROWS, avail // len(plots)) if avail > 0 else MIN_PLOT_ROWS
        for i, plot in enumerate(plots):
            # The last plot takes the remainder so the pane is filled exactly.
            h = rows if i < len(plots) - 1 or rows * len(plots) > avail else avail - rows * i
            if plot.styles.height is None or plot.styles.height.value != h:
                plot.styles.height = h

    def on_resize(self) -> None:
        self._size_plots()

    def render_plots(self, right: float) -> None:
        """Build one PlotSpec per unit from the cached series and hand them to the plots."""
        self.renders += 1
        groups = self._groups()
        plots = self._ensure_plots(max(1, len(groups)))
        if not groups:
            msg = (
                "no signals yet"
                if not self.signals
                else "no signal plotted: space in the signals pane puts one in"
            )
            plots[0].set_spec(PlotSpec(message=msg))
            self._update_subtitle()
            return
        for plot, (unit, xy, names) in zip(plots, groups, strict=True):
            spec = self._spec(unit, xy, names, right, max(1, plot.content_region.width))
            plot.set_spec(spec, build=False)
        self._update_subtitle()
        self._build_frames()

    def _build_frames(self) -> None:
        """Build the shown plots' frames in one thread job, so they reach the screen in one
        update (a compositor pass each costs as much as a plotext frame)."""
        if self._frames_building:
            self._frames_due = True
            return
        jobs = []
        visible = self._in_view()
        for plot in self.query(PlotextPlot):
            if plot not in visible:
                plot.refresh()  # scrolled away: it builds itself if it comes into view
                continue
            if plot.is_current():
                continue  # its frame is the wanted one: building it again changes nothing
            job = plot.begin_frame()
            if job is not None:
                jobs.append(job)
        if not jobs:
            return
        self._frames_building = True
        self._frames_due = False
        self.run_worker(
            partial(self._run_frames, jobs),
            thread=True,
            group="plot-frames",
            name="plot-frames",
            description="plot frames",  # not repr(jobs): that prints every array
            exit_on_error=False,
        )

    def _run_frames(self, jobs: list[FrameJob]) -> None:
        self.post_message(self._FramesBuilt(run_jobs(jobs)))

    def on_plot_pane__frames_built(self, message: PlotPane._FramesBuilt) -> None:
        message.stop()
        self._frames_building = False
        with self.app.batch_update():
            for job, lines in message.results:
                job.plot.finish_frame(job, lines)
        # Only plots in the pane's viewport count: Textual's is_on_screen is also true for a
        # plot scrolled out of the pane, which is never built, so it stayed "not current" and
        # this rebuilt the visible plots ~130 times a second (issue 13).
        if self._frames_due or any(not p.is_current() for p in self._in_view()):
            self._build_frames()

    def _in_view(self) -> list[PlotextPlot]:
        """The plots that show at least one row in the pane's viewport."""
        viewport = self.scrollable_content_region
        return [p for p in self.query(PlotextPlot) if p.region.intersection(viewport).area]

    def _spec(self, unit: str, xy: bool, names: list[str], right: float, width: int) -> PlotSpec:
        traces: list[Trace] = []
        if xy:
            lo, hi = math.inf, -math.inf
            for name in names:
                s = self.series.get(name)
                if s is not None and len(s.x):
                    lo, hi = min(lo, float(s.x.min())), max(hi, float(s.x.max()))
            if not math.isfinite(lo):
                lo, hi = 0.0, 1.0
            origin = 0.0
        else:
            origin = right
            hi = 0.0
            if self.span is not None:
                lo = -self.span
            else:
                firsts = [s.x[0] for n in names if len((s := self.series.get(n) or _EMPTY).x)]
                lo = (min(firsts) - right) if firsts else -DEFAULT_SPAN_S
                lo = min(lo, -1.0)
        ymin, ymax = math.inf, -math.inf
        for name in names:
            s = self.series.get(name)
            info = self.signals[name]
            if s is None or not len(s.x):
                continue
            x = s.x - origin
            i0 = int(np.searchsorted(x, lo, side="left")) if not xy else 0
            i1 = int(np.searchsorted(x, hi, side="right")) if not xy else len(x)
            # One point either side of the window keeps lines running to the edges.
            i0, i1 = max(0, i0 - 1), min(len(x), i1 + 1)
            xs, ys = x[i0:i1], s.y[i0:i1]
            if not len(xs):
                continue
            vis = ys[(xs >= lo) & (xs <= hi)] if not xy else ys
            vis = vis[np.isfinite(vis)]
            if len(vis):
                ymin, ymax = min(ymin, float(vis.min())), max(ymax, float(vis.max()))
            traces.append(Trace(info.sname, xs, ys, color_of(info.id)))
        if math.isfinite(ymin):
            pad = (ymax - ymin) * 0.08 or max(abs(ymax) * 0.1, 1.0)
            ylim: tuple[float, float] | None = (ymin - pad, ymax + pad)
        else:
            ylim = (0.0, 1.0)
        if xy:
            xticks = None
        else:
            xticks = time_ticks(lo, hi, origin, self.relative, width)
        vlines: list[VLine] = []
        if self.show_events and not xy:
            vlines.extend(self._event_lines(names, origin, lo, hi))
        cursor_x = None
        if self.cursor_rel is not None and not xy:
            cursor_x = self.cursor_rel if self.span is not None else max(lo, self.cursor_rel)
            vlines.append(VLine(cursor_x, CURSOR_RGB))
        footer = self._footer(unit, xy, names, origin, cursor_x)
        return PlotSpec(
            traces=tuple(traces),
            xlim=(lo, hi),
            xticks=xticks,
            ylim=ylim,
            vlines=tuple(vlines),
            grid=self.grid,
            footer=footer,
        )

    def _event_lines(self, names: list[str], origin: float, lo: float, hi: float) -> list[VLine]:
        wanted = set(names)
        devices = {self.signals[n].dname for n in names}
        out: list[VLine] = []
        for e in reversed(self._marks):
            x = e.x - origin
            if not lo <= x <= hi:
                continue
            if f"{e.dname}.{e.sname}" in wanted or (e.dname in devices and not e.sname):
                out.append(VLine(x, PRIORITY_COLORS.get(e.priority, PRIORITY_COLORS[0])))
                if len(out) >= MAX_EVENT_MARKS:
                    break
        return out

    def _footer(
        self, unit: str, xy: bool, names: list[str], origin: float, cursor_x: float | None
    ) -> tuple[Text, ...]:
        lines: list[Text] = []
        if self.legend:
            legend = Text()
            legend.append(f"[{unit or '-'}]{' XY' if xy else ''} ", style="bold")
            for name in names:
                info = self.signals[name]
                legend.append("■ ", style=rich_color(color_of(info.id)))
                legend.append(f"{name}  ")
            lines.append(legend)
        if cursor_x is not None:
            readout = Text()
            when = fmt_rel(cursor_x) if self.relative else fmt_clock(origin + cursor_x)
            readout.append(f"cursor {when}: ", style="bold")
            for name in names:
                s = self.series.get(name)
                info = self.signals[name]
                value = _value_at(s, origin + cursor_x)
                readout.append("■ ", style=rich_color(color_of(info.id)))
                readout.append(f"{info.sname}={fmt_value(value, info.unit)}  ")
            lines.append(readout)
        return tuple(lines)

    def cursor_values(self) -> dict[str, float | None]:
        """Each plotted signal's value at the cursor (None without cursor or data)."""
        if self.cursor_rel is None:
            return {}
        at = self._right + self.cursor_rel
        return {n: _value_at(self.series.get(n), at) for n in sorted(self.plotted)}

    def _update_subtitle(self) -> None:
        if not self.is_mounted:
            return
        window = "all" if self.span is None else fmt_span(self.span)
        mode = "PAUSED" if self.paused else "live"
        if self.paused and self.anchor:
            mode += f" @ {fmt_clock(self.anchor).split('.')[0]}"
        axis = "relative" if self.relative else "clock"
        cursor = "  cursor" if self.cursor_rel is not None else ""
        error = f"  ✖ {self._error}" if self._error else ""
        self.set_subtitle(f"{mode} · {window} · {axis}{cursor}{error}")

    # -- actions (the screen binds the keys) ------------------------------------------------
    def set_span(self, span: float | None) -> None:
        self.span = span
        if self.cursor_rel is not None and span is not None:
            self.cursor_rel = max(-span, self.cursor_rel)
        self.invalidate()

    def action_window(self, step: int) -> None:
        """Next (+1) or previous (-1) time window preset."""
        presets = list(WINDOW_PRESETS)
        if self.span in presets:
            i = presets.index(self.span)
        else:
            i = min(
                range(len(presets) - 1),
                key=lambda k: abs(math.log((presets[k] or 1.0) / (self.span or 1.0))),
            )
        self.set_span(presets[max(0, min(len(presets) - 1, i + step))])

    def action_zoom(self, factor: float) -> None:
        """Zoom the time window (factor < 1 zooms in)."""
        span = self.span
        if span is None:
            firsts = [s.x[0] for s in self.series.values() if len(s.x)]
            span = (self.right_edge() - min(firsts)) if firsts else DEFAULT_SPAN_S
        self.set_span(min(365 * 86400.0, max(0.05, span * factor)))

    def action_pan(self, fraction: float) -> None:
        """Move the window by a fraction of its width (left pauses; right to now resumes)."""
        span = self.span or DEFAULT_SPAN_S
        right = self.right_edge() + span * fraction
        now = self.now()
        if right >= now:
            self.action_live()
            return
        self.paused = True
        self._panned = True
        self.anchor = right
        self.invalidate()

    def action_live(self) -> None:
        """Follow live data again."""
        self.paused = False
        self.anchor = 0.0
        # After a plain pause the cached window is still the live one: only what arrived
        # meanwhile is fetched. After panning it is another window: fetch it all.
        self.invalidate(refetch=self._panned)
        self._panned = False

    def action_oldest(self) -> None:
        """Jump to the oldest data in memory."""
        firsts = [s.x[0] for s in self.series.values() if len(s.x)]
        if firsts and self.span is not None:
            self.paused = True
            self._panned = True
            self.anchor = min(firsts) + self.span
            self.invalidate()

    def action_pause(self) -> None:
        """Freeze the view (recording continues) or resume following."""
        if self.paused:
            self.action_live()
        else:
            self.paused = True
            self.anchor = self._right or self.now()
            # The frozen frame is the one on screen: mark it drawn, only the title changes.
            if self._drawn_key is not None:
                self._drawn_key = self._render_key(self.anchor, self.plot_width())
            self._update_subtitle()

    def action_time_axis(self) -> None:
        """Time axis relative to now, or absolute clock times."""
        self.relative = not self.relative
        self.invalidate(refetch=False)

    def action_cursor(self) -> None:
        """Show or hide the read-out cursor."""
        span = self.span or DEFAULT_SPAN_S
        self.cursor_rel = None if self.cursor_rel is not None else -span / 2
        self.invalidate(refetch=False)

    def action_move_cursor(self, fraction: float) -> None:
        """Move the cursor by a fraction of the window."""
        span = self.span or DEFAULT_SPAN_S
        if self.cursor_rel is None:
            self.cursor_rel = -span / 2
        self.cursor_rel = min(0.0, max(-span, self.cursor_rel + span * fraction))
        self.invalidate(refetch=False)

    def action_toggle_events(self) -> None:
        """Event markers on or off."""
        self.show_events = not self.show_events
        self.invalidate(refetch=False)

    def action_toggle_legend(self) -> None:
        """Legend on or off."""
        self.legend = not self.legend
        self.invalidate(refetch=False)


_EMPTY = Series(np.empty(0), np.empty(0), 0, 0)


def _value_at(series: Series | None, x: float) -> float | None:
    """The value of the newest point at or before x (None when there is none)."""
    if series is None or not len(series.x):
        return None
    i = int(np.searchsorted(series.x, x, side="right")) - 1
    if i < 0:
        return None
    return float(series.y[i])
