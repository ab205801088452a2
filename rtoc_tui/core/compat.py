"""Let unmodified RTOC 2.x/3.x plugin files import and run.

RTOC plugins do `from LoggerPlugin import LoggerPlugin` or `from RTOC.LoggerPlugin import
LoggerPlugin`, and many import PyQt5 at module level for an optional GUI (`loadGUI`) that a
terminal never builds. We register alias modules for the first two and, only where PyQt5 is not
installed, a stand-in PyQt5 whose every name is an inert placeholder. Plugin modules also get
compatible stand-ins for a few Python APIs removed since RTOC's time (`plugin_builtins`), and
errors from the others are explained (`removed_api_hint`).
"""

from __future__ import annotations

import builtins
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
import types
from typing import Any

from . import plugin as _plugin


class _Inert:
    """Stands in for any Qt class, function or constant; does nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _Inert:
        return _Inert()

    def __getattr__(self, name: str) -> _Inert:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Inert()

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        return (_InertBase,)

    def __bool__(self) -> bool:
        return False

    def __iter__(self) -> Any:
        return iter(())


class _InertBase:
    """Base for classes a plugin derives from Qt classes (e.g. class W(QtWidgets.QWidget))."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> _Inert:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Inert()


class _InertModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Inert()


class _QtStubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers imports of PyQt5 / PyQt5.* with inert modules."""

    PREFIXES = ("PyQt5", "sip", "pyqtgraph")

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname.split(".")[0] in self.PREFIXES:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: Any) -> types.ModuleType:
        mod = _InertModule(spec.name)
        mod.__path__ = []  # a package, so submodule imports work
        mod.__rtoc_stub__ = True  # type: ignore[attr-defined]
        return mod

    def exec_module(self, module: types.ModuleType) -> None:
        return None


_installed = False


def install() -> None:
    """Register the RTOC alias modules, and the PyQt5 stand-in if PyQt5 is missing.

    Aliases: LoggerPlugin, RTOC.LoggerPlugin (the plugin API), jsonsocket, RTOC.jsonsocket,
    RTOC.RTLogger.jsonsocket (RTOC's TCP client), RTOC.RTLogger.scriptLibrary and
    RTLogger.scriptLibrary (the script library).
    """
    global _installed
    if _installed:
        return
    _installed = True
    from . import jsonsocket, scriptlib

    sys.modules.setdefault("LoggerPlugin", _plugin)
    sys.modules.setdefault("jsonsocket", jsonsocket)
    # Plugins must get our LoggerPlugin even where RTOC itself is installed: RTOC's would look
    # for RTOC's logger.
    if "RTOC" not in sys.modules:
        aliases: dict[str, types.ModuleType] = {
            "RTOC.LoggerPlugin": _plugin,
            "RTOC.jsonsocket": jsonsocket,
            "RTOC.RTLogger.jsonsocket": jsonsocket,
            "RTOC.RTLogger.scriptLibrary": scriptlib,
        }
        for pkg_name in ("RTOC", "RTOC.RTLogger"):
            pkg = types.ModuleType(pkg_name)
            pkg.__path__ = []  # type: ignore[attr-defined]
            sys.modules[pkg_name] = pkg
        for name, module in aliases.items():
            parent, _, attr = name.rpartition(".")
            sys.modules[name] = module
            setattr(sys.modules[parent], attr, module)
        sys.modules["RTOC"].RTLogger = sys.modules["RTOC.RTLogger"]  # type: ignore[attr-defined]
    if "RTLogger" not in sys.modules:
        rtlogger = types.ModuleType("RTLogger")
        rtlogger.__path__ = []  # type: ignore[attr-defined]
        rtlogger.scriptLibrary = scriptlib  # type: ignore[attr-defined]
        rtlogger.jsonsocket = jsonsocket  # type: ignore[attr-defined]
        sys.modules["RTLogger"] = rtlogger
        sys.modules["RTLogger.scriptLibrary"] = scriptlib
        sys.modules["RTLogger.jsonsocket"] = jsonsocket
    if importlib.util.find_spec("PyQt5") is None:
        sys.meta_path.append(_QtStubFinder())


# -- Python APIs removed since RTOC's time (plugins written for Python 3.6-3.8) ---------------
# Where a removed API has a drop-in replacement with the same meaning, plugin modules get a
# compatible module instead of the real one (only plugin code sees it: their `__import__` is
# wrapped, the rest of the process keeps the real modules). Where not, REMOVED_APIS turns the
# bare AttributeError/ImportError into a message that names the Python change.


class _ShimModule(types.ModuleType):
    """A module that serves `overrides` and otherwise forwards to the real module."""

    def __init__(self, real: types.ModuleType, overrides: dict[str, Any]) -> None:
        super().__init__(real.__name__, real.__doc__)
        self.__dict__["_real"] = real
        self.__dict__.update(overrides)
        self.__dict__["__rtoc_shim__"] = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_real"], name)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self.__dict__["_real"])) | set(self.__dict__))


def _shim_json() -> dict[str, Any]:
    import json

    # json.load/loads took `encoding` until Python 3.9 (ignored since 3.1): drop it.
    def load(fp: Any, *args: Any, encoding: Any = None, **kwargs: Any) -> Any:
        return json.load(fp, *args, **kwargs)

    def loads(s: Any, *args: Any, encoding: Any = None, **kwargs: Any) -> Any:
        return json.loads(s, *args, **kwargs)

    return {"load": load, "loads": loads}


def _shim_collections() -> dict[str, Any]:
    import collections.abc

    # collections.Mapping etc. were aliases of collections.abc.* until Python 3.10
    return {n: getattr(collections.abc, n) for n in collections.abc.__all__}


def _shim_base64() -> dict[str, Any]:
    import base64

    # removed in Python 3.9; the *bytes functions are the same functions under a new name
    return {"encodestring": base64.encodebytes, "decodestring": base64.decodebytes}


def _shim_time() -> dict[str, Any]:
    import time

    # time.clock() was removed in Python 3.8; plugins use it to measure intervals
    return {"clock": time.perf_counter}


def _shim_threading() -> dict[str, Any]:
    import threading

    class Thread(threading.Thread):
        """threading.Thread with isAlive() (removed in Python 3.9; is_alive() since 2.6)."""

        def isAlive(self) -> bool:  # noqa: N802 - the removed API's name
            return self.is_alive()

    return {"Thread": Thread}


def _shim_configparser() -> dict[str, Any]:
    import configparser

    # SafeConfigParser was an alias of ConfigParser from 3.2 until its removal in 3.12
    return {"SafeConfigParser": configparser.ConfigParser}


_SHIM_FACTORIES = {
    "json": _shim_json,
    "collections": _shim_collections,
    "base64": _shim_base64,
    "time": _shim_time,
    "threading": _shim_threading,
    "configparser": _shim_configparser,
}
_shims: dict[str, types.ModuleType] = {}


def shim_module(name: str) -> types.ModuleType | None:
    """The compatible stand-in plugin code gets for module `name`, or None if there is none."""
    shim = _shims.get(name)
    if shim is None:
        factory = _SHIM_FACTORIES.get(name)
        if factory is None:
            return None
        shim = _shims[name] = _ShimModule(importlib.import_module(name), factory())
    return shim


_real_import = builtins.__import__


def _plugin_import(
    name: str,
    globals: Any = None,
    locals: Any = None,
    fromlist: Any = (),
    level: int = 0,
) -> Any:
    module = _real_import(name, globals, locals, fromlist, level)
    if level == 0 and name in _SHIM_FACTORIES:
        return shim_module(name) or module
    return module


def plugin_builtins() -> dict[str, Any]:
    """The builtins plugin modules run with: Python's own, with the shimming __import__."""
    env = dict(builtins.__dict__)
    env["__import__"] = _plugin_import
    return env


# (pattern of the error text, what changed in Python and what to do)
REMOVED_APIS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), why)
    for p, why in (
        (
            r"has no attribute 'isAlive'",
            "Thread.isAlive() was removed in Python 3.9: use is_alive()",
        ),
        (
            r"module 'time' has no attribute 'clock'",
            "time.clock() was removed in Python 3.8: use time.perf_counter()",
        ),
        (
            r"'array\.array' object has no attribute '(tostring|fromstring)'",
            "array.tostring()/fromstring() were removed in Python 3.9: use tobytes()/frombytes()",
        ),
        (
            r"module 'inspect' has no attribute 'getargspec'",
            "inspect.getargspec() was removed in Python 3.11: use inspect.getfullargspec()",
        ),
        (
            r"module 'fractions' has no attribute 'gcd'",
            "fractions.gcd() was removed in Python 3.9: use math.gcd()",
        ),
        (
            r"module 'platform' has no attribute '(linux_distribution|dist)'",
            "platform.linux_distribution() was removed in Python 3.8: use the 'distro' package",
        ),
        (
            r"No module named 'xml\.etree\.cElementTree'",
            "xml.etree.cElementTree was removed in Python 3.9: import xml.etree.ElementTree",
        ),
        (
            r"No module named '(imp|asynchat|asyncore|smtpd)'",
            "the module was removed in Python 3.12 (imp: use importlib; asyncore/asynchat: "
            "use asyncio)",
        ),
        (
            r"No module named 'distutils'",
            "distutils was removed in Python 3.12: pip install setuptools (it provides it)",
        ),
        (
            r"has no attribute 'unescape'",
            "HTMLParser.unescape() was removed in Python 3.9: use html.unescape()",
        ),
        (
            r"module 'ssl' has no attribute 'wrap_socket'",
            "ssl.wrap_socket() was removed in Python 3.12: use ssl.create_default_context()"
            ".wrap_socket()",
        ),
        (
            r"module 'locale' has no attribute 'format'",
            "locale.format() was removed in Python 3.12: use locale.format_string()",
        ),
        (
            r"unexpected keyword argument 'encoding'",
            "json.load()/json.loads() lost their 'encoding' argument in Python 3.9: drop it",
        ),
        (
            r"module 'asyncio' has no attribute '(async|get_event_loop_policy)'",
            "asyncio.async() was removed in Python 3.7: use asyncio.ensure_future()",
        ),
        (
            r"'(Event|Condition|Semaphore|Queue|Lock)' .*unexpected keyword argument 'loop'",
            "asyncio's loop= arguments were removed in Python 3.10: drop them",
        ),
    )
)


def removed_api_hint(exc: BaseException) -> str | None:
    """What changed in Python, when exc is the typical error of a removed API; else None."""
    if isinstance(exc, SyntaxError) and exc.text and re.search(r"\basync\b", exc.text):
        return "'async' became a reserved word in Python 3.7: rename the variable or argument"
    if not isinstance(exc, (AttributeError, ImportError, TypeError)):
        return None
    text = str(exc)
    for pattern, why in REMOVED_APIS:
        if pattern.search(text):
            return why
    return None


def is_qt_placeholder(value: Any) -> bool:
    """True for the PyQt5 stand-in's placeholders (what a Qt-only member holds here)."""
    return isinstance(value, (_Inert, _InertBase))
