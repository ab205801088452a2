"""RTOC's own CSV export (written by RTOC 3.0's RT_data.exportCSV, tests/data/import/rtoc_csv)
imports with its names and exact values (issue 16 item 14)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from rtoc_tui.transfer import read_file
from rtoc_tui.transfer.table import ImportFileError

DATA = Path(__file__).resolve().parents[1] / "data" / "import" / "rtoc_csv"


def test_rtoc_csv_export_imports_as_its_signals() -> None:
    data = read_file(str(DATA / "rtoc_export.csv"))
    got = {s.name: (list(s.x), list(s.y)) for s in data.signals}
    assert got == {
        "Lab.Temp": ([1600000000.0, 1600000001.0, 1600000002.0], [20.5, 21.0, 21.5]),
        "Lab.Humidity": ([1600000000.5, 1600000001.5], [40.0, 41.0]),
        "Generator.Square": (
            list(np.array([1600000000.0, 1600000000.1, 1600000000.2, 1600000000.3])),
            [1.0, 2.0, 2.0, 1.0],
        ),
    }
    assert data.source_format == "rtoc-csv"


def test_a_broken_rtoc_csv_names_the_line(tmp_path: Path) -> None:
    for name in ("rtoc_export.csv", "rtoc_export.txt"):
        shutil.copy(DATA / name, tmp_path / name)
    csv = tmp_path / "rtoc_export.csv"
    lines = csv.read_text().splitlines()
    lines[3] = "40.0 oops"
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportFileError, match=r"line 4 \(Lab.Humidity Y\)"):
        read_file(str(csv))


def test_without_the_names_file_it_is_an_ordinary_csv(tmp_path: Path) -> None:
    csv = tmp_path / "plain.csv"
    csv.write_text("x,y\n1,2\n3,4\n")
    (tmp_path / "plain.txt").write_text("just a note\n")
    data = read_file(str(csv))
    assert data.source_format == "csv" and data.samples == 2
