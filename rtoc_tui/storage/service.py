"""The storage service: a background flusher thread between the in-memory store and an engine.

Every `interval` seconds the flusher reads each signal's new samples after its *flushed cursor*
(SignalBuffer.read_since, one copy per signal, no per-sample callbacks) plus new events, writes
them in one transaction and only then advances the cursors. So a failed write loses nothing that
is still in memory: the next attempt reads from the same cursors. Failures are reported once
(event priority 2 + log), retried with exponential back-off, and recovery is reported too.

The service is the store's FlushGate: after each commit it moves every ring's `floor` to its
flushed cursor, and the ring never overwrites samples past it. A ring half full of unstored
samples kicks the flusher at once; a writer that finds no room waits for a flush (wait_flush)
or is refused before its data is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.buffer import SignalBuffer
from ..core.events import Event
from . import blocks as B
from .base import SignalWrite, StorageEngine, StorageError, StoredSignal, WriteBatch, split_name
from .retention import Retention

if TYPE_CHECKING:
    from ..core.buffer import SignalBuffer
    from ..core.logger import Logger

log = logging.getLogger("rtoc.storage")

READ_CHUNK = 1_048_576  # samples per signal per transaction when catching up on a backlog
MAX_BACKOFF_S = 30.0
# The final flush at shutdown has a budget of its own, apart from the drivers' stop budget:
# ring-sized backlogs of many signals take seconds on a Pi's SD card.
FINAL_FLUSH_BUDGET_S = 60.0


@dataclass(slots=True)
class _Track:
    """Flush state of one in-memory signal."""

    cursor: int = 0  # samples before this cursor are stored (or were deliberately skipped)
    replaced: int = 0  # the buffer's `cleared` mark already handled
    resample_prev: tuple[float, float] | None = None
    small_blocks: int = 0  # small blocks written since the last compaction
    lost_to: int = 0  # samples before this cursor that left memory unstored were reported
    quarantined: str | None = None  # why the store refused this signal's rows (memory only)


class StorageService:
    """Persists a logger's samples and events; answers range queries over stored + unflushed data."""

    name = "storage"

    def __init__(
        self,
        logger: Logger,
        engine: StorageEngine,
        *,
        interval_s: float = 1.0,
        clear: bool = False,
        resample_hz: float = 0.0,
        load_on_open: bool = True,
        flush_on_close: bool = True,
    ) -> None:
        self.logger = logger
        self.engine = engine
        self.interval_s = max(0.01, float(interval_s))
        self.clear = clear
        self.resample_hz = resample_hz
        self.load_on_open = load_on_open
        self.flush_on_close = flush_on_close
        self.final_flush_budget_s = FINAL_FLUSH_BUDGET_S
        self.retention = Retention(self)  # limits set by attach_storage from the config
        self._tracks: dict[int, _Track] = {}
        self._ev_cursor = 0
        self._ev_skip: tuple[int, int] = (0, -1)  # seqs of restored events (already stored)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._cond = threading.Condition()
        self._requested = 0  # flush_now tickets handed out
        self._served = 0  # tickets whose flush has run
        self._flush_lock = threading.Lock()
        self._flushes = 0  # flush attempts finished (wait_flush waits for it to change)
        self._deletes: list[tuple[str, str]] = []  # signals deleted in memory, to delete stored
        self._deletes_lock = threading.Lock()
        self.error: str | None = None
        self.failures = 0
        self._retry_at = 0.0
        self._persisted_at: float | None = None  # wall time up to which everything is stored
        self.samples_written = 0
        self.samples_lost = 0
        self.events_lost = 0
        self.restored_samples = 0
        self.last_flush_s = 0.0  # duration of the last successful flush
        self.max_flush_s = 0.0

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the store, restore recent data (loadOnOpen), start the flusher. Never raises."""
        await asyncio.to_thread(self._open_and_restore)
        self.logger.store.on_remove(self._removed)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rtoc-storage-flusher", daemon=True)
        self._thread.start()
        self.retention.start()

    async def stop(self) -> None:
        """Final flush (backup.autoOnClose) within final_flush_budget_s, then close the store."""
        self._stop.set()
        self._wake.set()
        await asyncio.to_thread(self.retention.stop)
        if self._thread is not None:
            thread = self._thread
            await asyncio.to_thread(thread.join, self.final_flush_budget_s)
            if thread.is_alive():
                log.error(
                    "storage: the final flush did not finish within %.0f s; %d samples may not "
                    "be stored",
                    self.final_flush_budget_s,
                    self.pending_samples(),
                )
            self._thread = None
        self.logger.store.persist(None)  # nobody flushes any more: writers must not wait
        await asyncio.to_thread(self.engine.close)

    # -- the store's FlushGate ------------------------------------------------------------------
    def kick(self) -> None:
        """A ring crossed its watermark: flush now rather than at the next interval."""
        self._wake.set()

    def wait_flush(self, timeout: float) -> bool:
        """Wait for the next flush to finish; False at once while the store is failing (waiting
        would not help) or when none finished within timeout."""
        if self.error is not None or self._thread is None:
            return False
        with self._cond:
            seen = self._flushes
            self._wake.set()
            return self._cond.wait_for(lambda: self._flushes != seen, timeout) and (
                self.error is None
            )

    def failing(self) -> str | None:
        return self.error

    def _removed(self, keys: list[tuple[str, str]]) -> None:
        """Signals deleted in memory: delete them in the store with the next flush."""
        with self._deletes_lock:
            self._deletes.extend(keys)
        self._wake.set()

    def _open_and_restore(self) -> None:
        # From here on the rings keep what is not stored yet (restored samples are stored).
        self.logger.store.persist(self)
        try:
            self._open_engine()
        except StorageError as exc:
            self._failed(exc)
            return
        log.info("storage: %s", self.engine.describe())
        if self.load_on_open:
            try:
                self._restore()
            except StorageError as exc:
                self._failed(exc)

    def _restore(self) -> None:
        """Load the newest recordLength samples of each stored signal and recent events."""
        store = self.logger.store
        n = store.record_length
        for sig in self.engine.signals():
            if sig.count == 0:
                continue
            existing = store.get((sig.dname, sig.sname))
            if existing is not None and existing.written:
                log.info("storage: %s already has new data, not restoring it", sig.name)
                continue
            x, y = self.engine.tail(sig.id, n)
            buf = store.append(sig.dname, sig.sname, x, y, sig.unit)
            self._tracks[buf.id] = _Track(cursor=buf.written, replaced=buf.cleared)
            buf.floor = buf.written
            self.restored_samples += len(x)
        evlog = self.logger.events
        stored = self.engine.events(limit=evlog.max_events, newest=True)
        first = evlog.last_seq + 1
        evlog.restore(stored)
        self._ev_skip = (first, evlog.last_seq)
        if self.restored_samples or stored:
            log.info(
                "storage: restored %d samples and %d events", self.restored_samples, len(stored)
            )

    # -- status ---------------------------------------------------------------------------------
    def state(self) -> tuple[str, float | None]:
        """(state text, seconds of data not yet stored) for the status line."""
        desc = self.engine.describe()
        if self.error is not None:
            wait = max(0.0, self._retry_at - time.monotonic())
            return (
                f"{desc}: ERROR {self.error} (retry in {wait:.0f} s, {self.pending_samples()} samples kept in memory)",
                self.lag_s(),
            )
        return desc, self.lag_s()

    def lag_s(self) -> float | None:
        """Seconds since the newest moment up to which everything was stored."""
        if self._persisted_at is None:
            return None
        return max(0.0, time.time() - self._persisted_at)

    def pending_samples(self) -> int:
        """Samples in memory that are not stored yet."""
        total = 0
        for buf in self.logger.store.buffers():
            tr = self._tracks.get(buf.id)
            total += buf.written - (tr.cursor if tr else 0)
        return total

    # -- flushing -------------------------------------------------------------------------------
    def flush_now(self, timeout: float | None = 30.0) -> bool:
        """Ask the flusher for a flush (even while backing off) and wait for it; True if stored."""
        with self._cond:
            self._requested += 1
            ticket = self._requested
            self._retry_at = 0.0
            self._wake.set()
            ok = self._cond.wait_for(lambda: self._served >= ticket, timeout)
        return bool(ok) and self.error is None

    def _run(self) -> None:
        next_at = time.monotonic() + self.interval_s
        while not self._stop.is_set():
            deadline = self._retry_at if self.error is not None else next_at
            self._wake.wait(max(0.0, deadline - time.monotonic()))
            self._wake.clear()
            if self._stop.is_set():
                break
            with self._cond:
                serving = self._requested
            now = time.monotonic()
            if self.error is not None and now < self._retry_at:
                continue
            self._guarded_flush(False)
            self._served_up_to(serving)
            # A fixed grid, not "interval after the last flush": a slow flush is followed at once
            # by the next, so what is acknowledged is stored within two intervals.
            next_at = max(next_at + self.interval_s, time.monotonic())
        with self._cond:
            serving = self._requested
        if self.flush_on_close:
            self._guarded_flush(True)
        self._served_up_to(serving)

    def _guarded_flush(self, final: bool) -> None:
        try:
            self.flush_once(final)
        except Exception as exc:  # a bug must not kill the flusher: report it like a store failure
            log.exception("storage: flush crashed")
            self._failed(StorageError(f"internal error: {type(exc).__name__}: {exc}"), final)

    def _served_up_to(self, ticket: int) -> None:
        with self._cond:
            self._served = max(self._served, ticket)
            self._flushes += 1
            self._cond.notify_all()

    def flush_once(self, final: bool = False) -> bool:
        """One flush: everything new, in READ_CHUNK pieces; False if the store failed."""
        with self._flush_lock:
            if self.engine.is_open and (why := self.engine.moved()) is not None:
                self._start_over(why, "storageReplaced")
            if not self.engine.is_open:
                try:
                    self._open_engine()
                except StorageError as exc:
                    self._failed(exc, final)
                    return False
            t0 = time.perf_counter()
            while True:
                started = time.time()
                try:
                    more = self._flush_chunk()
                except StorageError as exc:
                    self.engine.reset()
                    if exc.corrupt:
                        self._move_aside(exc)
                    self._failed(exc, final)
                    return False
                if not more:
                    self._persisted_at = started
                    break
            self.last_flush_s = time.perf_counter() - t0
            self.max_flush_s = max(self.max_flush_s, self.last_flush_s)
            if self.error is not None:
                self._recovered()
            self._compact()
            return True

    # -- store faults: a deleted, replaced or corrupt file -------------------------------------
    def _open_engine(self) -> None:
        """Open the store; a corrupt file is moved aside and a new one started."""
        try:
            self.engine.open()
        except StorageError as exc:
            if not exc.corrupt or not self._move_aside(exc):
                raise
            self.engine.open()

    def _move_aside(self, exc: StorageError) -> bool:
        where = self.engine.move_aside()
        if where is None:
            return False
        self._start_over(
            f"the database is corrupt ({exc}); it was moved to {where}", "storageCorrupt"
        )
        return True

    def _start_over(self, why: str, event_id: str) -> None:
        """The store we wrote to is gone: start a new one and store again all that is still in
        memory (samples and events), so the new store holds at least the rings' contents."""
        self.engine.close()
        log.error("storage: %s; starting a new database, storing what is in memory again", why)
        self.logger.event(
            f"Storage: {why}. A new database was started at {self.engine.describe()}; the "
            "samples and events still in memory are stored again, older ones are only in the "
            "old file.",
            dname="RTOC",
            sname="storage",
            priority=2,
            id=event_id,
        )
        for buf in self.logger.store.buffers():
            tr = self._tracks.get(buf.id)
            if tr is None or tr.quarantined is not None:
                continue
            with buf.lock:
                oldest = buf.written - len(buf)
                tr.cursor = tr.lost_to = oldest
                tr.replaced = buf.cleared
                tr.resample_prev = None
                tr.small_blocks = 0
                if buf.floor is not None:
                    buf.floor = min(buf.floor, oldest)
        self._ev_cursor = 0
        self._ev_skip = (0, -1)

    def _flush_chunk(self) -> bool:
        """Write one batch; True if a signal had more than READ_CHUNK waiting (call again)."""
        store = self.logger.store
        batch = WriteBatch()
        done: list[tuple[SignalBuffer, _Track, int, int, tuple[float, float] | None, int]] = []
        more = False
        live: set[int] = set()
        for buf in store.buffers():
            live.add(buf.id)
            tr = self._tracks.get(buf.id)
            if tr is None:
                tr = self._tracks[buf.id] = _Track()
            if tr.quarantined is not None:
                continue
            rep = buf.cleared
            replace = rep != tr.replaced
            cursor = rep if replace else tr.cursor  # a replace restarts the signal at its mark
            r = buf.read_since(cursor, READ_CHUNK)
            if r.missed:
                first = r.cursor - len(r.x)  # older samples left the ring unstored
                new_loss = first - max(cursor, tr.lost_to)  # count each loss once, not per retry
                if new_loss > 0:
                    self._lost(buf.name, new_loss)
                tr.lost_to = max(tr.lost_to, first)
            if len(r.x) == 0 and not replace:
                continue
            more = more or (buf.written > r.cursor)
            x, y, prev = r.x, r.y, None if replace else tr.resample_prev
            if self.resample_hz > 0:
                x, y, prev = B.resample(x, y, self.resample_hz, prev)
            batch.signals.append(SignalWrite(buf.dname, buf.sname, buf.unit, x, y, replace))
            done.append((buf, tr, r.cursor, rep, prev, len(x)))
        for gone in set(self._tracks) - live:  # signal removed from memory
            del self._tracks[gone]
        events = self._new_events()
        batch.events = events
        with self._deletes_lock:
            deletes = list(self._deletes)
        batch.deletes = deletes
        try:
            self.engine.write(batch)
        except StorageError as exc:
            if not exc.data:
                raise
            # the store works but refused a row: find it, write everything else
            done = self._write_isolating(batch, done, exc)
        if deletes:
            with self._deletes_lock:
                del self._deletes[: len(deletes)]
        for buf, tr, cursor, rep, prev, n in done:
            tr.cursor, tr.replaced, tr.resample_prev = cursor, rep, prev
            if 0 < n < B.SMALL_BLOCK:
                tr.small_blocks += 1
            with buf.lock:
                floor = buf.floor
                if floor is not None and cursor > floor:
                    buf.floor = cursor
            if self.clear:
                buf.drop_before(cursor)
        if events:  # refused events are skipped too: they were reported
            self._ev_cursor = events[-1].seq
        self.samples_written += sum(n for *_, n in done)
        return more

    def _write_isolating(
        self, batch: WriteBatch, done: list[Any], first: StorageError
    ) -> list[Any]:
        """Write a refused batch item by item (each its own transaction); quarantine the signals
        and drop the events the store refuses. Returns what was written. Raises if the store
        itself fails meanwhile (then the cursors stay and the next flush retries)."""
        log.warning("storage: a row was refused (%s); finding it", first)
        if batch.deletes:
            self.engine.write(WriteBatch(deletes=batch.deletes))
        written = []
        for sw, item in zip(batch.signals, done, strict=True):
            try:
                self.engine.write(WriteBatch(signals=[sw]))
            except StorageError as exc:
                if not exc.data:
                    raise
                self._quarantine(item[0], item[1], str(exc))
                continue
            written.append(item)
        try:
            self.engine.write(WriteBatch(events=batch.events))
        except StorageError as exc:
            if not exc.data:
                raise
            for ev in batch.events:
                try:
                    self.engine.write(WriteBatch(events=[ev]))
                except StorageError as e:
                    if not e.data:
                        raise
                    log.error(
                        "storage: event %d (%r) cannot be stored, skipped: %s",
                        ev.seq,
                        ev.text[:80],
                        e,
                    )
        return written

    def _quarantine(self, buf: SignalBuffer, tr: _Track, why: str) -> None:
        """The store refuses this signal's rows: keep it in memory only, say so, store the rest."""
        tr.quarantined = why
        buf.floor = None  # nothing will be stored: its ring must not wait for storage
        name = ascii(buf.name)[1:-1]  # the name may be what the store refused: log it escaped
        log.error("storage: %s cannot be stored and stays in memory only: %s", name, why)
        self.logger.event(
            f"Storage refused {name}: {why}. Its samples stay in memory only; the other "
            "signals are stored. Delete the signal and send it under a valid name.",
            dname="RTOC",
            sname="storage",
            priority=2,
            id="storageQuarantine",
            value=name,
        )

    def _new_events(self) -> list[Event]:
        evs = self.logger.events.since(self._ev_cursor)
        a, b = self._ev_skip
        if evs and evs[0].seq > self._ev_cursor + 1:
            lo, hi = self._ev_cursor + 1, evs[0].seq - 1  # seqs that left memory unseen
            lost = (hi - lo + 1) - max(0, min(hi, b) - max(lo, a) + 1)  # restored ones are stored
            if lost > 0:
                self.events_lost += lost
                log.warning(
                    "storage: %d events dropped out of memory (maxEvents) before they were stored",
                    lost,
                )
        return [e for e in evs if not a <= e.seq <= b]

    def _compact(self) -> None:
        for buf in self.logger.store.buffers():
            tr = self._tracks.get(buf.id)
            if tr is None or tr.small_blocks < B.FANOUT:
                continue
            try:
                self.engine.compact(buf.dname, buf.sname)
                tr.small_blocks = 0
            except StorageError as exc:  # merging is an optimisation: try again next time
                log.warning("storage: compacting %s failed: %s", buf.name, exc)
                return

    # -- failure reporting ----------------------------------------------------------------------
    def _failed(self, exc: StorageError, final: bool = False) -> None:
        self.failures += 1
        delay = min(self.interval_s * 2 ** (self.failures - 1), MAX_BACKOFF_S)
        self._retry_at = time.monotonic() + delay
        msg = str(exc)
        if final:
            log.error(
                "storage: final flush failed, %d samples were not stored: %s",
                self.pending_samples(),
                msg,
            )
            return
        if self.error is None:
            log.error("storage: writing failed, keeping data in memory and retrying: %s", msg)
            self.logger.event(
                f"Storage failed: {msg}. Data stays in memory; retrying.",
                dname="RTOC",
                sname="storage",
                priority=2,
                id="storageError",
            )
        elif msg != self.error:
            log.warning("storage: still failing: %s", msg)
        self.error = msg

    def _recovered(self) -> None:
        log.info(
            "storage: writing resumed after %d failed attempts (%s)",
            self.failures,
            self.engine.describe(),
        )
        self.logger.event(
            f"Storage resumed: {self.engine.describe()}",
            dname="RTOC",
            sname="storage",
            priority=0,
            id="storageResumed",
        )
        self.error = None
        self.failures = 0

    def _lost(self, name: str, n: int) -> None:
        self.samples_lost += n
        log.error(
            "storage: %d samples of %s left memory before they were stored (recordLength too small for the outage)",
            n,
            name,
        )
        self.logger.event(
            f"Storage lost {n} samples of {name}: they left memory (recordLength) before they could be stored",
            dname="RTOC",
            sname="storage",
            priority=2,
            id="storageLost",
            value=n,
        )

    # -- reading --------------------------------------------------------------------------------
    def query(
        self,
        name: str,
        xmin: float | None = None,
        xmax: float | None = None,
        max_n: int | None = 1000,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Samples of a signal in [xmin, xmax] from the store plus unflushed memory, decimated to ~max_n."""
        buf = self.logger.store.get(name)
        tr = self._tracks.get(buf.id) if buf is not None else None
        stale = (
            buf is not None and tr is not None and buf.cleared != tr.replaced
        )  # clear not stored yet
        # plot(hold='off') replaced the curve: what is in memory is what is on screen (the
        # store keeps the earlier curves as history, for export)
        curve = buf is not None and buf.replaced > 0 and not self.clear
        if buf is not None and (tr is None or stale or curve):
            return buf.window(xmin, xmax, max_n)
        extra: list[tuple[np.ndarray, np.ndarray]] = []
        if buf is not None and tr is not None:
            r = buf.read_since(tr.cursor)
            if len(r.x):
                extra.append((r.x, r.y))
        try:
            sig = self._stored(name)
            if sig is None:
                if buf is None:
                    return np.empty(0), np.empty(0)
                return buf.window(xmin, xmax, max_n)
            return self.engine.query(sig.id, xmin, xmax, max_n, extra)
        except StorageError as exc:
            log.debug("storage query failed, answering from memory: %s", exc)
            if buf is None:
                return np.empty(0), np.empty(0)
            return buf.window(xmin, xmax, max_n)

    def iter_samples(
        self, name: str, xmin: float | None = None, xmax: float | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every sample of a signal in [xmin, xmax]: stored blocks, then the unflushed memory tail."""
        buf = self.logger.store.get(name)
        tr = self._tracks.get(buf.id) if buf is not None else None
        if buf is not None and (tr is None or buf.cleared != tr.replaced):
            yield buf.window(xmin, xmax)
            return
        rows = None
        sig = None
        try:
            # the cursor and the block list are taken together, so a flush in between cannot
            # make a chunk appear twice or not at all
            with self._flush_lock:
                cursor = tr.cursor if tr is not None else 0
                sig = self._stored(name)
                rows = self.engine.block_rows(sig.id, xmin, xmax) if sig is not None else None
        except StorageError as exc:
            log.warning("storage unreachable, exporting %s from memory only: %s", name, exc)
            if buf is not None:
                yield buf.window(xmin, xmax)
            return
        if sig is not None and rows is not None:
            yield from self.engine.iter_samples(sig.id, xmin, xmax, rows)
        if buf is not None:
            r = buf.read_since(cursor)
            mask = np.ones(len(r.x), dtype=bool)
            if xmin is not None:
                mask &= r.x >= xmin
            if xmax is not None:
                mask &= r.x <= xmax
            if mask.any():
                yield r.x[mask], r.y[mask]

    def _stored(self, name: str) -> StoredSignal | None:
        dname, sname = split_name(name)
        found = self.engine.signals_named(dname, sname)
        return found[0] if found else None

    def unit(self, name: str) -> str | None:
        """A signal's unit from memory or the store (None if unknown)."""
        buf = self.logger.store.get(name)
        if buf is not None:
            return buf.unit
        try:
            sig = self._stored(name)
        except StorageError:
            return None
        return None if sig is None else sig.unit

    def events(self, xmin: float | None = None, xmax: float | None = None) -> list[Event]:
        """Stored events plus those not stored yet, in [xmin, xmax], oldest first."""
        try:
            stored = self.engine.events(xmin, xmax)
        except StorageError as exc:
            log.debug("storage events failed, answering from memory: %s", exc)
            stored = []
            pending = self.logger.events.all()
        else:
            pending = self.logger.events.since(self._ev_cursor)
            a, b = self._ev_skip
            pending = [e for e in pending if not a <= e.seq <= b]
        pending = [
            e for e in pending if (xmin is None or e.x >= xmin) and (xmax is None or e.x <= xmax)
        ]
        return sorted(stored + pending, key=lambda e: e.x)

    def signals(self) -> list[StoredSignal]:
        """Signals in the store (empty list while it is unreachable)."""
        try:
            return self.engine.signals()
        except StorageError:
            return []
