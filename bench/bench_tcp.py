"""TCP server benchmarks (issue 3): throughput, pipelining, getLatest, latency under attack,
and the bandwidth of live windows. The server runs in its own process; this process is the
load generator, so the figures are what a client on another core sees.

Run: .venv/bin/python bench/bench_tcp.py [--quick]
RTOC 3.0 on this machine kind (shared/anchors/README.md, one connection per request, RTOC's
own client): 1 sample/request 3,400 samples/s; 100 samples (plot) 205,000; 10,000 samples
(plot) 357,000 and 169,000 (data path); getLatest 5,000 requests/s.

For RTOC 3.0 itself in the same run, with its own unmodified client, see
bench/bench_tcp_vs_rtoc3.py. The one-request-per-connection rows here also show the client's
ceiling: the same client against
a minimal blocking server without logger or event loop (accept, read the frame, echo it as a
data reply, close) in its own process. A sequential client and the server take turns (one
waits for the other), so client and server costs add up; no server can beat that column.
"""

from __future__ import annotations

import argparse
import asyncio
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
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from rtoc_tui import wire
from rtoc_tui.client.remote import RemoteClient
from rtoc_tui.client.rtoc_jsonsocket import JsonSocketClient
from rtoc_tui.wire import ProtocolError

HOST = "127.0.0.1"


# -- the server process ------------------------------------------------------------------------
def serve(feed: int, prefill_s: float) -> None:
    """Run a logger with its TCP server until stdin closes; print the port first."""
    from rtoc_tui.config.home import Home
    from rtoc_tui.core.logger import Logger
    from rtoc_tui.server.tcp import TcpServer

    async def main() -> None:
        home = Home(Path(tempfile.mkdtemp(prefix="rtoc-bench-tcp-")) / "home")
        home.ensure()
        home.write_autorun([])
        logger = Logger.from_home(home)
        server = TcpServer(logger, port=0, read_timeout_s=60, idle_timeout_s=0, max_clients=1000)
        logger.add_service(server)
        await logger.start(autorun=False)
        stop = threading.Event()
        if feed:
            names = [f"f{i:02d}" for i in range(feed)]
            now = time.time()
            x = np.arange(now - prefill_s, now, 0.01)
            for i, n in enumerate(names):
                logger.store.append("Feed", n, x, np.sin(x + i), "V")

            def feeder() -> None:  # 100 Hz per signal, like a fast driver
                while not stop.wait(0.01):
                    t = time.time()
                    for i, n in enumerate(names):
                        logger.store.append_one("Feed", n, t, float(np.sin(t + i)), "V")

            threading.Thread(target=feeder, daemon=True).start()
        for i in range(10):  # what getLatest answers
            logger.store.append_one("Latest", f"s{i}", 1.0, float(i), "V")
        print(f"PORT {server.port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        stop.set()
        await logger.stop()

    asyncio.run(main())


_SENT_HEAD = b'{"error":false,"sent":true,'


def serve_minimal() -> None:
    """The client's ceiling: a blocking server, no logger, no event loop; echoes each request
    as a data reply (what the logger answers to data) and closes first, like RTOC's server."""
    lsock = socket.create_server((HOST, 0), backlog=256)
    print(f"PORT {lsock.getsockname()[1]}", flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    while True:
        sock, _ = lsock.accept()
        with sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                payload = read_reply(sock, bytearray())
            except (ConnectionError, ProtocolError):
                continue
            sock.sendall(wire.pack(_SENT_HEAD + payload.lstrip()[1:]))


def serve_bare() -> None:
    """The machine's ceiling: an asyncio server that answers every frame with a fixed reply."""

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(wire.pack(b'{"error": false, "sent": true}'))  # type: ignore[attr-defined]

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(
            Echo, HOST, 0, reuse_address=True, backlog=256
        )
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


class Server:
    """The server subprocess (context manager)."""

    def __init__(
        self, feed: int = 0, prefill_s: float = 0.0, bare: bool = False, minimal: bool = False
    ) -> None:
        self.args = [
            sys.executable,
            __file__,
            "--serve-minimal" if minimal else "--serve-bare" if bare else "--serve",
            "--feed",
            str(feed),
            "--prefill",
            str(prefill_s),
        ]

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"server did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- load generators ---------------------------------------------------------------------------
def read_reply(sock: socket.socket, buf: bytearray) -> bytes:
    """One reply frame's payload (plain) from a blocking socket; buf keeps the leftovers."""
    while True:
        nl = buf.find(b"\n")
        if nl >= 0:
            length, taglen, noncelen = wire.parse_header(buf[:nl], 1 << 31)
            end = nl + 1 + taglen + noncelen + length
            if len(buf) >= end:
                payload = bytes(buf[nl + 1 + taglen + noncelen : end])
                del buf[:end]
                return payload
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk


def one_per_connection(
    port: int, make_request, samples: int, duration: float, rtoc_client: bool
) -> float:
    """Samples/s with a new connection per request (as RTOC clients do)."""
    n = 0
    frame = wire.pack(json.dumps(make_request()).encode())
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < duration:
        if rtoc_client:  # exactly RTOC's client: json.dumps and json.loads every time
            with JsonSocketClient() as c:
                c.connect(HOST, port)
                c.send(make_request())
                reply = c.recv()
        else:
            with socket.create_connection((HOST, port)) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.sendall(frame)
                reply = orjson.loads(read_reply(s, bytearray()))
        assert reply["error"] is False, reply
        n += 1
    return n * samples / (time.perf_counter() - t0)


def one_shot_vs_ceiling(
    port: int, ref_port: int, make_request, samples: int, duration: float, rounds: int = 3
) -> tuple[float, float, float, float]:
    """Rates of RTOC's client and prebuilt frames against the server and against the minimal
    server, medians of interleaved rounds (load changes on a shared machine hit all four)."""
    runs: list[list[float]] = [[], [], [], []]
    for _ in range(rounds):
        for i, (p, rtoc) in enumerate(
            ((port, True), (port, False), (ref_port, True), (ref_port, False))
        ):
            runs[i].append(one_per_connection(p, make_request, samples, duration / rounds, rtoc))
    ours_rtoc, ours_lean, ref_rtoc, ref_lean = (statistics.median(r) for r in runs)
    return ours_rtoc, ours_lean, ref_rtoc, ref_lean


def _lean_worker(port: int, duration: float, out: Any) -> None:
    frame = wire.pack(b'{"y": [1.5], "sname": ["s"], "dname": "Par", "unit": [""]}')
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < duration:
        with socket.create_connection((HOST, port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(frame)
            read_reply(s, bytearray())
        n += 1
    out.put(n / (time.perf_counter() - t0))


def parallel_one_per_connection(port: int, clients: int, duration: float) -> float:
    """Single-sample requests/s, one per connection, from `clients` processes at once."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_lean_worker, args=(port, duration, out)) for _ in range(clients)]
    for proc in procs:
        proc.start()
    total = sum(out.get() for _ in procs)
    for proc in procs:
        proc.join()
    return total


def pipelined(
    port: int, payload: bytes, duration: float, window: int = 20_000
) -> tuple[float, int]:
    """Requests/s of one persistent connection with up to `window` requests in flight.

    Every reply to an identical request is identical, so the receiver only counts bytes."""
    frame = wire.pack(payload)
    with socket.create_connection((HOST, port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(frame)
        first = read_reply(s, bytearray())
        assert json.loads(first)["error"] is False, first[:200]
        reply_size = len(wire.pack(first))
        batch = max(1, min(500, (1 << 20) // len(frame)))
        chunk = frame * batch
        sent = 0
        received_bytes = 0
        done = threading.Event()

        def sender() -> None:
            nonlocal sent
            while not done.is_set():
                if sent - received_bytes // reply_size > window:
                    time.sleep(0.0005)
                    continue
                s.sendall(chunk)
                sent += batch

        t = threading.Thread(target=sender, daemon=True)
        t0 = time.perf_counter()
        t.start()
        while time.perf_counter() - t0 < duration:
            data = s.recv(1 << 22)
            if not data:
                raise ConnectionError("server closed the connection")
            received_bytes += len(data)
        elapsed = time.perf_counter() - t0
        done.set()
        t.join()
        return received_bytes / reply_size / elapsed, len(frame)


def latency_under_attack(port: int, attackers: int, requests: int) -> tuple[float, float, float]:
    """RTT (ms) of one-request-per-connection getLatest while `attackers` hold half-sent frames."""
    held = []
    for _ in range(attackers):
        s = socket.create_connection((HOST, port))
        s.sendall(b"100000,0,0\n" + b'{"y": [' * 10)  # a header and a tenth of a frame
        held.append(s)
    frame = wire.pack(b'{"getLatest": true}')
    times = []
    try:
        for _ in range(requests):
            t = time.perf_counter()
            with socket.create_connection((HOST, port)) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.sendall(frame)
                read_reply(s, bytearray())
            times.append((time.perf_counter() - t) * 1e3)
    finally:
        for s in held:
            s.close()
    times.sort()
    return statistics.median(times), times[int(0.99 * (len(times) - 1))], times[-1]


async def window_bandwidth(port: int, names: list[str], seconds: float, incremental: bool) -> float:
    """kB/s received by a client polling 400-point windows of the last 60 s at 10 Hz."""
    client = RemoteClient(HOST, port)
    await client.connect()
    try:
        await client.window(names, time.time() - 60, time.time(), 400)  # the first, full load
        b0 = client.bytes_received
        t0 = time.perf_counter()
        next_t = t0
        while time.perf_counter() - t0 < seconds:
            now = time.time()
            if incremental:
                wins = await client.window(names, now - 60, now, 400)
            else:
                wins = await client.call(
                    "window", names=names, xmin=now - 60, xmax=now, n_points=400
                )
            assert len(wins) == len(names)
            next_t += 0.1
            await asyncio.sleep(max(0.0, next_t - time.perf_counter()))
        return (client.bytes_received - b0) / (time.perf_counter() - t0) / 1e3
    finally:
        await client.close()


def _timeit(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# -- main --------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs (noisier figures)")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--serve-minimal", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--feed", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--prefill", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.feed, args.prefill)
        return
    if args.serve_bare:
        serve_bare()
        return
    if args.serve_minimal:
        serve_minimal()
        return
    d = 1.0 if args.quick else 3.0
    rows: list[tuple[str, str, str, str, str]] = []
    ceilings: dict[str, str] = {}  # row -> the client's ceiling (minimal blocking server)

    def add(name: str, value: str, goal: str, rtoc: str) -> None:
        rows.append((name, value, ceilings.get(name, "-"), goal, rtoc))
        print(f"  {name}: {value}", flush=True)

    now = time.time()

    def data1() -> dict:
        return {"y": [1.5], "sname": ["s"], "dname": "One", "unit": [""], "x": [time.time()]}

    x100 = (now + np.arange(100) * 0.01).tolist()
    x10k = (now + np.arange(10_000) * 0.001).tolist()
    y100 = np.random.default_rng(1).random(100).tolist()
    y10k = np.random.default_rng(2).random(10_000).tolist()

    def plot100() -> dict:
        return {"plot": True, "x": x100, "y": y100, "sname": ["p100"], "dname": "Plot", "unit": "V"}

    def plot10k() -> dict:
        return {"plot": True, "x": x10k, "y": y10k, "sname": ["p10k"], "dname": "Plot", "unit": "V"}

    names10 = [f"s{i % 10}" for i in range(10_000)]

    def data10k() -> dict:
        return {"y": y10k, "sname": names10, "dname": "Data", "unit": ["V"], "x": x10k}

    one_shot_rows = (
        ("1 sample/request, 1 request/connection", data1, 1, 10_200, "3,400"),
        ("100 samples/request (plot), 1 request/connection", plot100, 100, 615_000, "205,000"),
        (
            "10,000 samples/request (plot), 1 request/connection",
            plot10k,
            10_000,
            1_071_000,
            "357,000",
        ),
        (
            "10,000 samples/request (data), 1 request/connection",
            data10k,
            10_000,
            507_000,
            "169,000",
        ),
        (
            "getLatest (10 signals), 1 request/connection",
            lambda: {"getLatest": True},
            1,
            0,
            "5,000",
        ),
    )

    print(f"bench_tcp on {os.cpu_count()} CPUs; server in its own process", flush=True)
    ref = Server(minimal=True).__enter__()  # the client's ceiling, beside every logger below

    def one_shot(port: int, label: str, make: Any, n: int, unit: str) -> str:
        rtoc_rate, lean_rate, ref_rtoc, ref_lean = one_shot_vs_ceiling(port, ref.port, make, n, d)
        ceilings[label] = f"{ref_rtoc:,.0f} / {ref_lean:,.0f}"
        return f"{rtoc_rate:,.0f} {unit} (RTOC's client), {lean_rate:,.0f} (prebuilt frames)"

    with Server(bare=True) as srv:
        rate = one_per_connection(srv.port, data1, 1, d, rtoc_client=False)
        add(
            "reference: bare asyncio server (no logger), 1 request/connection",
            f"{rate:,.0f} requests/s",
            "-",
            "-",
        )
    with Server() as srv:
        p = srv.port
        for label, make, n, goal, rtoc in one_shot_rows[:4]:
            add(label, one_shot(p, label, make, n, "samples/s"), f">= {goal:,}", rtoc)
        rate = parallel_one_per_connection(p, 4, d)
        add(
            "1 sample/request, 1 request/connection, 4 clients at once",
            f"{rate:,.0f} samples/s",
            ">= 10,200",
            "-",
        )
    with Server() as srv:  # a fresh logger: getLatest answers exactly 10 signals
        p = srv.port
        rate, _ = pipelined(p, b'{"getLatest": true}', d)
        add(
            "getLatest (10 signals), persistent connection",
            f"{rate:,.0f} requests/s",
            ">= 30,000",
            "5,000 (1/conn)",
        )
        label, make, *_ = one_shot_rows[4]
        add(label, one_shot(p, label, make, 1, "requests/s"), "-", "5,000")
        rate, _ = pipelined(p, b'{"y": [1.5], "sname": ["s"], "dname": "Pipe"}', d)
        add(
            "pipelined single-sample requests (RTOC keys)",
            f"{rate:,.0f} requests/s",
            ">= 100,000",
            "-",
        )
        batch = {"y": [y10k], "x": [x10k], "sname": ["b"], "dname": "Batch"}
        rate, size = pipelined(p, json.dumps(batch).encode(), d, 64)
        add(
            "pipelined 10,000-sample batches (JSON, echoed)",
            f"{rate * 10_000:,.0f} samples/s ({size / 1e3:,.0f} kB frames)",
            ">= 5,000,000",
            "-",
        )
        xb, yb = np.asarray(x10k), np.asarray(y10k)
        args_ = {
            "name": "Batch.bin",
            "x": wire.encode_array(xb),
            "y": wire.encode_array(yb),
        }
        rate, size = pipelined(
            p, json.dumps({"rtoc": {"op": "append", "args": args_}}).encode(), d, 64
        )
        add(
            "pipelined 10,000-sample batches (binary append op)",
            f"{rate * 10_000:,.0f} samples/s ({size / 1e3:,.0f} kB frames)",
            ">= 5,000,000",
            "-",
        )
        p50, p99, worst = latency_under_attack(p, 50, 200 if args.quick else 1000)
        add(
            "latency with 50 clients holding half-sent frames",
            f"median {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.1f} ms",
            "< 50 ms",
            "hangs",
        )
    ref.__exit__(None, None, None)  # (on a crash it exits with our stdin pipe)
    with Server(feed=16, prefill_s=70) as srv:
        names = [f"Feed.f{i:02d}" for i in range(16)]
        secs = 2.0 if args.quick else 5.0
        inc = asyncio.run(window_bandwidth(srv.port, names, secs, incremental=True))
        add(
            "window polling 16 x 400 points at 10 Hz (incremental)",
            f"{inc:,.1f} kB/s",
            "< 200 kB/s",
            "-",
        )
        full = asyncio.run(window_bandwidth(srv.port, names, secs, incremental=False))
        add(
            "window polling 16 x 400 points at 10 Hz (full each time)",
            f"{full:,.1f} kB/s",
            "-",
            "-",
        )

    # how arrays travel: base64 float64 against JSON number lists (16 signals x 400 points)
    rng = np.random.default_rng(3)
    wins = {
        f"Dev.s{i:02d}": (time.time() + np.sort(rng.random(400)) * 60, rng.normal(size=400))
        for i in range(16)
    }
    as_b64 = orjson.dumps(
        {n: [wire.encode_array(x), wire.encode_array(y)] for n, (x, y) in wins.items()}
    )
    as_list = orjson.dumps(
        {n: [x, y] for n, (x, y) in wins.items()}, option=orjson.OPT_SERIALIZE_NUMPY
    )
    t_b64 = min(
        _timeit(
            lambda: [wire.decode_array(v) for pair in orjson.loads(as_b64).values() for v in pair]
        )
        for _ in range(5)
    )
    t_list = min(
        _timeit(lambda: [np.asarray(v) for pair in orjson.loads(as_list).values() for v in pair])
        for _ in range(5)
    )
    add(
        "one 16 x 400-point window: base64 float64 vs JSON lists",
        f"{len(as_b64) / 1e3:.0f} kB, decoded in {t_b64 * 1e3:.2f} ms vs {len(as_list) / 1e3:.0f} kB, {t_list * 1e3:.2f} ms",
        "-",
        "-",
    )

    head = ("benchmark", "result", "client's ceiling (RTOC's / prebuilt)", "goal", "RTOC 3.0")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=False)) + "  " + head[4])
    print("-" * (sum(widths) + 16))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[4])


if __name__ == "__main__":
    main()
