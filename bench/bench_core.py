"""Core benchmarks (issue 2): stream() rate, batch append, memory per sample, decimated window
read, and headless idle CPU with the Generator at 10 Hz.

Run: .venv/bin/python bench/bench_core.py [--quick]
RTOC 3.0 on this machine kind (shared/anchors/README.md): stream() ~249,000 samples/s,
82 bytes of memory per stored sample, 0.47 % CPU idle with its Generator.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

from rtoc_tui.config.home import Home
from rtoc_tui.core.logger import Logger
from rtoc_tui.core.plugin import LoggerPlugin, construction_context


def best_of(fn, repeats: int = 5) -> float:
    return min(fn() for _ in range(repeats))


def bench_stream(logger: Logger, n: int) -> float:
    """Single-sample plugin.stream(y, sname) calls per second."""
    with construction_context(logger, "Bench", None):
        plugin = LoggerPlugin(logger)
    plugin.setDeviceName("Bench")
    stream = plugin.stream

    def run() -> float:
        t = time.perf_counter()
        for _ in range(n):
            stream(1.0, "S")
        return time.perf_counter() - t

    return n / best_of(run, 3)


def bench_batch(logger: Logger, batches: int) -> float:
    """store.append of 10,000-sample batches into a full 500,000-sample signal."""
    x = np.arange(10_000, dtype=float)
    y = np.ones(10_000)
    buf = logger.store.get_or_create("Bench", "Batch", "V")

    def run() -> float:
        t = time.perf_counter()
        for _ in range(batches):
            buf.append(x, y)
        return time.perf_counter() - t

    return batches * 10_000 / best_of(run, 3)


def bench_memory() -> float:
    """Process memory per stored sample at 10 signals x 500,000 samples."""
    gc.collect()
    proc = psutil.Process()
    before = proc.memory_info().rss
    home = Home(Path(tempfile.mkdtemp()))
    home.ensure()
    logger = Logger.from_home(home)
    x = np.arange(50_000, dtype=float)
    for s in range(10):
        for _ in range(12):  # 600,000 appended: full and wrapped
            logger.store.append("Mem", f"S{s}", x, x)
    gc.collect()
    after = proc.memory_info().rss
    stored = logger.store.total_samples()
    return (after - before) / stored, stored


def bench_window(logger: Logger) -> float:
    """Window read of 500,000 samples decimated to 400 points, in ms."""
    buf = logger.store.get_or_create("Bench", "Win", "V")
    n = 500_000
    buf.append(
        np.arange(n + 123_456, dtype=float), np.random.default_rng(1).normal(size=n + 123_456)
    )  # wrapped

    def run() -> float:
        t = time.perf_counter()
        for _ in range(50):
            buf.window(None, None, 400)
        return (time.perf_counter() - t) / 50

    return best_of(run, 5) * 1e3


def bench_idle_cpu(seconds: float) -> float:
    """CPU % of one core of `rtoc run --headless` with only the Generator at 10 Hz."""
    home = Path(tempfile.mkdtemp()) / "rtoc"
    env = dict(os.environ, RTOC_HOME=str(home), HOME=str(home.parent))
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtoc_tui", "run", "--headless"], env=env, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while not (home / "status.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2.0)  # past start-up
        p = psutil.Process(proc.pid)
        c0 = p.cpu_times()
        t0 = time.monotonic()
        time.sleep(seconds)
        c1 = p.cpu_times()
        dt = time.monotonic() - t0
        return 100.0 * ((c1.user - c0.user) + (c1.system - c0.system)) / dt
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="shorter runs")
    args = ap.parse_args()
    home = Home(Path(tempfile.mkdtemp()))
    home.ensure()
    logger = Logger.from_home(home)
    n = 300_000 if args.quick else 1_000_000
    rows = [
        (
            "single-sample stream() into the store",
            f"{bench_stream(logger, n):,.0f} samples/s",
            ">= 1,000,000 (RTOC 3.0: ~250,000)",
        ),
        (
            "batch append of 10,000 samples",
            f"{bench_batch(logger, 500 if args.quick else 2000):,.0f} samples/s",
            ">= 50,000,000",
        ),
    ]
    per, stored = bench_memory()
    rows.append(
        (
            f"memory per stored sample ({stored:,} samples, 10 signals)",
            f"{per:.2f} bytes",
            "<= 17 (RTOC 3.0: 82)",
        )
    )
    rows.append(
        (
            "window of 500,000 samples decimated to 400 points",
            f"{bench_window(logger):.3f} ms",
            "< 2 ms",
        )
    )
    rows.append(
        (
            "headless idle CPU, Generator at 10 Hz",
            f"{bench_idle_cpu(5 if args.quick else 20):.2f} % of one core",
            "< 1 % (RTOC 3.0: 0.47 %)",
        )
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'result':>28}  goal")
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value:>28}  {goal}")


if __name__ == "__main__":
    main()
