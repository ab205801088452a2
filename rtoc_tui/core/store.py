"""All signals of one logger: a name -> SignalBuffer map with RTOC's stream/plot semantics."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from .admission import MAX_UNIT, check_name, check_text
from .buffer import BufferFull, SignalBuffer

log = logging.getLogger(__name__)

# listener(buffer, n_new): called in the writer's thread after every append/plot
DataListener = Callable[[SignalBuffer, int], None]

HOLD_MODES = ("off", "on", "mergeX", "mergeY")
T = TypeVar("T")

# A ring whose unpersisted part passes this fraction of recordLength asks for a flush at once.
FLUSH_WATERMARK = 0.5
# How long a writer outside the event loop (a driver's stream(), an import) waits for storage to
# make room before the data is refused.
BLOCK_S = 2.0

# One planned append: (dname, sname, x, y, unit); x and y are floats (one sample) or arrays.
Append = tuple[str, str, Any, Any, "str | None"]


class FlushGate(Protocol):
    """What the store needs from storage to keep unpersisted samples (StorageService)."""

    def kick(self) -> None:
        """Flush as soon as possible."""

    def wait_flush(self, timeout: float) -> bool:
        """Block until the next flush has finished (True) or timeout (False)."""

    def failing(self) -> str | None:
        """Why storage cannot write now (None while it can)."""


async def retry_full(store: SignalStore, attempt: Callable[[], T], timeout: float) -> T:
    """attempt() (an all-or-nothing append) until it finds room: the event loop's way to wait
    for storage. Re-raises the last BufferFull after timeout, or at once when waiting cannot
    help (more than the ring holds, or storage failing)."""
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        try:
            return attempt()
        except BufferFull as exc:
            gate = store.gate
            failing = gate.failing() if gate is not None else None
            if exc.need > exc.capacity or failing is not None or time.monotonic() >= deadline:
                exc.failing = failing
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


def on_event_loop() -> bool:
    """True in a thread that runs an asyncio loop: it must never block waiting for storage."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class SignalInfo:
    """A snapshot of one signal's metadata."""

    id: int
    dname: str
    sname: str
    unit: str
    count: int
    written: int
    epoch: int
    updated: float
    latest: tuple[float, float] | None

    @property
    def name(self) -> str:
        return f"{self.dname}.{self.sname}"


class LimitError(ValueError):
    """A new signal or event over a configured limit (global.maxSignals, maxNameLength,
    maxEventBytes); the message names the limit and how to raise it."""


class SignalStore:
    """Thread-safe collection of signals keyed by (device, signal)."""

    def __init__(
        self, record_length: int = 500_000, max_signals: int = 0, max_name_length: int = 0
    ) -> None:
        if record_length < 1:
            raise ValueError("recordLength must be at least 1")
        self.record_length = record_length
        # 0: no limit. Checked only when a signal is created, so appends cost nothing more.
        self.max_signals = max_signals
        self.max_name_length = max_name_length
        self._signals: dict[tuple[str, str], SignalBuffer] = {}
        self._by_id: dict[int, SignalBuffer] = {}
        self._next_id = 1
        self._lock = threading.Lock()
        self.version = 0  # bumped when signals are added, removed or renamed
        self._listeners: list[DataListener] = []
        self._watch: dict[DataListener, frozenset[tuple[str, str]]] = {}
        self.gate: FlushGate | None = None  # set while storage persists this store
        self.block_s = BLOCK_S
        self._removed: list[Callable[[list[tuple[str, str]]], None]] = []

    # -- persistence ------------------------------------------------------------------------
    def persist(self, gate: FlushGate | None) -> None:
        """Protect unpersisted samples from the ring (gate) or stop doing so (None).

        A buffer's floor starts at its oldest sample held; storage advances it after each commit."""
        with self._lock:
            self.gate = gate
            for buf in self._signals.values():
                buf.floor = None if gate is None else buf.written - len(buf)

    def on_remove(self, fn: Callable[[list[tuple[str, str]]], None]) -> None:
        """Call fn([(dname, sname), ...]) after signals are deleted (storage deletes them too)."""
        self._removed.append(fn)

    def room_for(self, need: Mapping[tuple[str, str], int]) -> bool:
        """True if every (dname, sname) takes its number of new samples without overwriting
        unpersisted ones; asks storage for a flush when not."""
        gate = self.gate
        if gate is None:
            return True
        for key, n in need.items():
            buf = self._signals.get(key)
            if buf is None:
                if n > self.record_length:
                    raise BufferFull(
                        f"{key[0]}.{key[1]}", n, self.record_length, self.record_length
                    )
                continue
            room = buf.room()
            if room is not None and room < n:
                if n > buf.capacity:  # could never fit: waiting would not help
                    raise BufferFull(buf.name, n, max(0, room), buf.capacity)
                gate.kick()
                return False
        return True

    def wait_room(self, need: Mapping[tuple[str, str], int], timeout: float | None = None) -> bool:
        """Block until room_for(need) (True) or timeout (False); never waits on an event loop."""
        if self.room_for(need):
            return True
        gate = self.gate
        if gate is None or on_event_loop():
            return False
        deadline = time.monotonic() + (self.block_s if timeout is None else timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            gate.wait_flush(min(left, 0.5))
            if self.room_for(need):
                return True

    def _after_append(self, buf: SignalBuffer) -> None:
        floor = buf.floor
        if floor is not None and buf.written - floor > buf.capacity * FLUSH_WATERMARK:
            gate = self.gate
            if gate is not None:
                gate.kick()

    def _retry(
        self, buf: SignalBuffer, need: int, fn: Callable[[], None], wait: float | None
    ) -> None:
        """fn raised BufferFull: wait for room (outside an event loop) and try once more."""
        if not self.wait_room({(buf.dname, buf.sname): need}, wait):
            raise buf._full(need)
        fn()

    # -- listeners -------------------------------------------------------------------------
    def add_listener(self, fn: DataListener) -> None:
        self._listeners = [*self._listeners, fn]

    def remove_listener(self, fn: DataListener) -> None:
        self._listeners = [f for f in self._listeners if f is not fn]

    def watch(self, fn: DataListener, keys: Iterable[tuple[str, str]]) -> None:
        """Call fn(buffer, n_new) after appends to these (device, signal) keys only.

        Replaces fn's previous key set; an empty set unregisters it. Unlike add_listener, signals
        nobody watches pay nothing for it on the stream() hot path.
        """
        with self._lock:
            key_set = frozenset(keys)
            if key_set:
                self._watch[fn] = key_set
            else:
                self._watch.pop(fn, None)
            for buf in self._signals.values():
                buf.watchers = self._watchers_for((buf.dname, buf.sname))

    def _watchers_for(self, key: tuple[str, str]) -> tuple[DataListener, ...]:
        return tuple(fn for fn, keys in self._watch.items() if key in keys)

    def _notify(self, buf: SignalBuffer, n: int) -> None:
        for fn in (*self._listeners, *buf.watchers):
            try:
                fn(buf, n)
            except Exception:  # a listener must never break a driver's stream
                log.exception("data listener %r failed", fn)

    # -- lookup ----------------------------------------------------------------------------
    def get_or_create(self, dname: str, sname: str, unit: str | None = None) -> SignalBuffer:
        """The buffer for dname.sname, created on first use (unit set when given).

        InvalidInput for a name or unit no store could hold (checked once, at creation)."""
        key = (dname, sname)
        buf = self._signals.get(key)
        if buf is None:
            check_name("device name", dname)
            check_name("signal name", sname)
            if unit:
                check_text(f"unit of {dname}.{sname}", unit, MAX_UNIT)
            with self._lock:
                buf = self._signals.get(key)
                if buf is None:
                    self._check_new(dname, sname)
                    buf = SignalBuffer(self._next_id, dname, sname, unit or "", self.record_length)
                    if self.gate is not None:
                        buf.floor = 0
                    buf.watchers = self._watchers_for(key)
                    self._next_id += 1
                    self._signals[key] = buf
                    self._by_id[buf.id] = buf
                    self.version += 1
                    return buf
        if unit is not None and unit != buf.unit:
            buf.unit = check_text(f"unit of {dname}.{sname}", unit, MAX_UNIT)
        return buf

    def _check_new(self, dname: str, sname: str) -> None:
        longest = max(len(dname), len(sname))
        if self.max_name_length and longest > self.max_name_length:
            raise LimitError(
                f"signal name {dname[:32]}.{sname[:32]}... is {longest} characters long; at most "
                f"{self.max_name_length} are allowed (global.maxNameLength)"
            )
        if self.max_signals and len(self._signals) >= self.max_signals:
            raise LimitError(
                f"cannot create {dname[:64]}.{sname[:64]}: already {len(self._signals)} signals "
                f"(global.maxSignals); delete signals or raise the limit"
            )

    def get(self, name: str | tuple[str, str]) -> SignalBuffer | None:
        """Look a signal up by "Device.Signal" or (device, signal)."""
        if isinstance(name, tuple):
            return self._signals.get(name)
        dname, _, sname = name.partition(".")
        return self._signals.get((dname, sname))

    def by_id(self, sig_id: int) -> SignalBuffer | None:
        return self._by_id.get(sig_id)

    def buffers(self) -> list[SignalBuffer]:
        return list(self._signals.values())

    def names(self) -> list[str]:
        return [b.name for b in self._signals.values()]

    def __len__(self) -> int:
        return len(self._signals)

    def info(self) -> list[SignalInfo]:
        out = []
        for b in self.buffers():
            out.append(
                SignalInfo(
                    b.id,
                    b.dname,
                    b.sname,
                    b.unit,
                    len(b),
                    b.written,
                    b.epoch,
                    b.updated,
                    b.latest(),
                )
            )
        return out

    # -- writing ---------------------------------------------------------------------------
    def append_one(
        self,
        dname: str,
        sname: str,
        x: float,
        y: float,
        unit: str | None = None,
        wait: float | None = None,
    ) -> None:
        """The single-sample hot path used by stream(); BufferFull if storage cannot keep up."""
        buf = self._signals.get((dname, sname))
        if buf is None or (unit is not None and unit != buf.unit):
            buf = self.get_or_create(dname, sname, unit)
        try:
            buf.append_one(x, y)
        except BufferFull:
            self._retry(buf, 1, lambda: buf.append_one(x, y), wait)
        if buf.floor is not None:
            self._after_append(buf)
        if self._listeners or buf.watchers:
            self._notify(buf, 1)

    def append(
        self,
        dname: str,
        sname: str,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        unit: str | None = None,
        wait: float | None = None,
    ) -> SignalBuffer:
        """Append a batch of samples to one signal.

        wait: seconds to wait for storage to make room (default block_s; never on an event
        loop); BufferFull when it did not."""
        xa = np.asarray(x, dtype=float).reshape(-1)
        ya = np.asarray(y, dtype=float).reshape(-1)
        buf = self.get_or_create(dname, sname, unit)
        cap = buf.capacity
        if buf.floor is not None and len(xa) > cap and wait != 0 and not on_event_loop():
            # more than the ring holds: in ring-sized pieces, each waiting for the flush before
            for i in range(0, len(xa), cap):
                self.append(dname, sname, xa[i : i + cap], ya[i : i + cap], unit, wait)
            return buf
        try:
            buf.append(xa, ya)
        except BufferFull:
            self._retry(buf, len(xa), lambda: buf.append(xa, ya), wait)
        if buf.floor is not None:
            self._after_append(buf)
        if (self._listeners or buf.watchers) and len(xa):
            self._notify(buf, len(xa))
        return buf

    def apply(self, appends: Sequence[Append], wait: float | None = None) -> int:
        """Append planned samples all or nothing: BufferFull (nothing appended) when storage
        cannot make room in time. Returns the number of samples appended."""
        if len(appends) == 1 and not isinstance(appends[0][2], float):
            dname, sname, x, y, unit = appends[0]  # one batch: append() may split it
            self.append(dname, sname, x, y, unit, wait)
            return len(x)
        for dname, sname, _x, _y, unit in appends:  # all names checked before anything lands
            if (dname, sname) not in self._signals or unit:
                self._check(dname, sname, unit)
        if self.gate is not None:
            need: dict[tuple[str, str], int] = {}
            for dname, sname, x, _y, _u in appends:
                n = 1 if isinstance(x, float) else len(x)
                need[(dname, sname)] = need.get((dname, sname), 0) + n
            if not self.wait_room(need, wait):
                key = next(k for k, n in need.items() if not self.room_for({k: n}))
                buf = self.get_or_create(*key)
                raise buf._full(need[key])
        total = 0
        for dname, sname, x, y, unit in appends:
            if isinstance(x, float):
                self.append_one(dname, sname, x, y, unit, 0.0)
                total += 1
            else:
                self.append(dname, sname, x, y, unit, 0.0)
                total += len(x)
        return total

    def plot(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        sname: str,
        dname: str,
        unit: str | None = None,
        hold: str = "off",
        wait: float | None = None,
    ) -> SignalBuffer:
        """RTOC's plot(): hold off replaces, on appends, mergeX/mergeY add only new x/y values."""
        if hold not in HOLD_MODES:
            raise ValueError(f"hold must be one of {', '.join(HOLD_MODES)}, not {hold!r}")
        xa = np.asarray(x, dtype=float).reshape(-1)
        ya = np.asarray(y, dtype=float).reshape(-1)
        if len(xa) != len(ya):
            raise ValueError(f"x and y differ in length ({len(xa)} != {len(ya)})")
        buf = self.get_or_create(dname, sname, unit)
        if hold == "off":
            try:
                buf.replace(xa, ya)
            except BufferFull:  # the curve it replaces must be stored first
                self._retry(buf, buf.capacity, lambda: buf.replace(xa, ya), wait)
        elif hold == "on":
            try:
                buf.append(xa, ya)
            except BufferFull:
                self._retry(buf, len(xa), lambda: buf.append(xa, ya), wait)
        else:
            old_x, old_y = buf.copy()
            existing = old_x if hold == "mergeX" else old_y
            incoming = xa if hold == "mergeX" else ya
            keep = ~np.isin(incoming, existing)
            xk, yk = xa[keep], ya[keep]
            try:
                buf.append(xk, yk)
            except BufferFull:
                self._retry(buf, len(xk), lambda: buf.append(xk, yk), wait)
        if buf.floor is not None:
            self._after_append(buf)
        if self._listeners or buf.watchers:
            self._notify(buf, len(xa))
        return buf

    # -- housekeeping ----------------------------------------------------------------------
    def clear(self, names: Iterable[str] | None = None) -> None:
        """Clear the samples of all signals, or of the named ones (signals stay listed)."""
        for b in self._select(names):
            b.clear()

    def remove(self, names: Iterable[str] | None = None) -> None:
        """Delete signals entirely (all of them when names is None), in memory and in storage."""
        with self._lock:
            gone = self._select(names)
            for b in gone:
                self._signals.pop((b.dname, b.sname), None)
                self._by_id.pop(b.id, None)
            self.version += 1
            keys = [(b.dname, b.sname) for b in gone]
            for fn in self._removed:  # under the lock: a signal re-created at once comes after
                fn(keys)

    def resize(self, record_length: int, timeout: float | None = None) -> None:
        """Change recordLength for every signal, keeping the newest samples.

        With storage on, samples a smaller ring would drop are stored first; BufferFull if
        storage cannot do that in time (then nothing changed)."""
        if record_length < 1:
            raise ValueError("recordLength must be at least 1")
        gate = self.gate
        if gate is not None:
            deadline = time.monotonic() + (self.block_s if timeout is None else timeout)
            while True:
                over = [b for b in self.buffers() if b.unflushed() > record_length]
                if not over:
                    break
                left = deadline - time.monotonic()
                if left <= 0 or on_event_loop():
                    gate.kick()
                    b = over[0]
                    raise BufferFull(b.name, b.unflushed(), 0, b.capacity)
                gate.kick()
                gate.wait_flush(min(left, 0.5))
        self.record_length = record_length
        for b in self.buffers():
            b.resize(record_length)

    async def resize_waiting(self, record_length: int, timeout: float) -> None:
        """resize() from an event loop: waits (without blocking it) for storage to store what
        a smaller ring would drop; BufferFull if it did not within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.resize(record_length)
                return
            except BufferFull:
                gate = self.gate
                if time.monotonic() >= deadline or (gate is not None and gate.failing()):
                    raise
            await asyncio.sleep(0.01)

    def _check(self, dname: str, sname: str, unit: str | None) -> None:
        buf = self._signals.get((dname, sname))
        if buf is None:
            check_name("device name", dname)
            check_name("signal name", sname)
            self._check_new(dname, sname)  # the configured limits, before anything lands
        if unit and (buf is None or unit != buf.unit):
            check_text(f"unit of {dname}.{sname}", unit, MAX_UNIT)

    def _select(self, names: Iterable[str] | None) -> list[SignalBuffer]:
        if names is None:
            return self.buffers()
        out = []
        for n in names:
            b = self.get(n)
            if b is not None:
                out.append(b)
        return out

    def total_samples(self) -> int:
        return sum(len(b) for b in self.buffers())

    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.buffers())
