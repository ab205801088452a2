"""RemoteClient: the LoggerClient interface over TCP, to a logger's server (server/tcp.py).

One persistent connection carries every request, tagged with an id under the `rtoc` key so
replies may arrive in any order and many requests can be in flight (pipelining). While the
connection is down, calls raise `Disconnected` and a background task reconnects with
exponential back-off; `info.connected` tells the UI which state it is in.

Windows are fetched incrementally: points are min/max per bucket of a grid aligned to
multiples of the bucket width, so when a time window slides only its first and last buckets
travel again. 16 signals x 400 points polled at 10 Hz cost tens of kB/s instead of MB/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import socket
from collections import OrderedDict
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .. import wire
from ..api import (
    ClientError,
    ConfigValue,
    DeviceDetail,
    DeviceInfo,
    Disconnected,
    EventInfo,
    FunctionInfo,
    ImportProgress,
    ImportReport,
    ImportSignal,
    ParameterInfo,
    ScriptInfo,
    ScriptOutput,
    ServerInfo,
    SignalChunk,
    SignalInfo,
    SignalStats,
    SignalWindow,
    Status,
)
from ..config.home import Home, resolve_home
from ..decimate import quantize_width
from ..wire import is_loopback

log = logging.getLogger("rtoc.remote")

T = TypeVar("T")

DEFAULT_PORT = 5050
CALL_TIMEOUT_S = 30.0
SLOW_CALL_TIMEOUT_S = 300.0  # device functions and scripts may take a while
MAX_REPLY_BYTES = 1024 * 1024 * 1024
WINDOW_CACHE_SIZE = 256
IMPORT_CHUNK_SAMPLES = 1_000_000  # 2 x 8 MB as base64 per frame, well under maxFrameBytes


def _build(cls: type[T], data: dict[str, Any]) -> T:
    """A dataclass from a dict, ignoring keys this client does not know (newer servers)."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(slots=True)
class _Buckets:
    """A cached incremental window of one signal: points sorted by bucket then x."""

    epoch: int
    cursor: int
    k_lo: int
    unit: str
    k: np.ndarray
    x: np.ndarray
    y: np.ndarray


def local_token(home: str | Path | None = None) -> str | None:
    """The per-install token of this machine's user folder (--home, $RTOC_HOME or ~/.rtoc),
    or None when there is none or it is not ours to read."""
    return Home(resolve_home(home)).auth_token()


class RemoteClient:
    """The client interface over one persistent TCP connection, reconnecting by itself."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        password: str | None = None,
        *,
        encrypt: bool | None = None,
        token: str | None = None,
        connect_timeout_s: float = 5.0,
        call_timeout_s: float = CALL_TIMEOUT_S,
        backoff_max_s: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        # Like RTOC: encrypt whenever a password is given, except to a loopback address.
        if encrypt is None:
            encrypt = bool(password) and not is_loopback(host)
        if encrypt and not password:
            raise ValueError("encryption needs a password")
        self._key = wire.derive_key(password) if encrypt else None
        self._password = password if encrypt else None
        self._strong: dict[bytes, bytes] = {}  # PBKDF2 keys by server salt (server/auth.py)
        self._kdf = bool(encrypt)  # ask for the stronger key until a server turns it down
        # Privileged operations need authentication even on loopback (docs/protocol.md): an
        # encrypted connection proves the password; a plain one sends `auth` with each request,
        # the per-install token of this machine's user folder, or else the password.
        if token is None and self._key is None and is_loopback(host):
            token = local_token()
        self._auth = None if self._key is not None else (token or password or None)
        self._instance = ""  # the server run's id from hello
        self._password_given = bool(password)
        self.connect_timeout_s = connect_timeout_s
        self.call_timeout_s = call_timeout_s
        self.backoff_max_s = backoff_max_s
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 1
        self._connected = False
        self._closed = False
        self._error = "not connected yet"
        self._server: dict[str, Any] = {}
        self._manager: asyncio.Task[None] | None = None
        self._attempted: asyncio.Event | None = None
        self._up: asyncio.Event | None = None
        self._windows: OrderedDict[tuple[str, float], _Buckets] = OrderedDict()
        self.reconnects = 0
        self.bytes_received = 0  # reply bytes, for traffic figures (bench, UI status)
        self.bytes_sent = 0

    # -- connection ---------------------------------------------------------------------------
    @property
    def info(self) -> ServerInfo:
        return ServerInfo(
            host=self.host,
            port=self.port,
            remote=True,
            connected=self._connected,
            extra={
                "state": "connected" if self._connected else "disconnected",
                "error": "" if self._connected else self._error,
                "encrypted": self._key is not None,
                "server": dict(self._server),
            },
        )

    @property
    def connected(self) -> bool:
        return self._connected

    async def connect(self) -> None:
        """Connect (and keep reconnecting in the background); Disconnected if the first try fails."""
        if self._closed:
            raise ClientError("this client was closed")
        if self._manager is None or self._manager.done():
            self._attempted = asyncio.Event()
            self._up = asyncio.Event()
            self._manager = asyncio.create_task(
                self._run(), name=f"rtoc-remote-{self.host}:{self.port}"
            )
        assert self._attempted is not None
        await self._attempted.wait()
        if not self._connected:
            raise Disconnected(self._error)

    async def wait_connected(self, timeout_s: float) -> bool:
        """Wait until the connection is up (True) or timeout_s passed (False)."""
        if self._up is None:
            return False
        try:
            await asyncio.wait_for(self._up.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Close the connection and stop reconnecting."""
        self._closed = True
        if self._manager is not None:
            self._manager.cancel()
            try:
                await self._manager
            except asyncio.CancelledError:
                pass
            self._manager = None
        self._drop(Disconnected("client closed"))

    async def _run(self) -> None:
        assert self._attempted is not None and self._up is not None
        delay = 0.1
        while not self._closed:
            reader_task: asyncio.Task[None] | None = None
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), self.connect_timeout_s
                )
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._writer = writer
                reader_task = asyncio.create_task(self._read_loop(reader))
                self._instance = ""
                if self._kdf:
                    await self._negotiate_key()
                hello = await self._request("hello", {}, self.connect_timeout_s)
                self._server = hello if isinstance(hello, dict) else {}
                self._instance = str(self._server.get("instance") or "")
                if self._auth is not None and not self._server.get("privileged"):
                    # a token the server does not know (e.g. this machine's, through an SSH
                    # forward): do not send it again, privileged calls will say what is needed
                    log.info("%s:%s did not accept our token: read-only", self.host, self.port)
                    self._auth = None
                self._windows.clear()  # the server may have restarted: cached windows are void
                self._connected = True
                self._error = ""
                self._up.set()
                self._attempted.set()
                delay = 0.1
                log.info("connected to %s:%s", self.host, self.port)
                await reader_task
            except asyncio.CancelledError:
                raise
            except (OSError, TimeoutError, ClientError, wire.ProtocolError) as exc:
                self._error = self._describe(exc)
            finally:
                was_up = self._connected
                self._connected = False
                self._up.clear()
                if reader_task is not None and not reader_task.done():
                    reader_task.cancel()
                self._drop(Disconnected(self._error or "connection lost"))
                if was_up and not self._closed:
                    self.reconnects += 1
                    log.warning(
                        "lost the connection to %s:%s: %s", self.host, self.port, self._error
                    )
            self._attempted.set()
            if self._closed:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max_s)

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, ConnectionRefusedError):
            return f"connection to {self.host}:{self.port} refused (is the logger's TCP server on?)"
        if isinstance(exc, TimeoutError):
            return f"no answer from {self.host}:{self.port} within {self.connect_timeout_s:g} s"
        if isinstance(exc, wire.AuthError):
            return "the reply does not decrypt: wrong password?"
        return str(exc) or type(exc).__name__

    def _drop(self, exc: Exception) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(exc)

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                try:
                    header = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError:
                    raise ConnectionResetError("the server closed the connection") from None
                except asyncio.LimitOverrunError:
                    raise wire.ProtocolError("reply header too long") from None
                length, taglen, noncelen = wire.parse_header(header[:-1], MAX_REPLY_BYTES)
                try:
                    body = await reader.readexactly(taglen + noncelen + length)
                except asyncio.IncompleteReadError:
                    raise ConnectionResetError(
                        "the server closed the connection mid-reply"
                    ) from None
                self.bytes_received += len(header) + len(body)
                if taglen:
                    if self._key is None:
                        raise wire.ProtocolError(
                            "the server sent an encrypted reply but we do not encrypt"
                        )
                    body = wire.decrypt(
                        body[:taglen],
                        body[taglen : taglen + noncelen],
                        body[taglen + noncelen :],
                        self._key,
                    )
                self._on_reply(wire.loads(body))
        except (OSError, wire.ProtocolError) as exc:
            self._error = self._describe(exc)

    def _on_reply(self, msg: Any) -> None:
        ext = msg.get("rtoc") if isinstance(msg, dict) else None
        rid = ext.get("id") if isinstance(ext, dict) else None
        fut = self._pending.pop(rid, None) if isinstance(rid, int) else None
        if fut is not None:
            if not fut.done():
                fut.set_result(ext)
            return
        if isinstance(msg, dict) and msg.get("error"):
            # a connection-level error (wrong password, timeout, ...): the server closes next
            text = str(
                msg.get("errorText") or msg.get("password") or "the server reported an error"
            )
            if "password" in text and not self._password_given:
                text += " (give --password or set RTOC_PASSWORD)"
            self._error = text
            self._drop(ClientError(text))

    async def _negotiate_key(self) -> None:
        """Use the server's PBKDF2 key instead of SHA-256(password) (replies follow it): a
        captured frame then costs an attacker 200,000 hashes per guess. A server that does not
        offer it (RTOC, an older rtoc-tui) refuses the plain request: then RTOC's key it is."""
        assert self._password is not None
        try:
            offer = await self._request("kdf", {}, self.connect_timeout_s, plain=True)
            salt, iterations = bytes.fromhex(offer["salt"]), int(offer["iterations"])
            if offer.get("alg") != "pbkdf2-sha256" or not 1 <= iterations <= 10_000_000:
                raise ValueError(f"unknown key derivation {offer!r}")
        except Disconnected:
            raise
        except (ClientError, ValueError, KeyError, TypeError) as exc:
            log.info("%s:%s offers no stronger key (%s): RTOC's key", self.host, self.port, exc)
            self._kdf = False
            self._key = wire.derive_key(self._password)
            return
        key = self._strong.get(salt)
        if key is None:
            password = self._password
            key = await asyncio.to_thread(
                hashlib.pbkdf2_hmac, "sha256", password.encode("utf-8"), salt, iterations
            )
            self._strong = {salt: key}  # a new server run has a new salt
        self._key = key

    async def _request(
        self, op: str, params: dict[str, Any], timeout_s: float, plain: bool = False
    ) -> Any:
        writer = self._writer
        if writer is None:
            raise Disconnected(self._error or "not connected")
        rid = self._next_id
        self._next_id += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        req: dict[str, Any] = {"op": op, "id": rid, "args": params}
        if self._auth is not None:
            req["auth"] = self._auth
        if self._key is not None and self._instance:
            req["instance"] = self._instance  # binds the frame to this server run (replays)
        frame = wire.pack(wire.dumps({"rtoc": req}), None if plain else self._key)
        self.bytes_sent += len(frame)
        writer.write(frame)
        try:
            await writer.drain()
            reply = await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            raise ClientError(
                f"{op}: no reply from {self.host}:{self.port} within {timeout_s:g} s"
            ) from None
        except (ConnectionError, OSError) as exc:
            raise Disconnected(self._describe(exc)) from None
        finally:
            self._pending.pop(rid, None)
        if not reply.get("ok"):
            raise ClientError(str(reply.get("error") or f"{op} failed"))
        return reply.get("result")

    async def call(self, op: str, timeout_s: float | None = None, **params: Any) -> Any:
        """Run one `rtoc` operation (see docs/protocol.md); Disconnected while down."""
        if not self._connected:
            raise Disconnected(self._error or "not connected")
        return await self._request(op, params, timeout_s or self.call_timeout_s)

    # -- overview -----------------------------------------------------------------------------
    async def status(self) -> Status:
        return _build(Status, await self.call("status"))

    # -- devices ------------------------------------------------------------------------------
    async def devices(self) -> list[DeviceInfo]:
        return [_build(DeviceInfo, d) for d in await self.call("devices")]

    async def device_detail(self, name: str) -> DeviceDetail:
        d = await self.call("device_detail", name=name)
        return DeviceDetail(
            name=d["name"],
            devicename=d["devicename"],
            parameters=tuple(_build(ParameterInfo, p) for p in d["parameters"]),
            functions=tuple(_build(FunctionInfo, f) for f in d["functions"]),
        )

    async def start_device(self, name: str) -> DeviceInfo:
        return _build(DeviceInfo, await self.call("start_device", SLOW_CALL_TIMEOUT_S, name=name))

    async def stop_device(self, name: str) -> DeviceInfo:
        return _build(DeviceInfo, await self.call("stop_device", SLOW_CALL_TIMEOUT_S, name=name))

    async def set_parameter(self, device: str, name: str, value: Any) -> Any:
        return await self.call(
            "set_parameter", SLOW_CALL_TIMEOUT_S, device=device, name=name, value=value
        )

    async def call_function(
        self,
        device: str,
        name: str,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        return await self.call(
            "call_function",
            SLOW_CALL_TIMEOUT_S,
            device=device,
            name=name,
            args=list(args or []),
            kwargs=dict(kwargs or {}),
        )

    # -- signals ------------------------------------------------------------------------------
    async def signals(self) -> list[SignalInfo]:
        out = []
        for sid, dname, sname, unit, count, written, epoch, updated, latest in await self.call(
            "signals"
        ):
            out.append(
                SignalInfo(
                    sid,
                    dname,
                    sname,
                    unit,
                    count,
                    written,
                    epoch,
                    updated,
                    None if latest is None else (latest[0], latest[1]),
                )
            )
        return out

    async def read_since(self, cursors: dict[str, int]) -> dict[str, SignalChunk]:
        res = await self.call("read_since", cursors={k: int(v) for k, v in cursors.items()})
        return {
            name: SignalChunk(
                name,
                wire.decode_array(r["x"]),
                wire.decode_array(r["y"]),
                r["cursor"],
                r["missed"],
                r["epoch"],
            )
            for name, r in res.items()
        }

    async def window(
        self, names: list[str], xmin: float | None, xmax: float | None, n_points: int
    ) -> dict[str, SignalWindow]:
        """Min/max-decimated windows; incremental when both bounds are given."""
        if (
            xmin is None
            or xmax is None
            or n_points < 8
            or not (math.isfinite(xmin) and math.isfinite(xmax) and xmax > xmin)
        ):
            res = await self.call(
                "window", names=list(names), xmin=xmin, xmax=xmax, n_points=n_points
            )
            return {
                n: SignalWindow(n, r["unit"], wire.decode_array(r["x"]), wire.decode_array(r["y"]))
                for n, r in res.items()
            }
        # n_points // 2 - 2 buckets: the grid may add one bucket at each end
        w = quantize_width((xmax - xmin) / (n_points // 2 - 2))
        k_lo = math.floor(xmin / w)
        states: dict[str, Any] = {}
        for name in names:
            c = self._windows.get((name, w))
            if c is None or k_lo < c.k_lo:
                states[name] = None  # nothing cached, or the window moved back: all of it
            else:
                states[name] = [int(c.k[-1]) if len(c.k) else k_lo, c.epoch, c.cursor]
        res = await self.call("buckets", w=w, xmin=xmin, xmax=xmax, signals=states)
        out: dict[str, SignalWindow] = {}
        for name in names:
            key = (name, w)
            r = res.get(name)
            if r is None:
                self._windows.pop(key, None)
                continue
            k = np.asarray(r["k"], dtype=np.int64) + int(r["k0"])
            x = wire.decode_array(r["x"])
            y = wire.decode_array(r["y"])
            c = self._windows.get(key)
            state = states.get(name)
            if not r["r"] and c is not None and state is not None:
                from_k = state[0]
                keep = (c.k > k_lo) & (c.k < from_k)
                head = k == k_lo
                k = np.concatenate((k[head], c.k[keep], k[~head]))
                x = np.concatenate((x[head], c.x[keep], x[~head]))
                y = np.concatenate((y[head], c.y[keep], y[~head]))
            if r.get("o") is not None:
                live = x >= r["o"]  # samples that dropped out of the ring buffer
                k, x, y = k[live], x[live], y[live]
            self._windows[key] = _Buckets(r["e"], r["c"], k_lo, r["u"], k, x, y)
            self._windows.move_to_end(key)
            shown = (x >= xmin) & (x <= xmax)
            out[name] = SignalWindow(name, r["u"], x[shown], y[shown])
        while len(self._windows) > WINDOW_CACHE_SIZE:
            self._windows.popitem(last=False)
        return out

    async def stats(
        self, name: str, xmin: float | None = None, xmax: float | None = None
    ) -> SignalStats | None:
        d = await self.call("stats", name=name, xmin=xmin, xmax=xmax)
        return None if d is None else _build(SignalStats, d)

    async def send(
        self,
        dname: str,
        values: dict[str, float],
        units: dict[str, str] | None = None,
        x: float | None = None,
    ) -> None:
        await self.call("send", dname=dname, values=dict(values), units=units, x=x)

    async def append(self, name: str, x: Any, y: Any, unit: str | None = None) -> int:
        """Bulk ingest (not in LoggerClient): append samples to 'Device.Signal' as binary arrays."""
        return int(
            await self.call(
                "append",
                name=name,
                x=wire.encode_array(np.asarray(x, dtype=float)),
                y=wire.encode_array(np.asarray(y, dtype=float)),
                unit=unit,
            )
        )

    async def import_signals(
        self, signals: list[ImportSignal], progress: ImportProgress | None = None
    ) -> ImportReport:
        """Staged on the server chunk by chunk, stored on import_commit: a connection lost
        before the commit stores nothing."""
        total = sum(len(s.x) for s in signals)
        for s in signals:
            if len(s.x) != len(s.y):
                raise ClientError(
                    f"import refused, nothing was stored: {s.name}: "
                    f"{len(s.x)} x values but {len(s.y)} y values"
                )
        import_id = str(await self.call("import_begin"))
        sent = 0
        try:
            for s in signals:
                x = np.asarray(s.x, dtype=float).reshape(-1)
                y = np.asarray(s.y, dtype=float).reshape(-1)
                for i in range(0, max(1, len(x)), IMPORT_CHUNK_SAMPLES):
                    xs, ys = x[i : i + IMPORT_CHUNK_SAMPLES], y[i : i + IMPORT_CHUNK_SAMPLES]
                    await self.call(
                        "import_chunk",
                        SLOW_CALL_TIMEOUT_S,
                        import_id=import_id,
                        name=s.name,
                        unit=s.unit,
                        x=wire.encode_array(xs),
                        y=wire.encode_array(ys),
                    )
                    sent += len(xs)
                    if progress is not None:
                        progress(sent, total)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await self.call("import_abort", import_id=import_id)
            if isinstance(exc, ClientError):
                raise ClientError(f"import failed, nothing was stored: {exc}") from exc
            raise
        try:
            r = await self.call("import_commit", SLOW_CALL_TIMEOUT_S, import_id=import_id)
        except Disconnected as exc:
            raise ClientError(
                f"the connection was lost while the logger stored the import ({exc}): the logger "
                "finishes it on its own (all of it, unless its storage fails); check its signals"
            ) from exc
        return ImportReport(
            int(r["signals"]),
            int(r["samples"]),
            tuple((str(n), int(k)) for n, k in r["stored"]),
            int(r.get("dropped", 0)),
        )

    async def clear_signals(self, names: list[str] | None = None) -> None:
        await self.call("clear_signals", names=None if names is None else list(names))

    async def delete_signals(self, names: list[str]) -> None:
        await self.call("delete_signals", names=list(names))

    # -- events -------------------------------------------------------------------------------
    async def events_since(self, cursor: int = 0) -> list[EventInfo]:
        return [_build(EventInfo, e) for e in await self.call("events_since", cursor=int(cursor))]

    async def add_event(
        self, text: str, dname: str = "", sname: str = "", priority: int = 0, id: str = ""
    ) -> None:
        await self.call("add_event", text=text, dname=dname, sname=sname, priority=priority, id=id)

    async def clear_events(self) -> None:
        await self.call("clear_events")

    # -- scripts and automation ---------------------------------------------------------------
    async def run_script(
        self,
        source: str,
        name: str = "script",
        mode: str = "once",
        samplerate: float | None = None,
        triggers: list[str] | None = None,
    ) -> ScriptInfo:
        d = await self.call(
            "run_script",
            SLOW_CALL_TIMEOUT_S,
            source=source,
            name=name,
            mode=mode,
            samplerate=samplerate,
            triggers=triggers,
        )
        return _build(ScriptInfo, d)

    async def scripts(self) -> list[ScriptInfo]:
        return [_build(ScriptInfo, d) for d in await self.call("scripts")]

    async def stop_script(self, script_id: str) -> None:
        await self.call("stop_script", SLOW_CALL_TIMEOUT_S, script_id=script_id)

    async def script_output(self, script_id: str, cursor: int = 0) -> ScriptOutput:
        d = await self.call("script_output", script_id=script_id, cursor=cursor)
        d["lines"] = tuple(d.get("lines", ()))
        return _build(ScriptOutput, d)

    async def saved_scripts(self) -> list[str]:
        return list(await self.call("saved_scripts"))

    async def load_script(self, name: str) -> str:
        return str(await self.call("load_script", name=name))

    async def save_script(self, name: str, source: str) -> None:
        await self.call("save_script", name=name, source=source)

    async def global_events(self) -> dict[str, dict[str, Any]]:
        return dict(await self.call("global_events"))

    async def set_global_event(self, name: str, spec: dict[str, Any] | None) -> None:
        await self.call("set_global_event", name=name, spec=spec)

    async def global_actions(self) -> dict[str, dict[str, Any]]:
        return dict(await self.call("global_actions"))

    async def set_global_action(self, name: str, spec: dict[str, Any] | None) -> None:
        await self.call("set_global_action", name=name, spec=spec)

    # -- settings -----------------------------------------------------------------------------
    async def config(self) -> list[ConfigValue]:
        return [_build(ConfigValue, d) for d in await self.call("config")]

    async def set_config(self, updates: dict[str, Any]) -> list[ConfigValue]:
        return [
            _build(ConfigValue, d)
            for d in await self.call("set_config", SLOW_CALL_TIMEOUT_S, updates=updates)
        ]

    # -- storage ------------------------------------------------------------------------------
    async def query(
        self, name: str, xmin: float | None, xmax: float | None, max_n: int
    ) -> SignalWindow:
        r = await self.call(
            "query", SLOW_CALL_TIMEOUT_S, name=name, xmin=xmin, xmax=xmax, max_n=max_n
        )
        return SignalWindow(
            r["name"], r["unit"], wire.decode_array(r["x"]), wire.decode_array(r["y"])
        )

    async def export(
        self,
        path: str,
        names: list[str] | None,
        xmin: float | None,
        xmax: float | None,
        fmt: str = "csv",
    ) -> str:
        return str(
            await self.call(
                "export", SLOW_CALL_TIMEOUT_S, path=path, names=names, xmin=xmin, xmax=xmax, fmt=fmt
            )
        )
