"""Persistence: SQLite in the user folder by default, PostgreSQL for long-term and shared use.

`attach_storage(logger)` adds the flusher service when backup.active is true and sets
`logger.storage` (range queries over stored + unflushed data, and the storage state).
See docs/storage.md for the layout and for which RTOC backup settings changed.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from ..atomic import atomic_write_text
from ..config.schema import ConfigError
from .base import SignalWrite, StorageEngine, StorageError, StoredSignal, WriteBatch
from .service import StorageService
from .sqlite import SqliteEngine, sqlite_path

if TYPE_CHECKING:
    from ..config.home import Home
    from ..config.schema import Config
    from ..core.logger import Logger

__all__ = [
    "SignalWrite",
    "SqliteEngine",
    "StorageEngine",
    "StorageError",
    "StorageService",
    "StoredSignal",
    "WriteBatch",
    "attach_storage",
    "logger_uid",
    "make_engine",
]

UID_FILE = "logger_id"


def logger_uid(home: Home, name: str) -> str:
    """This logger's identity in a shared database: global.name + an id kept in data/logger_id."""
    path = home.data_dir / UID_FILE
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError:
        token = ""
    if not re.fullmatch(r"[0-9a-f]{16}", token):
        token = secrets.token_hex(8)
        atomic_write_text(path, token + "\n")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "rtoc"
    return f"{safe}-{token}"


def make_engine(home: Home, config: Config) -> StorageEngine:
    """The engine the config selects: PostgreSQL if postgresql.active, else SQLite."""
    pg = config.postgresql
    if pg.active:
        try:
            from .postgres import PostgresEngine  # psycopg loads only when PostgreSQL is used
        except ImportError as exc:
            raise ConfigError(
                "postgresql.active: PostgreSQL storage needs the postgres extra: "
                "pip install 'rtoc-tui[postgres]' (or set postgresql.active to false)"
            ) from exc

        return PostgresEngine(
            host=pg.host,
            port=pg.port,
            user=pg.user,
            password=pg.password,
            database=pg.database,
            uid=logger_uid(home, config.global_.name),
            name=config.global_.name,
        )
    folder: str | Path = config.backup.path or home.data_dir
    return SqliteEngine(sqlite_path(folder))


def attach_storage(logger: Logger, engine: StorageEngine | None = None) -> StorageService | None:
    """Add the storage service to a (not yet started) logger when backup.active is true."""
    b = logger.config.backup
    if not b.active:
        logger.storage = None
        return None
    svc = StorageService(
        logger,
        engine or make_engine(logger.home, logger.config),
        interval_s=b.intervall,
        clear=b.clear,
        resample_hz=b.resample,
        load_on_open=b.loadOnOpen,
        flush_on_close=b.autoOnClose,
    )
    svc.retention.days = b.retentionDays
    svc.retention.max_mb = b.retentionMB
    svc.retention.per_signal = dict(b.retentionSignals)
    logger.add_service(svc)
    logger.storage = svc
    return svc
