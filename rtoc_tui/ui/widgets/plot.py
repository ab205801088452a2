"""A plot widget that owns one plotext 6 figure and draws it as Textual strips.

plotext is imported lazily (the first time a plot is drawn) so that starting the UI, and any
headless use of this package, stays light. Each widget owns its own figure: plotext's global
figure is never shared between plots.

Speed matters here: a 200x50 frame with 16 signals of ~400 points is drawn 10 times a second.
Measured with plotext 6.1 on one x86 core: `figure.signal()` + `draw()` cost ~55 ms for 6,400
points because they copy a marker object per point and walk every point in Python to collect
its colours, and `rich.Text.from_ansi` took ~40 ms for the 75 kB frame. So signals are built
here with the kernel calls directly (one shared marker, ~8 ms for 6,400 points) and the ANSI
frame is converted by a small SGR parser with cached styles (~3 ms).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import types
from collections import deque
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from typing import Any

import numpy as np
from rich.color import Color
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from ..format import nice_ticks

log = logging.getLogger("rtoc.ui")

RGB = tuple[int, int, int]

# Braille dots give 2 x 4 points per cell: thin lines that stay readable with many signals.
MARKER = "braille"
GRID_RGB: RGB = (70, 70, 70)


@dataclass(frozen=True, slots=True)
class Trace:
    """One signal's points as drawn: x already shifted to plot coordinates."""

    label: str
    x: np.ndarray
    y: np.ndarray
    color: RGB


@dataclass(frozen=True, slots=True)
class VLine:
    """A vertical line across the canvas (an event or the cursor)."""

    x: float
    color: RGB


@dataclass(frozen=True)
class PlotSpec:
    """Everything one frame needs; the widget redraws when it gets a new spec or a new size."""

    traces: tuple[Trace, ...] = ()
    xlim: tuple[float, float] = (0.0, 1.0)
    xticks: tuple[tuple[float, ...], tuple[str, ...]] | None = None
    ylim: tuple[float, float] | None = None
    vlines: tuple[VLine, ...] = ()
    grid: bool = True
    footer: tuple[Text, ...] = ()  # legend and cursor read-out lines under the plot
    message: str = ""  # shown instead of the plot when there is nothing to draw


_plotext: Any = None
_plotext_lock = threading.Lock()


def load_plotext() -> Any:
    """Import plotext once; its terminal must not shrink figures to the real terminal size."""
    global _plotext
    with _plotext_lock:
        if _plotext is None:
            # plotext's package __init__ loads its documentation registry (plotext.doc),
            # 100 of its 160 ms import time; we never use it, so a stub stands in for it.
            if "plotext._doc.doc" not in sys.modules:
                stub = types.ModuleType("plotext._doc.doc")
                # ModuleType declares no attributes; plotext reads this one at import
                stub.docs = None  # type: ignore[attr-defined]
                sys.modules["plotext._doc.doc"] = stub
            import plotext
            from plotext._primitives.matrix import matrix

            # Without this, figures are clipped to 80x24 when stdout is not a terminal (tests).
            plotext.terminal.limit(False, False)
            matrix._add_line = _add_line  # the frame and grid lines, see _add_line
            _plotext = plotext
    return _plotext


def _add_line(
    self: Any, coord: int, line: Any, start: int | None = None, end: int | None = None
) -> Any:
    """plotext's matrix._add_line (frame, axis and grid lines) with the same kernel calls, driven
    by map() instead of a Python object per cell: a third of a 160x16 frame's build time went to
    the per-cell point_class objects (their __init__ and __del__)."""
    from plotext._kernel.clink import clink
    from plotext._signal.points import points_class

    vertical = line.get_orientation() == 1
    s = 0 if start is None else start
    e = (self.height() if vertical else self.width()) if end is None else end
    n = max(0, e - s)
    pts = points_class(n)
    cells, fixed, mark = range(s, e), repeat(coord, n), repeat(line._pointer, n)
    new = clink.point_new_marker
    ptrs = list(map(new, fixed, cells, mark) if vertical else map(new, cells, fixed, mark))
    deque(map(clink.points_append_point, repeat(pts._pointer, n), ptrs), maxlen=0)
    deque(map(clink.point_delete, ptrs), maxlen=0)  # the points object holds copies
    clink.matrix_insert_points(self._pointer, pts._pointer)
    return self


def drop_flat_midpoints(
    x: np.ndarray, y: np.ndarray, rows_per_unit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Drop points in the middle of runs that stay within one (sub-dot) row.

    plotext costs two ctypes calls a point, and a smooth signal spends long stretches on one dot
    row: the line through a run's ends draws the same dots as the line through every point of it.
    `rows_per_unit` quantizes y at twice the terminal's dot rows, finer than the plot area, so a
    dropped point moves a line by at most one dot where a run straddles a row boundary.
    """
    q = np.floor(y * rows_per_unit)
    flat = (q[1:-1] == q[:-2]) & (q[1:-1] == q[2:])
    if not flat.any():
        return x, y
    keep = np.ones(len(y), dtype=bool)
    keep[1:-1] = ~flat
    return x[keep], y[keep]


class FigureRenderer:
    """Draws PlotSpecs with one plotext figure of its own."""

    def __init__(self) -> None:
        plt = load_plotext()
        from plotext._kernel.clink import clink
        from plotext._plotter.plot import plot_class
        from plotext._primitives.marker import marker
        from plotext._primitives.pixel import pixel
        from plotext._signal.signal import signal_class

        self._clink = clink
        self._marker_class = marker
        self._pixel_class = pixel
        self._signal_class = signal_class
        # A master figure of our own (plot_class under the terminal), never plotext.figure.
        self.figure = plot_class(parent=plt.terminal)
        self.figure.theme("simple")
        self._markers: dict[RGB, Any] = {}
        self._pixels: dict[RGB, Any] = {}

    def _pixel(self, color: RGB) -> Any:
        px = self._pixels.get(color)
        if px is None:
            px = self._pixels[color] = self._pixel_class(foreground=color)
        return px

    def _marker(self, color: RGB) -> Any:
        m = self._markers.get(color)
        if m is None:
            m = self._marker_class(MARKER, pixel=self._pixel(color))
            self._markers[color] = m
        return m

    def _add_trace(self, trace: Trace, rows_per_unit: float | None = None) -> None:
        """figure.signal() + draw() without the per-point Python work (see module docstring)."""
        ok = np.isfinite(trace.x) & np.isfinite(trace.y)
        xa, ya = trace.x[ok], trace.y[ok]
        if rows_per_unit is not None and len(ya) > 2:
            xa, ya = drop_flat_midpoints(xa, ya, rows_per_unit)
        x = xa.tolist()
        y = ya.tolist()
        n = len(x)
        if n == 0:
            return
        m = self._marker(trace.color)
        sig = self._signal_class(n)
        ptr, mptr = sig._pointer, m._pointer
        # map() drives the kernel calls from C: a third faster than a Python for loop here.
        deque(map(self._clink.signal_append_point, repeat(ptr), x, y, repeat(mptr)), maxlen=0)
        deque(map(self._clink.signal_set_connected, repeat(ptr), range(1, n), repeat(True)), 0)
        sig._set_marker(m)
        sig._set_xside(0)._set_yside(0)
        self.figure._signals._add(sig)

    def render(self, spec: PlotSpec, width: int, height: int) -> str:
        """The frame as plotext's ANSI text, width x height cells."""
        fig = self.figure
        fig.clear.data()
        fig.plot_size(width, height)
        x0, x1 = spec.xlim
        if not x1 > x0:
            x1 = x0 + 1.0
        rows_per_unit = None
        if spec.ylim is not None and spec.ylim[1] > spec.ylim[0]:
            # twice the terminal's braille rows: finer than the plot area, so never visible
            rows_per_unit = 2 * 4 * height / (spec.ylim[1] - spec.ylim[0])
        for trace in spec.traces:
            self._add_trace(trace, rows_per_unit)
        fig.ruler("x").lim(x0, x1)
        if spec.xticks is not None:
            fig.ruler("x").ticks(list(spec.xticks[0]), list(spec.xticks[1]))
        if spec.ylim is not None:
            y0, y1 = spec.ylim
            if not y1 > y0:
                y0, y1 = y0 - 1.0, y1 + 1.0
            fig.ruler("y").lim(y0, y1)
            # Round values inside the frame, about one every 4 rows (a grid line on every
            # row hides the data, and lines on the frame itself are work for nothing).
            ticks, labels = nice_ticks(y0, y1, max(2, min(5, height // 4)))
            fig.ruler("y").ticks(list(ticks), list(labels))
        # Horizontal grid lines only: vertical ones at the window edges double the frame and,
        # with the event and cursor lines, crowd a small plot.
        fig.ruler("x").grid(False)
        fig.ruler("y").grid(spec.grid, pixel=self._pixel(GRID_RGB))
        for line in spec.vlines:
            if x0 <= line.x <= x1:
                fig.line(line.x, orientation=1, pixel=self._pixel(line.color))
        return str(fig.build().string())


_SGR = re.compile(r"\x1b\[([0-9;]*)m")


class AnsiStrips:
    """Converts plotext's ANSI frames to Strips; only foreground colour and bold are kept."""

    def __init__(self) -> None:
        self._styles: dict[tuple[Any, bool, Style], Style] = {}
        self._previous: list[tuple[str, Strip]] = []  # the last frame's (text, Strip) per row
        self._previous_key: tuple[int, Style] | None = None

    def _style(self, fg: Any, bold: bool, base: Style) -> Style:
        """The widget's base style with a foreground colour (cached: a frame reuses few)."""
        key = (fg, bold, base)
        style = self._styles.get(key)
        if style is None:
            color = None
            if isinstance(fg, int):
                color = Color.from_ansi(fg)
            elif isinstance(fg, tuple):
                color = Color.from_rgb(*fg)
            if len(self._styles) > 4096:  # the theme changed many times: start afresh
                self._styles.clear()
            style = self._styles[key] = base + Style(color=color, bold=bold or None)
        return style

    @staticmethod
    def _apply(params: str, fg: Any, bold: bool) -> tuple[Any, bool]:
        codes = params.split(";") if params else ["0"]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c in ("0", ""):
                fg, bold = None, False
            elif c == "1":
                bold = True
            elif c == "22":
                bold = False
            elif c == "39":
                fg = None
            elif c in ("38", "48"):
                kind = codes[i + 1] if i + 1 < len(codes) else ""
                if kind == "5" and i + 2 < len(codes):
                    if c == "38":
                        fg = int(codes[i + 2])
                    i += 2
                elif kind == "2" and i + 4 < len(codes):
                    if c == "38":
                        fg = (int(codes[i + 2]), int(codes[i + 3]), int(codes[i + 4]))
                    i += 4
            elif c.isdigit() and 30 <= int(c) <= 37:
                fg = int(c) - 30
            elif c.isdigit() and 90 <= int(c) <= 97:
                fg = int(c) - 82
            i += 1
        return fg, bold

    def convert(self, text: str, width: int, height: int, base: Style) -> list[Strip]:
        """The first `height` lines of text as Strips exactly `width` cells wide.

        A line identical to the same line of the previous frame (same width and style) gives
        back the previous Strip object: no parsing, and the screen update can skip it."""
        key = (width, base)
        previous = self._previous if key == self._previous_key else []
        self._previous_key = key
        current: list[tuple[str, Strip]] = []
        for y, raw in enumerate(text.split("\n")[:height]):
            if y < len(previous) and previous[y][0] == raw:
                current.append(previous[y])
                continue
            segments: list[Segment] = []
            fg: Any = None
            bold = False
            pos = 0
            for m in _SGR.finditer(raw):
                start = m.start()
                if start > pos:
                    segments.append(Segment(raw[pos:start], self._style(fg, bold, base)))
                fg, bold = self._apply(m.group(1), fg, bold)
                pos = m.end()
            if pos < len(raw):
                segments.append(Segment(raw[pos:], self._style(fg, bold, base)))
            strip = Strip(Segment.simplify(segments)).adjust_cell_length(width, base)
            current.append((raw, strip))
        self._previous = current
        return [strip for _, strip in current]


def changed_rows(old: list[Strip], new: list[Strip]) -> list[tuple[int, int]]:
    """Runs [y0, y1) of rows whose Strip differs (a reused Strip object is unchanged)."""
    rows: list[tuple[int, int]] = []
    for y in range(max(len(old), len(new))):
        if y < len(old) and y < len(new) and (old[y] is new[y] or old[y] == new[y]):
            continue
        if rows and rows[-1][1] == y:
            rows[-1] = (rows[-1][0], y + 1)
        else:
            rows.append((y, y + 1))
    return rows


@dataclass
class FrameJob:
    """One frame to build in a worker thread (made by PlotextPlot.begin_frame)."""

    plot: PlotextPlot
    spec: PlotSpec
    size: Size
    plot_h: int
    footer: list[Strip]
    base: Style

    def run(self) -> list[Strip]:
        """Build the frame's strips; thread-safe as long as each plot runs one job at a time."""
        return self.plot._render_frame(self)


def run_jobs(jobs: list[FrameJob]) -> list[tuple[FrameJob, list[Strip]]]:
    """Build several frames (in a worker thread), to be applied in one screen update."""
    return [(job, job.run()) for job in jobs]


class PlotextPlot(Widget):
    """Draws a PlotSpec; redraws only when the spec or the size changed, and only when shown.

    Frames are built in a worker thread: plotext's kernel runs in C (ctypes drops the GIL),
    and the Python parts yield the GIL every few milliseconds, so a key pressed while a
    frame is being built is handled at once instead of after the ~20 ms build. One build at
    a time per widget (a figure is not thread-safe). A container with several plots builds
    their frames in one job (`begin_frame`, `run_jobs`, `finish_frame`) so that they reach
    the screen in one update; on its own (first show, resize, theme) a plot builds itself.
    """

    DEFAULT_CSS = """
    PlotextPlot {
        height: 1fr;
        min-height: 4;
    }
    """

    class _Built(Message):
        """A frame built in the worker thread (handled by the widget itself)."""

        def __init__(self, job: FrameJob, lines: list[Strip]) -> None:
            super().__init__()
            self.job = job
            self.lines = lines

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._spec = PlotSpec()
        self._renderer: FigureRenderer | None = None
        self._ansi = AnsiStrips()
        self._lines: list[Strip] | None = None
        self._lines_key: tuple[Size, PlotSpec, Style] | None = None
        self._building = False
        self._base: Style | None = None
        self.frames = 0  # frames built (tests and the benchmark read it)

    @property
    def spec(self) -> PlotSpec:
        return self._spec

    @property
    def building(self) -> bool:
        return self._building

    @property
    def idle(self) -> bool:
        """No frame is being built and the one shown is the newest (tests wait on it)."""
        return not self._building and self.is_current()

    def is_current(self) -> bool:
        """Whether the frame on screen is the wanted one (spec, size, colours)."""
        wanted = self._wanted_key()
        have = self._lines_key
        # The spec by identity: its traces hold numpy arrays, which == cannot compare.
        return (
            have is not None
            and have[1] is wanted[1]
            and have[0] == wanted[0]
            and have[2] == wanted[2]
        )

    def set_spec(self, spec: PlotSpec, build: bool = True) -> None:
        """Show a new frame.

        Args:
            build: build it now if the plot is on screen (in a thread of its own); False when
                the caller builds it with others (begin_frame / run_jobs / finish_frame).
        """
        self._spec = spec
        if not build or self._building:
            return  # the caller, or the running build's completion, takes care of it
        if self.is_mounted and self.is_on_screen:
            # Build straight away instead of refresh(): redrawing the old frame first would
            # cost a second compositor pass per frame for nothing.
            self._start_build()
        else:
            self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base = None
        self.refresh()  # the base style (theme colours) is part of the frame's key

    def _wanted_key(self) -> tuple[Size, PlotSpec, Style]:
        # rich_style is worked out from the CSS on every access: render_line asks per row.
        if self._base is None:
            self._base = self.rich_style
        return (self.content_region.size, self._spec, self._base)

    def _footer_strips(self, spec: PlotSpec, width: int, height: int, base: Style) -> list[Strip]:
        footer: list[Strip] = []
        for text in spec.footer[: max(0, height - 3)]:
            line = text.copy()
            line.truncate(width, overflow="ellipsis")
            segs = list(line.render(self.app.console, end=""))
            footer.append(Strip(segs).apply_style(base).adjust_cell_length(width, base))
        return footer

    def _message_lines(self, spec: PlotSpec, width: int, height: int, base: Style) -> list[Strip]:
        msg = Text(spec.message, style="dim")
        msg.truncate(width, overflow="ellipsis")
        blank = Strip.blank(width, base)
        mid = Strip(list(msg.render(self.app.console, end=""))).apply_style(base)
        lines = [blank] * max(0, height)
        if height > 0:
            lines[height // 2] = mid.text_align(width, "center").adjust_cell_length(width, base)
        return lines

    def begin_frame(self) -> FrameJob | None:
        """Prepare the wanted frame: a plotext frame comes back as a job to run in a thread
        (the widget is busy until finish_frame); a message frame is made right here."""
        if self._building:
            return None
        size, spec, base = self._wanted_key()
        width, height = size.width, size.height
        footer = self._footer_strips(spec, width, height, base)
        plot_h = height - len(footer)
        if spec.message or plot_h < 3 or width < 12:
            lines = self._message_lines(spec, width, plot_h, base) + footer
            self._lines, self._lines_key = lines, (size, spec, base)
            self.refresh()
            return None
        self._building = True
        return FrameJob(self, spec, size, plot_h, footer, base)

    def _render_frame(self, job: FrameJob) -> list[Strip]:
        """Runs in a worker thread: plotext frame -> strips (errors become a red line)."""
        width, plot_h, base = job.size.width, job.plot_h, job.base
        try:
            if self._renderer is None:
                self._renderer = FigureRenderer()
            text = self._renderer.render(job.spec, width, plot_h)
            lines = self._ansi.convert(text, width, plot_h, base)
        except Exception as exc:  # show the failure in the plot, never kill the app
            log.exception("plot frame failed")
            lines = [Strip.blank(width, base)] * plot_h
            if plot_h:
                err = Text(f"plot failed: {exc}", style="bold red")
                err.truncate(width, overflow="ellipsis")
                lines[0] = Strip(list(err.render(Console(), end=""))).adjust_cell_length(width)
        while len(lines) < plot_h:
            lines.append(Strip.blank(width, base))
        return lines + job.footer

    def finish_frame(self, job: FrameJob, lines: list[Strip]) -> None:
        """Show a built frame (main thread), repainting only the rows that changed."""
        self._building = False
        self.frames += 1
        old, old_key = self._lines, self._lines_key
        self._lines = lines
        self._lines_key = (job.size, job.spec, job.base)
        if old is None or old_key is None or old_key[0] != job.size or old_key[2] != job.base:
            self.refresh()
            return
        rows = changed_rows(old, lines)
        if rows:
            width = job.size.width
            self.refresh(*(Region(0, y0, width, y1 - y0) for y0, y1 in rows))

    def _start_build(self) -> None:
        job = self.begin_frame()
        if job is None:
            return
        self.run_worker(
            partial(self._build_alone, job),
            thread=True,
            group="plot-frame",
            name="plot-frame",
            # Without a description Textual takes repr(work): the spec's numpy arrays printed
            # in full, which cost more than the frame itself.
            description="plot frame",
            exit_on_error=False,
        )

    def _build_alone(self, job: FrameJob) -> None:
        self.post_message(self._Built(job, job.run()))

    def on_plotext_plot__built(self, message: PlotextPlot._Built) -> None:
        message.stop()
        self.finish_frame(message.job, message.lines)
        if not self.is_current() and self.is_on_screen:
            self._start_build()  # a newer spec (or size) arrived while this one was built

    def render_lines(self, crop: Region) -> list[Strip]:
        """The frame's own Strips, without Textual's per-line restyling copy (a plot has no
        border, padding, tint or opacity of its own; if it ever gets one, Textual draws it)."""
        styles = self.styles
        if (
            self.BLANK
            or any(styles.gutter)
            or any(edge for edge, _ in styles.outline)
            or styles.tint.a
            or self.opacity != 1.0  # the ancestors' opacity too
            or styles.text_opacity != 1.0
            or (styles.has_rule("hatch") and styles.hatch != "none")
        ):
            return super().render_lines(crop)
        strips = [self.render_line(y) for y in crop.line_range]
        filters = self.get_line_filters()
        if filters:
            background = self.background_colors[1]
            for line_filter in filters:
                strips = [strip.apply_filter(line_filter, background) for strip in strips]
        x1, x2 = crop.column_span
        if (x1, x2) != (0, self.size.width):
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips

    def render_line(self, y: int) -> Strip:
        size, _spec, base = self._wanted_key()
        if not self._building and not self.is_current():
            # Only visible widgets get here: a hidden plot never builds frames.
            self._start_build()
        lines = self._lines
        if lines is not None and 0 <= y < len(lines):
            line = lines[y]
            # While a resized frame is being built, show the old one cut or padded.
            return line if line.cell_length == size.width else line.crop_extend(0, size.width, base)
        return Strip.blank(size.width, base)
