"""OctoPrint: 3D-printer temperatures, state and job progress from OctoPrint's REST API.

The successor of RTOC's Octotouch plugin. Every poll reads `GET /api/printer` (heater actual
and target temperatures, state) and `GET /api/job` (progress) with the API key in `X-Api-Key`
(shared/protocols/octoprint.md), using urllib only. A 409 from /api/printer means "printer not
connected to OctoPrint": the driver reports the state "Offline" and keeps running; 401/403 means
the API key was rejected, which is an error state like an unreachable server.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from rtoc_tui.core.plugin import LoggerPlugin
from rtoc_tui.core.settings import Setting, SettingsError

HEATER_RE = re.compile(r"(tool\d+|bed|chamber)")
ERROR_STATES = ("Error", "Offline after error")


class OctoPrintError(ConnectionError):
    """OctoPrint is unreachable or answered with something that is not its API."""


class OctoPrintAuthError(PermissionError):
    """OctoPrint rejected the API key (HTTP 401/403)."""


class OctoPrintCommandError(RuntimeError):
    """OctoPrint refused a command (HTTP 400/409), e.g. the printer is not operational."""


def _signal(heater: str) -> str:
    """'tool0' -> 'Tool0', 'bed' -> 'Bed' (signal names are Device.Signal, so no dots)."""
    return heater[:1].upper() + heater[1:]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class OctoPrint(LoggerPlugin):
    """OctoPrint 3D-printer server: tool/bed temperatures, printer state and job progress."""

    SETTINGS = {
        "url": Setting(
            "http://localhost:5000", "Base URL of OctoPrint (port 5000, or 80 on OctoPi)"
        ),
        "api_key": Setting(
            "", "API key (OctoPrint settings > Application Keys or the user's key)", secret=True
        ),
        "samplerate": Setting(
            1.0, "Polls per second (Octotouch polled every 5 s)", minimum=1e-6, maximum=20.0
        ),
        "timeout": Setting(5.0, "Seconds to wait for an answer", minimum=0.01, maximum=120.0),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setDeviceName("OctoPrint")
        url = self.settings["url"].strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SettingsError(
                f"config.json: devices.{self._registry_name}.url: expected http://host[:port], got {self.settings['url']!r}"
            )
        self._base = url
        self._key: str = self.settings["api_key"]
        # a printer sits on the LAN: ignore http_proxy and friends, which would route it away
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._printer_state: str | None = None
        self._progress: float | None = None
        self._file: str | None = None
        self._temps: dict[str, dict[str, float | None]] = {}
        self.setPerpetualTimer(self._poll, samplerate=self.settings["samplerate"])
        self.start()

    # -- read-only parameters -------------------------------------------------------------------
    @property
    def printer_state(self) -> str:
        """Printer state as OctoPrint reports it (Operational, Printing, Paused, Offline ...)."""
        return self._printer_state or "unknown"

    @property
    def progress(self) -> float | None:
        """Job completion in % (None when no job has started)."""
        return self._progress

    @property
    def file(self) -> str | None:
        """Name of the selected job file."""
        return self._file

    @property
    def temperatures(self) -> dict[str, dict[str, float | None]]:
        """Last heater readings: {'tool0': {'actual': ..., 'target': ...}, 'bed': {...}}."""
        return {k: dict(v) for k, v in self._temps.items()}

    # -- functions ------------------------------------------------------------------------------
    def setToolTarget(self, temp_c: float, tool: int = 0) -> bool:
        """Set a hotend's target temperature in °C (0 switches the heater off)."""
        value = self._temperature(temp_c)
        self._command(
            "/api/printer/tool", {"command": "target", "targets": {f"tool{int(tool)}": value}}
        )
        return True

    def setBedTarget(self, temp_c: float) -> bool:
        """Set the bed's target temperature in °C (0 switches the heater off)."""
        self._command(
            "/api/printer/bed", {"command": "target", "target": self._temperature(temp_c)}
        )
        return True

    def setToolOffset(self, offset_c: float, tool: int = 0) -> bool:
        """Set a hotend's temperature offset in °C (-50 ... 50)."""
        if not _number(offset_c) or not -50 <= offset_c <= 50:
            raise ValueError(f"offset must be a number from -50 to 50 °C, got {offset_c!r}")
        self._command(
            "/api/printer/tool", {"command": "offset", "offsets": {f"tool{int(tool)}": offset_c}}
        )
        return True

    def heatersOff(self) -> bool:
        """Set every known heater's target to 0 °C."""
        tools = {k: 0 for k in self._temps if k.startswith("tool")} or {"tool0": 0}
        self._command("/api/printer/tool", {"command": "target", "targets": tools})
        if "bed" in self._temps:
            self._command("/api/printer/bed", {"command": "target", "target": 0})
        return True

    def sendGcode(self, commands: str) -> bool:
        """Send G-code lines to the printer (one command per line); OctoPrint does not return the reply."""
        lines = [c.strip() for c in str(commands).splitlines() if c.strip()]
        if not lines:
            raise ValueError("no G-code command given")
        self._command("/api/printer/command", {"commands": lines})
        return True

    def startJob(self) -> bool:
        """Start printing the selected file."""
        self._command("/api/job", {"command": "start"})
        return True

    def pauseJob(self) -> bool:
        """Pause the running print."""
        self._command("/api/job", {"command": "pause", "action": "pause"})
        return True

    def resumeJob(self) -> bool:
        """Resume a paused print."""
        self._command("/api/job", {"command": "pause", "action": "resume"})
        return True

    def cancelJob(self) -> bool:
        """Cancel the running print."""
        self._command("/api/job", {"command": "cancel"})
        return True

    def version(self) -> str:
        """OctoPrint's version text (GET /api/version)."""
        reply = self._request("GET", "/api/version")
        if not isinstance(reply, dict) or not isinstance(reply.get("text"), str):
            raise OctoPrintError(f"{self._base}/api/version: not an OctoPrint answer")
        return reply["text"]

    @staticmethod
    def _temperature(temp_c: Any) -> float:
        if not _number(temp_c) or not 0 <= temp_c <= 500:
            raise ValueError(
                f"target temperature must be a number from 0 to 500 °C, got {temp_c!r}"
            )
        return float(temp_c)

    # -- HTTP -----------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One API call; returns the decoded JSON (None for 204 No Content)."""
        return self._exchange(method, path, body)[1]

    def _exchange(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        allow: tuple[int, ...] = (),
    ) -> tuple[int, Any]:
        """One API call: (status, decoded JSON or None); HTTP errors not in allow raise."""
        url = self._base + path
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json", "User-Agent": "rtoc-tui"}
        if self._key:
            headers["X-Api-Key"] = self._key  # understood by every OctoPrint version
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        timeout = self.settings["timeout"]
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
            exc.close()
            if status not in allow:
                raise self._http_error(method, path, status, raw) from None
        except TimeoutError as exc:
            raise OctoPrintError(
                f"OctoPrint at {self._base}: no answer within {timeout:g} s"
            ) from exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise OctoPrintError(
                    f"OctoPrint at {self._base}: no answer within {timeout:g} s"
                ) from exc
            raise OctoPrintError(f"cannot reach OctoPrint at {self._base}: {reason}") from exc
        except (
            OSError,
            ValueError,
            http.client.HTTPException,
        ) as exc:  # reset, not HTTP at all ...
            raise OctoPrintError(
                f"OctoPrint at {self._base}: {method} {path}: {type(exc).__name__}: {exc}"
            ) from exc
        if status == 204 or (not raw and 200 <= status < 300):
            return status, None
        try:
            return status, json.loads(raw)
        except ValueError:
            raise OctoPrintError(
                f"OctoPrint at {self._base}: {method} {path}: answer is not JSON (garbage: {raw[:40]!r})"
            ) from None

    def _http_error(self, method: str, path: str, status: int, raw: bytes) -> Exception:
        try:
            message = json.loads(raw).get("error") or ""
        except (ValueError, AttributeError):
            message = ""
        where = f"OctoPrint at {self._base}"
        if status in (401, 403):
            hint = "no API key set" if not self._key else "API key rejected"
            return OctoPrintAuthError(
                f"{where}: {hint} (HTTP {status}): check devices.{self._registry_name}.api_key"
            )
        if status in (400, 409):
            return OctoPrintCommandError(
                f"{where}: {method} {path} refused (HTTP {status}): {message or 'no reason given'}"
            )
        return OctoPrintError(f"{where}: {method} {path}: HTTP {status} {message}".rstrip())

    def _command(self, path: str, body: dict[str, Any]) -> None:
        self._request("POST", path, body)
        self.info(f"{path} {body}")

    # -- polling --------------------------------------------------------------------------------
    def _poll(self) -> None:
        status, printer = self._exchange("GET", "/api/printer", allow=(409,))
        values: list[tuple[str, float, str]] = []
        if status == 409:
            state, error = "Offline", False  # OctoPrint runs, but no printer is connected
            self._temps = {}
        else:
            state, error = self._parse_printer(printer, values)
        job = self._request("GET", "/api/job")
        values.extend(self._parse_job(job))
        if values:
            self.stream(
                [v for _, v, _ in values], [n for n, _, _ in values], unit=[u for _, _, u in values]
            )
        self._set_state(state, error)

    def _garbage(self, what: str) -> OctoPrintError:
        return OctoPrintError(
            f"OctoPrint at {self._base}: unexpected {what} (garbage or not OctoPrint)"
        )

    def _parse_printer(
        self, printer: Any, values: list[tuple[str, float, str]]
    ) -> tuple[str, bool]:
        if not isinstance(printer, dict):
            raise self._garbage("/api/printer answer")
        st = printer.get("state")
        if not isinstance(st, dict) or not isinstance(st.get("text"), str):
            raise self._garbage("/api/printer state")
        temps = printer.get("temperature", {})
        if not isinstance(temps, dict):
            raise self._garbage("/api/printer temperature")
        parsed: dict[str, dict[str, float | None]] = {}
        for heater, data in temps.items():
            if not HEATER_RE.fullmatch(heater):
                continue  # history and sensors of plugins: clients ignore unknown keys
            if not isinstance(data, dict):
                raise self._garbage(f"temperature entry {heater!r}")
            actual, target = data.get("actual"), data.get("target")
            if (actual is not None and not _number(actual)) or (
                target is not None and not _number(target)
            ):
                raise self._garbage(f"temperature of {heater}: {data!r}")
            parsed[heater] = {"actual": actual, "target": target}
        for heater, data in parsed.items():
            if data["actual"] is not None:
                values.append((_signal(heater), float(data["actual"]), "°C"))
            if data["target"] is not None:  # null: no target set
                values.append((_signal(heater) + "Target", float(data["target"]), "°C"))
        self._temps = parsed
        flags = st.get("flags") if isinstance(st.get("flags"), dict) else {}
        return st["text"], bool(flags.get("error")) or st["text"] in ERROR_STATES

    def _parse_job(self, job: Any) -> list[tuple[str, float, str]]:
        if not isinstance(job, dict):
            raise self._garbage("/api/job answer")
        progress = job.get("progress") or {}
        info = job.get("job") or {}
        if not isinstance(progress, dict) or not isinstance(info, dict):
            raise self._garbage("/api/job progress")
        out = []
        for key, name, unit in (
            ("completion", "Progress", "%"),
            ("printTime", "PrintTime", "s"),
            ("printTimeLeft", "PrintTimeLeft", "s"),
        ):
            value = progress.get(key)
            if value is None:
                continue  # nothing printing: OctoPrint sends null
            if not _number(value):
                raise self._garbage(f"/api/job progress.{key}: {value!r}")
            out.append((name, float(value), unit))
        completion = progress.get("completion")
        self._progress = float(completion) if _number(completion) else None
        file = info.get("file") if isinstance(info.get("file"), dict) else {}
        self._file = file.get("name") if isinstance(file.get("name"), str) else None
        return out

    def _set_state(self, state: str, error: bool) -> None:
        """An event whenever the printer state changes (the first reading included)."""
        if state == self._printer_state:
            return
        self._printer_state = state
        priority = 2 if error else 0
        self.event(
            f"{self._devicename}: printer {state}",
            sname="State",
            priority=priority,
            id="printerState",
            value=state,
        )
