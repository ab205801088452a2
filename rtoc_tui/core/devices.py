"""Finds drivers, starts and stops them, and keeps one failing driver from hurting the rest.

Drivers come from three places, in this order of precedence for equal names:
1. the user's `devices/` folder (RTOC layout: `devices/Name.py` or `devices/Name/Name.py`);
2. the `rtoc.drivers` entry-point group of installed packages;
3. the built-in `rtoc_tui.drivers` registry.
Listing imports nothing; starting a driver imports only that driver.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
import sys
import threading
import time
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


def load_class(spec: DriverSpec) -> type[LoggerPlugin]:
    """Import the driver's module and return its plugin class."""
    compat.install()
    if spec.source == "user":
        path = Path(spec.target)
        mod_name = f"rtoc_user_devices.{spec.name}"
        # RTOC plugins import helper modules from their own folder
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))
        mspec = importlib.util.spec_from_file_location(mod_name, path)
        if mspec is None or mspec.loader is None:
            raise DeviceError(f"cannot load {path}")
        module = importlib.util.module_from_spec(mspec)
        sys.modules[mod_name] = module
        try:
            mspec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(mod_name, None)
            raise DeviceError(f"{path}: import failed: {type(exc).__name__}: {exc}") from exc
        cls = getattr(module, "Plugin", None)
    else:
        need = spec.missing_extra()
        if need is not None:
            raise DeviceError(f"{spec.name} needs {need}: pip install '{need}'")
        mod_name, _, attr = spec.target.partition(":")
        try:
            module = importlib.import_module(mod_name)
        except Exception as exc:
            raise DeviceError(
                f"driver {spec.name}: import of {mod_name} failed: {type(exc).__name__}: {exc}"
            ) from exc
        cls = getattr(module, attr or "Plugin", None)
    if not (isinstance(cls, type) and issubclass(cls, LoggerPlugin)):
        raise DeviceError(f"driver {spec.name}: no LoggerPlugin subclass (class Plugin) found")
    return cls


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
            try:
                cls = load_class(spec)
                with construction_context(self._host, name, self.settings.get(name)):
                    plugin = cls(self._host)
            except Exception as exc:
                reason = (
                    str(exc) if isinstance(exc, DeviceError) else f"{type(exc).__name__}: {exc}"
                )
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
        try:
            plugin.close()
        except Exception:
            log.exception("device %s failed while stopping", name)
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
