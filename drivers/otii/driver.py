"""Otii: Qoitech's Otii Arc/Ace power analyser, through the Otii TCP server and otii-tcp-client.

The driver connects lazily from its polling timer, logs in and reserves the licences it needs
(licensing "auto"), picks a device, sets range, current limit, supply (power box with a main
voltage, or a battery-emulator profile) and channels, switches the main output, and starts a
recording. Every tick it asks each enabled channel for its sample count and fetches the samples
it has not read yet with `recording_get_channel_data`, appending them as numpy batches whose x is
Unix time (recording start + index / sample rate). Signals: Otii.MainCurrent (A),
Otii.MainVoltage (V), Otii.MainPower (W), ... (see CHANNELS).

Any I/O error, timeout or malformed reply closes the connection and raises OtiiError; the plugin
base class turns that into an error state with one event and reconnects with back-off. A
recording the server kept running while the connection was down is resumed where it was left.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from otii_tcp_client import arc, battery_emulator, otii, otii_connection, project, recording
from otii_tcp_client.otii_client import LICENSE_MAP
from otii_tcp_client.otii_exception import Otii_Exception

from rtoc_tui.core.plugin import LoggerPlugin
from rtoc_tui.core.settings import Setting, SettingsError

log = logging.getLogger(__name__)

T = TypeVar("T")

# channel -> (signal name, unit); the analog channels of shared/protocols/otii.md §6
CHANNELS: dict[str, tuple[str, str]] = {
    "mc": ("MainCurrent", "A"),
    "mv": ("MainVoltage", "V"),
    "mp": ("MainPower", "W"),
    "ac": ("AdcCurrent", "A"),
    "av": ("AdcVoltage", "V"),
    "ap": ("AdcPower", "W"),
    "sp": ("SensePlus", "V"),
    "sn": ("SenseMinus", "V"),
    "vb": ("VBUS", "V"),
    "vj": ("DCJack", "V"),
    "tp": ("Temperature", "°C"),
}
_BY_SIGNAL = {sname.lower(): ch for ch, (sname, _) in CHANNELS.items()}
_UNIX_TIME_MIN = 1e9  # statistics windows above this are Unix times (signal x), not recording s


class OtiiError(RuntimeError):
    """The Otii server could not be reached, or sent a bad reply."""


class OtiiRefused(ValueError):
    """The Otii server (or the driver) refused a request; the connection is still fine."""


class _Connection(otii_connection.OtiiConnection):
    """otii-tcp-client's connection with a connect timeout.

    The stock `connect_to_server` connects a socket without a timeout, so an unreachable host
    blocks the polling thread for the kernel's SYN retries (about two minutes on Linux) and the
    driver could not be stopped meanwhile. Everything after the TCP connect is the client's code.
    """

    def __init__(self, address: str, port: int, timeout_s: float) -> None:
        super().__init__(address, port)
        self.sock = None
        self._timeout_s = timeout_s

    def connect_to_server(self, *, try_for_seconds: int = 0) -> dict:
        """Open the TCP connection and return the server's greeting."""
        self.sock = socket.create_connection(
            (self.host_address, self.host_port), timeout=self._timeout_s
        )
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.receive_response(3, "")  # the client's own greeting timeout


def parse_channels(value: str, driver: str = "Otii") -> tuple[str, ...]:
    """'mc, mv,mp' -> ('mc', 'mv', 'mp'); SettingsError naming devices.<driver>.channels."""
    path = f"config.json: devices.{driver}.channels"
    out: list[str] = []
    for part in value.replace(";", ",").split(","):
        ch = part.strip().lower()
        if not ch:
            continue
        ch = _BY_SIGNAL.get(ch, ch)
        if ch in ("rx", "i1", "i2"):
            raise SettingsError(
                f"{path}: channel {ch!r} (UART log / digital input) is not supported, only analog ones"
            )
        if ch not in CHANNELS:
            raise SettingsError(
                f"{path}: unknown channel {part.strip()!r} (known: {', '.join(CHANNELS)})"
            )
        if ch not in out:
            out.append(ch)
    if not out:
        raise SettingsError(
            f"{path}: at least one channel is needed (known: {', '.join(CHANNELS)})"
        )
    return tuple(out)


def _describe(exc: BaseException) -> tuple[str, bool]:
    """(human-readable cause, is it a connection problem) for an exception from the client."""
    if isinstance(exc, OtiiError | OtiiRefused):
        return str(exc), False
    if isinstance(exc, Otii_Exception):
        msg = exc.message
        if isinstance(msg, dict):
            data = msg.get("data")
            return f"server error {exc.type!r}" + (f" {data}" if data else ""), False
        return f"server error {msg}", False
    if isinstance(exc, otii_connection.DisconnectedException):
        return "connection closed by the server", True
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the Otii TCP server running on this port?)", True
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return "no reply within the timeout", True
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc}", True
    if isinstance(exc, UnicodeDecodeError | json.JSONDecodeError):
        return f"garbled reply ({exc})", False
    if isinstance(exc, KeyError | TypeError | IndexError):
        return f"malformed reply ({type(exc).__name__}: {exc})", False
    if str(exc) == "Transaction id mismatch":
        return "reply to another request (transaction id mismatch)", False
    return f"{type(exc).__name__}: {exc}", False


class Otii(LoggerPlugin):
    """Qoitech Otii Arc/Ace: main current, voltage and power through the Otii TCP server."""

    SETTINGS = {
        "host": Setting("127.0.0.1", "Address of the computer running the Otii TCP server"),
        "port": Setting(1905, "TCP port of the Otii TCP server", minimum=1, maximum=65535),
        "connect_timeout_s": Setting(
            3.0, "Seconds to wait for the TCP connection", minimum=0.1, maximum=60.0
        ),
        "licensing": Setting(
            "auto",
            "auto: log in if needed and reserve the Automation (and Battery) licence, returned on stop; "
            "manual: the licence is managed in the Otii app",
            choices=("auto", "manual"),
        ),
        "username": Setting(
            "", "Otii account for licensing=auto (empty: credentials file, then OTII_USERNAME)"
        ),
        "password": Setting(
            "", "Password of the Otii account (empty: credentials file, then OTII_PASSWORD)"
        ),
        "credentials": Setting(
            "", 'Path of a credentials.json {"username", "password"} (otii-tcp-client\'s format)'
        ),
        "device": Setting("", "Device name or device_id to use (empty: the first Arc/Ace found)"),
        "device_timeout_s": Setting(
            3, "Seconds the server may wait for devices to appear", minimum=0, maximum=60
        ),
        "channels": Setting(
            "mc,mv,mp", "Comma-separated channels to enable and stream: " + ", ".join(CHANNELS)
        ),
        "channel_samplerate": Setting(
            0,
            "Samples/s of the enabled channels (0: keep the device's, 4000 on an Arc)",
            minimum=0,
            maximum=1_000_000,
        ),
        "main_voltage": Setting(
            3.3, "Main output voltage in V (Arc 0.5-5 V, Ace 0.5-25 V)", minimum=0.5, maximum=25.0
        ),
        "max_current": Setting(0.5, "Main output current limit in A", minimum=0.001, maximum=5.0),
        "range": Setting(
            "low",
            "Current range: low (auto-range) or high (forced high range)",
            choices=("low", "high"),
        ),
        "main_power": Setting(True, "Switch the main output on after connecting"),
        "main_off_on_stop": Setting(True, "Switch the main output off when the driver stops"),
        "record": Setting(
            True, "Record and stream every sample (false: read one value per channel and tick)"
        ),
        "battery_profile": Setting(
            "", "Battery-emulator profile name or id (empty: power box with main_voltage)"
        ),
        "battery_series": Setting(1, "Emulated cells in series", minimum=1, maximum=100),
        "battery_parallel": Setting(1, "Emulated cells in parallel", minimum=1, maximum=100),
        "battery_soc": Setting(
            100.0,
            "Initial state of charge of the emulated battery in %",
            minimum=0.0,
            maximum=100.0,
        ),
        "samplerate": Setting(
            5.0, "Polls per second: how often new samples are fetched", minimum=0.01, maximum=100.0
        ),
        "max_batch": Setting(
            200_000, "Most samples read per channel and poll (catch-up after a gap)", minimum=100
        ),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setDeviceName("Otii")
        s = self.settings
        self._channels = parse_channels(s["channels"], self._registry_name)
        self._io = threading.RLock()  # the client allows one request in flight; UI calls share it
        self._step = "connect"
        self._conn: _Connection | None = None
        self._otii: otii.Otii | None = None
        self._arc: arc.Arc | None = None
        self._project: project.Project | None = None
        self._recording: recording.Recording | None = None
        self._battery: battery_emulator.BatteryEmulator | None = None
        # kept across reconnects: server-side state this driver owns
        self._rec_id: int | None = None
        self._rec_ours = False
        self._rec_channels: tuple[str, ...] = ()
        self._index: dict[str, int] = {}
        self._t0 = 0.0
        self._reserved: list[int] = []
        self._logged_in_by_us = False
        self._want_recording: bool = s["record"]
        self._io_error: str | None = None
        self._last_data = time.monotonic()
        self._ingested = 0
        # desired output state, applied at every (re)connect
        self._main_voltage: float = s["main_voltage"]
        self._max_current: float = s["max_current"]
        self._range: str = s["range"]
        self._main_power: bool = s["main_power"]
        self._battery_profile: str = s["battery_profile"]
        self.__doc_main_voltage__ = "Main output voltage in V (power box mode)"
        self.__doc_max_current__ = "Main output current limit in A"
        self.__doc_range__ = "Current range: low (auto-range) or high"
        self.__doc_main_power__ = "Main output on (True) or off"
        self.__doc_battery_profile__ = "Battery-emulator profile name or id; empty = power box"
        self.__doc_connected__ = "True while connected to the Otii TCP server"
        self.__doc_recording__ = "True while a recording is streamed"
        self.__doc_device__ = "Name and id of the Arc/Ace in use"
        self.__doc_samples_ingested__ = "Samples stored since the driver started (all channels)"
        self.setPerpetualTimer(self._poll, samplerate=s["samplerate"])
        self.start()

    # -- parameters -----------------------------------------------------------------------------
    @property
    def main_voltage(self) -> float:
        """Main output voltage in V (power box mode)."""
        return self._main_voltage

    @main_voltage.setter
    def main_voltage(self, value: float) -> None:
        value = self._checked("main_voltage", value)
        self._update(
            "_main_voltage", value, "set main voltage", lambda a: a.set_main_voltage(value)
        )

    @property
    def max_current(self) -> float:
        """Main output current limit in A."""
        return self._max_current

    @max_current.setter
    def max_current(self, value: float) -> None:
        value = self._checked("max_current", value)
        self._update("_max_current", value, "set max current", lambda a: a.set_max_current(value))

    @property
    def range(self) -> str:
        """Current range: low (auto-range) or high."""
        return self._range

    @range.setter
    def range(self, value: str) -> None:
        if value not in ("low", "high"):
            raise ValueError(f"range must be 'low' or 'high', not {value!r}")
        self._update("_range", value, "set range", lambda a: a.set_range(value))  # type: ignore[arg-type]

    @property
    def main_power(self) -> bool:
        """Main output on (True) or off."""
        return self._main_power

    @main_power.setter
    def main_power(self, value: bool) -> None:
        value = bool(value)
        self._update("_main_power", value, "switch main output", lambda a: a.set_main(value))

    @property
    def battery_profile(self) -> str:
        """Battery-emulator profile name or id; empty = power box."""
        return self._battery_profile

    @battery_profile.setter
    def battery_profile(self, value: str) -> None:
        value = str(value)
        self._update("_battery_profile", value, "select supply", lambda a: self._apply_supply(a))

    @property
    def connected(self) -> bool:
        """True while connected to the Otii TCP server."""
        return self._arc is not None

    @property
    def recording(self) -> bool:
        """True while a recording is streamed."""
        return self._recording is not None

    @property
    def device(self) -> str:
        """Name and id of the Arc/Ace in use."""
        a = self._arc
        return "" if a is None else f"{a.name} ({a.type} {a.id})"

    @property
    def samples_ingested(self) -> int:
        """Samples stored since the driver started (all channels)."""
        return self._ingested

    # -- functions ------------------------------------------------------------------------------
    def get_channel_statistics(
        self, channel: str = "mc", from_s: float = 0.0, to_s: float | None = None
    ) -> dict:
        """Min, max, average, energy (J) and charge (C) of a channel of the current recording
        between from_s and to_s: seconds into the recording, or Unix times as in the signals' x
        (to_s empty: until now)."""
        ch = _BY_SIGNAL.get(str(channel).lower(), str(channel).lower())
        if ch not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r} (known: {', '.join(CHANNELS)})")
        if from_s is not None and from_s >= _UNIX_TIME_MIN:
            from_s -= self._t0
        if to_s is not None and to_s >= _UNIX_TIME_MIN:
            to_s -= self._t0

        def stats(a: arc.Arc) -> dict:
            rec = self._require_recording()
            end = rec.get_channel_info(a.id, ch)["to"] if to_s is None else to_s
            return rec.get_channel_statistics(a.id, ch, float(from_s or 0.0), float(end))

        return self._call("channel statistics", stats)

    def start_recording(self) -> int:
        """Start a new recording (stopping the running one) and stream it; returns its id."""

        def start(a: arc.Arc) -> int:
            assert self._project is not None
            if self._recording is not None:
                self._project.stop_recording()
                self._recording = None
            self._want_recording = True
            self._open_recording(a, self._project, fresh=True)
            assert self._rec_id is not None
            return self._rec_id

        return self._call("start recording", start)

    def stop_recording(self) -> bool:
        """Stop the recording; the driver then reads one value per channel and tick."""

        def stop(a: arc.Arc) -> bool:
            self._want_recording = False
            if self._recording is None or self._project is None:
                return False
            self._project.stop_recording()
            self._recording = None
            return True

        return self._call("stop recording", stop)

    def list_devices(self) -> list[dict]:
        """Devices the Otii server sees: [{device_id, name, type}, ...]."""

        def devices(a: arc.Arc) -> list[dict]:
            assert self._otii is not None
            found = self._otii.get_devices(timeout=self.settings["device_timeout_s"])
            return [{"device_id": d.id, "name": d.name, "type": d.type} for d in found]

        return self._call("list devices", devices)

    def battery_profiles(self) -> list[dict]:
        """Battery-emulator profiles: [{battery_profile_id, name, manufacturer, model}, ...]."""

        def profiles(a: arc.Arc) -> list[dict]:
            assert self._otii is not None
            self._ensure_licenses(self._otii, ["Battery"])
            return self._otii.get_battery_profiles()

        return self._call("battery profiles", profiles)

    def battery_status(self) -> dict:
        """State of the emulated battery: soc (%) and used_capacity (C)."""

        def status(a: arc.Arc) -> dict:
            if self._battery is None:
                raise OtiiRefused(
                    "the supply is not in battery-emulator mode (set battery_profile)"
                )
            return {
                "soc": self._battery.get_soc(),
                "used_capacity": self._battery.get_used_capacity(),
            }

        return self._call("battery status", status)

    def reconnect(self) -> None:
        """Drop the connection; the next poll connects and configures the device again."""
        with self._io:
            self._drop()

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop polling, stop our recording, switch main off if configured, return licences."""
        super().close()  # joins the polling thread first, so nothing else talks to the server
        with self._io:
            o = self._otii
            if o is not None:
                try:
                    if self._recording is not None and self._rec_ours and self._project is not None:
                        self._step = "stop recording"
                        self._project.stop_recording()
                    if self.settings["main_off_on_stop"] and self._arc is not None:
                        self._step = "switch main off"
                        self._arc.set_main(False)
                    for lic in self._reserved:
                        self._step = "return licence"
                        o.return_license(lic)
                    self._reserved = []
                    if self._logged_in_by_us:
                        self._step = "log out"
                        o.logout()
                        self._logged_in_by_us = False
                except Exception as exc:  # stopping must never fail; the server may already be gone
                    self.warning(f"Otii: {self._step} while stopping failed: {_describe(exc)[0]}")
            self._drop()

    # -- polling --------------------------------------------------------------------------------
    def _poll(self) -> None:
        with self._io:
            try:
                if self._arc is None:
                    self._connect()
                if self._recording is not None:
                    self._fetch()
                else:
                    self._sample_values()
            except Exception as exc:
                raise self._failed(exc) from exc
            self._io_error = None

    def _failed(self, exc: BaseException) -> OtiiError:
        """Close the connection and build the exception the base class reports."""
        self._drop()
        detail, is_io = _describe(exc)
        msg = f"Otii server {self.settings['host']}:{self.settings['port']}: {self._step}: {detail}"
        if is_io:
            # while the server stays unreachable every retry fails a little differently (reset,
            # then refused); repeating the first message keeps it one error event per outage
            if self._io_error is not None and self._last_error is not None:
                log.debug("Otii retry failed: %s", msg)
                msg = self._io_error
            self._io_error = msg
        return OtiiError(msg)

    def _drop(self) -> None:
        conn = self._conn
        self._conn = self._otii = self._arc = self._project = self._recording = self._battery = None
        if conn is not None:
            try:
                conn.close_connection()
            except OSError:
                pass

    def _connect(self) -> None:
        s = self.settings
        self._step = "connect"
        conn = _Connection(s["host"], s["port"], s["connect_timeout_s"])
        self._conn = conn
        greeting = conn.connect_to_server()
        if greeting.get("type") == "error":
            raise Otii_Exception(greeting)
        if greeting.get("type") != "information":
            raise OtiiError(f"unexpected greeting {greeting!r}")
        o = otii.Otii(conn)
        self._otii = o
        if s["licensing"] == "auto":
            self._login(o)
            self._ensure_licenses(
                o, ["Automation", "Battery"] if self._battery_profile else ["Automation"]
            )
        self._step = "find device"
        a = self._select_device(o)
        self._step = "configure device"
        a.set_range(self._range)  # type: ignore[arg-type]
        a.set_max_current(self._max_current)
        self._apply_supply(a)
        for ch in self._channels:
            a.enable_channel(ch, True)
            if s["channel_samplerate"]:
                a.set_channel_samplerate(ch, s["channel_samplerate"])
        a.set_main(self._main_power)
        self._step = "open project"
        try:
            proj = o.get_active_project()
        except otii.OtiiException:  # no project open in the Otii app
            proj = o.create_project()
        a.add_to_project()
        self._project = proj
        if self._want_recording:
            self._open_recording(a, proj, fresh=False)
        self._arc = a
        self.info(f"Otii: connected to {a.name} ({a.type} {a.id}) at {s['host']}:{s['port']}")

    def _login(self, o: otii.Otii) -> None:
        self._step = "log in"
        if o.is_logged_in():
            return
        user, password = self._credentials()
        if user is None:
            raise OtiiError(
                "the Otii server is not logged in: set devices.Otii.username and password (or credentials, "
                "or OTII_USERNAME/OTII_PASSWORD), or log in in the Otii app"
            )
        o.login(user, password or "")
        self._logged_in_by_us = True

    def _credentials(self) -> tuple[str | None, str | None]:
        """Settings first, then the credentials file, then the client's environment variables."""
        s = self.settings
        if s["username"]:
            return s["username"], s["password"]
        if s["credentials"]:
            path = os.path.expanduser(s["credentials"])
            try:
                with open(path, encoding="utf-8") as f:
                    cred = json.load(f)
                return str(cred["username"]), str(cred["password"])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise OtiiError(f"devices.Otii.credentials: cannot read {path}: {exc}") from exc
        user = os.environ.get("OTII_USERNAME")
        return user, os.environ.get("OTII_PASSWORD") if user is not None else None

    def _ensure_licenses(self, o: otii.Otii, wanted: list[str]) -> None:
        """Reserve a licence of each wanted kind unless one is reserved (as otii_client does)."""
        if self.settings["licensing"] != "auto":
            return
        self._step = "reserve licence"
        licences = o.get_licenses()
        for kind in wanted:
            fits = [
                lic
                for lic in licences
                if lic.get("available") and kind in LICENSE_MAP.get(lic.get("type"), [])
            ]
            if any(lic.get("reserved_to") for lic in fits):
                continue
            free = [lic for lic in fits if not lic.get("reserved_to")]
            if not free:
                have = ", ".join(f"{lic.get('type')}#{lic.get('id')}" for lic in licences) or "none"
                raise OtiiRefused(f"no free {kind} licence on the Otii account (licences: {have})")
            o.reserve_license(free[0]["id"])
            self._reserved.append(free[0]["id"])

    def _select_device(self, o: otii.Otii) -> arc.Arc:
        want = self.settings["device"]
        found = o.get_devices(timeout=self.settings["device_timeout_s"])
        match = [d for d in found if not want or want in (d.name, d.id)]
        if not match:
            names = ", ".join(f"{d.name} ({d.id})" for d in found) or "none"
            what = f"device {want!r}" if want else "Arc/Ace device"
            raise OtiiError(f"no {what} connected to the Otii server (found: {names})")
        return match[0]

    def _apply_supply(self, a: arc.Arc) -> None:
        """Power box with main_voltage, or the battery emulator with battery_profile."""
        name = self._battery_profile
        if not name:
            self._battery = None
            a.set_supply_power_box()
            a.set_main_voltage(self._main_voltage)
            return
        assert self._otii is not None
        self._ensure_licenses(self._otii, ["Battery"])
        profiles = self._otii.get_battery_profiles()
        match = [p for p in profiles if name in (p.get("battery_profile_id"), p.get("name"))]
        if not match:
            known = ", ".join(str(p.get("name")) for p in profiles) or "none"
            raise OtiiRefused(f"no battery profile {name!r} (known: {known})")
        s = self.settings
        self._battery = a.set_supply_battery_emulator(
            match[0]["battery_profile_id"],
            series=s["battery_series"],
            parallel=s["battery_parallel"],
            soc=s["battery_soc"],
        )

    def _open_recording(self, a: arc.Arc, proj: project.Project, *, fresh: bool) -> None:
        """Resume our recording if the server kept it running, else join or start one."""
        self._step = "start recording"
        last = None if fresh else proj.get_last_recording()
        if last is not None and last.is_running():
            if last.id != self._rec_id:  # someone else's: stream from its current end
                self._rec_ours = False
                self._index = {}
        else:
            before = time.time()
            proj.start_recording()
            last = proj.get_last_recording()
            if last is None:
                raise OtiiError("the server started no recording")
            self._rec_ours = True
            self._index = {}
            # fall back to our clock when the server sends no start-time
            self._t0 = before
        if last.start_time is not None:
            self._t0 = last.start_time.timestamp()
        recorded = {
            m.get("channel") for m in (last.measurements or []) if m.get("device_id") == a.id
        }
        channels = tuple(ch for ch in self._channels if not recorded or ch in recorded)
        missing = set(self._channels) - set(channels)
        if missing:
            self.warning(f"Otii: recording {last.id} has no channel {', '.join(sorted(missing))}")
        for ch in channels:
            if ch not in self._index:
                self._index[ch] = 0 if self._rec_ours else last.get_channel_data_count(a.id, ch)
        self._rec_id = last.id
        self._rec_channels = channels
        self._recording = last
        self._last_data = time.monotonic()

    def _fetch(self) -> None:
        """Append every channel's samples that arrived since the last poll."""
        a, rec = self._arc, self._recording
        assert a is not None and rec is not None
        store = self._host.store
        dname = self._devicename
        limit = self.settings["max_batch"]
        got = False
        for ch in self._rec_channels:
            self._step = f"read channel {ch}"
            start = self._index[ch]
            n = min(rec.get_channel_data_count(a.id, ch) - start, limit)
            if n <= 0:
                continue
            data = rec.get_channel_data(a.id, ch, start, n)
            y = np.asarray(data["values"], dtype=np.float64)
            interval = float(data["interval"])
            if y.ndim != 1 or len(y) > n or not interval > 0:
                raise OtiiError(f"bad channel data for {ch}: {len(y)} values, interval {interval}")
            if not len(y):
                continue
            # x from the sample index (not the arrival time), so batches join without jitter
            x = self._t0 + (start + np.arange(len(y), dtype=np.float64)) * interval
            sname, unit = CHANNELS[ch]
            store.append(dname, sname, x, y, unit)
            self._index[ch] = start + len(y)
            self._ingested += len(y)
            got = True
        now = time.monotonic()
        if got:
            self._last_data = now
        elif now - self._last_data > 1.0:
            self._step = "check recording"
            if not a.is_connected():  # USB cable pulled: reconnecting finds it again
                raise OtiiError(f"device {a.name} ({a.id}) disconnected from the Otii server")
            if not rec.is_running():  # stopped in the Otii app: keep showing live values
                self._recording = None
                self._want_recording = False
                self.event(f"Otii recording {rec.id} stopped", sname="recording", priority=0)

    def _sample_values(self) -> None:
        """Without a recording: one current value per channel (arc_get_value)."""
        a = self._arc
        assert a is not None
        store = self._host.store
        for ch in self._channels:
            self._step = f"read value {ch}"
            value = a.get_value(ch)
            sname, unit = CHANNELS[ch]
            store.append_one(self._devicename, sname, time.time(), float(value), unit)
            self._ingested += 1

    # -- helpers --------------------------------------------------------------------------------
    def _require_recording(self) -> recording.Recording:
        if self._recording is not None:
            return self._recording
        if self._project is not None:
            last = self._project.get_last_recording()
            if last is not None:
                return last
        raise OtiiRefused("no recording (start one with start_recording())")

    def _checked(self, key: str, value: Any) -> float:
        spec = self.SETTINGS[key]
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{key} must be a number, not {value!r}") from None
        if (
            spec.minimum is not None
            and v < spec.minimum
            or spec.maximum is not None
            and v > spec.maximum
        ):
            raise ValueError(f"{key} must be between {spec.minimum} and {spec.maximum}, not {v}")
        return v

    def _call(self, what: str, fn: Callable[[arc.Arc], T]) -> T:
        """Run fn(arc) on the connection; a refusal raises OtiiRefused, an I/O error drops it."""
        with self._io:
            a = self._arc
            if a is None:
                reason = self._last_error or "not connected yet"
                raise OtiiError(f"Otii: cannot {what}: no connection to the Otii server ({reason})")
            self._step = what
            try:
                return fn(a)
            except Otii_Exception as exc:  # refused, but the connection is still in step
                raise OtiiRefused(f"Otii: {what}: {_describe(exc)[0]}") from exc
            except (OtiiError, OtiiRefused):
                raise
            except Exception as exc:
                raise self._failed(exc) from exc

    def _update(self, attr: str, value: Any, what: str, send: Callable[[arc.Arc], Any]) -> None:
        """Set a desired-state attribute and send it now when connected (restored on refusal)."""
        with self._io:
            old = getattr(self, attr)
            setattr(self, attr, value)
            if self._arc is None:
                return  # applied when the poll connects
            try:
                self._call(what, send)
            except OtiiRefused:
                setattr(self, attr, old)
                raise
