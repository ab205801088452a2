"""What a running script sees: signal and device proxies, print, trig/global state, stop flag.

`Device.Signal` resolves at run time in this order: a signal Device.Signal in the store, then a
parameter of the running device Device, then one of its functions (public names only, through
core.introspect; nothing is ever evaluated from a name).
"""

from __future__ import annotations

import builtins
import functools
import importlib
import importlib.util
import logging
import math
import sys
import threading
import traceback
import types
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core import introspect, scriptlib
from ..core.buffer import SignalBuffer
from ..core.plugin import LoggerPlugin, construction_context
from . import translator as tr

if TYPE_CHECKING:
    from ..core.logger import Logger

log = logging.getLogger("rtoc.script")

SCRIPT_DEVICE = "noDevice"  # RTOC's default device name of stream/plot/event in scripts
MAX_OUTPUT_LINES = 2000


class ScriptStopped(BaseException):
    """Raised inside a script at a checkpoint once a stop was requested.

    A BaseException so that a script's `except Exception:` does not catch it.
    """


class SignalRef:
    """`Device.Signal`: the (x, y) pair of arrays, plus `.x`, `.y` and `.latest`."""

    __slots__ = ("_buf",)

    def __init__(self, buf: SignalBuffer) -> None:
        self._buf = buf

    @property
    def name(self) -> str:
        return self._buf.name

    @property
    def unit(self) -> str:
        return self._buf.unit

    @property
    def x(self) -> np.ndarray:
        """All x values (a copy)."""
        return self._buf.copy()[0]

    @property
    def y(self) -> np.ndarray:
        """All y values (a copy)."""
        return self._buf.copy()[1]

    @property
    def latest(self) -> float:
        """The newest y value."""
        sample = self._buf.latest()
        if sample is None:
            raise ValueError(f"signal {self._buf.name} has no samples")
        return sample[1]

    def __iter__(self) -> Any:
        return iter(self._buf.copy())

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: Any) -> Any:
        return self._buf.copy()[index]

    def __repr__(self) -> str:
        return f"<signal {self._buf.name}: {len(self._buf)} samples>"


class DeviceProxy:
    """`device("My Dev")`: attribute reads resolve like `Device.NAME`, assignments set parameters."""

    __slots__ = ("_ctx", "_dname")

    def __init__(self, ctx: Context, dname: str) -> None:
        object.__setattr__(self, "_ctx", ctx)
        object.__setattr__(self, "_dname", dname)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._ctx.ref(self._dname, name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._ctx.set_parameter(self._dname, name, value)

    def __dir__(self) -> list[str]:
        return self._ctx.names_of(self._dname)

    def __repr__(self) -> str:
        return f"<device {self._dname}>"


class Context:
    """Name resolution against one logger; shared by all scripts and conditions."""

    def __init__(self, logger: Logger) -> None:
        self.logger = logger
        self.store = logger.store
        self.devices = logger.devices
        self._refs: dict[tuple[str, str], tuple[SignalBuffer, SignalRef]] = {}

    def ref(self, dname: str, name: str) -> Any:
        """Device.NAME: a signal, else a parameter value, else a device function."""
        key = (dname, name)
        buf = self.store.get(key)
        if buf is not None:
            hit = self._refs.get(key)
            if hit is not None and hit[0] is buf:
                return hit[1]
            ref = SignalRef(buf)
            self._refs[key] = (buf, ref)
            return ref
        plugin = self.devices.get(dname)
        if plugin is None:
            raise NameError(
                f"{dname}.{name}: no signal of that name and no running device {dname!r}"
            )
        if name in introspect.parameter_names(plugin):
            return getattr(plugin, name)
        if name in introspect.function_names(plugin):
            return functools.partial(introspect.call_function, plugin, name)
        raise AttributeError(f"device {dname} has no signal, parameter or function {name!r}")

    def latest(self, dname: str, sname: str) -> Any:
        """Device.Signal.latest without building a SignalRef (same result as ref(...).latest)."""
        buf = self.store.get((dname, sname))
        if buf is None:
            return self.ref(dname, sname).latest
        sample = buf.latest()
        if sample is None:
            raise ValueError(f"signal {buf.name} has no samples")
        return sample[1]

    def args(self, dname: str, name: str) -> tuple[Any, ...]:
        """Device.NAME as call arguments: (x, y) for a signal (as RTOC), else (value,)."""
        ref = self.ref(dname, name)
        if isinstance(ref, SignalRef):
            x, y = ref._buf.copy()
            return x, y
        return (ref,)

    def set_latest(self, dname: str, sname: str, value: Any) -> None:
        """`Device.Signal.latest = value`: append (now, value) to the signal (created if new)."""
        try:
            y = float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"{dname}.{sname}.latest takes a number, not {type(value).__name__}"
            ) from None
        buf = self.store.get((dname, sname))
        self.store.append_one(dname, sname, self.logger.clock(), y, None if buf else "")

    def set_parameter(self, dname: str, name: str, value: Any) -> None:
        """Device.PARAMETER = value."""
        plugin = self.devices.get(dname)
        if plugin is None:
            raise NameError(f"cannot set {dname}.{name}: no running device {dname!r}")
        introspect.set_parameter(plugin, name, value)

    def device(self, dname: str) -> DeviceProxy:
        """device("My Dev"): for device names that are not Python identifiers."""
        return DeviceProxy(self, str(dname))

    def signal(self, name: str, sname: str | None = None) -> SignalRef:
        """signal("My Dev.Temp 1") or signal("My Dev", "Temp 1")."""
        if sname is None:
            dname, dot, sname = str(name).partition(".")
            if not dot:
                raise ValueError(f"signal name {name!r} is not of the form 'Device.Signal'")
        else:
            dname = str(name)
        buf = self.store.get((dname, str(sname)))
        if buf is None:
            raise NameError(f"no signal named {dname}.{sname}")
        return SignalRef(buf)

    def names_of(self, dname: str) -> list[str]:
        names = {b.sname for b in self.store.buffers() if b.dname == dname}
        plugin = self.devices.get(dname)
        if plugin is not None:
            names.update(introspect.parameter_names(plugin))
            names.update(introspect.function_names(plugin))
        return sorted(names)


class _LazyModule(types.ModuleType):
    """Imports the real module on first attribute access (scipy takes ~0.3 s to import)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_real"] = None

    def __getattr__(self, attr: str) -> Any:
        real = self.__dict__["_real"]
        if real is None:
            real = importlib.import_module(self.__name__)
            self.__dict__["_real"] = real
        return getattr(real, attr)


class _MissingModule(types.ModuleType):
    """Stands in for an optional module that is not installed: any use says how to get it."""

    def __init__(self, name: str, hint: str) -> None:
        super().__init__(name)
        self.__dict__["_hint"] = hint

    def __getattr__(self, attr: str) -> Any:
        raise ModuleNotFoundError(
            f"{self.__name__} is not installed: {self.__dict__['_hint']}", name=self.__name__
        )


class Output:
    """A run's printed lines, kept up to MAX_OUTPUT_LINES, readable by cursor."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._lines: deque[str] = deque(maxlen=MAX_OUTPUT_LINES)
        self._count = 0  # lines ever written: the cursor after the newest line
        self._partial = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            text = self._partial + text
            *done, self._partial = text.split("\n")
            for line in done:
                self._append(line)

    def line(self, text: str) -> None:
        """Write whole lines (a trailing partial line is completed first)."""
        with self._lock:
            if self._partial:
                self._append(self._partial)
                self._partial = ""
            for line in text.split("\n"):
                self._append(line)

    def flush(self) -> None:
        with self._lock:
            if self._partial:
                self._append(self._partial)
                self._partial = ""

    def _append(self, line: str) -> None:
        self._lines.append(line)
        self._count += 1
        log.info("[%s] %s", self.label, line)  # one logger: names come from users (TCP)

    def since(self, cursor: int) -> tuple[tuple[str, ...], int]:
        """Lines after `cursor` (older ones may have dropped out) and the new cursor."""
        with self._lock:
            cursor = max(0, int(cursor))
            new = self._count - cursor
            if new <= 0:
                return (), self._count
            new = min(new, len(self._lines))
            return tuple(list(self._lines)[-new:]), self._count


@dataclass
class ScriptState:
    """What a script keeps between its runs: `global` variables and trig states."""

    globals: dict[str, Any] = field(default_factory=dict)
    trigs: dict[str, bool] = field(default_factory=dict)

    def trig(self, k: str, value: Any) -> bool:
        """True only when `value` changes from false to true (per trig statement)."""
        now = bool(value)
        before = self.trigs.get(k, False)
        self.trigs[k] = now
        return now and not before


def _halt() -> None:
    raise ScriptStopped


class Runtime:
    """Builds script namespaces for one logger."""

    def __init__(self, logger: Logger) -> None:
        self.logger = logger
        self.ctx = Context(logger)
        with construction_context(logger, SCRIPT_DEVICE, None):
            self.plugin = LoggerPlugin(logger)
        self.plugin.setDeviceName(SCRIPT_DEVICE)
        base: dict[str, Any] = {
            "__builtins__": builtins,
            "__name__": "rtoc_script",
            "math": math,
            "np": np,
            "sys": sys,
            "rtoc": scriptlib,
            "stream": self.stream,
            "plot": self.plot,
            "event": self.event,
            "signal": self.ctx.signal,
            "device": self.ctx.device,
            "clearData": logger.store.clear,
            tr.REF: self.ctx.ref,
            tr.LATEST: self.ctx.latest,
            tr.DEV: self.ctx.device,
            tr.ARGS: self.ctx.args,
            tr.SET_LATEST: self.ctx.set_latest,
            tr.CLOCK: logger.clock,
            tr.HALT: _halt,
            tr.STOP: False,
        }
        # `sp` as in RTOC's scripts; scipy comes with the import extra
        if importlib.util.find_spec("scipy") is not None:
            base["sp"] = _LazyModule("scipy")
        else:
            base["sp"] = _MissingModule("scipy", "pip install 'rtoc-tui[import]' to use sp")
        self.base = base
        # names the translator must never take for devices (print/sleep/trig are per run)
        self.known = frozenset(base) | {"print", "sleep", "clock", "global", "trig"}

    # -- RTOC's script functions: RTLogger's addData, plot and addNewEvent signatures ---------
    def stream(
        self,
        y: Any = None,
        snames: Any = None,
        dname: str = SCRIPT_DEVICE,
        unit: Any = None,
        x: Any = None,
        c: bool = True,
        *,
        sname: Any = None,
        slist: Any = None,
        sdict: Any = None,
    ) -> bool:
        """stream(y, snames, dname='noDevice', unit, x): new samples (RTOC's addData).

        `sname=` is accepted for `snames=`; slist= and sdict= are the plugin forms. A text y
        is an event, as in RTOC. `c` (RTOC's GUI callback flag) is accepted and unused.
        """
        if snames is None:
            snames = sname
        if isinstance(y, str):
            return self.event(y, dname=dname)
        if y is None and slist is None and sdict is None:
            return False
        if isinstance(x, (list, tuple)) and len(x) == 0:
            x = None  # RTOC's default x=[] means "now"
        return self.plugin.stream(
            y, "noName" if snames is None else snames, dname, unit, x, slist, sdict
        )

    def plot(
        self,
        x: Any = None,
        y: Any = None,
        sname: str = "noName",
        dname: str = SCRIPT_DEVICE,
        unit: str = "",
        c: bool = False,
        hold: str = "off",
        autoResize: bool = False,
        sigID: Any = None,
    ) -> bool:
        """plot(x, y, sname='noName', dname='noDevice', unit, c, hold, autoResize): RTOC's."""
        return self.plugin.plot(x, y, sname, dname, unit, hold, autoResize)

    def event(
        self,
        text: str = "",
        sname: str = "noName",
        dname: str = SCRIPT_DEVICE,
        x: float | None = None,
        priority: int = 0,
        id: str | None = None,
        value: Any = None,
    ) -> bool:
        """event(text, sname='noName', dname='noDevice', x, priority, id, value): RTOC's
        addNewEvent (note: x comes before priority, unlike a plugin's event())."""
        return self.plugin.event(text, sname, dname, priority, id, value, x)

    def namespace(
        self, state: ScriptState, output: Output, stop: threading.Event
    ) -> dict[str, Any]:
        """A fresh namespace for one run (about 1 µs: a dict copy)."""
        ns = self.base.copy()

        def script_print(
            *args: Any,
            sep: str | None = " ",
            end: str | None = "\n",
            file: Any = None,
            flush: bool = False,
        ) -> None:
            if file is not None:
                print(*args, sep=sep, end=end, file=file, flush=flush)
                return
            output.write(
                (" " if sep is None else sep).join(map(str, args)) + ("\n" if end is None else end)
            )

        def sleep(seconds: float) -> None:
            """Wait, but return at once when the script is stopped."""
            if stop.wait(max(0.0, float(seconds))):
                raise ScriptStopped

        ns["print"] = script_print
        ns["sleep"] = sleep
        ns["clock"] = self.logger.clock()
        ns[tr.TRIG] = state.trig
        ns[tr.GSTATE] = state.globals
        ns.update(state.globals)
        return ns

    def condition_namespace(self) -> dict[str, Any]:
        """The namespace global-event conditions are evaluated in (shared, read-mostly)."""
        ns = self.base.copy()
        cond_log = logging.getLogger("rtoc.globalEvents")

        def cond_print(*args: Any, **kwargs: Any) -> None:
            cond_log.info("%s", " ".join(map(str, args)))

        ns["print"] = cond_print
        return ns


def describe_error(exc: BaseException, filename: str) -> tuple[int | None, str]:
    """(line in the user's text, "Type: message") for an exception raised while running."""
    lineno = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return lineno, text


def call_quietly(fn: Callable[[], Any]) -> None:
    """Run a reporting callback; a failure there must never take a worker down."""
    try:
        fn()
    except Exception:
        log.exception("reporting failed")
