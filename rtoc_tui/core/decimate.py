"""Min/max decimation and window statistics over sorted numpy segments.

A ring buffer hands its data out as at most two contiguous segments (before and after the
wrap point). These functions work on such segment lists directly so a 500,000-sample window
never has to be copied into one array just to be reduced to a few hundred points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Segment = tuple[np.ndarray, np.ndarray]  # (x, y), x ascending within the segment


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Statistics of one signal over a window of x (time)."""

    count: int
    min: float
    max: float
    mean: float
    integral: float  # trapezoid integral over x; for a signal in W over seconds: energy in J
    xmin: float
    xmax: float


def clip_segments(segments: list[Segment], xmin: float | None, xmax: float | None) -> list[Segment]:
    """Cut each (x-sorted) segment to xmin <= x <= xmax with binary search; no copies."""
    out: list[Segment] = []
    for xs, ys in segments:
        if len(xs) == 0:
            continue
        lo = 0 if xmin is None else int(np.searchsorted(xs, xmin, side="left"))
        hi = len(xs) if xmax is None else int(np.searchsorted(xs, xmax, side="right"))
        if hi > lo:
            out.append((xs[lo:hi], ys[lo:hi]))
    return out


def decimate_minmax(segments: list[Segment], n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Reduce x-sorted segments to about n_points, keeping each bucket's min and max.

    Buckets are equal slices of the x range (one bucket per two output points), so that a
    plot gets about two points per column and narrow peaks survive. Returns (x, y) arrays.
    """
    total = sum(len(s[0]) for s in segments)
    if total == 0:
        return np.empty(0), np.empty(0)
    if total <= n_points or n_points < 2:
        return (
            np.concatenate([s[0] for s in segments]),
            np.concatenate([s[1] for s in segments]),
        )
    n_buckets = max(1, n_points // 2)
    x0 = float(segments[0][0][0])
    x1 = float(segments[-1][0][-1])
    if not x1 > x0:  # every sample at the same x: one bucket
        ys = np.concatenate([s[1] for s in segments])
        return np.array([x0, x0]), np.array([ys.min(), ys.max()])
    edges = np.linspace(x0, x1, n_buckets + 1)
    edges[-1] = np.inf  # the last sample belongs to the last bucket
    bmin = np.full(n_buckets, np.inf)
    bmax = np.full(n_buckets, -np.inf)
    bx_first = np.full(n_buckets, np.inf)
    bx_last = np.full(n_buckets, -np.inf)
    for xs, ys in segments:
        idx = np.searchsorted(xs, edges, side="left")
        starts, ends = idx[:-1], idx[1:]
        nonempty = np.nonzero(ends > starts)[0]
        if len(nonempty) == 0:
            continue
        s = starts[nonempty]
        # reduceat reduces from s[i] to s[i+1]; empty buckets between two non-empty ones have
        # start == end, so the next non-empty start is exactly this bucket's end.
        lo = int(s[0])
        hi = int(ends[nonempty[-1]])
        sub = ys[lo:hi]
        rel = s - lo
        np.minimum.at(bmin, nonempty, np.minimum.reduceat(sub, rel))
        np.maximum.at(bmax, nonempty, np.maximum.reduceat(sub, rel))
        np.minimum.at(bx_first, nonempty, xs[s])
        np.maximum.at(bx_last, nonempty, xs[ends[nonempty] - 1])
    used = np.isfinite(bx_first)
    bmin, bmax, bx_first, bx_last = bmin[used], bmax[used], bx_first[used], bx_last[used]
    out_x = np.empty(2 * len(bmin))
    out_y = np.empty(2 * len(bmin))
    out_x[0::2] = bx_first
    out_x[1::2] = bx_last
    out_y[0::2] = bmin
    out_y[1::2] = bmax
    return out_x, out_y


def window_stats(segments: list[Segment]) -> WindowStats | None:
    """min, max, mean, count and the trapezoid integral over x of x-sorted segments."""
    segments = [s for s in segments if len(s[0])]
    if not segments:
        return None
    xs = np.concatenate([s[0] for s in segments]) if len(segments) > 1 else segments[0][0]
    ys = np.concatenate([s[1] for s in segments]) if len(segments) > 1 else segments[0][1]
    integral = float(np.trapezoid(ys, xs)) if len(xs) > 1 else 0.0
    return WindowStats(
        count=int(len(ys)),
        min=float(ys.min()),
        max=float(ys.max()),
        mean=float(ys.mean()),
        integral=integral,
        xmin=float(xs[0]),
        xmax=float(xs[-1]),
    )
