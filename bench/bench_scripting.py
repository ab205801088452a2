"""Scripting benchmarks (issue 4): global-event cost per sample batch, CPU of 100 conditions with
the Generator at 100 Hz, overhead of a repeated script at 100 Hz, and the stop checkpoint.

Run: .venv/bin/python bench/bench_scripting.py [--quick]
Goals: <= 10 µs per batch for one condition; < 5 % of one core for 100 conditions at 100 Hz;
< 1 ms overhead per run of a repeated script at 100 Hz.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

from rtoc_tui.config.home import Home
from rtoc_tui.core.logger import Logger
from rtoc_tui.scripting import attach_automation

ACTIVATED = {"globalEventsActivated": True, "globalActionsActivated": True}


def make_logger(root: Path, config: dict | None = None) -> Logger:
    home = Home(root)
    home.ensure()
    home.write_autorun([])
    if config is not None:
        home.config_file.write_text(json.dumps(config), encoding="utf-8")
    return Logger.from_home(home)


def per_batch(
    n: int, trigger: str, value: float = 1.0, repeats: int = 5
) -> tuple[float, float, float]:
    """µs per single-sample batch (best of `repeats`): listener, evaluation, bare append."""
    with tempfile.TemporaryDirectory() as tmp:
        plain = make_logger(Path(tmp) / "plain")
        logger = make_logger(Path(tmp) / "auto", {"global": ACTIVATED})
        auto = attach_automation(logger)
        cond = {"cond": "Test.S.latest >= 2", "text": "big", "id": "big", "trigger": trigger}
        auto.set_global_event("e", cond)
        bare, append, evaluate = (
            plain.store.append_one,
            logger.store.append_one,
            auto.evaluate_dirty,
        )

        def timed(fn) -> float:
            t = time.perf_counter()
            fn()
            return (time.perf_counter() - t) / n

        def only_append() -> None:
            for i in range(n):
                bare("Test", "S", float(i), 1.0)

        def with_listener() -> None:
            for i in range(n):
                append("Test", "S", float(i), value)
            auto._dirty.clear()

        def with_evaluation() -> None:
            for i in range(n):
                append("Test", "S", float(i), value)
                evaluate()

        base = min(timed(only_append) for _ in range(repeats))
        listener = min(timed(with_listener) for _ in range(repeats)) - base
        evaluation = min(timed(with_evaluation) for _ in range(repeats)) - base - listener
        auto.close()
    return listener * 1e6, evaluation * 1e6, base * 1e6


def cpu_with_conditions(n_conditions: int, seconds: float) -> tuple[float, int, int]:
    """Process CPU % with the Generator at 100 Hz and n active conditions on its signal."""
    with tempfile.TemporaryDirectory() as tmp:
        config = {
            "global": ACTIVATED,
            "devices": {"Generator": {"samplerate": 100.0, "gen_freq": 2.0}},
        }
        logger = make_logger(Path(tmp), config)
        auto = attach_automation(logger)
        triggers = ("rising", "falling", "both")
        for i in range(n_conditions):
            spec = {
                "cond": f"Generator.Square.latest >= {1.0 + (i % 10) / 10:.1f}",
                "text": f"c{i}",
                "id": f"c{i}",
                "trigger": triggers[i % 3],
            }
            auto.set_global_event(f"c{i}", spec)
        auto.open()
        logger.devices.start("Generator")
        buf = None
        deadline = time.monotonic() + 5
        while buf is None and time.monotonic() < deadline:  # wait for the first sample
            buf = logger.store.get("Generator.Square")
            time.sleep(0.01)
        events0 = len(logger.events)
        written0 = buf.written if buf else 0
        c0, w0 = time.process_time(), time.perf_counter()
        time.sleep(seconds)
        cpu = (time.process_time() - c0) / (time.perf_counter() - w0) * 100
        batches = (buf.written if buf else 0) - written0
        fired = len(logger.events) - events0
        logger.devices.stop_all()
        auto.close()
    return cpu, batches, fired


def repeated_script(rate_hz: float, seconds: float) -> tuple[float, int, float]:
    """CPU µs per run of a repeated `pass` script, runs done, achieved rate."""
    with tempfile.TemporaryDirectory() as tmp:
        logger = make_logger(Path(tmp))
        auto = attach_automation(logger)
        c0, w0 = time.process_time(), time.perf_counter()
        idle_cpu = 0.0
        time.sleep(0.2)  # idle baseline of this process (the interpreter's own threads)
        idle_cpu = (time.process_time() - c0) / (time.perf_counter() - w0)
        info = auto.run("pass\n", "bench", mode="repeat", samplerate=rate_hz)
        c0, w0 = time.process_time(), time.perf_counter()
        time.sleep(seconds)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        runs = next(r.runs for r in auto.list() if r.id == info.id)
        auto.stop(info.id)
        auto.close()
    per_run = (cpu - idle_cpu * wall) / max(runs, 1)
    return per_run * 1e6, runs, runs / wall


def checkpoint_vs_settrace(n: int) -> tuple[float, float, float]:
    """ns per loop iteration: plain, with the translator's checkpoints, with a line tracer."""
    from rtoc_tui.scripting.translator import translate

    src = "s = 0\nfor i in range(N):\n    s += i\n"
    plain = compile(src, "<plain>", "exec")
    checked = translate(src, "bench", known={"N"}).code

    def timed(code, trace=None) -> float:
        ns = {"N": n, "__rtoc_stop__": False, "__rtoc_halt__": None, "__rtoc_gstate__": {}}
        if trace is not None:
            sys.settrace(trace)
        t = time.perf_counter()
        exec(code, ns)
        dt = time.perf_counter() - t
        sys.settrace(None)
        return dt / n * 1e9

    stop = threading.Event()

    def local(frame, event, arg):
        if stop.is_set():
            raise SystemExit
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code.co_filename == "<plain>" else None

    best = [
        min(timed(c, tr) for _ in range(3))
        for c, tr in ((plain, None), (checked, None), (plain, tracer))
    ]
    return best[0], best[1], best[2]


def stop_latency(repeats: int) -> float:
    """ms from stop() to the end of an endless loop (median)."""
    with tempfile.TemporaryDirectory() as tmp:
        logger = make_logger(Path(tmp))
        auto = attach_automation(logger)
        times = []
        for _ in range(repeats):
            info = auto.run("while True:\n    x = 1\n", "loop")
            time.sleep(0.02)
            t = time.perf_counter()
            auto.stop(info.id)
            while auto.output(info.id).state == "running":
                time.sleep(0.0001)
            times.append((time.perf_counter() - t) * 1e3)
        auto.close()
    return sorted(times)[len(times) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="shorter runs (less precise)")
    args = ap.parse_args()
    n = 20_000 if args.quick else 100_000
    secs = 2.0 if args.quick else 10.0

    listener, evaluation, base = per_batch(n, "rising")
    print("1. one global-event condition per new sample batch (goal <= 10 µs)")
    print(
        f"   store listener in the writer's thread:  {listener:6.2f} µs  (append itself: {base:.2f} µs)"
    )
    print(f"   condition evaluation in the worker:     {evaluation:6.2f} µs")
    print(f"   total:                                  {listener + evaluation:6.2f} µs")
    listener_t, evaluation_t, _ = per_batch(n // 10, "true", value=3.0)
    print(
        f"   firing on every batch (trigger 'true'): {listener_t + evaluation_t:6.2f} µs (includes events.add)"
    )

    base_cpu, batches0, _ = cpu_with_conditions(0, secs)
    cpu, batches, fired = cpu_with_conditions(100, secs)
    print("2. CPU with the Generator at 100 Hz (goal < 5 % of one core for 100 conditions)")
    print(f"   Generator alone:            {base_cpu:5.2f} %  ({batches0} batches)")
    print(f"   + 100 active conditions:    {cpu:5.2f} %  ({batches} batches, {fired} events fired)")
    print(f"   attributable to conditions: {cpu - base_cpu:5.2f} %")

    per_run, runs, rate = repeated_script(100.0, secs)
    print("3. repeated script at 100 Hz, overhead per run beyond its code (goal < 1 ms)")
    print(f"   {per_run:7.1f} µs CPU per run  ({runs} runs, achieved {rate:.1f} Hz)")

    plain, checked, traced = checkpoint_vs_settrace(2_000_000 if not args.quick else 500_000)
    print("4. stop mechanism, ns per loop iteration (2 lines a pass)")
    print(
        f"   plain {plain:.1f} ns, with checkpoints {checked:.1f} ns (+{checked - plain:.1f}), with sys.settrace {traced:.1f} ns (+{traced - plain:.1f})"
    )
    print(f"   stop() of an endless loop: {stop_latency(5 if args.quick else 20):.2f} ms (median)")


if __name__ == "__main__":
    main()
