"""Plot images for the chat: one panel per unit, clock time on the x axis, events as marks.

Rendered with matplotlib's Agg canvas through the object API (a `Figure` of our own, never
pyplot's global state), so it is safe in a worker thread: the bot calls `render_plot` through
`asyncio.to_thread` with data already decimated by the logger (min/max per bucket, so peaks
survive). matplotlib is imported on first use so starting the bot stays light.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

PRIORITY_COLOURS = ("tab:blue", "tab:orange", "tab:red")
MAX_EVENT_LABELS = 30  # more labels than this turn the plot into a text wall
PLOT_POINTS = 2000  # per signal: ~2 points per pixel column of a 1000-pixel wide image


@dataclass(frozen=True)
class Series:
    """One signal's (decimated) samples."""

    name: str
    unit: str
    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Mark:
    """An event drawn as a vertical line."""

    x: float
    text: str
    priority: int = 0


def render_plot(
    series: list[Series],
    marks: list[Mark] | None = None,
    title: str = "",
    *,
    width_px: int = 1000,
    height_px: int | None = None,
    dpi: int = 100,
) -> bytes:
    """A PNG of the series, one panel per unit, sharing a clock-time x axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    units: dict[str, list[Series]] = {}
    for s in series:
        units.setdefault(s.unit or "(no unit)", []).append(s)
    if not units:
        units["(no data)"] = []
    n = len(units)
    height = height_px or min(300 + 220 * n, 1600)
    # No layout engine: constrained layout measured 0.5 s of a 1.2 s render (it draws twice);
    # fixed margins fit a 1000-pixel wide chat image.
    fig = Figure(figsize=(width_px / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    top = 1.0 - (40 if title else 15) / height
    fig.subplots_adjust(left=0.08, right=0.98, top=top, bottom=45 / height, hspace=0.08)
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    for ax, (unit, group) in zip(axes, units.items(), strict=True):
        for s in group:
            if s.x.size:
                ax.plot(s.x, s.y, linewidth=0.8, label=s.name)
        ax.set_ylabel(unit)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))  # each tick label costs a text layout
        ax.grid(True, alpha=0.3)
        if group:
            ax.legend(loc="upper left", fontsize="small")
    for i, m in enumerate(marks or []):
        colour = PRIORITY_COLOURS[max(0, min(2, m.priority))]
        when = m.x
        for ax in axes:
            ax.axvline(when, color=colour, linewidth=0.8, alpha=0.7)
        if i < MAX_EVENT_LABELS and m.text:
            axes[0].annotate(
                m.text[:40],
                xy=(when, 1.0),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top",
                ha="right",
                fontsize="x-small",
                color=colour,
            )
    _time_ticks(axes[-1], [s.x for s in series], [m.x for m in marks or []])
    if title:
        fig.suptitle(title)
    buf = io.BytesIO()
    # zlib level 1: the image is ~1.5x larger but encodes in a third of the time (a chat photo
    # is re-encoded by Telegram anyway)
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})
    return buf.getvalue()


# Tick steps in seconds, from a second to a week; the first giving at most MAX_TICKS ticks wins.
TICK_STEPS = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    172800,
    604800,
)
MAX_TICKS = 8


def time_ticks(xmin: float, xmax: float) -> tuple[list[float], list[str]]:
    """Tick positions at round local clock times between xmin and xmax, and their labels.

    Our own instead of matplotlib.dates: AutoDateLocator + ConciseDateFormatter took 0.4 s of
    a 1.2 s render (tick updates on every panel); this takes microseconds.
    """
    span = max(xmax - xmin, 1e-9)
    step = next((s for s in TICK_STEPS if span / s <= MAX_TICKS), TICK_STEPS[-1])
    offset = time.localtime(xmin).tm_gmtoff  # round in local time, not UTC
    first = np.ceil((xmin + offset) / step) * step - offset
    ticks = [float(t) for t in np.arange(first, xmax + step * 1e-6, step)]
    if step >= 86400:
        fmt = "%d.%m."
    elif span > 86400 or time.localtime(xmin).tm_yday != time.localtime(xmax).tm_yday:
        fmt = "%d.%m. %H:%M"
    elif step < 60:
        fmt = "%H:%M:%S"
    else:
        fmt = "%H:%M"
    return ticks, [time.strftime(fmt, time.localtime(t)) for t in ticks]


def _time_ticks(ax: Any, xs: list[np.ndarray], marks: list[float]) -> None:
    """Clock-time labels on the shared x axis (plain numbers for non-time x, e.g. XY plots)."""
    lo = [float(x.min()) for x in xs if x.size] + marks
    hi = [float(x.max()) for x in xs if x.size] + marks
    if not lo:
        return
    xmin, xmax = min(lo), max(hi)
    if xmin < 1e8:  # not Unix time (RTOC's plot() data): leave matplotlib's own ticks
        return
    ticks, labels = time_ticks(xmin, xmax)
    ax.set_xticks(ticks, labels)
    ax.set_xlim(xmin, xmax if xmax > xmin else xmin + 1)


def warm_up() -> None:
    """Render a tiny plot once: the first render loads matplotlib's fonts and caches (~1 s on a
    2-core machine, against ~0.3 s for a later 3-panel image), so the bot does it at start, in a
    worker thread, instead of making the first user who asks for a plot wait."""
    x = np.array([1.7e9, 1.7e9 + 60.0])
    render_plot([Series("warm.up", "V", x, x * 0.0)], [Mark(x[0], "warm-up")], "warm-up")
