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

    units: dict[str, list[Series]] = {}
    for s in series:
        units.setdefault(s.unit or "(no unit)", []).append(s)
    if not units:
        units["(no data)"] = []
    n = len(units)
    height = height_px or min(300 + 220 * n, 1600)
    fig = Figure(figsize=(width_px / dpi, height / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    for ax, (unit, group) in zip(axes, units.items(), strict=True):
        for s in group:
            if s.x.size:
                ax.plot(_to_dates(s.x), s.y, linewidth=0.8, label=s.name)
        ax.set_ylabel(unit)
        ax.grid(True, alpha=0.3)
        if group:
            ax.legend(loc="upper left", fontsize="small")
    for i, m in enumerate(marks or []):
        colour = PRIORITY_COLOURS[max(0, min(2, m.priority))]
        when = _to_dates(np.array([m.x]))[0]
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
    _format_time_axis(axes[-1])
    if title:
        fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _to_dates(x: np.ndarray) -> Any:
    """Unix seconds to the local-time numbers matplotlib's date axis uses."""
    # matplotlib's default date epoch is 1970-01-01, so a date number is days since the Unix epoch
    offset = time.localtime().tm_gmtoff  # show the logger's wall clock, not UTC
    return (np.asarray(x, dtype=float) + offset) / 86400.0


def _format_time_axis(ax: Any) -> None:
    from matplotlib import dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
