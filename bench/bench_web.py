"""Web view benchmarks (issue 18): first render, zoom replies on a 10M-sample signal, and the
logger's CPU with 20 browsers following live data.

The logger (with its web view) runs in its own process; this process is the load generator
(and drives headless Chromium for the first render), so the CPU figure is the logger's alone.

Run: .venv/bin/python bench/bench_web.py [--quick]

Targets: first page render < 1 s on loopback with 100 signals; a 10,000,000-sample signal
zoomed anywhere: reply < 100 ms and < 50 kB; 20 browsers following 8 signals each at
1 update/s: < 10 % of a core for the logger process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import psutil

BIG = 10_000_000
CHART_POINTS = 1600  # a 1600 px wide chart: the page asks for one point per pixel column


# -- the logger process ------------------------------------------------------------------------
def serve(mode: str) -> None:
    """A logger with its web view until stdin closes; prints `PORT n` first.

    mode "live": 100 signals in 10 devices, 10 min of 10 Hz history, fed at 10 Hz (a busy lab),
    with the default SQLite storage (so full fetches go through the store, as in real use).
    mode "big": one signal of 10,000,000 samples in memory (global.recordLength 10M).
    mode "store": `rtoc web` over a SQLite store holding one 10,000,000-sample signal.
    """
    from rtoc_tui import runtime
    from rtoc_tui.config.home import Home

    async def main() -> None:
        root = Path(tempfile.mkdtemp(prefix="rtoc-bench-web-"))
        home = Home(root / "home")
        home.ensure()
        home.write_autorun([])
        cfg: dict[str, Any] = {
            "global": {"webserver_port": 0},
            "web": {"active": True},
            "backup": {"active": False},
        }
        if mode == "big":
            cfg["global"]["recordLength"] = BIG
        if mode == "live":
            cfg["backup"] = {"active": True}
        stop = threading.Event()
        if mode == "store":
            from rtoc_tui.client.store import StoreClient
            from rtoc_tui.storage import SignalWrite, SqliteEngine, WriteBatch
            from rtoc_tui.web.security import WebOptions
            from rtoc_tui.web.service import WebServer

            engine = SqliteEngine(home.data_dir / "rtoc.sqlite")
            engine.open()
            t0 = 1_700_000_000.0
            for i in range(0, BIG, 1_000_000):
                x = t0 + np.arange(i, i + 1_000_000) / 10.0
                batch = WriteBatch()
                batch.signals.append(SignalWrite("Big", "Signal", "V", x, np.sin(x / 100.0)))
                engine.write(batch)
            server = WebServer(StoreClient(engine, "bench"), WebOptions(port=0))
            await server.start()
            print(f"PORT {server.port}", flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
            await server.stop()
            engine.close()
            return
        home.config_file.write_text(json.dumps(cfg), encoding="utf-8")
        logger = runtime.build_logger(home)
        await logger.start(autorun=False)
        if mode == "big":
            x = 1_700_000_000.0 + np.arange(BIG) / 10.0
            logger.store.append("Big", "Signal", x, np.sin(x / 100.0), "V")
        else:
            now = time.time()
            x = np.arange(now - 600, now, 0.1)
            names = [(f"Dev{i // 10}", f"S{i % 10}") for i in range(100)]
            for i, (d, s) in enumerate(names):
                logger.store.append(d, s, x, np.sin(x / 30 + i), ["V", "A", "°C"][i % 3])

            def feeder() -> None:  # 10 Hz per signal, 1000 samples/s in all
                while not stop.wait(0.1):
                    t = time.time()
                    for i, (d, s) in enumerate(names):
                        logger.store.append_one(d, s, t, float(np.sin(t / 30 + i)))

            threading.Thread(target=feeder, daemon=True).start()
        print(f"PORT {logger.web.port}", flush=True)  # type: ignore[attr-defined]
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        stop.set()
        await logger.stop()

    asyncio.run(main())


class Server:
    """The logger process."""

    def __init__(self, mode: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}/"
        self.ps = psutil.Process(self.proc.pid)

    def cpu_s(self) -> float:
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- 1. first render -----------------------------------------------------------------------------
async def http_first_load(url: str, names: list[str]) -> tuple[float, int]:
    """What the page loads before its first charts, sequentially: (seconds, bytes)."""
    t = time.perf_counter()
    size = 0
    async with aiohttp.ClientSession() as s:
        for path in (
            "",
            "static/uPlot.min.css",
            "static/app.css",
            "static/uPlot.iife.min.js",
            "static/app.js",
            "api/status",
            "api/signals",
            "api/data?" + "&".join(f"s={n}" for n in names) + "&span=600&n=1200",
            "api/events?limit=500",
        ):
            async with s.get(url + path) as r:
                size += len(await r.read())
    return time.perf_counter() - t, size


def browser_first_render(url: str, names: list[str], runs: int) -> list[float] | None:
    """ms from navigation start to the first drawn charts in headless Chromium, per run."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="rtoc-bench-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=driver_path))
    out = []
    try:
        for _ in range(runs):
            driver.get("about:blank")
            driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
            driver.get(url + "#plots?s=" + ",".join(names) + "&span=600")
            deadline = time.monotonic() + 20
            ms = None
            while time.monotonic() < deadline and ms is None:
                ms = driver.execute_script(
                    "return window.rtocState && window.rtocState.firstDrawMs"
                )
                time.sleep(0.02)
            out.append(float(ms) if ms else float("nan"))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return out


# -- 2. zoom on 10M samples ----------------------------------------------------------------------
async def zooms(url: str, count: int) -> tuple[list[float], list[int]]:
    """Random zoomed ranges (1 s to everything) of the 10M-sample signal: ms and bytes each."""
    t0 = 1_700_000_000.0
    full = BIG / 10.0
    rng = random.Random(18)
    times, sizes = [], []
    async with aiohttp.ClientSession() as s:
        async with s.get(url + "api/signals") as r:  # as the page does before any data
            await r.read()
        for i in range(count):
            span = full if i == 0 else full / (10 ** rng.uniform(0, 6))
            lo = t0 + rng.uniform(0, full - span)
            q = f"api/data?s=Big.Signal&xmin={lo}&xmax={lo + span}&n={CHART_POINTS}"
            t = time.perf_counter()
            async with s.get(url + q) as r:
                body = await r.read()
                assert r.status == 200, body[:200]
            times.append((time.perf_counter() - t) * 1000)
            sizes.append(len(body))
    return times, sizes


# -- 3. 20 browsers following --------------------------------------------------------------------
async def browser_sim(url: str, names: list[str], until: float, counts: list[int]) -> None:
    """What one page does while following 8 signals: the requests of app.js, at its rates
    (data and event marks every second, status every 2 s, signals every 5 s, a full window
    every 30 s)."""
    q = "&".join(f"s={n}" for n in names)
    last: dict[str, float] = {}
    cursor = 0
    tick = random.randrange(30)  # pages opened at different times resync at different times
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{url}api/data?{q}&span=600&n=1200") as r:
            j = await r.json()
        for name, ser in j["series"].items():
            if ser["xi"]:
                last[name] = ser["x0"] + ser["xi"][-1] * ser["q"]
        while time.monotonic() < until:
            start = time.monotonic()
            after = min(last.values()) if last else time.time() - 600
            # every 30 s the page refetches its whole window (re-decimated), else only what is new
            what = "span=600" if tick % 30 == 0 else f"after={after}"
            async with s.get(f"{url}api/data?{q}&{what}&n=1200") as r:
                j = await r.json()
            for name, ser in j["series"].items():
                if ser["xi"]:
                    last[name] = ser["x0"] + ser["xi"][-1] * ser["q"]
            async with s.get(f"{url}api/events?limit=200&since={cursor}") as r:
                cursor = (await r.json())["cursor"]
            if tick % 2 == 0:
                async with s.get(f"{url}api/status") as r:
                    await r.read()
            if tick % 5 == 0:
                async with s.get(f"{url}api/signals") as r:
                    await r.read()
            counts[0] += 1
            tick += 1
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - start)))


async def follow(server: Server, browsers: int, seconds: float) -> tuple[float, float, int]:
    """Logger CPU % of one core without and with the browsers, and the updates they got."""
    base0, t = server.cpu_s(), time.monotonic()
    await asyncio.sleep(seconds / 2)
    idle = (server.cpu_s() - base0) / (time.monotonic() - t) * 100
    rng = random.Random(7)
    all_names = [f"Dev{i // 10}.S{i % 10}" for i in range(100)]
    counts = [0]
    until = time.monotonic() + seconds + 2
    tasks = [
        asyncio.create_task(browser_sim(server.url, rng.sample(all_names, 8), until, counts))
        for _ in range(browsers)
    ]
    await asyncio.sleep(2)  # first loads done: measure the steady state
    c0, t0, n0 = server.cpu_s(), time.monotonic(), counts[0]
    await asyncio.sleep(seconds - 0.5)
    busy = (server.cpu_s() - c0) / (time.monotonic() - t0) * 100
    n = counts[0] - n0
    await asyncio.gather(*tasks)
    return idle, busy, n


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="shorter runs (CI smoke test)")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    names = [f"Dev{i}.S{i}" for i in range(8)]

    live = Server("live")
    try:
        secs, size = asyncio.run(http_first_load(live.url, names))
        print(
            f"1. first load over HTTP, 100 signals, 8 plotted: {secs * 1000:.0f} ms, {size / 1024:.0f} kB"
        )
        ms = browser_first_render(live.url, names, 3 if args.quick else 5)
        if ms is None:
            print("   headless Chromium not installed: browser render not measured")
        else:
            print(
                "   first render in headless Chromium (navigation start to charts drawn): "
                + ", ".join(f"{m:.0f}" for m in ms)
                + f" ms (median {statistics.median(ms):.0f} ms; target < 1000 ms)"
            )
        seconds = 10.0 if args.quick else 30.0
        idle, busy, n = asyncio.run(follow(live, 20, seconds))
        print(
            f"3. 20 browsers following 8 signals each at 1 update/s ({seconds:.0f} s, {n} updates "
            f"served): logger process {busy:.1f} % of a core (idle with 1000 samples/s fed: "
            f"{idle:.1f} %; target < 10 %)"
        )
    finally:
        live.close()

    for mode, label in (
        ("big", "in memory (recordLength 10M)"),
        ("store", "stored (SQLite, rtoc web)"),
    ):
        srv = Server(mode)
        try:
            times, sizes = asyncio.run(zooms(srv.url, 30 if args.quick else 200))
            print(
                f"2. 10M-sample signal {label}, {len(times)} random zooms at n={CHART_POINTS}: "
                f"reply p50 {pct(times, 50):.1f} ms, p95 {pct(times, 95):.1f} ms, max {max(times):.1f} ms; "
                f"size max {max(sizes) / 1024:.1f} kB (targets < 100 ms, < 50 kB); "
                f"whole signal: {times[0]:.1f} ms"
            )
        finally:
            srv.close()


if __name__ == "__main__":
    main()
