"""Imported data and where it goes: into a running logger, or straight into a store (CLI)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..core.events import Event
from ..storage.base import SignalWrite, StorageEngine, WriteBatch
from .model import (
    Imported,
    ImportedEvent,
    ImportedSignal,
    ImportIncomplete,
    ImportResult,
    validate,
)
from .progress import NullProgress, ProgressSink

__all__ = [
    "ImportIncomplete",
    "ImportResult",
    "Imported",
    "ImportedEvent",
    "ImportedSignal",
    "import_into_engine",
    "import_into_logger",
]

if TYPE_CHECKING:
    from ..core.logger import Logger

log = logging.getLogger("rtoc.transfer")

ENGINE_CHUNK = 1_048_576  # samples per SignalWrite (all of them go in one transaction)


def import_into_logger(
    logger: Logger, data: Imported, progress: ProgressSink | None = None
) -> ImportResult:
    """Add imported signals and events to a running logger, all or (on a failure) a known part.

    The data is checked first, so a bad name or length stores nothing. With storage attached,
    samples go to memory in pieces of half a recordLength and each piece is flushed before the
    next, so nothing is lost to the ring; without storage only the newest recordLength samples
    of each signal stay (the rest are counted as dropped). Should storage fail part way,
    ImportIncomplete says how many samples of which signal were stored.
    """
    validate(data)
    progress = progress or NullProgress()
    storage = logger.storage
    piece = max(1, logger.store.record_length // 2)
    dropped = 0
    stored: list[tuple[str, int]] = []
    progress.start(f"Importing {len(data.signals)} signals", data.samples or None)
    for s in data.signals:
        if storage is None:
            dropped += max(0, len(s.x) - logger.store.record_length)
            logger.store.append(s.dname, s.sname, s.x, s.y, s.unit)
            stored.append((s.name, len(s.x)))
            progress.advance(len(s.x))
            continue
        done = 0
        try:
            for i in range(0, max(1, len(s.x)), piece):
                logger.store.append(
                    s.dname, s.sname, s.x[i : i + piece], s.y[i : i + piece], s.unit
                )
                if len(s.x) > piece:
                    storage.flush_now()
                done += len(s.x[i : i + piece])
                progress.advance(len(s.x[i : i + piece]))
        except Exception as exc:
            raise ImportIncomplete(
                f"import failed at {s.name}: {exc}", [*stored, (s.name, done)]
            ) from exc
        stored.append((s.name, done))
    logger.events.restore(data.events)  # imported alarms must not fire actions again
    progress.finish()
    if dropped:
        log.warning(
            "import: %d samples did not fit in memory (recordLength) and storage is off", dropped
        )
    return ImportResult(
        len(data.signals), data.samples, len(data.events), dropped=dropped, stored=tuple(stored)
    )


def import_into_engine(
    engine: StorageEngine, data: Imported, progress: ProgressSink | None = None
) -> ImportResult:
    """Write imported signals and events straight into a store (no logger running), in one
    transaction: all of it is stored or none."""
    validate(data)
    progress = progress or NullProgress()
    progress.start(f"Storing {data.samples:,} samples in one transaction", data.samples or None)
    batch = WriteBatch()
    for s in data.signals:
        for i in range(0, max(1, len(s.x)), ENGINE_CHUNK):
            x, y = s.x[i : i + ENGINE_CHUNK], s.y[i : i + ENGINE_CHUNK]
            batch.signals.append(SignalWrite(s.dname, s.sname, s.unit, x, y))
    batch.events = [
        Event(0, e.x, e.text, e.dname, e.sname, e.priority, e.id, e.value) for e in data.events
    ]
    engine.write(batch)
    progress.advance(data.samples)
    progress.finish()
    return ImportResult(
        len(data.signals),
        data.samples,
        len(data.events),
        stored=tuple((s.name, len(s.x)) for s in data.signals),
    )
