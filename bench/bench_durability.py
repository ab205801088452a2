"""Durability under sustained TCP ingest (issue 14): acknowledged == stored, exactly.

    .venv/bin/python bench/bench_durability.py                      # SQLite, the issue's grid
    .venv/bin/python bench/bench_durability.py --seconds 60         # the issue's duration
    .venv/bin/python bench/bench_durability.py --pg --rates 100000  # PostgreSQL

A sender process pipelines RTOC data requests (10 signals, x = a unique counter) over one TCP
connection at a target rate ("max": as fast as the logger acknowledges) for --seconds, keeping
at most --window requests in flight. The logger (SQLite or PostgreSQL storage, flush interval
1 s) runs in this process. After the run the store is flushed and every stored x is compared
with every acknowledged x. Printed per case: the rate offered, the rate acknowledged, refused
requests (error replies), the worst reply latency, and whether acknowledged == stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rtoc_tui import wire  # noqa: E402
from rtoc_tui.config.home import Home  # noqa: E402
from rtoc_tui.core.logger import Logger  # noqa: E402
from rtoc_tui.server.tcp import TcpServer  # noqa: E402
from rtoc_tui.storage import attach_storage  # noqa: E402

SIGNALS = 10


def _read_reply(sock: socket.socket, buf: bytearray) -> dict[str, Any]:
    while True:
        nl = buf.find(b"\n")
        if nl >= 0:
            length, tl, nn = wire.parse_header(bytes(buf[:nl]), 1 << 30)
            end = nl + 1 + tl + nn + length
            if len(buf) >= end:
                body = bytes(buf[nl + 1 + tl + nn : end])
                del buf[:end]
                return json.loads(body)
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk


def sender(port: int, rate: float, per: int, seconds: float, window: int, out: Any) -> None:
    """Send requests of `per` samples at `rate` samples/s (0: unlimited); report acked x ranges."""
    sock = socket.create_connection(("127.0.0.1", port))
    buf = bytearray()
    names = [f"s{i % SIGNALS}" for i in range(per)]
    inflight: list[tuple[int, float]] = []  # (first x, send time)
    acked: list[int] = []  # first x of each acknowledged request
    refused = 0
    worst = 0.0
    errors: set[str] = set()
    t0 = time.monotonic()
    n = 0
    while True:
        now = time.monotonic()
        done = now - t0 >= seconds
        due = n * per / rate if rate else 0.0
        if not done and len(inflight) < window and now - t0 >= due:
            first = n * per
            xs = list(range(first, first + per))
            msg = {"y": xs, "x": xs, "sname": names, "dname": "B"}
            sock.sendall(wire.pack(json.dumps(msg).encode()))
            inflight.append((first, now))
            n += 1
            continue
        if not inflight:
            if done:
                break
            time.sleep(min(0.001, max(0.0, due - (now - t0))))
            continue
        if not done and len(inflight) < window and rate:
            # paced: answer replies that are already there, else wait for the next send slot
            sock.settimeout(max(0.0, due - (now - t0)))
            try:
                rep = _read_reply(sock, buf)
            except TimeoutError:
                continue
            finally:
                sock.settimeout(None)
        else:
            rep = _read_reply(sock, buf)
        first, sent = inflight.pop(0)
        worst = max(worst, time.monotonic() - sent)
        if rep.get("sent") is True:
            acked.append(first)
        else:
            refused += 1
            errors.add(str(rep.get("errorText"))[:160])
    elapsed = time.monotonic() - t0
    sock.close()
    out.put(
        {
            "acked": acked,
            "refused": refused,
            "worst": worst,
            "elapsed": elapsed,
            "errors": sorted(errors),
        }
    )


async def run_case(
    record_length: int, rate: float, seconds: float, pg_config: dict[str, Any] | None, window: int
) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="rtoc-bench-dur-"))
    try:
        home = Home(tmp / "home")
        home.ensure()
        home.write_autorun([])
        cfg: dict[str, Any] = {
            "global": {"recordLength": record_length},
            "backup": {"intervall": 1.0},
        }
        if pg_config:
            cfg["postgresql"] = pg_config
        home.config_file.write_text(json.dumps(cfg))
        lg = Logger.from_home(home)
        svc = attach_storage(lg)
        assert svc is not None
        srv = TcpServer(lg, port=0)
        lg.add_service(srv)
        await lg.start(autorun=False)
        # per request: at most a tenth of a ring per signal, at most 1,000 samples
        per = max(SIGNALS, min(1000, record_length * SIGNALS // 10))
        if rate and rate < per * 20:
            per = max(SIGNALS, int(rate // 20) // SIGNALS * SIGNALS)
        q: Any = mp.get_context("fork").Queue()
        proc = mp.get_context("fork").Process(
            target=sender, args=(srv.port, rate, per, seconds, window, q)
        )
        proc.start()
        res = await asyncio.to_thread(q.get)
        await asyncio.to_thread(proc.join)
        await lg.stop()
        # read back from a fresh storage service: what a restart would find
        lg2 = Logger.from_home(home)
        svc2 = attach_storage(lg2)
        assert svc2 is not None
        await svc2.start()
        stored = []
        for i in range(SIGNALS):
            for x, _ in svc2.iter_samples(f"B.s{i}"):
                stored.append(x)
        await svc2.stop()
        got = np.sort(np.concatenate(stored)) if stored else np.empty(0)
        acked = np.sort(
            np.concatenate([np.arange(f, f + per) for f in res["acked"]])
            if res["acked"]
            else np.empty(0)
        ).astype(float)
        exact = len(got) == len(acked) and bool(np.array_equal(got, acked))
        extra = len(np.setdiff1d(got, acked))
        missing = len(np.setdiff1d(acked, got))
        offered = "max" if not rate else f"{rate:,.0f}"
        print(
            f"{'pg' if pg_config else 'sqlite':6} recordLength {record_length:>7,}  offered "
            f"{offered:>9}/s  acknowledged {len(acked) / res['elapsed']:>11,.0f}/s  refused "
            f"{res['refused']:>4}  worst reply {res['worst'] * 1000:>6.0f} ms  stored "
            f"{len(got):>10,}  {'EXACT' if exact else f'MISMATCH missing {missing} extra {extra}'}",
            flush=True,
        )
        for e in res["errors"][:2]:
            print(f"         refused with: {e}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pg_section() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "tests"))
    from psycopg.conninfo import conninfo_to_dict

    env = tempfile.mkdtemp(prefix="rtoc-bench-pg-") + "/pg.env"
    import subprocess

    out = subprocess.run(
        ["bash", str(ROOT / ".ci" / "postgres.sh"), "start", env],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    dsn = next(
        line.split("=", 1)[1].strip("'")
        for line in out.splitlines()
        if line.startswith("export RTOC_TEST_PG_DSN=")
    )
    c = conninfo_to_dict(dsn)
    return {
        "active": True,
        "user": c["user"],
        "password": c.get("password", ""),
        "host": c["host"],
        "port": int(c["port"]),
        "database": c["dbname"],
        "_env": env,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--record-lengths", default="1000,10000,500000")
    ap.add_argument("--rates", default="1000,100000,max")
    ap.add_argument("--window", type=int, default=8, help="requests in flight")
    ap.add_argument("--pg", action="store_true", help="PostgreSQL (starts a throwaway cluster)")
    args = ap.parse_args()
    pg = pg_section() if args.pg else None
    try:
        for rl in [int(v) for v in args.record_lengths.split(",")]:
            for r in args.rates.split(","):
                rate = 0.0 if r == "max" else float(r)
                cfg = {k: v for k, v in pg.items() if k != "_env"} if pg else None
                asyncio.run(run_case(rl, rate, args.seconds, cfg, args.window))
    finally:
        if pg:
            import subprocess

            subprocess.run(["bash", str(ROOT / ".ci" / "postgres.sh"), "stop", pg["_env"]])


if __name__ == "__main__":
    main()
