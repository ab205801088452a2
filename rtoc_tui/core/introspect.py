"""A device's parameters (public attributes) and functions (public methods), by name.

Used by the UI, scripts and the TCP `plugin` key. Names starting with `_` are hidden, and the
base class's own machinery (stream, start, ...) is not a device function. Nothing here ever
evaluates client text: names are looked up with getattr on the public set only.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from . import compat
from .plugin import LoggerPlugin

# Attributes of the base class that are plumbing, not device parameters.
_HIDDEN_PARAMETERS = frozenset(
    {"run", "smallGUI", "widget", "logger", "rtoc", "settings", "devicename"}
)
_BASE_FUNCTIONS = frozenset(n for n in dir(LoggerPlugin) if not n.startswith("_"))
# RTOC plugins' Qt-only members: the GUI builder RTOC called, never a device function here.
QT_ONLY_FUNCTIONS = frozenset({"loadGUI"})
_QT_MODULES = ("PyQt5", "PyQt6", "PySide2", "PySide6", "pyqtgraph", "sip")


def _is_qt(value: Any) -> bool:
    """A Qt object (or the PyQt5 stand-in's placeholder): RTOC's GUI, not a device value."""
    if compat.is_qt_placeholder(value):
        return True
    module = getattr(type(value), "__module__", "") or ""
    return module.split(".")[0] in _QT_MODULES


def gui_only(plugin: Any) -> bool:
    """True when a plugin has an RTOC GUI (loadGUI) and nothing of its own is running: such a
    plugin started collecting only when a button in RTOC's Qt GUI was pressed."""
    if not any(hasattr(type(plugin), n) for n in QT_ONLY_FUNCTIONS):
        return False
    timer = getattr(plugin, "_timer", None)
    running = timer is not None and timer.running
    return not running and not getattr(plugin, "run", False)


class IntrospectionError(LookupError):
    """An unknown or hidden parameter or function name, or a bad value."""


@dataclass(frozen=True, slots=True)
class ParameterInfo:
    name: str
    value: Any
    type: str
    doc: str
    writable: bool
    group: str = ""  # from the driver's PARAMETER_GROUPS; "" when it declares none


OTHER_GROUP = "Other"
"""Group of the parameters a driver with PARAMETER_GROUPS does not list."""


def parameter_groups(plugin: Any) -> dict[str, str]:
    """{parameter: group} from the driver's optional `PARAMETER_GROUPS` class attribute
    ({group: (parameter, ...)}, in display order); empty when it declares none."""
    declared = getattr(type(plugin), "PARAMETER_GROUPS", None)
    if not isinstance(declared, dict):
        return {}
    out: dict[str, str] = {}
    for group, names in declared.items():
        for name in names:
            out.setdefault(str(name), str(group))
    return out


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    name: str
    signature: str
    doc: str


def _doc_for(plugin: Any, name: str) -> str:
    doc = getattr(plugin, f"__doc_{name}__", None)
    if doc:
        return str(doc)
    setting = getattr(type(plugin), "SETTINGS", {}).get(name)
    if setting is not None:
        return setting.doc
    prop = inspect.getattr_static(type(plugin), name, None)
    if isinstance(prop, property) and prop.__doc__:
        return inspect.cleandoc(prop.__doc__).splitlines()[0]
    return ""


def _is_public(name: str) -> bool:
    return not name.startswith("_")


def parameter_names(plugin: Any) -> list[str]:
    """Public data attributes and properties, plus samplerate."""
    names: set[str] = set()
    for name, value in vars(plugin).items():
        if (
            _is_public(name)
            and name not in _HIDDEN_PARAMETERS
            and not callable(value)
            and not _is_qt(value)
        ):
            names.add(name)
    for klass in type(plugin).__mro__:
        if klass is object:
            continue
        for name, attr in vars(klass).items():
            if not _is_public(name) or name in _HIDDEN_PARAMETERS:
                continue
            if isinstance(attr, property):
                names.add(name)
    if isinstance(plugin, LoggerPlugin):
        names.add("samplerate")
    return sorted(names)


def function_names(plugin: Any) -> list[str]:
    """Public methods the driver itself defines (not the plugin API's own)."""
    out = []
    for name in dir(type(plugin)):
        if not _is_public(name) or name in _BASE_FUNCTIONS or name in QT_ONLY_FUNCTIONS:
            continue
        attr = inspect.getattr_static(type(plugin), name, None)
        if isinstance(attr, (staticmethod, classmethod)) or inspect.isfunction(attr):
            out.append(name)
    return sorted(out)


def parameters(plugin: Any) -> list[ParameterInfo]:
    """Every parameter with its value; a driver declaring PARAMETER_GROUPS gets them in its
    group order (undeclared ones last, in group "Other"), otherwise sorted by name."""
    groups = parameter_groups(plugin)
    names = parameter_names(plugin)
    if groups:
        order = {name: n for n, name in enumerate(groups)}
        names.sort(key=lambda name: (order.get(name, len(order)), name))
    out = []
    for name in names:
        try:
            value = getattr(plugin, name)
        except Exception as exc:  # a property that raises is shown, not fatal
            value = f"<error: {exc}>"
        static = inspect.getattr_static(type(plugin), name, None)
        writable = not isinstance(static, property) or static.fset is not None
        group = groups.get(name, OTHER_GROUP) if groups else ""
        out.append(
            ParameterInfo(
                name, value, type(value).__name__, _doc_for(plugin, name), writable, group
            )
        )
    return out


def functions(plugin: Any) -> list[FunctionInfo]:
    out = []
    for name in function_names(plugin):
        fn = getattr(plugin, name)
        try:
            sig = str(inspect.signature(fn))
        except (TypeError, ValueError):
            sig = "(...)"
        doc = inspect.getdoc(fn) or ""
        out.append(FunctionInfo(name, sig, doc))
    return out


def get_parameter(plugin: Any, name: str) -> Any:
    if name not in parameter_names(plugin):
        raise IntrospectionError(f"{_dname(plugin)} has no parameter {name!r}")
    return getattr(plugin, name)


def coerce_like(current: Any, value: Any, label: str) -> Any:
    """Convert value to the type of the current value where that is lossless and obvious."""
    if current is None or value is None:
        return value
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "on", "off"):
            return value.lower() in ("true", "1", "on")
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        raise IntrospectionError(f"{label}: expected bool, got {value!r}")
    if isinstance(current, (int, float)) and not isinstance(value, bool):
        if isinstance(value, (int, float)):
            return float(value) if isinstance(current, float) else value
        if isinstance(value, str):
            try:
                return float(value) if isinstance(current, float) or "." in value else int(value)
            except ValueError:
                raise IntrospectionError(f"{label}: expected a number, got {value!r}") from None
        raise IntrospectionError(f"{label}: expected a number, got {value!r}")
    if isinstance(current, str) and not isinstance(value, str):
        raise IntrospectionError(f"{label}: expected text, got {value!r}")
    return value


def set_parameter(plugin: Any, name: str, value: Any) -> Any:
    """Set a public parameter (converted to its current type); returns the new value."""
    if name not in parameter_names(plugin):
        raise IntrospectionError(f"{_dname(plugin)} has no parameter {name!r}")
    static = inspect.getattr_static(type(plugin), name, None)
    if isinstance(static, property) and static.fset is None:
        raise IntrospectionError(f"{_dname(plugin)}.{name} is read-only")
    current = getattr(plugin, name, None)
    value = coerce_like(current, value, f"{_dname(plugin)}.{name}")
    try:
        setattr(plugin, name, value)
    except (TypeError, ValueError) as exc:
        raise IntrospectionError(f"{_dname(plugin)}.{name}: {exc}") from exc
    return getattr(plugin, name)


def call_function(plugin: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call a public device function by name.

    A SystemExit (or other non-interrupt BaseException) from the plugin's code becomes a
    RuntimeError: it is the call's failure, never the caller's (a TCP server, a script).
    """
    if name not in function_names(plugin):
        raise IntrospectionError(f"{_dname(plugin)} has no function {name!r}")
    try:
        return getattr(plugin, name)(*args, **kwargs)
    except Exception:
        raise
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        from .devices import describe_plugin_failure

        raise RuntimeError(describe_plugin_failure(exc, f"{_dname(plugin)}.{name}: ")) from exc


def _dname(plugin: Any) -> str:
    return getattr(plugin, "_devicename", type(plugin).__name__)
