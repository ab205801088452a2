"""Which columns of a table become which signals: RTOC's import mapping (its `csv_profiles`).

A signal takes its y values from one column and its x values from another column, from the
row index, or from a sample rate (x = row / rate). Without a mapping the layout is guessed:
`<name> x` + `<name> [unit]` column pairs (what `rtoc export` writes), else one x column named
x/t/time/timestamp/date (or, for a table with a sample rate, x from the rate; else the row
index) and every other column a signal. `check` says per signal whether it can be imported and
why not, before anything is read into the logger. No part of the logger is imported here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .model import Imported, ImportedSignal
from .table import Column, ImportFileError, Table, split_unit

ColumnRef = str | int  # a column name (header without unit) or a 0-based index
X_NAMES = ("x", "t", "time", "timestamp", "zeit", "datetime", "date", "time_s", "sec", "seconds")
X_RATE = "@rate"  # x = row / sample rate
X_DEFAULT = "default"  # a signal's x: the mapping's x
X_AUTO = "auto"  # the mapping's x: guess

# Kept under the names the CSV importer had: RTOC called every import mapping a csv profile.
CsvImportError = ImportFileError


@dataclass
class CsvSignal:
    """One signal to take from a column."""

    column: ColumnRef
    name: str = ""  # "Device.Signal" or "Signal" (then the mapping's device); default: the header
    unit: str | None = None  # default: from a "name [unit]" header
    x: ColumnRef | None = X_DEFAULT  # its x column; None: row index; "@rate"; "default"


@dataclass
class CsvMapping:
    """Which column is x and which are signals (and how to read the file)."""

    x: ColumnRef | None = X_AUTO  # None: row index; "@rate": from rate; "auto": guess
    signals: list[CsvSignal] = field(default_factory=list)  # empty: every other column
    device: str = "CSV"
    delimiter: str | None = None  # None: sniff
    header: bool | None = None  # None: guess
    sheet: str | None = None  # spreadsheet sheet (None: the first)
    rate: float | None = None  # Hz for x "@rate" (None: the file's own, e.g. a WAV's)
    x_offset: float = 0.0  # added to generated x (index or rate), e.g. a start time

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CsvMapping:
        """The inverse of to_json (profiles); unknown keys are ignored."""
        sigs = [
            CsvSignal(
                column=s["column"],
                name=str(s.get("name", "")),
                unit=s.get("unit"),
                x=s.get("x", X_DEFAULT),
            )
            for s in data.get("signals", [])
        ]
        return cls(
            x=data.get("x", X_AUTO),
            signals=sigs,
            device=str(data.get("device", "CSV")),
            delimiter=data.get("delimiter"),
            header=data.get("header"),
            sheet=data.get("sheet"),
            rate=data.get("rate"),
            x_offset=float(data.get("x_offset", 0.0)),
        )


@dataclass(frozen=True)
class PlannedSignal:
    """One signal of a mapping applied to a table, and whether it can be imported."""

    name: str  # Device.Signal
    unit: str
    y: int | None  # column index
    x: int | None | str  # column index, None (row index) or X_RATE
    problem: str = ""  # why it cannot be imported ("" = it can)
    count: int = 0  # samples it would import
    skipped: int = 0  # rows without a value in its x or y column

    @property
    def ok(self) -> bool:
        return not self.problem


def find_column(table: Table, ref: ColumnRef, what: str) -> int:
    """A column index from a name, a 'name [unit]' label, a 1-based digit string or an index."""
    names = [c.name for c in table.columns]
    where = f"{table.name}: " if table.name else ""
    if isinstance(ref, int):
        if not 0 <= ref < len(names):
            raise ImportFileError(
                f"{where}{what} column {ref + 1} does not exist (the table has {len(names)})"
            )
        return ref
    if ref in names:
        return names.index(ref)
    labels = table.headers
    if ref in labels:
        return labels.index(ref)
    base = split_unit(ref)[0]
    if base in names:
        return names.index(base)
    if ref.isdigit():
        return find_column(table, int(ref) - 1, what)
    raise ImportFileError(
        f"{where}no {what} column named {ref!r} (columns: {', '.join(labels) or 'none'})"
    )


def _pair_x(table: Table) -> dict[str, int]:
    """'<name> x' columns of our own export layout, by signal name."""
    names = [c.name for c in table.columns]
    out = {}
    for i, n in enumerate(names):
        if n.endswith(" x") and n[:-2].strip() in names:
            out[n[:-2].strip()] = i
    return out


def default_x(table: Table, m: CsvMapping) -> int | None | str:
    """The mapping's x: a column index, None (row index) or X_RATE."""
    if m.x == X_AUTO:
        if table.x_hint is not None:
            return table.x_hint
        pairs = set(_pair_x(table).values())
        for i, c in enumerate(table.columns):
            if i not in pairs and (c.name.lower() in X_NAMES or c.kind == "time"):
                return i
        return X_RATE if (m.rate or table.sample_rate) else None
    if m.x is None or m.x == X_RATE:
        return m.x
    return find_column(table, m.x, "x")


def plan(table: Table, m: CsvMapping) -> list[PlannedSignal]:
    """The signals the mapping takes from the table, each with its import status."""
    dx = default_x(table, m)
    pair_x = _pair_x(table)
    specs: list[tuple[str, int | None, int | None | str, str | None, str]] = []
    if m.signals:
        for s in m.signals:
            try:
                yi = find_column(table, s.column, "signal")
            except ImportFileError as exc:
                specs.append((s.name or str(s.column), None, None, s.unit, str(exc)))
                continue
            col = table.columns[yi]
            problem = ""
            if s.x == X_DEFAULT:
                x: int | None | str = pair_x.get(col.name, dx)
            elif s.x is None or s.x == X_RATE:
                x = s.x
            else:
                try:
                    x = find_column(table, s.x, "x")
                except ImportFileError as exc:
                    x, problem = None, str(exc)
            specs.append((s.name or col.name, yi, x, s.unit, problem))
    else:
        used = set(pair_x.values()) | ({dx} if isinstance(dx, int) else set())
        if dx == table.x_hint and dx is not None:  # the date and time columns it was joined from
            used |= {i for i, c in enumerate(table.columns) if c.kind == "time"}
        for i, c in enumerate(table.columns):
            if i in used or c.kind == "text":
                continue
            x = pair_x.get(c.name, dx)
            if isinstance(x, int) and len(table.columns[x].values) != len(c.values):
                x = (
                    X_RATE if (m.rate or table.sample_rate) else None
                )  # MAT vectors of other lengths
            specs.append((c.name, i, x, None, ""))
    out = []
    seen: dict[str, int] = {}
    for name, y, x, unit, problem in specs:
        full = name if "." in name else f"{m.device}.{name}"
        seen[full] = seen.get(full, 0) + 1
        ps = _status(table, m, full, y, x, unit, problem)
        out.append(ps)
    return [
        p
        if seen[p.name] == 1 or p.problem
        else PlannedSignal(
            p.name, p.unit, p.y, p.x, f"several signals are named {p.name}", 0, p.skipped
        )
        for p in out
    ]


def _status(
    table: Table,
    m: CsvMapping,
    name: str,
    y: int | None,
    x: int | None | str,
    unit: str | None,
    problem: str,
) -> PlannedSignal:
    if y is None or problem:
        return PlannedSignal(name, unit or "", y, x, problem or "no y column")
    ycol = table.columns[y]
    u = ycol.unit if unit is None else unit
    dname, _, sname = name.partition(".")
    if not dname or not sname:
        return PlannedSignal(name, u, y, x, "the name must be Device.Signal")
    if ycol.bad is not None:
        return PlannedSignal(name, u, y, x, _bad_text(table, ycol))
    if x == X_RATE and not (m.rate or table.sample_rate):
        return PlannedSignal(name, u, y, x, "x from a sample rate, but no rate is set")
    if isinstance(x, int):
        xcol = table.columns[x]
        if x == y:
            return PlannedSignal(name, u, y, x, "x and y are the same column")
        if xcol.bad is not None:
            return PlannedSignal(name, u, y, x, "x " + _bad_text(table, xcol))
        if len(xcol.values) != len(ycol.values):
            return PlannedSignal(
                name,
                u,
                y,
                x,
                f"x column {xcol.name!r} has {len(xcol.values)} values, "
                f"y column {ycol.name!r} {len(ycol.values)}",
            )
        present = ~(np.isnan(ycol.values) | np.isnan(xcol.values))
    else:
        present = ~np.isnan(ycol.values)
    count = int(present.sum())
    if count == 0:
        return PlannedSignal(name, u, y, x, f"column {ycol.name!r} has no values", 0)
    return PlannedSignal(name, u, y, x, "", count, len(ycol.values) - count)


def _bad_text(table: Table, col: Column) -> str:
    assert col.bad is not None
    row, text = col.bad
    where = f"sheet {table.name!r}, " if table.name else ""
    more = f" and {col.bad_count - 1} more" if col.bad_count > 1 else ""
    return f"column {col.name!r} is not numeric ({where}{table.row_word} {row}: {text!r}{more})"


def build(table: Table, m: CsvMapping, strict: bool = True) -> tuple[Imported, list[PlannedSignal]]:
    """The signals of a table under a mapping.

    strict: any signal that cannot be imported is an error naming it (the CLI); else those
    signals are left out and returned with their reason (the import screen lists them).
    """
    planned = plan(table, m)
    bad = [p for p in planned if not p.ok]
    if strict and bad:
        raise ImportFileError("; ".join(f"{p.name}: {p.problem}" for p in bad))
    good = [p for p in planned if p.ok]
    if not good and not bad:
        raise ImportFileError(
            f"{table.name + ': ' if table.name else ''}no signal columns "
            f"(columns: {', '.join(table.headers) or 'none'})"
        )
    rate = m.rate or table.sample_rate
    out = Imported(source_format="table")
    xs: dict[Any, np.ndarray] = {}
    for p in good:
        assert p.y is not None
        yv = table.columns[p.y].values
        xv = xs.get(p.x)
        if xv is None:
            if isinstance(p.x, int):
                xv = table.columns[p.x].values
            elif p.x == X_RATE:
                assert rate
                xv = np.arange(len(yv), dtype=float) / float(rate) + m.x_offset
            else:
                xv = np.arange(len(yv), dtype=float) + m.x_offset
            xs[p.x] = xv
        xv = xv[: len(yv)]
        if p.skipped:  # rows with an empty x or y cell are not samples
            keep = ~(np.isnan(yv) | np.isnan(xv))
            xv, yv = xv[keep], yv[keep]
        dname, _, sname = p.name.partition(".")
        out.signals.append(ImportedSignal(dname, sname, p.unit, xv, yv))
    return out, bad


def parse_signal_spec(spec: str) -> CsvSignal:
    """CLI form 'COLUMN[=NAME][:UNIT]': COLUMN is a header or a 1-based number."""
    col, _, rest = spec.partition("=")
    name, unit = rest, None
    if ":" in rest:
        name, _, unit = rest.rpartition(":")
    column: ColumnRef = int(col) - 1 if col.isdigit() else col
    if isinstance(column, int) and column < 0:
        raise ImportFileError(f"signal column must be 1 or more, not {col}")
    return CsvSignal(column=column, name=name.strip(), unit=unit)


def parse_x_spec(spec: str | None) -> ColumnRef | None:
    """CLI --x: 'auto'; 0, 'index' or 'none' for the row index; 'rate' (x = row / --rate);
    a header or a 1-based number."""
    if spec is None or spec == "auto":
        return X_AUTO
    if spec in ("0", "index", "none"):
        return None
    if spec in ("rate", X_RATE):
        return X_RATE
    return int(spec) - 1 if spec.isdigit() else spec
