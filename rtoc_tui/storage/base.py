"""The storage interface and the SQL both engines share.

An engine stores blocks of samples (see blocks.py) and events, and answers range queries. It is
used from two sides: the flusher thread writes through the *writer* connection, everybody else
reads through a separate *reader* connection (guarded by a lock), so a long query never holds up
writing and a write never blocks the UI.

SQL here uses `?` placeholders; the PostgreSQL engine rewrites them to `%s`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.events import Event
from . import blocks as B

log = logging.getLogger("rtoc.storage")


class StorageError(RuntimeError):
    """The store cannot be written or read right now; the message says why in plain words.

    data=True: the store works but refused this data (a poison row), so writing the rest
    without it can succeed."""

    def __init__(self, message: str, *, data: bool = False, corrupt: bool = False) -> None:
        super().__init__(message)
        self.data = data
        self.corrupt = corrupt  # the store's file is damaged: it must be moved aside


@dataclass(frozen=True, slots=True)
class StoredSignal:
    """A signal as the store knows it."""

    id: int
    dname: str
    sname: str
    unit: str
    count: int
    xmin: float | None
    xmax: float | None

    @property
    def name(self) -> str:
        return f"{self.dname}.{self.sname}"


@dataclass(slots=True)
class SignalWrite:
    """New samples of one signal; replace=True drops what is stored for it first (the signal
    was cleared)."""

    dname: str
    sname: str
    unit: str
    x: np.ndarray
    y: np.ndarray
    replace: bool = False


@dataclass(slots=True)
class WriteBatch:
    """Everything one flush writes, in one transaction."""

    signals: list[SignalWrite] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    deletes: list[tuple[str, str]] = field(default_factory=list)  # signals deleted, before writes

    @property
    def samples(self) -> int:
        return sum(len(s.x) for s in self.signals)


@dataclass(slots=True)
class _SigMeta:
    id: int
    unit: str
    max_span: float


def split_name(name: str) -> tuple[str, str]:
    """'Device.Signal' -> ('Device', 'Signal'); the device name is the part before the first dot."""
    dname, _, sname = name.partition(".")
    return dname, sname


def encode_value(value: Any) -> str | None:
    """An event value as JSON text (anything not JSON-able as its str())."""
    if value is None:
        return None
    return json.dumps(value, default=str)


def decode_value(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


class StorageEngine:
    """SQL storage of blocks and events; subclasses provide connections and dialect details."""

    kind = "sql"
    schema_version = 1

    def __init__(self) -> None:
        self._w: Any = None  # writer connection: only the flusher thread uses it
        self._r: Any = None  # reader connection, guarded by _rlock
        self._rlock = threading.Lock()
        self._wlock = threading.Lock()  # writes from the flusher and from imports never interleave
        self.logger_id = 0
        self._sigs: dict[tuple[str, str], _SigMeta] = {}

    # -- dialect hooks ------------------------------------------------------------------------
    def describe(self) -> str:
        raise NotImplementedError

    def _connect(self) -> Any:
        raise NotImplementedError

    def _create_schema(self, conn: Any) -> None:
        raise NotImplementedError

    def _tx(self, conn: Any) -> AbstractContextManager[Any]:
        """A write transaction on conn."""
        raise NotImplementedError

    def _q(self, sql: str) -> str:
        return sql

    def _insert_blocks(self, cur: Any, sig_id: int, blocks: list[B.Block]) -> None:
        raise NotImplementedError

    def _register_logger(self, cur: Any) -> int:
        raise NotImplementedError

    def _classify(self, exc: BaseException) -> str:
        return f"{type(exc).__name__}: {exc}"

    def _is_data_error(self, exc: BaseException) -> bool:
        """True if exc is about the data written (encoding, values), not about the store."""
        return isinstance(exc, (UnicodeError, ValueError, TypeError, RecursionError, OverflowError))

    def _is_corrupt(self, exc: BaseException) -> bool:
        """True if exc says the store's file is damaged (only a file-based engine can say so)."""
        return False

    def _opened(self) -> None:
        """Called after a successful open (a file engine notes the file's identity)."""

    def moved(self) -> str | None:
        """Why the store open now is no longer where it was opened (a deleted or replaced
        file), or None. Checked before every flush."""
        return None

    def move_aside(self) -> str | None:
        """Close and move a damaged store out of the way; where it went (None: cannot)."""
        return None

    def size_bytes(self) -> int | None:
        return None

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._w is not None

    def open(self) -> None:
        """Connect, create the schema on first use and load the signal table."""
        with self._wlock:
            if self._w is not None:
                return
            try:
                conn = self._connect()
                self._create_schema(conn)
                with self._tx(conn) as cur:
                    self.logger_id = self._register_logger(cur)
                    cur.execute(
                        self._q(
                            "SELECT id, dname, sname, unit, max_span FROM rtoc_signals WHERE logger_id = ?"
                        ),
                        (self.logger_id,),
                    )
                    self._sigs = {
                        (d, s): _SigMeta(i, u or "", float(m or 0.0))
                        for i, d, s, u, m in cur.fetchall()
                    }
            except StorageError:
                raise
            except Exception as exc:
                self._drop_quietly(locals().get("conn"))
                raise StorageError(self._classify(exc), corrupt=self._is_corrupt(exc)) from exc
            self._w = conn
            self._opened()

    def close(self) -> None:
        """Close both connections."""
        with self._wlock:
            self._drop_quietly(self._w)
            self._w = None
        with self._rlock:
            self._drop_quietly(self._r)
            self._r = None

    def reset(self) -> None:
        """Forget broken connections so the next call reconnects."""
        self.close()

    @staticmethod
    def _drop_quietly(conn: Any) -> None:
        if conn is None:
            return
        try:
            conn.close()
        except Exception:  # closing a broken connection may fail too; it is gone either way
            pass

    # -- writing (flusher thread) ---------------------------------------------------------------
    def write(self, batch: WriteBatch) -> None:
        """Write a batch in one transaction (all or nothing)."""
        if not batch.signals and not batch.events and not batch.deletes:
            return
        with self._wlock:
            if self._w is None:
                raise StorageError("not open")
            new_meta: dict[tuple[str, str], _SigMeta] = {}
            try:
                with self._tx(self._w) as cur:
                    for key in batch.deletes:
                        self._sigs.pop(key, None)  # a cache miss only costs a SELECT
                        self._delete_signal(cur, *key)
                    for sw in batch.signals:
                        key = (sw.dname, sw.sname)
                        meta = new_meta.get(key) or self._ensure_signal(
                            cur, sw.dname, sw.sname, sw.unit
                        )
                        meta = _SigMeta(meta.id, meta.unit, meta.max_span)
                        if sw.replace:
                            self._delete_signal_data(cur, meta.id)
                            meta.max_span = 0.0
                        if len(sw.x):
                            blks = B.split_blocks(sw.x, sw.y)
                            self._insert_blocks(cur, meta.id, blks)
                            span = max(b.xmax - b.xmin for b in blks)
                            if span > meta.max_span:
                                meta.max_span = span
                                cur.execute(
                                    self._q("UPDATE rtoc_signals SET max_span = ? WHERE id = ?"),
                                    (span, meta.id),
                                )
                        if sw.unit and sw.unit != meta.unit:
                            meta.unit = sw.unit
                            cur.execute(
                                self._q("UPDATE rtoc_signals SET unit = ? WHERE id = ?"),
                                (sw.unit, meta.id),
                            )
                        new_meta[key] = meta
                    if batch.events:
                        self._insert_events(cur, batch.events)
            except Exception as exc:
                raise StorageError(
                    self._classify(exc),
                    data=self._is_data_error(exc),
                    corrupt=self._is_corrupt(exc),
                ) from exc
            self._sigs.update(
                new_meta
            )  # only after the commit: ids of a rolled-back insert are void

    def _ensure_signal(self, cur: Any, dname: str, sname: str, unit: str) -> _SigMeta:
        meta = self._sigs.get((dname, sname))
        if meta is not None:
            return meta
        cur.execute(
            self._q(
                "INSERT INTO rtoc_signals (logger_id, dname, sname, unit, max_span) VALUES (?, ?, ?, ?, 0) ON CONFLICT DO NOTHING"
            ),
            (self.logger_id, dname, sname, unit),
        )
        cur.execute(
            self._q(
                "SELECT id, unit, max_span FROM rtoc_signals WHERE logger_id = ? AND dname = ? AND sname = ?"
            ),
            (self.logger_id, dname, sname),
        )
        i, u, m = cur.fetchone()
        return _SigMeta(int(i), u or "", float(m or 0.0))

    def _delete_signal_data(self, cur: Any, sig_id: int) -> None:
        cur.execute(
            self._q(
                "DELETE FROM rtoc_block_data WHERE id IN (SELECT id FROM rtoc_blocks WHERE signal_id = ?)"
            ),
            (sig_id,),
        )
        cur.execute(self._q("DELETE FROM rtoc_blocks WHERE signal_id = ?"), (sig_id,))
        cur.execute(self._q("UPDATE rtoc_signals SET max_span = 0 WHERE id = ?"), (sig_id,))

    def _delete_signal(self, cur: Any, dname: str, sname: str) -> None:
        """Delete a signal with all its stored samples (its events stay: they are history)."""
        cur.execute(
            self._q("SELECT id FROM rtoc_signals WHERE logger_id = ? AND dname = ? AND sname = ?"),
            (self.logger_id, dname, sname),
        )
        row = cur.fetchone()
        if row is None:
            return
        self._delete_signal_data(cur, int(row[0]))
        cur.execute(self._q("DELETE FROM rtoc_signals WHERE id = ?"), (int(row[0]),))

    def _insert_events(self, cur: Any, events: list[Event]) -> None:
        cur.executemany(
            self._q(
                "INSERT INTO rtoc_events (logger_id, x, text, dname, sname, priority, event_id, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            [
                (
                    self.logger_id,
                    e.x,
                    e.text,
                    e.dname,
                    e.sname,
                    e.priority,
                    e.id,
                    encode_value(e.value),
                )
                for e in events
            ],
        )

    # -- retention (its own thread, a batch of blocks per transaction) -------------------------
    def delete_blocks(
        self,
        sig_id: int | None,
        before: float | None,
        max_blocks: int,
        max_samples: int | None = None,
    ) -> tuple[int, float | None]:
        """Delete up to max_blocks whole blocks, oldest first: of one signal ending before
        `before`, or (sig_id None) of all this logger's signals; stop after the block that
        reaches max_samples. Returns (samples deleted, the newest x deleted)."""
        where = "b.signal_id = ?" if sig_id is not None else "s.logger_id = ?"
        params: list[Any] = [sig_id if sig_id is not None else self.logger_id]
        if before is not None:
            where += " AND b.xhi < ?"
            params.append(before)
        with self._wlock:
            if self._w is None:
                raise StorageError("not open")
            try:
                with self._tx(self._w) as cur:
                    cur.execute(
                        self._q(
                            "SELECT b.id, b.n, b.xhi FROM rtoc_blocks b JOIN rtoc_signals s ON "
                            f"s.id = b.signal_id WHERE {where} ORDER BY b.xhi LIMIT ?"
                        ),
                        (*params, max_blocks),
                    )
                    rows = cur.fetchall()
                    if max_samples is not None:
                        total, keep = 0, 0
                        for keep, r in enumerate(rows, 1):  # noqa: B007
                            total += int(r[1])
                            if total >= max_samples:
                                break
                        rows = rows[:keep]
                    if not rows:
                        return 0, None
                    ids = [(int(r[0]),) for r in rows]
                    cur.executemany(self._q("DELETE FROM rtoc_block_data WHERE id = ?"), ids)
                    cur.executemany(self._q("DELETE FROM rtoc_blocks WHERE id = ?"), ids)
            except Exception as exc:
                raise StorageError(self._classify(exc)) from exc
        return sum(int(r[1]) for r in rows), max(float(r[2]) for r in rows)

    def stored_samples(self) -> int:
        """Samples stored for this logger (what size-based retention counts)."""
        rows = self._read(
            "SELECT COALESCE(SUM(b.n), 0) FROM rtoc_blocks b JOIN rtoc_signals s ON "
            "s.id = b.signal_id WHERE s.logger_id = ?",
            (self.logger_id,),
        )
        return int(rows[0][0])

    def folder(self) -> str | None:
        """The local folder the store's files are in (disk-space checks), or None."""
        return None

    def compact(self, dname: str, sname: str) -> int:
        """Merge runs of FANOUT adjacent small blocks of one level; returns blocks removed.

        Slow signals flush tiny blocks (one sample a second makes one-sample rows of ~100 bytes);
        merging them level by level keeps rows near SMALL_BLOCK samples while each sample is
        rewritten only about log16(SMALL_BLOCK) = 3 times.
        """
        meta = self._sigs.get((dname, sname))
        if meta is None:
            return 0
        removed = 0
        with self._wlock:
            if self._w is None:
                raise StorageError("not open")
            try:
                while True:
                    with self._tx(self._w) as cur:
                        cur.execute(
                            self._q(
                                "SELECT id, level, n FROM rtoc_blocks WHERE signal_id = ? AND id > "
                                "(SELECT COALESCE(MAX(id), 0) FROM rtoc_blocks WHERE signal_id = ? AND n >= ?) ORDER BY id"
                            ),
                            (meta.id, meta.id, B.SMALL_BLOCK),
                        )
                        run = _first_run(cur.fetchall())
                        if run is None:
                            return removed
                        ids, level = run
                        marks = ",".join("?" * len(ids))
                        cur.execute(
                            self._q(f"SELECT id, x, y FROM rtoc_block_data WHERE id IN ({marks})"),
                            ids,
                        )
                        data = {
                            int(i): (B.decode(bytes(x)), B.decode(bytes(y)))
                            for i, x, y in cur.fetchall()
                        }
                        x = np.concatenate([data[i][0] for i in ids])
                        y = np.concatenate([data[i][1] for i in ids])
                        blk = B.encode_block(x, y, level=level + 1)
                        rest = ids[1:]
                        rmarks = ",".join("?" * len(rest))
                        cur.execute(
                            self._q(f"DELETE FROM rtoc_block_data WHERE id IN ({rmarks})"), rest
                        )
                        cur.execute(
                            self._q(f"DELETE FROM rtoc_blocks WHERE id IN ({rmarks})"), rest
                        )
                        cur.execute(
                            self._q(
                                "UPDATE rtoc_blocks SET level = ?, xlo = ?, xhi = ?, n = ?, ylo = ?, yhi = ?, summary = ? WHERE id = ?"
                            ),
                            (
                                blk.level,
                                blk.xmin,
                                blk.xmax,
                                blk.n,
                                blk.ymin,
                                blk.ymax,
                                blk.summary,
                                ids[0],
                            ),
                        )
                        cur.execute(
                            self._q("UPDATE rtoc_block_data SET x = ?, y = ? WHERE id = ?"),
                            (blk.x, blk.y, ids[0]),
                        )
                        if blk.xmax - blk.xmin > meta.max_span:
                            meta.max_span = blk.xmax - blk.xmin
                            cur.execute(
                                self._q("UPDATE rtoc_signals SET max_span = ? WHERE id = ?"),
                                (meta.max_span, meta.id),
                            )
                        removed += len(rest)
            except Exception as exc:
                raise StorageError(self._classify(exc)) from exc

    # -- reading (any thread) -------------------------------------------------------------------
    def _read(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        with self._rlock:
            try:
                if self._r is None:
                    self._r = self._connect()
                cur = self._r.cursor()
                cur.execute(self._q(sql), params)
                rows = cur.fetchall()
                self._end_read(self._r)
                return rows
            except Exception as exc:
                self._drop_quietly(self._r)
                self._r = None
                raise StorageError(self._classify(exc)) from exc

    def _end_read(self, conn: Any) -> None:
        """Finish a read (PostgreSQL ends its snapshot transaction here)."""

    def signals(self) -> list[StoredSignal]:
        """Stored signals of this logger with sample count and x range."""
        rows = self._read(
            "SELECT s.id, s.dname, s.sname, s.unit, COALESCE(SUM(b.n), 0), MIN(b.xlo), MAX(b.xhi) "
            "FROM rtoc_signals s LEFT JOIN rtoc_blocks b ON b.signal_id = s.id WHERE s.logger_id = ? "
            "GROUP BY s.id, s.dname, s.sname, s.unit ORDER BY s.id",
            (self.logger_id,),
        )
        return [
            StoredSignal(int(i), d, s, u or "", int(n), _f(a), _f(b))
            for i, d, s, u, n, a, b in rows
        ]

    def find(self, name: str) -> StoredSignal | None:
        dname, sname = split_name(name)
        for s in self.signals_named(dname, sname):
            return s
        return None

    def signals_named(self, dname: str, sname: str) -> list[StoredSignal]:
        rows = self._read(
            "SELECT id, unit, max_span FROM rtoc_signals WHERE logger_id = ? AND dname = ? AND sname = ?",
            (self.logger_id, dname, sname),
        )
        return [StoredSignal(int(i), dname, sname, u or "", -1, None, None) for i, u, _m in rows]

    def _span(self, sig_id: int) -> float:
        rows = self._read("SELECT max_span FROM rtoc_signals WHERE id = ?", (sig_id,))
        return float(rows[0][0] or 0.0) if rows else 0.0

    def block_rows(self, sig_id: int, lo: float | None, hi: float | None) -> list[B.BlockRow]:
        """Index rows of the blocks of a signal that may overlap [lo, hi]."""
        where = ["signal_id = ?"]
        params: list[Any] = [sig_id]
        if hi is not None:
            where.append("xlo <= ?")
            params.append(hi)
        if lo is not None:
            # the index is on xlo: bound it below by the widest block of this signal
            where.append("xlo >= ? AND xhi >= ?")
            params += [lo - self._span(sig_id), lo]
        rows = self._read(
            f"SELECT id, xlo, xhi, n, ylo, yhi, summary FROM rtoc_blocks WHERE {' AND '.join(where)} ORDER BY xlo",
            params,
        )
        return [
            B.BlockRow(int(i), float(a), float(b), int(n), _nan(mn), _nan(mx), bytes(s))
            for i, a, b, n, mn, mx, s in rows
        ]

    def fetch(self, ids: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Samples of the given blocks, in the order given."""
        got: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            marks = ",".join("?" * len(part))
            for bid, x, y in self._read(
                f"SELECT id, x, y FROM rtoc_block_data WHERE id IN ({marks})", part
            ):
                got[int(bid)] = (B.decode(bytes(x)), B.decode(bytes(y)))
        return [got[i] for i in ids if i in got]

    def query(
        self,
        sig_id: int,
        lo: float | None,
        hi: float | None,
        max_n: int | None,
        extra: list[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Stored samples (plus extra) in [lo, hi], min/max-decimated to about max_n."""
        rows = self.block_rows(sig_id, lo, hi)
        return B.reduce_range(
            rows,
            self.fetch,
            extra or [],
            -np.inf if lo is None else lo,
            np.inf if hi is None else hi,
            max_n,
        )

    def tail(self, sig_id: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The newest n samples of a signal (by x; XY data that fits keeps its written order)."""
        picked: list[tuple[int, np.ndarray, np.ndarray]] = []
        got = 0
        offset = 0
        while got < n:
            rows = self._read(
                "SELECT b.id, d.x, d.y FROM rtoc_blocks b JOIN rtoc_block_data d ON d.id = b.id "
                f"WHERE b.signal_id = ? ORDER BY b.xhi DESC, b.id DESC LIMIT 64 OFFSET {offset}",
                (sig_id,),
            )
            if not rows:
                break
            offset += len(rows)
            for bid, x, y in rows:
                picked.append((int(bid), B.decode(bytes(x)), B.decode(bytes(y))))
                got += len(picked[-1][1])
                if got >= n:
                    break
        if not picked:
            return np.empty(0), np.empty(0)
        picked.sort(key=lambda p: p[0])  # written order
        x = np.concatenate([p[1] for p in picked])
        y = np.concatenate([p[2] for p in picked])
        if len(x) > n:
            x, y = B.sort_xy(x, y)
            x, y = x[-n:], y[-n:]
        return x.copy(), y.copy()

    def iter_samples(
        self, sig_id: int, lo: float | None, hi: float | None, rows: list[B.BlockRow] | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All stored samples of a signal in [lo, hi], block by block in x order (for export)."""
        rows = self.block_rows(sig_id, lo, hi) if rows is None else rows
        for i in range(0, len(rows), 32):
            for x, y in self.fetch([r.id for r in rows[i : i + 32]]):
                mask = np.ones(len(x), dtype=bool)
                if lo is not None:
                    mask &= x >= lo
                if hi is not None:
                    mask &= x <= hi
                if mask.all():
                    yield x, y
                elif mask.any():
                    yield x[mask], y[mask]

    def events(
        self,
        xmin: float | None = None,
        xmax: float | None = None,
        limit: int | None = None,
        newest: bool = False,
    ) -> list[Event]:
        """Stored events of this logger with xmin <= x <= xmax, oldest first."""
        where = ["logger_id = ?"]
        params: list[Any] = [self.logger_id]
        if xmin is not None:
            where.append("x >= ?")
            params.append(xmin)
        if xmax is not None:
            where.append("x <= ?")
            params.append(xmax)
        order = "DESC" if newest else "ASC"
        lim = f" LIMIT {int(limit)}" if limit else ""
        rows = self._read(
            f"SELECT id, x, text, dname, sname, priority, event_id, value FROM rtoc_events WHERE {' AND '.join(where)} ORDER BY x {order}, id {order}{lim}",
            params,
        )
        out = [
            Event(int(i), float(x), t or "", d or "", s or "", int(p), e or "", decode_value(v))
            for i, x, t, d, s, p, e, v in rows
        ]
        return out[::-1] if newest else out


def _first_run(rows: list[tuple[Any, ...]]) -> tuple[list[int], int] | None:
    """The first FANOUT adjacent blocks of equal level in (id, level, n) rows, if any."""
    run: list[int] = []
    level = -1
    for bid, lvl, _n in rows:
        if lvl == level:
            run.append(int(bid))
        else:
            run, level = [int(bid)], int(lvl)
        if len(run) == B.FANOUT:
            return run, level
    return None


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def _nan(v: Any) -> float:
    return float("nan") if v is None else float(v)
