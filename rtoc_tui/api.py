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
    """What the UI may ask of a logger."""

    # connection
    @property
    def info(self) -> ServerInfo: ...
    async def connect(self) -> None: ...
    async def close(self) -> None: ...

    # overview
    async def status(self) -> Status: ...

    # devices
    async def devices(self) -> list[DeviceInfo]: ...
    async def device_detail(self, name: str) -> DeviceDetail: ...
    async def start_device(self, name: str) -> DeviceInfo: ...
    async def stop_device(self, name: str) -> DeviceInfo: ...
    async def set_parameter(self, device: str, name: str, value: Any) -> Any: ...
    async def call_function(
        self,
        device: str,
        name: str,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any: ...

    # signals
    async def signals(self) -> list[SignalInfo]: ...
    async def read_since(self, cursors: dict[str, int]) -> dict[str, SignalChunk]: ...
    async def window(
        self, names: list[str], xmin: float | None, xmax: float | None, n_points: int
    ) -> dict[str, SignalWindow]: ...
    async def stats(
        self, name: str, xmin: float | None = None, xmax: float | None = None
    ) -> SignalStats | None: ...
    async def send(
        self,
        dname: str,
        values: dict[str, float],
        units: dict[str, str] | None = None,
        x: float | None = None,
    ) -> None: ...
    async def clear_signals(self, names: list[str] | None = None) -> None: ...
    async def import_signals(
        self, signals: list[ImportSignal], progress: ImportProgress | None = None
    ) -> ImportReport:
        """Add many samples of many signals as one transaction: all of them or none (a
        failure while storing raises ClientError saying exactly what was stored)."""
        ...

    async def delete_signals(self, names: list[str]) -> None: ...

    # events
    async def events_since(self, cursor: int = 0) -> list[EventInfo]: ...
    async def add_event(
        self, text: str, dname: str = "", sname: str = "", priority: int = 0, id: str = ""
    ) -> None: ...
    async def clear_events(self) -> None: ...

    # scripts and automation (rtoc_tui.scripting)
    async def run_script(
        self,
        source: str,
        name: str = "script",
        mode: str = "once",
        samplerate: float | None = None,
        triggers: list[str] | None = None,
    ) -> ScriptInfo: ...
    async def scripts(self) -> list[ScriptInfo]: ...
    async def stop_script(self, script_id: str) -> None: ...
    async def script_output(self, script_id: str, cursor: int = 0) -> ScriptOutput: ...
    async def saved_scripts(self) -> list[str]: ...
    async def load_script(self, name: str) -> str: ...
    async def save_script(self, name: str, source: str) -> None: ...
    async def global_events(self) -> dict[str, dict[str, Any]]: ...
    async def set_global_event(self, name: str, spec: dict[str, Any] | None) -> None: ...
    async def global_actions(self) -> dict[str, dict[str, Any]]: ...
    async def set_global_action(self, name: str, spec: dict[str, Any] | None) -> None: ...

    # settings
    async def config(self) -> list[ConfigValue]: ...
    async def set_config(self, updates: dict[str, Any]) -> list[ConfigValue]: ...

    # storage (rtoc_tui.storage)
    async def query(
        self, name: str, xmin: float | None, xmax: float | None, max_n: int
    ) -> SignalWindow: ...
    async def export(
        self,
        path: str,
        names: list[str] | None,
        xmin: float | None,
        xmax: float | None,
        fmt: str = "csv",
    ) -> str: ...
