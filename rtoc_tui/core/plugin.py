"""RTOC's plugin API: the `LoggerPlugin` base class every driver derives from.

Kept call-compatible with RTOC 2.x/3.x so unmodified plugin files run: `setDeviceName`, `stream`
(y+snames, slist and sdict forms), `plot`, `event`, `setPerpetualTimer`, `start`, `cancel`,
`samplerate`, `setSamplerate`/`setInterval`, `info/warning/error/debug`, persistent variables and
`getDir`. On top of RTOC it adds:

- declared, validated settings (`SETTINGS`, values from config.json `devices.<name>`);
- failure isolation: an exception in the timer function becomes an error state, an error event
  and a log line; the timer keeps running with exponential back-off until a call succeeds again,
  then the device is marked recovered. RTOC let such exceptions kill the timer thread.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
import types
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ..config.schema import declare_secret_name
from . import ingest
from .buffer import BufferFull
from .settings import Setting, validate_settings

log = logging.getLogger("rtoc.plugin")

_construction = threading.local()  # set by the DeviceManager while it builds a plugin

BACKOFF_MAX_S = 30.0
# A timer call running longer than this (or 10 periods) marks its driver `stuck` (watchdog).
STUCK_MIN_S = 10.0


def construction_context(host: Any, name: str, settings: Mapping[str, Any] | None) -> Any:
    """Context manager the device manager uses so a plugin's __init__ finds its logger."""

    class _Ctx:
        def __enter__(self) -> None:
            _construction.host = host
            _construction.name = name
            _construction.settings = settings

        def __exit__(self, *exc: object) -> None:
            _construction.host = None
            _construction.name = None
            _construction.settings = None

    return _Ctx()


class LoggerPlugin:
    """Base class of RTOC device plugins (drivers)."""

    SETTINGS: ClassVar[Mapping[str, Setting]] = {}
    """Declared settings: name -> Setting(default, doc). Values come from config.json."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, setting in cls.SETTINGS.items():  # one secrets rule: the schema's
            if getattr(setting, "secret", False):
                declare_secret_name(name)

    def __init__(self, logger: Any = None, *args: Any, **kwargs: Any) -> None:
        host = logger if hasattr(logger, "store") and hasattr(logger, "events") else None
        if host is None:
            host = getattr(_construction, "host", None)
        self._host = host
        self.logger = host  # RTOC plugins read self.logger
        self._registry_name = getattr(_construction, "name", None) or type(self).__name__
        self._devicename = "noDevice"
        self.run = False  # RTOC: loops in plugin threads check `while self.run:`
        self.smallGUI = False
        self.widget = None
        self._samplerate: float = 1.0
        self._timer: _PerpetualTimer | None = None
        self._log: deque[list[Any]] = deque([], 100)
        self._pv_file = None
        self._failures = 0
        self._last_error: str | None = None
        self._module_prefix: str | None = None  # set by the device manager: crash attribution
        self._thread_died = False
        self._tcp: Any = None  # createTCPClient's jsonsocket.Client
        self._tcp_address = ("localhost", 5050)
        self._tcp_password: str | None = None
        self._tcp_threaded = True
        self._state_lock = threading.Lock()
        # storage could not keep up (the signal): reported once, then refused without waiting
        self._storage_overflow: str | None = None
        given = getattr(_construction, "settings", None)
        self.settings: dict[str, Any] = validate_settings(self._registry_name, self.SETTINGS, given)
        self.rtoc: types.ModuleType | None  # RTOC's script library, `self.rtoc.resample(...)`
        try:
            from . import scriptlib

            self.rtoc = scriptlib
        except ImportError:  # scripting is optional for plugins
            self.rtoc = None

    # -- identity ---------------------------------------------------------------------------
    def setDeviceName(self, devicename: str = "noDevice") -> None:
        """Set the default device name used for every signal and event of this plugin."""
        self._devicename = str(devicename)

    @property
    def devicename(self) -> str:
        return self._devicename

    def getDir(self, dir: str | None = None) -> str:
        """The folder of the given file (default: this plugin's module file)."""
        if dir is None:
            dir = sys.modules[type(self).__module__].__file__ or __file__
        return os.path.dirname(os.path.realpath(dir))

    # -- data -------------------------------------------------------------------------------
    def stream(
        self,
        y: Any = None,
        snames: Any = None,
        dname: str | None = None,
        unit: Any = None,
        x: Any = None,
        slist: Any = None,
        sdict: Any = None,
    ) -> bool:
        """Send new measurements: y+snames (+unit, x), slist [[y, sname, unit], ...] or
        sdict {dname: {sname: [y, unit]}}. x defaults to now. Returns True when stored."""
        host = self._host
        if host is None:
            log.error(
                "STREAM_ERROR: cannot stream signals, plugin %s has no logger", self._devicename
            )
            return False
        if dname is None:
            dname = self._devicename
        ty = type(y)
        if (ty is float or ty is int) and slist is None and sdict is None:
            # hot path: one sample of one signal
            if type(snames) is not str:
                snames = snames[0] if snames else "noName"
            if unit is not None and type(unit) is not str:
                unit = unit[0] if unit else None
            if x is None:
                x = time.time()
            elif type(x) is not float and type(x) is not int:
                x = x[0]
            try:
                # after an overflow was reported, refuse at once instead of blocking each call
                host.store.append_one(
                    dname, snames, x, y, unit, 0.0 if self._storage_overflow else None
                )
            except BufferFull as exc:
                return self._overflowed(exc)
        else:
            try:
                wait = 0.0 if self._storage_overflow else None
                ingest.stream(host.store, dname, y, snames, unit, x, slist, sdict, wait)
            except BufferFull as exc:
                return self._overflowed(exc)
            except (TypeError, ValueError) as exc:
                log.error("STREAM_ERROR from %s: %s", self._devicename, exc)
                return False
        if self._storage_overflow is not None:
            self._overflow_ended()
        return True

    def _overflowed(self, exc: BufferFull) -> bool:
        """Storage did not make room within the store's block_s: these samples are refused
        (never stored samples dropped). Reported once per episode, as an event and in the log."""
        if self._storage_overflow is None:
            self._storage_overflow = exc.name
            text = (
                f"{self._devicename}: storage cannot keep up, new samples are refused until it "
                f"does ({exc})"
            )
            log.error("STREAM_OVERFLOW %s", text)
            host = self._host
            if host is not None:
                host.events.add(
                    text,
                    dname="RTOC",
                    sname="storage",
                    priority=2,
                    id="storageOverflow",
                    value=exc.name,
                )
        return False

    def _overflow_ended(self) -> None:
        log.warning("%s: storage caught up, samples are stored again", self._devicename)
        self._storage_overflow = None

    def plot(
        self,
        x: Any = None,
        y: Any = None,
        sname: str = "noName",
        dname: str | None = None,
        unit: str = "",
        hold: str = "off",
        autoResize: bool = False,
    ) -> bool:
        """Send an XY signal: hold 'off' replaces, 'on' appends, 'mergeX'/'mergeY' add new points."""
        host = self._host
        if host is None:
            log.warning("plot: plugin %s has no logger", self._devicename)
            return False
        x = [] if x is None else x
        y = [] if y is None else y
        if len(y) == 0:
            y, x = x, list(range(len(x)))
        if dname is None:
            dname = self._devicename
        if autoResize and len(x) > host.store.record_length:
            host.store.resize(len(x))
        try:
            host.store.plot(
                x, y, sname, dname, unit, hold=hold, wait=0.0 if self._storage_overflow else None
            )
        except BufferFull as exc:
            return self._overflowed(exc)
        except (TypeError, ValueError) as exc:
            log.error("PLOT_ERROR from %s: %s", self._devicename, exc)
            return False
        return True

    def event(
        self,
        text: str = "",
        sname: str | None = None,
        dname: str | None = None,
        priority: int = 0,
        id: str | None = None,
        value: Any = None,
        x: float | None = None,
    ) -> bool:
        """Record an event (priority 0 info, 1 warning, 2 error; id triggers global actions)."""
        host = self._host
        if host is None:
            log.warning("event: plugin %s has no logger", self._devicename)
            return False
        host.events.add(
            text,
            dname=self._devicename if dname is None else dname,
            sname="unknownEvent" if sname is None else sname,
            priority=priority,
            id=id,
            value=value,
            x=x,
        )
        return True

    # -- timer ------------------------------------------------------------------------------
    def setPerpetualTimer(
        self,
        fun: Callable[[], Any],
        samplerate: float | None = None,
        interval: float | None = None,
        old: bool = False,
    ) -> bool:
        """Configure the function called periodically after start()."""
        if samplerate is None and interval is None:
            samplerate = self._samplerate
        elif samplerate is None:
            if not interval or interval <= 0:
                return False
            samplerate = 1.0 / interval
        if not samplerate or samplerate <= 0 or not math.isfinite(samplerate):
            return False
        prev = self._timer
        running = prev is not None and prev.running
        if prev is not None and running:
            prev.stop()
        self._samplerate = float(samplerate)
        self._timer = _PerpetualTimer(self, fun)
        if running:
            self._timer.start()
        return True

    def start(self) -> bool:
        """Start the perpetual timer; False when none is configured."""
        if self._timer is None:
            self.run = False
            return False
        self.run = True
        self._timer.start()
        return True

    def cancel(self) -> bool:
        """Stop the perpetual timer."""
        self.run = False
        if self._timer is None:
            return False
        self._timer.stop()
        return True

    def close(self) -> None:
        """Stop everything; called by the device manager when the device is stopped."""
        self.cancel()

    @property
    def samplerate(self) -> float:
        """Rate of the perpetual timer in Hz."""
        return self._samplerate

    @samplerate.setter
    def samplerate(self, rate: float) -> None:
        rate = float(rate)
        if not rate > 0 or not math.isfinite(rate):
            raise ValueError(f"samplerate must be a positive number, got {rate!r}")
        self._samplerate = rate
        if self._timer is not None:
            self._timer.wake()

    def setSamplerate(self, rate: float) -> bool:
        """Set the timer rate in Hz; False when no timer is configured."""
        if self._timer is None:
            return False
        self.samplerate = rate
        return True

    def setInterval(self, interval: float) -> bool:
        """Set the timer interval in s; False when no timer is configured."""
        if self._timer is None or not interval:
            return False
        self.samplerate = 1.0 / interval
        return True

    # -- state and failure isolation --------------------------------------------------------
    @property
    def _state(self) -> tuple[str, str]:
        """('running' | 'stuck' | 'stopped' | 'error', reason)."""
        if self._last_error is not None:
            return "error", self._last_error
        stuck = self._stuck_since()
        if stuck is not None:
            return "stuck", (
                f"timer blocked since {time.strftime('%H:%M:%S', time.localtime(stuck))} "
                f"({time.time() - stuck:.0f} s): the device does not answer"
            )
        if self._timer is not None and self._timer.running:
            return "running", ""
        if self.run:
            return "running", ""
        return "stopped", ""

    def _stuck_since(self) -> float | None:
        """Wall time when the current timer call began, if it has run far longer than its
        period (STUCK_MIN_S, or 10 periods for slow samplerates); None when it is healthy."""
        timer = self._timer
        since = None if timer is None else timer.tick_since
        if since is None:
            return None
        limit = max(STUCK_MIN_S, 10.0 / max(self._samplerate, 1e-9))
        return since if time.time() - since > limit else None

    def _report_failure(self, exc: BaseException, where: str = "") -> float:
        """Record a failed poll; returns the back-off delay before the next try in s."""
        from .devices import describe_plugin_failure

        reason = describe_plugin_failure(exc, where)
        with self._state_lock:
            self._failures += 1
            changed = self._last_error != reason
            failures = self._failures
            if failures > 1:
                self._last_error = reason
        if failures == 1:  # one event per outage, however often the reason changes during it
            log.error("device %s failed: %s", self._devicename, reason, exc_info=True)
            self.event(
                f"{self._devicename} error: {reason}", sname="error", priority=2, id="deviceError"
            )
            # the error state is published after its event: whoever sees it finds the event
            with self._state_lock:
                self._last_error = reason
        elif changed:
            log.warning(
                "device %s still failing (%d tries): %s", self._devicename, failures, reason
            )
        else:
            log.debug("device %s still failing (%d tries): %s", self._devicename, failures, reason)
        # The exponent stops growing long after the cap is reached: 2 ** 1024 does not fit a
        # float, and the OverflowError would end the poll thread after ~8 h of failures.
        return min(BACKOFF_MAX_S, 0.5 * 2.0 ** min(failures - 1, 32))

    def _report_thread_crash(self, exc: BaseException, thread_name: str) -> None:
        """A thread the plugin started itself died: an error until the device is restarted."""
        self._thread_died = True
        self._report_failure(exc, f"thread {thread_name} died: ")

    def _report_ok(self) -> None:
        if self._last_error is None or self._thread_died:  # a dead thread does not come back
            return
        with self._state_lock:
            was, self._last_error, self._failures = self._last_error, None, 0
        log.info("device %s recovered (was: %s)", self._devicename, was)
        self.event(f"{self._devicename} recovered", sname="error", priority=0, id="deviceRecovered")

    # -- logging (RTOC: kept in a short per-plugin log as well) ------------------------------
    def _logmsg(self, level: int, prio: int, msg: Any) -> None:
        self._log.append([time.strftime("%Y-%m-%d %H:%M:%S"), prio, str(msg)])
        logging.getLogger(f"rtoc.device.{self._devicename}").log(level, "%s", msg)

    def info(self, msg: Any) -> None:
        self._logmsg(logging.INFO, 0, msg)

    def warning(self, msg: Any) -> None:
        self._logmsg(logging.WARNING, 1, msg)

    def error(self, msg: Any) -> None:
        self._logmsg(logging.ERROR, 2, msg)

    def debug(self, msg: Any) -> None:
        self._logmsg(logging.DEBUG, -1, msg)

    # -- persistent variables ----------------------------------------------------------------
    def _persistent(self) -> Any:
        return getattr(self._host, "persistent", None)

    def initPersistentVariable(
        self, parname: str, value: Any = None, dname: str | None = None
    ) -> Any:
        """Return the stored value of parname (storing `value` first if there is none)."""
        store = self._persistent()
        if store is None:
            return value
        return store.init(dname or self._devicename, parname, value)

    def loadPersistentVariable(
        self, parname: str, fallback: Any = None, dname: str | None = None
    ) -> Any:
        store = self._persistent()
        return (
            fallback if store is None else store.load(dname or self._devicename, parname, fallback)
        )

    def savePersistentVariable(self, parname: str, value: Any, dname: str | None = None) -> bool:
        store = self._persistent()
        if store is None:
            return False
        store.save(dname or self._devicename, parname, value)
        return True

    def createPersistentVariable(
        self, name: str, fallback: Any = None, dname: str | None = None, docs: str | None = None
    ) -> None:
        """Create attribute `name` whose value survives restarts (saved on every assignment)."""
        value = self.initPersistentVariable(name, fallback, dname)
        self.__dict__["_pv_" + name] = value
        owner = self

        def _get(obj: Any) -> Any:
            return obj.__dict__.get("_pv_" + name, fallback)

        def _set(obj: Any, new: Any) -> None:
            obj.__dict__["_pv_" + name] = new
            if obj is owner:
                obj.savePersistentVariable(name, new, dname)

        setattr(type(self), name, property(_get, _set, doc=docs))
        if docs is not None:
            setattr(self, f"__doc_{name}__", docs)

    # -- RTOC's TCP client (section 5.9.2 of RTOC's documentation) ---------------------------
    def createTCPClient(
        self,
        address: str = "localhost",
        password: str | None = None,
        tcpport: int = 5050,
        threaded: bool = True,
    ) -> None:
        """Prepare sendTCP() to talk to an RTOC (or rtoc-tui) server at address:tcpport.

        With threaded=True (RTOC's default) sendTCP sends in a thread of its own and returns
        None; with threaded=False it waits and returns the server's reply.
        """
        from .jsonsocket import Client

        self._tcp = Client()
        self._tcp_address = (str(address), int(tcpport))
        self._tcp_password = password or None
        self._tcp_threaded = bool(threaded)
        if password:
            self._tcp.setKeyword(password)

    def sendTCP(self, *args: Any, **kwargs: Any) -> Any:
        """Send one request to the server chosen with createTCPClient (RTOC's keys).

        Positional arguments are y, sname, dname, unit, x; keywords are the request keys of
        RTOC's TCP protocol (plot, event, getLatest, getSignal, getSignalList, getEvent,
        getEventList, getPluginList, getSession, plugin, logger, remove). Returns the reply
        (threaded=False), None (threaded=True) or False when the server cannot be reached.
        """
        if self._tcp is None:
            log.error("sendTCP: call createTCPClient() first (plugin %s)", self._devicename)
            return False
        request = self._tcp_request(args, kwargs)
        if self._tcp_threaded:
            threading.Thread(
                target=self._tcp_exchange, args=(request,), name="rtoc-sendTCP", daemon=True
            ).start()
            return None
        return self._tcp_exchange(request)

    _TCP_FLAGS = ("getSignalList", "getEventList", "getPluginList", "getSession")
    _TCP_VALUES = ("event", "getEvent", "getSignal", "getLatest", "remove", "plugin", "logger")

    def _tcp_request(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        names = ("y", "sname", "dname", "unit", "x")
        values = {n: kwargs.get(n) for n in names}
        values["dname"] = kwargs.get("dname", self._devicename)
        for name, value in zip(names, args, strict=False):
            values[name] = value
        plot = bool(kwargs.get("plot", False))
        request: dict[str, Any] = {}
        y = values["y"]
        if y is not None:
            x = values["x"]
            if x is None and not plot:
                x = [time.time()] * (len(y) if isinstance(y, (list, tuple)) else 1)
            request.update(
                plot=plot, y=y, x=x, sname=values["sname"], dname=values["dname"],
                unit=values["unit"],
            )  # fmt: skip
        for key in self._TCP_FLAGS:
            if kwargs.get(key):
                request[key] = True
        for key in self._TCP_VALUES:
            if kwargs.get(key) is not None:
                request[key] = kwargs[key]
        return request

    def _tcp_exchange(self, request: dict[str, Any]) -> Any:
        from .jsonsocket import Client

        host, port = self._tcp_address
        client = Client()  # one connection per request, as RTOC's server expects
        try:
            client.connect(host, port, self._tcp_password)
            client.send(request)
            return client.recv()
        except ConnectionRefusedError:
            log.error("sendTCP from %s: connection to %s:%s refused", self._devicename, host, port)
            return False
        except Exception as exc:
            log.error("sendTCP from %s to %s:%s failed: %s", self._devicename, host, port, exc)
            return False
        finally:
            client.close()

    # -- RTOC extras a terminal logger does not have ----------------------------------------
    def updateInfo(self) -> None:
        """RTOC GUI hook; nothing to do here."""

    def _telegram(self, kind: str, payload: Any, only_admin: bool) -> None:
        sink = getattr(self._host, "telegram_sink", None)
        if sink is None:
            log.warning(
                "Telegram bot is not running (telegram.active, telegram.token); %s from %s dropped",
                kind,
                self._devicename,
            )
            return
        try:
            sink(kind, payload, bool(only_admin), self._devicename)
        except Exception as exc:  # the bot's trouble must not become the plugin's
            log.error("telegram_send_%s from %s failed: %s", kind, self._devicename, exc)

    def telegram_send_message(self, text: str, onlyAdmin: bool = False, *args: Any) -> None:
        """Send text to every Telegram user (admins only with onlyAdmin)."""
        self._telegram("text", str(text), onlyAdmin)

    def telegram_send_photo(self, path: str, onlyAdmin: bool = False, *args: Any) -> None:
        """Send a picture file to every Telegram user (admins only with onlyAdmin)."""
        self._telegram("photo", str(path), onlyAdmin)

    def telegram_send_document(self, path: str, onlyAdmin: bool = False, *args: Any) -> None:
        """Send a file to every Telegram user (admins only with onlyAdmin)."""
        self._telegram("document", str(path), onlyAdmin)

    def telegram_send_plot(
        self,
        signals: Mapping[str, Any] | None = None,
        title: str = "",
        text: str = "",
        events: Any = None,
        dpi: int = 100,
        onlyAdmin: bool = False,
    ) -> None:
        """Send a plot of {name: [x, y]} (RTOC's form; events as [[x, text], ...])."""
        payload = {
            "signals": dict(signals or {}),
            "title": str(title),
            "text": str(text),
            "events": list(events or []),
        }
        self._telegram("plot", payload, onlyAdmin)


def __mro_entries__(bases: tuple[Any, ...]) -> tuple[type, ...]:
    """RTOC's documentation derives from the module (`import RTOC.LoggerPlugin as
    LoggerPlugin`, then `class RtocClient(LoggerPlugin)`): that means the class."""
    return (LoggerPlugin,)


class _PerpetualTimer:
    """Calls a plugin function at the plugin's samplerate in a thread of its own.

    Ticks are scheduled on a monotonic grid so the rate does not drift; when a call overruns,
    missed ticks are skipped rather than run back to back. Exceptions are isolated (see
    LoggerPlugin._report_failure) and delay the next call with exponential back-off.
    """

    def __init__(self, plugin: LoggerPlugin, fn: Callable[[], Any]) -> None:
        self._plugin = plugin
        self._fn = fn
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.tick_since: float | None = None  # wall time the running call began (watchdog)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def start(self) -> None:
        if self.running:
            return
        self._stop = threading.Event()
        name = f"rtoc-{self._plugin.devicename}"
        self._thread = threading.Thread(
            target=self._loop, args=(self._stop,), name=name, daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)
            if t.is_alive():
                log.warning(
                    "timer of %s did not stop within %.0f s", self._plugin.devicename, timeout
                )
        self._thread = None

    def wake(self) -> None:
        """Re-read the samplerate now (after it changed)."""
        self._wake.set()

    def _loop(self, stop: threading.Event) -> None:
        plugin = self._plugin
        next_t = time.monotonic()
        while not stop.is_set():
            self.tick_since = time.time()
            try:
                self._fn()
            except BaseException as exc:  # SystemExit too: the plugin's failure, not ours
                self.tick_since = None
                if isinstance(exc, KeyboardInterrupt):
                    raise
                delay = plugin._report_failure(exc)
                next_t = time.monotonic() + delay
            else:
                self.tick_since = None
                if plugin._last_error is not None:
                    plugin._report_ok()
                period = 1.0 / plugin._samplerate
                next_t += period
                now = time.monotonic()
                if next_t < now:  # overran: skip the missed ticks
                    next_t = now + period - ((now - next_t) % period)
            while not stop.is_set():
                wait = next_t - time.monotonic()
                if wait <= 0:
                    break
                if self._wake.wait(wait):
                    self._wake.clear()
                    if stop.is_set():
                        return
                    next_t = min(next_t, time.monotonic() + 1.0 / plugin._samplerate)
