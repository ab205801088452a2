"""Sample blocks: how samples are laid out on disk, summarised and reduced for range queries.

A block is one row per signal per flush chunk: x and y as little-endian float64 BLOBs plus
xmin/xmax/n/ymin/ymax and a *summary*: for every SUMMARY_CHUNK samples (x-sorted) their first x,
last x, min y and max y. A range query over millions of samples reads summaries instead of
samples (128 samples -> 32 bytes), so 1,000 points out of 10,000,000 samples read ~2.5 MB, not
160 MB. Blocks and summaries are engine-neutral: SQLite and PostgreSQL store the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..decimate import bucket_entries, decimate_minmax

F8 = np.dtype("<f8")
SUMMARY_CHUNK = 128  # samples per summary entry: 0.25 bytes/sample on disk
MAX_BLOCK = 65_536  # samples per block (1 MiB of x+y); larger writes are split
SMALL_BLOCK = 4_096  # blocks below this are merged by compaction (row overhead ~100 bytes)
FANOUT = 16  # compaction merges this many adjacent small blocks of one level
# Below this many samples per output bucket a query reads samples, above it summaries: with
# 4 summary entries per bucket a bucket edge is off by at most 1/4 of a bucket.
SUMMARY_MIN_PER_BUCKET = 4 * SUMMARY_CHUNK


@dataclass(frozen=True, slots=True)
class Block:
    """One encoded block, ready to insert."""

    level: int
    xmin: float
    xmax: float
    n: int
    ymin: float
    ymax: float
    summary: bytes
    x: bytes
    y: bytes


@dataclass(frozen=True, slots=True)
class BlockRow:
    """A block's index row as a range query sees it (no sample data)."""

    id: int
    xmin: float
    xmax: float
    n: int
    ymin: float
    ymax: float
    summary: bytes


def is_sorted(x: np.ndarray) -> bool:
    """True if x is non-decreasing."""
    return len(x) < 2 or bool(np.all(x[1:] >= x[:-1]))


def sort_xy(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x-sorted copies (or the arrays themselves when already sorted)."""
    if is_sorted(x):
        return x, y
    order = np.argsort(x, kind="stable")
    return x[order], y[order]


def summarize(xs: np.ndarray, ys: np.ndarray, chunk: int = SUMMARY_CHUNK) -> np.ndarray:
    """(m, 4) array of [first x, last x, min y, max y] per `chunk` samples of x-sorted data."""
    n = len(xs)
    if n == 0:
        return np.empty((0, 4))
    starts = np.arange(0, n, chunk)
    ends = np.minimum(starts + chunk, n)
    out = np.empty((len(starts), 4))
    out[:, 0] = xs[starts]
    out[:, 1] = xs[ends - 1]
    # fmin/fmax skip NaN, so one NaN sample does not hide a chunk's real extremes
    out[:, 2] = np.fmin.reduceat(ys, starts)
    out[:, 3] = np.fmax.reduceat(ys, starts)
    return out


def encode_block(x: np.ndarray, y: np.ndarray, level: int = 0) -> Block:
    """Encode one chunk of samples (kept in the order given; the summary is on sorted data)."""
    x = np.ascontiguousarray(x, dtype=F8)
    y = np.ascontiguousarray(y, dtype=F8)
    xs, ys = sort_xy(x, y)
    summ = summarize(xs, ys)
    return Block(
        level=level,
        xmin=float(xs[0]),
        xmax=float(xs[-1]),
        n=len(x),
        ymin=float(np.fmin.reduce(ys)),
        ymax=float(np.fmax.reduce(ys)),
        summary=summ.astype(F8).tobytes(),
        x=x.tobytes(),
        y=y.tobytes(),
    )


def split_blocks(x: np.ndarray, y: np.ndarray, max_block: int = MAX_BLOCK) -> list[Block]:
    """Encode samples as blocks of at most max_block samples."""
    return [
        encode_block(x[i : i + max_block], y[i : i + max_block])
        for i in range(0, len(x), max_block)
    ]


def decode(buf: bytes) -> np.ndarray:
    """float64 array from a stored BLOB/bytea (a read-only view, no copy)."""
    return np.frombuffer(buf, dtype=F8)


def decode_summaries(blobs: Sequence[bytes]) -> np.ndarray:
    """Concatenate stored summaries into one (m, 4) array."""
    if not blobs:
        return np.empty((0, 4))
    return np.frombuffer(b"".join(blobs), dtype=F8).reshape(-1, 4)


# -- resampling (backup.resample) --------------------------------------------------------------
def resample(
    x: np.ndarray, y: np.ndarray, rate_hz: float, prev: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray, tuple[float, float] | None]:
    """Linear resampling onto the absolute grid k/rate_hz, continuing from the previous chunk.

    The grid is absolute (not relative to the chunk) so consecutive flush chunks join without
    gaps or duplicates. XY data that is not sorted by x is returned unchanged.
    """
    if len(x) == 0 or rate_hz <= 0 or not is_sorted(x):
        return x, y, prev
    if prev is not None and prev[0] < x[0]:
        xs = np.concatenate(([prev[0]], x))
        ys = np.concatenate(([prev[1]], y))
        k0 = math.floor(prev[0] * rate_hz) + 1
    else:
        xs, ys = x, y
        k0 = math.ceil(x[0] * rate_hz)
    k1 = math.floor(x[-1] * rate_hz)
    grid = np.arange(k0, k1 + 1, dtype=float) / rate_hz if k1 >= k0 else np.empty(0)
    return grid, np.interp(grid, xs, ys), (float(x[-1]), float(y[-1]))


# -- range reduction ---------------------------------------------------------------------------
def clip(x: np.ndarray, y: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Samples with lo <= x <= hi, x-sorted."""
    xs, ys = sort_xy(x, y)
    a = int(np.searchsorted(xs, lo, side="left"))
    b = int(np.searchsorted(xs, hi, side="right"))
    return xs[a:b], ys[a:b]


def reduce_range(
    rows: Sequence[BlockRow],
    fetch: Callable[[list[int]], list[tuple[np.ndarray, np.ndarray]]],
    extra: Sequence[tuple[np.ndarray, np.ndarray]],
    lo: float,
    hi: float,
    max_n: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of stored blocks plus extra (unstored) samples in [lo, hi], decimated to ~max_n.

    Args:
        rows: index rows of the blocks that may overlap [lo, hi].
        fetch: reads the samples of the given block ids.
        extra: samples not (yet) in blocks, e.g. the unflushed tail in memory.
    """
    rows = [r for r in rows if r.xmax >= lo and r.xmin <= hi]
    n_est = sum(r.n for r in rows) + sum(len(e[0]) for e in extra)
    if n_est == 0:
        return np.empty(0), np.empty(0)
    n_buckets = max(1, (max_n or 0) // 2)
    if not max_n or n_est < n_buckets * SUMMARY_MIN_PER_BUCKET:
        segs = fetch([r.id for r in rows]) + list(extra)
        x = np.concatenate([s[0] for s in segs]) if segs else np.empty(0)
        y = np.concatenate([s[1] for s in segs]) if segs else np.empty(0)
        x, y = clip(x, y, lo, hi)
        if max_n and len(x) > max_n:
            return decimate_minmax([(x, y)], max_n)
        return x.copy(), y.copy()
    full = [r for r in rows if r.xmin >= lo and r.xmax <= hi]
    partial = [r for r in rows if not (r.xmin >= lo and r.xmax <= hi)]
    parts: list[np.ndarray] = []
    # span actually covered, so buckets are not wasted on empty time before/after the data
    span_lo = min([r.xmin for r in rows] + [float(np.min(e[0])) for e in extra if len(e[0])])
    span_hi = max([r.xmax for r in rows] + [float(np.max(e[0])) for e in extra if len(e[0])])
    b_lo, b_hi = max(lo, span_lo), min(hi, span_hi)
    per_bucket = n_est / n_buckets
    if full:
        typical = float(np.median([r.n for r in full]))
        if per_bucket >= 16 * typical:  # whole blocks are fine-grained enough
            parts.append(np.array([[r.xmin, r.xmax, r.ymin, r.ymax] for r in full]))
        else:
            parts.append(decode_summaries([r.summary for r in full]))
    segs = fetch([r.id for r in partial]) if partial else []
    for x, y in [*segs, *extra]:
        xs, ys = clip(x, y, lo, hi)
        if len(xs):
            parts.append(summarize(xs, ys))
    if not parts:
        return np.empty(0), np.empty(0)
    entries = np.concatenate(parts)
    return bucket_entries(entries, b_lo, b_hi, max_n)
