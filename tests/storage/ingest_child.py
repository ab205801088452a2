"""Child process for the kill -9 test: a logger with SQLite storage ingesting at full speed.

Usage: python ingest_child.py HOME N_SIGNALS. Signal k of device Crash gets x = y = 0, 1, 2, ...
through the single-sample hot path (store.append_one). Every ~20 ms it prints
`ACK <wall time> <samples acknowledged per signal>` (a sample is acknowledged once append_one
returned). The parent kills it with SIGKILL at a moment of its choosing.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from rtoc_tui.config.home import Home
from rtoc_tui.core.logger import Logger
from rtoc_tui.storage import attach_storage


async def main(root: str, n_signals: int) -> None:
    logger = Logger.from_home(Home(Path(root)))
    attach_storage(logger)
    await logger.start(autorun=False)
    names = [f"s{i}" for i in range(n_signals)]
    append = logger.store.append_one

    def ingest() -> None:
        k = 0
        next_report = time.monotonic()
        print("READY", flush=True)
        while True:
            v = float(k)
            for name in names:
                append("Crash", name, v, v)
            k += 1
            if k % 256 == 0 and time.monotonic() >= next_report:
                print(f"ACK {time.time():.6f} {k}", flush=True)
                next_report += 0.02

    await asyncio.to_thread(ingest)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
