"""Finds drivers, starts and stops them, and keeps one failing driver from hurting the rest.

Drivers come from three places, in this order of precedence for equal names:
1. the user's `devices/` folder (RTOC layout: `devices/Name.py` or `devices/Name/Name.py`);
2. the `rtoc.drivers` entry-point group of installed packages;
3. the built-in `rtoc_tui.drivers` registry.
Listing imports nothing; starting a driver imports only that driver.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import re
import sys
import threading
import time
import types
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution, entry_points
from pathlib import Path
from typing import Any

from . import compat
from .plugin import LoggerPlugin, construction_context

log = logging.getLogger(__name__)


WATCHDOG_INTERVAL_S = 1.0  # how often running drivers are checked for a hung timer call


class DeviceError(RuntimeError):
    """A driver could not be found, loaded or started."""


DIST_NAME = "rtoc-tui"  # our distribution: its entry points are the built-in drivers


@dataclass(frozen=True, slots=True)
class DriverSpec:
    """Where a driver comes from (not yet imported)."""

    name: str
    source: str  # "builtin" | "entrypoint" | "user"
    target: str  # "module:Class", or a file path
    extra: str | None = None  # the extra of its distribution the driver needs ("modbus")
    dist: str | None = None  # the distribution that registered it (entry points only)

    def missing_extra(self) -> str | None:
        """`rtoc-tui[modbus]` when a package of the driver's extra is not installed, else None."""
        if self.extra is None or self.dist is None:
            return None
        missing = missing_requirements(self.dist, self.extra)
        return f"{self.dist}[{self.extra}]" if missing else None


def missing_requirements(dist: str, extra: str) -> list[str]:
    """The packages that `dist[extra]` adds and that are not installed here."""
    try:
        requires = distribution(dist).requires or []
    except PackageNotFoundError:
        return []
    missing = []
    for req in requires:
        name, _, marker = req.partition(";")
        if f'extra == "{extra}"' not in marker.replace("'", '"'):
            continue
        project = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", name)
        if project is None:
            continue
        try:
            distribution(project.group(1))
        except PackageNotFoundError:
            missing.append(project.group(1))
    return missing


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A driver's state as the UI and the TCP server show it."""

    name: str
    source: str
    state: str  # "stopped" | "running" | "stuck" (timer call hangs, see reason) | "error"
    reason: str
    devicename: str
    samplerate: float | None
    doc: str


def discover(devices_dir: Path | None) -> dict[str, DriverSpec]:
    """All available drivers by name, without importing any.

    Built-in drivers come through the `rtoc.drivers` entry points of our own distribution, the
    same way as third-party ones; a file in the user's devices/ folder wins over both.
    """
    specs: dict[str, DriverSpec] = {}
    try:
        for ep in entry_points(group="rtoc.drivers"):
            dist = ep.dist.name if ep.dist is not None else None
            builtin = dist is not None and dist.replace("_", "-").lower() == DIST_NAME
            specs[ep.name] = DriverSpec(
                ep.name,
                "builtin" if builtin else "entrypoint",
                f"{ep.module}:{ep.attr}",
                extra=ep.extras[0] if ep.extras else None,
                dist=DIST_NAME if builtin else dist,
            )
    except Exception:  # a broken distribution must not hide the others
        log.exception("reading the rtoc.drivers entry points failed")
    if not any(s.source == "builtin" for s in specs.values()):
        log.warning(
            "no built-in drivers registered: reinstall rtoc-tui (pip install -e .) so that its "
            "rtoc.drivers entry points exist"
        )
    if devices_dir is not None and devices_dir.is_dir():
        for path in sorted(devices_dir.iterdir()):
            if path.name.startswith((".", "_")):
                continue
            if path.is_file() and path.suffix == ".py":
                specs[path.stem] = DriverSpec(path.stem, "user", str(path))
            elif path.is_dir():
                main = path / f"{path.name}.py"
                if main.is_file():
                    specs[path.name] = DriverSpec(path.name, "user", str(main))
    return specs


USER_PACKAGE = "rtoc_user_devices"  # parent of the packages user plugins are loaded as


class _PluginLoader(importlib.machinery.SourceFileLoader):
    """Loads a user plugin's module with compat's builtins (shims for removed Python APIs)."""

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__["__builtins__"] = compat.plugin_builtins()
        super().exec_module(module)


class _PluginFinder(importlib.abc.MetaPathFinder):
    """Finds the sub-modules of user plugin packages and loads them with _PluginLoader."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if not fullname.startswith(USER_PACKAGE + ".") or path is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = _PluginLoader(fullname, spec.origin or "")
        return spec


_finder = _PluginFinder()


def _install_finder() -> None:
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    if USER_PACKAGE not in sys.modules:
        root = types.ModuleType(USER_PACKAGE)
        root.__path__ = []  # only the packages registered below live here
        sys.modules[USER_PACKAGE] = root


def _identifier(name: str) -> str:
    ident = re.sub(r"\W", "_", name)
    return ident if ident[:1].isalpha() else "p_" + ident


def _package(name: str, folder: Path) -> types.ModuleType:
    """A package module for a folder (running its __init__.py if it has one)."""
    init = folder / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(
            name,
            init,
            loader=_PluginLoader(name, str(init)),
            submodule_search_locations=[str(folder)],
        )
    else:
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    if spec.loader is not None:
        spec.loader.exec_module(module)
    return module


def _forget(prefix: str) -> None:
    """Drop a plugin package and its sub-modules, so a restart runs the edited files."""
    for key in [k for k in sys.modules if k == prefix or k.startswith(prefix + ".")]:
        del sys.modules[key]


def _folder_package_name(devices_dir: Path) -> str:
    digest = hashlib.sha1(str(devices_dir.resolve()).encode()).hexdigest()[:8]
    return f"{USER_PACKAGE}.d{digest}"


def user_package_name(path: Path) -> str:
    """The package a user plugin file is loaded in (one per plugin folder, RTOC's layout).

    `devices/PIKO/PIKO.py` runs as a sub-module of a package for `devices/PIKO`, so `from .Piko
    import Piko` and `from .vc820py.vc820 import ...` work as in RTOC; a plain file
    `devices/Name.py` runs in a package for `devices/` itself. The name carries a hash of the
    folder path: two user folders in one process never share modules.
    """
    path = Path(path).resolve()
    in_folder = path.parent.name == path.stem
    base = _folder_package_name(path.parent.parent if in_folder else path.parent)
    if in_folder:
        return f"{base}.{_identifier(path.stem)}"
    return base


def _load_user_module(path: Path) -> types.ModuleType:
    _install_finder()
    path = Path(path).resolve()
    in_folder = path.parent.name == path.stem
    devices_dir = path.parent.parent if in_folder else path.parent
    base = _folder_package_name(devices_dir)
    if base not in sys.modules:
        _package(base, devices_dir)
    if in_folder:
        pkg = user_package_name(path)
        _forget(pkg)
        _package(pkg, path.parent)
        # RTOC put the plugin's folder on sys.path too: `import helper` finds a sibling file
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
    else:
        pkg = base
    mod_name = f"{pkg}.{path.stem}"
    sys.modules.pop(mod_name, None)
    mspec = importlib.util.spec_from_file_location(
        mod_name, path, loader=_PluginLoader(mod_name, str(path))
    )
    if mspec is None or mspec.loader is None:
        raise DeviceError(f"cannot load {path}")
    module = importlib.util.module_from_spec(mspec)
    sys.modules[mod_name] = module
    try:
        mspec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(mod_name, None)
        if in_folder:
            _forget(pkg)
        raise
    return module


def describe_plugin_failure(exc: BaseException, what: str = "") -> str:
    """One line for a plugin's failure: the error, where in the plugin, and what to do.

    SystemExit (RTOC plugins call sys.exit() when a dependency is missing) is reported with
    the exception it was raised while handling, which names the missing module.
    """
    if isinstance(exc, SystemExit):
        code = exc.code
        text = "called sys.exit()" if code is None else f"called sys.exit({code!r})"
        cause = exc.__context__
        if cause is not None and not isinstance(cause, SystemExit):
            text += f" after {type(cause).__name__}: {cause}"
            hint = _missing_module_hint(cause)
            if hint:
                text += f" ({hint})"
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        hint = compat.removed_api_hint(exc) or _missing_module_hint(exc)
        if hint:
            text += f" ({hint})"
    where = _plugin_location(exc)
    if where:
        text += f" [{where}]"
    return f"{what}{text}"


def _missing_module_hint(exc: BaseException) -> str | None:
    if isinstance(exc, ModuleNotFoundError) and exc.name and not compat.removed_api_hint(exc):
        top = exc.name.split(".")[0]
        return f"the plugin needs the Python package that provides '{top}': pip install it"
    return None


def _plugin_location(exc: BaseException) -> str:
    """`file line N` of the innermost traceback frame in a user plugin's code."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return f"{Path(exc.filename).name} line {exc.lineno}"
    where = ""
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_globals.get("__name__", "")
        if isinstance(name, str) and name.startswith(USER_PACKAGE + "."):
            where = f"{Path(tb.tb_frame.f_code.co_filename).name} line {tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _reraise_interrupt(exc: BaseException) -> None:
    """A Ctrl-C stops the logger; anything else a plugin raises is the plugin's failure."""
    if isinstance(exc, KeyboardInterrupt):
        raise exc


def load_class(spec: DriverSpec) -> type[LoggerPlugin]:
    """Import the driver's module and return its plugin class.

    Raises DeviceError for any failure of the plugin's own code, SystemExit included.
    """
    compat.install()
    if spec.source == "user":
        path = Path(spec.target)
        try:
            module = _load_user_module(path)
        except DeviceError:
            raise
        except BaseException as exc:
            _reraise_interrupt(exc)
            raise DeviceError(
                describe_plugin_failure(exc, f"{path.name}: import failed: ")
            ) from exc
        cls = getattr(module, "Plugin", None)
    else:
        need = spec.missing_extra()
        if need is not None:
            raise DeviceError(f"{spec.name} needs {need}: pip install '{need}'")
        mod_name, _, attr = spec.target.partition(":")
        try:
            module = importlib.import_module(mod_name)
        except BaseException as exc:
            _reraise_interrupt(exc)
            raise DeviceError(
                describe_plugin_failure(exc, f"driver {spec.name}: import of {mod_name} failed: ")
            ) from exc
        cls = getattr(module, attr or "Plugin", None)
    if not (isinstance(cls, type) and issubclass(cls, LoggerPlugin)):
        raise DeviceError(f"driver {spec.name}: no LoggerPlugin subclass (class Plugin) found")
    return cls


# -- crashes of threads a plugin starts itself -----------------------------------------------
# RTOC's Template runs `while self.run:` loops in threading.Thread; when one dies, Python only
# prints a traceback. The hook finds the plugin the thread belongs to (its target is a method of
# the plugin, or a frame runs the plugin's code) and reports it like a failing timer.
_live: weakref.WeakSet[LoggerPlugin] = weakref.WeakSet()
_previous_hook: Any = None


def _owner(args: Any) -> LoggerPlugin | None:
    target = getattr(args.thread, "_target", None)
    owner = getattr(target, "__self__", None)
    if isinstance(owner, LoggerPlugin) and owner in _live:
        return owner
    modules: list[str] = []
    tb = args.exc_traceback
    while tb is not None:
        this = tb.tb_frame.f_locals.get("self")
        if isinstance(this, LoggerPlugin) and this in _live:
            return this
        name = tb.tb_frame.f_globals.get("__name__")
        if isinstance(name, str):
            modules.append(name)
        tb = tb.tb_next
    for name in reversed(modules):
        for plugin in list(_live):
            prefix = getattr(plugin, "_module_prefix", None)
            if prefix and (name == prefix or name.startswith(prefix + ".")):
                return plugin
    return None


def _thread_excepthook(args: Any) -> None:
    plugin = None
    if args.exc_type is not SystemExit or args.exc_value is None or args.exc_value.code:
        try:
            plugin = _owner(args)
        except Exception:  # the hook must never fail
            log.exception("finding the plugin of a crashed thread failed")
    if plugin is None:
        (_previous_hook or threading.__excepthook__)(args)
        return
    name = getattr(args.thread, "name", "?")
    plugin._report_thread_crash(args.exc_value or args.exc_type(), name)


def install_thread_hook() -> None:
    """Route crashes of plugin threads to their plugin (once per process)."""
    global _previous_hook
    if threading.excepthook is not _thread_excepthook:
        _previous_hook = threading.excepthook
        threading.excepthook = _thread_excepthook


class DeviceManager:
    """Owns the running driver instances of one logger."""

    def __init__(
        self,
        host: Any,
        devices_dir: Path | None,
        settings: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._host = host
        self.devices_dir = devices_dir
        self.settings: dict[str, Mapping[str, Any]] = dict(settings or {})
        self._specs: dict[str, DriverSpec] = {}
        self._running: dict[str, LoggerPlugin] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.RLock()  # the dicts above; never held while driver code runs
        self._starting: dict[str, threading.Lock] = {}  # one start at a time per driver
        self._watchdog: threading.Thread | None = None
        self._stuck: dict[str, float] = {}  # drivers reported stuck, and since when
        self.refresh()

    def refresh(self) -> None:
        """Look for drivers again (e.g. after a plugin file was added)."""
        self._specs = discover(self.devices_dir)

    @property
    def specs(self) -> dict[str, DriverSpec]:
        return dict(self._specs)

    def names(self) -> list[str]:
        return sorted(self._specs)

    def get(self, name: str) -> LoggerPlugin | None:
        """A running driver by registry name or by its device name."""
        plugin = self._running.get(name)
        if plugin is not None:
            return plugin
        for p in list(self._running.values()):
            if p.devicename == name:
                return p
        return None

    def running(self) -> dict[str, LoggerPlugin]:
        return dict(self._running)

    def start(self, name: str) -> LoggerPlugin:
        """Load and construct a driver (its __init__ usually starts its timer).

        Only this driver's start lock is held while its code runs: a constructor that blocks
        delays neither other drivers' starts nor anything else the manager does."""
        with self._lock:
            if name in self._running:
                return self._running[name]
            lock = self._starting.setdefault(name, threading.Lock())
        with lock:
            with self._lock:
                if name in self._running:  # started by another thread meanwhile
                    return self._running[name]
                spec = self._specs.get(name)
                if spec is None:
                    self.refresh()
                    spec = self._specs.get(name)
            if spec is None:
                raise DeviceError(f"no driver named {name!r} (known: {', '.join(self.names())})")
            install_thread_hook()
            try:
                cls = load_class(spec)
                with construction_context(self._host, name, self.settings.get(name)):
                    plugin = cls(self._host)
            except BaseException as exc:
                _reraise_interrupt(exc)
                reason = str(exc) if isinstance(exc, DeviceError) else describe_plugin_failure(exc)
                self._errors[name] = reason
                log.error("device %s failed to start: %s", name, reason)
                self._host.events.add(
                    f"{name} failed to start: {reason}",
                    dname=name,
                    sname="error",
                    priority=2,
                    id="deviceError",
                )
                raise DeviceError(reason) from exc
            if plugin.devicename == "noDevice":
                plugin.setDeviceName(name)
            if spec.source == "user":
                plugin._module_prefix = user_package_name(Path(spec.target))
            else:
                plugin._module_prefix = type(plugin).__module__
            _live.add(plugin)
            with self._lock:
                self._errors.pop(name, None)
                self._running[name] = plugin
            self._watch()
            log.info("device %s started", name)
            return plugin

    def stop(self, name: str) -> None:
        """Stop a running driver (timer cancelled, close() called); a driver that failed to
        start is set back to stopped (its error acknowledged)."""
        with self._lock:
            self._errors.pop(name, None)
            plugin = self._running.pop(name, None)
            if plugin is None:
                p = self.get(name)
                if p is None:
                    return
                name = next(k for k, v in self._running.items() if v is p)
                plugin = self._running.pop(name)
        _live.discard(plugin)
        try:
            plugin.close()
        except BaseException as exc:
            _reraise_interrupt(exc)
            log.error("device %s failed while stopping: %s", name, describe_plugin_failure(exc))
        if plugin._timer is not None:
            plugin._timer.stop()
        log.info("device %s stopped", name)

    def stop_all(self) -> None:
        for name in list(self._running):
            self.stop(name)

    def autorun(self, names: list[str]) -> list[str]:
        """Start the listed drivers, each in a thread of its own (a slow constructor delays no
        other); failures are reported and skipped. Returns those started, in list order."""
        ok: dict[str, bool] = {}

        def one(name: str) -> None:
            try:
                self.start(name)
                ok[name] = True
            except DeviceError:
                pass  # already logged and recorded as an event

        threads = [
            threading.Thread(target=one, args=(n,), name=f"rtoc-start-{n}", daemon=True)
            for n in dict.fromkeys(names)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return [n for n in dict.fromkeys(names) if ok.get(n)]

    # -- watchdog -------------------------------------------------------------------------------
    def _watch(self) -> None:
        """Start the watchdog thread with the first driver."""
        with self._lock:
            if self._watchdog is not None:
                return
            self._watchdog = threading.Thread(
                target=self._watch_loop, name="rtoc-device-watchdog", daemon=True
            )
        self._watchdog.start()

    def _watch_loop(self) -> None:
        while True:
            time.sleep(WATCHDOG_INTERVAL_S)
            try:
                self.check_stuck()
            except Exception:  # the watchdog must outlive any surprise
                log.exception("device watchdog failed")

    def check_stuck(self) -> list[str]:
        """Report drivers whose timer call hangs (once per episode); returns the stuck ones."""
        stuck = []
        for name, plugin in self.running().items():
            since = plugin._stuck_since()
            if since is None:
                if self._stuck.pop(name, None) is not None:
                    log.info("device %s answers again", name)
                continue
            stuck.append(name)
            if name in self._stuck:
                continue
            self._stuck[name] = since
            when = time.strftime("%H:%M:%S", time.localtime(since))
            log.error("device %s is stuck: its timer call has been blocked since %s", name, when)
            self._host.events.add(
                f"{name} is stuck: its timer call has been blocked since {when}",
                dname=name,
                sname="error",
                priority=2,
                id="deviceStuck",
            )
        return stuck

    def status(self) -> list[DeviceStatus]:
        out = []
        for name in self.names():
            spec = self._specs[name]
            plugin = self._running.get(name)
            if plugin is not None:
                state, reason = plugin._state
                out.append(
                    DeviceStatus(
                        name,
                        spec.source,
                        state,
                        reason,
                        plugin.devicename,
                        plugin.samplerate,
                        _first_line(type(plugin).__doc__),
                    )
                )
            elif name in self._errors:
                out.append(
                    DeviceStatus(name, spec.source, "error", self._errors[name], name, None, "")
                )
            else:
                out.append(DeviceStatus(name, spec.source, "stopped", "", name, None, ""))
        return out


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""
