"""Retention: stored samples deleted by age (per signal pattern) and by total size, in a thread
of its own, a batch of whole blocks per transaction, so ingest and flushing never wait long.

The default keeps everything; then the only limit is the disk, so the store's growth is watched
and a warning is raised once when the disk would be full within a day.
"""

from __future__ import annotations

import fnmatch
import logging
import shutil
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from .base import StorageError

if TYPE_CHECKING:
    from .service import StorageService

log = logging.getLogger("rtoc.storage")

INTERVAL_S = 60.0  # how often retention runs (and the disk is checked)
BATCH_BLOCKS = 500  # blocks deleted per transaction
BYTES_PER_SAMPLE = 17.0  # on disk, blocks included (docs/storage.md): what retentionMB counts
TIME_X = 1e8  # signals whose newest x is below this are not on a Unix time axis: no age limit


class Retention:
    """Applies backup.retentionDays / retentionMB / retentionSignals to one storage service."""

    def __init__(
        self,
        svc: StorageService,
        days: float = 0.0,
        max_mb: float = 0.0,
        per_signal: Mapping[str, float] | None = None,
        interval_s: float | None = None,
    ) -> None:
        self.svc = svc
        self.days = days
        self.max_mb = max_mb
        self.per_signal = dict(per_signal or {})
        self.interval_s = INTERVAL_S if interval_s is None else interval_s
        self.deleted = 0  # samples deleted since start
        self.last_run: float | None = None
        self.warned_disk = False
        self._mark: tuple[float, int] | None = None  # (time, samples written) at the last check
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> bool:
        return self.days > 0 or self.max_mb > 0 or any(d > 0 for d in self.per_signal.values())

    def describe(self) -> str:
        """One line for `rtoc status`."""
        parts = []
        if self.days > 0:
            parts.append(f"{self.days:g} days")
        if self.per_signal:
            parts.append(", ".join(f"{p} {d:g} days" for p, d in self.per_signal.items()))
        if self.max_mb > 0:
            parts.append(f"at most {self.max_mb:,.0f} MB")
        if not parts:
            return "keeps everything (backup.retentionDays / retentionMB not set)"
        return f"{'; '.join(parts)}; {self.deleted:,} samples deleted since start"

    def days_for(self, name: str) -> float:
        for pattern, days in self.per_signal.items():
            if fnmatch.fnmatchcase(name, pattern):
                return days
        return self.days

    # -- the thread -------------------------------------------------------------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rtoc-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except StorageError as exc:  # the flusher reports store failures
                log.debug("storage: retention skipped: %s", exc)
            except Exception:
                log.exception("storage: retention failed")

    def run_once(self, now: float | None = None) -> int:
        """Apply the limits once; returns the samples deleted."""
        now = time.time() if now is None else now
        engine = self.svc.engine
        if not engine.is_open:
            return 0
        deleted = 0
        if self.active:
            for sig in engine.signals():
                days = self.days_for(sig.name)
                if days <= 0 or sig.xmax is None or sig.xmax < TIME_X:
                    continue
                deleted += self._drain(sig.id, now - days * 86400.0)
            if self.max_mb > 0:
                excess = engine.stored_samples() - int(self.max_mb * 1e6 / BYTES_PER_SAMPLE)
                while excess > 0 and not self._stop.is_set():
                    n, _ = engine.delete_blocks(None, None, BATCH_BLOCKS, excess)
                    if n == 0:
                        break
                    excess -= n
                    deleted += n
        if deleted:
            log.info("storage: retention deleted %d old samples", deleted)
        self.deleted += deleted
        self.last_run = now
        if not self.max_mb:
            self._check_disk(now)
        return deleted

    def _drain(self, sig_id: int, before: float) -> int:
        total = 0
        while not self._stop.is_set():
            n, _ = self.svc.engine.delete_blocks(sig_id, before, BATCH_BLOCKS)
            if n == 0:
                break
            total += n
        return total

    def _check_disk(self, now: float) -> None:
        """Warn once when, at the current write rate, the disk is full within a day."""
        written = self.svc.samples_written
        mark, self._mark = self._mark, (now, written)
        folder = self.svc.engine.folder()
        if mark is None or folder is None or self.warned_disk or now <= mark[0]:
            return
        rate = (written - mark[1]) * BYTES_PER_SAMPLE / (now - mark[0])  # bytes/s
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            return
        if rate <= 0 or free > rate * 86400.0:
            return
        self.warned_disk = True
        hours = free / rate / 3600.0
        text = (
            f"Storage: at {rate * 86400 / 1e9:,.1f} GB a day the disk of {folder} is full in "
            f"about {hours:,.1f} hours; set backup.retentionDays or backup.retentionMB"
        )
        log.warning("%s", text)
        self.svc.logger.event(text, dname="RTOC", sname="storage", priority=1, id="storageDisk")
