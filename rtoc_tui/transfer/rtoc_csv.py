"""RTOC's own CSV export (`RT_data.exportCSV`): each signal is two space-separated rows, its x
values and then its y values, of its own length; the names are in a `.txt` file beside it, one
line per row (`Lab.Temp X`, `Lab.Temp Y`, ...). Units are not in it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .model import Imported, ImportedSignal
from .table import ImportFileError

_NAME_LINE = re.compile(r"^(?P<name>.+) (?P<axis>[XY])$")


def names_file(path: Path) -> Path:
    return path.with_suffix(".txt")


def row_names(path: Path) -> list[tuple[str, str]] | None:
    """(signal, X|Y) per row from the .txt beside an RTOC CSV export, or None if it is not one."""
    txt = names_file(path)
    if path.suffix.lower() != ".csv" or not txt.is_file():
        return None
    try:
        lines = [ln.strip() for ln in txt.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError):
        return None
    out = []
    for line in lines:
        m = _NAME_LINE.match(line)
        if m is None:
            return None
        out.append((m["name"], m["axis"]))
    pairs_ok = len(out) >= 2 and len(out) % 2 == 0
    for i in range(0, len(out) - 1, 2):
        pairs_ok = pairs_ok and out[i][1] == "X" and out[i + 1] == (out[i][0], "Y")
    return out if pairs_ok else None


def read_rtoc_csv(path: Path, names: list[tuple[str, str]]) -> Imported:
    """The signals of an RTOC CSV export; a malformed row is an error naming its line."""
    rows = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if len(rows) != len(names):
        raise ImportFileError(
            f"{path}: {len(rows)} rows, but {names_file(path).name} names {len(names)}"
        )
    data = Imported(source_format="rtoc-csv")
    for i in range(0, len(rows), 2):
        arrays = []
        for line_no in (i, i + 1):
            try:
                arrays.append(np.array(rows[line_no].split(), dtype=float))
            except ValueError:
                raise ImportFileError(
                    f"{path}: line {line_no + 1} ({names[line_no][0]} {names[line_no][1]}): "
                    "not a row of numbers"
                ) from None
        x, y = arrays
        name = names[i][0]
        if len(x) != len(y):
            raise ImportFileError(
                f"{path}: {name}: {len(x)} x values (line {i + 1}) but {len(y)} y values"
            )
        dname, dot, sname = name.partition(".")
        if not dot:
            dname, sname = "noDevice", name
        data.signals.append(ImportedSignal(dname, sname, "", x, y))
    data.notes.append("RTOC CSV export: units are not in it")
    return data
