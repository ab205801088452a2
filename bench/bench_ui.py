"""UI benchmark (issues 6, 13) in a real terminal: tmux at 80x24, 140x42 and 200x50 (--sizes),
16 plotted signals of 500,000 samples each (2 units x 8 signals, 100 new samples/s each), plot at 10 Hz, 1 min window.

Figures:
  local     CPU of the whole process (logger + TUI) over --seconds, in % of one core
            key press to visible effect: `p` toggles "live"/"PAUSED" in the plot title
            start to first full screen: from spawning the command to all panes drawn
  attached  the same data behind a TCP server in another process, `rtoc attach`-style UI:
            protocol bytes/s (both directions) and the CPU of both processes

Run: .venv/bin/python bench/bench_ui.py [--seconds 10] [--window 60] [--sizes 80x24,140x42,200x50]
Goals (issue 13): CPU < 15 % of one core at every size, key latency median < 30 ms and max
< 60 ms, first screen < 1 s, attached < 200 KB/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psutil

N_SIGNALS = 16
N_SAMPLES = 500_000
RATE_HZ = 100.0  # new samples per second per signal
FEED_EVERY_S = 0.05
SIZE = (200, 50)
UNITS = ("V", "A")


# -- the child processes (run inside tmux) ------------------------------------------------------
def build_logger(home_dir: Path, tcp_port: int | None = None) -> Any:
    from rtoc_tui.config.home import Home, update_config_file
    from rtoc_tui.core.logger import Logger

    home = Home(home_dir)
    home.ensure()
    home.write_autorun([])
    updates: dict[str, Any] = {"backup.active": False}
    if tcp_port is not None:
        updates.update({"tcp.active": True, "tcp.port": tcp_port})
    update_config_file(home.config_file, updates)
    logger = Logger.from_home(home)
    now = time.time()
    x = now - (N_SAMPLES - np.arange(N_SAMPLES)) / RATE_HZ
    wave = np.sin(2 * math.pi * x / 20)  # one sine for all: filling is setup, not the UI
    for i in range(N_SIGNALS):
        y = wave * (1 + i / 8) + i
        logger.store.append("Bench", f"S{i:02d}", x, y, unit=UNITS[i % len(UNITS)])
    if tcp_port is not None:
        from rtoc_tui.server.tcp import attach_tcp

        attach_tcp(logger)
    return logger


async def feed(logger: Any) -> None:
    """RATE_HZ new samples per signal per second, in batches (like a fast driver)."""
    last = time.time()
    while True:
        await asyncio.sleep(FEED_EVERY_S)
        now = time.time()
        n = max(1, int(round((now - last) * RATE_HZ)))
        x = last + (np.arange(1, n + 1) / n) * (now - last)
        last = now
        for i in range(N_SIGNALS):
            y = np.sin(2 * math.pi * x / (20 + i)) * (1 + i / 8) + i
            logger.store.append("Bench", f"S{i:02d}", x, y)


async def child_local(args: argparse.Namespace) -> None:
    from rtoc_tui.client.local import LocalClient
    from rtoc_tui.ui.app import build_app

    logger = build_logger(Path(args.home))
    await logger.start(autorun=False)
    feeder = asyncio.create_task(feed(logger))
    stats = Path(args.stats)
    ui_start = time.time()
    stats.write_text(json.dumps({"ui_start": ui_start}))
    app = build_app(LocalClient(logger), logger.config, plot_hz=10)

    def dump() -> None:
        pane = app.screen_stack[0].query_one("PlotPane")
        frames = sum(p.frames for p in pane.query("PlotextPlot"))
        data = {
            "ui_start": ui_start,
            "t": time.time(),
            "frames": frames,
            "fetches": pane.fetches,
            "firsts": firsts,
        }
        stats.write_text(json.dumps(data))

    firsts: dict[str, float] = {}

    async def milestones() -> None:
        """When the first poll, window fetch and plot frame happened (for the start figure)."""
        while len(firsts) < 4:
            await asyncio.sleep(0.005)
            try:
                pane = app.screen_stack[0].query_one("PlotPane")
            except Exception:
                continue
            firsts.setdefault("mounted", time.time() - ui_start)
            if app.state.polls:
                firsts.setdefault("first poll", time.time() - ui_start)
            if pane.fetches:
                firsts.setdefault("first fetch", time.time() - ui_start)
            if sum(p.frames for p in pane.query("PlotextPlot")) >= 2:
                firsts.setdefault("frames built", time.time() - ui_start)
        stats.write_text(json.dumps({"ui_start": ui_start, "firsts": firsts}))

    def mounted() -> None:
        app.query_one("PlotPane").set_span(args.window)
        app.set_interval(0.25, dump)

    app.call_after_refresh(mounted)
    watcher = asyncio.create_task(milestones())
    try:
        await app.run_async()
    finally:
        feeder.cancel()
        watcher.cancel()
        await logger.stop()


async def child_server(args: argparse.Namespace) -> None:
    logger = build_logger(Path(args.home), tcp_port=args.port)
    await logger.start(autorun=False)
    print("server ready", flush=True)
    await feed(logger)


async def child_attach(args: argparse.Namespace) -> None:
    from rtoc_tui.client.remote import RemoteClient
    from rtoc_tui.ui.app import build_app

    client = RemoteClient("127.0.0.1", args.port)
    app = build_app(client, None, plot_hz=10)
    stats = Path(args.stats)

    def dump() -> None:
        stats.write_text(
            json.dumps({"t": time.time(), "rx": client.bytes_received, "tx": client.bytes_sent})
        )

    def mounted() -> None:
        app.query_one("PlotPane").set_span(args.window)
        app.set_interval(0.5, dump)

    app.call_after_refresh(mounted)
    try:
        await app.run_async()
    finally:
        await client.close()


# -- the parent: tmux, measurements -------------------------------------------------------------
class Tmux:
    def __init__(self) -> None:
        self.socket = f"rtoc-bench-{uuid.uuid4().hex[:8]}"
        self.path = ""

    def cmd(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"tmux {args[0]}: {out.stderr.strip()}")
        return out.stdout

    def start(self, name: str, command: str) -> None:
        env = ["-e", "TERM=xterm-256color"]
        self.cmd(
            "new-session", "-d", "-s", name, "-x", str(SIZE[0]), "-y", str(SIZE[1]), *env, command
        )
        self.path = self.cmd("display-message", "-p", "#{socket_path}").strip()

    def screen(self, name: str) -> str:
        return self.cmd("capture-pane", "-p", "-t", name)

    def pane_pid(self, name: str) -> int:
        return int(self.cmd("display-message", "-p", "-t", name, "#{pane_pid}").strip())

    def wait_for(self, name: str, predicate: Any, timeout: float = 30.0) -> float:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if predicate(self.screen(name)):
                return time.perf_counter()
            time.sleep(0.002)
        raise RuntimeError(f"timeout; screen:\n{self.screen(name)}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
        if self.path:
            Path(self.path).unlink(missing_ok=True)


def full_screen(screen: str) -> bool:
    return (
        "16 signals" in screen
        # at 80x24 the stacked plots scroll: one plot's legend is the whole screen's worth
        and (all(f"[{u}] ■" in screen for u in UNITS) or SIZE[1] < 30)
        and "] ■" in screen
        and "Events" in screen
        and any(ch in screen for ch in "⠁⠂⠄⡀⠈⠐⠠⢀⣀⠉")
    )


def cpu_percent(pid: int, seconds: float) -> float:
    """CPU time of the process (all threads) over `seconds`, in % of one core."""
    proc = psutil.Process(pid)
    t0 = sum(proc.cpu_times()[:2])
    w0 = time.perf_counter()
    time.sleep(seconds)  # measuring over a wall-clock interval is the point here
    return 100.0 * (sum(proc.cpu_times()[:2]) - t0) / (time.perf_counter() - w0)


def python_child(tmux: Tmux, name: str, argv: list[str]) -> int:
    """Start `python bench_ui.py --child ...` in a tmux session; returns its pid."""
    cmd = " ".join(shlex.quote(a) for a in [sys.executable, __file__, *argv])
    tmux.start(name, f"exec {cmd}")
    return tmux.pane_pid(name)


def key_latency(tmux: Tmux, name: str, key: str, marker: str, runs: int) -> list[float]:
    """Press key and wait until `marker` appears or disappears; milliseconds."""
    out = []
    for _ in range(runs):
        before = marker in tmux.screen(name)
        t0 = time.perf_counter()
        tmux.cmd("send-keys", "-t", name, key)
        t1 = tmux.wait_for(name, lambda s, b=before: (marker in s) != b, timeout=5)
        out.append((t1 - t0) * 1000)
    return out


def tmux_floor(tmux: Tmux, name: str, runs: int = 20) -> float:
    """What one send-keys plus one capture-pane cost by themselves (ms), for reference."""
    t0 = time.perf_counter()
    for _ in range(runs):
        tmux.cmd("send-keys", "-t", name, "")
        tmux.screen(name)
    return (time.perf_counter() - t0) * 1000 / runs


def bench_local(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    tmux = Tmux()
    try:
        t0 = time.perf_counter()
        stats = tmp / "local-stats.json"
        pid = python_child(
            tmux, "local", ["--child", "local", "--home", str(tmp / "local"),
                            "--window", str(args.window), "--stats", str(stats)]
        )  # fmt: skip
        t1 = tmux.wait_for("local", full_screen, timeout=60)
        seen = time.time()
        first = t1 - t0
        st = json.loads(stats.read_text())
        ui_first = seen - st["ui_start"]
        milestones = st.get("firsts", {})
        time.sleep(args.warmup)  # let the first frames and caches settle before measuring
        a = json.loads(stats.read_text())
        cpu = cpu_percent(pid, args.seconds)
        b = json.loads(stats.read_text())
        frames_s = (b["frames"] - a["frames"]) / (b["t"] - a["t"])
        fetches_s = (b["fetches"] - a["fetches"]) / (b["t"] - a["t"])
        pause = key_latency(tmux, "local", "p", "PAUSED", args.keys)
        axis = key_latency(tmux, "local", "t", "relative", args.keys)
        floor = tmux_floor(tmux, "local")
        return {
            "first_screen_s": first,
            "ui_first_s": ui_first,
            "milestones": milestones,
            "cpu": cpu,
            "frames_s": frames_s,
            "fetches_s": fetches_s,
            "pause_ms": pause,
            "axis_ms": axis,
            "floor_ms": floor,
        }
    finally:
        tmux.kill()


def bench_attached(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmux = Tmux()
    stats = tmp / "attach-stats.json"
    try:
        server_pid = python_child(
            tmux, "server", ["--child", "server", "--home", str(tmp / "server"),
                             "--port", str(port)]
        )  # fmt: skip
        tmux.wait_for("server", lambda s: "server ready" in s, timeout=60)
        attach_pid = python_child(
            tmux, "attach", ["--child", "attach", "--port", str(port), "--stats", str(stats),
                             "--window", str(args.window)]
        )  # fmt: skip
        tmux.wait_for("attach", full_screen, timeout=60)
        time.sleep(args.warmup)
        a = json.loads(stats.read_text())
        server = psutil.Process(server_pid)
        s0 = sum(server.cpu_times()[:2])
        cpu_ui = cpu_percent(attach_pid, args.seconds)
        s1 = sum(server.cpu_times()[:2])
        b = json.loads(stats.read_text())
        rate = ((b["rx"] - a["rx"]) + (b["tx"] - a["tx"])) / (b["t"] - a["t"])
        return {
            "bytes_per_s": rate,
            "rx_per_s": (b["rx"] - a["rx"]) / (b["t"] - a["t"]),
            "cpu_ui": cpu_ui,
            "cpu_server": 100.0 * (s1 - s0) / args.seconds,
        }
    finally:
        tmux.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=("local", "server", "attach"))
    parser.add_argument("--home")
    parser.add_argument("--port", type=int)
    parser.add_argument("--stats")
    parser.add_argument("--window", type=float, default=60.0, help="plot time window (s)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--keys", type=int, default=20, help="key presses to time")
    parser.add_argument(
        "--sizes", default="80x24,140x42,200x50", help="terminal sizes, WxH comma-separated"
    )
    parser.add_argument("--no-attached", action="store_true", help="skip the attached run")
    args = parser.parse_args()
    if args.child:
        runner = {"local": child_local, "server": child_server, "attach": child_attach}
        profile = os.environ.get("RTOC_BENCH_PROFILE")
        if profile:  # where the child's time goes: RTOC_BENCH_PROFILE=/tmp/ui.prof
            import cProfile

            cProfile.runctx("asyncio.run(runner[args.child](args))", globals(), locals(), profile)
        else:
            asyncio.run(runner[args.child](args))
        return
    if shutil.which("tmux") is None:
        sys.exit("bench_ui needs tmux")
    global SIZE
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.lower().split("x"))
        SIZE = (w, h)
        print(
            f"bench_ui: tmux {SIZE[0]}x{SIZE[1]}, {N_SIGNALS} signals x {N_SAMPLES:,} samples "
            f"({len(UNITS)} units), +{RATE_HZ:g} samples/s each, plot 10 Hz, window {args.window:g} s, "
            f"{os.cpu_count()} CPUs"
        )
        with tempfile.TemporaryDirectory(prefix="rtoc-bench-ui-") as d:
            tmp = Path(d)
            local = bench_local(args, tmp)
            print(
                f"local    first full screen      {local['ui_first_s']:.2f} s from the UI's start, "
                f"{local['first_screen_s']:.2f} s from spawning python (imports, 8M samples)"
                "   (goal < 1 s)"
            )
            steps = ", ".join(f"{k} {v:.2f}" for k, v in local["milestones"].items())
            print(f"         (from the UI's start, s: {steps})")
            print(
                f"local    CPU, whole process     {local['cpu']:.1f} % of one core   (goal < 15 %)"
            )
            print(
                f"         plot frames built {local['frames_s']:.1f}/s (all plots), "
                f"window fetches {local['fetches_s']:.1f}/s; "
                f"load average before: {os.getloadavg()[0]:.2f}"
            )
            for label, key in (("p (title only)", "pause_ms"), ("t (plot redrawn)", "axis_ms")):
                lat = sorted(local[key])
                p90 = lat[int(0.9 * (len(lat) - 1))]
                print(
                    f"local    key -> screen, {label:16s} median {statistics.median(lat):.0f} ms, "
                    f"p90 {p90:.0f} ms, max {lat[-1]:.0f} ms ({len(lat)} presses)   (goal: median < 30, max < 60 ms)"
                )
            print(f"         (tmux send-keys + capture-pane alone: {local['floor_ms']:.0f} ms)")
            if args.no_attached:
                continue
            att = bench_attached(args, tmp)
            print(
                f"attached protocol traffic       {att['bytes_per_s'] / 1000:.1f} kB/s "
                f"(received {att['rx_per_s'] / 1000:.1f} kB/s)   (goal < 200 kB/s)"
            )
            print(
                f"attached CPU                    UI {att['cpu_ui']:.1f} %, "
                f"server (logger + feeder) {att['cpu_server']:.1f} % of one core"
            )


if __name__ == "__main__":
    main()
