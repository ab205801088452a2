"""Does the Otii driver keep up with an Arc recording mc, mv and mp at 4,000 samples/s each?

The emulator runs in a subprocess, so only the logger process is measured: the CPU time of the
whole process (time.process_time) and of the driver's polling thread (psutil) over the window.

    .venv/bin/python bench/bench_otii.py [--seconds 10] [--rate 4000] [--poll-hz 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from rtoc_tui.config.home import Home
from rtoc_tui.core.logger import Logger


def _thread_cpu(native_id: int) -> float:
    """User + system CPU seconds of one thread of this process."""
    for t in psutil.Process().threads():
        if t.id == native_id:
            return t.user_time + t.system_time
    raise RuntimeError(f"thread {native_id} not found")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="measurement window (s)")
    ap.add_argument("--rate", type=int, default=4000, help="emulated samples/s per channel")
    ap.add_argument(
        "--poll-hz", type=float, default=5.0, help="driver polling rate (the default setting)"
    )
    args = ap.parse_args()

    emu = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rtoc_tui.drivers.otii.emulator",
            "--port",
            "0",
            "--rate",
            str(args.rate),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert emu.stdout is not None
        line = emu.stdout.readline()  # "listening on 127.0.0.1:PORT"
        if not line.startswith("listening on "):
            raise RuntimeError(f"emulator did not start: {line!r}")
        port = int(line.rsplit(":", 1)[1])
        with tempfile.TemporaryDirectory() as tmp:
            home = Home(Path(tmp) / "home")
            home.ensure()
            home.write_autorun([])
            logger = Logger.from_home(home)
            logger.devices.settings["Otii"] = {"port": port, "samplerate": args.poll_hz}
            dev = logger.devices.start("Otii")
            try:
                deadline = time.monotonic() + 10.0
                while (
                    dev.samples_ingested < 3 * args.rate
                ):  # warm-up: connected, recording, flowing
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no data from the emulator: {dev._state}")
                    time.sleep(0.05)
                assert dev._timer is not None and dev._timer._thread is not None
                tid = dev._timer._thread.native_id
                assert tid is not None
                n0, cpu0, thr0, t0 = (
                    dev.samples_ingested,
                    time.process_time(),
                    _thread_cpu(tid),
                    time.monotonic(),
                )
                time.sleep(args.seconds)  # the measurement window itself
                n1, cpu1, thr1, t1 = (
                    dev.samples_ingested,
                    time.process_time(),
                    _thread_cpu(tid),
                    time.monotonic(),
                )
                state = dev._state
            finally:
                logger.devices.stop("Otii")
        wall = t1 - t0
        rate = (n1 - n0) / wall
        print(
            f"Otii bench: {len(dev._rec_channels)} channels x {args.rate} samples/s, poll {args.poll_hz} Hz, {wall:.1f} s"
        )
        print(
            f"  ingested        {rate:10.0f} samples/s (expected {3 * args.rate}; {rate / (3 * args.rate):.1%})"
        )
        print(f"  process CPU     {100 * (cpu1 - cpu0) / wall:10.1f} % of one core")
        print(f"  driver thread   {100 * (thr1 - thr0) / wall:10.1f} % of one core")
        print(f"  driver state    {state[0]}")
        return 0 if state[0] == "running" and rate > 0.95 * 3 * args.rate else 1
    finally:
        emu.terminate()
        emu.wait(5)


if __name__ == "__main__":
    raise SystemExit(main())
