"""Moving recordings in and out: sessions, CSV/JSON/XLSX export, import of CSV, spreadsheets,
MATLAB and WAV files through a column mapping, RTOC session import.

The CLI (`rtoc export`, `rtoc import`) and the UI call the same functions; long runs report
progress through a ProgressSink (a rich bar on the command line).

The names below load their module on first use (PEP 562): the file readers, the mapping and
the profiles (readers, csv_import, sheets, matlab, wav, table, mapping, model, profiles) import
no part of the logger, and the import screen must be able to use them in `rtoc attach`, which
loads neither the kernel nor storage.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .csv_import import CsvImportError, CsvMapping, CsvSignal, read_csv
    from .exporter import ExportError, export
    from .imported import (
        Imported,
        ImportedEvent,
        ImportedSignal,
        ImportIncomplete,
        ImportResult,
        import_into_engine,
        import_into_logger,
    )
    from .progress import NullProgress, ProgressSink, RichProgress
    from .readers import UnsupportedFormat
    from .session import SessionError, load_session, read_session, save_session
    from .sources import DataSource, EngineSource, LoggerSource
    from .table import ImportFileError

_WHERE = {
    "CsvImportError": "mapping",
    "CsvMapping": "mapping",
    "CsvSignal": "mapping",
    "read_csv": "csv_import",
    "ExportError": "exporter",
    "export": "exporter",
    "Imported": "model",
    "ImportedEvent": "model",
    "ImportedSignal": "model",
    "ImportIncomplete": "model",
    "ImportResult": "model",
    "import_into_engine": "imported",
    "import_into_logger": "imported",
    "NullProgress": "progress",
    "ProgressSink": "progress",
    "RichProgress": "progress",
    "UnsupportedFormat": "readers",
    "ImportFileError": "table",
    "SessionError": "session",
    "load_session": "session",
    "read_session": "session",
    "save_session": "session",
    "DataSource": "sources",
    "EngineSource": "sources",
    "LoggerSource": "sources",
}

__all__ = [
    "CsvImportError",
    "CsvMapping",
    "CsvSignal",
    "DataSource",
    "EngineSource",
    "ExportError",
    "ImportFileError",
    "ImportIncomplete",
    "ImportResult",
    "Imported",
    "ImportedEvent",
    "ImportedSignal",
    "LoggerSource",
    "NullProgress",
    "ProgressSink",
    "RichProgress",
    "SessionError",
    "UnsupportedFormat",
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


# (exporter.py is not called export.py: importing a submodule sets the package attribute of
# its name, which would then shadow the export() function)


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def read_file(
    path: str,
    fmt: str = "auto",
    mapping: CsvMapping | None = None,
    progress: ProgressSink | None = None,
) -> Imported:
    """Read a session, or a table file (CSV, spreadsheet, MAT, WAV) through a mapping.

    fmt auto detects the format from the content and the extension; a table that cannot be
    mapped raises ImportFileError naming the signal and why; skipped rows and left-out
    variables are listed in the result's notes.
    """
    from .mapping import CsvMapping, build
    from .readers import open_source

    mapping = mapping or CsvMapping()
    src = open_source(path, fmt, mapping.delimiter, mapping.header)
    if src.format == "session":
        from .session import read_session

        return read_session(path, progress)
    table = src.table(mapping.sheet, progress)
    data, _bad = build(table, mapping)
    data.source_format = src.format
    if table.skipped_count:
        data.notes.append(table.skipped_text())
    data.notes += [n for n in table.notes if not n.startswith("metadata:")]
    return data


def export_logger(logger, path, names=None, xmin=None, xmax=None, fmt=None, progress=None):  # type: ignore[no-untyped-def]
    """Export from a running logger: stored history plus memory (memory only without storage)."""
    from .exporter import export
    from .sources import LoggerSource

    return export(LoggerSource(logger, full=True), path, names, xmin, xmax, fmt, progress)
