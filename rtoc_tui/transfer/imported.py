"""Imported data and where it goes: into a running logger, or straight into a store (CLI)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.events import Event
from ..storage.base import SignalWrite, StorageEngine, WriteBatch
from .progress import NullProgress, ProgressSink

if TYPE_CHECKING:
    from ..core.logger import Logger

log = logging.getLogger("rtoc.transfer")

ENGINE_CHUNK = 1_048_576  # samples per transaction when importing into a store


@dataclass
class ImportedSignal:
    """One signal read from a file."""

    dname: str
    sname: str
    unit: str
    x: np.ndarray
    y: np.ndarray

    @property
    def name(self) -> str:
        return f"{self.dname}.{self.sname}"


@dataclass
class ImportedEvent:
    x: float
    text: str
    dname: str = ""
    sname: str = ""
    priority: int = 0
    id: str = ""
    value: Any = None


@dataclass
class Imported:
    """Everything a file held."""

    signals: list[ImportedSignal] = field(default_factory=list)
    events: list[ImportedEvent] = field(default_factory=list)
    scripts: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    source_format: str = ""

    @property
    def samples(self) -> int:
        return sum(len(s.x) for s in self.signals)


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    signals: int
    samples: int
    events: int
    scripts: tuple[str, ...] = ()
    settings_applied: bool = False
    dropped: int = 0  # samples that did not fit in memory and had no store to go to


def import_into_logger(
    logger: Logger, data: Imported, progress: ProgressSink | None = None
) -> ImportResult:
    """Add imported signals and events to a running logger.

    With storage attached, samples go to memory in pieces of half a recordLength and each piece
    is flushed before the next, so nothing is lost to the ring; without storage only the newest
    recordLength samples of each signal stay (the rest are counted as dropped).
    """
    progress = progress or NullProgress()
    storage = logger.storage
    piece = max(1, logger.store.record_length // 2)
    dropped = 0
    progress.start(f"Importing {len(data.signals)} signals", data.samples or None)
    for s in data.signals:
        if storage is None:
            dropped += max(0, len(s.x) - logger.store.record_length)
            logger.store.append(s.dname, s.sname, s.x, s.y, s.unit)
            progress.advance(len(s.x))
            continue
        for i in range(0, max(1, len(s.x)), piece):
            logger.store.append(s.dname, s.sname, s.x[i : i + piece], s.y[i : i + piece], s.unit)
            if len(s.x) > piece:
                storage.flush_now()
            progress.advance(len(s.x[i : i + piece]))
    logger.events.restore(data.events)  # imported alarms must not fire actions again
    progress.finish()
    if dropped:
        log.warning(
            "import: %d samples did not fit in memory (recordLength) and storage is off", dropped
        )
    return ImportResult(len(data.signals), data.samples, len(data.events), dropped=dropped)


def import_into_engine(
    engine: StorageEngine, data: Imported, progress: ProgressSink | None = None
) -> ImportResult:
    """Write imported signals and events straight into a store (no logger running)."""
    progress = progress or NullProgress()
    progress.start(f"Importing {len(data.signals)} signals", data.samples or None)
    for s in data.signals:
        for i in range(0, max(1, len(s.x)), ENGINE_CHUNK):
            x, y = s.x[i : i + ENGINE_CHUNK], s.y[i : i + ENGINE_CHUNK]
            engine.write(WriteBatch(signals=[SignalWrite(s.dname, s.sname, s.unit, x, y)]))
            progress.advance(len(x))
    if data.events:
        engine.write(
            WriteBatch(
                events=[
                    Event(0, e.x, e.text, e.dname, e.sname, e.priority, e.id, e.value)
                    for e in data.events
                ]
            )
        )
    progress.finish()
    return ImportResult(len(data.signals), data.samples, len(data.events))
