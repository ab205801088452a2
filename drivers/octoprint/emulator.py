"""OctoPrint emulator: the REST endpoints a printer monitor uses, on 127.0.0.1 over HTTP.

Implements, per shared/protocols/octoprint.md: GET /api/version, /api/printer (with `exclude`
and `history`), /api/printer/tool, /api/printer/bed, /api/job, /api/connection; POST
/api/printer/tool (target, offset, select, extrude, flowrate), /api/printer/bed (target,
offset), /api/printer/command and /api/job (start, cancel, restart, pause). The API key is
checked as OctoPrint does (`X-Api-Key`, `Authorization: Bearer`, `?apikey=`), 403 otherwise;
errors are JSON `{"error": ...}`. Heater temperatures follow their targets, a started job
progresses to 100 %.

Test controls: `offline = True` (printer disconnected: 409 on /api/printer), `unplug()` /
`replug()` (port closed / open again on the same port), `hang = True` (accept, never answer),
`garbage = True` (200 with a body that is not JSON) or `"json"` (JSON of the wrong shape).

Standalone: `python -m rtoc_tui.drivers.octoprint.emulator [--port 5000] [--api-key KEY]`;
type offline, online, unplug, replug, hang, garbage, ok or quit on stdin.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..emulation.loopback import LoopbackServer

AMBIENT_C = 21.0
FORBIDDEN = (
    "You don't have the permission to access the requested resource. "
    "It is either read-protected or not readable by the server."
)
NOT_OPERATIONAL = "Printer is not operational"


class _Heater:
    """A heater whose actual temperature approaches its target (first-order lag)."""

    def __init__(self, tau_s: float) -> None:
        self.actual = AMBIENT_C
        self.target: float | None = None
        self.offset = 0.0
        self.tau_s = tau_s

    def step(self, dt: float) -> None:
        goal = self.target if self.target else AMBIENT_C
        self.actual += (goal - self.actual) * (1 - math.exp(-dt / self.tau_s))

    def data(self, with_offset: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"actual": round(self.actual, 2), "target": self.target}
        if with_offset:
            out["offset"] = self.offset
        return out


class PrinterModel:
    """State of one emulated printer: heaters, connection, job."""

    def __init__(self, tools: int = 1, print_seconds: float = 60.0, tau_s: float = 2.0) -> None:
        self.tools = {f"tool{i}": _Heater(tau_s) for i in range(tools)}
        self.bed = _Heater(tau_s * 2)
        self.offline = False
        self.state = "Operational"
        self.print_seconds = print_seconds
        self.file: str | None = "whistle_v2.gcode"
        self.elapsed = 0.0
        self.commands: list[str] = []
        self.history: list[dict[str, Any]] = []
        self._last = time.monotonic()

    def step(self) -> None:
        """Advance heaters and job to now."""
        now = time.monotonic()
        dt, self._last = now - self._last, now
        for h in [*self.tools.values(), self.bed]:
            h.step(dt)
        if self.state == "Printing":
            self.elapsed += dt
            if self.elapsed >= self.print_seconds:
                self.elapsed, self.state = self.print_seconds, "Operational"
        point: dict[str, Any] = {"time": int(time.time())}
        point.update({k: h.data(False) for k, h in self.heaters().items()})
        self.history = [*self.history[-299:], point]

    def heaters(self) -> dict[str, _Heater]:
        return {**self.tools, "bed": self.bed}

    def state_text(self) -> str:
        return "Offline" if self.offline else self.state

    def flags(self) -> dict[str, bool]:
        s = self.state_text()
        return {
            "operational": s not in ("Offline", "Error"),
            "paused": s == "Paused",
            "printing": s == "Printing",
            "cancelling": False,
            "pausing": False,
            "sdReady": False,
            "error": s == "Error",
            "ready": s == "Operational",
            "closedOrError": s in ("Offline", "Error"),
        }

    def job(self) -> dict[str, Any]:
        active = self.file is not None and not self.offline
        # a started job reports progress until the next one starts (a finished one shows 100 %)
        printing = active and (self.state in ("Printing", "Paused") or self.elapsed > 0)
        completion = 100.0 * self.elapsed / self.print_seconds
        return {
            "job": {
                "file": {
                    "name": self.file if active else None,
                    "origin": "local" if active else None,
                    "size": 1468987 if active else None,
                    "date": 1378847754 if active else None,
                    "path": self.file if active else None,
                },
                "estimatedPrintTime": self.print_seconds if active else None,
                "lastPrintTime": None,
                "filament": {
                    "tool0": {"length": 810 if active else None, "volume": 5.36 if active else None}
                },
                "user": "emulator" if active else None,
            },
            "progress": {
                "completion": round(completion, 2) if printing else None,
                "filepos": int(1468987 * completion / 100) if printing else None,
                "printTime": int(self.elapsed) if printing else None,
                "printTimeLeft": int(self.print_seconds - self.elapsed) if printing else None,
                "printTimeLeftOrigin": "linear" if printing else None,
            },
            "state": self.state_text(),
        }


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.server.emulator._track(self.connection, True)

    def finish(self) -> None:
        self.server.emulator._track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the standalone console do not want an access log."""

    # -- plumbing -------------------------------------------------------------------------------
    def _send(self, status: int, body: Any = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": message})

    def _authorized(self, query: dict[str, list[str]]) -> bool:
        key = self.server.emulator.api_key
        if not key:
            return True
        auth = self.headers.get("Authorization", "")
        given = {
            self.headers.get("X-Api-Key"),
            auth[7:] if auth.startswith("Bearer ") else None,
            *query.get("apikey", []),
        }
        return key in given

    def _handle(self, method: str) -> None:
        emu = self.server.emulator
        emu.requests.append((method, self.path, self.headers.get("X-Api-Key")))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if emu.hang:
            emu.release.wait()  # stop answering until the test lets go (or the port closes)
            self.close_connection = True
            return  # the held request is dropped without an answer
        if emu.garbage == "json":  # well-formed JSON, but not what OctoPrint sends
            self._send(
                200, {"temperature": {"tool0": {"actual": "hot", "target": []}}, "state": "?"}
            )
            return
        if emu.garbage:
            data = b"<html><body>502 Bad Gateway</body>\x00\xff"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if not url.path.startswith("/api/"):
            self._error(404, "Not found")
            return
        if not self._authorized(query):
            self._error(403, FORBIDDEN)
            return
        body: Any = None
        if method == "POST":
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                self._error(400, "Malformed JSON body in request")
                return
            if not isinstance(body, dict) or "command" not in body and "commands" not in body:
                self._error(400, "Expected content-type JSON with a command")
                return
        with emu.lock:
            emu.model.step()
            status, reply = emu.route(method, url.path, query, body)
        self._send(status, reply)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], emulator: OctoPrintEmulator) -> None:
        self.emulator = emulator
        super().__init__(addr, _Handler)


class OctoPrintEmulator(LoopbackServer):
    """An OctoPrint REST server on 127.0.0.1 (use as a context manager)."""

    server_class = _Server
    thread_name = "octoprint-emu"

    def __init__(
        self, port: int = 0, api_key: str = "TESTKEY", tools: int = 1, print_seconds: float = 60.0
    ) -> None:
        super().__init__(port)
        self.api_key = api_key
        self.model = PrinterModel(tools, print_seconds)
        self.garbage: bool | str = (
            False  # True: a body that is not JSON; "json": JSON of the wrong shape
        )
        self.release = threading.Event()  # set: answer; clear: hold every request
        self.release.set()
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, X-Api-Key)
        self.posts: list[tuple[str, dict[str, Any]]] = []  # accepted POSTs (path, body)

    @property
    def hang(self) -> bool:
        """True: accept requests but never answer them."""
        return not self.release.is_set()

    @hang.setter
    def hang(self, value: bool) -> None:
        if value:
            self.release.clear()
        else:
            self.release.set()

    @property
    def offline(self) -> bool:
        return self.model.offline

    @offline.setter
    def offline(self, value: bool) -> None:
        with self.lock:
            self.model.offline = value

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Close the port and every open connection; held requests are dropped."""
        hang, self.hang = self.hang, False  # let held handlers run to their end
        super().stop()
        self.hang = hang

    # -- routes ---------------------------------------------------------------------------------
    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        """(status, JSON body or None) for an authorised request."""
        m = self.model
        if method == "GET":
            if path == "/api/version":
                return 200, {
                    "api": "0.1",
                    "server": "1.11.8",
                    "text": "OctoPrint 1.11.8 (emulator)",
                }
            if path == "/api/job":
                return 200, m.job()
            if path == "/api/connection":
                current = {
                    "state": "Closed",
                    "port": None,
                    "baudrate": None,
                    "printerProfile": "_default",
                }
                if not m.offline:
                    current = {
                        "state": m.state_text(),
                        "port": "VIRTUAL",
                        "baudrate": 250000,
                        "printerProfile": "_default",
                    }
                return 200, {
                    "current": current,
                    "options": {
                        "ports": ["VIRTUAL"],
                        "baudrates": [250000, 115200],
                        "printerProfiles": [{"name": "Default", "id": "_default"}],
                        "portPreference": "VIRTUAL",
                        "baudratePreference": 250000,
                        "printerProfilePreference": "_default",
                        "autoconnect": True,
                    },
                }
            if path in ("/api/printer", "/api/printer/tool", "/api/printer/bed"):
                if m.offline:
                    return 409, {"error": NOT_OPERATIONAL}
                return 200, self._printer(path, query)
            if path == "/api/printer/chamber":
                return 409, {"error": "Printer does not have a heated chamber"}
            return 404, {"error": "Not found"}
        if method == "POST":
            if path == "/api/job":
                return self._job_command(body)
            if m.offline:
                return 409, {"error": NOT_OPERATIONAL}
            if path == "/api/printer/tool":
                return self._tool_command(body)
            if path == "/api/printer/bed":
                return self._bed_command(body)
            if path == "/api/printer/command":
                cmds = body.get("commands") or [body.get("command")]
                if not all(isinstance(c, str) for c in cmds):
                    return 400, {"error": "commands must be a list of strings"}
                m.commands.extend(cmds)
                self.posts.append((path, body))
                return 204, None
            return 404, {"error": "Not found"}
        return 405, {"error": "Method not allowed"}

    def _printer(self, path: str, query: dict[str, list[str]]) -> dict[str, Any]:
        m = self.model
        history = query.get("history", ["false"])[0].lower() in ("true", "yes", "y", "1")
        limit = int(query.get("limit", ["300"])[0])
        if path == "/api/printer/tool":
            out: dict[str, Any] = {k: h.data() for k, h in m.tools.items()}
        elif path == "/api/printer/bed":
            out = {"bed": m.bed.data()}
        else:
            out = {}
        if history:
            keys = set(out) if out else set(m.heaters())
            out["history"] = [
                {k: v for k, v in p.items() if k == "time" or k in keys} for p in m.history[-limit:]
            ]
        if path != "/api/printer":
            return out
        exclude = set(",".join(query.get("exclude", [])).split(",")) - {""}
        full: dict[str, Any] = {}
        if "temperature" not in exclude:
            full["temperature"] = {k: h.data() for k, h in m.heaters().items()}
            if history:
                full["temperature"]["history"] = out["history"]
        if "sd" not in exclude:
            full["sd"] = {"ready": False}
        if "state" not in exclude:
            full["state"] = {"text": m.state_text(), "flags": m.flags()}
        return full

    def _tool_command(self, body: dict[str, Any]) -> tuple[int, Any]:
        m = self.model
        cmd = body.get("command")
        if cmd in ("target", "offset"):
            values = body.get("targets" if cmd == "target" else "offsets")
            if not isinstance(values, dict) or not values:
                return 400, {"error": f"Missing {cmd}s"}
            for tool, v in values.items():
                if tool not in m.tools or not re.fullmatch(r"tool\d+", tool):
                    return 400, {"error": f"Invalid tool: {tool}"}
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    return 400, {"error": f"Not a number for {tool}: {v!r}"}
                if cmd == "offset" and not -50 <= v <= 50:
                    return 400, {"error": f"Offset not in range [-50, 50]: {v}"}
            for tool, v in values.items():
                if cmd == "target":
                    m.tools[tool].target = float(v)
                else:
                    m.tools[tool].offset = float(v)
        elif cmd == "select":
            if body.get("tool") not in m.tools:
                return 400, {"error": f"Invalid tool: {body.get('tool')}"}
        elif cmd in ("extrude", "flowrate"):
            if m.state == "Printing":
                return 409, {"error": "Printer is currently printing"}
        else:
            return 400, {"error": f"Unknown command {cmd!r}"}
        self.posts.append(("/api/printer/tool", body))
        return 204, None

    def _bed_command(self, body: dict[str, Any]) -> tuple[int, Any]:
        cmd = body.get("command")
        key = {"target": "target", "offset": "offset"}.get(cmd or "")
        value = body.get(key) if key else None
        if key is None:
            return 400, {"error": f"Unknown command {cmd!r}"}
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return 400, {"error": f"Not a number: {value!r}"}
        if key == "target":
            self.model.bed.target = float(value)
        else:
            self.model.bed.offset = float(value)
        self.posts.append(("/api/printer/bed", body))
        return 204, None

    def _job_command(self, body: dict[str, Any]) -> tuple[int, Any]:
        m = self.model
        cmd, action = body.get("command"), body.get("action", "toggle")
        if m.offline:
            return 409, {"error": NOT_OPERATIONAL}
        if cmd == "start" or cmd == "restart":
            if (
                m.file is None
                or m.state not in ("Operational", "Paused")
                or (cmd == "restart") != (m.state == "Paused")
            ):
                return 409, {"error": "Printer is not ready or already printing"}
            m.elapsed, m.state = 0.0, "Printing"
        elif cmd == "cancel":
            if m.state not in ("Printing", "Paused"):
                return 409, {"error": "No active job"}
            m.state = "Operational"
        elif cmd == "pause":
            if m.state not in ("Printing", "Paused"):
                return 409, {"error": "Printer is neither printing nor paused"}
            if action == "pause" or (action == "toggle" and m.state == "Printing"):
                m.state = "Paused"
            elif action in ("resume", "toggle"):
                m.state = "Printing"
            else:
                return 400, {"error": f"Unknown action {action!r}"}
        else:
            return 400, {"error": f"Unknown command {cmd!r}"}
        self.posts.append(("/api/job", body))
        return 204, None


def main(argv: list[str] | None = None) -> None:
    """Run the emulator until stdin closes or `quit` is typed."""
    ap = argparse.ArgumentParser(description="OctoPrint REST API emulator (127.0.0.1 only)")
    ap.add_argument("--port", type=int, default=5000, help="TCP port (0 = any free port)")
    ap.add_argument("--api-key", default="TESTKEY", help="API key clients must send (empty: none)")
    ap.add_argument(
        "--print-seconds", type=float, default=600.0, help="duration of the emulated job"
    )
    args = ap.parse_args(argv)
    emu = OctoPrintEmulator(args.port, args.api_key, print_seconds=args.print_seconds).start()
    print(f"OctoPrint emulator listening on {emu.url} (API key {args.api_key!r})", flush=True)
    print("commands: offline, online, unplug, replug, hang, garbage, ok, quit", flush=True)
    try:
        for line in sys.stdin:
            cmd = line.strip().lower()
            if cmd == "quit":
                break
            if cmd in ("offline", "online"):
                emu.offline = cmd == "offline"
            elif cmd == "unplug":
                emu.unplug()
            elif cmd == "replug":
                emu.replug()
            elif cmd == "hang":
                emu.hang = True
            elif cmd == "garbage":
                emu.garbage = not emu.garbage
            elif cmd == "ok":
                emu.garbage = emu.hang = False
            elif cmd:
                print(f"unknown command {cmd!r}", flush=True)
                continue
            print(
                f"running={emu.running} offline={emu.offline} hang={emu.hang} garbage={emu.garbage}",
                flush=True,
            )
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
