"""PostgreSQL engine (psycopg 3): the same blocks as SQLite, written with binary COPY.

Several loggers may share one database: each registers itself in rtoc_loggers under a uid
(global.name + an id generated once and kept in the user folder) and sees only its own signals
and events. Tables are prefixed rtoc_ so they never clash with the devices/signals/events
tables RTOC itself created in the same database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypedDict

import psycopg

from . import blocks as B
from .base import StorageEngine

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS rtoc_meta (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS rtoc_loggers (id SERIAL PRIMARY KEY, uid TEXT UNIQUE NOT NULL, name TEXT, created DOUBLE PRECISION)",
    """CREATE TABLE IF NOT EXISTS rtoc_signals (
        id SERIAL PRIMARY KEY, logger_id INTEGER NOT NULL REFERENCES rtoc_loggers (id), dname TEXT NOT NULL,
        sname TEXT NOT NULL, unit TEXT, max_span DOUBLE PRECISION NOT NULL DEFAULT 0, UNIQUE (logger_id, dname, sname))""",
    """CREATE TABLE IF NOT EXISTS rtoc_blocks (
        id BIGSERIAL PRIMARY KEY, signal_id INTEGER NOT NULL, level SMALLINT NOT NULL, xlo DOUBLE PRECISION NOT NULL,
        xhi DOUBLE PRECISION NOT NULL, n INTEGER NOT NULL, ylo DOUBLE PRECISION, yhi DOUBLE PRECISION, summary BYTEA NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS rtoc_blocks_signal_x ON rtoc_blocks (signal_id, xlo)",
    "CREATE TABLE IF NOT EXISTS rtoc_block_data (id BIGINT PRIMARY KEY, x BYTEA NOT NULL, y BYTEA NOT NULL)",
    # float64 samples do not compress: skip pglz, store out of line as they come
    "ALTER TABLE rtoc_block_data ALTER COLUMN x SET STORAGE EXTERNAL",
    "ALTER TABLE rtoc_block_data ALTER COLUMN y SET STORAGE EXTERNAL",
    """CREATE TABLE IF NOT EXISTS rtoc_events (
        id BIGSERIAL PRIMARY KEY, logger_id INTEGER NOT NULL, x DOUBLE PRECISION NOT NULL, text TEXT, dname TEXT,
        sname TEXT, priority SMALLINT NOT NULL DEFAULT 0, event_id TEXT, value TEXT)""",
    "CREATE INDEX IF NOT EXISTS rtoc_events_x ON rtoc_events (logger_id, x)",
]
SCHEMA_LOCK = 0x5254_4F43  # advisory lock id ("RTOC"): loggers starting together create tables once


class ConnInfo(TypedDict):
    """The libpq connection keywords of one engine (passed to psycopg.connect as keywords)."""

    host: str
    port: int
    user: str
    password: str
    dbname: str


class PostgresEngine(StorageEngine):
    """Blocks and events in a PostgreSQL database shared by any number of loggers."""

    kind = "postgresql"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        user: str,
        password: str,
        database: str,
        uid: str,
        name: str = "",
        connect_timeout_s: int = 5,
    ) -> None:
        super().__init__()
        self.conninfo = ConnInfo(
            host=host, port=port, user=user, password=password, dbname=database
        )
        self.uid = uid
        self.name = name
        self.connect_timeout_s = connect_timeout_s

    def describe(self) -> str:
        c = self.conninfo
        return f"postgresql {c['user']}@{c['host']}:{c['port']}/{c['dbname']}"

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            **self.conninfo,
            autocommit=True,
            connect_timeout=self.connect_timeout_s,
            application_name=f"rtoc-{self.uid}"[:63],
            # notice a vanished server within seconds instead of hanging on a dead socket
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=3,
        )

    def _q(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def _create_schema(self, conn: Any) -> None:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
            for stmt in SCHEMA:
                cur.execute(stmt)
            cur.execute(
                "INSERT INTO rtoc_meta (key, value) VALUES ('schema_version', %s) ON CONFLICT DO NOTHING",
                (str(self.schema_version),),
            )

    @contextmanager
    def _tx(self, conn: Any) -> Iterator[Any]:
        with conn.transaction(), conn.cursor() as cur:
            yield cur

    def _register_logger(self, cur: Any) -> int:
        cur.execute(
            "INSERT INTO rtoc_loggers (uid, name, created) VALUES (%s, %s, %s) ON CONFLICT (uid) DO UPDATE SET name = EXCLUDED.name RETURNING id",
            (self.uid, self.name, time.time()),
        )
        return int(cur.fetchone()[0])

    def _insert_blocks(self, cur: Any, sig_id: int, blocks: list[B.Block]) -> None:
        # Block ids come from the sequence first, so both tables get their rows by binary COPY.
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence('rtoc_blocks', 'id')) FROM generate_series(1, %s)",
            (len(blocks),),
        )
        ids = [int(r[0]) for r in cur.fetchall()]
        with cur.copy(
            "COPY rtoc_blocks (id, signal_id, level, xlo, xhi, n, ylo, yhi, summary) FROM STDIN (FORMAT BINARY)"
        ) as cp:
            cp.set_types(
                ["int8", "int4", "int2", "float8", "float8", "int4", "float8", "float8", "bytea"]
            )
            for i, b in zip(ids, blocks, strict=True):
                cp.write_row((i, sig_id, b.level, b.xmin, b.xmax, b.n, b.ymin, b.ymax, b.summary))
        with cur.copy("COPY rtoc_block_data (id, x, y) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(["int8", "bytea", "bytea"])
            for i, b in zip(ids, blocks, strict=True):
                cp.write_row((i, b.x, b.y))

    def _is_data_error(self, exc: BaseException) -> bool:
        return isinstance(exc, psycopg.DataError) or super()._is_data_error(exc)

    def _classify(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split())
        where = self.describe()
        if isinstance(exc, psycopg.OperationalError):
            return f"PostgreSQL server unreachable or gone ({where}): {text}"
        if "No space left" in text or "disk full" in text.lower():
            return f"PostgreSQL server disk full ({where}): {text}"
        return f"{where}: {type(exc).__name__}: {text}"

    def size_bytes(self) -> int | None:
        rows = self._read(
            "SELECT COALESCE(SUM(pg_total_relation_size(c)), 0) FROM unnest(ARRAY['rtoc_blocks', 'rtoc_block_data', 'rtoc_events', 'rtoc_signals']::regclass[]) AS c"
        )
        return int(rows[0][0])
