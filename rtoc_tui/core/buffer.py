"""One signal's samples: a numpy ring buffer of x and y, oldest sample dropped first.

Memory is 16 bytes a sample (two float64 arrays). The arrays grow geometrically up to the
capacity (recordLength), so a signal with ten samples does not hold 8 MB.

Readers never see the live arrays: they get copies, reads after a cursor, or a decimated window.
A cursor is the signal's `written` count (samples ever appended); it only grows, so a reader
can tell how much it missed when the ring wrapped past its cursor.

With storage on, `floor` is the cursor up to which the samples are persisted, and the ring never
overwrites a sample at or after it: an append that would do so raises BufferFull and changes
nothing (the writer waits for a flush, or refuses the data before acknowledging it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..decimate import Segment, WindowStats, clip_segments, decimate_minmax, window_stats

_MIN_ALLOC = 256


class BufferFull(Exception):
    """An append would overwrite samples that are not persisted yet (nothing was appended)."""

    def __init__(self, name: str, need: int, room: int, capacity: int) -> None:
        super().__init__(
            f"{name}: {capacity - room} samples are waiting to be stored and the ring holds "
            f"{capacity} (recordLength); {need} more do not fit until storage catches up"
        )
        self.name = name
        self.need = need
        self.room = room
        self.capacity = capacity
        self.failing: str | None = None  # why storage cannot write, when that is the reason

    def advice(self) -> str:
        """What a client should do about it, in words."""
        if self.need > self.capacity:
            return (
                f"not stored: {self.need} samples for {self.name} in one request, but the ring "
                f"holds {self.capacity} (recordLength); send at most that many per signal per "
                "request"
            )
        if self.failing is not None:
            return (
                f"not stored: storage is failing ({self.failing}) and {self.name} holds "
                f"{self.capacity} samples that are not stored yet; send the data again later"
            )
        return (
            f"not stored: storage cannot keep up ({self}); nothing of this request was stored, "
            "send it again later or more slowly"
        )


@dataclass(frozen=True, slots=True)
class ReadResult:
    """Samples read after a cursor."""

    x: np.ndarray
    y: np.ndarray
    cursor: int  # pass back next time
    missed: int  # samples dropped from the ring before this reader saw them
    epoch: int  # changes when the signal was replaced or cleared


class SignalBuffer:
    """Thread-safe ring buffer of (x, y) float64 samples for one signal."""

    __slots__ = (
        "id",
        "dname",
        "sname",
        "unit",
        "_capacity",
        "_x",
        "_y",
        "_start",
        "_count",
        "written",
        "epoch",
        "replaced",
        "cleared",
        "floor",
        "replace_n",
        "updated",
        "lock",
        "watchers",
    )

    def __init__(self, sig_id: int, dname: str, sname: str, unit: str, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.id = sig_id
        self.dname = dname
        self.sname = sname
        self.unit = unit
        self._capacity = capacity
        alloc = min(capacity, _MIN_ALLOC)
        self._x = np.empty(alloc)
        self._y = np.empty(alloc)
        self._start = 0
        self._count = 0
        self.written = 0
        self.epoch = 0
        self.replaced = 0  # cursor where the newest replace() began (the curve in memory)
        self.replace_n = 0  # samples the newest replace() wrote
        self.cleared = 0  # cursor where the newest clear() began (storage drops older samples)
        # Persisted up to this cursor (set by storage); None: memory only, the ring may overwrite.
        self.floor: int | None = None
        self.updated = 0.0  # wall clock of the last append (inactivity mark)
        self.lock = threading.Lock()
        # store listeners interested in this signal only (store.DataListener; see SignalStore.watch)
        self.watchers: tuple[Callable[[SignalBuffer, int], None], ...] = ()

    # -- properties -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"{self.dname}.{self.sname}"

    @property
    def capacity(self) -> int:
        return self._capacity

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        return self._x.nbytes + self._y.nbytes

    def room(self) -> int | None:
        """How many samples fit before the ring would overwrite unpersisted ones (None: no limit)."""
        floor = self.floor
        if floor is None:
            return None
        return self._capacity - (self.written - floor)

    def unflushed(self) -> int:
        """Samples after the persisted cursor (0 without storage)."""
        floor = self.floor
        return 0 if floor is None else self.written - floor

    def _full(self, need: int) -> BufferFull:
        room = self.room()
        return BufferFull(self.name, need, 0 if room is None else max(0, room), self._capacity)

    # -- writing ----------------------------------------------------------------------------
    def append_one(self, x: float, y: float) -> None:
        """Append one sample; when full, the oldest (persisted) sample is overwritten."""
        with self.lock:
            floor = self.floor
            if floor is not None and self.written - floor >= self._capacity:
                raise self._full(1)
            xa = self._x
            alloc = len(xa)
            n = self._count
            if n < alloc:
                i = self._start + n
                if i >= alloc:
                    i -= alloc
                xa[i] = x
                self._y[i] = y
                self._count = n + 1
            elif alloc < self._capacity:
                self._grow(n + 1)
                self._x[n] = x
                self._y[n] = y
                self._count = n + 1
            else:
                i = self._start
                xa[i] = x
                self._y[i] = y
                i += 1
                self._start = 0 if i == alloc else i
            self.written += 1
            self.updated = time.time()

    def append(self, x: np.ndarray, y: np.ndarray) -> None:
        """Append a batch (x and y of equal length); keeps the newest `capacity` samples."""
        n_new = len(x)
        if n_new == 0:
            return
        if len(y) != n_new:
            raise ValueError(f"x and y differ in length ({n_new} != {len(y)})")
        with self.lock:
            floor = self.floor
            if floor is not None and self.written - floor + n_new > self._capacity:
                raise self._full(n_new)
            self._append_locked(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
            self.updated = time.time()

    def _append_locked(self, x: np.ndarray, y: np.ndarray) -> None:
        n_new = len(x)
        cap = self._capacity
        self.written += n_new
        if n_new >= cap:  # the batch alone fills the buffer: keep its tail
            self._ensure_alloc(cap)
            self._x[:] = x[-cap:]
            self._y[:] = y[-cap:]
            self._start = 0
            self._count = cap
            return
        need = self._count + n_new
        if need > len(self._x) and len(self._x) < cap:
            self._grow(need)
        alloc = len(self._x)
        end = self._start + self._count  # first free slot, unwrapped
        overflow = self._count + n_new - alloc  # samples to drop from the front
        i = end % alloc
        first = min(n_new, alloc - i)
        self._x[i : i + first] = x[:first]
        self._y[i : i + first] = y[:first]
        if first < n_new:
            rest = n_new - first
            self._x[:rest] = x[first:]
            self._y[:rest] = y[first:]
        if overflow > 0:
            self._start = (self._start + overflow) % alloc
            self._count = alloc
        else:
            self._count += n_new

    @property
    def appended(self) -> int:
        """Samples appended (not written by a plot replace) since the newest replace: the
        history a replace would discard (a plot-only signal, e.g. a spectrum, has none)."""
        return self.written - self.replaced - self.replace_n

    def replace(self, x: np.ndarray, y: np.ndarray) -> None:
        """Replace the samples in memory (RTOC plot with hold='off'); storage keeps the old ones.

        With storage on, the old samples must be persisted first (BufferFull otherwise)."""
        with self.lock:
            floor = self.floor
            if floor is not None and (self.written > floor or len(x) > self._capacity):
                raise self._full(len(x))
            self._start = 0
            self._count = 0
            self.epoch += 1
            self.replaced = self.written
            self.replace_n = len(x)
            if len(x):
                self._append_locked(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
            self.updated = time.time()

    def clear(self) -> None:
        """Drop all samples (storage drops the stored ones too); the cursor keeps counting so
        readers are not confused."""
        with self.lock:
            self._start = 0
            self._count = 0
            self.epoch += 1
            self.cleared = self.written
            if self.floor is not None:
                self.floor = self.written  # nothing left to protect: the user dropped it
            alloc = min(self._capacity, _MIN_ALLOC)
            self._x = np.empty(alloc)
            self._y = np.empty(alloc)

    def drop_before(self, cursor: int) -> int:
        """Drop the samples before `cursor` from memory (backup.clear); returns how many."""
        with self.lock:
            oldest = self.written - self._count
            k = min(self._count, max(0, cursor - oldest))
            if k:
                self._start = (self._start + k) % len(self._x)
                self._count -= k
            return k

    def resize(self, capacity: int) -> None:
        """Change the capacity at runtime, keeping the newest samples.

        With storage on, shrinking below the unpersisted samples raises BufferFull (flush first)."""
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        with self.lock:
            floor = self.floor
            if floor is not None and self.written - floor > capacity:
                raise BufferFull(self.name, self.written - floor, 0, capacity)
            x, y = self._copy_locked()
            keep = min(len(x), capacity)
            self._capacity = capacity
            alloc = max(min(capacity, _MIN_ALLOC), keep)
            self._x = np.empty(alloc)
            self._y = np.empty(alloc)
            self._x[:keep] = x[len(x) - keep :]
            self._y[:keep] = y[len(y) - keep :]
            self._start = 0
            self._count = keep

    def _ensure_alloc(self, size: int) -> None:
        if len(self._x) != size:
            self._x = np.empty(size)
            self._y = np.empty(size)

    def _grow(self, need: int) -> None:
        """Grow (data is linear here: the ring only wraps once alloc == capacity)."""
        alloc = len(self._x)
        new = alloc
        while new < need:
            new *= 2
        new = min(new, self._capacity)
        x, y = self._copy_locked()
        self._x = np.empty(new)
        self._y = np.empty(new)
        self._x[: len(x)] = x
        self._y[: len(y)] = y
        self._start = 0

    # -- reading ----------------------------------------------------------------------------
    def _segments_locked(self) -> list[Segment]:
        """The samples in order as at most two views (valid only while the lock is held)."""
        alloc = len(self._x)
        s, n = self._start, self._count
        if s + n <= alloc:
            return [(self._x[s : s + n], self._y[s : s + n])]
        k = alloc - s
        return [(self._x[s:], self._y[s:]), (self._x[: n - k], self._y[: n - k])]

    def _copy_locked(self) -> tuple[np.ndarray, np.ndarray]:
        segs = self._segments_locked()
        if len(segs) == 1:
            return segs[0][0].copy(), segs[0][1].copy()
        return np.concatenate([s[0] for s in segs]), np.concatenate([s[1] for s in segs])

    def copy(self) -> tuple[np.ndarray, np.ndarray]:
        """All samples, oldest first, as new arrays."""
        with self.lock:
            return self._copy_locked()

    def latest(self) -> tuple[float, float] | None:
        """The newest (x, y) sample, or None when empty."""
        with self.lock:
            if self._count == 0:
                return None
            i = (self._start + self._count - 1) % len(self._x)
            return float(self._x[i]), float(self._y[i])

    def ends(self) -> tuple[float, float, float] | None:
        """(oldest x, newest x, newest y) under one lock, or None when empty (RTOC getLatest)."""
        with self.lock:
            n = self._count
            if n == 0:
                return None
            s = self._start
            i = s + n - 1
            if i >= len(self._x):
                i -= len(self._x)
            return float(self._x[s]), float(self._x[i]), float(self._y[i])

    def read_since(self, cursor: int, max_samples: int | None = None) -> ReadResult:
        """Samples appended after `cursor` (a previous ReadResult.cursor, or 0)."""
        with self.lock:
            oldest = self.written - self._count  # cursor value of the oldest sample held
            missed = max(0, oldest - cursor)
            first = max(cursor, oldest)
            n = self.written - first
            if max_samples is not None and n > max_samples:
                n = max_samples
            if n <= 0:
                return ReadResult(
                    np.empty(0),
                    np.empty(0),
                    min(cursor, self.written),  # nothing new: stay (a cursor past the end resets)
                    missed,
                    self.epoch,
                )
            offset = first - oldest
            alloc = len(self._x)
            idx0 = (self._start + offset) % alloc
            if idx0 + n <= alloc:
                x = self._x[idx0 : idx0 + n].copy()
                y = self._y[idx0 : idx0 + n].copy()
            else:
                k = alloc - idx0
                x = np.concatenate((self._x[idx0:], self._x[: n - k]))
                y = np.concatenate((self._y[idx0:], self._y[: n - k]))
            return ReadResult(x, y, first + n, missed, self.epoch)

    def _is_sorted_locked(self, segs: list[Segment]) -> bool:
        prev = -np.inf
        for xs, _ in segs:
            if len(xs) == 0:
                continue
            if xs[0] < prev or (len(xs) > 1 and not bool(np.all(xs[1:] >= xs[:-1]))):
                return False
            prev = xs[-1]
        return True

    def window(
        self, xmin: float | None = None, xmax: float | None = None, n_points: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Samples with xmin <= x <= xmax, min/max-decimated to about n_points if given.

        Streamed data is sorted by x (time) and is clipped with binary search. XY data from
        plot() may be unsorted; it is sorted first (a copy) so the window means the same.
        """
        with self.lock:
            segs = self._segments_locked()
            if not self._monotonic_hint(segs):
                x, y = self._copy_locked()
                order = np.argsort(x, kind="stable")
                segs = [(x[order], y[order])]
            segs = clip_segments(segs, xmin, xmax)
            if n_points is None:
                if not segs:
                    return np.empty(0), np.empty(0)
                return (
                    np.concatenate([s[0] for s in segs]),
                    np.concatenate([s[1] for s in segs]),
                )
            return decimate_minmax(segs, n_points)

    def _monotonic_hint(self, segs: list[Segment]) -> bool:
        # Checking a 500k-sample buffer fully costs ~0.3 ms; check the ends and a stride,
        # which catches XY data from plot() (usually unsorted everywhere) cheaply.
        total = sum(len(s[0]) for s in segs)
        if total < 4096:
            return self._is_sorted_locked(segs)
        prev = -np.inf
        for xs, _ in segs:
            if len(xs) == 0:
                continue
            sample = xs[:: max(1, len(xs) // 512)]
            if sample[0] < prev or not bool(np.all(sample[1:] >= sample[:-1])):
                return False
            if xs[-1] < sample[-1]:
                return False
            prev = xs[-1]
        return True

    def stats(self, xmin: float | None = None, xmax: float | None = None) -> WindowStats | None:
        """min/max/mean/count/integral over xmin <= x <= xmax (None when no samples)."""
        with self.lock:
            segs = clip_segments(self._segments_locked(), xmin, xmax)
            return window_stats(segs)
