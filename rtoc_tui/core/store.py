"""All signals of one logger: a name -> SignalBuffer map with RTOC's stream/plot semantics."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from .buffer import SignalBuffer

log = logging.getLogger(__name__)

# listener(buffer, n_new): called in the writer's thread after every append/plot
DataListener = Callable[[SignalBuffer, int], None]

HOLD_MODES = ("off", "on", "mergeX", "mergeY")


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
        """The buffer for dname.sname, created on first use (unit set when given)."""
        key = (dname, sname)
        buf = self._signals.get(key)
        if buf is None:
            with self._lock:
                buf = self._signals.get(key)
                if buf is None:
                    self._check_new(dname, sname)
                    buf = SignalBuffer(self._next_id, dname, sname, unit or "", self.record_length)
                    buf.watchers = self._watchers_for(key)
                    self._next_id += 1
                    self._signals[key] = buf
                    self._by_id[buf.id] = buf
                    self.version += 1
                    return buf
        if unit is not None and unit != buf.unit:
            buf.unit = unit
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
        self, dname: str, sname: str, x: float, y: float, unit: str | None = None
    ) -> None:
        """The single-sample hot path used by stream()."""
        buf = self._signals.get((dname, sname))
        if buf is None or (unit is not None and unit != buf.unit):
            buf = self.get_or_create(dname, sname, unit)
        buf.append_one(x, y)
        if self._listeners or buf.watchers:
            self._notify(buf, 1)

    def append(self, dname: str, sname: str, x, y, unit: str | None = None) -> SignalBuffer:
        """Append a batch of samples to one signal."""
        xa = np.asarray(x, dtype=float).reshape(-1)
        ya = np.asarray(y, dtype=float).reshape(-1)
        buf = self.get_or_create(dname, sname, unit)
        buf.append(xa, ya)
        if (self._listeners or buf.watchers) and len(xa):
            self._notify(buf, len(xa))
        return buf

    def plot(
        self, x, y, sname: str, dname: str, unit: str | None = None, hold: str = "off"
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
            buf.replace(xa, ya)
        elif hold == "on":
            buf.append(xa, ya)
        else:
            old_x, old_y = buf.copy()
            existing = old_x if hold == "mergeX" else old_y
            incoming = xa if hold == "mergeX" else ya
            keep = ~np.isin(incoming, existing)
            buf.append(xa[keep], ya[keep])
        if self._listeners or buf.watchers:
            self._notify(buf, len(xa))
        return buf

    # -- housekeeping ----------------------------------------------------------------------
    def clear(self, names: Iterable[str] | None = None) -> None:
        """Clear the samples of all signals, or of the named ones (signals stay listed)."""
        for b in self._select(names):
            b.clear()

    def remove(self, names: Iterable[str] | None = None) -> None:
        """Delete signals entirely (all of them when names is None)."""
        with self._lock:
            for b in self._select(names):
                self._signals.pop((b.dname, b.sname), None)
                self._by_id.pop(b.id, None)
            self.version += 1

    def resize(self, record_length: int) -> None:
        """Change recordLength for every signal, keeping the newest samples."""
        if record_length < 1:
            raise ValueError("recordLength must be at least 1")
        self.record_length = record_length
        for b in self.buffers():
            b.resize(record_length)

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
