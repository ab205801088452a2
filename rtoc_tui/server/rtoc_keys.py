"""Answers to RTOC's TCP request keys, with the reply keys and shapes RTOC 3.0 sends.

RTOC's `_tcpListener` (RTOC/RTLogger/NetworkFunctions.py) answers a request dict key by key
in a fixed order, then echoes every request key it did not answer. `RequestHandler.handle`
does the same, so an RTOC client sees the replies it expects. Where RTOC 3.0 crashes on a key
(getEvent, getSignal 'all', dict-form events) we send the shape RTOC documents instead; see
docs/protocol.md. Our own operations live under the key `rtoc` (server/ops.py).
"""

from __future__ import annotations

import ast
import hashlib
import logging
import re
import time
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import wire
from ..config.schema import SECRET_MASK, is_secret_name
from ..core import introspect
from ..core.admission import (
    MAX_NAME,
    MAX_TEXT,
    InvalidInput,
    check_name,
    check_text,
    check_value,
)
from ..core.buffer import BufferFull
from ..core.devices import DeviceError
from ..core.logger import Logger
from ..core.store import HOLD_MODES, retry_full

log = logging.getLogger("rtoc.server")

# Keys RTOC's server writes into a reply; any other request key is echoed back unchanged.
ANSWER_KEYS = frozenset(
    {
        "error",
        "errorText",
        "sent",
        "signalList",
        "pluginList",
        "events",
        "signals",
        "latest",
        "session",
        "plugin",
        "logger",
        "rtoc",
    }
)
DATA_KEYS = frozenset({"y", "x", "sname", "dname", "unit", "plot", "hold"})
# Device parameters with these words in their name are masked for remote clients.
_SENT = {"error": False, "sent": True}
_SENT_HEAD = b'{"error":false,"sent":true,'
_NUMBER = (float, int)  # exact types: bool is not a number here
_CALL_RE = re.compile(r"\s*([A-Za-z_]\w*)\s*\((.*)\)\s*", re.S)
MAX_CALL_TEXT = 10_000
# How long a data request waits for storage to make room in the ring before it is refused with
# an error reply (never acknowledged and then dropped). Its connection waits meanwhile.
ADMIT_WAIT_S = 10.0


class RequestError(Exception):
    """A request RTOC would answer with {'error': True}; the text goes to 'errorText'."""


@dataclass(slots=True)
class RequestContext:
    """Who sent a request: decides privileges and whether blocking work may leave the loop."""

    peer: str
    loopback: bool
    encrypted: bool
    privileged: bool  # scripts, config changes and file exports are allowed
    inline: bool = False  # run blocking calls in the loop (only for requests known to be quick)


def jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of an arbitrary value (device parameters, call results, event values)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth > 20:
        return repr(value)[:200]
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 100_000 else f"<array of {value.size} values>"
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)[:200]


def _float_array(v: Any, what: str) -> np.ndarray:
    try:
        return np.asarray(v, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise RequestError(f"{what} must be numbers: {exc}") from None


def _number_array(values: list[Any]) -> np.ndarray | None:
    """values as float64 if they are all numbers (numpy's own type discovery, in C), else None.
    Text, None, nested lists and ints beyond int64 give other dtypes or shapes."""
    try:
        a = np.asarray(values)
    except (TypeError, ValueError):  # ragged nesting
        return None
    if a.ndim != 1 or a.dtype.kind not in "fiu":
        return None
    return a.astype(float, copy=False)


def splice_reply(ans: dict[str, Any], msg: dict[str, Any], raw: bytes | None) -> bytes:
    """The reply RTOC builds: answer keys first, then every request key not answered.

    When no request key collides with an answer key, the request's own JSON text is appended
    instead of encoding its values again (a 10,000-sample request echoes 400 kB)."""
    head = wire.dumps(ans)
    if raw is not None and not (msg.keys() & ans.keys()):
        body = raw.lstrip()
        if body[:1] == b"{":
            return head[:-1] + b"," + body[1:]
    merged = dict(ans)
    for key, value in msg.items():
        if key not in merged:
            merged[key] = value
    return wire.dumps(merged)


def error_reply(text: str, **extra: Any) -> bytes:
    """{'error': True, 'errorText': ...}: what RTOC sends when a request fails."""
    return wire.dumps({"error": True, "errorText": text, **extra})


class RequestHandler:
    """Answers decoded requests for one logger (shared by all connections)."""

    def __init__(self, logger: Logger, ops: Any) -> None:
        self.logger = logger
        self.ops = ops  # ops.ExtensionOps: the `rtoc` key

    # -- entry point --------------------------------------------------------------------------
    def handle(
        self, msg: dict[str, Any], raw: bytes | None, ctx: RequestContext
    ) -> bytes | Coroutine[Any, Any, bytes]:
        """The reply JSON for one request, or a coroutine producing it when it must wait."""
        if "y" in msg and msg.keys() <= DATA_KEYS:
            return self.handle_data(msg, raw)
        if self.needs_wait(msg):
            return self._answer_later(msg, raw, ctx)
        # Quick requests run to completion right here, without a task per request.
        ctx.inline = True
        coro = self.answer(msg, ctx)
        try:
            first = coro.send(None)
        except StopIteration as done:
            return self._encode(done.value, msg, raw)
        except (RequestError, InvalidInput) as exc:
            return error_reply(str(exc))
        # It waited after all (a helper became asynchronous): finish it as a task.
        return self._finish_later(_Resume(coro, first), msg, raw)

    async def _finish_later(self, rest: _Resume, msg: dict[str, Any], raw: bytes | None) -> bytes:
        try:
            ans = await rest
        except (RequestError, InvalidInput) as exc:
            return error_reply(str(exc))
        return self._encode(ans, msg, raw)

    def handle_data(
        self, msg: dict[str, Any], raw: bytes | None
    ) -> bytes | Coroutine[Any, Any, bytes]:
        """The hot path, a request with data keys only: the reply is fixed plus the echo, or a
        coroutine that waits for storage to make room first (back-pressure)."""
        try:
            self.ingest(msg)
        except (RequestError, InvalidInput) as exc:
            return error_reply(str(exc))
        except BufferFull as exc:
            return self._data_later(msg, raw, exc)
        return self._sent_reply(msg, raw)

    async def _data_later(self, msg: dict[str, Any], raw: bytes | None, full: BufferFull) -> bytes:
        try:
            await self.ingest_waiting(msg, full)
        except RequestError as exc:
            return error_reply(str(exc))
        return self._sent_reply(msg, raw)

    async def ingest_waiting(self, msg: dict[str, Any], full: BufferFull) -> None:
        """Retry an ingest that found no room until storage made some (RequestError with what
        to do if not within ADMIT_WAIT_S). Ingest is all or nothing: a retry never stores a
        sample twice."""
        if full.need > full.capacity:
            raise RequestError(full.advice())
        try:
            await retry_full(self.logger.store, lambda: self.ingest(msg), ADMIT_WAIT_S)
        except BufferFull as exc:
            raise RequestError(exc.advice()) from None

    def _sent_reply(self, msg: dict[str, Any], raw: bytes | None) -> bytes:
        if raw is not None:
            body = raw.lstrip()
            if body[:1] == b"{":  # data keys never collide with answer keys: echo the text
                return _SENT_HEAD + body[1:]
        return splice_reply(_SENT, msg, raw)

    async def _answer_later(
        self, msg: dict[str, Any], raw: bytes | None, ctx: RequestContext
    ) -> bytes:
        try:
            ans = await self.answer(msg, ctx)
        except (RequestError, InvalidInput) as exc:
            return error_reply(str(exc))
        return self._encode(ans, msg, raw)

    def _encode(self, ans: dict[str, Any], msg: dict[str, Any], raw: bytes | None) -> bytes:
        if ans.get("error") is True:
            return wire.dumps(ans)
        return splice_reply(ans, msg, raw)

    def needs_wait(self, msg: dict[str, Any]) -> bool:
        """True if answering may block (device calls, storage, files): then it leaves the loop."""
        if "plugin" in msg or "getPluginList" in msg or "getSession" in msg:
            return True  # devices may block; a session copies every signal (heavy)
        lg = msg.get("logger")
        if isinstance(lg, dict) and "export" in lg:
            return True
        gs = msg.get("getSignal")
        if isinstance(gs, dict) and gs.get("database", True) and self.storage is not None:
            return True
        ext = msg.get("rtoc")
        return isinstance(ext, dict) and self.ops.needs_wait(ext)

    async def blocking(
        self, ctx: RequestContext, pool: str, fn: Callable[..., Any], *args: Any
    ) -> Any:
        """Run fn on the logger's "device" or "storage" pool (or right here for inline
        requests)."""
        if ctx.inline:
            return fn(*args)
        return await self.logger.run_in(pool, fn, *args)

    @property
    def storage(self) -> Any:
        return self.logger.storage

    async def answer(self, msg: dict[str, Any], ctx: RequestContext) -> dict[str, Any]:
        """RTOC's answer dict for one request, key by key in RTOC's order."""
        ans: dict[str, Any] = {"error": False}
        if "y" in msg:
            try:
                self.ingest(msg)
            except BufferFull as exc:
                await self.ingest_waiting(msg, exc)
            ans["sent"] = True
        if "getSignalList" in msg:
            ans["signalList"] = self.signal_list()
        if "getPluginList" in msg:
            ans["pluginList"] = await self.blocking(ctx, "device", self.plugin_list)
        if "event" in msg:
            self.add_event(msg["event"])
        if "getEventList" in msg:
            ans["events"] = self.event_list()
        if "getEvent" in msg:
            ans["events"] = self.events_of(msg["getEvent"])
        if "getSignal" in msg:
            ans["signals"] = await self.get_signal(msg["getSignal"], ctx)
        if "getLatest" in msg:
            ans["latest"] = self.latest(msg["getLatest"])
        if "getSession" in msg:
            ans["session"] = await self.blocking(ctx, "storage", self.session)
        if "plugin" in msg:
            ans["plugin"] = await self.blocking(ctx, "device", self.plugins, msg["plugin"])
        if "logger" in msg:
            ans["logger"] = await self.logger_calls(msg["logger"], ctx)
        if "rtoc" in msg:
            ans["rtoc"] = await self.ops.run(msg["rtoc"], ctx)
        return ans

    # -- data in ------------------------------------------------------------------------------
    def ingest(self, msg: dict[str, Any]) -> None:
        """`y`, `x`, `sname`, `dname`, `unit`, `plot`: RTOC's addDataCallback and plot."""
        if self._ingest_simple(msg):
            return
        dname = msg.get("dname")
        if not isinstance(dname, str) or not dname:
            dname = "noDevice"
        y = msg.get("y")
        x = msg.get("x")
        sname = msg.get("sname", [""])
        unit = msg.get("unit", [""])
        if msg.get("plot", False):
            self._plot(dname, x, y, sname, unit, msg.get("hold", "off"))
            return
        if isinstance(y, str):  # RTOC: a text y is an event
            check_text("event text (y)", y, MAX_TEXT)
            check_name("dname", dname)
            self.logger.event(y, sname="noName", dname=dname)
            return
        if isinstance(y, (int, float)):
            y = [y]
        if isinstance(x, (int, float)):
            x = [x]
        if isinstance(sname, str):
            sname = [sname]
        if isinstance(unit, str):
            unit = [unit]
        if not isinstance(y, list) or not isinstance(sname, list):
            raise RequestError("y and sname must be lists (or a number and a name)")
        n = len(y)
        if not x:
            x = None
        elif not isinstance(x, list):
            raise RequestError("x must be a list of numbers")
        units = (
            [u if isinstance(u, str) else str(u) for u in unit] if isinstance(unit, list) else []
        )
        units = (units + [""] * n)[:n]  # RTOC pads missing units with ''
        names = [s if isinstance(s, str) else "noSignal" for s in sname[:n]]
        names += ["Unnamed"] * (n - len(names))  # RTOC names extra values 'Unnamed'
        store = self.logger.store
        if x is None and all(type(v) is float or type(v) is int for v in y):
            now = time.time()
            store.apply(
                [(dname, s, now, float(v), u) for v, s, u in zip(y, names, units, strict=True)],
                0.0,
            )
            return
        try:
            self.logger.stream(y, names, dname=dname, unit=units, x=x, wait=0.0)
        except (TypeError, ValueError) as exc:
            raise RequestError(f"cannot store the data: {exc}") from None

    def _ingest_simple(self, msg: dict[str, Any]) -> bool:
        """The shape RTOC clients send (lists of numbers, names, units and x, all of one length)
        stored without normalising; False leaves anything else to the general path."""
        y = msg.get("y")
        if type(y) is not list or msg.get("plot"):
            return False
        n = len(y)
        sname, x, unit, dname = msg.get("sname"), msg.get("x"), msg.get("unit"), msg.get("dname")
        if type(sname) is not list or len(sname) != n or type(dname) is not str or not dname:
            return False
        if not (x is None or (type(x) is list and len(x) == n)):
            return False
        if type(unit) is list and len(unit) != n:
            unit = (unit + [""] * n)[:n]  # RTOC pads missing units with '' and drops extra ones
        elif unit is not None and type(unit) is not list:
            return False
        now = time.time() if x is None else 0.0
        if n > 32:  # many values: numpy checks the numbers, then one batch append per signal
            ya = _number_array(y)
            xa = np.full(n, now) if x is None else _number_array(x)
            if ya is None or xa is None:
                return False
            try:
                unique = list(dict.fromkeys(sname))
            except TypeError:  # an unhashable name
                return False
            if any(type(s) is not str for s in unique) or (
                unit is not None and set(map(type, unit)) != {str}
            ):
                return False
            if len(unique) == 1:
                groups = {unique[0]: np.arange(n)}
            elif len(unique) <= 64:  # a vectorised compare per name beats a Python loop
                code = {s: k for k, s in enumerate(unique)}  # ints compare faster than str
                codes = np.fromiter(map(code.__getitem__, sname), dtype=np.intp, count=n)
                groups = {s: np.flatnonzero(codes == k) for k, s in enumerate(unique)}
            else:
                lists: dict[str, list[int]] = {}
                for i, s in enumerate(sname):
                    lists.setdefault(s, []).append(i)
                groups = {s: np.asarray(ii) for s, ii in lists.items()}
            self.logger.store.apply(
                [
                    (dname, s, xa[ii], ya[ii], "" if unit is None else unit[int(ii[-1])])
                    for s, ii in groups.items()
                ],
                0.0,
            )
            return True
        for i in range(n):
            if (
                type(y[i]) not in _NUMBER
                or type(sname[i]) is not str
                or (x is not None and type(x[i]) not in _NUMBER)
                or (unit is not None and type(unit[i]) is not str)
            ):
                return False
        self.logger.store.apply(
            [
                (
                    dname,
                    sname[i],
                    now if x is None else float(x[i]),
                    float(y[i]),
                    "" if unit is None else unit[i],
                )
                for i in range(n)
            ],
            0.0,
        )
        return True

    def _plot(self, dname: str, x: Any, y: Any, sname: Any, unit: Any, hold: Any) -> None:
        if isinstance(sname, list):  # RTOC documents a one-element list for plot mode
            sname = sname[0] if sname else ""
        if not isinstance(sname, str):
            sname = "noSignal"
        if isinstance(unit, list):
            unit = unit[-1] if unit else ""  # RTOC keeps the last unit of a list
        if not isinstance(unit, str):
            unit = ""
        if hold not in HOLD_MODES:
            raise RequestError(f"hold must be one of {', '.join(HOLD_MODES)}")
        if y is None or (isinstance(y, list) and not y):  # RTOC: plot(y) alone uses indexes
            y, x = x, None
        ya = _float_array(y, "y")
        xa = np.arange(len(ya), dtype=float) if x is None else _float_array(x, "x")
        if len(xa) != len(ya):
            raise RequestError(f"x and y differ in length ({len(xa)} != {len(ya)})")
        self.logger.plot(xa, ya, sname=sname, dname=dname, unit=unit, hold=hold, wait=0.0)

    def add_event(self, ev: Any) -> None:
        """`event`: RTOC's addNewEvent(text, sname, dname, x, priority, id, value) as a list,
        or the dict form RTOC documents."""
        if isinstance(ev, str):
            ev = [ev]
        if isinstance(ev, list):
            names = ("text", "sname", "dname", "x", "priority", "id", "value")
            if len(ev) > len(names):
                raise RequestError("event list has more than 7 items")
            ev = dict(zip(names, ev, strict=False))
        if not isinstance(ev, dict):
            raise RequestError("event must be a dict, a list or a text")
        text = str(ev.get("text", ""))
        given_sname, given_dname = ev.get("sname"), ev.get("dname")
        sname = given_sname if isinstance(given_sname, str) else "noName"
        dname = given_dname if isinstance(given_dname, str) else "noDevice"
        check_text("event text", text, MAX_TEXT)
        check_name("event sname", sname, MAX_NAME)
        check_name("event dname", dname, MAX_NAME)
        check_value(ev.get("value"))
        ev_id = ev.get("id")
        if ev_id is None:  # RTOC derives an id from the names and text
            ev_id = hashlib.sha1((sname + dname + text).encode()).hexdigest()
        check_name("event id", str(ev_id), MAX_NAME)
        x = ev.get("x")
        if x is not None and not isinstance(x, (int, float)):
            raise RequestError("event x must be a number")
        self.logger.event(
            text,
            sname=sname,
            dname=dname,
            priority=ev.get("priority", 0),
            id=str(ev_id),
            value=ev.get("value"),
            x=x,
        )

    # -- lists and reads ----------------------------------------------------------------------
    def signal_list(self) -> list[list[str]]:
        """getSignalList: [[dname, sname], ...] (RTOC hides its own 'RTOC.' status signal)."""
        return [
            [b.dname, b.sname]
            for b in self.logger.store.buffers()
            if (b.dname, b.sname) != ("RTOC", "")
        ]

    def latest(self, req: Any) -> dict[str, Any]:
        """getLatest: True -> {name: [x, y, unit, id, xfirst, xlast]}; a list -> {name: [x, y, unit]}."""
        store = self.logger.store
        out: dict[str, Any] = {}
        if req is True:
            for b in store.buffers():
                ends = b.ends()
                if ends is not None:
                    out[f"{b.dname}.{b.sname}"] = [ends[1], ends[2], b.unit, b.id, ends[0], ends[1]]
        elif isinstance(req, list):
            for name in req:
                buf = store.get(name) if isinstance(name, str) else None
                last = None if buf is None else buf.latest()
                if buf is not None and last is not None:
                    out[name] = [last[0], last[1], buf.unit]
        return out

    def event_list(self) -> dict[int, list[Any]]:
        """getEventList: {id: [dname, sname, id, text, x, value, priority, eventId]} (RTOC 3.0)."""
        return {
            e.seq: [e.dname, e.sname, e.seq, e.text, e.x, jsonable(e.value), e.priority, e.id]
            for e in self.logger.events.all()
        }

    def events_of(self, names: Any) -> dict[str, list[list[Any]]]:
        """getEvent: {name: [[x, text, priority, value, id], ...]} (RTOC 2.x's shape)."""
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list):
            raise RequestError("getEvent needs a list of 'Device.Signal' names")
        wanted = {n for n in names if isinstance(n, str)}
        out: dict[str, list[list[Any]]] = {n: [] for n in names if isinstance(n, str)}
        for e in self.logger.events.all():
            name = e.name
            if name in wanted:
                out[name].append([e.x, e.text, e.priority, jsonable(e.value), e.id])
        return out

    async def get_signal(self, req: Any, ctx: RequestContext) -> Any:
        """getSignal: a list of names, 'all', or {dname, sname, xmin, xmax, database, maxN}."""
        store = self.logger.store
        out: dict[str, Any] = {}
        if isinstance(req, list):
            for name in req:
                if isinstance(name, str) and (b := store.get(name)) is not None:
                    x, y = b.copy()
                    out[name] = [x, y, b.unit]
        elif req == "all":
            for b in store.buffers():
                x, y = b.copy()
                out[b.name] = [x, y, b.unit]
        elif isinstance(req, dict):
            dname, sname = req.get("dname"), req.get("sname")
            if not isinstance(dname, str) or not isinstance(sname, str):
                return False  # RTOC answers False without both names
            xmin, xmax, max_n = req.get("xmin"), req.get("xmax"), req.get("maxN")
            for v, what in ((xmin, "xmin"), (xmax, "xmax"), (max_n, "maxN")):
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                    raise RequestError(f"getSignal {what} must be a number")
            n = int(max_n) if max_n is not None and max_n >= 1 else None
            name = f"{dname}.{sname}"
            b = store.get(name)
            if req.get("database", True) and self.storage is not None:
                x, y = await self.blocking(ctx, "storage", self.stored_window, name, xmin, xmax, n)
            elif b is not None:
                x, y = b.window(xmin, xmax, n)
            else:
                return out
            out[name] = [x, y, b.unit if b is not None else ""]
        else:
            raise RequestError("getSignal needs a list of names, 'all' or a dict")
        return out

    def stored_window(
        self, name: str, xmin: float | None, xmax: float | None, max_n: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Storage's answer (it merges what is still only in memory); memory if it fails."""
        try:
            x, y = self.storage.query(name, xmin, xmax, max_n)
            return np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        except Exception as exc:  # storage trouble must not cost the client its data
            log.warning("getSignal %s: storage query failed (%s); answering from memory", name, exc)
        b = self.logger.store.get(name)
        return b.window(xmin, xmax, max_n) if b is not None else (np.empty(0), np.empty(0))

    def session(self) -> dict[str, Any]:
        """getSession: RTOC's generateSessionJSON (maxLength, signals, events, devices); the
        signals already encoded (wire.pre_encoded)."""
        store = self.logger.store
        bufs = store.buffers()
        events = self.logger.events.all()
        dev_ids: dict[str, int] = {}
        for d in [b.dname for b in bufs] + [e.dname for e in events]:
            dev_ids.setdefault(d, len(dev_ids) + 1)
        sig_ids = {(b.dname, b.sname): b.id for b in bufs}
        signals: dict[int, Any] = {}  # pre-encoded, or a list for an event-only signal
        for b in bufs:
            x, y = b.copy()
            # encoded signal by signal here (a worker thread): one dumps of the whole session
            # would hold the GIL for 100+ ms and stall every other client
            signals[b.id] = wire.pre_encoded([dev_ids[b.dname], b.sname, x, y, b.unit])
        next_id = max(sig_ids.values(), default=0) + 1
        out_events: dict[int, list[Any]] = {}
        for e in events:
            key = (e.dname, e.sname)
            if key not in sig_ids:  # RTOC creates an empty signal for an event's name
                sig_ids[key] = next_id
                signals[next_id] = [dev_ids[e.dname], e.sname, [], [], ""]
                next_id += 1
            out_events[e.seq] = [
                dev_ids[e.dname],
                sig_ids[key],
                e.seq,
                e.text,
                e.x,
                jsonable(e.value),
                e.priority,
                e.id,
            ]
        return {
            "maxLength": store.record_length,
            "signals": signals,
            "events": out_events,
            "devices": {i: d for d, i in dev_ids.items()},
        }

    # -- devices ------------------------------------------------------------------------------
    def plugin_list(self) -> dict[str, Any]:
        """getPluginList: {name: {functions, parameters: [[name, value]], status}} for every driver."""
        out: dict[str, Any] = {}
        for d in self.logger.devices.status():
            entry: dict[str, Any] = {"functions": [], "parameters": [], "status": False}
            plugin = self.logger.devices.running().get(d.name)
            if plugin is not None:
                entry["functions"] = introspect.function_names(plugin)
                entry["parameters"] = [
                    [p.name, SECRET_MASK if is_secret_name(p.name) else jsonable(p.value)]
                    for p in introspect.parameters(plugin)
                ]
                entry["status"] = True
            elif d.state == "error":
                entry["status"] = d.reason or "error"  # RTOC puts the failure text here
            out[d.name] = entry
        return out

    def plugins(self, calls: Any) -> Any:
        """`plugin`: {name: {'start': bool}}, {name: {'param': 'get'}}, {name: {'get': [...]}},
        {name: {'param': value}}, {name: {'func()': [args]}} or {name: {'func(1, 2)': None}}.
        Each value is replaced by its result, as RTOC does."""
        if not isinstance(calls, dict):
            return calls
        out: dict[str, Any] = {}
        for name, actions in calls.items():
            if not isinstance(actions, dict):
                out[name] = actions
                continue
            results: dict[str, Any] = {}
            for call, value in actions.items():
                results[call] = self._plugin_call(str(name), str(call), value)
            out[name] = results
        return out

    def _plugin_call(self, name: str, call: str, value: Any) -> Any:
        devices = self.logger.devices
        if call == "start" and isinstance(value, bool):
            if not value:
                devices.stop(name)
                return True
            try:
                devices.start(name)
            except DeviceError as exc:
                return [False, str(exc)]
            return [True, ""]
        plugin = devices.get(name)
        if "(" in call:
            if plugin is None:
                return [False, f"Plugin {name} not found or started"]
            try:
                fname, args, kwargs = parse_call(call, value)
                result = introspect.call_function(plugin, fname, *args, **kwargs)
            except (introspect.IntrospectionError, RequestError) as exc:
                return [False, str(exc)]
            except Exception as exc:
                log.warning("plugin %s: %s failed: %s", name, call, exc)
                return [False, f"{type(exc).__name__}: {exc}"]
            return [True, jsonable(result)]
        if plugin is None:
            return False
        try:
            if call == "get":  # RTOC 3.0's working form: {'get': 'param'} or {'get': [...]}
                if isinstance(value, list):
                    return [self._get_param(plugin, str(p)) for p in value]
                return self._get_param(plugin, str(value))
            if value == "get":
                return self._get_param(plugin, call)
            return jsonable(introspect.set_parameter(plugin, call, value))
        except introspect.IntrospectionError as exc:
            log.info("plugin %s: %s", name, exc)
            return False

    def _get_param(self, plugin: Any, name: str) -> Any:
        value = introspect.get_parameter(plugin, name)
        return SECRET_MASK if is_secret_name(name) else jsonable(value)

    # -- logger -------------------------------------------------------------------------------
    async def logger_calls(self, calls: Any, ctx: RequestContext) -> Any:
        """`logger`: clear ('all' or names), resize (int), export ([file, type]), info; reboot is
        answered False and never honoured."""
        if not isinstance(calls, dict):
            return calls
        out = dict(calls)
        store = self.logger.store
        for call, value in calls.items():
            if call == "clear":
                if value == "all":
                    store.remove(None)
                    self.logger.events.clear()
                elif isinstance(value, list):
                    results = []
                    for name in value:
                        found = isinstance(name, str) and store.get(name) is not None
                        if found:
                            store.remove([name])
                        results.append(found)
                    out[call] = results
            elif call == "resize":
                if isinstance(value, int) and not isinstance(value, bool):
                    if value < 1:
                        out[call] = False
                    else:
                        try:  # samples the smaller ring drops are stored first
                            await store.resize_waiting(value, ADMIT_WAIT_S)
                        except BufferFull as exc:
                            log.warning("resize to %d refused: %s", value, exc)
                            out[call] = False
                            continue
                        self.logger.config.global_.recordLength = value
                        out[call] = True
            elif call == "export":
                if isinstance(value, list) and 1 <= len(value) <= 2:
                    out[call] = await self._export(value, ctx)
            elif call == "info":
                out[call] = self.info()
            elif call == "reboot":
                log.warning("%s asked to reboot the machine; refused", ctx.peer)
                out[call] = False
        return out

    async def _export(self, args: list[Any], ctx: RequestContext) -> bool:
        if not ctx.privileged:
            return False
        filename = Path(str(args[0])).name or "export"
        fmt = str(args[1]) if len(args) > 1 else "json"
        path = self.logger.home.exports_dir / filename
        try:
            await self.ops.export(str(path), None, None, None, fmt, ctx)
        except Exception as exc:
            log.info("logger export for %s failed: %s", ctx.peer, exc)
            return False
        return True

    def info(self) -> dict[str, Any]:
        """logger info: RTOC's keys, with the Telegram token masked, plus the (masked) config."""
        cfg = self.logger.config
        bufs = self.logger.store.buffers()
        return {
            "recordLength": cfg.global_.recordLength,
            "signals": len(bufs),
            "starttime": self.logger.started_at,
            "telegram_token": SECRET_MASK if cfg.telegram.token else "",
            "telegram_bot": cfg.telegram.active,
            "signal_memory": sum(b.nbytes for b in bufs),
            "signal_memory_limit": len(bufs) * cfg.global_.recordLength * 16,
            "config": self.ops.public_config(),
        }


class _Resume:
    """Awaitable that continues a coroutine which already ran up to its first suspension."""

    def __init__(self, coro: Coroutine[Any, Any, Any], first: Any) -> None:
        self.coro = coro
        self.first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        pending = self.first
        while True:
            try:
                value = yield pending  # the event loop's task resumes us like the coroutine
            except BaseException as exc:
                try:
                    pending = self.coro.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    pending = self.coro.send(value)
                except StopIteration as done:
                    return done.value


def parse_call(call: str, value: Any) -> tuple[str, list[Any], dict[str, Any]]:
    """Split 'name()' or "name(1, 'a')" into a function name and arguments without eval.

    The text between the parentheses is read with ast.literal_eval (literals only); the value
    adds arguments: a list is positional, a dict keyword arguments, None nothing, else one."""
    if len(call) > MAX_CALL_TEXT:
        raise RequestError("function call text is too long")
    m = _CALL_RE.fullmatch(call)
    if m is None:
        raise RequestError(f"{call!r} is not a function call like 'name()'")
    fname, arg_text = m.group(1), m.group(2).strip()
    args: list[Any] = []
    if arg_text:
        try:
            parsed = ast.literal_eval(f"({arg_text},)")
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise RequestError(f"arguments of {fname}() must be Python literals") from None
        args = list(parsed)
    kwargs: dict[str, Any] = {}
    if isinstance(value, list):
        args += value
    elif isinstance(value, dict):
        kwargs = {str(k): v for k, v in value.items()}
    elif value is not None:
        args.append(value)
    return fname, args, kwargs
