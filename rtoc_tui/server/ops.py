"""Our own operations over the RTOC wire format: the `rtoc` request key.

A request {"rtoc": {"op": NAME, "id": N, "args": {...}}} is answered with
{"error": false, "rtoc": {"id": N, "ok": true, "result": ...}} or
{"error": false, "rtoc": {"id": N, "ok": false, "error": "why"}}. The operations cover the
`LoggerClient` interface and are answered by the same helpers `LocalClient` uses, so local and
remote clients see the same data. Arrays travel as base64 of little-endian float64.
Wire details of every op are in docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import wire
from ..api import ClientError
from ..client import local as L
from ..config.schema import SECRET_MASK, ConfigError, is_secret, is_secret_name
from ..core.buffer import BufferFull
from ..core.logger import Logger
from ..core.store import retry_full
from ..decimate import grid_points
from .auth import HOW_TO
from .rtoc_keys import ADMIT_WAIT_S, RequestContext, jsonable

PROTOCOL_VERSION = 1
MAX_READ_SAMPLES = 2_000_000  # per signal and read_since call; the client asks again for more
MAX_INCREMENTAL_GAP = 1_000_000  # new samples above which a bucket window is recomputed whole
IMPORT_IDLE_S = 600.0  # a staged import nobody sent to for this long is dropped (client gone)


class OpError(ClientError):
    """An extension request that is malformed or not allowed."""


@dataclass(frozen=True, slots=True)
class OpSpec:
    """How an operation runs: may it block (then it leaves the loop) and is it privileged."""

    wait: bool = False
    privileged: bool = False


OPS: dict[str, OpSpec] = {
    "hello": OpSpec(),
    "ping": OpSpec(),
    "status": OpSpec(),
    "devices": OpSpec(),
    "device_detail": OpSpec(),
    "start_device": OpSpec(wait=True, privileged=True),
    "stop_device": OpSpec(wait=True, privileged=True),
    "set_parameter": OpSpec(wait=True, privileged=True),
    "call_function": OpSpec(wait=True, privileged=True),
    "signals": OpSpec(),
    "read_since": OpSpec(),
    "window": OpSpec(),
    "buckets": OpSpec(),
    "stats": OpSpec(),
    "send": OpSpec(),
    "append": OpSpec(),
    # bulk import: staged in memory and written into the stored history: privileged
    "import_begin": OpSpec(privileged=True),
    "import_chunk": OpSpec(privileged=True),
    "import_commit": OpSpec(wait=True, privileged=True),
    "import_abort": OpSpec(privileged=True),
    "clear_signals": OpSpec(privileged=True),
    "delete_signals": OpSpec(privileged=True),
    "events_since": OpSpec(),
    "add_event": OpSpec(),
    "clear_events": OpSpec(privileged=True),
    "run_script": OpSpec(wait=True, privileged=True),
    "scripts": OpSpec(wait=True, privileged=True),
    "stop_script": OpSpec(wait=True, privileged=True),
    "script_output": OpSpec(wait=True, privileged=True),
    "saved_scripts": OpSpec(wait=True, privileged=True),
    "load_script": OpSpec(wait=True, privileged=True),
    "save_script": OpSpec(wait=True, privileged=True),
    "global_events": OpSpec(wait=True, privileged=True),
    "set_global_event": OpSpec(wait=True, privileged=True),
    "global_actions": OpSpec(wait=True, privileged=True),
    "set_global_action": OpSpec(wait=True, privileged=True),
    "config": OpSpec(),
    "set_config": OpSpec(wait=True, privileged=True),
    "telegram": OpSpec(),
    "set_telegram_role": OpSpec(wait=True, privileged=True),
    "query": OpSpec(wait=True),
    "export": OpSpec(wait=True, privileged=True),
}

# LoggerClient script operation -> method of logger.automation (rtoc_tui.scripting)
_AUTOMATION_METHODS = {
    "run_script": "run",
    "scripts": "list",
    "stop_script": "stop",
    "script_output": "output",
    "saved_scripts": "saved",
    "load_script": "load",
    "save_script": "save",
    "global_events": "global_events",
    "set_global_event": "set_global_event",
    "global_actions": "global_actions",
    "set_global_action": "set_global_action",
}


def to_wire(value: Any) -> Any:
    """Dataclasses (the client API's and the core's) as dicts, everything JSON-safe."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_wire(v) for k, v in value.items()}
    return jsonable(value)


def _names(value: Any, what: str, allow_none: bool = False) -> list[str] | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise OpError(f"{what} must be a list of 'Device.Signal' names")
    return value


def _number(value: Any, what: str, allow_none: bool = True) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise OpError(f"{what} must be a number")
    return float(value)


@dataclass
class _StagedImport:
    """Chunks of a bulk import waiting for import_commit: name -> (x parts, y parts, unit)."""

    touched: float
    signals: dict[str, tuple[list[np.ndarray], list[np.ndarray], str]] = dataclasses.field(
        default_factory=dict
    )


class ExtensionOps:
    """Executes `rtoc` requests against one logger."""

    def __init__(self, logger: Logger) -> None:
        self.logger = logger
        self.local = L.LocalClient(logger)
        self.instance = secrets.token_hex(8)  # lets a client notice that the server restarted
        # bulk imports arrive in chunks (a frame holds at most maxFrameBytes) and are staged
        # here until import_commit, so a dropped connection stores nothing
        self.imports: dict[str, _StagedImport] = {}

    @staticmethod
    def privileged_op(msg: dict[str, Any]) -> str | None:
        """The name of the privileged `rtoc` operation in a request, or None."""
        req = msg.get("rtoc")
        op = req.get("op") if isinstance(req, dict) else None
        spec = OPS.get(op) if isinstance(op, str) else None
        return op if spec is not None and spec.privileged else None

    def needs_wait(self, req: dict[str, Any]) -> bool:
        op = req.get("op")
        spec = OPS.get(op) if isinstance(op, str) else None
        return spec is not None and spec.wait

    async def run(self, req: Any, ctx: RequestContext) -> dict[str, Any]:
        """Answer one `rtoc` request: {'id', 'ok', 'result'} or {'id', 'ok': False, 'error'}."""
        rid = req.get("id") if isinstance(req, dict) else None
        try:
            if not isinstance(req, dict):
                raise OpError("the rtoc key needs an object {'op': ..., ...}")
            op = req.get("op")
            spec = OPS.get(op) if isinstance(op, str) else None
            if spec is None:
                raise OpError(f"unknown operation {op!r} (known: {', '.join(OPS)})")
            if spec.privileged and not ctx.privileged:
                raise OpError(f"{op} needs authentication: {HOW_TO}")
            fn: Callable[..., Awaitable[Any]] = getattr(self, f"op_{op}")
            args = req.get("args", {})
            if not isinstance(args, dict):
                raise OpError("args must be an object {name: value}")
            try:
                inspect.signature(fn).bind(ctx, **args)
            except TypeError as exc:
                raise OpError(f"bad arguments for {op}: {exc}") from None
            result = await fn(ctx, **args)
        except ClientError as exc:
            return {"id": rid, "ok": False, "error": str(exc)}
        except (ConfigError, ValueError, TypeError, LookupError) as exc:
            return {"id": rid, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return {"id": rid, "ok": True, "result": result}

    # -- connection ---------------------------------------------------------------------------
    async def op_hello(self, ctx: RequestContext) -> dict[str, Any]:
        from .. import __version__

        return {
            "server": "rtoc-tui",
            "version": __version__,
            "protocol": PROTOCOL_VERSION,
            "instance": self.instance,
            "name": self.logger.config.global_.name,
            "loopback": ctx.loopback,
            "encrypted": ctx.encrypted,
            "privileged": ctx.privileged,
        }

    async def op_ping(self, ctx: RequestContext) -> dict[str, Any]:
        return {"time": time.time()}

    async def op_status(self, ctx: RequestContext) -> Any:
        return to_wire(L.status_of(self.logger))

    # -- devices ------------------------------------------------------------------------------
    async def op_devices(self, ctx: RequestContext) -> Any:
        return to_wire(L.devices_of(self.logger))

    async def op_device_detail(self, ctx: RequestContext, name: str) -> Any:
        detail = to_wire(L.device_detail_of(self.logger, str(name)))
        for p in detail["parameters"]:
            if is_secret_name(p["name"]):
                p["value"] = SECRET_MASK
        return detail

    async def op_start_device(self, ctx: RequestContext, name: str) -> Any:
        return to_wire(await self.local.start_device(str(name)))

    async def op_stop_device(self, ctx: RequestContext, name: str) -> Any:
        return to_wire(await self.local.stop_device(str(name)))

    async def op_set_parameter(
        self, ctx: RequestContext, device: str, name: str, value: Any
    ) -> Any:
        return jsonable(await self.local.set_parameter(str(device), str(name), value))

    async def op_call_function(
        self,
        ctx: RequestContext,
        device: str,
        name: str,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        if args is not None and not isinstance(args, list):
            raise OpError("args must be a list")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise OpError("kwargs must be an object")
        return jsonable(await self.local.call_function(str(device), str(name), args, kwargs))

    # -- signals ------------------------------------------------------------------------------
    async def op_signals(self, ctx: RequestContext) -> Any:
        return [
            [
                s.id,
                s.dname,
                s.sname,
                s.unit,
                s.count,
                s.written,
                s.epoch,
                s.updated,
                None if s.latest is None else list(s.latest),
            ]
            for s in L.signals_of(self.logger)
        ]

    async def op_read_since(
        self, ctx: RequestContext, cursors: dict[str, int], max_samples: int | None = None
    ) -> Any:
        if not isinstance(cursors, dict):
            raise OpError("cursors must be an object {name: cursor}")
        limit = (
            MAX_READ_SAMPLES
            if max_samples is None
            else max(1, min(int(max_samples), MAX_READ_SAMPLES))
        )
        out = {}
        for name, cursor in cursors.items():
            if isinstance(cursor, bool) or not isinstance(cursor, int):
                raise OpError(f"cursor of {name} must be an integer")
            buf = self.logger.store.get(name)
            if buf is None:
                continue
            r = buf.read_since(cursor, limit)
            out[name] = {
                "x": wire.encode_array(r.x),
                "y": wire.encode_array(r.y),
                "cursor": r.cursor,
                "missed": r.missed,
                "epoch": r.epoch,
            }
        return out

    async def op_window(
        self,
        ctx: RequestContext,
        names: list[str],
        xmin: float | None = None,
        xmax: float | None = None,
        n_points: int = 400,
    ) -> Any:
        wins = L.window_of(
            self.logger,
            _names(names, "names") or [],
            _number(xmin, "xmin"),
            _number(xmax, "xmax"),
            max(1, int(n_points)),
        )
        return {
            n: {"unit": w.unit, "x": wire.encode_array(w.x), "y": wire.encode_array(w.y)}
            for n, w in wins.items()
        }

    async def op_buckets(
        self, ctx: RequestContext, w: float, xmin: float, xmax: float, signals: dict[str, Any]
    ) -> Any:
        """An incremental window: min/max points on a grid of width w, only the buckets a client
        does not have yet (see RemoteClient.window)."""
        width = _number(w, "w", allow_none=False)
        lo = _number(xmin, "xmin", allow_none=False)
        hi = _number(xmax, "xmax", allow_none=False)
        assert width is not None and lo is not None and hi is not None
        if not (width > 0 and math.isfinite(width) and hi >= lo and (hi - lo) / width <= 100_000):
            raise OpError("buckets needs w > 0 and xmin <= xmax with at most 100000 buckets")
        if not isinstance(signals, dict):
            raise OpError("signals must be an object {name: [from_bucket, epoch, cursor] | null}")
        k_lo = math.floor(lo / width)
        out = {}
        for name, state in signals.items():
            buf = self.logger.store.get(name)
            if buf is None:
                continue
            epoch, written = buf.epoch, buf.written  # read before the data: never skip a sample
            from_k = self._incremental_from(buf, state, epoch, written, width)
            if from_k is None:
                x, y = buf.window(lo, hi, None)
                parts = [grid_points(x, y, width)]
            else:
                parts = []
                hx, hy = buf.window(lo, min(hi, (k_lo + 2) * width), None)
                pk, px, py = grid_points(hx, hy, width)
                keep = pk == k_lo
                parts.append((pk[keep], px[keep], py[keep]))
                first_tail = max(from_k, k_lo + 1)
                tx, ty = buf.window(max(lo, (first_tail - 1) * width), hi, None)
                pk, px, py = grid_points(tx, ty, width)
                keep = pk >= first_tail
                parts.append((pk[keep], px[keep], py[keep]))
            pk = np.concatenate([p[0] for p in parts])
            first = buf.read_since(0, 1).x
            out[name] = {
                "e": epoch,
                "c": written,
                "r": from_k is None,
                "u": buf.unit,
                "o": float(first[0]) if len(first) else None,
                "k0": k_lo,
                "k": (pk - k_lo).tolist(),
                "x": wire.encode_array(np.concatenate([p[1] for p in parts])),
                "y": wire.encode_array(np.concatenate([p[2] for p in parts])),
            }
        return out

    @staticmethod
    def _incremental_from(
        buf: Any, state: Any, epoch: int, written: int, width: float
    ) -> int | None:
        """The first bucket to recompute for a client's cached window, or None for all of it."""
        if not (
            isinstance(state, list)
            and len(state) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) for v in state)
        ):
            return None
        from_k, c_epoch, cursor = state
        if c_epoch != epoch or not 0 <= cursor <= written or written - cursor > MAX_INCREMENTAL_GAP:
            return None
        new = buf.read_since(cursor)
        if new.missed or new.epoch != epoch:
            return None
        if len(new.x) and int(np.floor(new.x.min() / width)) < from_k:
            return None  # data arrived for a bucket the client already holds (XY or late data)
        return int(from_k)

    async def op_stats(
        self, ctx: RequestContext, name: str, xmin: float | None = None, xmax: float | None = None
    ) -> Any:
        st = L.stats_of(self.logger, str(name), _number(xmin, "xmin"), _number(xmax, "xmax"))
        return None if st is None else to_wire(st)

    async def op_send(
        self,
        ctx: RequestContext,
        dname: str,
        values: dict[str, float],
        units: dict[str, str] | None = None,
        x: float | None = None,
    ) -> None:
        if not isinstance(values, dict):
            raise OpError("values must be an object {signal: number}")
        if units is not None and not isinstance(units, dict):
            raise OpError("units must be an object {signal: unit}")
        await self.local.send(str(dname), values, units, _number(x, "x"))

    async def op_append(
        self, ctx: RequestContext, name: str, x: str, y: str, unit: str | None = None
    ) -> int:
        """Bulk ingest: base64 float64 arrays appended to one 'Device.Signal'; returns the count."""
        dname, dot, sname = str(name).partition(".")
        if not dot or not dname or not sname:
            raise OpError("name must be 'Device.Signal'")
        try:
            xa, ya = wire.decode_array(x), wire.decode_array(y)
        except (ValueError, wire.ProtocolError) as exc:
            raise OpError(f"x and y must be base64 float64 arrays: {exc}") from None
        if len(xa) != len(ya):
            raise OpError(f"x and y differ in length ({len(xa)} != {len(ya)})")
        store = self.logger.store
        u = None if unit is None else str(unit)
        cap = store.record_length
        done = 0
        try:
            # in ring-sized pieces, each waiting for storage to make room (back-pressure)
            for i in range(0, len(xa), cap):
                piece = functools.partial(
                    store.append, dname, sname, xa[i : i + cap], ya[i : i + cap], u, 0.0
                )
                await retry_full(store, piece, ADMIT_WAIT_S)
                done += min(cap, len(xa) - i)
        except BufferFull as exc:
            stored = f"the first {done} samples were stored, " if done else ""
            raise OpError(f"{stored}{exc.advice()}") from None
        return len(xa)

    # -- bulk import (staged, committed as one piece) -------------------------------------------
    def _staged(self, import_id: str) -> _StagedImport:
        self._staged_cleanup()
        st = self.imports.get(str(import_id))
        if st is None:
            raise OpError(f"no import {import_id!r} in progress (it expired or was committed)")
        st.touched = time.monotonic()
        return st

    async def op_import_begin(self, ctx: RequestContext) -> str:
        """Start a staged import; returns its id for import_chunk/commit/abort."""
        self._staged_cleanup()
        import_id = secrets.token_hex(8)
        self.imports[import_id] = _StagedImport(time.monotonic())
        return import_id

    def _staged_cleanup(self) -> None:
        now = time.monotonic()
        for k in [k for k, v in self.imports.items() if now - v.touched > IMPORT_IDLE_S]:
            del self.imports[k]

    async def op_import_chunk(
        self, ctx: RequestContext, import_id: str, name: str, x: str, y: str, unit: str = ""
    ) -> int:
        """Stage samples of one 'Device.Signal' (base64 float64); returns the samples staged."""
        st = self._staged(import_id)
        dname, dot, sname = str(name).partition(".")
        if not dot or not dname or not sname:
            raise OpError("name must be 'Device.Signal'")
        try:
            xa, ya = wire.decode_array(x), wire.decode_array(y)
        except (ValueError, wire.ProtocolError) as exc:
            raise OpError(f"x and y must be base64 float64 arrays: {exc}") from None
        if len(xa) != len(ya):
            raise OpError(f"x and y differ in length ({len(xa)} != {len(ya)})")
        parts = st.signals.setdefault(str(name), ([], [], str(unit or "")))
        parts[0].append(xa)
        parts[1].append(ya)
        return sum(len(a) for a in parts[0])

    async def op_import_commit(self, ctx: RequestContext, import_id: str) -> dict[str, Any]:
        """Store everything staged as one import; the report says what was stored."""
        st = self._staged(import_id)
        del self.imports[str(import_id)]
        from ..api import ImportSignal

        sigs = [
            ImportSignal(name, unit, np.concatenate(xs), np.concatenate(ys))
            for name, (xs, ys, unit) in st.signals.items()
        ]
        st.signals.clear()
        rep = await asyncio.to_thread(L.import_signals_into, self.logger, sigs, None)
        return {
            "signals": rep.signals,
            "samples": rep.samples,
            "stored": [list(p) for p in rep.stored],
            "dropped": rep.dropped,
        }

    async def op_import_abort(self, ctx: RequestContext, import_id: str) -> None:
        self.imports.pop(str(import_id), None)

    async def op_clear_signals(self, ctx: RequestContext, names: list[str] | None = None) -> None:
        await self.local.clear_signals(_names(names, "names", allow_none=True))

    async def op_delete_signals(self, ctx: RequestContext, names: list[str]) -> None:
        await self.local.delete_signals(_names(names, "names") or [])

    # -- events -------------------------------------------------------------------------------
    async def op_events_since(self, ctx: RequestContext, cursor: int = 0) -> Any:
        if isinstance(cursor, bool) or not isinstance(cursor, int):
            raise OpError("cursor must be an integer")
        return to_wire(L.events_of(self.logger, cursor))

    async def op_add_event(
        self,
        ctx: RequestContext,
        text: str,
        dname: str = "",
        sname: str = "",
        priority: int = 0,
        id: str = "",
    ) -> None:
        await self.local.add_event(str(text), str(dname), str(sname), int(priority), str(id))

    async def op_clear_events(self, ctx: RequestContext) -> None:
        await self.local.clear_events()

    # -- scripts (rtoc_tui.scripting provides logger.automation) --------------------------
    async def _automation(self, op: str, *args: Any, **kwargs: Any) -> Any:
        auto = self.logger.automation
        if auto is None:
            # LocalClient's answer without scripting (an error, or an empty list), so that
            # local and remote clients behave the same
            return to_wire(await getattr(self.local, op)(*args, **kwargs))
        fn = getattr(auto, _AUTOMATION_METHODS[op])
        if inspect.iscoroutinefunction(fn):
            result = await fn(*args, **kwargs)
        else:
            result = await asyncio.to_thread(fn, *args, **kwargs)
        return to_wire(result)

    async def op_run_script(
        self,
        ctx: RequestContext,
        source: str,
        name: str = "script",
        mode: str = "once",
        samplerate: float | None = None,
        triggers: list[str] | None = None,
    ) -> Any:
        return await self._automation(
            "run_script",
            str(source),
            name=str(name),
            mode=str(mode),
            samplerate=samplerate,
            triggers=triggers,
        )

    async def op_scripts(self, ctx: RequestContext) -> Any:
        return await self._automation("scripts")

    async def op_stop_script(self, ctx: RequestContext, script_id: str) -> Any:
        return await self._automation("stop_script", str(script_id))

    async def op_script_output(self, ctx: RequestContext, script_id: str, cursor: int = 0) -> Any:
        return await self._automation("script_output", str(script_id), int(cursor))

    async def op_saved_scripts(self, ctx: RequestContext) -> Any:
        return await self._automation("saved_scripts")

    async def op_load_script(self, ctx: RequestContext, name: str) -> Any:
        return await self._automation("load_script", str(name))

    async def op_save_script(self, ctx: RequestContext, name: str, source: str) -> Any:
        return await self._automation("save_script", str(name), str(source))

    async def op_global_events(self, ctx: RequestContext) -> Any:
        return await self._automation("global_events")

    async def op_set_global_event(self, ctx: RequestContext, name: str, spec: Any = None) -> Any:
        return await self._automation("set_global_event", str(name), spec)

    async def op_global_actions(self, ctx: RequestContext) -> Any:
        return await self._automation("global_actions")

    async def op_set_global_action(self, ctx: RequestContext, name: str, spec: Any = None) -> Any:
        return await self._automation("set_global_action", str(name), spec)

    # -- the Telegram bot -----------------------------------------------------------------------
    async def op_telegram(self, ctx: RequestContext) -> Any:
        return L.telegram_state_of(self.logger)

    async def op_set_telegram_role(self, ctx: RequestContext, chat_id: int, role: str) -> Any:
        if isinstance(chat_id, bool) or not isinstance(chat_id, int):
            raise OpError("chat_id must be an integer (the Telegram chat id)")
        return await asyncio.to_thread(L.set_telegram_role_of, self.logger, chat_id, str(role))

    # -- settings -----------------------------------------------------------------------------
    def config_values(self) -> list[dict[str, Any]]:
        out = []
        for cv in L.config_of(self.logger):  # secrets are masked there
            out.append(
                {"key": cv.key, "value": jsonable(cv.value), "source": cv.source, "doc": cv.doc}
            )
        return out

    def public_config(self) -> dict[str, Any]:
        """config.json as nested dicts with every secret masked (for RTOC's logger info)."""
        data: dict[str, Any] = {}
        for cv in self.config_values():
            section, _, key = cv["key"].partition(".")
            if key:
                data.setdefault(section, {})[key] = cv["value"]
            else:
                data[section] = cv["value"]
        return data

    async def op_config(self, ctx: RequestContext) -> Any:
        return self.config_values()

    async def op_set_config(self, ctx: RequestContext, updates: dict[str, Any]) -> Any:
        if not isinstance(updates, dict):
            raise OpError("updates must be an object {'section.key': value}")
        updates = {k: v for k, v in updates.items() if not (is_secret(k) and v == SECRET_MASK)}
        await self.local.set_config(updates)
        return self.config_values()

    # -- storage ------------------------------------------------------------------------------
    async def op_query(
        self,
        ctx: RequestContext,
        name: str,
        xmin: float | None = None,
        xmax: float | None = None,
        max_n: int = 1000,
    ) -> Any:
        win = await self.local.query(
            str(name), _number(xmin, "xmin"), _number(xmax, "xmax"), int(max_n)
        )
        return {
            "name": win.name,
            "unit": win.unit,
            "x": wire.encode_array(win.x),
            "y": wire.encode_array(win.y),
        }

    async def op_export(
        self,
        ctx: RequestContext,
        path: str,
        names: list[str] | None = None,
        xmin: float | None = None,
        xmax: float | None = None,
        fmt: str = "csv",
    ) -> Any:
        return await self.export(
            str(path), _names(names, "names", allow_none=True), xmin, xmax, str(fmt), ctx
        )

    async def export(
        self,
        path: str,
        names: list[str] | None,
        xmin: Any,
        xmax: Any,
        fmt: str,
        ctx: RequestContext,
    ) -> str:
        """Export on the server's disk (LocalClient/storage does the work), inside the user
        folder's exports/ only: a client must not choose where the logger's user writes."""
        return await self.local.export(
            str(self.export_path(path)), names, _number(xmin, "xmin"), _number(xmax, "xmax"), fmt
        )

    def export_path(self, path: str) -> Path:
        """path (a name, a relative path, or an absolute one inside exports/) resolved inside
        the user folder's exports/; OpError for anything that would leave it."""
        root = self.logger.home.exports_dir
        root.mkdir(parents=True, exist_ok=True)
        given = Path(path)
        target = (given if given.is_absolute() else root / given).resolve()
        if target == root.resolve() or not target.is_relative_to(root.resolve()):
            raise OpError(
                f"exports are written inside {root} only: give a file name (or a path inside "
                f"that folder), not {path!r}"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        return target
