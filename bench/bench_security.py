"""Security benchmarks (issue 15): a well-behaved client's latency during each attack, and the
logger's RSS during the partial-frame and many-names attacks.

The logger runs in its own process with the default limits (tcp.maxClients 256,
maxClientsPerPeer 64, readTimeout 10 s, minByteRate 1024 B/s, maxPendingBytes 128 MiB,
global.maxSignals 10,000) and a password; attackers run in another process; this process is
the good client: an RTOC-style plain request on its own connection every 20 ms from loopback.
Every attacker also comes from 127.0.0.1, the worst case for the per-address limits.

Run: .venv/bin/python bench/bench_security.py [--seconds 4] [--only NAME ...]
Goal: the good client's p99 < 50 ms and no refused request during every attack; RSS bounded
by the budgets.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rtoc_tui import wire
from rtoc_tui.client.rtoc_jsonsocket import JsonSocketClient

HOST = "127.0.0.1"
PASSWORD = "bench-secret-password"


# -- the server process --------------------------------------------------------------------------
def serve() -> None:
    import asyncio

    import numpy as np

    from rtoc_tui.config.home import Home
    from rtoc_tui.core.logger import Logger
    from rtoc_tui.server.tcp import TcpServer

    async def main() -> None:
        home = Home(Path(tempfile.mkdtemp(prefix="rtoc-bench-sec-")) / "home")
        home.ensure()
        home.write_autorun([])
        cfg = json.loads(home.config_file.read_text())
        cfg["backup"]["active"] = False
        home.config_file.write_text(json.dumps(cfg))
        logger = Logger.from_home(home)
        server = TcpServer(logger, port=0, password=PASSWORD)
        logger.add_service(server)
        await logger.start(autorun=False)
        x = np.arange(0.0, 100_000.0)
        for i in range(20):  # what getSession copies: 20 signals x 100,000 samples
            logger.store.append("Big", f"s{i}", x, np.sin(x + i), "V")
        logger.store.append_one("Good", "g", 0.0, 0.0)  # the good client's signal exists
        print(f"PORT {server.port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await logger.stop()

    asyncio.run(main())


class Server:
    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- attacks (run in their own process until stop is set) ---------------------------------------
def _connect(port: int) -> socket.socket | None:
    try:
        s = socket.create_connection((HOST, port), timeout=2)
    except OSError:
        return None
    s.setblocking(False)
    return s


def _closed(s: socket.socket) -> bool:
    try:
        return s.recv(65536) == b""  # an error reply then EOF, or EOF
    except BlockingIOError:
        return False
    except OSError:
        return True


def attack_wrong_passwords(port: int, stop: Any) -> None:
    while not stop.is_set():
        client = JsonSocketClient("wrong guess", encrypt=True)
        client.host = "remote.example"
        frame = client.frame({"getLatest": True})
        try:
            with socket.create_connection((HOST, port), timeout=2) as s:
                s.sendall(frame)
                s.recv(4096)
        except OSError:
            pass


def _hold(port: int, stop: Any, n: int, first: bytes, every_s: float, drip: bytes) -> None:
    """n connections that send `first`, then `drip` every every_s; re-opened when closed."""
    conns: list[socket.socket | None] = [None] * n
    last = 0.0
    while not stop.is_set():
        for i, s in enumerate(conns):
            if s is None or _closed(s):
                if s is not None:
                    s.close()
                s = conns[i] = _connect(port)
                if s is not None and first:
                    try:
                        s.send(first)
                    except OSError:
                        pass
        now = time.monotonic()
        if drip and now - last >= every_s:
            last = now
            for s in conns:
                if s is not None:
                    try:
                        s.send(drip)
                    except OSError:
                        pass
        time.sleep(0.05)
    for s in conns:
        if s is not None:
            s.close()


def attack_slowloris(port: int, stop: Any) -> None:
    _hold(port, stop, 300, b"100000\n", 5.0, b" ")  # one byte every 5 s


def attack_silent(port: int, stop: Any) -> None:
    _hold(port, stop, 500, b"", 0.0, b"")


def attack_partial_frames(port: int, stop: Any) -> None:
    """24 connections each announcing a 60 MiB frame and sending all but its last byte."""
    size = 60 * 1024 * 1024
    chunk = b" " * (1 << 20)
    conns = []
    for _ in range(24):
        if stop.is_set():
            break
        try:
            s = socket.create_connection((HOST, port), timeout=2)
            s.sendall(b"%d\n" % size)
            sent = 0
            while sent < size - 1 and not stop.is_set():
                n = min(len(chunk), size - 1 - sent)
                s.sendall(chunk[:n])
                sent += n
        except OSError:
            continue  # refused by the budget: the next one tries again
        conns.append(s)
    while not stop.is_set():
        time.sleep(0.1)
    for s in conns:
        s.close()


def attack_many_names(port: int, stop: Any) -> None:
    """200,000 new signal names in requests of 10,000."""
    k = 0
    while not stop.is_set() and k < 20:
        names = [f"n{k}_{i}" for i in range(10_000)]
        req = {"y": [1.0] * len(names), "sname": names, "dname": "Flood"}
        try:
            with socket.create_connection((HOST, port), timeout=10) as s:
                s.sendall(wire.pack(json.dumps(req).encode()))
                s.recv(1 << 16)
        except OSError:
            pass
        k += 1
    while not stop.is_set():
        time.sleep(0.1)


def attack_long_name(port: int, stop: Any) -> None:
    """A 60 MB signal name, again and again."""
    long_req = {"y": [1.0], "sname": ["x" * 60_000_000], "dname": "Flood"}
    frame = wire.pack(json.dumps(long_req).encode())
    while not stop.is_set():
        try:
            with socket.create_connection((HOST, port), timeout=10) as s:
                s.sendall(frame)
                s.recv(1 << 16)
        except OSError:
            pass


def attack_get_session(port: int, stop: Any) -> None:
    frame = wire.pack(b'{"getSession": true}')
    while not stop.is_set():
        try:
            with socket.create_connection((HOST, port), timeout=30) as s:
                s.sendall(frame)
                buf = b""
                while True:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        break
                    buf += chunk
        except OSError:
            pass


ATTACKS: dict[str, Callable[[int, Any], None] | None] = {
    "none": None,
    "wrong passwords": attack_wrong_passwords,
    "slowloris 300 x 1 B/5 s": attack_slowloris,
    "500 silent, re-opened": attack_silent,
    "24 partial 60 MiB frames": attack_partial_frames,
    "200,000 names": attack_many_names,
    "60 MB names": attack_long_name,
    "getSession repeated": attack_get_session,
}


# -- the good client --------------------------------------------------------------------------------
ERRORS: list[str] = []  # the first few failures of the good client, printed under the table


def good_client(port: int, seconds: float) -> tuple[list[float], int]:
    """Latencies (ms) of one-shot RTOC-style data requests, and how many failed."""
    lat: list[float] = []
    failed = 0
    errors = ERRORS
    frame = wire.pack(b'{"y": [1.0], "sname": ["g"], "dname": "Good"}')
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.perf_counter()
        try:
            with socket.create_connection((HOST, port), timeout=5) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.sendall(frame)
                buf = b""
                while b"}" not in buf:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
            ok = b'"sent":true' in buf
            if not ok and len(errors) < 3:
                errors.append(buf[:160].decode("utf-8", "replace"))
        except OSError as exc:
            ok = False
            if len(errors) < 3:
                errors.append(repr(exc))
        if ok:
            lat.append((time.perf_counter() - t) * 1000)
        else:
            failed += 1
        time.sleep(0.02)
    return lat, failed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--seconds", type=float, default=4.0, help="good-client time per attack")
    ap.add_argument("--warmup", type=float, default=2.0, help="attack time before measuring")
    ap.add_argument("--only", nargs="*", help="attack names (substrings)")
    args = ap.parse_args()
    if args.serve:
        serve()
        return
    print(f"machine: {os.cpu_count()} CPUs (shared with other work: figures are indicative)")
    print(f"{'attack':30} {'median':>8} {'p99':>8} {'max':>8} {'failed':>7} {'RSS peak':>9}")
    for name, fn in ATTACKS.items():
        if args.only and not any(o in name for o in args.only):
            continue
        with Server() as srv:
            stop = multiprocessing.Event()
            proc = None
            if fn is not None:
                proc = multiprocessing.Process(target=fn, args=(srv.port, stop), daemon=True)
                proc.start()
            peak = [srv.rss_mb()]
            done = threading.Event()

            def sample(
                srv: Server = srv, peak: list[float] = peak, done: threading.Event = done
            ) -> None:
                while not done.wait(0.1):
                    peak[0] = max(peak[0], srv.rss_mb())

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            time.sleep(args.warmup if fn is not None else 0.2)
            lat, failed = good_client(srv.port, args.seconds)
            stop.set()
            done.set()
            sampler.join()
            if proc is not None:
                proc.join(10)
                if proc.is_alive():
                    proc.terminate()
                    proc.join()
        lat.sort()
        errors = list(ERRORS)
        ERRORS.clear()
        if lat:
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            print(
                f"{name:30} {statistics.median(lat):7.1f}ms {p99:7.1f}ms {lat[-1]:7.1f}ms "
                f"{failed:4d}/{len(lat) + failed:<3d} {peak[0]:7.0f}MB",
                flush=True,
            )
        else:
            print(f"{name:30} no request succeeded ({failed} failed), RSS {peak[0]:.0f} MB")
        for e in errors:
            print(f"    failed: {e}")


if __name__ == "__main__":
    main()
