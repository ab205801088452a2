"""Number and time formatting and tick placement shared by the panes and the plot."""

from __future__ import annotations

import math
import time

PRIORITY_NAMES = {0: "info", 1: "warning", 2: "error"}
PRIORITY_LETTERS = {0: "I", 1: "W", 2: "E"}

# Tick steps for time axes in seconds: each is a "round" number on a clock.
_TIME_STEPS = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
    1, 2, 5, 10, 15, 30,
    60, 120, 300, 600, 900, 1800,
    3600, 7200, 10800, 21600, 43200,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400,
)  # fmt: skip


def fmt_value(value: float | None, unit: str = "") -> str:
    """A sample value in at most about 7 characters, with its unit."""
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        text = str(value)
    elif value == 0:
        text = "0"
    else:
        a = abs(value)
        text = f"{value:.4g}" if a < 1e5 and a >= 1e-3 else f"{value:.3g}"
    return f"{text} {unit}".rstrip() if unit else text


def fmt_count(n: int) -> str:
    """1234567 -> '1.23M'."""
    if n < 10_000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.2f}M"


def fmt_clock(x: float, with_date: bool = False) -> str:
    """Local clock time of a Unix timestamp."""
    if not math.isfinite(x):
        return "-"
    try:
        tm = time.localtime(x)
    except (OverflowError, OSError, ValueError):
        return f"{x:g}"
    frac = x - math.floor(x)
    text = time.strftime("%H:%M:%S", tm)
    if frac and not with_date:
        text += f".{int(frac * 10)}"
    return time.strftime("%Y-%m-%d ", tm) + text if with_date else text  # no two-digit years


def fmt_span(seconds: float) -> str:
    """A duration for humans: 90 -> '1m30s', 0.5 -> '500ms'."""
    s = abs(seconds)
    if s < 1:
        return f"{s * 1000:.0f}ms"
    if s < 60:
        return f"{s:.3g}s"
    if s < 3600:
        m, sec = divmod(int(round(s)), 60)
        return f"{m}m{sec:02d}s" if sec else f"{m}m"
    if s < 86400:
        h, rest = divmod(int(round(s)), 3600)
        return f"{h}h{rest // 60:02d}m" if rest // 60 else f"{h}h"
    d, rest = divmod(int(round(s)), 86400)
    return f"{d}d{rest // 3600}h" if rest // 3600 else f"{d}d"


def fmt_rel(seconds: float) -> str:
    """A tick label relative to now: -90 -> '-1m30s', 0 -> '0'."""
    if abs(seconds) < 1e-9:
        return "0"
    return ("-" if seconds < 0 else "+") + fmt_span(seconds)


def time_step(span: float, max_ticks: int) -> float:
    """The smallest round time step that gives at most max_ticks ticks over span seconds."""
    max_ticks = max(1, max_ticks)
    for step in _TIME_STEPS:
        if span / step <= max_ticks:
            return step
    return _TIME_STEPS[-1] * math.ceil(span / max_ticks / _TIME_STEPS[-1])


def time_ticks(
    lo: float, hi: float, origin: float, relative: bool, width: int
) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """Tick positions (in plot coordinates, i.e. seconds relative to origin) and labels.

    Args:
        lo, hi: the visible range relative to origin (seconds).
        origin: the absolute time at plot x = 0.
        relative: labels relative to origin ('-30s') or absolute clock times.
        width: plot width in cells, which limits how many labels fit.
    """
    span = hi - lo
    if not span > 0:
        return (lo,), (fmt_rel(lo) if relative else fmt_clock(origin + lo),)
    label_w = 7 if relative else 10
    step = time_step(span, max(2, width // (label_w + 4)))
    if relative:
        first = math.ceil(lo / step) * step
    else:
        # Absolute ticks fall on round clock times (in local time).
        offset = -time.localtime(origin).tm_gmtoff if step >= 3600 else 0.0
        first = math.ceil((origin + lo + offset) / step) * step - offset - origin
    positions: list[float] = []
    v = first
    while v <= hi + step * 1e-9 and len(positions) < 100:
        positions.append(v)
        v += step
    if relative:
        labels = [fmt_rel(p) for p in positions]
    else:
        labels = [fmt_clock(origin + p).split(".")[0] for p in positions]
    return tuple(positions), tuple(labels)


def nice_ticks(lo: float, hi: float, max_ticks: int) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """Round-number ticks strictly inside (lo, hi) (the plot frame draws the ends)."""
    span = hi - lo
    if not span > 0 or not math.isfinite(span):
        return (), ()
    raw = span / max(1, max_ticks)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step + 1) * step
    positions = []
    v = first
    while v < hi - step * 1e-9 and len(positions) < 50:
        if v > lo + step * 1e-9:
            positions.append(round(v, 12))
        v += step
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    if step * 10**decimals % 1:  # 2.5, 0.25, ...
        decimals += 1
    labels = tuple(
        f"{p:.{decimals}f}" if abs(p) < 1e6 and (p == 0 or abs(p) >= 1e-4) else f"{p:.3g}"
        for p in positions
    )
    return tuple(positions), labels


def plural(n: int, word: str) -> str:
    """'1 signal', '2 signals' (English plurals of the words the UI counts)."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"
