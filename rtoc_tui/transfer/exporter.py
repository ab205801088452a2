"""Export selected signals and a time range to CSV, JSON or XLSX, streaming where the format lets.

CSV: two columns per signal, `<Device.Signal> x` and `<Device.Signal> [unit]`, rows aligned
by sample index (signals of different length leave cells empty). `rtoc import` recognises this
layout without a mapping. JSON: RTOC's session layout (see session.py), so RTOC loads it too.
XLSX (the `import` extra's xlsxwriter): one sheet per signal, or (xlsx-table) the CSV's table.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..core.events import Event
from .progress import NullProgress, ProgressSink
from .sources import Chunk, DataSource, SourceSignal

FORMATS = ("csv", "json", "xlsx", "xlsx-table")
XLSX_MAX_ROWS = 1_048_576  # Excel's limit per sheet; longer signals continue on a next sheet
ROWS_PER_WRITE = 65_536


class ExportError(ValueError):
    """The export request cannot be met (unknown signal, bad format...)."""


def select(source: DataSource, names: list[str] | None) -> list[SourceSignal]:
    """The source's signals in the order asked for (all of them when names is None)."""
    sigs = {s.name: s for s in source.signals()}
    if not names:
        return list(sigs.values())
    missing = [n for n in names if n not in sigs]
    if missing:
        raise ExportError(f"no signal named {', '.join(missing)}")
    return [sigs[n] for n in names]


def export(
    source: DataSource,
    path: str | Path,
    names: list[str] | None = None,
    xmin: float | None = None,
    xmax: float | None = None,
    fmt: str | None = None,
    progress: ProgressSink | None = None,
) -> Path:
    """Write the signals (all when names is None) in [xmin, xmax] to path; returns the path."""
    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".") or "csv").lower()
    if fmt not in FORMATS:
        raise ExportError(
            f"unknown export format {fmt!r} (use {', '.join(FORMATS)}; xlsx has one sheet per "
            "signal, xlsx-table one table like the CSV)"
        )
    sigs = select(source, names)
    progress = progress or NullProgress()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        if fmt == "csv":
            write_csv(source, sigs, tmp, xmin, xmax, progress)
        elif fmt.startswith("xlsx"):
            write_xlsx(source, sigs, tmp, xmin, xmax, progress, one_table=fmt == "xlsx-table")
        else:
            write_session_json(
                tmp, source, sigs, xmin, xmax, progress, extra={"exported": time.time()}
            )
        tmp.replace(path)  # a crash mid-export never leaves a truncated file under the real name
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _header(sig: SourceSignal) -> list[str]:
    return [f"{sig.name} x", f"{sig.name} [{sig.unit}]" if sig.unit else sig.name]


def write_csv(
    source: DataSource,
    sigs: list[SourceSignal],
    path: Path,
    xmin: float | None,
    xmax: float | None,
    progress: ProgressSink,
) -> None:
    """The CSV layout described in the module docstring."""
    progress.start(
        f"Exporting {len(sigs)} signals to {path.name.lstrip('.').removesuffix('.part')}",
        sum(s.count for s in sigs) or None,
    )
    iters: list[Iterator[Chunk] | None] = [source.chunks(s.name, xmin, xmax) for s in sigs]
    cur: list[tuple[np.ndarray, np.ndarray, int] | None] = [None] * len(sigs)

    def refill(i: int) -> None:
        while iters[i] is not None and (cur[i] is None or cur[i][2] >= len(cur[i][0])):  # type: ignore[index]
            nxt = next(iters[i], None)  # type: ignore[arg-type]
            if nxt is None:
                iters[i], cur[i] = None, None
            else:
                cur[i] = (nxt[0], nxt[1], 0)

    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([h for s in sigs for h in _header(s)])
        for i in range(len(sigs)):
            refill(i)
        while any(c is not None for c in cur):
            k = min(min(len(c[0]) - c[2] for c in cur if c is not None), ROWS_PER_WRITE)
            cols: list[list[Any]] = []
            for i, c in enumerate(cur):
                if c is None:
                    cols += [[""] * k, [""] * k]
                    continue
                x, y, pos = c
                cols += [x[pos : pos + k].tolist(), y[pos : pos + k].tolist()]
                cur[i] = (x, y, pos + k)
                refill(i)
            w.writerows(zip(*cols, strict=True))
            progress.advance(k * sum(1 for c in cols[1::2] if c and c[0] != ""))
    progress.finish()


def _xlsx_writer() -> Any:
    try:
        import xlsxwriter
    except ModuleNotFoundError:
        raise ExportError("XLSX export needs xlsxwriter: pip install 'rtoc-tui[import]'") from None
    return xlsxwriter


def _sheet_name(name: str, used: set[str]) -> str:
    """Excel sheet names: at most 31 characters, none of []:*?/\\, unique."""
    base = "".join("_" if c in "[]:*?/\\" else c for c in name)[:31] or "Sheet"
    out, k = base, 1
    while out.lower() in used:
        k += 1
        out = f"{base[: 31 - len(str(k)) - 1]}~{k}"
    used.add(out.lower())
    return out


def write_xlsx(
    source: DataSource,
    sigs: list[SourceSignal],
    path: Path,
    xmin: float | None,
    xmax: float | None,
    progress: ProgressSink,
    one_table: bool = False,
) -> None:
    """XLSX: one sheet per signal (x, y columns) or one table in the CSV layout.

    xlsxwriter's constant_memory mode writes each row as it comes, so memory stays flat; rows
    past Excel's limit continue on a next sheet (`Name~2`).
    """
    xw = _xlsx_writer()
    progress.start(
        f"Exporting {len(sigs)} signals to {path.name.lstrip('.').removesuffix('.part')}",
        sum(s.count for s in sigs) or None,
    )
    wb = xw.Workbook(str(path), {"constant_memory": True, "nan_inf_to_errors": True})
    try:
        used: set[str] = set()
        if one_table:
            _xlsx_table(wb, source, sigs, xmin, xmax, progress, used)
        else:
            for s in sigs:
                ws, row = None, 0
                for x, y in source.chunks(s.name, xmin, xmax):
                    for i in range(len(x)):
                        if ws is None or row >= XLSX_MAX_ROWS:
                            ws = wb.add_worksheet(_sheet_name(s.name, used))
                            ws.write_row(0, 0, ["x", f"{s.name} [{s.unit}]" if s.unit else s.name])
                            row = 1
                        ws.write_number(row, 0, float(x[i]))
                        if math.isfinite(y[i]):  # a gap stays an empty cell, not #NUM!
                            ws.write_number(row, 1, float(y[i]))
                        row += 1
                    progress.advance(len(x))
                if ws is None:
                    ws = wb.add_worksheet(_sheet_name(s.name, used))
                    ws.write_row(0, 0, ["x", f"{s.name} [{s.unit}]" if s.unit else s.name])
        if not sigs:
            wb.add_worksheet("empty")
    finally:
        wb.close()
    progress.finish()


def _xlsx_table(
    wb: Any,
    source: DataSource,
    sigs: list[SourceSignal],
    xmin: float | None,
    xmax: float | None,
    progress: ProgressSink,
    used: set[str],
) -> None:
    """The CSV export's layout in sheets: pairs of `<name> x`, `<name> [unit]` columns."""
    header = [h for s in sigs for h in _header(s)]
    arrays = []
    for s in sigs:  # a table row needs every signal's i-th sample: gather each signal once
        parts = list(source.chunks(s.name, xmin, xmax))
        x = np.concatenate([p[0] for p in parts]) if parts else np.empty(0)
        y = np.concatenate([p[1] for p in parts]) if parts else np.empty(0)
        arrays.append((x, y))
    n = max((len(a[0]) for a in arrays), default=0)
    ws, row = None, 0
    for i in range(n):
        if ws is None or row >= XLSX_MAX_ROWS:
            ws = wb.add_worksheet(_sheet_name("Signals", used))
            ws.write_row(0, 0, header)
            row = 1
        for k, (x, y) in enumerate(arrays):
            if i < len(x):
                ws.write_number(row, 2 * k, float(x[i]))
                if math.isfinite(y[i]):
                    ws.write_number(row, 2 * k + 1, float(y[i]))
        row += 1
        if i % 65536 == 65535:
            progress.advance(65536 * len(arrays))
    if ws is None:
        ws = wb.add_worksheet(_sheet_name("Signals", used))
        ws.write_row(0, 0, header)


# -- RTOC session JSON (also the JSON export) ----------------------------------------------------
def _num_list(chunks: Iterator[np.ndarray]) -> Iterator[bytes]:
    """A JSON number list written chunk by chunk (orjson: NaN becomes null, as RTOC's json did not)."""
    yield b"["
    first = True
    for arr in chunks:
        if len(arr) == 0:
            continue
        body = orjson.dumps(
            np.ascontiguousarray(arr, dtype=float), option=orjson.OPT_SERIALIZE_NUMPY
        )[1:-1]
        if not first:
            yield b","
        yield body
        first = False
    yield b"]"


def write_session_json(
    path: Path,
    source: DataSource,
    sigs: list[SourceSignal],
    xmin: float | None,
    xmax: float | None,
    progress: ProgressSink,
    extra: dict[str, Any] | None = None,
    max_length: int = 500_000,
) -> None:
    """RTOC 3.0's session layout (maxLength, devices, signals, events) plus our own keys.

    RTOC's restoreJSON reads `devices` {id: dname}, `signals` {id: [devID, sname, x, y, unit]}
    and `events` {id: [devID, sigID, eventID, text, x, value, priority, id]} and ignores the rest,
    so a file we write loads in RTOC and a file RTOC wrote loads here (session.read_session).
    """
    events = source.events(xmin, xmax)
    names = [s.name for s in sigs]
    units = {s.name: s.unit for s in sigs}
    for e in events:  # RTOC hangs events on signals: give event-only names an empty signal
        if e.name not in units:
            units[e.name] = ""
            names.append(e.name)
    dev_ids: dict[str, int] = {}
    sig_ids: dict[str, int] = {}
    for n in names:
        d = n.partition(".")[0]
        dev_ids.setdefault(d, len(dev_ids) + 1)
        sig_ids[n] = len(sig_ids) + 1
    total = sum(s.count for s in sigs) * 2
    progress.start(f"Writing {path.name.lstrip('.').removesuffix('.part')}", total or None)
    with path.open("wb") as fh:
        head: dict[str, Any] = {"maxLength": max_length, "format": "rtoc-tui-session", "version": 1}
        head.update(extra or {})
        fh.write(orjson.dumps(head)[:-1])
        fh.write(b',"devices":' + orjson.dumps({str(i): d for d, i in dev_ids.items()}))
        fh.write(b',"signals":{')
        in_source = {s.name for s in sigs}
        for k, n in enumerate(names):
            dname, _, sname = n.partition(".")
            fh.write(
                (b"," if k else b"")
                + orjson.dumps(str(sig_ids[n]))
                + b":["
                + orjson.dumps(dev_ids[dname])
                + b","
                + orjson.dumps(sname)
                + b","
            )
            for axis in (0, 1):
                chunks = (
                    (c[axis] for c in source.chunks(n, xmin, xmax)) if n in in_source else iter(())
                )
                for part in _num_list(_counting(chunks, progress)):
                    fh.write(part)
                fh.write(b",")
            fh.write(orjson.dumps(units[n]) + b"]")
        fh.write(b'},"events":{')
        for k, e in enumerate(events):
            row = [
                dev_ids[e.dname],
                sig_ids[e.name],
                k + 1,
                e.text,
                e.x,
                _jsonable(e.value),
                e.priority,
                e.id,
            ]
            fh.write((b"," if k else b"") + orjson.dumps(str(k + 1)) + b":" + orjson.dumps(row))
        fh.write(b"}}")
    progress.finish()


def _counting(chunks: Iterator[np.ndarray], progress: ProgressSink) -> Iterator[np.ndarray]:
    for c in chunks:
        progress.advance(len(c))
        yield c


def _jsonable(value: Any) -> Any:
    try:
        orjson.dumps(value)
        return value
    except TypeError:
        return str(value)


def event_rows(events: list[Event]) -> list[dict[str, Any]]:
    return [e.to_dict() for e in events]
