"""Let unmodified RTOC 2.x/3.x plugin files import and run.

RTOC plugins do `from LoggerPlugin import LoggerPlugin` or `from RTOC.LoggerPlugin import
LoggerPlugin`, and many import PyQt5 at module level for an optional GUI (`loadGUI`) that a
terminal never builds. We register alias modules for the first two and, only where PyQt5 is not
installed, a stand-in PyQt5 whose every name is an inert placeholder.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
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
    __rtoc_stub__: bool  # marks our stand-in (tests tell it from a real PyQt5)

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
        mod.__rtoc_stub__ = True
        return mod

    def exec_module(self, module: types.ModuleType) -> None:
        return None


_installed = False


def install() -> None:
    """Register the RTOC alias modules, and the PyQt5 stand-in if PyQt5 is missing."""
    global _installed
    if _installed:
        return
    _installed = True
    sys.modules.setdefault("LoggerPlugin", _plugin)
    if "RTOC" not in sys.modules:
        rtoc_pkg = types.ModuleType("RTOC")
        rtoc_pkg.__path__ = []
        # ModuleType declares no attributes of its own; RTOC plugins import this one by name.
        rtoc_pkg.LoggerPlugin = _plugin  # type: ignore[attr-defined]
        sys.modules["RTOC"] = rtoc_pkg
        sys.modules["RTOC.LoggerPlugin"] = _plugin
    if importlib.util.find_spec("PyQt5") is None:
        sys.meta_path.append(_QtStubFinder())
