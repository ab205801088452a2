"""The one interface the UI (and CLI tools) use to reach a logger, local or remote.

Every method is async and returns plain frozen dataclasses or numpy arrays that belong to the
caller (copies, never live buffers). `LocalClient` calls the core in this process;
`RemoteClient` speaks the TCP protocol. Both pass the same contract tests
(tests/client/test_contract.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


class ClientError(RuntimeError):
    """The logger refused or failed a request; the message says why."""


class Disconnected(ClientError):
    """The remote logger is not reachable right now (RemoteClient reconnects by itself)."""


@dataclass(frozen=True, slots=True)
class Status:
    """Logger summary for the header and `rtoc status`."""

    name: str
    uptime_s: float
    signals: int
    samples_in_memory: int
    samples_total: int
    samples_per_s: float
    events: int
    devices_running: int
    clients: int
    storage: str
    storage_lag_s: float | None
    record_length: int


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A driver and its state."""

    name: str
    source: str  # builtin | entrypoint | user
    state: str  # stopped | running | stuck (its timer call hangs; reason says since when) | error
    reason: str
    devicename: str
    samplerate: float | None
    doc: str


@dataclass(frozen=True, slots=True)
class ParameterInfo:
    name: str
    value: Any
    type: str
    doc: str
    writable: bool
    group: str = ""  # the driver's grouping for the device screen ("" = none declared)


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    name: str
    signature: str
    doc: str


@dataclass(frozen=True, slots=True)
class DeviceDetail:
    """A running device's parameters and functions."""

    name: str
    devicename: str
    parameters: tuple[ParameterInfo, ...]
    functions: tuple[FunctionInfo, ...]


@dataclass(frozen=True, slots=True)
class SignalInfo:
    """A signal's metadata and newest sample."""

    id: int
    dname: str
    sname: str
    unit: str
    count: int
    written: int  # cursor value after the newest sample
    epoch: int  # changes when the signal was replaced or cleared
    updated: float  # wall clock of the last append
    latest: tuple[float, float] | None

    @property
    def name(self) -> str:
        return f"{self.dname}.{self.sname}"


@dataclass(frozen=True, slots=True)
class SignalChunk:
    """New samples of one signal since a cursor."""

    name: str
    x: np.ndarray
    y: np.ndarray
    cursor: int
    missed: int
    epoch: int


@dataclass(frozen=True, slots=True)
class SignalWindow:
    """A signal's samples in [xmin, xmax], decimated to about n_points (min/max per bucket)."""

    name: str
    unit: str
    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True, slots=True)
class SignalStats:
    name: str
    count: int
    min: float
    max: float
    mean: float
    integral: float
    xmin: float
    xmax: float


@dataclass(frozen=True, slots=True)
class EventInfo:
    seq: int
    x: float
    text: str
    dname: str
    sname: str
    priority: int
    id: str
    value: Any = None


@dataclass(frozen=True, slots=True)
class ScriptInfo:
    """A script run (once, repeated or triggered) and its state."""

    id: str
    name: str
    mode: str  # once | repeat | trigger
    state: str  # running | finished | error | stopped
    error: str = ""
    runs: int = 0


@dataclass(frozen=True, slots=True)
class ScriptOutput:
    """Output lines of a script since a cursor."""

    lines: tuple[str, ...]
    cursor: int
    state: str
    error: str = ""


@dataclass(frozen=True, slots=True)
class TelegramUserInfo:
    """A user of the Telegram bot (telegram_clients.json)."""

    chat_id: int
    name: str
    permission: str  # blocked | read | write | admin
    eventlevel: int


@dataclass(frozen=True, slots=True)
class TelegramState:
    """The Telegram bot of a logger: running or not, its link to Telegram and its users."""

    running: bool
    connected: bool = False
    username: str = ""
    users: tuple[TelegramUserInfo, ...] = ()
    messages_sent: int = 0
    dropped: int = 0
    pending: int = 0
    outage: bool = False
    last_error: str = ""


@dataclass(frozen=True)
class ConfigValue:
    key: str
    value: Any
    source: str  # default | file | env | cli
    doc: str


@dataclass(frozen=True)
class ServerInfo:
    """What the client knows about where it is connected."""

    host: str
    port: int | None
    remote: bool
    connected: bool
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImportSignal:
    """One signal to import in bulk (a file's column, say): 'Device.Signal', unit, samples."""

    name: str
    unit: str
    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What a bulk import stored: samples per signal, and what did not fit in memory."""

    signals: int
    samples: int
    stored: tuple[tuple[str, int], ...]
    dropped: int = 0  # samples beyond recordLength when the logger has no storage


ImportProgress = Callable[[int, int], None]  # (samples sent, samples in all); maybe off-loop


@runtime_checkable
class LoggerClient(Protocol):
    """What the UI may ask of a logger: the contract `LocalClient`, `RemoteClient` and the
    server's `rtoc` operations (server/ops.py, docs/protocol.md) share.

    Errors. A method raises `ClientError`, whose message says why (what to fix), when the
    logger refuses or fails a request. `RemoteClient` also raises:
    - `Disconnected` (a ClientError) at once, without waiting, from every method except `info`,
      `connect` and `close` while the connection is down; it reconnects in the background, so
      the same call works again once `info.connected` is True;
    - `ClientError` when no reply arrives in time (30 s; 300 s for start/stop_device,
      set_parameter, call_function, run/stop_script, set_config, import_signals' chunks and
      commit, query and export);
    - `ClientError` ("needs authentication") from the privileged methods unless it sent the
      install's token (read by itself on this machine) or tcp.password, or encrypts with it:
      device control (start/stop_device, set_parameter, call_function), clear/delete_signals,
      import_signals, clear_events, scripts and automation, set_config and export (whose path
      must stay inside the logger's exports/ folder).
    `LocalClient` is always connected and never raises `Disconnected`. "Needs a connection"
    below means: raises `Disconnected` from a RemoteClient whose connection is down.

    Results are copies (frozen dataclasses, fresh numpy arrays) that belong to the caller.
    """

    # connection
    @property
    def info(self) -> ServerInfo:
        """Where this client points and whether it is connected (`connected`, and for a remote
        client `extra`: state, last error, encrypted, the server's hello). Never raises; safe
        to read at any time, connected or not."""
        ...

    async def connect(self) -> None:
        """Connect to the logger. LocalClient: nothing to do. RemoteClient: makes the first
        attempt and keeps reconnecting in the background from then on; raises `Disconnected`
        (with the reason) if the first attempt fails, and `ClientError` after `close()`."""
        ...

    async def close(self) -> None:
        """Close the connection and stop reconnecting; pending calls fail with `Disconnected`.
        Never raises; safe to call when disconnected and more than once."""
        ...

    # overview
    async def status(self) -> Status:
        """The logger summary (uptime, signal and sample counts, rates, devices running,
        clients, storage and its lag). Needs a connection."""
        ...

    # devices
    async def devices(self) -> list[DeviceInfo]:
        """Every known driver (built in, from an entry point, from the user folder) with its
        state: stopped, running or error (the reason says why). Needs a connection."""
        ...

    async def device_detail(self, name: str) -> DeviceDetail:
        """The parameters (with values) and functions of the running driver `name`; a remote
        client gets secret-looking parameter values masked. Raises `ClientError` when the
        device is not running. Needs a connection."""
        ...

    async def start_device(self, name: str) -> DeviceInfo:
        """Start driver `name` (a no-op when it runs) and return its new state. Raises
        `ClientError` when no driver has that name or it fails to start (the reason is also
        logged as a deviceError event). Privileged; needs a connection."""
        ...

    async def stop_device(self, name: str) -> DeviceInfo:
        """Stop driver `name` (a no-op when it is stopped) and return its new state. Raises
        `ClientError` when no driver has that name. Privileged; needs a connection."""
        ...

    async def set_parameter(self, device: str, name: str, value: Any) -> Any:
        """Set a public parameter of the running driver `device`, converted to the type of
        its current value; returns the value it now has. Raises `ClientError` when the device
        is not running, the parameter is unknown or read-only, or the value does not convert.
        Privileged; needs a connection."""
        ...

    async def call_function(
        self,
        device: str,
        name: str,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """Call a public method of the running driver `device` (in a thread) and return its
        result (JSON-safe over a remote client). Raises `ClientError` when the device is not
        running, the function is not one of its public functions, or the call itself raised
        (the message names the exception). Privileged; needs a connection."""
        ...

    # signals
    async def signals(self) -> list[SignalInfo]:
        """Metadata of every signal in memory: unit, sample count, cursor (`written`), epoch
        and newest sample. Needs a connection."""
        ...

    async def read_since(self, cursors: dict[str, int]) -> dict[str, SignalChunk]:
        """The samples of each named signal after its cursor (0: everything held). A chunk's
        `cursor` is where to continue, `missed` counts samples that left the ring buffer
        unread, and a changed `epoch` means the signal was replaced or cleared. Unknown names
        are left out of the result. A remote server caps one call at 2 000 000 samples per
        signal; ask again from the returned cursor. Needs a connection."""
        ...

    async def window(
        self, names: list[str], xmin: float | None, xmax: float | None, n_points: int
    ) -> dict[str, SignalWindow]:
        """The in-memory samples of each named signal with xmin <= x <= xmax (None: open end),
        min/max-decimated to about n_points. Unknown names are left out. A remote client
        fetches only the buckets that changed since its last call. Needs a connection."""
        ...

    async def stats(
        self, name: str, xmin: float | None = None, xmax: float | None = None
    ) -> SignalStats | None:
        """Count, min, max, mean and integral of a signal's in-memory samples in [xmin, xmax];
        None when none fall in that range. Raises `ClientError` for an unknown signal. Needs
        a connection."""
        ...

    async def send(
        self,
        dname: str,
        values: dict[str, float],
        units: dict[str, str] | None = None,
        x: float | None = None,
    ) -> None:
        """Stream one sample per signal to device `dname` (RTOC's stream()), at time x (None:
        now). Raises `ClientError` for a value that is not a number. Needs a connection."""
        ...

    async def clear_signals(self, names: list[str] | None = None) -> None:
        """Drop the in-memory samples of the named signals (all when None); the signals stay
        listed and unknown names are ignored. Privileged; needs a connection."""
        ...

    async def import_signals(
        self, signals: list[ImportSignal], progress: ImportProgress | None = None
    ) -> ImportReport:
        """Add many samples of many signals as one transaction: all of them or none. Returns
        what was stored per signal (and, without storage, how many samples did not fit in
        memory). progress(sent, total) is called as samples go (maybe off the loop). Raises
        `ClientError` for a name that is not Device.Signal or x and y of different lengths
        (nothing stored), or a failure while storing (saying exactly what was stored). A
        RemoteClient stages the samples on the server and stores them on commit: a connection
        lost before the commit stores nothing (`ClientError`), one lost during the commit says
        the logger finishes it. Privileged; needs a connection."""
        ...

    async def delete_signals(self, names: list[str]) -> None:
        """Remove the named signals from memory entirely; unknown names are ignored.
        Privileged; needs a connection."""
        ...

    # events
    async def events_since(self, cursor: int = 0) -> list[EventInfo]:
        """Events with seq > cursor, oldest first (pass the last seq seen; 0: all held).
        Needs a connection."""
        ...

    async def add_event(
        self, text: str, dname: str = "", sname: str = "", priority: int = 0, id: str = ""
    ) -> None:
        """Record an event now; priority is clamped to 0 (info), 1 (warning) or 2 (error).
        Needs a connection."""
        ...

    async def clear_events(self) -> None:
        """Forget every event held in memory. Privileged; needs a connection."""
        ...

    # scripts and automation (rtoc_tui.scripting)
    async def run_script(
        self,
        source: str,
        name: str = "script",
        mode: str = "once",
        samplerate: float | None = None,
        triggers: list[str] | None = None,
    ) -> ScriptInfo:
        """Start an RTOC script: once, repeatedly at samplerate Hz (mode "repeat") or on new
        data of the trigger signals (mode "trigger"); returns the run, whose output
        `script_output` reads. Raises `ClientError` for a script that does not compile, a bad
        mode, rate or trigger list, or a logger without scripting. Privileged; needs a
        connection."""
        ...

    async def scripts(self) -> list[ScriptInfo]:
        """The script runs and their states ([] without scripting). Privileged; needs a
        connection."""
        ...

    async def stop_script(self, script_id: str) -> None:
        """Stop a script run (waiting up to 0.25 s for it to end). Raises `ClientError` for
        an unknown id or without scripting. Privileged; needs a connection."""
        ...

    async def script_output(self, script_id: str, cursor: int = 0) -> ScriptOutput:
        """Output lines of a run after cursor, the next cursor, its state and error text.
        Raises `ClientError` for an unknown id or without scripting. Privileged; needs a
        connection."""
        ...

    async def saved_scripts(self) -> list[str]:
        """Names of the scripts saved in the user folder's scripts/ ([] without scripting).
        Privileged; needs a connection."""
        ...

    async def load_script(self, name: str) -> str:
        """The source of a saved script. Raises `ClientError` for an invalid or unknown name,
        or without scripting. Privileged; needs a connection."""
        ...

    async def save_script(self, name: str, source: str) -> None:
        """Save source as scripts/<name>.py in the user folder (replacing it atomically).
        Raises `ClientError` for an invalid name, a write error, or without scripting.
        Privileged; needs a connection."""
        ...

    async def global_events(self) -> dict[str, dict[str, Any]]:
        """RTOC's global events: name -> definition (cond, text, priority, id, trigger ...); {}
        without scripting. Privileged; needs a connection."""
        ...

    async def set_global_event(self, name: str, spec: dict[str, Any] | None) -> None:
        """Create or replace a global event (spec None deletes it) and save the set. Raises
        `ClientError` for an invalid definition or without scripting. Privileged; needs a
        connection."""
        ...

    async def global_actions(self) -> dict[str, dict[str, Any]]:
        """RTOC's global actions: name -> definition (listenID, script, active ...); {}
        without scripting. Privileged; needs a connection."""
        ...

    async def set_global_action(self, name: str, spec: dict[str, Any] | None) -> None:
        """Create or replace a global action (spec None deletes it) and save the set. Raises
        `ClientError` for an invalid definition or without scripting. Privileged; needs a
        connection."""
        ...

    # the Telegram bot (rtoc_tui.telegram), if the logger runs one
    async def telegram(self) -> TelegramState: ...
    async def set_telegram_role(self, chat_id: int, role: str) -> TelegramState: ...

    # settings
    async def config(self) -> list[ConfigValue]:
        """Every config key with its value, where the value came from (default, file, env,
        cli) and its doc; secrets are masked. Needs a connection."""
        ...

    async def set_config(self, updates: dict[str, Any]) -> list[ConfigValue]:
        """Validate {"section.key": value} updates, write them to config.json and apply those
        that take effect at runtime; a secret sent back masked keeps its stored value. Returns
        the config afterwards. Raises `ClientError` naming the key for an unknown key or a bad
        value (nothing is written then). Privileged; needs a connection."""
        ...

    # storage (rtoc_tui.storage)
    async def query(
        self, name: str, xmin: float | None, xmax: float | None, max_n: int
    ) -> SignalWindow:
        """A signal's history in [xmin, xmax] decimated to about max_n points: from storage
        when the logger has it, else from memory. Raises `ClientError` for an unknown signal.
        Needs a connection."""
        ...

    async def export(
        self,
        path: str,
        names: list[str] | None,
        xmin: float | None,
        xmax: float | None,
        fmt: str = "csv",
    ) -> str:
        """Write the named signals (all when None) in [xmin, xmax], stored history and memory,
        to path on the logger's machine (a remote logger confines it to its exports/ folder),
        as fmt; returns the path written.
        Raises `ClientError` for an unknown format or a write error. Privileged; needs a
        connection."""
        ...
