"""Otii: Qoitech's Otii Arc/Ace power analyser, through the Otii TCP server and otii-tcp-client.

The driver connects lazily from its polling timer, logs in and reserves the licences it needs
(licensing "auto"), picks its devices (one, several or all on the server), configures each one
(supply, output, limits, ranges, GPIO, UART, channels and their sample rates), switches the main
output, and records in the server's active project (creating one when there is none). Every tick
it asks each channel of the recording for its sample count and fetches the samples it has not
read yet with `recording_get_channel_data`:

- analog channels (mc mv mp ac av ap sp sn vb vj tp) become numpy batches whose x is Unix time
  (recording start + index / sample rate), e.g. Otii.MainCurrent (A);
- the digital inputs i1/i2 become 0/1 signals Otii.GPI1/Otii.GPI2, one step per edge;
- the UART log rx becomes one event per line (sname "UART"), searchable in the events pane.

Once a second it also reads back the device state (main output, GPIs, RX pin, 4-wire state,
supply mode, battery charge), so the parameters show what the device does, not only what was
asked (an over-current cut-off switches the output off by itself).

Any I/O error, timeout or malformed reply closes the connection and raises OtiiError; the plugin
base class turns that into an error state with one event and reconnects with back-off. A
recording the server kept running while the connection was down is resumed where it was left.
A refusal by the server (wrong value, missing licence) is an OtiiRefused naming the cause; the
connection stays up.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
from otii_tcp_client import arc, battery_emulator, otii, otii_connection
from otii_tcp_client import project as otii_project
from otii_tcp_client import recording as otii_recording
from otii_tcp_client.otii_client import LICENSE_MAP
from otii_tcp_client.otii_exception import Otii_Exception

from rtoc_tui.core.plugin import LoggerPlugin
from rtoc_tui.core.settings import Setting, SettingsError

log = logging.getLogger(__name__)

T = TypeVar("T")

# channel -> (signal name, unit); shared/protocols/otii.md §6. i1/i2 are 0/1 signals.
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
    "i1": ("GPI1", ""),
    "i2": ("GPI2", ""),
}
ANALOG = tuple(ch for ch in CHANNELS if ch not in ("i1", "i2"))
DIGITAL = ("i1", "i2")
UART_CHANNEL = "rx"  # each line an event
UART_SNAME = "UART"
ALL_CHANNELS = (*CHANNELS, UART_CHANNEL)
_BY_SIGNAL = {sname.lower(): ch for ch, (sname, _) in CHANNELS.items()} | {"uart": UART_CHANNEL}
_UNIX_TIME_MIN = 1e9  # statistics windows above this are Unix times (signal x), not recording s
STATUS_INTERVAL_S = 1.0  # how often the device state is read back
FETCH_CHUNK = 200_000  # samples per request when copying a recording into the logger
POWER_MODES = ("voltage", "current", "inline", "off")
LIMIT_MODES = ("cc", "cut-off")
STEP_S = 1e-6  # a digital edge is stored as (t - STEP_S, old), (t, new): a step when plotted


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


def channel_code(name: str) -> str:
    """'MainCurrent', 'mc' or 'uart' -> the channel code; ValueError naming the known ones."""
    ch = str(name).strip().lower()
    ch = _BY_SIGNAL.get(ch, ch)
    if ch not in ALL_CHANNELS:
        raise ValueError(f"unknown channel {name!r} (known: {', '.join(ALL_CHANNELS)})")
    return ch


def parse_channels(value: str, driver: str = "Otii") -> tuple[str, ...]:
    """'mc, mv,GPI1, rx' -> ('mc', 'mv', 'i1', 'rx'); SettingsError naming devices.<driver>.channels."""
    path = f"config.json: devices.{driver}.channels"
    out: list[str] = []
    for part in value.replace(";", ",").split(","):
        if not part.strip():
            continue
        try:
            ch = channel_code(part)
        except ValueError as exc:
            raise SettingsError(f"{path}: {exc}") from None
        if ch not in out:
            out.append(ch)
    if not out:
        raise SettingsError(
            f"{path}: at least one channel is needed (known: {', '.join(ALL_CHANNELS)})"
        )
    return tuple(out)


def parse_samplerates(value: str, driver: str = "Otii") -> dict[str, int]:
    """'mc=4000, tp:10' -> {'mc': 4000, 'tp': 10}; SettingsError naming devices.<driver>.samplerates."""
    path = f"config.json: devices.{driver}.samplerates"
    out: dict[str, int] = {}
    for part in value.replace(";", ",").split(","):
        if not part.strip():
            continue
        name, sep, rate = part.replace(":", "=").partition("=")
        try:
            ch = channel_code(name)
        except ValueError as exc:
            raise SettingsError(f"{path}: {exc}") from None
        if ch not in ANALOG:
            raise SettingsError(f"{path}: {ch} has no sample rate (only {', '.join(ANALOG)})")
        try:
            n = int(rate)
        except ValueError:
            raise SettingsError(
                f"{path}: {part.strip()!r} is not CHANNEL=RATE (e.g. mc=4000)"
            ) from None
        if not sep or n < 1:
            raise SettingsError(f"{path}: {part.strip()!r} is not CHANNEL=RATE with a rate >= 1")
        out[ch] = n
    return out


def format_samplerates(rates: dict[str, int]) -> str:
    """{'mc': 4000} -> 'mc=4000' (channel order of CHANNELS)."""
    return ", ".join(f"{ch}={rates[ch]}" for ch in ANALOG if ch in rates)


def licence_for(cmd: str) -> str:
    """The Otii licence a server command needs (the Battery Toolbox for battery commands)."""
    return "Battery" if "battery" in cmd else "Automation"


def _describe(exc: BaseException) -> tuple[str, bool]:
    """(human-readable cause, is it a connection problem) for an exception from the client."""
    if isinstance(exc, OtiiError | OtiiRefused):
        return str(exc), False
    if isinstance(exc, Otii_Exception):
        msg = exc.message
        if isinstance(msg, dict):
            if exc.type in ("No license", "Not logged in"):
                kind = licence_for(str(msg.get("cmd", "")))
                what = "no" if exc.type == "No license" else "not logged in, so no"
                return (
                    f"server error {exc.type!r}: {what} {kind} licence reserved for "
                    f"{msg.get('cmd') or 'this command'} (it needs the {kind} Toolbox licence: "
                    "reserve one in the Otii app, or set licensing=auto with a user who has one)"
                ), False
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


# -- controls: device parameters backed by a wanted value per device ---------------------------
@dataclass(frozen=True)
class _ControlSpec:
    name: str
    doc: str
    check: Callable[[Any], Any]
    send: Callable[[Otii, _Unit, Any], None]
    read: Callable[[arc.Arc], Any] | None = None  # read back at connect when not configured


def _number(lo: float, hi: float, kind: type = float) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        try:
            v = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"must be a number, not {value!r}") from None
        if not lo <= v <= hi:
            raise ValueError(f"must be between {lo} and {hi}, not {v}")
        return v

    return check


def _choice(*choices: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(map(repr, choices))}, not {value!r}")
        return value

    return check


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise ValueError(f"must be True or False, not {value!r}")


def _text(value: Any) -> str:
    return str(value)


CONTROLS: dict[str, _ControlSpec] = {}


def _control(
    name: str,
    doc: str,
    check: Callable[[Any], Any],
    send: Callable[[Otii, _Unit, Any], None],
    read: Callable[[arc.Arc], Any] | None = None,
) -> property:
    """A parameter whose value is wanted from the target device and sent to it when set."""
    CONTROLS[name] = _ControlSpec(name, doc, check, send, read)

    def fget(self: Otii) -> Any:
        return self._wanted(name)

    def fset(self: Otii, value: Any) -> None:
        self._set_control(name, value)

    return property(fget, fset, doc=doc)


def _send_main(d: Otii, u: _Unit, v: bool) -> None:
    u.arc.set_main(v)
    u.status["main"] = v


def _send_supply(d: Otii, u: _Unit, _v: Any) -> None:
    d._apply_supply(u)


def _send_channels(d: Otii, u: _Unit, _v: Any) -> None:
    d._reconfigure_channels()


@dataclass
class _Unit:
    """One Arc/Ace the driver uses: its client object, what is wanted of it, what it reports."""

    name: str
    dname: str  # device part of its signal names
    want: dict[str, Any]
    arc: arc.Arc = None  # type: ignore[assignment]  # bound at every (re)connect
    battery: battery_emulator.BatteryEmulator | None = None
    status: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)


def _safe(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", name).strip("_") or "device"


class Otii(LoggerPlugin):
    """Qoitech Otii Arc/Ace: every channel, control, project and recording of the Otii TCP server."""

    SETTINGS: ClassVar[dict[str, Setting]] = {
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
            "",
            "Password of the Otii account (empty: credentials file, then OTII_PASSWORD)",
            secret=True,
        ),
        "credentials": Setting(
            "", 'Path of a credentials.json {"username", "password"} (otii-tcp-client\'s format)'
        ),
        "device": Setting(
            "",
            "Device names or ids to use, comma-separated (empty: the first Arc/Ace found; *: all)",
        ),
        "device_timeout_s": Setting(
            3, "Seconds the server may wait for devices to appear", minimum=0, maximum=60
        ),
        "channels": Setting(
            "mc,mv,mp",
            "Comma-separated channels to enable and record: " + ", ".join(ALL_CHANNELS),
        ),
        "samplerates": Setting(
            "", "Sample rates per channel, e.g. 'mc=50000, tp=10' (Ace; an Arc's are fixed)"
        ),
        "channel_samplerate": Setting(
            0,
            "Samples/s of every enabled analog channel (0: keep the device's, 4000 on an Arc)",
            minimum=0,
            maximum=1_000_000,
        ),
        "power_regulation": Setting(
            "voltage",
            "voltage (power box), current (constant current source), inline or off",
            choices=POWER_MODES,
        ),
        "main_voltage": Setting(
            3.3, "Main output voltage in V (Arc 0.5-5 V, Ace 0.5-25 V)", minimum=0.5, maximum=25.0
        ),
        "main_current": Setting(
            None,
            "Main output current in A with power_regulation=current (empty: keep)",
            type=float,
            minimum=0.0,
            maximum=5.0,
        ),
        "max_current": Setting(0.5, "Main output current limit in A", minimum=0.001, maximum=5.0),
        "limit_mode": Setting(
            None,
            "At the current limit: cc (constant current) or cut-off (switch off); empty: keep",
            type=str,
            choices=LIMIT_MODES,
        ),
        "range": Setting(
            "low",
            "Current range: low (auto-range) or high (forced high range)",
            choices=("low", "high"),
        ),
        "four_wire": Setting(
            None, "4-wire measurement with Sense+/- (empty: keep the device's)", type=bool
        ),
        "adc_resistor": Setting(
            None,
            "Shunt resistor of the ADC inputs in ohm, 0.001-22 (empty: keep)",
            type=float,
            minimum=0.001,
            maximum=22.0,
        ),
        "five_volt": Setting(None, "5 V pin on the expansion port (empty: keep)", type=bool),
        "exp_port": Setting(None, "Expansion port enabled (empty: keep)", type=bool),
        "exp_voltage": Setting(
            None,
            "Expansion port voltage in V, 1.2-5 (empty: keep)",
            type=float,
            minimum=1.2,
            maximum=5.0,
        ),
        "gpo1": Setting(None, "Digital output GPO1 (empty: keep)", type=bool),
        "gpo2": Setting(None, "Digital output GPO2 (empty: keep)", type=bool),
        "uart": Setting(None, "UART on RX/TX (false: RX/TX are a GPI/GPO; empty: keep)", type=bool),
        "baudrate": Setting(
            None, "UART baud rate (empty: keep)", type=int, minimum=300, maximum=3_000_000
        ),
        "tx": Setting(None, "TX pin as a GPO when the UART is off (empty: keep)", type=bool),
        "voltage_0_15": Setting(
            None,
            "Ace only: the 0-15 V output in V, 0 = off (empty: keep)",
            type=float,
            minimum=0.0,
            maximum=15.0,
        ),
        "main_power": Setting(True, "Switch the main output on after connecting"),
        "main_off_on_stop": Setting(True, "Switch the main output off when the driver stops"),
        "record": Setting(
            True, "Record and stream every sample (false: read one value per channel and tick)"
        ),
        "project_file": Setting(
            "", "Where save_project() saves the Otii project (empty: where it was opened/saved)"
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
        "battery_used_capacity": Setting(
            None,
            "Initial used capacity of the emulated battery in C (instead of battery_soc)",
            type=float,
            minimum=0.0,
        ),
        "soc_tracking": Setting(True, "The emulated battery discharges with the drawn current"),
        "samplerate": Setting(
            5.0, "Polls per second: how often new samples are fetched", minimum=0.01, maximum=100.0
        ),
        "max_batch": Setting(
            200_000, "Most samples read per channel and poll (catch-up after a gap)", minimum=100
        ),
    }

    # how the device screen groups the parameters (read through LoggerClient.device_detail)
    PARAMETER_GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {
        "Output": (
            "main_power",
            "power_regulation",
            "main_voltage",
            "main_current",
            "max_current",
            "limit_mode",
            "range",
            "four_wire",
            "four_wire_state",
        ),
        "Supply": (
            "supply_mode",
            "battery_profile",
            "battery_series",
            "battery_parallel",
            "battery_soc",
            "battery_used_capacity",
            "soc_tracking",
        ),
        "Channels": ("channels", "samplerates", "samplerate", "samples_ingested"),
        "I/O": (
            "gpo1",
            "gpo2",
            "gpi1",
            "gpi2",
            "uart",
            "baudrate",
            "tx",
            "rx_pin",
            "five_volt",
            "exp_port",
            "exp_voltage",
            "adc_resistor",
            "voltage_0_15",
        ),
        "Project": ("recording", "recording_id", "project", "project_file"),
        "Device": (
            "target",
            "device",
            "devices",
            "connected",
            "firmware_version",
            "hardware_version",
            "licences",
        ),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setDeviceName("Otii")
        s = self.settings
        self._channels = parse_channels(s["channels"], self._registry_name)
        self._samplerates = parse_samplerates(s["samplerates"], self._registry_name)
        self._io = threading.RLock()  # the client allows one request in flight; UI calls share it
        self._step = "connect"
        self._conn: _Connection | None = None
        self._otii: otii.Otii | None = None
        self._project: otii_project.Project | None = None
        self._recording: otii_recording.Recording | None = None
        self._connected = False
        # kept across reconnects: server-side state this driver owns
        self._defaults: dict[str, Any] = {
            name: s[name] for name in (*CONTROLS, "battery_soc", "battery_used_capacity")
        }
        self._units: dict[str, _Unit] = {}  # device id -> unit, in selection order
        self._target_id = ""
        self._rec_id: int | None = None
        self._rec_ours = False
        self._rec_keys: tuple[tuple[str, str], ...] = ()  # (device id, channel) being streamed
        self._index: dict[tuple[str, str], int] = {}
        self._last_state: dict[tuple[str, str], float] = {}  # digital channels: last 0/1
        self._t0 = 0.0
        self._reserved: list[int] = []
        self._logged_in_by_us = False
        self._want_recording: bool = s["record"]
        self._io_error: str | None = None
        self._last_data = time.monotonic()
        self._last_status = 0.0
        self._ingested = 0
        self._uart_lines = 0
        self._project_file: str = s["project_file"]
        self.setPerpetualTimer(self._poll, samplerate=s["samplerate"])
        self.start()

    # -- controls -------------------------------------------------------------------------------
    main_power = _control("main_power", "Main output on (True) or off", _flag, _send_main)
    power_regulation = _control(
        "power_regulation",
        "voltage (power box), current (constant current), inline or off",
        _choice(*POWER_MODES),
        lambda d, u, v: u.arc.set_power_regulation(v),
    )
    main_voltage = _control(
        "main_voltage",
        "Main output voltage in V (power box)",
        _number(0.5, 25.0),
        lambda d, u, v: u.arc.set_main_voltage(v),
        lambda a: a.get_main_voltage(),
    )
    main_current = _control(
        "main_current",
        "Main output current in A (power_regulation=current)",
        _number(0.0, 5.0),
        lambda d, u, v: u.arc.set_main_current(v),
    )
    max_current = _control(
        "max_current",
        "Current limit of the main output in A",
        _number(0.001, 5.0),
        lambda d, u, v: u.arc.set_max_current(v),
        lambda a: a.get_max_current(),
    )
    limit_mode = _control(
        "limit_mode",
        "At the limit: cc (constant current) or cut-off (switch off)",
        _choice(*LIMIT_MODES),
        lambda d, u, v: u.arc.set_src_cur_limit_enabled(v == "cc"),
        lambda a: "cc" if a.get_src_cur_limit_enabled() else "cut-off",
    )
    range = _control(
        "range",
        "Current range: low (auto-range) or high",
        _choice("low", "high"),
        lambda d, u, v: u.arc.set_range(v),
        lambda a: a.get_range(),
    )
    four_wire = _control(
        "four_wire",
        "4-wire measurement with Sense+/-",
        _flag,
        lambda d, u, v: u.arc.set_4wire(v),
        lambda a: a.get_4wire() != "disabled",
    )
    adc_resistor = _control(
        "adc_resistor",
        "Shunt resistor of the ADC inputs in ohm (0.001-22)",
        _number(0.001, 22.0),
        lambda d, u, v: u.arc.set_adc_resistor(v),
        lambda a: a.get_adc_resistor(),
    )
    five_volt = _control(
        "five_volt", "5 V pin on the expansion port", _flag, lambda d, u, v: u.arc.enable_5v(v)
    )
    exp_port = _control(
        "exp_port", "Expansion port enabled", _flag, lambda d, u, v: u.arc.enable_exp_port(v)
    )
    exp_voltage = _control(
        "exp_voltage",
        "Expansion port voltage in V (1.2-5)",
        _number(1.2, 5.0),
        lambda d, u, v: u.arc.set_exp_voltage(v),
        lambda a: a.get_exp_voltage(),
    )
    gpo1 = _control("gpo1", "Digital output GPO1", _flag, lambda d, u, v: u.arc.set_gpo(1, v))
    gpo2 = _control("gpo2", "Digital output GPO2", _flag, lambda d, u, v: u.arc.set_gpo(2, v))
    uart = _control(
        "uart",
        "UART on RX/TX (off: RX/TX are a GPI/GPO)",
        _flag,
        lambda d, u, v: u.arc.enable_uart(v),
    )
    baudrate = _control(
        "baudrate",
        "UART baud rate",
        _number(300, 3_000_000, int),
        lambda d, u, v: u.arc.set_uart_baudrate(v),
        lambda a: a.get_uart_baudrate(),
    )
    tx = _control("tx", "TX pin as a GPO (UART off)", _flag, lambda d, u, v: u.arc.set_tx(v))
    voltage_0_15 = _control(
        "voltage_0_15",
        "Ace only: the 0-15 V output in V (0 = off)",
        _number(0.0, 15.0),
        lambda d, u, v: u.arc.set_0_to_15_voltage(v),
    )
    battery_profile = _control(
        "battery_profile",
        "Battery-emulator profile name or id; empty = power box",
        _text,
        _send_supply,
    )
    battery_series = _control(
        "battery_series", "Emulated cells in series", _number(1, 100, int), _send_supply
    )
    battery_parallel = _control(
        "battery_parallel", "Emulated cells in parallel", _number(1, 100, int), _send_supply
    )
    soc_tracking = _control(
        "soc_tracking",
        "The emulated battery discharges with the drawn current",
        _flag,
        lambda d, u, v: d._battery_of(u).set_soc_tracking(v),
    )

    # -- parameters with their own logic --------------------------------------------------------
    @property
    def battery_soc(self) -> float | None:
        """State of charge of the emulated battery in % (write to set it)."""
        u = self._unit_or_none()
        if u is not None and "soc" in u.status:
            return u.status["soc"]
        return self._defaults.get("battery_soc")

    @battery_soc.setter
    def battery_soc(self, value: float) -> None:
        v = _number(0.0, 100.0)(value)
        self._on_target("set state of charge", lambda u: self._battery_of(u).set_soc(v))
        self._defaults["battery_soc"] = v

    @property
    def battery_used_capacity(self) -> float | None:
        """Used capacity of the emulated battery in C (mAh x 3.6; write to set it)."""
        u = self._unit_or_none()
        if u is not None and "used_capacity" in u.status:
            return u.status["used_capacity"]
        return self._defaults.get("battery_used_capacity")

    @battery_used_capacity.setter
    def battery_used_capacity(self, value: float) -> None:
        v = _number(0.0, 1e9)(value)
        self._on_target("set used capacity", lambda u: self._battery_of(u).set_used_capacity(v))

    @property
    def channels(self) -> str:
        """Enabled channels, comma-separated (write to change; restarts the recording)."""
        return ",".join(self._channels)

    @channels.setter
    def channels(self, value: str) -> None:
        try:
            new = parse_channels(str(value), self._registry_name)
        except SettingsError as exc:
            raise ValueError(str(exc).split(": ", 2)[-1]) from None
        with self._io:
            old, self._channels = self._channels, new
            try:
                self._call("change channels", lambda u: self._reconfigure_channels())
            except OtiiRefused:
                self._channels = old
                raise
            except OtiiError:
                pass  # applied at the next connect

    @property
    def samplerates(self) -> str:
        """Sample rate of each enabled analog channel, e.g. 'mc=4000, tp=10' (write to set)."""
        u = self._unit_or_none()
        rates = dict(u.status.get("rates", {})) if u is not None else {}
        return format_samplerates(rates or self._samplerates)

    @samplerates.setter
    def samplerates(self, value: str) -> None:
        try:
            new = parse_samplerates(str(value), self._registry_name)
        except SettingsError as exc:
            raise ValueError(str(exc).split(": ", 2)[-1]) from None
        with self._io:
            old, self._samplerates = self._samplerates, {**self._samplerates, **new}
            try:
                self._call("set sample rates", lambda u: self._reconfigure_channels())
            except OtiiRefused:
                self._samplerates = old
                raise
            except OtiiError:
                pass

    @property
    def target(self) -> str:
        """The device the parameters and functions act on (name of one of `devices`)."""
        u = self._unit_or_none()
        return "" if u is None else u.name

    @target.setter
    def target(self, value: str) -> None:
        with self._io:
            for dev_id, u in self._units.items():
                if value in (u.name, dev_id):
                    self._target_id = dev_id
                    return
        known = ", ".join(u.name for u in self._units.values()) or "none yet"
        raise ValueError(f"no device {value!r} in use (devices: {known})")

    @property
    def project_file(self) -> str:
        """Where save_project() saves the project (.otii)."""
        return self._project_file

    @project_file.setter
    def project_file(self, value: str) -> None:
        self._project_file = str(value)

    # -- read-only parameters -------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """True while connected to the Otii TCP server."""
        return self._connected

    @property
    def recording(self) -> bool:
        """True while a recording is streamed."""
        return self._recording is not None

    @property
    def recording_id(self) -> int:
        """Id of the recording streamed now or last (-1: none)."""
        return -1 if self._rec_id is None else self._rec_id

    @property
    def project(self) -> str:
        """The Otii project in use: its id and file."""
        p = self._project
        if p is None:
            return ""
        return f"{p.id}" + (f" ({p.filename})" if getattr(p, "filename", None) else " (unsaved)")

    @property
    def device(self) -> str:
        """Name, type and id of the target device."""
        u = self._unit_or_none()
        if u is None or u.arc is None:
            return ""
        return f"{u.name} ({u.arc.type} {u.arc.id})"

    @property
    def devices(self) -> str:
        """All devices the driver uses, comma-separated."""
        return ", ".join(u.name for u in self._units.values())

    @property
    def supply_mode(self) -> str:
        """power-box or battery-emulator, as the device reports it."""
        return str(self._status("supply_mode", ""))

    @property
    def four_wire_state(self) -> str:
        """4-wire state: disabled, inactive, active or cal_invalid (calibrate())."""
        return str(self._status("four_wire", ""))

    @property
    def gpi1(self) -> bool | None:
        """Digital input GPI1."""
        return self._status("gpi1", None)

    @property
    def gpi2(self) -> bool | None:
        """Digital input GPI2."""
        return self._status("gpi2", None)

    @property
    def rx_pin(self) -> bool | None:
        """RX pin as a GPI (None while the UART uses it)."""
        return self._status("rx", None)

    @property
    def firmware_version(self) -> str:
        """Firmware version of the target device."""
        u = self._unit_or_none()
        return "" if u is None else u.versions.get("fw_version", "")

    @property
    def hardware_version(self) -> str:
        """Hardware version of the target device."""
        u = self._unit_or_none()
        return "" if u is None else u.versions.get("hw_version", "")

    @property
    def licences(self) -> str:
        """Licences this driver reserved (returned when it stops)."""
        return ", ".join(f"#{lic}" for lic in self._reserved) or "none"

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
        ch = channel_code(channel)
        if from_s is not None and from_s >= _UNIX_TIME_MIN:
            from_s -= self._t0
        if to_s is not None and to_s >= _UNIX_TIME_MIN:
            to_s -= self._t0

        def stats(u: _Unit) -> dict:
            rec = self._require_recording()
            end = rec.get_channel_info(u.arc.id, ch)["to"] if to_s is None else to_s
            return rec.get_channel_statistics(u.arc.id, ch, float(from_s or 0.0), float(end))

        return self._call("channel statistics", stats)

    def get_value(self, channel: str = "mc") -> float | bool:
        """The present value of a channel of the target device (not rx)."""
        ch = channel_code(channel)
        if ch == UART_CHANNEL:
            raise ValueError("the UART log has no present value; its lines are events")
        return self._call(f"read {ch}", lambda u: u.arc.get_value(ch))

    def start_recording(self) -> int:
        """Start a new recording (stopping the running one) and stream it; returns its id."""

        def start(u: _Unit) -> int:
            assert self._project is not None
            if self._recording is not None:
                self._project.stop_recording()
                self._recording = None
            self._want_recording = True
            self._open_recording(fresh=True)
            assert self._rec_id is not None
            return self._rec_id

        return self._call("start recording", start)

    def stop_recording(self) -> bool:
        """Stop the recording; the driver then reads one value per channel and tick."""

        def stop(u: _Unit) -> bool:
            self._want_recording = False
            if self._recording is None or self._project is None:
                return False
            self._project.stop_recording()
            self._recording = None
            return True

        return self._call("stop recording", stop)

    def save_project(self, filename: str = "") -> str:
        """Save the Otii project (filename empty: project_file, else where it was saved).
        A running recording is stopped for the save and a new one started; returns the file."""

        def save(u: _Unit) -> str:
            proj = self._project
            assert proj is not None
            target = filename or self._project_file
            if not target and not getattr(proj, "filename", None):
                raise OtiiRefused(
                    "the project has no file yet: give a filename or set project_file"
                )
            was_recording = self._recording is not None
            if was_recording:  # the server saves a stopped project only
                proj.stop_recording()
                self._recording = None
            saved = proj.save_as(target, force=True) if target else proj.save()
            if was_recording:
                self._open_recording(fresh=True)
            self._project_file = saved
            self.event(f"Otii project saved to {saved}", sname="project", priority=0)
            return saved

        return self._call("save project", save)

    def recordings(self) -> list[dict]:
        """Recordings of the project: [{id, name, start_time, running}, ...]."""

        def listing(u: _Unit) -> list[dict]:
            assert self._project is not None
            out = []
            for rec in self._project.get_recordings():
                start = rec.start_time.isoformat() if rec.start_time is not None else None
                out.append({"id": rec.id, "name": rec.name, "start_time": start})
            return out

        return self._call("list recordings", listing)

    def fetch_recording(self, recording_id: int = -1, channels: str = "") -> dict:
        """Copy a whole recording of the project into the logger (and its storage): signals
        <device>_rec<ID>.<Signal>, UART lines as events; recording_id -1 = the last one,
        channels empty = all it holds. Returns what was copied."""
        from rtoc_tui.transfer.imported import (
            Imported,
            ImportedEvent,
            ImportedSignal,
            import_into_logger,
        )

        try:
            wanted = parse_channels(channels, self._registry_name) if channels.strip() else None
        except SettingsError as exc:
            raise ValueError(str(exc).split(": ", 2)[-1]) from None

        def fetch(u: _Unit) -> tuple[Imported, int]:
            assert self._project is not None
            recs = self._project.get_recordings()
            rec = recs[-1] if recording_id == -1 and recs else None
            for r in recs:
                if r.id == recording_id:
                    rec = r
            if rec is None:
                known = ", ".join(str(r.id) for r in recs) or "none"
                raise OtiiRefused(
                    f"no recording {recording_id} in the project (recordings: {known})"
                )
            t0 = rec.start_time.timestamp() if rec.start_time is not None else time.time()
            data = Imported(source_format="otii")
            names = {u.arc.id: u for u in self._units.values() if u.arc is not None}
            multi = len(names) > 1
            for m in rec.measurements or []:
                dev_id, ch = m.get("device_id"), m.get("channel")
                unit = names.get(str(dev_id))
                if unit is None or ch not in ALL_CHANNELS or (wanted and ch not in wanted):
                    continue
                dname = f"{self._devicename}_rec{rec.id}" + (
                    f"_{_safe(unit.name)}" if multi else ""
                )
                self._step = f"fetch {ch} of recording {rec.id}"
                n = rec.get_channel_data_count(dev_id, ch)
                if ch == UART_CHANNEL:
                    lines = rec.get_channel_data(dev_id, ch, 0, n)["values"] if n else []
                    data.events += [
                        ImportedEvent(
                            t0 + float(e["timestamp"]),
                            str(e["value"]).strip(),
                            dname,
                            UART_SNAME,
                            0,
                            "uart",
                        )
                        for e in lines
                    ]
                    continue
                sname, unit_s = CHANNELS[ch]
                if ch in DIGITAL:
                    edges = rec.get_channel_data(dev_id, ch, 0, n)["values"] if n else []
                    x, y = _steps(t0, edges, None)
                else:
                    xs, ys = [], []
                    for i in range(0, n, FETCH_CHUNK):
                        chunk = rec.get_channel_data(dev_id, ch, i, min(FETCH_CHUNK, n - i))
                        y_part = np.asarray(chunk["values"], dtype=np.float64)
                        xs.append(
                            t0
                            + float(chunk["timestamp"])
                            + np.arange(len(y_part)) * float(chunk["interval"])
                        )
                        ys.append(y_part)
                    x = np.concatenate(xs) if xs else np.empty(0)
                    y = np.concatenate(ys) if ys else np.empty(0)
                data.signals.append(ImportedSignal(dname, sname, unit_s, x, y))
            return data, rec.id

        data, rid = self._call("fetch recording", fetch)
        assert self._host is not None
        result = import_into_logger(self._host, data)
        summary = {
            "recording_id": rid,
            "signals": [s.name for s in data.signals],
            "samples": result.samples,
            "events": result.events,
        }
        self.event(
            f"Otii recording {rid} copied: {len(data.signals)} signals, {result.samples} samples, "
            f"{result.events} UART lines",
            sname="recording",
            priority=0,
        )
        return summary

    def set_channel_samplerate(self, channel: str, value: int) -> int:
        """Set one channel's sample rate (restarts a running recording); returns the rate."""
        ch = channel_code(channel)
        if ch not in ANALOG:
            raise ValueError(f"{ch} has no sample rate (only {', '.join(ANALOG)})")
        self.samplerates = f"{ch}={int(value)}"
        return int(value)

    def enable_channel(self, channel: str, enable: bool = True) -> str:
        """Enable or disable one channel (restarts a running recording); returns the channels."""
        ch = channel_code(channel)
        chans = [c for c in self._channels if c != ch] + ([ch] if enable else [])
        if not chans:
            raise ValueError("at least one channel must stay enabled")
        self.channels = ",".join(c for c in ALL_CHANNELS if c in chans)
        return self.channels

    def write_tx(self, text: str, newline: bool = True) -> None:
        """Send text on the UART's TX pin (with CR LF unless newline=False)."""
        data = str(text) + ("\r\n" if newline else "")
        self._call("write to TX", lambda u: u.arc.write_tx(data))

    def calibrate(self) -> None:
        """Run the target device's internal calibration (main output off first)."""
        self._call("calibrate", lambda u: u.arc.calibrate())

    def set_all_main(self, enable: bool) -> None:
        """Switch the main output of every device on the server on or off."""

        def all_main(u: _Unit) -> None:
            assert self._otii is not None
            self._otii.set_all_main(bool(enable))
            for unit in self._units.values():
                unit.want["main_power"] = unit.status["main"] = bool(enable)

        self._call("switch all main outputs", all_main)

    def list_devices(self) -> list[dict]:
        """Devices the Otii server sees: [{device_id, name, type}, ...]."""

        def devices(u: _Unit) -> list[dict]:
            assert self._otii is not None
            found = self._otii.get_devices(timeout=self.settings["device_timeout_s"])
            return [{"device_id": d.id, "name": d.name, "type": d.type} for d in found]

        return self._call("list devices", devices)

    def list_licences(self) -> list[dict]:
        """Licences of the logged-in Otii user: [{id, type, available, reserved_to, hostname}]."""

        def licences(u: _Unit) -> list[dict]:
            assert self._otii is not None
            return self._otii.get_licenses()

        return self._call("list licences", licences)

    def battery_profiles(self) -> list[dict]:
        """Battery-emulator profiles: [{battery_profile_id, name, manufacturer, model}, ...]."""

        def profiles(u: _Unit) -> list[dict]:
            assert self._otii is not None
            self._ensure_licenses(self._otii, ["Battery"])
            return self._otii.get_battery_profiles()

        return self._call("battery profiles", profiles)

    def battery_profile_info(self, profile: str) -> dict:
        """A battery profile's data (capacity, voltages, temperatures ...), by name or id."""

        def info(u: _Unit) -> dict:
            assert self._otii is not None
            return self._otii.get_battery_profile_info(self._profile_id(str(profile)))

        return self._call("battery profile info", info)

    def battery_status(self) -> dict:
        """State of the emulated battery: soc (%), used_capacity (C), series, parallel, tracking."""

        def status(u: _Unit) -> dict:
            b = self._battery_of(u)
            return {
                "soc": b.get_soc(),
                "used_capacity": b.get_used_capacity(),
                "series": b.get_series(),
                "parallel": b.get_parallel(),
                "soc_tracking": b.get_soc_tracking(),
            }

        return self._call("battery status", status)

    def update_battery_profile(self, profile: str, keep_soc: bool = True) -> None:
        """Switch the emulated battery to another profile, keeping its state of charge or not."""

        def update(u: _Unit) -> None:
            pid = self._profile_id(str(profile))
            self._battery_of(u).update_profile(pid, "keep_soc" if keep_soc else "reset")
            u.want["battery_profile"] = str(profile)

        self._call("update battery profile", update)

    def reconnect(self) -> None:
        """Drop the connection; the next poll connects and configures the devices again."""
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
                    if self.settings["main_off_on_stop"] and self._connected:
                        self._step = "switch main off"
                        for u in self._units.values():
                            u.arc.set_main(False)
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
                if not self._connected:
                    self._connect()
                if self._recording is not None:
                    self._fetch()
                else:
                    self._sample_values()
                if time.monotonic() - self._last_status >= STATUS_INTERVAL_S:
                    self._read_status()
            except Exception as exc:
                raise self._failed(exc) from exc
            self._io_error = None

    def _failed(self, exc: BaseException) -> OtiiError:
        """Close the connection and build the exception the base class reports."""
        self._drop()
        detail, is_io = _describe(exc)
        if isinstance(exc, Otii_Exception) and exc.type == "Device not connected":
            found = re.search(r'ID: "([^"]*)"', str(exc.message))  # the client's text
            dev_id = found.group(1) if found else ""
            unit = self._units.get(dev_id)
            name = unit.name if unit is not None else dev_id
            detail = f"device {name} ({dev_id}) disconnected from the Otii server"
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
        self._conn = self._otii = self._project = self._recording = None
        self._connected = False
        for u in self._units.values():
            u.battery = None
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
            wanted = ["Automation"]
            if self._defaults.get("battery_profile") or any(
                u.want.get("battery_profile") for u in self._units.values()
            ):
                wanted.append("Battery")
            self._ensure_licenses(o, wanted)
        self._step = "find device"
        self._select_devices(o)
        self._step = "open project"
        try:
            proj = o.get_active_project()
        except otii.OtiiException:  # no project open in the Otii app
            proj = o.create_project()
            self.event(f"Otii: created project {proj.id}", sname="project", priority=0)
        self._project = proj
        for u in self._units.values():
            self._configure(u)
        if self._want_recording:
            self._open_recording(fresh=False)
        self._connected = True
        self._read_status()
        names = ", ".join(f"{u.name} ({u.arc.type} {u.arc.id})" for u in self._units.values())
        self.info(f"Otii: connected to {names} at {s['host']}:{s['port']}")

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
                if lic.get("available") and kind in LICENSE_MAP.get(str(lic.get("type")), [])
            ]
            if any(lic.get("reserved_to") for lic in fits):
                continue
            free = [lic for lic in fits if not lic.get("reserved_to")]
            if not free:
                have = ", ".join(f"{lic.get('type')}#{lic.get('id')}" for lic in licences) or "none"
                raise OtiiRefused(
                    f"no free {kind} licence on the Otii account (the {kind} Toolbox is needed; "
                    f"licences: {have})"
                )
            o.reserve_license(free[0]["id"])
            self._reserved.append(free[0]["id"])

    def _select_devices(self, o: otii.Otii) -> None:
        want = [w.strip() for w in self.settings["device"].split(",") if w.strip()]
        found = o.get_devices(timeout=self.settings["device_timeout_s"])
        if "*" in want:
            match = list(found)
        elif want:
            match = []
            for w in want:
                hit = [d for d in found if w in (d.name, d.id)]
                if not hit:
                    names = ", ".join(f"{d.name} ({d.id})" for d in found) or "none"
                    raise OtiiError(
                        f"no device {w!r} connected to the Otii server (found: {names})"
                    )
                match.append(hit[0])
        else:
            match = found[:1]
        if not match:
            raise OtiiError("no Arc/Ace device connected to the Otii server (found: none)")
        multi = len(match) > 1
        for d in match:
            u = self._units.get(d.id)
            if u is None:
                dname = f"{self._devicename}_{_safe(d.name)}" if multi else self._devicename
                u = _Unit(d.name, dname, dict(self._defaults))
                self._units[d.id] = u
            u.arc = d
        if self._target_id not in self._units:
            self._target_id = match[0].id

    def _configure(self, u: _Unit) -> None:
        """Bring a device to the wanted state (every value that is not None)."""
        a = u.arc
        self._step = f"configure {u.name}"
        a.add_to_project()
        u.versions = dict(a.get_version())
        for name, spec in CONTROLS.items():  # values left empty: show what the device has
            if u.want.get(name) is None and spec.read is not None:
                u.want[name] = spec.read(a)
        for name in (
            "range",
            "limit_mode",
            "max_current",
            "power_regulation",
            "main_current",
            "four_wire",
            "adc_resistor",
            "five_volt",
            "exp_port",
            "exp_voltage",
            "uart",
            "baudrate",
            "gpo1",
            "gpo2",
            "tx",
            "voltage_0_15",
        ):
            value = u.want.get(name)
            if value is None or (name == "tx" and u.want.get("uart")):
                continue
            if name == "voltage_0_15" and a.type != "Ace":
                continue
            self._step = f"configure {u.name}: {name}"
            CONTROLS[name].send(self, u, value)
        self._apply_supply(u)
        self._apply_channels(u)
        self._step = f"configure {u.name}: main_power"
        _send_main(self, u, bool(u.want.get("main_power")))

    def _apply_supply(self, u: _Unit) -> None:
        """Power box with main_voltage, or the battery emulator with battery_profile."""
        a = u.arc
        name = u.want.get("battery_profile") or ""
        if not name:
            u.battery = None
            a.set_supply_power_box()
            a.set_main_voltage(u.want["main_voltage"])
            return
        assert self._otii is not None
        self._ensure_licenses(self._otii, ["Battery"])
        pid = self._profile_id(name)
        used = u.want.get("battery_used_capacity")
        u.battery = a.set_supply_battery_emulator(
            pid,
            series=int(u.want.get("battery_series") or 1),
            parallel=int(u.want.get("battery_parallel") or 1),
            used_capacity=used,
            soc=None if used is not None else u.want.get("battery_soc"),
            soc_tracking=bool(u.want.get("soc_tracking", True)),
        )

    def _profile_id(self, name: str) -> str:
        assert self._otii is not None
        profiles = self._otii.get_battery_profiles()
        match = [p for p in profiles if name in (p.get("battery_profile_id"), p.get("name"))]
        if not match:
            known = ", ".join(str(p.get("name")) for p in profiles) or "none"
            raise OtiiRefused(f"no battery profile {name!r} (known: {known})")
        return str(match[0]["battery_profile_id"])

    def _battery_of(self, u: _Unit) -> battery_emulator.BatteryEmulator:
        if u.battery is None:
            raise OtiiRefused("the supply is not in battery-emulator mode (set battery_profile)")
        return u.battery

    def _apply_channels(self, u: _Unit) -> None:
        """Enable the wanted channels, disable the others, set the wanted sample rates."""
        a = u.arc
        for ch in ALL_CHANNELS:
            self._step = f"configure {u.name}: channel {ch}"
            a.enable_channel(ch, ch in self._channels)
        rates = {
            ch: self.settings["channel_samplerate"]
            for ch in self._channels
            if ch in ANALOG and self.settings["channel_samplerate"]
        }
        rates.update(self._samplerates)
        for ch, rate in rates.items():
            self._step = f"configure {u.name}: sample rate of {ch}"
            try:
                a.set_channel_samplerate(ch, rate)
            except Otii_Exception as exc:
                if exc.type != "Command not valid for device type":
                    raise
                have = a.get_channel_samplerate(ch)
                raise OtiiRefused(
                    f"{u.name} is an {a.type}: its {ch} sample rate is fixed at {have}/s "
                    f"(only an Ace takes {rate}/s); set samplerates/channel_samplerate for an Ace only"
                ) from exc
        u.status["rates"] = {
            ch: a.get_channel_samplerate(ch) for ch in self._channels if ch in ANALOG
        }

    def _reconfigure_channels(self) -> None:
        """New channels or rates: stop our recording, apply them, record again."""
        assert self._project is not None
        was = self._recording is not None
        if was:
            self._step = "stop recording"
            self._project.stop_recording()
            self._recording = None
        try:
            for u in self._units.values():
                self._apply_channels(u)
        finally:  # a refused rate must not leave the logger without a recording
            if was:
                self._open_recording(fresh=True)

    def _open_recording(self, *, fresh: bool) -> None:
        """Resume our recording if the server kept it running, else join or start one."""
        proj = self._project
        assert proj is not None
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
            self._last_state = {}
            # fall back to our clock when the server sends no start-time
            self._t0 = before
        if last.start_time is not None:
            self._t0 = last.start_time.timestamp()
        recorded = {(m.get("device_id"), m.get("channel")) for m in (last.measurements or [])}
        keys = []
        for dev_id, u in self._units.items():
            for ch in self._channels:
                if recorded and (dev_id, ch) not in recorded:
                    self.event(
                        f"Otii: recording {last.id} has no channel {ch} of {u.name}",
                        sname="recording",
                        priority=1,
                    )
                    continue
                keys.append((dev_id, ch))
        for key in keys:
            if key not in self._index:
                self._index[key] = 0 if self._rec_ours else last.get_channel_data_count(*key)
        self._rec_id = last.id
        self._rec_keys = tuple(keys)
        self._recording = last
        self._last_data = time.monotonic()

    def _fetch(self) -> None:
        """Append every channel's samples, edges and lines that arrived since the last poll."""
        rec = self._recording
        assert rec is not None and self._host is not None
        store = self._host.store
        limit = self.settings["max_batch"]
        got = False
        for key in self._rec_keys:
            dev_id, ch = key
            u = self._units[dev_id]
            self._step = f"read channel {ch} of {u.name}"
            start = self._index[key]
            n = min(rec.get_channel_data_count(dev_id, ch) - start, limit)
            if n <= 0:
                continue
            data = rec.get_channel_data(dev_id, ch, start, n)
            got = True
            if ch == UART_CHANNEL:
                self._ingest_lines(u, data["values"])
                self._index[key] = start + len(data["values"])
                continue
            if ch in DIGITAL:
                sname, unit = CHANNELS[ch]
                x, y = _steps(self._t0, data["values"], self._last_state.get(key))
                if len(y):
                    store.append(u.dname, sname, x, y, unit)
                    self._last_state[key] = float(y[-1])
                    self._ingested += len(data["values"])
                self._index[key] = start + len(data["values"])
                continue
            y = np.asarray(data["values"], dtype=np.float64)
            interval = float(data["interval"])
            if y.ndim != 1 or len(y) > n or not interval > 0:
                raise OtiiError(f"bad channel data for {ch}: {len(y)} values, interval {interval}")
            if not len(y):
                continue
            # x from the sample index (not the arrival time), so batches join without jitter
            x = self._t0 + (start + np.arange(len(y), dtype=np.float64)) * interval
            sname, unit = CHANNELS[ch]
            store.append(u.dname, sname, x, y, unit)
            self._index[key] = start + len(y)
            self._ingested += len(y)
        now = time.monotonic()
        if got:
            self._last_data = now
        elif now - self._last_data > 1.0:
            self._step = "check recording"
            for u in self._units.values():
                if not u.arc.is_connected():  # USB cable pulled: reconnecting finds it again
                    raise OtiiError(
                        f"device {u.name} ({u.arc.id}) disconnected from the Otii server"
                    )
            if not rec.is_running():  # stopped in the Otii app: keep showing live values
                self._recording = None
                self._want_recording = False
                self.event(f"Otii recording {rec.id} stopped", sname="recording", priority=0)

    def _ingest_lines(self, u: _Unit, values: list[dict]) -> None:
        """UART lines become events: searchable, and a trigger for actions (id 'uart')."""
        for entry in values:
            text = str(entry.get("value", "")).strip()
            if text:
                self.event(
                    text,
                    sname=UART_SNAME,
                    dname=u.dname,
                    priority=0,
                    id="uart",
                    x=self._t0 + float(entry["timestamp"]),
                )
                self._uart_lines += 1

    def _sample_values(self) -> None:
        """Without a recording: one present value per numeric channel (arc_get_value)."""
        assert self._host is not None
        store = self._host.store
        for u in self._units.values():
            for ch in self._channels:
                if ch == UART_CHANNEL:
                    continue
                self._step = f"read value {ch} of {u.name}"
                value = u.arc.get_value(ch)
                sname, unit = CHANNELS[ch]
                store.append_one(u.dname, sname, time.time(), float(value), unit)
                self._ingested += 1

    def _read_status(self) -> None:
        """Read back what each device does now (cheap getters, once a second)."""
        self._last_status = time.monotonic()
        for u in self._units.values():
            a = u.arc
            self._step = f"read state of {u.name}"
            st = u.status
            main = a.get_main()
            if st.get("main") and not main and u.want.get("main_power"):
                u.want["main_power"] = False
                self.event(
                    f"Otii: the main output of {u.name} switched off (over-current cut-off?)",
                    sname="main",
                    dname=u.dname,
                    priority=1,
                    id="otiiCutOff",
                )
            st["main"] = main
            st["gpi1"] = a.get_gpi(1)
            st["gpi2"] = a.get_gpi(2)
            st["rx"] = None if u.want.get("uart") else a.get_rx()
            st["four_wire"] = a.get_4wire()
            st["supply_mode"] = a.get_supply_mode()
            if u.battery is not None:
                st["soc"] = u.battery.get_soc()
                st["used_capacity"] = u.battery.get_used_capacity()
            else:
                st.pop("soc", None)
                st.pop("used_capacity", None)

    # -- helpers --------------------------------------------------------------------------------
    def _unit_or_none(self) -> _Unit | None:
        return self._units.get(self._target_id)

    def _status(self, key: str, default: Any) -> Any:
        u = self._unit_or_none()
        return default if u is None else u.status.get(key, default)

    def _wanted(self, name: str) -> Any:
        u = self._unit_or_none()
        if u is None:
            return self._defaults.get(name)
        if name == "main_power" and "main" in u.status:
            return u.status["main"]
        return u.want.get(name)

    def _set_control(self, name: str, value: Any) -> None:
        """Check a control's value, send it to the target device (restored if refused)."""
        spec = CONTROLS[name]
        try:
            value = spec.check(value)
        except ValueError as exc:
            raise ValueError(f"{name} {exc}") from None
        with self._io:
            u = self._unit_or_none()
            if u is None or not self._connected:
                self._defaults[name] = value  # applied when the poll connects
                for unit in self._units.values():
                    unit.want[name] = value
                return
            old = u.want.get(name)
            u.want[name] = value
            try:
                self._call(f"set {name}", lambda unit: spec.send(self, unit, value))
            except OtiiRefused:
                u.want[name] = old
                raise

    def _on_target(self, what: str, fn: Callable[[_Unit], Any]) -> Any:
        return self._call(what, fn)

    def _require_recording(self) -> otii_recording.Recording:
        if self._recording is not None:
            return self._recording
        if self._project is not None:
            last = self._project.get_last_recording()
            if last is not None:
                return last
        raise OtiiRefused("no recording (start one with start_recording())")

    def _call(self, what: str, fn: Callable[[_Unit], T]) -> T:
        """Run fn(target unit) on the connection; a refusal raises OtiiRefused, an I/O error
        drops the connection."""
        with self._io:
            u = self._unit_or_none()
            if not self._connected or u is None:
                reason = self._last_error or "not connected yet"
                raise OtiiError(f"Otii: cannot {what}: no connection to the Otii server ({reason})")
            self._step = what
            try:
                return fn(u)
            except Otii_Exception as exc:  # refused, but the connection is still in step
                raise OtiiRefused(f"Otii: {what}: {_describe(exc)[0]}") from exc
            except (OtiiError, OtiiRefused):
                raise
            except Exception as exc:
                raise self._failed(exc) from exc


def _steps(t0: float, edges: list[dict], last: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Digital edges [{timestamp, value}] -> x, y of a 0/1 step signal (a point just before
    each change holds the old level, so a line plot shows steps)."""
    xs: list[float] = []
    ys: list[float] = []
    for e in edges:
        t = t0 + float(e["timestamp"])
        y = 1.0 if e["value"] else 0.0
        if last is not None and y != last and (not xs or t - STEP_S > xs[-1]):
            xs.append(t - STEP_S)
            ys.append(last)
        if xs and t <= xs[-1]:
            continue
        xs.append(t)
        ys.append(y)
        last = y
    return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
