"""Throughput of the VC820 (FS9721) decoder: frames per second, printed.

Builds a byte stream of N frames of varied readings (with ~10 % of the frames preceded by
garbage, so the resync path is exercised), then times
  1. decode_stream(): the vectorised batch decoder over the whole stream (sync + validate +
     decode), and
  2. FS9721Parser.feed(): the incremental parser the driver uses, fed in 4 KiB chunks.
The target is >= 100,000 frames/s.

    .venv/bin/python bench/bench_vc820.py [--frames 1000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from rtoc_tui.drivers.vc820.driver import FS9721Parser, decode_stream
from rtoc_tui.drivers.vc820.emulator import autorange, encode_frame


def build_stream(n_frames: int, seed: int = 820) -> tuple[bytes, int]:
    """A stream of n_frames valid frames plus garbage; returns (data, n_valid)."""
    rng = np.random.default_rng(seed)
    units = ["V", "A", "Ω", "F", "Hz"]
    palette = []
    for i in range(997):  # a prime number of distinct frames, tiled
        unit = units[i % len(units)]
        value = float(rng.uniform(1e-3, 3.0)) * (
            1 if unit not in ("V", "A") else rng.choice([-1, 1])
        )
        if unit == "F":
            value *= 1e-6  # the capacitance ranges end at 3999 µF
        display, prefix = autorange(value, unit)
        palette.append(
            encode_frame(
                display, prefix=prefix, unit=unit, ac=bool(i % 7 == 0) and unit in ("V", "A")
            )
        )
    parts = []
    garbage = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
    for i in range(n_frames):
        if i % 10 == 0:
            parts.append(garbage[: 1 + i % 37])
        parts.append(palette[i % len(palette)])
    return b"".join(parts), n_frames


def best_of(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data, n = build_stream(args.frames)

    batch = decode_stream(data)
    valid = int(batch.valid.sum())
    # garbage may, rarely, contain a window that looks like a frame; it must never be valid
    assert valid == n, f"decoded {valid} valid frames, expected {n}"
    t_batch = best_of(lambda: decode_stream(data), args.repeat)

    def incremental() -> int:
        parser = FS9721Parser()
        got = 0
        for i in range(0, len(data), 4096):
            got += len(parser.feed(data[i : i + 4096]))
        return got

    assert incremental() == n
    t_inc = best_of(incremental, args.repeat)

    print(f"stream: {n:,} frames, {len(data):,} bytes (with garbage)")
    print(f"decode_stream (batch):        {n / t_batch:,.0f} frames/s  ({t_batch * 1e3:.1f} ms)")
    print(f"FS9721Parser.feed (4 KiB):    {n / t_inc:,.0f} frames/s  ({t_inc * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
