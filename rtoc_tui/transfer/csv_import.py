"""CSV import with a column mapping, like RTOC's import dialog (x column per signal, 0 = index).

Without a mapping the layout is guessed: a header row if the first row is not all numbers,
`<name> x` + `<name> [unit]` column pairs (what `rtoc export` writes), else one x column named
x/t/time/timestamp/date (or none: x is the row index) and every other column a signal.
Units come from `name [unit]` headers. Empty cells are missing samples.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from .imported import Imported, ImportedSignal
from .progress import NullProgress, ProgressSink

Column = str | int  # a header name or a 0-based column index
X_NAMES = ("x", "t", "time", "timestamp", "zeit", "datetime", "date", "time_s", "time [s]")
ROWS_PER_CHUNK = 65_536


class CsvImportError(ValueError):
    """The file or the mapping does not fit; the message names the column or line."""


@dataclass
class CsvSignal:
    """One signal to take from a column."""

    column: Column
    name: str = ""  # "Device.Signal" or "Signal" (then the mapping's device); default: the header
    unit: str | None = None  # default: from a "name [unit]" header
    x: Column | None | str = "default"  # its x column; None: row index; "default": the mapping's x


@dataclass
class CsvMapping:
    """Which column is x and which are signals."""

    x: Column | None | str = "auto"  # None: row index; "auto": guess
    signals: list[CsvSignal] = field(default_factory=list)  # empty: every other column
    device: str = "CSV"
    delimiter: str | None = None  # None: sniff
    header: bool | None = None  # None: guess


_UNIT = re.compile(r"^(?P<name>.*?)\s*\[(?P<unit>[^\]]*)\]\s*$")


def split_unit(header: str) -> tuple[str, str]:
    """'Voltage [V]' -> ('Voltage', 'V')."""
    m = _UNIT.match(header)
    return (m["name"].strip(), m["unit"].strip()) if m else (header.strip(), "")


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _parse_x(text: str) -> float:
    """A number, or an ISO date/time (as Unix time)."""
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text.strip()).timestamp()


def _lines(fh: io.TextIOBase, progress: ProgressSink) -> Iterator[str]:
    for line in fh:
        progress.advance(len(line.encode("utf-8", errors="replace")))
        yield line


def read_csv(
    path: str | Path, mapping: CsvMapping | None = None, progress: ProgressSink | None = None
) -> Imported:
    """Read signals from a CSV file according to mapping (or a guess)."""
    path = Path(path)
    mapping = mapping or CsvMapping()
    progress = progress or NullProgress()
    try:
        fh = path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise CsvImportError(f"{path}: cannot read ({exc})") from exc
    with fh:
        sample = fh.read(65536)
        fh.seek(0)
        delim = mapping.delimiter
        if delim is None:
            try:
                delim = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
            except csv.Error:
                delim = ","
        progress.start(f"Reading {path.name}", path.stat().st_size or None)
        reader = csv.reader(_lines(fh, progress), delimiter=delim)
        first = next(reader, None)
        if first is None:
            raise CsvImportError(f"{path}: empty file")
        has_header = (
            mapping.header
            if mapping.header is not None
            else not all(_is_number(c) for c in first if c.strip())
        )
        headers = (
            [c.strip() for c in first] if has_header else [f"col{i + 1}" for i in range(len(first))]
        )
        plan = _plan(path, headers, mapping)
        needed = sorted({c for s in plan for c in (s[1], s[2]) if c is not None})
        raw: dict[int, list[str]] = {c: [] for c in needed}
        rows = 0
        if not has_header:
            _take(first, raw, path, 1)
            rows = 1
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            rows += 1
            _take(row, raw, path, rows + int(has_header))
        progress.finish()
    out = Imported(source_format="csv")
    for name, ycol, xcol, unit in plan:
        y_txt = raw[ycol]
        present = np.fromiter((bool(t.strip()) for t in y_txt), dtype=bool, count=len(y_txt))
        if xcol is not None:
            present &= np.fromiter(
                (bool(t.strip()) for t in raw[xcol]), dtype=bool, count=len(y_txt)
            )
        idx = np.flatnonzero(present)
        try:
            y = np.array([float(y_txt[i]) for i in idx], dtype=float)
        except ValueError as exc:
            raise CsvImportError(f"{path}: column {headers[ycol]!r} ({name}): {exc}") from exc
        if xcol is None:
            x = idx.astype(float)
        else:
            try:
                x = np.array([_parse_x(raw[xcol][i]) for i in idx], dtype=float)
            except ValueError as exc:
                raise CsvImportError(f"{path}: x column {headers[xcol]!r}: {exc}") from exc
        dname, _, sname = name.partition(".") if "." in name else (mapping.device, ".", name)
        out.signals.append(ImportedSignal(dname, sname, unit, x, y))
    return out


def _take(row: list[str], raw: dict[int, list[str]], path: Path, line: int) -> None:
    for c, values in raw.items():
        values.append(row[c] if c < len(row) else "")


def _col(path: Path, headers: list[str], ref: Column, what: str) -> int:
    if isinstance(ref, int):
        if not 0 <= ref < len(headers):
            raise CsvImportError(
                f"{path}: {what} column {ref + 1} does not exist (the file has {len(headers)})"
            )
        return ref
    if ref in headers:
        return headers.index(ref)
    bases = [split_unit(h)[0] for h in headers]
    if ref in bases:
        return bases.index(ref)
    if ref.isdigit():
        return _col(path, headers, int(ref) - 1, what)
    raise CsvImportError(f"{path}: no {what} column named {ref!r} (columns: {', '.join(headers)})")


def _plan(path: Path, headers: list[str], m: CsvMapping) -> list[tuple[str, int, int | None, str]]:
    """(signal name, y column, x column or None, unit) per signal."""
    bases = [split_unit(h) for h in headers]
    pair_x: dict[str, int] = {}  # "<name> x" columns of our own export layout
    for i, h in enumerate(headers):
        if h.endswith(" x"):
            base = h[:-2].strip()
            if any(b[0] == base for j, b in enumerate(bases) if j != i):
                pair_x[base] = i
    if m.x == "auto":
        default_x = next(
            (i for i, (b, _u) in enumerate(bases) if b.lower() in X_NAMES and b not in pair_x), None
        )
    elif m.x is None:
        default_x = None
    else:
        default_x = _col(path, headers, m.x, "x")
    plan: list[tuple[str, int, int | None, str]] = []
    if m.signals:
        for s in m.signals:
            ycol = _col(path, headers, s.column, "signal")
            base, unit = bases[ycol]
            if s.x == "default":
                xcol = pair_x.get(base, default_x)
            elif s.x is None:
                xcol = None
            else:
                xcol = _col(path, headers, s.x, "x")
            plan.append((s.name or base, ycol, xcol, unit if s.unit is None else s.unit))
    else:
        used = set(pair_x.values()) | ({default_x} if default_x is not None else set())
        for i, (base, unit) in enumerate(bases):
            if i in used:
                continue
            plan.append((base or f"col{i + 1}", i, pair_x.get(base, default_x), unit))
    if not plan:
        raise CsvImportError(f"{path}: no signal columns (columns: {', '.join(headers)})")
    names = [p[0] for p in plan]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise CsvImportError(
            f"{path}: several columns map to the signal name {', '.join(sorted(dupes))}"
        )
    return plan


def parse_signal_spec(spec: str) -> CsvSignal:
    """CLI form 'COLUMN[=NAME][:UNIT]': COLUMN is a header or a 1-based number."""
    col, _, rest = spec.partition("=")
    name, unit = rest, None
    if ":" in rest:
        name, _, unit = rest.rpartition(":")
    column: Column = int(col) - 1 if col.isdigit() else col
    if isinstance(column, int) and column < 0:
        raise CsvImportError(f"signal column must be 1 or more, not {col}")
    return CsvSignal(column=column, name=name.strip(), unit=unit)


def parse_x_spec(spec: str | None) -> Column | None | str:
    """CLI --x: 'auto', 0 or 'index' for the row index, a header or a 1-based number."""
    if spec is None or spec == "auto":
        return "auto"
    if spec in ("0", "index", "none"):
        return None
    return int(spec) - 1 if spec.isdigit() else spec


def finite_or_nan(v: float) -> float:
    return v if math.isfinite(v) else float("nan")
