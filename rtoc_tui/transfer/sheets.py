"""Spreadsheets (XLSX, XLSM, XLSB, XLS, ODS) as Tables, one per sheet, through python-calamine.

calamine reads every one of these formats without Excel or LibreOffice; it is in the `import`
extra. Rows come from `iter_rows` in chunks, so Python holds one chunk of cell objects at a
time and the result is float64 columns (dates become Unix seconds, local time).
"""

from __future__ import annotations

import itertools
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .progress import NullProgress, ProgressSink
from .table import (
    PREVIEW_ROWS,
    Column,
    ImportFileError,
    Table,
    cell_text,
    cell_value,
    column_names,
    find_layout,
    join_date_time,
    rate_from_metadata,
)

HEAD_ROWS = 200
ROWS_PER_CHUNK = 8192
EXTRA_HINT = "pip install 'rtoc-tui[import]'"


def _calamine() -> Any:
    try:
        import python_calamine
    except ModuleNotFoundError:
        raise ImportFileError(f"reading spreadsheets needs python-calamine: {EXTRA_HINT}") from None
    return python_calamine


def _open(path: Path) -> Any:
    pc = _calamine()
    try:
        return pc.CalamineWorkbook.from_path(str(path))
    except pc.PasswordError:
        raise ImportFileError(
            f"{path}: the workbook is password-protected; save a copy without a password "
            "(File > Info > Protect Workbook in Excel) and import that"
        ) from None
    except (pc.CalamineError, pc.ZipError, pc.XmlError, OSError, ValueError) as exc:
        raise ImportFileError(
            f"{path}: cannot read the workbook, it is damaged or truncated ({exc}); "
            "open and save it again in Excel or LibreOffice"
        ) from None
    except Exception as exc:  # calamine raises plain errors for some broken files
        raise ImportFileError(f"{path}: cannot read the workbook ({exc})") from None


def sheet_names(path: str | Path) -> list[str]:
    """The workbook's sheets, in order (hidden ones too)."""
    wb = _open(Path(path))
    try:
        return list(wb.sheet_names)
    finally:
        wb.close()


def read_sheet(
    path: str | Path, sheet: str | None = None, progress: ProgressSink | None = None
) -> Table:
    """One sheet (the first when sheet is None) as a Table."""
    path = Path(path)
    progress = progress or NullProgress()
    wb = _open(path)
    try:
        names = list(wb.sheet_names)
        if not names:
            raise ImportFileError(f"{path}: the workbook has no sheets")
        name = names[0] if sheet is None else sheet
        if name not in names:
            raise ImportFileError(f"{path}: no sheet named {name!r} (sheets: {', '.join(names)})")
        try:
            sh = wb.get_sheet_by_name(name)
            total = sh.height
            rows = sh.iter_rows()
            start_row = sh.start[0] if sh.start else 0
        except Exception as exc:
            raise ImportFileError(f"{path}: sheet {name!r} cannot be read ({exc})") from None
        progress.start(f"Reading {path.name} / {name}", total or None)
        return _table(name, rows, start_row, progress)
    finally:
        wb.close()


def _table(name: str, rows: Any, start_row: int, progress: ProgressSink) -> Table:
    head = list(itertools.islice(rows, HEAD_ROWS))
    if not any(any(c != "" and c is not None for c in r) for r in head):
        raise ImportFileError(f"sheet {name!r} is empty")
    lay = find_layout(head)
    names = column_names(lay)
    width = lay.width
    parts: list[list[np.ndarray]] = [[] for _ in range(width)]
    bad: list[tuple[int, str] | None] = [None] * width
    nbad = [0] * width
    dated = [False] * width
    first = start_row + lay.data_start + 1  # 1-based sheet row of the first data row
    done = 0
    chunk = head[lay.data_start :]
    preview = [[cell_text(c) for c in r[:width]] for r in chunk[:PREVIEW_ROWS]]
    progress.advance(lay.data_start)
    while chunk:
        for j in range(width):
            cells = [r[j] if j < len(r) else "" for r in chunk]
            try:
                vals = np.array(cells, dtype=float)
            except (ValueError, TypeError):
                vals = np.empty(len(cells))
                for i, c in enumerate(cells):
                    v = cell_value(c) if c != "" else None
                    if isinstance(c, (datetime, date)):
                        dated[j] = True
                    vals[i] = np.nan if v is None else v
                    if v is None and c != "" and c is not None:
                        nbad[j] += 1
                        if bad[j] is None:
                            bad[j] = (first + done + i, str(c))
            parts[j].append(vals)
        done += len(chunk)
        progress.advance(len(chunk))
        chunk = list(itertools.islice(rows, ROWS_PER_CHUNK))
    progress.finish()
    columns = []
    for j, (cname, unit) in enumerate(names):
        values = np.concatenate(parts[j]) if parts[j] else np.empty(0)
        parts[j] = []
        # trailing empty rows (a sheet's used range often runs past the data) are not samples
        kind = "time" if dated[j] else "number"
        if nbad[j] and not np.isfinite(values).any():
            kind = "text"
        columns.append(Column(cname, unit, values, kind, bad[j], nbad[j]))
    n = _trailing_empty(columns)
    if n:
        for c in columns:
            c.values = c.values[: len(c.values) - n]
    table = Table(
        name=name,
        columns=columns,
        preview=preview,
        sample_rate=rate_from_metadata(lay.metadata),
        notes=[f"metadata: {m}" for m in lay.metadata[:20]],
    )
    join_date_time(table)
    return table


def _trailing_empty(columns: list[Column]) -> int:
    if not columns:
        return 0
    filled = np.zeros(len(columns[0].values), dtype=bool)
    for c in columns:
        filled |= ~np.isnan(c.values)
    idx = np.flatnonzero(filled)
    return len(filled) - (int(idx[-1]) + 1 if len(idx) else 0)
