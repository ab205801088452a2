"""Imported data and where it goes: into a running logger, or straight into a store (CLI)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

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


def new_samples(
    s: ImportedSignal, existing: tuple[np.ndarray, np.ndarray] | None
) -> ImportedSignal:
    """s without the samples (same x and same y) that are already there: importing a file twice
    does not store its samples twice. Samples with a new value at a known x are kept."""
    if existing is None or not len(existing[0]) or not len(s.x):
        return s
    have = existing[0] + 1j * existing[1]  # exact pair comparison in one array
    keep = ~np.isin(s.x + 1j * s.y, have)
    if keep.all():
        return s
    return ImportedSignal(s.dname, s.sname, s.unit, s.x[keep], s.y[keep])


def _dedupe(data: Imported, existing: Callable[[ImportedSignal], Any]) -> tuple[Imported, int]:
    """data with the already stored samples left out, and how many were left out."""
    signals, skipped = [], 0
    for s in data.signals:
        fresh = new_samples(s, existing(s) if len(s.x) else None)
        skipped += len(s.x) - len(fresh.x)
        signals.append(fresh)
    if not skipped:
        return data, 0
    out = Imported(
        signals, data.events, data.scripts, data.settings, data.source_format, list(data.notes)
    )
    out.notes.append(f"{skipped:,} samples were already stored and were not stored again")
    return out, skipped


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

    def existing(s: ImportedSignal) -> tuple[np.ndarray, np.ndarray] | None:
        lo, hi = float(np.min(s.x)), float(np.max(s.x))
        if storage is not None:
            return storage.query(s.name, lo, hi, None)
        buf = logger.store.get(s.name)
        return None if buf is None else buf.window(lo, hi)

    data, _skipped = _dedupe(data, existing)
    piece = max(1, logger.store.record_length // 2)
    dropped = 0
    stored: list[tuple[str, int]] = []
    progress.start(
        f"Importing {len(data.signals)} signal{'s' if len(data.signals) != 1 else ''}",
        data.samples or None,
    )
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

    def existing(s: ImportedSignal) -> tuple[np.ndarray, np.ndarray] | None:
        found = engine.signals_named(s.dname, s.sname)
        if not found:
            return None
        lo, hi = float(np.min(s.x)), float(np.max(s.x))
        parts = [engine.query(f.id, lo, hi, None) for f in found]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    data, _skipped = _dedupe(data, existing)
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
