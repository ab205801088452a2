"""Every import format read with the exact values, and every bad input named clearly."""

from __future__ import annotations

import wave
import zipfile
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io as sio
import xlsxwriter

from rtoc_tui.transfer import read_file
from rtoc_tui.transfer.mapping import X_RATE, CsvMapping, CsvSignal, build, plan
from rtoc_tui.transfer.readers import UnsupportedFormat, detect_format, open_source
from rtoc_tui.transfer.table import ImportFileError
from rtoc_tui.transfer.wav import pcm_to_array

DATA = Path(__file__).parent.parent / "data" / "import"


def sig(data, name):
    (s,) = [s for s in data.signals if s.name == name]
    return s


# -- CSV dialects ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "t,U [V],I [A]\n0.5,1.25,3\n1,2.5,4\n",
        "t;U [V];I [A]\n0,5;1,25;3\n1,0;2,5;4\n",
        "t\tU [V]\tI [A]\n0.5\t1.25\t3\n1\t2.5\t4\n",
        "t|U [V]|I [A]\n0.5|1.25|3\n1|2.5|4\n",
        "  t    U[V]    I[A]\n  0.5  1.25  3\n  1  2.5  4\n",
        '"t","U [V]","I [A]"\n"0.5","1.25","3"\n"1","2.5","4"\n',
        "t;U;I\ns;V;A\n0,5;1,25;3\n1,0;2,5;4\n",  # a unit row under the header
        "Device: PSU-1\nOperator: me\n\nt;U [V];I [A]\n0,5;1,25;3\n1,0;2,5;4\n",  # metadata
    ],
    ids=["comma", "semicolon-decimal-comma", "tab", "bar", "spaces", "quoted", "units", "meta"],
)
def test_csv_dialects(tmp_path: Path, text: str) -> None:
    f = tmp_path / "d.csv"
    f.write_text(text, encoding="utf-8")
    data = read_file(str(f))
    u, i = sig(data, "CSV.U"), sig(data, "CSV.I")
    assert (u.unit, u.x.tolist(), u.y.tolist()) == ("V", [0.5, 1.0], [1.25, 2.5])
    assert (i.unit, i.y.tolist()) == ("A", [3.0, 4.0])


def test_csv_without_header_cp1252_and_crlf(tmp_path: Path) -> None:
    f = tmp_path / "n.txt"
    f.write_bytes("1;2,5\r\n2;3,5\r\n".encode("cp1252"))
    data = read_file(str(f))
    assert [(s.name, s.x.tolist(), s.y.tolist()) for s in data.signals] == [
        ("CSV.col1", [0.0, 1.0], [1.0, 2.0]),
        ("CSV.col2", [0.0, 1.0], [2.5, 3.5]),
    ]
    g = tmp_path / "latin.csv"
    g.write_bytes("Temperatur [°C];Zeit\n20,5;1\n".encode("cp1252"))
    (s,) = read_file(str(g), mapping=CsvMapping(x="Zeit")).signals
    assert (s.sname, s.unit, s.y.tolist()) == ("Temperatur", "°C", [20.5])


def test_csv_local_and_iso_date_times(tmp_path: Path) -> None:
    f = tmp_path / "dt.csv"
    f.write_text("Datum;Wert\n31.01.2024 12:00:00;1\n31.01.2024 12:00:10;2\n", encoding="utf-8")
    (s,) = read_file(str(f)).signals
    t0 = datetime(2024, 1, 31, 12, 0, 0).timestamp()  # local time, as the file means it
    assert s.x.tolist() == [t0, t0 + 10] and s.y.tolist() == [1.0, 2.0]
    g = tmp_path / "iso.csv"
    g.write_text(
        "when,v\n2024-01-31T12:00:00Z,1\n2024-01-31 12:00:05+00:00,2\n01/31/2024 12:00,3\n",
        encoding="utf-8",
    )
    (s,) = read_file(str(g)).signals
    t1 = datetime.fromisoformat("2024-01-31T12:00:00+00:00").timestamp()
    assert s.x.tolist()[:2] == [t1, t1 + 5]
    assert s.x[2] == datetime(2024, 1, 31, 12, 0).timestamp()  # month first: 31 > 12


def test_csv_ragged_rows_are_skipped_counted_and_named(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    rows = ["t,a,b"] + [f"{i},{i * 2},{i * 3}" for i in range(10)]
    rows[3] = "2,4"  # too short
    rows[6] = "5,10,15,99"  # too long
    f.write_text("\n".join(rows) + "\n", encoding="utf-8")
    t = open_source(f).table()
    assert t.skipped_count == 2 and t.skipped_rows == [4, 7]
    assert t.skipped_text() == "2 rows skipped (lines 4, 7): not 3 fields like the header"
    data = read_file(str(f))
    assert sig(data, "CSV.a").x.tolist() == [0, 1, 3, 4, 6, 7, 8, 9]
    assert any("2 rows skipped (lines 4, 7)" in n for n in data.notes)


def test_csv_text_in_a_number_column_names_line_and_column(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("t,v\n1,2\n2,oops\n3,4\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"column 'v' is not numeric \(line 3: 'oops'\)"):
        read_file(str(f), mapping=CsvMapping(signals=[CsvSignal("v")]))


def test_csv_large_file_crosses_chunks(tmp_path: Path) -> None:
    f = tmp_path / "big.csv"
    n = 150_000
    with f.open("w") as fh:
        fh.write("x,y\n")
        for i in range(n):
            fh.write(f"{i},{i * 0.5}\n" if i != 100_000 else "bad row\n")
    t = open_source(f).table()
    assert t.skipped_count == 1 and t.skipped_rows == [100_002]
    y = t.columns[1].values
    assert len(y) == n - 1 and y[-1] == (n - 1) * 0.5


def test_csv_sample_rate_from_metadata(tmp_path: Path) -> None:
    f = tmp_path / "scope.csv"
    f.write_text("Scope export\nSample rate: 2 kHz\nCH1;CH2\n1;2\n3;4\n5;6\n", encoding="utf-8")
    data = read_file(str(f))
    assert sig(data, "CSV.CH1").x.tolist() == [0.0, 0.0005, 0.001]


# -- spreadsheets ------------------------------------------------------------------------------
def write_xlsx(path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path))
    a = wb.add_worksheet("Run A")
    a.write_row(0, 0, ["Measurement of run A"])
    a.write_row(2, 0, ["time", "U [V]", "I [A]", "note"])
    for i in range(5):
        a.write_row(3 + i, 0, [i * 0.5, 1.0 + i, 0.25 * i, f"n{i}"])
    b = wb.add_worksheet("Run B")
    fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    b.write_row(0, 0, ["when", "T [degC]"])
    for i in range(3):
        b.write_datetime(1 + i, 0, datetime(2024, 5, 1, 8, 0, i * 10), fmt)
        b.write_number(1 + i, 1, 20.0 + i / 4)
    b.write_string(3, 1, "n/a")  # text among the numbers of the last row
    wb.close()


def test_xlsx_every_sheet(tmp_path: Path) -> None:
    f = tmp_path / "book.xlsx"
    write_xlsx(f)
    src = open_source(f)
    assert (src.format, src.sheets) == ("xlsx", ["Run A", "Run B"])
    a = src.table("Run A")
    assert a.headers == ["time", "U [V]", "I [A]", "note"]
    assert a.notes == ["metadata: Measurement of run A"]
    data, bad = build(a, CsvMapping(device="RunA"))
    assert bad == []
    u = sig(data, "RunA.U")
    assert (u.unit, u.x.tolist(), u.y.tolist()) == ("V", [0, 0.5, 1, 1.5, 2], [1, 2, 3, 4, 5])
    b = src.table("Run B")
    assert b.columns[0].kind == "time"
    t0 = datetime(2024, 5, 1, 8, 0, 0).timestamp()
    assert b.columns[0].values.tolist() == [t0, t0 + 10, t0 + 20]
    (p,) = plan(b, CsvMapping())
    assert not p.ok and p.problem == ("column 'T' is not numeric (sheet 'Run B', row 4: 'n/a')")
    with pytest.raises(ImportFileError, match="no sheet named 'C'.*Run A, Run B"):
        read_file(str(f), mapping=CsvMapping(sheet="C"))


def test_xls_and_ods_fixtures() -> None:
    xls = open_source(DATA / "sample.xls")
    assert (xls.format, xls.sheets) == ("xls", ["Messung", "Notes"])
    data = read_file(str(DATA / "sample.xls"), mapping=CsvMapping(sheet="Messung", device="M"))
    assert sig(data, "M.U").y.tolist() == [1.5, 2.5, -3.25]
    assert sig(data, "M.I").x.tolist() == [0.0, 0.5, 1.0]
    ods = open_source(DATA / "sample.ods")
    assert (ods.format, ods.sheets) == ("ods", ["Run1", "Run2"])
    data = read_file(str(DATA / "sample.ods"), mapping=CsvMapping(sheet="Run2"))
    assert [(s.name, s.x.tolist(), s.y.tolist()) for s in data.signals] == [
        ("CSV.y", [10.0, 20.0], [-1.0, -2.0])
    ]


def test_password_protected_and_truncated_workbooks(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="password-protected"):
        read_file(str(DATA / "protected.xlsx"))
    good = tmp_path / "good.xlsx"
    write_xlsx(good)
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ImportFileError, match="damaged or truncated"):
        read_file(str(cut))
    # a zip whose sheet XML is cut: calamine's own error, said plainly
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(broken, "w") as zout:
        for item in zin.infolist():
            body = zin.read(item.filename)
            if item.filename.endswith("sheet1.xml"):
                body = body[: len(body) // 2]
            zout.writestr(item, body)
    with pytest.raises(ImportFileError, match="broken.xlsx"):
        read_file(str(broken))


# -- MATLAB ----------------------------------------------------------------------------------
def test_mat_v5_vectors_matrices_structs_and_cells(tmp_path: Path) -> None:
    f = tmp_path / "m.mat"
    t = np.arange(5.0) / 10
    sio.savemat(
        f,
        {
            "t": t,
            "v": (np.arange(5.0) * 2).reshape(-1, 1),
            "M": np.arange(6.0).reshape(3, 2),
            "i16": np.array([1, -2, 3], dtype=np.int16),
            "s": {"a": np.array([7.0, 8.0]), "label": "hi", "inner": {"b": np.array([1.5])}},
            "c": np.array([np.arange(3.0), "x"], dtype=object),
            "z": np.array([1 + 2j]),
        },
    )
    tab = open_source(f).table()
    assert [c.name for c in tab.columns] == [
        "t",
        "v",
        "M(:,1)",
        "M(:,2)",
        "i16",
        "s.a",
        "s.inner.b",
    ]
    assert tab.notes == [
        "s.label: text, not imported",
        "c: a cell array, not imported (only numeric arrays are)",
        "z: complex numbers, not imported (split into real and imaginary)",
    ]
    data = read_file(str(f), mapping=CsvMapping(device="Mat"))
    v = sig(data, "Mat.v")
    assert v.x.tolist() == t.tolist() and v.y.tolist() == [0, 2, 4, 6, 8]
    assert sig(data, "Mat.M(:,2)").y.tolist() == [1, 3, 5]
    assert sig(data, "Mat.M(:,2)").x.tolist() == [0, 1, 2]  # 3 rows, not t's 5: the index
    assert sig(data, "Mat.i16").y.tolist() == [1, -2, 3]
    assert sig(data, "s.a").y.tolist() == [7, 8]


def test_mat_with_only_structs_of_cells_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "cells.mat"
    sio.savemat(f, {"c": np.array([np.arange(2.0), "x"], dtype=object), "s": {"name": "a"}})
    with pytest.raises(ImportFileError, match=r"no numeric variables.*c: a cell array.*s.name"):
        read_file(str(f))


def write_v73(path: Path) -> None:
    with h5py.File(path, "w", userblock_size=512) as h:
        t = h.create_dataset("t", data=np.arange(4.0).reshape(1, 4))  # a 1x4 row vector
        t.attrs["MATLAB_class"] = np.bytes_("double")
        m = h.create_dataset("M", data=np.arange(6.0).reshape(2, 3))  # MATLAB's 3x2, transposed
        m.attrs["MATLAB_class"] = np.bytes_("double")
        g = h.create_group("s")
        g.attrs["MATLAB_class"] = np.bytes_("struct")
        a = g.create_dataset("a", data=np.array([[5.0, 6.0, 7.0, 8.0]]))
        a.attrs["MATLAB_class"] = np.bytes_("double")
        ref_dt = h5py.special_dtype(ref=h5py.Reference)
        c = h.create_dataset("c", (1, 1), dtype=ref_dt)
        c.attrs["MATLAB_class"] = np.bytes_("cell")
    with path.open("r+b") as fh:
        fh.write(
            b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .".ljust(
                116
            )
        )


def test_mat_v73(tmp_path: Path) -> None:
    f = tmp_path / "v73.mat"
    write_v73(f)
    assert detect_format(f) == "mat"
    tab = open_source(f).table()
    assert [c.name for c in tab.columns] == ["M(:,1)", "M(:,2)", "s.a", "t"]
    assert tab.notes == ["c: a cell array, not imported (only numeric arrays are)"]
    data = read_file(str(f), mapping=CsvMapping(device="H"))
    assert sig(data, "H.M(:,1)").y.tolist() == [0, 1, 2]
    assert sig(data, "H.M(:,2)").y.tolist() == [3, 4, 5]
    assert sig(data, "s.a").x.tolist() == [0, 1, 2, 3] and sig(data, "s.a").y.tolist() == [
        5,
        6,
        7,
        8,
    ]


def test_truncated_mat(tmp_path: Path) -> None:
    f = tmp_path / "m.mat"
    sio.savemat(f, {"t": np.arange(1000.0)})
    cut = tmp_path / "cut.mat"
    cut.write_bytes(f.read_bytes()[:300])
    with pytest.raises(ImportFileError, match="cut.mat: .*(damaged or truncated|no numeric)"):
        read_file(str(cut))


# -- WAV -------------------------------------------------------------------------------------
def write_wav(path: Path, width: int, frames: np.ndarray, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(frames.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 1:
            raw = (frames + 128).astype(np.uint8).tobytes()
        elif width == 3:
            raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in frames.reshape(-1))
        else:
            raw = frames.astype({2: "<i2", 4: "<i4"}[width]).tobytes()
        w.writeframes(raw)


@pytest.mark.parametrize(
    "width,lo,hi",
    [(1, -128, 127), (2, -32768, 32767), (3, -8388608, 8388607), (4, -(2**31), 2**31 - 1)],
)
def test_wav_pcm_widths_exact(tmp_path: Path, width: int, lo: int, hi: int) -> None:
    frames = np.array([[0, lo], [hi, -1], [1, 2], [lo, hi]], dtype=np.int64)
    f = tmp_path / f"w{width}.wav"
    write_wav(f, width, frames, rate=4000)
    data = read_file(str(f), mapping=CsvMapping(device="Mic"))
    left, right = sig(data, "Mic.channel 1"), sig(data, "Mic.channel 2")
    assert left.x.tolist() == [0.0, 0.00025, 0.0005, 0.00075]
    assert left.y.tolist() == frames[:, 0].tolist() and right.y.tolist() == frames[:, 1].tolist()


def test_24_bit_decoding_matches_a_reference() -> None:
    rng = np.random.default_rng(1)
    vals = rng.integers(-(2**23), 2**23, size=(1000, 3))
    raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in vals.reshape(-1))
    assert pcm_to_array(raw, 3, 3).tolist() == vals.astype(float).tolist()


def test_float_and_truncated_wav(tmp_path: Path) -> None:
    import struct

    f = tmp_path / "f.wav"
    samples = np.array([0.5, -0.25, 1.0], dtype="<f4")
    body = samples.tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 1000, 4000, 4, 32)
    f.write_bytes(
        b"RIFF"
        + struct.pack("<I", 4 + 8 + 16 + 8 + len(body))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", len(body))
        + body
    )
    (s,) = read_file(str(f)).signals
    assert s.y.tolist() == [0.5, -0.25, 1.0] and s.x.tolist() == [0, 0.001, 0.002]
    good = tmp_path / "g.wav"
    write_wav(good, 2, np.arange(200).reshape(100, 2))
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[:-50])
    with pytest.raises(
        ImportFileError, match="cut.wav: truncated: the header announces 100 frames"
    ):
        read_file(str(cut))


# -- detection and mapping -------------------------------------------------------------------
def test_content_beats_extension_and_unsupported_lists_formats(tmp_path: Path) -> None:
    f = tmp_path / "really_csv.xlsx"
    f.write_text("a,b\n1,2\n", encoding="utf-8")
    assert detect_format(f) == "csv"
    x = tmp_path / "book.dat"
    write_xlsx(x)
    assert detect_format(x) == "xlsx"
    blob = tmp_path / "image.png"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(UnsupportedFormat, match="supported: CSV.*Excel.*ODS.*MATLAB.*WAV"):
        read_file(str(blob))
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(UnsupportedFormat, match="no workbook"):
        read_file(str(z))


def test_rate_x_and_mapping_roundtrip(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text("a;b\n1;2\n3;4\n5;6\n", encoding="utf-8")
    m = CsvMapping(
        x=X_RATE, rate=10.0, x_offset=100.0, signals=[CsvSignal("b", "Dev.B", "mV", "default")]
    )
    (s,) = read_file(str(f), mapping=m).signals
    assert (s.name, s.unit, s.x.tolist(), s.y.tolist()) == (
        "Dev.B",
        "mV",
        [100, 100.1, 100.2],
        [2, 4, 6],
    )
    assert CsvMapping.from_json(m.to_json()) == m
    with pytest.raises(ImportFileError, match="no rate is set"):
        read_file(str(f), mapping=CsvMapping(x=X_RATE))


def test_missing_extra_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    f = tmp_path / "b.xlsx"
    write_xlsx(f)
    monkeypatch.setitem(sys.modules, "python_calamine", None)  # as if not installed
    with pytest.raises(ImportFileError, match=r"python-calamine: pip install 'rtoc-tui\[import\]'"):
        read_file(str(f))
    m = tmp_path / "m.mat"
    sio.savemat(m, {"a": np.arange(3.0)})
    monkeypatch.setitem(sys.modules, "scipy.io", None)
    with pytest.raises(ImportFileError, match=r"needs scipy: pip install 'rtoc-tui\[import\]'"):
        read_file(str(m))


def test_package_names_are_the_functions_in_a_fresh_process() -> None:
    """The package loads its modules lazily; no submodule may shadow a name it exports."""
    import subprocess
    import sys

    code = (
        "import types\n"
        "from rtoc_tui.transfer import ExportError, export, read_file, RichProgress\n"
        "import rtoc_tui.transfer.session\n"
        "from rtoc_tui.transfer import export as again\n"
        "print(isinstance(export, types.FunctionType) and export is again)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_date_and_time_columns_are_joined_into_x(tmp_path: Path) -> None:
    f = tmp_path / "logger.csv"
    f.write_text(
        "Datum;Uhrzeit;Temperatur [°C]\n01.03.2024;23:59:50;20,5\n02.03.2024;00:00:05;20,25\n",
        encoding="utf-8",
    )
    t = open_source(f).table()
    assert t.headers[-1] == "Datum Uhrzeit" and t.preview[0][-1] == "01.03.2024 23:59:50"
    (s,) = read_file(str(f)).signals
    t0 = datetime(2024, 3, 1, 23, 59, 50).timestamp()
    assert (s.sname, s.unit, s.x.tolist(), s.y.tolist()) == (
        "Temperatur",
        "°C",
        [t0, t0 + 15],
        [20.5, 20.25],
    )


def test_joined_date_time_across_the_clock_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        f = tmp_path / "dst.csv"
        f.write_text(
            "Date;Time;v\n31.03.2024;01:30:00;1\n31.03.2024;03:30:00;2\n", encoding="utf-8"
        )
        (s,) = read_file(str(f)).signals
        assert s.x[1] - s.x[0] == 3600.0  # 02:00 became 03:00 that night
        assert s.x[0] == datetime.fromisoformat("2024-03-31T01:30:00+01:00").timestamp()
    finally:
        monkeypatch.undo()
        time.tzset()
