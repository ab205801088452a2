"""StoreClient: the client interface over a stored history, read-only, with no logger running.

`rtoc web --home DIR` shows a user folder's store (SQLite or PostgreSQL) through this client,
as RTOC's web server did with its PostgreSQL database. Every read runs in a thread (a store
read can take milliseconds); every write or control call is refused with a ClientError, so a
viewer can never change a recording.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

from ..api import (
    ClientError,
    ConfigValue,
    DeviceDetail,
    DeviceInfo,
    EventInfo,
    ImportProgress,
    ImportReport,
    ImportSignal,
    ScriptInfo,
    ScriptOutput,
    ServerInfo,
    SignalChunk,
    SignalInfo,
    SignalStats,
    SignalWindow,
    Status,
)
from ..storage import StorageEngine, StorageError, StoredSignal

# Signal metadata is re-read at most this often (a poll from each of many browsers would
# otherwise run the same GROUP BY over the block index).
SIGNALS_TTL_S = 1.0
# events_since(0) hands out at most this many (the newest), like a logger's global.maxEvents.
FIRST_EVENTS = 10_000
# read_since never returns more than this many samples per signal (the rest counts as missed).
MAX_READ = 1_000_000

READ_ONLY = "this is a stored history opened read-only (rtoc web --home); start the logger to {}"


class StoreClient:
    """The client interface over a StorageEngine (opened by the caller), read-only."""

    def __init__(self, engine: StorageEngine, name: str) -> None:
        self.engine = engine
        self.name = name
        self._started = time.time()
        self._signals: list[StoredSignal] = []
        self._signals_at = -1e9
        self._latest: dict[int, tuple[int, tuple[float, float] | None]] = {}
        self._event_x: dict[int, float] = {}  # seq -> x of events handed out (cursor lookups)

    @property
    def info(self) -> ServerInfo:
        return ServerInfo(
            host="store", port=None, remote=False, connected=True, extra={"mode": "store"}
        )

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        await asyncio.to_thread(self.engine.close)

    async def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args)
        except StorageError as exc:
            raise ClientError(f"the store cannot be read: {exc}") from exc

    async def _stored(self) -> list[StoredSignal]:
        now = time.monotonic()
        if now - self._signals_at > SIGNALS_TTL_S:
            self._signals = await self._call(self.engine.signals)
            self._signals_at = now
        return self._signals

    async def _find(self, name: str) -> StoredSignal:
        for s in await self._stored():
            if s.name == name:
                return s
        raise ClientError(f"no stored signal named {name!r}")

    # -- overview -------------------------------------------------------------------------------
    async def status(self) -> Status:
        sigs = await self._stored()
        total = sum(s.count for s in sigs)
        return Status(
            name=self.name,
            uptime_s=time.time() - self._started,
            signals=len(sigs),
            samples_in_memory=0,
            samples_total=total,
            samples_per_s=0.0,
            events=len(self._event_x),
            devices_running=0,
            clients=0,
            storage=f"{self.engine.describe()} (read-only)",
            storage_lag_s=None,
            record_length=0,
        )

    # -- devices: none run here -----------------------------------------------------------------
    async def devices(self) -> list[DeviceInfo]:
        return []

    async def device_detail(self, name: str) -> DeviceDetail:
        raise ClientError(READ_ONLY.format("see its devices"))

    async def start_device(self, name: str) -> DeviceInfo:
        raise ClientError(READ_ONLY.format("start devices"))

    async def stop_device(self, name: str) -> DeviceInfo:
        raise ClientError(READ_ONLY.format("stop devices"))

    async def set_parameter(self, device: str, name: str, value: Any) -> Any:
        raise ClientError(READ_ONLY.format("set parameters"))

    async def call_function(
        self,
        device: str,
        name: str,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        raise ClientError(READ_ONLY.format("call device functions"))

    # -- signals --------------------------------------------------------------------------------
    def _latest_of(self, sig: StoredSignal) -> tuple[float, float] | None:
        cached = self._latest.get(sig.id)
        if cached is not None and cached[0] == sig.count:
            return cached[1]
        # The samples at the newest x, found through the block index on x: engine.tail() sorts
        # all blocks of the signal (about 1 s for 10M samples), this takes a millisecond.
        if sig.xmax is None:
            return None
        x, y = self.engine.query(sig.id, sig.xmax, None, None)
        latest = (float(x[-1]), float(y[-1])) if len(x) else None
        self._latest[sig.id] = (sig.count, latest)
        return latest

    def _infos(self, sigs: list[StoredSignal]) -> list[SignalInfo]:
        return [
            SignalInfo(
                s.id,
                s.dname,
                s.sname,
                s.unit,
                s.count,
                s.count,
                0,
                s.xmax or 0.0,
                self._latest_of(s),
            )
            for s in sigs
        ]

    async def signals(self) -> list[SignalInfo]:
        sigs = await self._stored()
        infos: list[SignalInfo] = await self._call(self._infos, sigs)
        return infos

    async def read_since(self, cursors: dict[str, int]) -> dict[str, SignalChunk]:
        out: dict[str, SignalChunk] = {}
        by_name = {s.name: s for s in await self._stored()}
        for name, cursor in cursors.items():
            sig = by_name.get(name)
            if sig is None:
                continue
            new = max(0, sig.count - max(0, int(cursor)))
            x, y = (
                await self._call(self.engine.tail, sig.id, min(new, MAX_READ))
                if new
                else (np.empty(0), np.empty(0))
            )
            out[name] = SignalChunk(name, x, y, sig.count, new - len(x), 0)
        return out

    async def window(
        self, names: list[str], xmin: float | None, xmax: float | None, n_points: int
    ) -> dict[str, SignalWindow]:
        out = {}
        by_name = {s.name: s for s in await self._stored()}
        for name in names:
            sig = by_name.get(name)
            if sig is None:
                continue
            x, y = await self._call(self.engine.query, sig.id, xmin, xmax, n_points)
            out[name] = SignalWindow(name, sig.unit, x, y)
        return out

    def _stats(
        self, sig: StoredSignal, xmin: float | None, xmax: float | None
    ) -> SignalStats | None:
        count, total, integral = 0, 0.0, 0.0
        lo, hi = np.inf, -np.inf
        first = last = None
        prev: tuple[float, float] | None = None
        for x, y in self.engine.iter_samples(sig.id, xmin, xmax):
            if not len(x):
                continue
            count += len(x)
            total += float(y.sum())
            lo, hi = min(lo, float(y.min())), max(hi, float(y.max()))
            if prev is not None:  # the trapezoid across the gap between two blocks
                integral += (x[0] - prev[0]) * (y[0] + prev[1]) / 2
            integral += float(np.trapezoid(y, x)) if len(x) > 1 else 0.0
            first = float(x[0]) if first is None else first
            last = float(x[-1])
            prev = (float(x[-1]), float(y[-1]))
        if not count or first is None or last is None:
            return None
        return SignalStats(sig.name, count, lo, hi, total / count, integral, first, last)

    async def stats(
        self, name: str, xmin: float | None = None, xmax: float | None = None
    ) -> SignalStats | None:
        sig = await self._find(name)
        stats: SignalStats | None = await self._call(self._stats, sig, xmin, xmax)
        return stats

    async def send(
        self,
        dname: str,
        values: dict[str, float],
        units: dict[str, str] | None = None,
        x: float | None = None,
    ) -> None:
        raise ClientError(READ_ONLY.format("record data"))

    async def clear_signals(self, names: list[str] | None = None) -> None:
        raise ClientError(READ_ONLY.format("clear signals"))

    async def delete_signals(self, names: list[str]) -> None:
        raise ClientError(READ_ONLY.format("delete signals"))

    async def import_signals(
        self, signals: list[ImportSignal], progress: ImportProgress | None = None
    ) -> ImportReport:
        raise ClientError(READ_ONLY.format("import data (or use rtoc import --store)"))

    # -- events ---------------------------------------------------------------------------------
    async def events_since(self, cursor: int = 0) -> list[EventInfo]:
        if cursor <= 0 or cursor not in self._event_x:
            stored = await self._call(self.engine.events, None, None, FIRST_EVENTS, True)
        else:  # x is indexed: read from the cursor's time on, then drop what was handed out
            stored = await self._call(self.engine.events, self._event_x[cursor])
        out = [
            EventInfo(e.seq, e.x, e.text, e.dname, e.sname, e.priority, e.id, e.value)
            for e in stored
            if e.seq > cursor
        ]
        for e in out:
            self._event_x[e.seq] = e.x
        return out

    async def add_event(
        self, text: str, dname: str = "", sname: str = "", priority: int = 0, id: str = ""
    ) -> None:
        raise ClientError(READ_ONLY.format("add events"))

    async def clear_events(self) -> None:
        raise ClientError(READ_ONLY.format("clear events"))

    # -- scripts and automation: not in a stored history ----------------------------------------
    async def run_script(
        self,
        source: str,
        name: str = "script",
        mode: str = "once",
        samplerate: float | None = None,
        triggers: list[str] | None = None,
    ) -> ScriptInfo:
        raise ClientError(READ_ONLY.format("run scripts"))

    async def scripts(self) -> list[ScriptInfo]:
        return []

    async def stop_script(self, script_id: str) -> None:
        raise ClientError(READ_ONLY.format("stop scripts"))

    async def script_output(self, script_id: str, cursor: int = 0) -> ScriptOutput:
        raise ClientError(READ_ONLY.format("see script output"))

    async def saved_scripts(self) -> list[str]:
        return []

    async def load_script(self, name: str) -> str:
        raise ClientError(READ_ONLY.format("load scripts"))

    async def save_script(self, name: str, source: str) -> None:
        raise ClientError(READ_ONLY.format("save scripts"))

    async def global_events(self) -> dict[str, dict[str, Any]]:
        return {}

    async def set_global_event(self, name: str, spec: dict[str, Any] | None) -> None:
        raise ClientError(READ_ONLY.format("change global events"))

    async def global_actions(self) -> dict[str, dict[str, Any]]:
        return {}

    async def set_global_action(self, name: str, spec: dict[str, Any] | None) -> None:
        raise ClientError(READ_ONLY.format("change global actions"))

    # -- settings: a viewer sees none (they may hold secrets) -------------------------------------
    async def config(self) -> list[ConfigValue]:
        return []

    async def set_config(self, updates: dict[str, Any]) -> list[ConfigValue]:
        raise ClientError(READ_ONLY.format("change settings"))

    # -- storage --------------------------------------------------------------------------------
    async def query(
        self, name: str, xmin: float | None, xmax: float | None, max_n: int
    ) -> SignalWindow:
        sig = await self._find(name)
        x, y = await self._call(self.engine.query, sig.id, xmin, xmax, max_n)
        return SignalWindow(name, sig.unit, x, y)

    async def export(
        self,
        path: str,
        names: list[str] | None,
        xmin: float | None,
        xmax: float | None,
        fmt: str = "csv",
    ) -> str:
        raise ClientError("export a stored history with `rtoc export --home DIR FILE`")
