"""The logger: signal store, event list, devices and the services around them (TCP server,
storage, automation), with one start/stop lifecycle. Never imports Textual.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..config.home import Home, LoadedConfig, load_config
from ..config.schema import Config, redact_logs
from . import ingest
from .devices import DeviceManager
from .events import EventLog
from .persistent import PersistentStore
from .store import SignalStore

if TYPE_CHECKING:
    # Type-only: the services live in layers above the kernel; runtime.py creates them and
    # sets the slots below, the kernel itself never calls into them.
    from ..scripting.engine import Automation
    from ..server.tcp import TcpServer
    from ..storage.service import StorageService
    from ..telegram.bot import TelegramBot
    from ..web.service import WebServer

log = logging.getLogger("rtoc.logger")

# Drivers, the storage flusher, automation and the UI share one process. With CPython's default
# 5 ms GIL switch interval, a driver streaming in a tight loop made every GIL hand-back of the
# flusher (each numpy or SQLite call) wait up to 5 ms: flushes took 0.3 s instead of 0.05 s and
# the kill -9 guarantee (stored within two flush intervals) failed. 1 ms fixes that; the ingest
# rate is unchanged (bench/bench_core.py, bench/bench_storage.py).
GIL_SWITCH_INTERVAL_S = 0.001
# Shutdown: drivers get this long to stop (all at once); a hung one is abandoned (its thread is
# a daemon) so the final flush still runs, with its own budget (StorageService.stop).
DRIVER_STOP_BUDGET_S = 3.0
# Worker threads per pool (Logger.run_in): device calls may hang, so they get more.
POOL_SIZES = {"device": 16, "storage": 4}


TelegramSink = Callable[[str, Any, bool, str], None]


class Service(Protocol):
    """Something that runs beside the logger (TCP server, storage flusher, automation)."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LoggerStatus:
    """A one-glance summary for `rtoc status`, the headless status line and the UI header."""

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


class Logger:
    """One RTOC logger instance."""

    def __init__(
        self, home: Home, loaded: LoadedConfig, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.home = home
        self.loaded = loaded
        self.clock = clock
        if sys.getswitchinterval() > GIL_SWITCH_INTERVAL_S:
            sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        cfg = loaded.config
        redact_logs(cfg.to_json())  # secrets never reach a log line (config/schema.py)
        g = cfg.global_
        self.store = SignalStore(g.recordLength, g.maxSignals, g.maxNameLength)
        self.events = EventLog(max_events=g.maxEvents, max_event_bytes=g.maxEventBytes)
        self.persistent = PersistentStore(home.persistent_file)
        self.devices = DeviceManager(self, home.devices_dir, cfg.devices)
        self.services: list[Service] = []
        self.started_at = clock()
        self._rate_mark: tuple[float, int] = (time.monotonic(), 0)
        self._rate = 0.0
        self.clients = 0  # set by the TCP server
        # Service slots, filled by rtoc_tui.runtime.build_logger as the config asks; None when
        # that part is off (or, in tests, not built).
        # Blocking work leaves the loop on pools of its own: eight hung device calls must not
        # make a storage query wait (they used to share asyncio's default executor).
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self.storage: StorageService | None = None
        self.automation: Automation | None = None
        self.tcp_server: TcpServer | None = None
        self.web: WebServer | None = None
        # Where plugins' telegram_send_* calls go: (kind, payload, only_admin, source), callable
        # from any thread. Set by the runtime when the Telegram bot runs (core never imports it).
        self.telegram_sink: TelegramSink | None = None
        self.telegram: TelegramBot | None = None  # the bot itself (its state for clients)

    @classmethod
    def from_home(cls, home: Home, cli: dict[str, Any] | None = None, **kw: Any) -> Logger:
        home.ensure()
        return cls(home, load_config(home.config_file, cli=cli), **kw)

    @property
    def config(self) -> Config:
        return self.loaded.config

    # -- data in (TCP and scripts use these; drivers go through LoggerPlugin) -----------------
    def stream(
        self,
        y: Any = None,
        snames: Any = None,
        dname: str = "noDevice",
        unit: Any = None,
        x: Any = None,
        slist: Any = None,
        sdict: Any = None,
        wait: float | None = None,
    ) -> int:
        """Store samples (RTOC's stream() forms); BufferFull (nothing stored) when storage
        cannot make room within wait seconds (default: the store's block_s)."""
        return ingest.stream(self.store, dname, y, snames, unit, x, slist, sdict, wait)

    def plot(
        self,
        x: Any,
        y: Any,
        sname: str = "noName",
        dname: str = "noDevice",
        unit: str = "",
        hold: str = "off",
        wait: float | None = None,
    ) -> None:
        self.store.plot(x, y, sname, dname, unit, hold=hold, wait=wait)

    def event(
        self,
        text: str = "",
        sname: str = "",
        dname: str = "",
        priority: int = 0,
        id: str | None = None,
        value: Any = None,
        x: float | None = None,
    ) -> Any:
        return self.events.add(
            text, dname=dname, sname=sname, priority=priority, id=id, value=value, x=x
        )

    # -- thread pools -----------------------------------------------------------------------------
    async def run_in(self, pool: str, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) on the named pool: "device" (driver code) or "storage" (reads, exports)."""
        ex = self._pools.get(pool)
        if ex is None:
            ex = self._pools.setdefault(
                pool,
                ThreadPoolExecutor(POOL_SIZES.get(pool, 4), thread_name_prefix=f"rtoc-{pool}"),
            )
        return await asyncio.get_running_loop().run_in_executor(ex, functools.partial(fn, *args))

    # -- lifecycle ------------------------------------------------------------------------------
    def add_service(self, service: Service) -> None:
        self.services.append(service)

    async def start(self, autorun: bool = True) -> None:
        """Start services, then the autorun drivers (their constructors may block: a thread)."""
        for svc in self.services:
            try:
                await svc.start()
            except Exception as exc:
                log.error("service %s failed to start: %s", svc.name, exc)
                self.event(
                    f"{svc.name} failed to start: {exc}",
                    dname="RTOC",
                    sname=svc.name,
                    priority=2,
                    id="serviceError",
                )
                raise
        if autorun:
            names = self.home.read_autorun()
            if names:
                started = await asyncio.to_thread(self.devices.autorun, names)
                log.info("autorun: started %s", ", ".join(started) or "nothing")

    async def stop(self, drivers_budget_s: float = DRIVER_STOP_BUDGET_S) -> list[str]:
        """Stop taking data, then flush: services that accept data from outside (`ingress`, the
        TCP server) first, so nothing is acknowledged after this point; then the drivers, all
        at once, abandoning those still hung after drivers_budget_s; then the other services in
        reverse start order (storage's final flush last, with its own budget).
        Returns the names of abandoned drivers."""
        ingress = [s for s in self.services if getattr(s, "ingress", False)]
        for svc in reversed(ingress):
            await self._stop_service(svc)
        abandoned = await self._stop_drivers(drivers_budget_s)
        for svc in reversed(self.services):
            if svc not in ingress:
                await self._stop_service(svc)
        pools, self._pools = self._pools, {}
        for ex in pools.values():  # a hung device call must not hold up the exit
            ex.shutdown(wait=False, cancel_futures=True)
        return abandoned

    async def _stop_service(self, svc: Service) -> None:
        try:
            await svc.stop()
        except Exception:
            log.exception("service %s failed while stopping", svc.name)

    async def _stop_drivers(self, budget_s: float) -> list[str]:
        """Stop every running driver in a daemon thread of its own; wait at most budget_s."""
        loop = asyncio.get_running_loop()
        waits: dict[str, asyncio.Future[None]] = {}

        def settle(fut: asyncio.Future[None]) -> None:
            if not fut.done():
                fut.set_result(None)

        def stop_one(name: str, fut: asyncio.Future[None]) -> None:
            try:
                self.devices.stop(name)
            finally:
                try:
                    loop.call_soon_threadsafe(settle, fut)
                except RuntimeError:  # the loop is gone: we were abandoned long ago
                    pass

        for name in list(self.devices.running()):
            fut = waits[name] = loop.create_future()
            threading.Thread(
                target=stop_one, args=(name, fut), name=f"rtoc-stop-{name}", daemon=True
            ).start()
        if not waits:
            return []
        await asyncio.wait(list(waits.values()), timeout=budget_s)
        hung = [name for name, fut in waits.items() if not fut.done()]
        for name in hung:
            log.error(
                "device %s did not stop within %.0f s; abandoning it so the final flush can run",
                name,
                budget_s,
            )
            self.event(
                f"{name} did not stop within {budget_s:.0f} s and was abandoned at shutdown",
                dname=name,
                sname="error",
                priority=2,
                id="deviceAbandoned",
            )
        return hung

    # -- status ---------------------------------------------------------------------------------
    def samples_per_s(self) -> float:
        """Ingest rate since the previous call (at least 1 s apart, else the last figure)."""
        now = time.monotonic()
        total = sum(b.written for b in self.store.buffers())
        t0, n0 = self._rate_mark
        if now - t0 >= 1.0:
            self._rate = (total - n0) / (now - t0)
            self._rate_mark = (now, total)
        return self._rate

    def status(self) -> LoggerStatus:
        bufs = self.store.buffers()
        storage, lag = ("memory only", None)
        if self.storage is not None:
            try:
                storage, lag = self.storage.state()
            except Exception as exc:
                storage = f"error: {exc}"
        return LoggerStatus(
            name=self.config.global_.name,
            uptime_s=self.clock() - self.started_at,
            signals=len(bufs),
            samples_in_memory=sum(len(b) for b in bufs),
            samples_total=sum(b.written for b in bufs),
            samples_per_s=self.samples_per_s(),
            events=len(self.events),
            # a loaded driver in error (retrying) does not count as running
            devices_running=sum(
                1 for p in self.devices.running().values() if p._state[0] != "error"
            ),
            clients=self.clients,
            storage=storage,
            storage_lag_s=lag,
        )
