"""Where exported data comes from: a running logger (memory + storage) or a store on its own (CLI)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..core.events import Event
from ..storage.base import StorageEngine, StorageError

if TYPE_CHECKING:
    from ..core.logger import Logger

Chunk = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True, slots=True)
class SourceSignal:
    """A signal a source can export."""

    name: str
    unit: str
    count: int  # samples (an estimate where the source cannot know cheaply)


class DataSource(Protocol):
    """Signals and events to export or save as a session."""

    def signals(self) -> list[SourceSignal]: ...

    def chunks(self, name: str, xmin: float | None, xmax: float | None) -> Iterator[Chunk]: ...

    def events(self, xmin: float | None, xmax: float | None) -> list[Event]: ...


def _in_range(e: Event, xmin: float | None, xmax: float | None) -> bool:
    return (xmin is None or e.x >= xmin) and (xmax is None or e.x <= xmax)


class LoggerSource:
    """A logger's data: memory only, or (full=True and storage attached) everything stored too."""

    def __init__(self, logger: Logger, full: bool = True) -> None:
        self.logger = logger
        self.storage = logger.storage if full else None

    def signals(self) -> list[SourceSignal]:
        out = {b.name: SourceSignal(b.name, b.unit, len(b)) for b in self.logger.store.buffers()}
        if self.storage is not None:
            for s in self.storage.signals():
                mem = out.get(s.name)
                out[s.name] = SourceSignal(
                    s.name, mem.unit if mem else s.unit, s.count + (mem.count if mem else 0)
                )
        return list(out.values())

    def chunks(self, name: str, xmin: float | None, xmax: float | None) -> Iterator[Chunk]:
        if self.storage is not None:
            yield from self.storage.iter_samples(name, xmin, xmax)
            return
        buf = self.logger.store.get(name)
        if buf is not None:
            yield buf.window(xmin, xmax)

    def events(self, xmin: float | None, xmax: float | None) -> list[Event]:
        if self.storage is not None:
            return self.storage.events(xmin, xmax)
        return [e for e in self.logger.events.all() if _in_range(e, xmin, xmax)]


class EngineSource:
    """What a store holds, read without a running logger (`rtoc export`)."""

    def __init__(self, engine: StorageEngine) -> None:
        self.engine = engine
        self._ids = {s.name: s.id for s in engine.signals()}

    def signals(self) -> list[SourceSignal]:
        return [SourceSignal(s.name, s.unit, s.count) for s in self.engine.signals()]

    def chunks(self, name: str, xmin: float | None, xmax: float | None) -> Iterator[Chunk]:
        sig_id = self._ids.get(name)
        if sig_id is None:
            raise StorageError(f"no stored signal named {name!r}")
        yield from self.engine.iter_samples(sig_id, xmin, xmax)

    def events(self, xmin: float | None, xmax: float | None) -> list[Event]:
        return self.engine.events(xmin, xmax)
