"""The web view's HTTP side: a static single page (plots, events, status) and a small JSON API.

Everything comes from a `LoggerClient` (a logger in this process, or a stored history opened
read-only), so the view can show only what the terminal UI can show, and change nothing.

API (all GET, all bounded):
- `/api/status`: logger name, uptime, devices and their states, storage.
- `/api/signals`: every signal with unit, sample count and newest sample.
- `/api/data?s=NAME&s=...`: min/max-decimated windows of up to MAX_NAMES signals, never more
  than MAX_POINTS points each; the range is `span=S` (the newest S seconds), `last=N` (the
  newest N samples), `xmin=&xmax=` (a zoomed range), `after=X` (only what is newer than X,
  for live following) or nothing (everything).
- `/api/events?since=SEQ&q=TEXT&prio=0,1,2&limit=N&xmin=&xmax=`: events, newest first.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from aiohttp import web

from ..api import ClientError, LoggerClient, SignalInfo, SignalWindow
from .security import WebOptions, make_guard, security_headers

log = logging.getLogger("rtoc.web")

STATIC_DIR = Path(__file__).parent / "static"

MAX_NAMES = 32  # signals per data request (a page shows a handful of charts)
MAX_POINTS = 4000  # points per signal and reply: two per pixel column of a wide chart
MIN_POINTS = 16
DEFAULT_POINTS = 1000
MAX_LAST = 1_000_000  # "latest N samples" copies N samples once to find where they start
MAX_EVENTS = 1000  # events per reply
MAX_SPAN_S = 100 * 365 * 86400.0
XY_THRESHOLD = 1e8  # x below this is not a Unix time: an XY plot (RTOC's plot())
# Replies the logger computes at once; more wait (they are cheap, but a burst from a hundred
# tabs should queue, not pile up work on the logger's loop).
HEAVY_CONCURRENCY = 4
QUEUE_TIMEOUT_S = 10.0
# x is sent as integers in steps of span / X_STEPS from a base: 7 digits instead of 18 per
# point, and still far finer than a pixel.
X_STEPS = 1_000_000
MAX_REQUEST_BYTES = 16 * 1024  # the view takes GETs only: no body is legitimate

HEADERS_JSON = {"Content-Type": "application/json"}


class BadRequest(web.HTTPBadRequest):
    """A request parameter is missing or out of range; the text says which and why."""

    def __init__(self, message: str) -> None:
        super().__init__(
            text=orjson.dumps({"error": message}).decode(), content_type="application/json"
        )


def json_response(data: Any) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY), headers=HEADERS_JSON
    )


def _float(request: web.Request, key: str) -> float | None:
    text = request.query.get(key, "")
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"{key}={text!r} is not a number") from None
    if not math.isfinite(value):
        raise BadRequest(f"{key} must be a finite number")
    return value


def _int(request: web.Request, key: str, default: int, lo: int, hi: int) -> int:
    text = request.query.get(key, "")
    if text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{key}={text!r} is not a whole number") from None
    if not lo <= value <= hi:
        raise BadRequest(f"{key} must be between {lo} and {hi}, got {value}")
    return value


def encode_series(w: SignalWindow) -> dict[str, Any]:
    """A window as {unit, x0, q, xi, y}: x = x0 + xi * q (ints), y as float32 (NaN -> null)."""
    x, y = w.x, w.y
    if len(x) == 0:
        return {"unit": w.unit, "x0": 0.0, "q": 1.0, "xi": [], "y": []}
    x0 = float(x[0])
    span = float(x[-1] - x0) if len(x) > 1 else 0.0
    if not math.isfinite(span) or span <= 0:
        span = float(np.nanmax(x) - x0) if len(x) > 1 else 0.0
    q = span / X_STEPS if span > 0 else 1.0
    xi = np.rint((x - x0) / q).astype(np.int64)
    return {
        "unit": w.unit,
        "x0": x0,
        "q": q,
        "xi": xi,
        "y": np.asarray(y, dtype=np.float32),
    }


def _event_json(e: Any) -> dict[str, Any]:
    value = e.value
    if value is not None and not isinstance(value, (int, float, str, bool)):
        value = str(value)
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)
    return {
        "seq": e.seq,
        "x": e.x,
        "priority": e.priority,
        "dname": e.dname,
        "sname": e.sname,
        "text": e.text,
        "id": e.id,
        "value": value,
    }


class WebView:
    """The handlers, bound to one client."""

    def __init__(self, client: LoggerClient, options: WebOptions) -> None:
        self.client = client
        self.options = options
        self.store_mode = client.info.extra.get("mode") == "store"
        self._heavy = asyncio.Semaphore(HEAVY_CONCURRENCY)
        self.requests = 0

    async def _bounded(self, fn: Callable[[], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        self.requests += 1
        try:
            await asyncio.wait_for(self._heavy.acquire(), QUEUE_TIMEOUT_S)
        except TimeoutError:
            raise web.HTTPServiceUnavailable(text="the logger is busy; try again") from None
        try:
            return await fn()
        except ClientError as exc:
            raise web.HTTPServiceUnavailable(
                text=orjson.dumps({"error": str(exc)}).decode(), content_type="application/json"
            ) from exc
        finally:
            self._heavy.release()

    # -- pages ----------------------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    # -- API ------------------------------------------------------------------------------------
    async def status(self, request: web.Request) -> web.StreamResponse:
        async def run() -> web.StreamResponse:
            s = await self.client.status()
            devices = await self.client.devices()
            return json_response(
                {
                    "name": s.name,
                    "uptime_s": s.uptime_s,
                    "signals": s.signals,
                    "samples_in_memory": s.samples_in_memory,
                    "samples_total": s.samples_total,
                    "samples_per_s": s.samples_per_s,
                    "events": s.events,
                    "devices_running": s.devices_running,
                    "clients": s.clients,
                    "storage": s.storage,
                    "storage_lag_s": s.storage_lag_s,
                    "record_length": s.record_length,
                    "devices": [
                        {
                            "name": d.name,
                            "state": d.state,
                            "reason": d.reason,
                            "devicename": d.devicename,
                            "samplerate": d.samplerate,
                        }
                        for d in devices
                        if d.state != "stopped" or d.reason
                    ],
                    "mode": "store" if self.store_mode else "live",
                    "tls": self.options.tls,
                    "now": time.time(),
                }
            )

        return await self._bounded(run)

    async def signals(self, request: web.Request) -> web.StreamResponse:
        async def run() -> web.StreamResponse:
            sigs = await self.client.signals()
            return json_response(
                {
                    "signals": [
                        {
                            "name": s.name,
                            "dname": s.dname,
                            "sname": s.sname,
                            "unit": s.unit,
                            "count": s.count,
                            "epoch": s.epoch,
                            "latest": list(s.latest) if s.latest else None,
                        }
                        for s in sigs
                    ],
                    "now": time.time(),
                }
            )

        return await self._bounded(run)

    async def data(self, request: web.Request) -> web.StreamResponse:
        names = list(dict.fromkeys(request.query.getall("s", [])))
        if not names:
            raise BadRequest("name at least one signal: /api/data?s=Device.Signal")
        if len(names) > MAX_NAMES:
            raise BadRequest(f"at most {MAX_NAMES} signals per request, got {len(names)}")
        n = _int(request, "n", DEFAULT_POINTS, MIN_POINTS, MAX_POINTS)
        last = _int(request, "last", 0, 0, MAX_LAST)
        span = _float(request, "span")
        if span is not None and not 0 < span <= MAX_SPAN_S:
            raise BadRequest(f"span must be between 0 and {MAX_SPAN_S:g} s")
        xmin, xmax, after = (
            _float(request, "xmin"),
            _float(request, "xmax"),
            _float(request, "after"),
        )
        if xmin is not None and xmax is not None and xmax < xmin:
            raise BadRequest("xmax must not be below xmin")
        return await self._bounded(lambda: self._data(names, n, last, span, xmin, xmax, after))

    async def _data(
        self,
        names: list[str],
        n: int,
        last: int,
        span: float | None,
        xmin: float | None,
        xmax: float | None,
        after: float | None,
    ) -> web.StreamResponse:
        now = time.time()
        infos = {s.name: s for s in await self.client.signals() if s.name in names}
        unknown = [m for m in names if m not in infos]
        known = [m for m in names if m in infos]
        xy = [m for m in known if _is_xy(infos[m])]
        timed = [m for m in known if not _is_xy(infos[m])]
        out: dict[str, SignalWindow] = {}
        lo: float | None = xmin
        hi: float | None = xmax
        if after is not None:
            # Following: only what is newer than the browser's newest point, from memory.
            if timed:
                out.update(await self.client.window(timed, after, None, n))
            lo, hi = after, None
        elif last:
            lo, hi = await self._latest_n(timed, infos, last, n, out)
        else:
            if span is not None:
                latest = [infos[m].latest for m in timed]
                newest = max((t[0] for t in latest if t is not None), default=None)
                hi = now if not self.store_mode or newest is None else newest
                lo = hi - span
            if timed:
                out.update(await self._range(timed, lo, hi, n))
        if xy and after is None:
            out.update(await self.client.window(xy, None, None, n))
        return json_response(
            {
                "now": now,
                "xmin": lo,
                "xmax": hi,
                "series": {
                    name: {**encode_series(w), "epoch": infos[name].epoch, "xy": name in xy}
                    for name, w in out.items()
                },
                "unknown": unknown,
            }
        )

    async def _range(
        self, names: list[str], lo: float | None, hi: float | None, n: int
    ) -> dict[str, SignalWindow]:
        """A range of history: memory and the store (query), or memory alone (window)."""
        if self.store_mode:
            return await self.client.window(names, lo, hi, n)
        out = {}
        for name in names:
            try:
                out[name] = await self.client.query(name, lo, hi, n)
            except ClientError:  # not in the store (yet): what memory holds
                out.update(await self.client.window([name], lo, hi, n))
        return out

    async def _latest_n(
        self,
        names: list[str],
        infos: dict[str, SignalInfo],
        last: int,
        n: int,
        out: dict[str, SignalWindow],
    ) -> tuple[float | None, float | None]:
        """The newest `last` samples of each signal, decimated: where they start, then a window."""
        if not names:
            return None, None
        chunks = await self.client.read_since({m: max(0, infos[m].written - last) for m in names})
        starts = {m: float(c.x[0]) for m, c in chunks.items() if len(c.x)}
        for m, start in starts.items():
            out.update(await self.client.window([m], start, None, n))
        ends = [float(c.x[-1]) for c in chunks.values() if len(c.x)]
        return (min(starts.values()) if starts else None), (max(ends) if ends else None)

    async def events(self, request: web.Request) -> web.StreamResponse:
        since = _int(request, "since", 0, 0, 2**62)
        limit = _int(request, "limit", 200, 1, MAX_EVENTS)
        text = request.query.get("q", "").strip().lower()[:200]
        prio_text = request.query.get("prio", "")
        try:
            prios = {int(p) for p in prio_text.split(",") if p.strip()} if prio_text else None
        except ValueError:
            raise BadRequest(f"prio={prio_text!r}: give priorities like 0,1,2") from None
        xmin, xmax = _float(request, "xmin"), _float(request, "xmax")

        async def run() -> web.StreamResponse:
            evs = await self.client.events_since(since)
            cursor = max((e.seq for e in evs), default=since)
            picked = [
                e
                for e in evs
                if (prios is None or e.priority in prios)
                and (xmin is None or e.x >= xmin)
                and (xmax is None or e.x <= xmax)
                and (
                    not text
                    or text in e.text.lower()
                    or text in e.dname.lower()
                    or text in e.sname.lower()
                    or text in e.id.lower()
                )
            ]
            picked.sort(key=lambda e: (e.x, e.seq), reverse=True)
            return json_response(
                {
                    "cursor": cursor,
                    "matched": len(picked),
                    "events": [_event_json(e) for e in picked[:limit]],
                }
            )

        return await self._bounded(run)


VIEW_KEY: web.AppKey[WebView] = web.AppKey("view")


def _is_xy(info: SignalInfo) -> bool:
    return info.latest is not None and info.latest[0] < XY_THRESHOLD


async def _not_found(request: web.Request) -> web.StreamResponse:
    raise web.HTTPNotFound(
        text="no such page: the web view has /, /api/status, /api/signals, /api/data, /api/events"
    )


def make_app(client: LoggerClient, options: WebOptions | None = None) -> web.Application:
    """The aiohttp application of the web view over client."""
    options = options or WebOptions()
    view = WebView(client, options)
    app = web.Application(
        middlewares=[security_headers, make_guard(options)], client_max_size=MAX_REQUEST_BYTES
    )
    app[VIEW_KEY] = view
    app.router.add_get("/", view.index)
    app.router.add_get("/api/status", view.status)
    app.router.add_get("/api/signals", view.signals)
    app.router.add_get("/api/data", view.data)
    app.router.add_get("/api/events", view.events)
    app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app
