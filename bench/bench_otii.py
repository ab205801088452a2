"""Does the Otii driver keep every sample of every numeric channel, and at what CPU cost?

Two scenarios (issue 21):
  one    one Arc, every numeric channel enabled (mc mv mp ac av ap sp sn vb vj tp i1 i2): the
         main channels at 4 kS/s and the rest at their highest rate -> target < 15 % of a core;
  three  three Arcs on one server, the same channels each               -> target < 35 %.

The emulator runs in a subprocess, so only the logger process is measured (time.process_time
over the window: driver thread, store, storage flusher). "Lost" compares, per channel, what the
server recorded (asked over a separate connection at the end of the window) with what the
driver read, after giving it a few seconds to catch up: every sample must arrive.

    .venv/bin/python bench/bench_otii.py [--seconds 600] [--scenario one|three|both]
                                         [--poll-hz 5] [--no-storage]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from otii_tcp_client import otii, otii_connection

from rtoc_tui.config.home import Home
from rtoc_tui.core.logger import Logger
from rtoc_tui.storage import attach_storage

NUMERIC = "mc,mv,mp,ac,av,ap,sp,sn,vb,vj,tp,i1,i2"
TARGET_PERCENT = {"one": 15.0, "three": 35.0}


def start_emulator(n_devices: int) -> tuple[subprocess.Popen[str], int]:
    args = [sys.executable, "-m", "rtoc_tui.drivers.otii.emulator", "--port", "0"]
    for n in range(1, n_devices + 1):
        args += ["--device", f"Arc:Arc {n}"]
    emu = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert emu.stdout is not None
    line = emu.stdout.readline()  # "listening on 127.0.0.1:PORT"
    if not line.startswith("listening on "):
        emu.kill()
        raise RuntimeError(f"emulator did not start: {line!r}")
    return emu, int(line.rsplit(":", 1)[1])


def server_counts(port: int, rec_id: int, keys: list[tuple[str, str]]) -> dict[Any, int]:
    """What the server recorded so far, per (device id, channel), over a second connection."""
    conn = otii_connection.OtiiConnection("127.0.0.1", port)
    conn.connect_to_server()
    try:
        proj = otii.Otii(conn).get_active_project()
        rec = next(r for r in proj.get_recordings() if r.id == rec_id)
        return {k: rec.get_channel_data_count(*k) for k in keys}
    finally:
        conn.close_connection()


async def run(scenario: str, seconds: float, poll_hz: float, storage: bool) -> bool:
    n_devices = 1 if scenario == "one" else 3
    emu, port = start_emulator(n_devices)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Home(Path(tmp) / "home")
            home.ensure()
            home.write_autorun([])
            logger = Logger.from_home(home)
            svc = attach_storage(logger) if storage else None
            await logger.start(autorun=False)
            try:
                logger.devices.settings["Otii"] = {
                    "port": port,
                    "samplerate": poll_hz,
                    "channels": NUMERIC,
                    "device": "*",
                }
                dev: Any = await asyncio.to_thread(logger.devices.start, "Otii")
                deadline = time.monotonic() + 15.0
                while not (dev.recording and dev.samples_ingested > 0):  # warm-up
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"no data from the emulator: {dev._state}")
                    await asyncio.sleep(0.05)
                await asyncio.sleep(1.0)
                n0, cpu0, t0 = dev.samples_ingested, time.process_time(), time.monotonic()
                await asyncio.sleep(seconds)  # the measurement window itself
                n1, cpu1, t1 = dev.samples_ingested, time.process_time(), time.monotonic()
                keys = list(dev._rec_keys)
                rates = dev.samplerates
                want = await asyncio.to_thread(server_counts, port, dev.recording_id, keys)
                deadline = time.monotonic() + 10.0
                while time.monotonic() < deadline and any(
                    dev._index.get(k, 0) < n for k, n in want.items()
                ):
                    await asyncio.sleep(0.1)
                lost = {k: n - dev._index.get(k, 0) for k, n in want.items()}
                state = dev._state
                await asyncio.to_thread(logger.devices.stop, "Otii")
            finally:
                await logger.stop()
    finally:
        emu.terminate()
        emu.wait(5)
    wall = t1 - t0
    cpu = 100 * (cpu1 - cpu0) / wall
    total_lost = sum(max(0, v) for v in lost.values())
    recorded = sum(want.values())
    print(
        f"Otii bench [{scenario}]: {n_devices} Arc, {len(keys)} channels, poll {poll_hz} Hz, "
        f"{wall:.0f} s, storage {'SQLite' if svc is not None else 'off'}"
    )
    print(f"  rates           {rates} (i1, i2: edges)")
    print(f"  ingested        {(n1 - n0) / wall:10.0f} samples/s")
    print(f"  recorded        {recorded:10d} samples on the server at the end of the window")
    print(f"  lost            {total_lost:10d}")
    print(
        f"  logger CPU      {cpu:10.1f} % of one core (target < {TARGET_PERCENT[scenario]:.0f} %)"
    )
    print(f"  driver state    {state[0]}")
    return state[0] == "running" and total_lost == 0 and cpu < TARGET_PERCENT[scenario]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="measurement window (s)")
    ap.add_argument("--scenario", choices=("one", "three", "both"), default="both")
    ap.add_argument("--poll-hz", type=float, default=5.0, help="driver polls per second")
    ap.add_argument(
        "--no-storage", action="store_true", help="without the SQLite storage (driver only)"
    )
    args = ap.parse_args()
    scenarios = ("one", "three") if args.scenario == "both" else (args.scenario,)
    ok = True
    for s in scenarios:
        ok = asyncio.run(run(s, args.seconds, args.poll_hz, not args.no_storage)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
