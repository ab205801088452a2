"""Load generator for bench_tcp_vs_rtoc3.py, run by RTOC 3.0's Python 3.8 venv.

One client process: for `duration` seconds it sends one request per connection to
127.0.0.1:PORT and prints `requests elapsed cpu` on stdout (cpu: its own user + system seconds
in that time, kernel work for its sockets included). Modes:
- `rtoc`: RTOC 3.0's own unmodified client class (RTOC.RTLogger.jsonsocket.Client), exactly as an
  RTOC user's program calls it: connect, send(dict), recv(), close;
- `lean`: one frame built once, sent on a raw socket, the reply read and json-parsed: the least a
  client can do, so the server's cost shows more.
Both servers are measured with this same file and interpreter.

Usage: python rtoc3_client_worker.py PORT KIND MODE DURATION
Python 3.8 syntax on purpose (RTOC 3.0 needs 3.8); no numpy.
"""

import json
import random
import resource
import socket
import sys
import time


def make_request(kind):
    now = time.time()
    rnd = random.Random(1)
    if kind == "data1":
        return {"y": [1.5], "sname": ["s"], "dname": "One", "unit": [""], "x": [now]}
    if kind in ("plot100", "plot10k"):
        n = 100 if kind == "plot100" else 10000
        return {
            "plot": True,
            "x": [now + i * 0.01 for i in range(n)],
            "y": [rnd.random() for _ in range(n)],
            "sname": [kind],
            "dname": "Plot",
            "unit": "V",
        }
    if kind == "data10k":
        return {
            "y": [rnd.random() for _ in range(10000)],
            "x": [now + i * 0.001 for i in range(10000)],
            "sname": [f"s{i % 10}" for i in range(10000)],
            "dname": "Data",
            "unit": ["V"],
        }
    if kind == "getLatest":
        return {"getLatest": True}
    raise SystemExit(f"unknown request kind {kind!r}")


def read_frame(sock):
    """The payload of one plain reply frame (header LEN,TAGLEN,NONCELEN or LEN)."""
    buf = b""
    while b"\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
    head, _, rest = buf.partition(b"\n")
    parts = [int(p) for p in head.split(b",")]
    need = sum(parts)
    while len(rest) < need:
        chunk = sock.recv(max(65536, need - len(rest)))
        if not chunk:
            raise ConnectionError("server closed the connection")
        rest += chunk
    return rest[need - parts[0] : need]


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main():
    port, kind, mode, duration = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
    request = make_request(kind)
    n = 0
    if mode == "rtoc":
        from RTOC.RTLogger.jsonsocket import Client

        t0 = time.perf_counter()
        c0 = cpu_seconds()
        while time.perf_counter() - t0 < duration:
            client = Client()
            client.connect("127.0.0.1", port)
            client.send(request)
            reply = client.recv()
            client.close()
            if not isinstance(reply, dict) or reply.get("error") is not False:
                raise SystemExit(f"bad reply: {reply!r}")
            n += 1
    else:
        payload = json.dumps(request).encode()
        frame = b"%d,0,0\n%s" % (len(payload), payload)
        t0 = time.perf_counter()
        c0 = cpu_seconds()
        while time.perf_counter() - t0 < duration:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(frame)
                reply = json.loads(read_frame(sock))
            if reply.get("error") is not False:
                raise SystemExit(f"bad reply: {reply!r}")
            n += 1
    print(n, time.perf_counter() - t0, cpu_seconds() - c0)


if __name__ == "__main__":
    main()
