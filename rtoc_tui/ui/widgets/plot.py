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

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

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


def _load_plotext() -> Any:
    """Import plotext once; its terminal must not shrink figures to the real terminal size."""
    global _plotext
    if _plotext is None:
        import plotext

        # Without this, figures are clipped to 80x24 when stdout is not a terminal (tests).
        plotext.terminal.limit(False, False)
        _plotext = plotext
    return _plotext


class FigureRenderer:
    """Draws PlotSpecs with one plotext figure of its own."""

    def __init__(self) -> None:
        plt = _load_plotext()
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

    def _add_trace(self, trace: Trace) -> None:
        """figure.signal() + draw() without the per-point Python work (see module docstring)."""
        ok = np.isfinite(trace.x) & np.isfinite(trace.y)
        x = trace.x[ok].tolist()
        y = trace.y[ok].tolist()
        n = len(x)
        if n == 0:
            return
        m = self._marker(trace.color)
        sig = self._signal_class(n)
        ptr, mptr = sig._pointer, m._pointer
        append, connect = self._clink.signal_append_point, self._clink.signal_set_connected
        for xi, yi in zip(x, y, strict=True):
            append(ptr, xi, yi, mptr)
        for i in range(1, n):
            connect(ptr, i, True)
        sig._set_marker(m)
        sig._set_xside(0)._set_yside(0)
        self.figure._signals._add(sig)

    def render(self, spec: PlotSpec, width: int, height: int) -> str:
        """The frame as plotext's ANSI text, width x height cells."""
        fig = self.figure
        fig.clear.data()
        fig.plot_size(width, height)
        for trace in spec.traces:
            self._add_trace(trace)
        x0, x1 = spec.xlim
        if not x1 > x0:
            x1 = x0 + 1.0
        fig.ruler("x").lim(x0, x1)
        if spec.xticks is not None:
            fig.ruler("x").ticks(list(spec.xticks[0]), list(spec.xticks[1]))
        if spec.ylim is not None:
            y0, y1 = spec.ylim
            if not y1 > y0:
                y0, y1 = y0 - 1.0, y1 + 1.0
            fig.ruler("y").lim(y0, y1)
        # About one y label every 4 rows: a grid line on every row hides the data.
        fig.ruler("y").frequency(max(2, min(5, height // 4)))
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
        self._styles: dict[tuple[Any, bool], Style] = {}

    def _style(self, fg: Any, bold: bool) -> Style:
        key = (fg, bold)
        style = self._styles.get(key)
        if style is None:
            color = None
            if isinstance(fg, int):
                color = Color.from_ansi(fg)
            elif isinstance(fg, tuple):
                color = Color.from_rgb(*fg)
            style = self._styles[key] = Style(color=color, bold=bold or None)
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
        """The first `height` lines of text as Strips exactly `width` cells wide."""
        strips: list[Strip] = []
        for raw in text.split("\n")[:height]:
            segments: list[Segment] = []
            fg: Any = None
            bold = False
            pos = 0
            for m in _SGR.finditer(raw):
                start = m.start()
                if start > pos:
                    segments.append(Segment(raw[pos:start], base + self._style(fg, bold)))
                fg, bold = self._apply(m.group(1), fg, bold)
                pos = m.end()
            if pos < len(raw):
                segments.append(Segment(raw[pos:], base + self._style(fg, bold)))
            strip = Strip(Segment.simplify(segments))
            strips.append(strip.adjust_cell_length(width, base))
        return strips


class PlotextPlot(Widget):
    """Draws a PlotSpec; redraws only when the spec or the size changed, and only when shown."""

    DEFAULT_CSS = """
    PlotextPlot {
        height: 1fr;
        min-height: 4;
    }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._spec = PlotSpec()
        self._renderer: FigureRenderer | None = None
        self._ansi = AnsiStrips()
        self._lines: list[Strip] | None = None
        self._lines_size: Size | None = None
        self.frames = 0  # frames built (tests and the benchmark read it)

    @property
    def spec(self) -> PlotSpec:
        return self._spec

    def set_spec(self, spec: PlotSpec) -> None:
        """Show a new frame (drawn lazily at the next render)."""
        self._spec = spec
        self._lines = None
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines = None  # colours come from the theme

    def _build(self, size: Size) -> list[Strip]:
        width, height = size.width, size.height
        base = self.rich_style
        spec = self._spec
        footer: list[Strip] = []
        for text in spec.footer[: max(0, height - 3)]:
            line = text.copy()
            line.truncate(width, overflow="ellipsis")
            segs = list(line.render(self.app.console, end=""))
            footer.append(Strip(segs).apply_style(base).adjust_cell_length(width, base))
        plot_h = height - len(footer)
        if spec.message or plot_h < 3 or width < 12:
            msg = Text(spec.message, style="dim")
            msg.truncate(width, overflow="ellipsis")
            blank = Strip.blank(width, base)
            mid = Strip(list(msg.render(self.app.console, end=""))).apply_style(base)
            lines = [blank] * max(0, plot_h)
            if plot_h > 0:
                lines[plot_h // 2] = mid.text_align(width, "center").adjust_cell_length(width, base)
            return lines + footer
        if self._renderer is None:
            self._renderer = FigureRenderer()
        text = self._renderer.render(spec, width, plot_h)
        self.frames += 1
        lines = self._ansi.convert(text, width, plot_h, base)
        while len(lines) < plot_h:
            lines.append(Strip.blank(width, base))
        return lines + footer

    def render_line(self, y: int) -> Strip:
        size = self.content_region.size
        if self._lines is None or self._lines_size != size:
            self._lines = self._build(size)
            self._lines_size = size
        if 0 <= y < len(self._lines):
            return self._lines[y]
        return Strip.blank(size.width, self.rich_style)
