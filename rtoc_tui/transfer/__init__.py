"""Moving recordings in and out: sessions, CSV/JSON export, CSV import, RTOC session import.

The CLI (`rtoc export`, `rtoc import`) and the UI call the same functions; long runs report
progress through a ProgressSink (a rich bar on the command line).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .csv_import import CsvImportError, CsvMapping, CsvSignal, read_csv
from .export import ExportError, export
from .imported import (
    Imported,
    ImportedEvent,
    ImportedSignal,
    ImportResult,
    import_into_engine,
    import_into_logger,
)
from .progress import NullProgress, ProgressSink, RichProgress
from .session import SessionError, load_session, read_session, save_session
from .sources import DataSource, EngineSource, LoggerSource

if TYPE_CHECKING:
    from ..core.logger import Logger

__all__ = [
    "CsvImportError",
    "CsvMapping",
    "CsvSignal",
    "DataSource",
    "EngineSource",
    "ExportError",
    "ImportResult",
    "Imported",
    "ImportedEvent",
    "ImportedSignal",
    "LoggerSource",
    "NullProgress",
    "ProgressSink",
    "RichProgress",
    "SessionError",
    "export",
    "export_logger",
    "import_into_engine",
    "import_into_logger",
    "load_session",
    "read_csv",
    "read_file",
    "read_session",
    "save_session",
]


def read_file(
    path: str,
    fmt: str = "auto",
    mapping: CsvMapping | None = None,
    progress: ProgressSink | None = None,
) -> Imported:
    """Read a CSV or session file (fmt auto: by extension, .json is a session)."""
    from pathlib import Path

    kind = fmt if fmt != "auto" else ("session" if Path(path).suffix.lower() == ".json" else "csv")
    if kind == "csv":
        return read_csv(path, mapping, progress)
    if kind in ("session", "rtoc", "json"):
        return read_session(path, progress)
    raise ValueError(f"unknown import format {fmt!r} (auto, csv, session)")


def export_logger(
    logger: Logger,
    path: str | Path,
    names: list[str] | None = None,
    xmin: float | None = None,
    xmax: float | None = None,
    fmt: str | None = None,
    progress: ProgressSink | None = None,
) -> Path:
    """Export from a running logger: stored history plus memory (memory only without storage)."""
    return export(LoggerSource(logger, full=True), path, names, xmin, xmax, fmt, progress)
