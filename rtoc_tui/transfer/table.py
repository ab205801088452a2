"""A file's data as a table of columns, whatever the format: what the mapping and the UI work on.

Every reader (CSV, spreadsheet, MATLAB, WAV) turns its file into `Table`s: named columns of
float64 values (NaN where a cell is empty), plus what the reader learnt on the way (header,
units, skipped rows, a sample rate, notes). The module imports no part of the logger, so the UI
may use it (it reads files on the machine it runs on and hands the data to the logger).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np

PREVIEW_ROWS = 20
MAX_LISTED_ROWS = 10  # skipped row numbers named in a report (the count is always exact)


class ImportFileError(ValueError):
    """The file or the mapping does not fit; the message names the sheet, row or column."""


@dataclass
class Column:
    """One column of a table: float64 values (NaN = empty cell) and what they were."""

    name: str
    unit: str
    values: np.ndarray
    kind: str = "number"  # number | time (Unix seconds) | text (no usable numbers)
    bad: tuple[int, str] | None = None  # first cell that is not a number: (row in file, text)
    bad_count: int = 0

    @property
    def label(self) -> str:
        return f"{self.name} [{self.unit}]" if self.unit else self.name


@dataclass
class Table:
    """One sheet (or the only table) of a file."""

    name: str  # sheet name; "" for single-table formats
    columns: list[Column]
    preview: list[list[str]] = field(default_factory=list)  # first rows, as shown to the user
    sample_rate: float | None = None  # Hz, when the format has one (WAV) or metadata named it
    skipped_rows: list[int] = field(default_factory=list)  # first few skipped row numbers
    skipped_count: int = 0
    skipped_reason: str = ""
    notes: list[str] = field(default_factory=list)  # metadata lines, ignored variables, ...
    row_word: str = "row"  # "line" for text files
    x_hint: int | None = None  # the column to guess as x (a date joined with a time column)

    @property
    def headers(self) -> list[str]:
        return [c.label for c in self.columns]

    @property
    def rows(self) -> int:
        return max((len(c.values) for c in self.columns), default=0)

    @property
    def nbytes(self) -> int:
        return sum(c.values.nbytes for c in self.columns)

    def shape_key(self) -> list[str]:
        """What makes two files 'of the same shape' for profiles: the column names."""
        return [c.name for c in self.columns]

    def skipped_text(self) -> str:
        """'3 rows skipped (lines 4, 9, 12): <reason>' or ''."""
        if not self.skipped_count:
            return ""
        listed = ", ".join(str(r) for r in self.skipped_rows[:MAX_LISTED_ROWS])
        more = ", ..." if self.skipped_count > MAX_LISTED_ROWS else ""
        plural = "s" if self.skipped_count != 1 else ""
        where = f" ({self.row_word}{plural} {listed}{more})" if listed else ""
        return f"{self.skipped_count} row{plural} skipped{where}: {self.skipped_reason}"


# -- cells -----------------------------------------------------------------------------------------
_UNIT = re.compile(r"^(?P<name>.*?)\s*[\[(](?P<unit>[^\])]*)[\])]\s*$")
_DMY = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4})(?:[ T,]+(.*))?$")
_YMD_SLASH = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T,]+(.*))?$")
_TIME_ONLY = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}(?:[.,]\d+)?))?$")


def split_unit(header: str) -> tuple[str, str]:
    """'Voltage [V]' or 'Voltage (V)' -> ('Voltage', 'V')."""
    m = _UNIT.match(header)
    if m and m["name"].strip():
        return m["name"].strip(), m["unit"].strip()
    return header.strip(), ""


def to_number(text: str, decimal_comma: bool = False) -> float | None:
    """A number cell as float, None if it is not one ('' is None too)."""
    t = text.strip()
    if not t:
        return None
    if decimal_comma:
        t = t.replace(".", "").replace(",", ".") if t.count(",") == 1 else t
    try:
        return float(t)
    except ValueError:
        return None


def _time_part(text: str | None) -> str:
    if not text:
        return "00:00:00"
    t = text.strip().replace(",", ".")
    return t if t.count(":") >= 2 or "+" in t or t.endswith("Z") else t + ":00"


def parse_datetime(text: str, day_first: bool = True) -> float | None:
    """An ISO or common local date/time as Unix seconds (local time unless it has an offset).

    Accepts 2024-01-31T12:00:00(+01:00), 2024-01-31 12:00, 31.01.2024 12:00:00, 31/01/2024,
    01/31/2024 (month first when day_first is False or the first field is over 12),
    2024/01/31 12:00 and a time of day alone (seconds since midnight).
    """
    t = text.strip()
    if not t or not any(c.isdigit() for c in t):
        return None
    try:
        return datetime.fromisoformat(t.replace(",", ".") if "," in t[10:] else t).timestamp()
    except ValueError:
        pass
    m = _DMY.match(t)
    if m:
        a, b, year = int(m[1]), int(m[3]), m[4]
        if b > 12:  # 01/31/2024: month first
            day, month = b, a
        elif a > 12:
            day, month = a, b
        else:
            day, month = (a, b) if day_first else (b, a)
        try:
            return datetime.fromisoformat(
                f"{year}-{month:02d}-{day:02d}T{_time_part(m[5])}"
            ).timestamp()
        except ValueError:
            return None
    m = _YMD_SLASH.match(t)
    if m:
        try:
            return datetime.fromisoformat(
                f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}T{_time_part(m[4])}"
            ).timestamp()
        except ValueError:
            return None
    m = _TIME_ONLY.match(t)
    if m:
        sec = float((m[3] or "0").replace(",", "."))
        return int(m[1]) * 3600 + int(m[2]) * 60 + sec
    return None


def cell_value(v: Any) -> float | None:
    """A spreadsheet cell (float, int, bool, str, date, datetime, time) as a number or None."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, datetime):
        return v.timestamp()
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day).timestamp()
    if isinstance(v, time):
        return v.hour * 3600 + v.minute * 60 + v.second + v.microsecond / 1e6
    if isinstance(v, str):
        n = to_number(v)
        return n if n is not None else parse_datetime(v)
    return None


def cell_text(v: Any) -> str:
    """A cell as the preview shows it."""
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) and v != int(v) else f"{v:g}"
    if isinstance(v, (datetime, date, time)):
        return v.isoformat(sep=" ") if isinstance(v, datetime) else v.isoformat()
    return str(v)


def is_time_text(text: str) -> bool:
    t = text.strip()
    return to_number(t) is None and parse_datetime(t) is not None


# -- layout: metadata lines, header, unit row ----------------------------------------------------
@dataclass
class Layout:
    """Where the table starts in the first rows of a file."""

    data_start: int  # index (in the head rows) of the first data row
    header: list[str] | None
    units: list[str] | None
    width: int
    metadata: list[str]


def is_data_row(cells: Sequence[Any], decimal_comma: bool) -> bool:
    """A row is data when most of its non-empty cells are numbers or dates."""
    filled = [c for c in cells if c is not None and str(c).strip() != ""]
    if not filled:
        return False
    good = 0
    for c in filled:
        if isinstance(c, str):
            if to_number(c, decimal_comma) is not None or parse_datetime(c) is not None:
                good += 1
        elif cell_value(c) is not None:
            good += 1
    return good * 2 > len(filled)


def find_layout(head: list[list[Any]], decimal_comma: bool = False) -> Layout:
    """Find metadata lines, the header and a unit row in the first rows of a table.

    The table's width is the one most data rows (mostly numbers or dates) have; it starts at
    the first data row of that width that the following rows agree with. Of the rows before
    it, the last non-empty one is the header and, if the row before that is as wide and
    carries no units, a row of short texts under the header is taken as units
    (`Time;Voltage` then `s;V`).
    """

    def width(r: list[Any]) -> int:
        n = len(r)
        while n and (r[n - 1] is None or str(r[n - 1]).strip() == ""):
            n -= 1
        return n

    rows = [list(r) for r in head]
    widths = [width(r) for r in rows]
    data = [bool(widths[k]) and is_data_row(rows[k], decimal_comma) for k in range(len(rows))]
    modes = Counter(widths[k] for k in range(len(rows)) if data[k])
    best = (0, -1, 0)  # (-, start, width)
    if modes:
        # the width most data rows have; the table starts at the first such row that most of
        # the next rows agree with (a ragged row further down does not move the start)
        w = max(modes.items(), key=lambda kv: (kv[1], kv[0]))[0]
        for k in range(len(rows)):
            if data[k] and widths[k] == w:
                nxt = [j for j in range(k + 1, len(rows)) if widths[j]][:5]
                if not nxt or sum(data[j] and widths[j] == w for j in nxt) * 2 >= len(nxt):
                    best = (1, k, w)
                    break
    if best[1] < 0:  # no numbers at all: the first non-empty row is the header
        first = next((k for k, w in enumerate(widths) if w), 0)
        w = max(widths, default=0)
        header = [str(c or "").strip() for c in rows[first][:w]] if rows else None
        return Layout(first + 1, header, None, w, [_text(r) for r in rows[:first]])
    _, start, w = best
    header = units = None
    meta_end = start
    above = [k for k in range(start) if widths[k]]
    if above and widths[above[-1]] >= min(w, 2):
        h = above[-1]
        header = [str(c if c is not None else "").strip() for c in rows[h][:w]]
        meta_end = h
        if (
            len(above) >= 2
            and above[-2] == h - 1
            and widths[h - 1] == widths[h]
            and not any(split_unit(str(c or ""))[1] for c in rows[h - 1][:w])
            and all(len(str(c or "")) <= 12 for c in rows[h][:w])
            and not is_data_row(rows[h], decimal_comma)
        ):
            units = header
            header = [str(c if c is not None else "").strip() for c in rows[h - 1][:w]]
            meta_end = h - 1
    header = [*(header or []), *([""] * (w - len(header or [])))][:w] if header else None
    return Layout(start, header, units, w, [_text(r) for r in rows[:meta_end] if width(r)])


def _text(row: list[Any]) -> str:
    return " ".join(cell_text(c) for c in row if c is not None and str(c).strip() != "")


_RATE = re.compile(
    r"(?:sample\s*rate|samplerate|sampling\s*(?:rate|frequency)|abtastrate|fs)\s*[:=]?\s*"
    r"([0-9]+(?:[.,][0-9]+)?)\s*(k?)hz",
    re.I,
)


def rate_from_metadata(lines: list[str]) -> float | None:
    """'Sample rate: 1000 Hz' (or kHz) in a file's metadata lines."""
    for line in lines:
        m = _RATE.search(line)
        if m:
            return float(m[1].replace(",", ".")) * (1000.0 if m[2] else 1.0)
    return None


def column_names(layout: Layout) -> list[tuple[str, str]]:
    """(name, unit) per column: from the header (and unit row), else col1, col2..."""
    out = []
    for i in range(layout.width):
        raw = layout.header[i] if layout.header and i < len(layout.header) else ""
        name, unit = split_unit(raw) if raw else (f"col{i + 1}", "")
        if layout.units and i < len(layout.units) and layout.units[i] and not unit:
            unit = layout.units[i].strip("[]() ")
        out.append((name or f"col{i + 1}", unit))
    seen: dict[str, int] = {}
    for i, (n, u) in enumerate(out):  # duplicate headers get a suffix so columns stay nameable
        if n in seen:
            seen[n] += 1
            out[i] = (f"{n}_{seen[n]}", u)
        else:
            seen[n] = 1
    return out


def text_column_values(
    cells: Sequence[str],
    row_numbers: Sequence[int] | None,
    first_row: int,
    decimal_comma: bool,
    is_time: bool,
) -> tuple[np.ndarray, tuple[int, str] | None, int]:
    """Convert text cells one by one (the slow path): values, first bad cell, bad count."""
    out = np.empty(len(cells), dtype=float)
    bad: tuple[int, str] | None = None
    nbad = 0
    for i, c in enumerate(cells):
        if is_time:
            v = parse_datetime(c) if c.strip() else None
            if v is None and c.strip():
                v = to_number(c, decimal_comma)
        else:
            v = to_number(c, decimal_comma)
            if v is None and c.strip():
                v = parse_datetime(c)
        if v is None:
            out[i] = math.nan
            if c.strip():
                nbad += 1
                if bad is None:
                    bad = (row_numbers[i] if row_numbers is not None else first_row + i, c.strip())
        else:
            out[i] = v
    return out, bad, nbad


def _utc_offset(t: float) -> float:
    return datetime.fromtimestamp(t).astimezone().utcoffset().total_seconds()  # type: ignore[union-attr]


def join_date_time(table: Table) -> None:
    """A date column followed by a time-of-day column (`Datum;Uhrzeit;...`, as many data
    loggers write) gets a joined column `<date> <time>` appended, guessed as x.

    Dates are local midnights (Unix seconds) and times seconds since midnight; their sum is
    corrected on days where the clock changes (DST), found per distinct date.
    """
    cols = table.columns
    for i in range(len(cols) - 1):
        d, t = cols[i], cols[i + 1]
        if d.kind != "time" or t.kind != "time" or len(d.values) != len(t.values):
            continue
        dv, tv = d.values, t.values
        ok = ~(np.isnan(dv) | np.isnan(tv))
        if not ok.any():
            continue
        tvals = tv[ok]
        if tvals.min() < 0 or tvals.max() >= 86400:
            continue
        days = np.unique(dv[ok])
        if len(days) > 100_000 or any(
            datetime.fromtimestamp(x).time() != time(0) for x in days[:50]
        ):
            continue
        joined = dv + tv  # NaN where either is missing
        for day in days:
            if _utc_offset(day) != _utc_offset(day + 86399):  # the clock changes that day
                rows = np.flatnonzero(dv == day)
                base = datetime.fromtimestamp(day)
                for r in rows:
                    if not np.isnan(tv[r]):
                        joined[r] = (
                            datetime.combine(base.date(), time(0)) + timedelta(seconds=float(tv[r]))
                        ).timestamp()
        cols.append(Column(f"{d.name} {t.name}", "", joined, "time"))
        table.preview = [
            [*row, f"{row[i]} {row[i + 1]}".strip() if len(row) > i + 1 else ""]
            for row in table.preview
        ]
        table.x_hint = len(cols) - 1
        return
