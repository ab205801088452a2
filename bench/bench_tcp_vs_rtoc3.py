"""RTOC 3.0 and rtoc-tui side by side, one request per connection (issue 3), in one run.

The same load generator (bench/rtoc3_client_worker.py, run by RTOC 3.0's Python 3.8) talks to
both servers, row after row and round after round, so machine load hits both alike:
- RTOC's client: RTOC 3.0's own unmodified jsonsocket.Client, one connection per request,
  one client at a time (how the anchor figures in shared/anchors/README.md were taken);
- lean client: a prebuilt frame on a raw socket, one at a time; with it the server's CPU time
  per request (user + system, from /proc) shows what each server costs;
- N clients at once: RTOC's client in N processes, how many one-shot clients fare together.
The client's ceiling is 1 / the CPU time RTOC's client spends per request in its own process
(kernel work for its sockets included): a sequential client waits for each reply, so it can go
no faster than that against any server.

RTOC 3.0 binds 0.0.0.0 with no way to change it, so the whole run happens in a private network
namespace with only loopback (`unshare -n`; the script re-executes itself there).

Set-up once: bash bench/rtoc3-venv.sh  (RTOC 3.0 in ~/.cache/rtoc3-venv; needs Python 3.8)
Run:         .venv/bin/python bench/bench_tcp_vs_rtoc3.py [--quick] [--venv DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_tcp import Server, read_reply  # noqa: E402

from rtoc_tui import wire  # noqa: E402

WORKER = str(Path(__file__).with_name("rtoc3_client_worker.py"))
ROWS = (  # request kind, samples per request, RTOC 3.0 anchor figure (samples or requests/s)
    ("data1", 1, 3_400),
    ("plot100", 100, 205_000),
    ("plot10k", 10_000, 357_000),
    ("data10k", 10_000, 169_000),
    ("getLatest", 1, 5_000),
)
LABELS = {
    "data1": "1 sample/request",
    "plot100": "100 samples/request (plot)",
    "plot10k": "10,000 samples/request (plot)",
    "data10k": "10,000 samples/request (data)",
    "getLatest": "getLatest (10 signals), requests/s",
}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Rtoc3:
    """RTOC 3.0's logger with its TCP server, in a throwaway HOME (context manager)."""

    def __init__(self, python: str, port: int) -> None:
        self.python = python
        self.port = port

    def __enter__(self) -> Rtoc3:
        self.home = tempfile.mkdtemp(prefix="rtoc3-home-")
        os.makedirs(f"{self.home}/.RTOC")
        # Its own defaults with the TCP server on; the websocket server defaults to the same port.
        subprocess.run(
            [
                self.python,
                "-c",
                "import json,sys;from RTOC.RTLogger.RTLogger import defaultconfig as c;"
                "c['tcp']['active']=True;c['tcp']['port']=int(sys.argv[1]);"
                "c['websocket']['port']=int(sys.argv[1])+1;"
                "json.dump(c,open(sys.argv[2],'w'))",
                str(self.port),
                f"{self.home}/.RTOC/config.json",
            ],
            env={**os.environ, "HOME": self.home},
            check=True,
            capture_output=True,
        )
        self.log = open(f"{self.home}/log", "w")  # noqa: SIM115 (closed in __exit__)
        self.proc = subprocess.Popen(
            [self.python, "-m", "RTOC.RTLogger"],
            env={**os.environ, "HOME": self.home},
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=self.home,
        )
        self.pid = self.proc.pid
        # Ready when a real request is answered (a bare connect-then-close wedges RTOC 3.0).
        deadline = time.monotonic() + 30
        while True:
            try:
                request(self.port, {"getSignalList": True})
                return self
            except OSError as exc:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    with open(f"{self.home}/log") as f:
                        tail = f.read()[-2000:]
                    self.__exit__()
                    raise RuntimeError(
                        f"RTOC 3.0 did not start ({exc}); its log:\n{tail}"
                    ) from None
                time.sleep(0.2)

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(3)
        except subprocess.TimeoutExpired:  # its non-daemon threads can keep it alive
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


class Ours(Server):
    """rtoc-tui's logger and TCP server (bench_tcp.py --serve), with its pid for CPU time."""

    def __enter__(self) -> Ours:
        super().__enter__()
        self.pid = self.proc.pid
        return self


def request(port: int, payload: dict) -> dict:
    """One plain request on its own connection (set-up and readiness, not measured)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(wire.pack(json.dumps(payload).encode()))
        return json.loads(read_reply(s, bytearray()))  # ConnectionError (OSError) on a close


def run_clients(
    python: str, port: int, kind: str, mode: str, seconds: float, n: int
) -> tuple[float, float]:
    """Requests/s of n client processes at once (each timed from its first request), and the
    clients' own CPU seconds per request."""
    procs = [
        subprocess.Popen(
            [python, WORKER, str(port), kind, mode, str(seconds)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    rate = cpu = requests = 0.0
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"client failed against port {port}: {err.strip()[-500:]}")
        count, elapsed, used = out.split()
        rate += int(count) / float(elapsed)
        cpu += float(used)
        requests += int(count)
    return rate, cpu / max(requests, 1.0)


def measure(python: str, server, kind: str, seconds: float, clients: int) -> dict[str, float]:
    """One round against one server: sequential RTOC client (and its own CPU per request),
    lean client + server CPU, N RTOC clients at once."""
    rtoc, client_cpu = run_clients(python, server.port, kind, "rtoc", seconds, 1)
    c0 = cpu_seconds(server.pid)  # the server idles while the worker starts
    lean, _ = run_clients(python, server.port, kind, "lean", seconds, 1)
    cpu = cpu_seconds(server.pid) - c0
    many, _ = run_clients(python, server.port, kind, "rtoc", seconds, clients)
    return {
        "rtoc": rtoc,
        "client_cpu": client_cpu,
        "lean": lean,
        "cpu_us": cpu / (lean * seconds) * 1e6,
        "many": many,
    }


def pair(theirs: float, ours: float) -> str:
    return f"{theirs:,.0f} / {ours:,.0f} ({ours / theirs:.1f}x)"


def in_netns() -> bool:
    return os.environ.get("RTOC_BENCH_NETNS") == "1"


def reexec_in_netns() -> None:
    """Run this script again in a private network namespace with loopback up."""
    unshare = ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-rn"]
    script = 'ip link set lo up && RTOC_BENCH_NETNS=1 exec "$@"'
    cmd = [*unshare, "--", "sh", "-c", script, "sh", sys.executable, *sys.argv]
    os.execvp(cmd[0], cmd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one short round per row")
    ap.add_argument(
        "--venv",
        default=os.environ.get("RTOC3_VENV", os.path.expanduser("~/.cache/rtoc3-venv")),
        help="RTOC 3.0's virtual environment (made by bench/rtoc3-venv.sh)",
    )
    ap.add_argument("--clients", type=int, default=4, help="clients at once for the N column")
    ap.add_argument("--port", type=int, default=5050, help="RTOC 3.0's port (in the namespace)")
    args = ap.parse_args()
    python = os.path.join(args.venv, "bin", "python")
    if not os.access(python, os.X_OK):
        sys.exit(f"no RTOC 3.0 venv at {args.venv}: run `bash bench/rtoc3-venv.sh` first")
    if not in_netns():
        reexec_in_netns()
    rounds, seconds = (1, 1.0) if args.quick else (3, 1.0)
    print(
        f"bench_tcp_vs_rtoc3 on {os.cpu_count()} CPUs, private network namespace; "
        f"{rounds} round(s) of {seconds:.0f} s per cell, medians",
        flush=True,
    )
    results = []
    for kind, samples, anchor in ROWS:
        with Rtoc3(python, args.port) as rtoc3, Ours() as ours:
            if kind == "getLatest":  # ten signals to answer about, on both
                latest = {"y": list(range(10)), "sname": [f"s{i}" for i in range(10)]}
                request(rtoc3.port, {**latest, "dname": "Latest", "unit": ["V"]})
            cells: dict[str, list[dict[str, float]]] = {"rtoc3": [], "ours": []}
            for _ in range(rounds):  # interleaved, so load changes hit both
                cells["rtoc3"].append(measure(python, rtoc3, kind, seconds, args.clients))
                cells["ours"].append(measure(python, ours, kind, seconds, args.clients))
        med = {
            who: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            for who, runs in cells.items()
        }
        results.append((kind, samples, anchor, med))
        r, o = med["rtoc3"], med["ours"]
        print(
            f"  {LABELS[kind]}: RTOC's client {r['rtoc'] * samples:,.0f} vs {o['rtoc'] * samples:,.0f};"
            f" server CPU {r['cpu_us']:,.0f} vs {o['cpu_us']:,.0f} us/request",
            flush=True,
        )

    head = (
        "one request per connection (samples/s)",
        "RTOC's client: RTOC 3.0 / ours (x)",
        "lean client: RTOC 3.0 / ours (x)",
        f"{args.clients} RTOC clients at once (x)",
        "server CPU us/request (x)",
        "client's ceiling",
        "3x anchor",
    )
    table = [head]
    for kind, samples, anchor, med in results:
        r, o = med["rtoc3"], med["ours"]
        table.append(
            (
                LABELS[kind],
                *(pair(r[key] * samples, o[key] * samples) for key in ("rtoc", "lean", "many")),
                f"{r['cpu_us']:,.0f} / {o['cpu_us']:,.0f} ({r['cpu_us'] / o['cpu_us']:.1f}x)",
                f"{samples / min(r['client_cpu'], o['client_cpu']):,.0f}",
                f"{3 * anchor:,}",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    print()
    for i, row in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("-" * (sum(widths) + 2 * (len(widths) - 1)))
    print(
        "\n(x) ours / RTOC 3.0; for server CPU, RTOC 3.0's cost / ours. 'client's ceiling': 1 / the"
        " CPU time RTOC's client itself spends per request (its process, kernel included): a"
        " sequential one-shot client can go no faster than that whatever the server does."
    )


if __name__ == "__main__":
    main()
