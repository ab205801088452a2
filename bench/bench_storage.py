"""Storage benchmarks: sustained ingest with SQLite on, bytes per sample, range query, PostgreSQL.

    .venv/bin/python bench/bench_storage.py            # everything (starts a PG cluster if needed)
    .venv/bin/python bench/bench_storage.py --only ingest,query --seconds 20

Goals (issue 5): 1,000,000 samples/s over 100 signals with the flusher keeping up and RSS flat;
<= 20 bytes per sample in SQLite; 1,000 decimated points out of 10,000,000 stored samples of one
signal in < 50 ms; >= 300,000 samples/s written to PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rtoc_tui.config.home import Home  # noqa: E402
from rtoc_tui.core.logger import Logger  # noqa: E402
from rtoc_tui.storage import SignalWrite, SqliteEngine, WriteBatch, attach_storage  # noqa: E402
from rtoc_tui.storage import blocks as B  # noqa: E402


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


# -- 1+2: sustained ingest with SQLite on, bytes per sample ---------------------------------------
def bench_ingest(
    seconds: float, rate: int, n_signals: int, record_length: int, interval: float
) -> None:
    """Ingest `rate` samples/s over n_signals for `seconds` with SQLite persistence on."""
    tmp = Path(tempfile.mkdtemp(prefix="rtoc-bench-"))
    try:
        home = Home(tmp / "home")
        home.ensure()
        home.write_autorun([])
        home.config_file.write_text(
            f'{{"global": {{"recordLength": {record_length}}}, "backup": {{"intervall": {interval}}}}}'
        )
        logger = Logger.from_home(home)
        svc = attach_storage(logger)
        assert svc is not None
        proc = psutil.Process()

        async def run() -> None:
            await logger.start(autorun=False)
            tick_s = 0.01  # a fast driver delivers blocks, e.g. 100 samples per signal every 10 ms
            per_tick = max(1, round(rate * tick_s / n_signals))
            names = [f"s{i:03d}" for i in range(n_signals)]
            stop = threading.Event()
            ingested = [0]

            def ingest() -> None:
                t0 = time.monotonic()
                k = 0
                base = np.arange(per_tick, dtype=float)
                while not stop.is_set():
                    x = time.time() + base * (tick_s / per_tick)
                    y = np.sin(x)
                    for name in names:
                        logger.store.append("Bench", name, x, y, "V")
                    ingested[0] += per_tick * n_signals
                    k += 1
                    delay = t0 + k * tick_s - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)  # pacing to the target rate, not waiting for a result

            th = threading.Thread(target=ingest, daemon=True)
            t_start = time.monotonic()
            th.start()
            print(
                f"  {'t/s':>5} {'ingested/s':>12} {'written/s':>12} {'lag/s':>6} {'pending':>10} {'RSS':>10}"
            )
            last = (t_start, 0, 0)
            lags = []
            rss = []
            while time.monotonic() - t_start < seconds:
                await asyncio.sleep(1.0)
                now = time.monotonic()
                ing, wr = ingested[0], svc.samples_written
                lag = svc.lag_s()
                lags.append(lag or 0.0)
                rss.append(proc.memory_info().rss)
                print(
                    f"  {now - t_start:5.1f} {(ing - last[1]) / (now - last[0]):12,.0f} {(wr - last[2]) / (now - last[0]):12,.0f}"
                    f" {lag if lag is not None else float('nan'):6.2f} {svc.pending_samples():10,} {mb(rss[-1]):>10}"
                )
                last = (now, ing, wr)
            stop.set()
            th.join()
            elapsed = time.monotonic() - t_start
            await logger.stop()
            full = len(rss) // 2  # rings are full after record_length / per-signal rate seconds
            print(
                f"  ingest: {ingested[0] / elapsed:,.0f} samples/s over {n_signals} signals for {elapsed:.0f} s; "
                f"lag max {max(lags):.2f} s, median {statistics.median(lags):.2f} s; flush took {svc.max_flush_s * 1000:.0f} ms at most "
                f"(interval {interval * 1000:.0f} ms); "
                f"lost {svc.samples_lost}; RSS {mb(rss[full])} -> {mb(rss[-1])} over the second half"
            )
            eng = SqliteEngine(svc.engine.path)  # type: ignore[attr-defined]
            eng.open()
            eng._w.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            stored = sum(s.count for s in eng.signals())
            size = eng.size_bytes() or 0
            eng.close()
            print(
                f"  on disk: {mb(size)} for {stored:,} samples = {size / max(1, stored):.2f} bytes/sample (goal <= 20)"
            )
            if stored != ingested[0]:
                print(f"  !! stored {stored:,} != ingested {ingested[0]:,}")

        asyncio.run(run())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- 3: range query over 10M samples ----------------------------------------------------------------
def fill(engine, total: int, per_block: int, name: str = "Q") -> None:
    """Write one signal of `total` samples in blocks of per_block (as 1 s flushes would)."""
    x0 = 1.7e9
    step = 1e-4
    per_batch = per_block * 20
    for start in range(0, total, per_batch):
        batch = WriteBatch()
        for b in range(start, min(total, start + per_batch), per_block):
            x = x0 + np.arange(b, min(total, b + per_block)) * step
            y = np.sin(x * 3.0) + (np.arange(len(x)) % 997 == 0) * 5.0  # sparse spikes must survive
            batch.signals.append(SignalWrite("Bench", name, "V", x, y))
        engine.write(batch)


def time_query(
    engine, name: str, lo: float | None, hi: float | None, max_n: int, runs: int = 10
) -> tuple[float, int]:
    sig = engine.find(name)
    times = []
    n = 0
    for _ in range(runs):
        t = time.perf_counter()
        x, _y = engine.query(sig.id, lo, hi, max_n)
        times.append(time.perf_counter() - t)
        n = len(x)
    return statistics.median(times), n


def bench_query(total: int, per_block: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="rtoc-bench-q-"))
    try:
        eng = SqliteEngine(tmp / "q.sqlite")
        eng.open()
        t = time.perf_counter()
        fill(eng, total, per_block)
        dt = time.perf_counter() - t
        eng._w.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = eng.size_bytes() or 0
        print(
            f"  SQLite: wrote {total:,} samples of one signal in {dt:.1f} s ({total / dt:,.0f}/s), {size / total:.2f} bytes/sample"
        )
        sig = eng.find("Bench.Q")
        x0 = 1.7e9
        span = total * 1e-4
        for label, lo, hi, n in [
            ("all, 1,000 points", None, None, 1000),
            ("10% in the middle, 1,000 points", x0 + 0.45 * span, x0 + 0.55 * span, 1000),
            ("all, 4,000 points", None, None, 4000),
            ("1 s (10,000 samples), raw", x0 + 100.0, x0 + 101.0, 100_000),
        ]:
            med, npts = time_query(eng, "Bench.Q", lo, hi, n)
            print(
                f"  query {label}: {med * 1000:.1f} ms median of 10 -> {npts} points (goal < 50 ms)"
            )
        xq, yq = eng.query(sig.id, None, None, 1000)
        print(f"  spikes kept in the 1,000-point view: max y = {yq.max():.2f} (raw max 6.0)")
        eng.close()
        eng2 = SqliteEngine(
            tmp / "q.sqlite"
        )  # a fresh connection: nothing cached in SQLite's page cache
        eng2.open()
        med, npts = time_query(eng2, "Bench.Q", None, None, 1000, runs=1)
        print(f"  query all, 1,000 points, first query on a new connection: {med * 1000:.1f} ms")
        eng2.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- 4: PostgreSQL write rate --------------------------------------------------------------------------
def pg_dsn() -> tuple[str, str | None]:
    """(dsn, env file to stop afterwards or None)."""
    dsn = os.environ.get("RTOC_TEST_PG_DSN")
    if dsn:
        return dsn, None
    env_file = tempfile.mktemp(prefix="rtoc-bench-pg-", suffix=".env")
    out = subprocess.run(
        ["bash", str(ROOT / ".ci" / "postgres.sh"), "start", env_file],
        check=True,
        capture_output=True,
        text=True,
    )
    for line in out.stdout.splitlines():
        if line.startswith("export RTOC_TEST_PG_DSN="):
            return line.split("=", 1)[1].strip("'"), env_file
    raise RuntimeError("postgres.sh printed no DSN")


def rows_copy_payload(sig_id: int, x: np.ndarray, y: np.ndarray) -> bytes:
    """Binary COPY payload of one row per sample (signal_id int4, x float8, y float8), built with numpy."""
    rec = np.dtype(
        [
            ("nf", ">i2"),
            ("l1", ">i4"),
            ("sig", ">i4"),
            ("l2", ">i4"),
            ("x", ">f8"),
            ("l3", ">i4"),
            ("y", ">f8"),
        ]
    )
    a = np.empty(len(x), dtype=rec)
    a["nf"], a["l1"], a["sig"], a["l2"], a["x"], a["l3"], a["y"] = 3, 4, sig_id, 8, x, 8, y
    return a.tobytes()


def bench_pg(seconds: float, n_signals: int, per_signal: int) -> None:
    from psycopg.conninfo import conninfo_to_dict

    from rtoc_tui.storage.postgres import PostgresEngine

    dsn, env_file = pg_dsn()
    try:
        c = conninfo_to_dict(dsn)
        eng = PostgresEngine(
            host=c["host"],
            port=int(c["port"]),
            user=c["user"],
            password=c.get("password", ""),
            database=c["dbname"],
            uid=f"bench-{os.getpid()}-{time.time_ns()}",
        )
        eng.open()
        x0 = time.time()
        total = 0
        t0 = time.perf_counter()
        k = 0
        while time.perf_counter() - t0 < seconds:
            batch = WriteBatch()
            for i in range(n_signals):
                x = x0 + (k * per_signal + np.arange(per_signal)) * 1e-4
                batch.signals.append(SignalWrite("Bench", f"s{i:03d}", "V", x, np.sin(x)))
            eng.write(batch)
            total += n_signals * per_signal
            k += 1
        dt = time.perf_counter() - t0
        print(
            f"  PostgreSQL blocks (binary COPY of bytea blocks): {total / dt:,.0f} samples/s "
            f"({total:,} samples, {n_signals} signals x {per_signal:,} per transaction; goal >= 300,000)"
        )
        size = eng.size_bytes() or 0
        print(f"  PostgreSQL on disk (all rtoc_ tables in the database): {mb(size)}")
        eng.close()

        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS rtoc_bench_rows")
            conn.execute(
                "CREATE TABLE rtoc_bench_rows (signal_id INTEGER, x DOUBLE PRECISION, y DOUBLE PRECISION)"
            )
            conn.execute("CREATE INDEX ON rtoc_bench_rows (signal_id, x)")
            total = 0
            t0 = time.perf_counter()
            k = 0
            header = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
            while time.perf_counter() - t0 < seconds:
                buf = io.BytesIO()
                buf.write(header)
                for i in range(n_signals):
                    x = x0 + (k * per_signal + np.arange(per_signal)) * 1e-4
                    buf.write(rows_copy_payload(i, x, np.sin(x)))
                buf.write(struct.pack(">h", -1))
                with (
                    conn.transaction(),
                    conn.cursor() as cur,
                    cur.copy("COPY rtoc_bench_rows FROM STDIN (FORMAT BINARY)") as cp,
                ):
                    cp.write(buf.getvalue())
                total += n_signals * per_signal
                k += 1
            dt = time.perf_counter() - t0
            size = conn.execute("SELECT pg_total_relation_size('rtoc_bench_rows')").fetchone()[0]
            print(
                f"  PostgreSQL rows (binary COPY, one row per sample, numpy-built): {total / dt:,.0f} samples/s, "
                f"{size / total:.1f} bytes/sample on disk"
            )
            conn.execute("DROP TABLE rtoc_bench_rows")
    finally:
        if env_file:
            subprocess.run(
                ["bash", str(ROOT / ".ci" / "postgres.sh"), "stop", env_file],
                check=False,
                capture_output=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", default="ingest,query,pg", help="comma list of: ingest, query, pg")
    ap.add_argument("--seconds", type=float, default=30.0, help="ingest duration")
    ap.add_argument("--rate", type=int, default=1_000_000, help="samples/s to ingest")
    ap.add_argument("--signals", type=int, default=100)
    ap.add_argument(
        "--record-length", type=int, default=100_000, help="global.recordLength for the ingest run"
    )
    ap.add_argument(
        "--interval", type=float, default=1.0, help="backup.intervall (flush interval, s)"
    )
    ap.add_argument("--query-samples", type=int, default=10_000_000)
    ap.add_argument("--pg-seconds", type=float, default=10.0)
    a = ap.parse_args()
    parts = set(a.only.split(","))
    print(
        f"rtoc storage benchmark  (python {sys.version.split()[0]}, {os.cpu_count()} CPUs, SQLite block {B.MAX_BLOCK} samples max)"
    )
    if "ingest" in parts:
        print(
            f"\n[1+2] sustained ingest: {a.rate:,} samples/s, {a.signals} signals, SQLite on, flush every {a.interval} s"
        )
        bench_ingest(a.seconds, a.rate, a.signals, a.record_length, a.interval)
    if "query" in parts:
        print(
            f"\n[3] range query over {a.query_samples:,} stored samples of one signal (10,000-sample blocks)"
        )
        bench_query(a.query_samples, 10_000)
    if "pg" in parts:
        print("\n[4] PostgreSQL write rate")
        bench_pg(a.pg_seconds, a.signals, 10_000)


if __name__ == "__main__":
    main()
