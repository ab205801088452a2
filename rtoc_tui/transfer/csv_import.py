"""CSV/TSV of any common dialect as a Table: separator, decimal comma, header or none, metadata
lines above the table, a unit row, ISO or local date/time columns, ragged rows.

The dialect is taken from the first 200 lines: each separator (tab ; , | and runs of spaces) is
tried and the one giving the longest run of equally wide numeric rows wins; lines above that run
are metadata (a "Sample rate: 1 kHz" there becomes the table's rate), the line right above it
the header. Rows of another width are skipped, counted and named in the table's report.

Rows are read in chunks and, without quotes in a chunk, split with str methods and converted
with numpy a column at a time (~1.5 s for 1,000,000 rows x 4 columns, bench/bench_import.py);
csv.reader would spend about that on splitting alone. Memory stays near the float64 result.
"""

from __future__ import annotations

import codecs
import csv
import itertools
from collections import Counter
from pathlib import Path

import numpy as np

from .mapping import CsvImportError, CsvMapping, CsvSignal, build, parse_signal_spec, parse_x_spec
from .model import Imported
from .progress import NullProgress, ProgressSink
from .table import (
    PREVIEW_ROWS,
    Column,
    Layout,
    Table,
    column_names,
    find_layout,
    is_data_row,
    is_time_text,
    join_date_time,
    rate_from_metadata,
    split_unit,
    text_column_values,
)

__all__ = [
    "CsvImportError",
    "CsvMapping",
    "CsvSignal",
    "parse_signal_spec",
    "parse_x_spec",
    "read_csv",
    "read_csv_table",
    "split_unit",
]

HEAD_LINES = 200
SNIFF_BYTES = 256 * 1024
ROWS_PER_CHUNK = 16_384  # ~4 MB of cell strings in flight; bigger chunks gained no speed
DELIMITERS = ("\t", ";", ",", "|", " ")  # " " means runs of whitespace
WS = " "


def detect_encoding(sample: bytes) -> str:
    """utf-8 (with or without BOM), utf-16 with BOM, else cp1252 (what Excel writes in Europe)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    cut = sample.rfind(b"\n")
    try:
        (sample[: cut + 1] if cut > 0 else sample).decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def _split(lines: list[str], delim: str) -> list[list[str]]:
    if delim == WS:
        return [line.split() for line in lines]
    return list(csv.reader(lines, delimiter=delim))


def _score(rows: list[list[str]], decimal_comma: bool) -> tuple[int, int]:
    """(rows of the table's width after its start, width): the better separator scores more."""
    lay = find_layout(rows, decimal_comma)
    if lay.data_start >= len(rows) or lay.width < 1:
        return (0, 0)
    n = len(rows[lay.data_start])
    run = sum(1 for r in rows[lay.data_start :] if len(r) == n and is_data_row(r, decimal_comma))
    return (run if lay.width > 1 else run // 4, lay.width)


def sniff(
    lines: list[str], delimiter: str | None = None
) -> tuple[str, bool, Layout, list[list[str]]]:
    """(delimiter, decimal comma, layout, head rows) from the first lines of a file."""
    cands = [delimiter] if delimiter else list(DELIMITERS)
    best: tuple[tuple[int, int], str, bool] | None = None
    for d in cands:
        if d != WS and not any(d in line for line in lines) and delimiter is None:
            continue
        dc = d != ","
        sc = _score(_split(lines, d), dc)
        if best is None or sc > best[0]:
            best = (sc, d, dc)
    d = best[1] if best else ","
    rows = _split(lines, d)
    lay = find_layout(rows, d != ",")
    decimal_comma = d != "," and any(
        "," in c and c.replace(",", "", 1).lstrip("+-").isdigit()
        for r in rows[lay.data_start : lay.data_start + 50]
        for c in r
    )
    return d, decimal_comma, lay, rows


def read_csv_table(
    path: str | Path,
    delimiter: str | None = None,
    header: bool | None = None,
    progress: ProgressSink | None = None,
) -> Table:
    """Read a delimited text file into a Table (see the module docstring)."""
    path = Path(path)
    progress = progress or NullProgress()
    try:
        with path.open("rb") as fb:
            sample = fb.read(SNIFF_BYTES)
        size = path.stat().st_size
    except OSError as exc:
        raise CsvImportError(f"{path}: cannot read ({exc})") from exc
    enc = detect_encoding(sample)
    text = sample.decode(enc, errors="replace")
    head_lines = text.splitlines()[:HEAD_LINES]
    if len(sample) == SNIFF_BYTES and len(head_lines) == len(text.splitlines()):
        head_lines = head_lines[:-1]  # the last line of a cut sample is incomplete
    if not any(line.strip() for line in head_lines):
        raise CsvImportError(f"{path}: empty file")
    delim, dec, lay, head_rows = sniff(head_lines, delimiter)
    if header is False and lay.header is not None:
        lay = Layout(lay.data_start - 1 - (lay.units is not None), None, None, lay.width, [])
    elif header is True and lay.header is None:
        first = head_rows[lay.data_start] if lay.data_start < len(head_rows) else []
        lay = Layout(lay.data_start + 1, [c.strip() for c in first], None, lay.width, lay.metadata)
    names = column_names(lay)
    width = lay.width
    counts = Counter(len(r) for r in head_rows[lay.data_start :] if r)
    raw_width = counts.most_common(1)[0][0] if counts else width  # fields of a whole row
    width = min(width, raw_width)
    names = names[:width]
    data_head = head_rows[lay.data_start : lay.data_start + 50]
    is_time = [
        next((is_time_text(r[j]) for r in data_head if j < len(r) and r[j].strip()), False)
        for j in range(width)
    ]
    # physical line number (1-based) of the first data row; csv's quoted newlines in the head
    # are rare enough that head rows and lines are taken as one to one
    first_line = lay.data_start + 1
    # columns are filled in place, sized from the file size and the head's line length, so
    # there is no list of chunks to concatenate at the end (that held the data twice)
    head_bytes = sum(len(ln) + 1 for ln in head_lines[lay.data_start :]) or 1
    est = int(size / max(1.0, head_bytes / max(1, len(head_lines) - lay.data_start)) * 1.05) + 16
    cols = [_Growing(est) for _ in range(width)]
    bad: list[tuple[int, str] | None] = [None] * width
    nbad = [0] * width
    skipped: list[int] = []
    nskipped = 0
    progress.start(f"Reading {path.name}", size or None)
    with path.open("r", encoding=enc, errors="replace", newline="") as fh:
        for _ in range(lay.data_start):
            line = fh.readline()
            progress.advance(len(line))
        line_no = first_line
        while True:
            chunk = list(itertools.islice(fh, ROWS_PER_CHUNK))
            if not chunk:
                break
            progress.advance(sum(map(len, chunk)))
            lines = [ln.rstrip("\r\n") for ln in chunk]
            good_rows, good_nos, rag = _rows(lines, delim, raw_width, line_no)
            line_no += len(chunk)
            nskipped += len(rag)
            if len(skipped) < 100:
                skipped += rag[: 100 - len(skipped)]
            if not good_rows:
                continue
            for j in range(width):
                cells = good_rows[j]
                vals = None
                if not is_time[j]:
                    try:
                        vals = np.array(
                            [c.replace(",", ".") for c in cells] if dec else cells, dtype=float
                        )
                    except ValueError:
                        vals = None
                if vals is None:
                    vals, b, k = text_column_values(cells, good_nos, 0, dec, is_time[j])
                    if b is not None and bad[j] is None:
                        bad[j] = b
                    nbad[j] += k
                cols[j].append(vals)
    progress.finish()
    columns = []
    for j, (name, unit) in enumerate(names):
        values = cols[j].finish()
        kind = "time" if is_time[j] else "number"
        if nbad[j] and not np.isfinite(values).any():
            kind = "text"
        columns.append(Column(name, unit, values, kind, bad[j], nbad[j]))
    table = Table(
        name="",
        columns=columns,
        preview=[r[:width] for r in data_head if len(r) == raw_width][:PREVIEW_ROWS],
        sample_rate=rate_from_metadata(lay.metadata),
        skipped_rows=skipped,
        skipped_count=nskipped,
        skipped_reason=f"not {raw_width} fields like the header"
        if lay.header
        else f"not {raw_width} fields like the first row",
        notes=[f"metadata: {m}" for m in lay.metadata[:20]],
        row_word="line",
    )
    sep = {"\t": "tab", WS: "spaces", ";": "semicolon", ",": "comma", "|": "bar"}[delim]
    table.notes.insert(
        0,
        f"{sep}-separated, {'decimal comma, ' if dec else ''}"
        f"{'header' if lay.header else 'no header'}, {enc}",
    )
    join_date_time(table)
    return table


class _Growing:
    """A float64 column filled chunk by chunk, grown by half when the estimate was short."""

    def __init__(self, capacity: int) -> None:
        self.buf = np.empty(max(16, capacity))
        self.n = 0

    def append(self, vals: np.ndarray) -> None:
        need = self.n + len(vals)
        if need > len(self.buf):
            bigger = np.empty(max(need, int(len(self.buf) * 1.5)))
            bigger[: self.n] = self.buf[: self.n]
            self.buf = bigger
        self.buf[self.n : need] = vals
        self.n = need

    def finish(self) -> np.ndarray:
        out = self.buf[: self.n]
        if self.n < 0.9 * len(self.buf):  # do not keep a mostly unused buffer alive
            out = out.copy()
        self.buf = np.empty(0)
        return out


def _rows(
    lines: list[str], delim: str, width: int, first_no: int
) -> tuple[list[list[str]], list[int], list[int]]:
    """Column-wise cells of the rows with `width` fields, their line numbers, and the line
    numbers of rows of another width (blank lines are neither)."""
    if delim != WS and '"' not in "".join(lines[:1]) and not any('"' in ln for ln in lines):
        counts = [ln.count(delim) for ln in lines]
        want = width - 1
        if all(c == want for c in counts):  # the common case: every line complete
            flat = delim.join(lines).split(delim)
            nos = list(range(first_no, first_no + len(lines)))
            return [flat[j::width] for j in range(width)], nos, []
        good = [ln for ln, c in zip(lines, counts, strict=True) if c == want]
        nos = [first_no + i for i, c in enumerate(counts) if c == want]
        rag = [
            first_no + i
            for i, (ln, c) in enumerate(zip(lines, counts, strict=True))
            if c != want and ln.strip()
        ]
        if not good:
            return [], [], rag
        flat = delim.join(good).split(delim)
        return [flat[j::width] for j in range(width)], nos, rag
    rows = _split(lines, delim)
    keep = [(first_no + i, r) for i, r in enumerate(rows) if len(r) == width]
    rag = [
        first_no + i for i, r in enumerate(rows) if len(r) != width and any(c.strip() for c in r)
    ]
    if not keep:
        return [], [], rag
    cols = [list(c) for c in zip(*(r for _, r in keep), strict=True)]
    return cols, [n for n, _ in keep], rag


def read_csv(
    path: str | Path, mapping: CsvMapping | None = None, progress: ProgressSink | None = None
) -> Imported:
    """Read signals from a CSV file according to mapping (or a guess)."""
    mapping = mapping or CsvMapping()
    table = read_csv_table(path, mapping.delimiter, mapping.header, progress)
    data, _bad = build(table, mapping)
    data.source_format = "csv"
    return data
