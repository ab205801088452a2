"""Min/max decimation and window statistics: the one home of "reduce samples to what is drawn".

Two ways to bucket x-sorted samples, both keeping each bucket's minimum and maximum so that
narrow peaks survive:
- `decimate_minmax`: equal slices of one window (ring buffers, stored ranges);
- `grid_points`: buckets aligned to multiples of a width, so a bucket's points stay valid while
  the window slides (incremental windows over TCP, live appends in the plot).

A ring buffer hands its data out as at most two contiguous segments (before and after the
wrap point). These functions work on such segment lists directly so a 500,000-sample window
never has to be copied into one array just to be reduced to a few hundred points.
"""

from __future__ import annotations

import math
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


def quantize_width(raw: float) -> float:
    """A bucket width close to raw (at most 0.8 % larger) that stays identical while a window
    of constant span slides, despite rounding noise in xmax - xmin."""
    m, e = math.frexp(raw)
    return math.ldexp(math.ceil(m * 256) / 256, e)


def grid_points(
    x: np.ndarray, y: np.ndarray, w: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min/max points per bucket [k*w, (k+1)*w) of x-sorted samples: (bucket, x, y) per point.

    A bucket with one or two samples keeps them as they are; a fuller one keeps its minimum
    and its maximum at their own x, in x order. Buckets are aligned to multiples of w, so a
    bucket's points stay valid while a window slides (what makes windows incremental)."""
    if len(x) == 0:
        return np.empty(0, np.int64), np.empty(0), np.empty(0)
    k = np.floor(x / w).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    ends = np.r_[starts[1:], len(x)]
    counts = ends - starts
    bid = np.repeat(np.arange(len(starts)), counts)
    bmin = np.minimum.reduceat(y, starts)
    bmax = np.maximum.reduceat(y, starts)
    # index of the first minimum and the first maximum of each bucket
    imin = _first_per_bucket(np.flatnonzero(y == bmin[bid]), bid, len(starts))
    imax = _first_per_bucket(np.flatnonzero(y == bmax[bid]), bid, len(starts))
    small = counts <= 2
    lo = np.where(small, starts, np.minimum(imin, imax))
    hi = np.where(small, ends - 1, np.maximum(imin, imax))
    two = hi != lo
    idx = np.empty(len(starts) + int(two.sum()), np.int64)
    pos = np.arange(len(starts)) + np.r_[0, np.cumsum(two)[:-1]]
    idx[pos] = lo
    idx[pos[two] + 1] = hi[two]
    return k[idx], x[idx], y[idx]


def _first_per_bucket(hits: np.ndarray, bid: np.ndarray, n: int) -> np.ndarray:
    out = np.empty(n, np.int64)
    b = bid[hits]
    first = np.r_[True, b[1:] != b[:-1]]
    out[b[first]] = hits[first]
    return out


def bucket_entries(
    entries: np.ndarray, lo: float, hi: float, n_points: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reduce [first x, last x, min, max] entries to min/max per x bucket (2 points a bucket).

    Same output shape as decimate_minmax: each non-empty bucket gives (first x, min) and
    (last x, max), so narrow peaks survive.
    """
    if len(entries) == 0:
        return np.empty(0), np.empty(0)
    n_buckets = max(1, n_points // 2)
    width = (hi - lo) / n_buckets if hi > lo else 1.0
    idx = np.clip(((entries[:, 0] - lo) / width).astype(np.int64), 0, n_buckets - 1)
    order = np.argsort(idx, kind="stable")
    idx = idx[order]
    e = entries[order]
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    out_x = np.empty(2 * len(starts))
    out_y = np.empty(2 * len(starts))
    out_x[0::2] = np.minimum.reduceat(e[:, 0], starts)
    out_x[1::2] = np.maximum.reduceat(e[:, 1], starts)
    out_y[0::2] = np.fmin.reduceat(e[:, 2], starts)
    out_y[1::2] = np.fmax.reduceat(e[:, 3], starts)
    return out_x, out_y
