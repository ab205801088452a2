"""The event list: capped, with cursors for incremental reads and listeners."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .admission import MAX_NAME, safe_text, safe_value

log = logging.getLogger(__name__)

PRIORITY_NAMES = {0: "info", 1: "warning", 2: "error"}


@dataclass(frozen=True, slots=True)
class Event:
    """One event, as RTOC defines it (x, text, device, signal, priority, id, value)."""

    seq: int
    x: float
    text: str
    dname: str
    sname: str
    priority: int = 0
    id: str = ""
    value: Any = None

    @property
    def name(self) -> str:
        return f"{self.dname}.{self.sname}"

    def to_rtoc(self) -> list[Any]:
        """RTOC's list form: [x, text, priority, value, id] (as getEvent/getEventList send it)."""
        return [self.x, self.text, self.priority, self.value, self.id]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "x": self.x,
            "text": self.text,
            "dname": self.dname,
            "sname": self.sname,
            "priority": self.priority,
            "id": self.id,
            "value": self.value,
        }


EventListener = Callable[[Event], None]


@dataclass
class EventLog:
    """Thread-safe capped event list; the oldest events drop out first."""

    max_events: int = 10_000
    max_event_bytes: int = 0  # 0: no limit; else text and value together (global.maxEventBytes)
    _events: deque[Event] = field(init=False)
    _seq: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _listeners: list[EventListener] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._events = deque(maxlen=self.max_events)

    def _check_size(self, text: Any, value: Any) -> None:
        size = len(text) if isinstance(text, str) else len(repr(text))
        if value is not None and not isinstance(value, bool | int | float):
            size += len(value) if isinstance(value, str | bytes) else len(repr(value))
        if size > self.max_event_bytes:
            from .store import LimitError

            raise LimitError(
                f"event of about {size} bytes exceeds global.maxEventBytes "
                f"({self.max_event_bytes}); send a shorter text or value"
            )

    def add_listener(self, fn: EventListener) -> None:
        self._listeners = [*self._listeners, fn]

    def remove_listener(self, fn: EventListener) -> None:
        self._listeners = [f for f in self._listeners if f is not fn]

    def add(
        self,
        text: str,
        dname: str = "",
        sname: str = "",
        priority: int = 0,
        id: str | None = None,
        value: Any = None,
        x: float | None = None,
        notify: bool = True,
    ) -> Event:
        """Record an event and notify listeners (in the caller's thread) unless notify is False.


        Texts and the value are made storable (admission.safe_text/safe_value): what clients
        send is checked strictly before it gets here; this keeps internal texts safe.
        LimitError (core.store) for an event larger than max_event_bytes."""
        if self.max_event_bytes:
            self._check_size(text, value)
        try:
            prio = int(priority)
        except (TypeError, ValueError):
            prio = 0
        prio = min(2, max(0, prio))
        with self._lock:
            self._seq += 1
            ev = Event(
                seq=self._seq,
                x=float(time.time() if x is None else x),
                text=safe_text(text),
                dname=safe_text(dname or "", MAX_NAME),
                sname=safe_text(sname or "", MAX_NAME),
                priority=prio,
                id=safe_text(id or "", MAX_NAME),
                value=safe_value(value),
            )
            self._events.append(ev)
        for fn in self._listeners if notify else ():
            try:
                fn(ev)
            except Exception:
                log.exception("event listener %r failed", fn)
        return ev

    def restore(self, events: Iterable[Any]) -> None:
        """Re-add stored or imported events (anything with Event's fields) without notifying
        listeners: old alarms must not fire their actions again."""
        for e in events:
            self.add(
                e.text,
                dname=e.dname,
                sname=e.sname,
                priority=e.priority,
                id=e.id,
                value=e.value,
                x=e.x,
                notify=False,
            )

    @property
    def last_seq(self) -> int:
        return self._seq

    def since(self, cursor: int = 0) -> list[Event]:
        """Events with seq > cursor, oldest first."""
        with self._lock:
            if not self._events or self._events[-1].seq <= cursor:
                return []
            return [e for e in self._events if e.seq > cursor]

    def all(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def for_signal(self, name: str) -> list[Event]:
        dname, _, sname = name.partition(".")
        return [e for e in self.all() if e.dname == dname and e.sname == sname]

    def clear(self) -> None:
        with self._lock:
            self._events.clear()

    def __len__(self) -> int:
        return len(self._events)
