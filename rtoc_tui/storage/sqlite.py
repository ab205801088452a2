"""SQLite engine: one file in the user folder's data/ (or backup.path), WAL mode.

WAL lets the UI and exports read while the flusher writes, and a commit is one append to the
WAL file: after kill -9 every committed flush is there. synchronous=NORMAL fsyncs at checkpoints
only, so a *power cut* may lose the last flushes but never corrupts the file.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import blocks as B
from .base import StorageEngine

FILE_NAME = "rtoc.sqlite"
log = logging.getLogger("rtoc.storage")

# WAL checkpoints (copying the WAL into the database, with an fsync) run in a thread of their own
# every CHECKPOINT_INTERVAL_S. Left to SQLite's automatic checkpoint they run inside the flusher's
# COMMIT and, at ~25 MB/s of samples, stretched some flushes past two flush intervals.
CHECKPOINT_INTERVAL_S = 0.5
PAGE_SIZE = 16_384  # fewer overflow pages per 80 KB blob than 4096: faster range reads

SCHEMA = """
CREATE TABLE IF NOT EXISTS rtoc_meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS rtoc_loggers (id INTEGER PRIMARY KEY, uid TEXT UNIQUE NOT NULL, name TEXT, created REAL);
CREATE TABLE IF NOT EXISTS rtoc_signals (
    id INTEGER PRIMARY KEY, logger_id INTEGER NOT NULL, dname TEXT NOT NULL, sname TEXT NOT NULL,
    unit TEXT, max_span REAL NOT NULL DEFAULT 0, UNIQUE (logger_id, dname, sname));
CREATE TABLE IF NOT EXISTS rtoc_blocks (
    id INTEGER PRIMARY KEY, signal_id INTEGER NOT NULL, level INTEGER NOT NULL, xlo REAL NOT NULL,
    xhi REAL NOT NULL, n INTEGER NOT NULL, ylo REAL, yhi REAL, summary BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS rtoc_blocks_signal_x ON rtoc_blocks (signal_id, xlo);
CREATE TABLE IF NOT EXISTS rtoc_block_data (id INTEGER PRIMARY KEY, x BLOB NOT NULL, y BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS rtoc_events (
    id INTEGER PRIMARY KEY, logger_id INTEGER NOT NULL, x REAL NOT NULL, text TEXT, dname TEXT,
    sname TEXT, priority INTEGER NOT NULL DEFAULT 0, event_id TEXT, value TEXT);
CREATE INDEX IF NOT EXISTS rtoc_events_x ON rtoc_events (logger_id, x);
"""


def sqlite_path(folder_or_file: str | Path) -> Path:
    """The database file for backup.path: a folder gets rtoc.sqlite, a *.sqlite/*.db path is used as is."""
    p = Path(folder_or_file).expanduser()
    if p.suffix in (".sqlite", ".sqlite3", ".db"):
        return p
    return p / FILE_NAME


class SqliteEngine(StorageEngine):
    """Blocks and events in one SQLite file."""

    kind = "sqlite"

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout_s: float = 1.0,
        pragmas: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        # extra per-connection pragmas (tests cap max_page_count to simulate a full disk)
        self.pragmas: dict[str, Any] = dict(pragmas or {})
        self._ckpt_stop = threading.Event()
        self._ckpt_thread: threading.Thread | None = None  # runs between open() and close()

    def describe(self) -> str:
        return f"sqlite {self.path}"

    def folder(self) -> str | None:
        return str(self.path.parent)

    # -- the file's identity ----------------------------------------------------------------
    def _opened(self) -> None:
        self._identity = self._stat()

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def moved(self) -> str | None:
        known = getattr(self, "_identity", None)
        if known is None or self._w is None:
            return None
        now = self._stat()
        if now is None:
            return f"the database file {self.path} was deleted"
        if now != known:
            return f"the database file {self.path} was replaced by another file"
        return None

    def _is_corrupt(self, exc: BaseException) -> bool:
        low = str(exc).lower()
        return "not a database" in low or "malformed" in low or "corrupt" in low

    def move_aside(self) -> str | None:
        self.close()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        try:
            self.path.rename(target)
            for suffix in ("-wal", "-shm"):  # they belong to the damaged file
                side = Path(str(self.path) + suffix)
                if side.exists():
                    side.rename(Path(str(target) + suffix))
        except OSError as exc:
            log.error("storage: cannot move %s aside: %s", self.path, exc)
            return None
        return str(target)

    def open(self) -> None:
        super().open()
        if self._ckpt_thread is None:
            self._ckpt_stop = threading.Event()
            self._ckpt_thread = threading.Thread(
                target=self._checkpoint_loop,
                args=(self._ckpt_stop,),
                name="rtoc-sqlite-checkpoint",
                daemon=True,
            )
            self._ckpt_thread.start()

    def close(self) -> None:
        thread = self._ckpt_thread
        if thread is not None:
            self._ckpt_stop.set()
            thread.join(10)
            self._ckpt_thread = None
        super().close()

    def _checkpoint_loop(self, stop: threading.Event) -> None:
        """PASSIVE checkpoints never block the writer; a final TRUNCATE keeps the WAL small."""
        conn: sqlite3.Connection | None = None
        try:
            while not stop.wait(CHECKPOINT_INTERVAL_S):
                try:
                    if conn is None:
                        conn = sqlite3.connect(
                            self.path, timeout=self.busy_timeout_s, isolation_level=None
                        )
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:  # the flusher reports store failures; just retry later
                    log.debug("storage: checkpoint of %s failed: %s", self.path, exc)
                    if conn is not None:
                        conn.close()
                        conn = None
            if conn is not None:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            log.debug("storage: final checkpoint of %s failed: %s", self.path, exc)
        finally:
            if conn is not None:
                conn.close()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            if new:
                conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"cannot switch to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA wal_autocheckpoint = 0")  # see CHECKPOINT_INTERVAL_S
            conn.execute(
                "PRAGMA journal_size_limit = 67108864"
            )  # keep the WAL file at most 64 MB after checkpoints
            conn.execute("PRAGMA foreign_keys = OFF")
            for key, value in self.pragmas.items():
                conn.execute(f"PRAGMA {key} = {int(value)}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _create_schema(self, conn: Any) -> None:
        conn.executescript(SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO rtoc_meta (key, value) VALUES ('schema_version', ?)",
            (str(self.schema_version),),
        )

    @contextmanager
    def _tx(self, conn: Any) -> Iterator[Any]:
        cur = conn.cursor()
        # IMMEDIATE takes the write lock up front: a locked file fails here, not mid-transaction
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # SQLite may already have rolled back (e.g. after SQLITE_FULL)
            raise
        else:
            cur.execute("COMMIT")

    def _register_logger(self, cur: Any) -> int:
        # One file belongs to one user folder: its logger is always row 1.
        cur.execute(
            "INSERT OR IGNORE INTO rtoc_loggers (id, uid, name, created) VALUES (1, 'local', '', strftime('%s','now'))"
        )
        return 1

    def _insert_blocks(self, cur: Any, sig_id: int, blocks: list[B.Block]) -> None:
        for b in blocks:
            cur.execute(
                "INSERT INTO rtoc_blocks (signal_id, level, xlo, xhi, n, ylo, yhi, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (sig_id, b.level, b.xmin, b.xmax, b.n, b.ymin, b.ymax, b.summary),
            )
            cur.execute(
                "INSERT INTO rtoc_block_data (id, x, y) VALUES (?, ?, ?)", (cur.lastrowid, b.x, b.y)
            )

    def _classify(self, exc: BaseException) -> str:
        text = str(exc)
        low = text.lower()
        if "disk is full" in low or "no space" in low:
            return f"disk full: cannot write {self.path} ({text})"
        if "locked" in low or "busy" in low:
            return f"database locked by another process: {self.path} ({text})"
        if "not a database" in low or "malformed" in low or "corrupt" in low:
            return (
                f"database file is corrupt: {self.path} ({text}); move it away to start a new one"
            )
        if "unable to open" in low or "readonly" in low or "permission" in low:
            return f"cannot open {self.path} ({text})"
        return f"{self.path}: {type(exc).__name__}: {text}"

    def size_bytes(self) -> int | None:
        total = 0
        for suffix in ("", "-wal"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                total += p.stat().st_size
        return total
