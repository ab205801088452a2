"""What `rtoc attach` loads before its UI starts: import time and the logger modules it pulls in.

Each run is a fresh interpreter importing what the console script imports for `rtoc attach`
(the CLI with its commands registered, RemoteClient, the UI app). CPU time is reported beside
wall time because it hardly moves when other work shares the machine.

    .venv/bin/python bench/bench_attach_import.py [--runs 9]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import rtoc_tui.cli
from rtoc_tui.client.remote import RemoteClient
from rtoc_tui.ui.app import run_tui
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
mods = [m for m in sys.modules if m.startswith("rtoc_tui")]
kernel = [m for m in mods if m.startswith(("rtoc_tui.core", "rtoc_tui.server", "rtoc_tui.storage",
                                           "rtoc_tui.scripting", "rtoc_tui.transfer"))]
print(json.dumps({"wall": wall, "cpu": cpu, "modules": len(mods), "kernel": sorted(kernel)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    args = ap.parse_args()
    results = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True
        )
        results.append(json.loads(out.stdout))
    cpu = [r["cpu"] * 1000 for r in results]
    wall = [r["wall"] * 1000 for r in results]
    last = results[-1]
    print(f"rtoc attach imports ({args.runs} runs)")
    print(f"  CPU  : min {min(cpu):.0f} ms, median {statistics.median(cpu):.0f} ms")
    print(f"  wall : min {min(wall):.0f} ms, median {statistics.median(wall):.0f} ms")
    print(
        f"  rtoc_tui modules loaded: {last['modules']}, of them kernel/server/storage: {len(last['kernel'])}"
    )
    if last["kernel"]:
        print("  " + ", ".join(last["kernel"]))


if __name__ == "__main__":
    main()
