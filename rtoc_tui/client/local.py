"""LocalClient: the client interface over a Logger in this process.

Calls that may block (starting a driver, exporting a file) run in a thread so the UI loop never
waits on I/O; everything else is a quick in-memory read that returns copies.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np

from ..api import (
    ClientError,
    ConfigValue,
    DeviceDetail,
    DeviceInfo,
    EventInfo,
    FunctionInfo,
    ImportProgress,
    ImportReport,
    ImportSignal,
    ParameterInfo,
    ScriptInfo,
    ScriptOutput,
    ServerInfo,
    SignalChunk,
    SignalInfo,
    SignalStats,
    SignalWindow,
    Status,
    TelegramState,
    TelegramUserInfo,
)
from ..config.home import get_value, update_config_file
from ..config.schema import (
    SECRET_MASK,
    ConfigError,
    field_doc,
    is_secret,
    iter_fields,
    mask_secret,
    redact_logs,
    restore_secrets,
)
from ..core import introspect
from ..core.buffer import BufferFull
from ..core.devices import DeviceError
from ..core.logger import Logger
from ..core.store import retry_full

# How long a send waits for storage to make room before it is refused (back-pressure).
SEND_WAIT_S = 10.0

if TYPE_CHECKING:
    from ..scripting.engine import Automation

_P = ParamSpec("_P")
_R = TypeVar("_R")

# Config keys whose values never leave the logger (the UI shows that a value is set, not it).


def status_of(logger: Logger) -> Status:
    s = logger.status()
    return Status(
        name=s.name,
        uptime_s=s.uptime_s,
        signals=s.signals,
        samples_in_memory=s.samples_in_memory,
        samples_total=s.samples_total,
        samples_per_s=s.samples_per_s,
        events=s.events,
        devices_running=s.devices_running,
        clients=s.clients,
        storage=s.storage,
        storage_lag_s=s.storage_lag_s,
        record_length=logger.store.record_length,
    )


def devices_of(logger: Logger) -> list[DeviceInfo]:
    return [
        DeviceInfo(d.name, d.source, d.state, d.reason, d.devicename, d.samplerate, d.doc)
        for d in logger.devices.status()
    ]


def device_detail_of(logger: Logger, name: str) -> DeviceDetail:
    plugin = logger.devices.get(name)
    if plugin is None:
        raise ClientError(f"device {name!r} is not running")
    return DeviceDetail(
        name=name,
        devicename=plugin.devicename,
        parameters=tuple(
            ParameterInfo(p.name, p.value, p.type, p.doc, p.writable, p.group)
            for p in introspect.parameters(plugin)
        ),
        functions=tuple(
            FunctionInfo(f.name, f.signature, f.doc) for f in introspect.functions(plugin)
        ),
    )


def signals_of(logger: Logger) -> list[SignalInfo]:
    return [
        SignalInfo(i.id, i.dname, i.sname, i.unit, i.count, i.written, i.epoch, i.updated, i.latest)
        for i in logger.store.info()
    ]


def read_since_of(logger: Logger, cursors: dict[str, int]) -> dict[str, SignalChunk]:
    out = {}
    for name, cursor in cursors.items():
        buf = logger.store.get(name)
        if buf is None:
            continue
        r = buf.read_since(int(cursor))
        out[name] = SignalChunk(name, r.x, r.y, r.cursor, r.missed, r.epoch)
    return out


def window_of(
    logger: Logger, names: list[str], xmin: float | None, xmax: float | None, n_points: int
) -> dict[str, SignalWindow]:
    out = {}
    for name in names:
        buf = logger.store.get(name)
        if buf is None:
            continue
        x, y = buf.window(xmin, xmax, n_points)
        out[name] = SignalWindow(name, buf.unit, x, y)
    return out


def stats_of(
    logger: Logger, name: str, xmin: float | None, xmax: float | None
) -> SignalStats | None:
    buf = logger.store.get(name)
    if buf is None:
        raise ClientError(f"no signal named {name!r}")
    st = buf.stats(xmin, xmax)
    if st is None:
        return None
    return SignalStats(name, st.count, st.min, st.max, st.mean, st.integral, st.xmin, st.xmax)


def events_of(logger: Logger, cursor: int) -> list[EventInfo]:
    return [
        EventInfo(e.seq, e.x, e.text, e.dname, e.sname, e.priority, e.id, e.value)
        for e in logger.events.since(cursor)
    ]


class _ProgressAdapter:
    """A transfer ProgressSink that calls an ImportProgress(done, total)."""

    def __init__(self, fn: ImportProgress | None, total: int) -> None:
        self.fn, self.total, self.done = fn, total, 0

    def start(self, description: str, total: float | None) -> None:
        return None

    def advance(self, amount: float) -> None:
        self.done += int(amount)
        if self.fn is not None:
            self.fn(self.done, self.total)

    def finish(self) -> None:
        return None


def import_signals_into(
    logger: Logger, signals: list[ImportSignal], progress: ImportProgress | None = None
) -> ImportReport:
    """Bulk import into a logger (LocalClient, and the server's staged imports on commit)."""
    from ..transfer.imported import ImportIncomplete, import_into_logger
    from ..transfer.model import Imported, ImportedSignal

    data = Imported(source_format="client")
    for s in signals:
        dname, dot, sname = s.name.partition(".")
        if not dot or not dname or not sname:
            raise ClientError(
                f"import refused, nothing was stored: signal name {s.name!r} is not Device.Signal"
            )
        data.signals.append(
            ImportedSignal(
                dname,
                sname,
                s.unit or "",
                np.asarray(s.x, dtype=float).reshape(-1),
                np.asarray(s.y, dtype=float).reshape(-1),
            )
        )
    try:
        res = import_into_logger(logger, data, _ProgressAdapter(progress, data.samples))
    except ValueError as exc:  # refused before anything was stored
        raise ClientError(f"import refused, nothing was stored: {exc}") from exc
    except ImportIncomplete as exc:
        raise ClientError(str(exc)) from exc
    return ImportReport(res.signals, res.samples, res.stored, res.dropped)


def config_of(logger: Logger) -> list[ConfigValue]:
    prov = logger.loaded.provenance
    out = []
    for key, value, f, _tp in iter_fields(logger.config):
        value = mask_secret(key, value)
        out.append(ConfigValue(key, value, prov.get(key, "default"), field_doc(f)))
    return out


def telegram_state_of(logger: Logger) -> TelegramState:
    """The state of the logger's Telegram bot (runtime sets `logger.telegram` when it runs)."""
    bot = logger.telegram
    if bot is None:
        return TelegramState(running=False)
    st = bot.state()
    return TelegramState(
        running=bool(st["running"]),
        connected=bool(st["connected"]),
        username=str(st["username"]),
        users=tuple(
            TelegramUserInfo(
                int(u["chat_id"]), str(u["name"]), str(u["permission"]), int(u["eventlevel"])
            )
            for u in st["users"]
        ),
        messages_sent=int(st["messages_sent"]),
        dropped=int(st["lines_dropped"]),
        pending=int(st["pending"]),
        outage=bool(st["outage"]),
        last_error=str(st["last_error"]),
    )


def set_telegram_role_of(logger: Logger, chat_id: int, role: str) -> TelegramState:
    """Change a bot user's role (the bot checks roles on every update, so it applies at once)."""
    bot = logger.telegram
    if bot is None:
        raise ClientError(
            "the Telegram bot is not running; change roles with 'rtoc config telegram --role'"
        )
    try:
        bot.users.set_permission(int(chat_id), str(role))
    except (ValueError, OSError) as exc:  # UsersError is a ValueError
        raise ClientError(str(exc)) from exc
    return telegram_state_of(logger)


def apply_config(logger: Logger, updates: dict[str, Any]) -> None:
    """Validate and save config changes, then apply those that take effect at runtime."""
    # a masked secret sent back unchanged means "keep the stored one"
    updates = {k: v for k, v in updates.items() if not (is_secret(k) and v == SECRET_MASK)}
    for key, value in updates.items():  # also at any depth (devices.OctoPrint.api_key)
        try:
            updates[key] = restore_secrets(key, value, get_value(logger.config, key))
        except ConfigError:
            pass  # an unknown key: update_config_file names it
    try:
        cfg = update_config_file(logger.home.config_file, updates)
    except ConfigError as exc:
        raise ClientError(str(exc)) from exc
    for key in updates:
        section, _, name = key.partition(".")
        setattr(logger.config.section(section), name, get_value(cfg, key))
        logger.loaded.provenance[key] = "file"
    if "global.recordLength" in updates:
        try:  # samples a smaller ring would drop are stored first (waits up to store.block_s)
            logger.store.resize(logger.config.global_.recordLength)
        except BufferFull as exc:
            raise ClientError(
                f"recordLength is saved but not applied yet: {exc}. It applies at the next "
                "start, or set it again once storage has caught up"
            ) from exc
    g = logger.config.global_  # limits take effect at once (core/store.py LimitError)
    logger.store.max_signals, logger.store.max_name_length = g.maxSignals, g.maxNameLength
    logger.events.max_event_bytes = g.maxEventBytes
    redact_logs(logger.config.to_json())  # new secrets are masked in log lines too


class LocalClient:
    """The client interface over an in-process Logger."""

    def __init__(self, logger: Logger) -> None:
        self.logger = logger

    @property
    def info(self) -> ServerInfo:
        # The web view (a service of this logger) tells the TUI header its address.
        web = self.logger.web
        extra = {"web": web.url} if web is not None and web.running else {}
        return ServerInfo(host="local", port=None, remote=False, connected=True, extra=extra)

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def status(self) -> Status:
        return status_of(self.logger)

    # -- devices ------------------------------------------------------------------------------
    async def devices(self) -> list[DeviceInfo]:
        return devices_of(self.logger)

    def _device(self, name: str) -> DeviceInfo:
        for d in devices_of(self.logger):
            if d.name == name:
                return d
        raise ClientError(f"no driver named {name!r}")

    async def device_detail(self, name: str) -> DeviceDetail:
        return device_detail_of(self.logger, name)

    async def start_device(self, name: str) -> DeviceInfo:
        try:
            await self.logger.run_in("device", self.logger.devices.start, name)
        except DeviceError as exc:
            raise ClientError(str(exc)) from exc
        return self._device(name)

    async def stop_device(self, name: str) -> DeviceInfo:
        await self.logger.run_in("device", self.logger.devices.stop, name)
        return self._device(name)

    def _plugin(self, device: str) -> Any:
        plugin = self.logger.devices.get(device)
        if plugin is None:
            raise ClientError(f"device {device!r} is not running")
        return plugin

    async def set_parameter(self, device: str, name: str, value: Any) -> Any:
        try:
            return introspect.set_parameter(self._plugin(device), name, value)
        except introspect.IntrospectionError as exc:
            raise ClientError(str(exc)) from exc

    async def call_function(
        self,
        device: str,
        name: str,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        plugin = self._plugin(device)
        try:
            return await self.logger.run_in(
                "device",
                functools.partial(introspect.call_function, **(kwargs or {})),
                plugin,
                name,
                *(args or []),
            )
        except introspect.IntrospectionError as exc:
            raise ClientError(str(exc)) from exc
        except Exception as exc:  # the device function itself failed
            raise ClientError(f"{device}.{name} failed: {type(exc).__name__}: {exc}") from exc

    # -- signals ------------------------------------------------------------------------------
    async def signals(self) -> list[SignalInfo]:
        return signals_of(self.logger)

    async def read_since(self, cursors: dict[str, int]) -> dict[str, SignalChunk]:
        return read_since_of(self.logger, cursors)

    async def window(
        self, names: list[str], xmin: float | None, xmax: float | None, n_points: int
    ) -> dict[str, SignalWindow]:
        return window_of(self.logger, names, xmin, xmax, n_points)

    async def stats(
        self, name: str, xmin: float | None = None, xmax: float | None = None
    ) -> SignalStats | None:
        return stats_of(self.logger, name, xmin, xmax)

    async def send(
        self,
        dname: str,
        values: dict[str, float],
        units: dict[str, str] | None = None,
        x: float | None = None,
    ) -> None:
        units = units or {}
        names = list(values)
        try:
            await retry_full(
                self.logger.store,
                lambda: self.logger.stream(
                    [values[n] for n in names],
                    names,
                    dname=dname,
                    unit=[units.get(n, "") for n in names],
                    x=None if x is None else [x] * len(names),
                    wait=0.0,
                ),
                SEND_WAIT_S,
            )
        except BufferFull as exc:
            raise ClientError(exc.advice()) from exc
        except (TypeError, ValueError) as exc:
            raise ClientError(str(exc)) from exc

    async def clear_signals(self, names: list[str] | None = None) -> None:
        self.logger.store.clear(names)

    async def delete_signals(self, names: list[str]) -> None:
        self.logger.store.remove(names)

    async def import_signals(
        self, signals: list[ImportSignal], progress: ImportProgress | None = None
    ) -> ImportReport:
        return await asyncio.to_thread(import_signals_into, self.logger, signals, progress)

    # -- events -------------------------------------------------------------------------------
    async def events_since(self, cursor: int = 0) -> list[EventInfo]:
        return events_of(self.logger, cursor)

    async def add_event(
        self, text: str, dname: str = "", sname: str = "", priority: int = 0, id: str = ""
    ) -> None:
        self.logger.event(text, sname=sname, dname=dname, priority=priority, id=id)

    async def clear_events(self) -> None:
        self.logger.events.clear()

    # -- scripts and automation (rtoc_tui.scripting, as logger.automation) ----------------
    def _automation(self) -> Automation:
        auto = self.logger.automation
        if auto is None:
            raise ClientError("scripting is not available in this logger")
        return auto

    async def _auto_call(self, fn: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Call an automation method in a thread (stop waits, files are read and written)."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except (ValueError, LookupError, OSError) as exc:  # ScriptingError is a ValueError
            raise ClientError(str(exc)) from exc

    async def run_script(
        self,
        source: str,
        name: str = "script",
        mode: str = "once",
        samplerate: float | None = None,
        triggers: list[str] | None = None,
    ) -> ScriptInfo:
        return await self._auto_call(
            self._automation().run, source, name, mode, samplerate, triggers
        )

    async def scripts(self) -> list[ScriptInfo]:
        if self.logger.automation is None:
            return []
        return await self._auto_call(self._automation().list)

    async def stop_script(self, script_id: str) -> None:
        await self._auto_call(self._automation().stop, script_id)

    async def script_output(self, script_id: str, cursor: int = 0) -> ScriptOutput:
        return await self._auto_call(self._automation().output, script_id, cursor)

    async def saved_scripts(self) -> list[str]:
        if self.logger.automation is None:
            return []
        return await self._auto_call(self._automation().saved)

    async def load_script(self, name: str) -> str:
        return await self._auto_call(self._automation().load, name)

    async def save_script(self, name: str, source: str) -> None:
        await self._auto_call(self._automation().save, name, source)

    async def global_events(self) -> dict[str, dict[str, Any]]:
        if self.logger.automation is None:
            return {}
        return await self._auto_call(self._automation().global_events)

    async def set_global_event(self, name: str, spec: dict[str, Any] | None) -> None:
        await self._auto_call(self._automation().set_global_event, name, spec)

    async def global_actions(self) -> dict[str, dict[str, Any]]:
        if self.logger.automation is None:
            return {}
        return await self._auto_call(self._automation().global_actions)

    async def set_global_action(self, name: str, spec: dict[str, Any] | None) -> None:
        await self._auto_call(self._automation().set_global_action, name, spec)

    # -- the Telegram bot ---------------------------------------------------------------------
    async def telegram(self) -> TelegramState:
        return telegram_state_of(self.logger)

    async def set_telegram_role(self, chat_id: int, role: str) -> TelegramState:
        return await asyncio.to_thread(set_telegram_role_of, self.logger, chat_id, role)

    # -- settings -----------------------------------------------------------------------------
    async def config(self) -> list[ConfigValue]:
        return config_of(self.logger)

    async def set_config(self, updates: dict[str, Any]) -> list[ConfigValue]:
        await asyncio.to_thread(apply_config, self.logger, updates)
        return config_of(self.logger)

    # -- storage (filled in by rtoc_tui.storage) -----------------------------------------
    async def query(
        self, name: str, xmin: float | None, xmax: float | None, max_n: int
    ) -> SignalWindow:
        storage = self.logger.storage
        buf = self.logger.store.get(name)
        if storage is None:
            if buf is None:
                raise ClientError(f"no signal named {name!r}")
            x, y = buf.window(xmin, xmax, max_n)
            return SignalWindow(name, buf.unit, x, y)
        unit = await self.logger.run_in("storage", storage.unit, name)
        if unit is None:
            raise ClientError(f"no signal named {name!r}")
        x, y = await self.logger.run_in("storage", storage.query, name, xmin, xmax, max_n)
        return SignalWindow(name, unit, x, y)

    async def export(
        self,
        path: str,
        names: list[str] | None,
        xmin: float | None,
        xmax: float | None,
        fmt: str = "csv",
    ) -> str:
        from ..transfer import ExportError, export_logger  # transfer imports this module

        try:
            out = await self.logger.run_in(
                "storage", export_logger, self.logger, path, names, xmin, xmax, fmt
            )
        except (ExportError, OSError) as exc:
            raise ClientError(f"export failed: {exc}") from exc
        return str(out)
