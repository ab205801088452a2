"""The TCP server: RTOC's jsonsocket protocol on the logger's asyncio loop.

RTOC 2.x/3.x clients connect, send one frame and read one reply; our clients keep one
connection open and pipeline many requests. Security differs from RTOC on purpose:
- without a password the server binds loopback only; another address needs `tcp.insecure`;
- with a password, clients that are not on loopback must encrypt (RTOC clients never encrypt
  to 127.0.0.1/localhost, so plain frames from loopback stay accepted);
- replayed encrypted frames, oversized or malformed frames, stalled and silent clients are
  refused with an error reply where the protocol allows it, a closed connection and a log
  line; none of them blocks or slows another client.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from .. import wire
from ..config.schema import ConfigError
from ..core.logger import Logger
from ..core.store import LimitError
from ..wire import Frame, FrameDecoder, ProtocolError, is_loopback
from .auth import HOW_TO, Authority, StrongKey, auth_value, host_of, kdf_request_id, needs_privilege
from .guard import ConnectionGuard
from .ops import ExtensionOps
from .replay import PersistentReplayGuard, refusal
from .rtoc_keys import DATA_KEYS, RequestContext, RequestHandler, error_reply
from .transport import (
    Accepted,
    AcceptThread,
    AsyncioServer,
    Listener,
    SocketTransport,
    listen,
)

log = logging.getLogger("rtoc.server")

WRITE_BUFFER_HIGH = 4 * 1024 * 1024  # stop reading a client that does not read its replies
MAX_QUEUED_REQUESTS = 1000  # in-order requests waiting behind a slow one; more pauses reading
PROTECTED_TEXT = "RTOC-Server is password protected!"  # what RTOC answers in this case
# Requests the accept thread may answer itself: they touch only the store and the event log,
# which are thread-safe (drivers write them from their own threads), and never wait. The rest
# (devices, config, storage, scripts, the `rtoc` key) stays on the loop; getSession, a copy of
# every signal, runs in a worker thread so it never holds up accepting (issue 15).
INLINE_KEYS = DATA_KEYS | frozenset(
    {"getSignalList", "getEventList", "getEvent", "getLatest", "getSignal", "event"}
)


class ServerConfigError(ConfigError):
    """The tcp section asks for something unsafe or impossible (e.g. a public bind, no password)."""


def peer_text(peer: Any) -> str:
    """'host:port' of a peer address (a str passes through)."""
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)


class TcpServer:
    """A Service: RTOC's TCP server for one logger (start/stop with the logger)."""

    name = "tcp"
    ingress = True  # stopped first at shutdown: nothing is acknowledged after the stop begins

    def __init__(
        self,
        logger: Logger,
        *,
        host: str | None = None,
        port: int | None = None,
        password: str | None = None,
        insecure: bool | None = None,
        max_frame_bytes: int | None = None,
        read_timeout_s: float | None = None,
        idle_timeout_s: float | None = None,
        max_clients: int | None = None,
        replay_capacity: int = 100_000,
        is_local: Callable[[str], bool] = is_loopback,
    ) -> None:
        cfg = logger.config.tcp
        self.logger = logger
        self.host = cfg.host if host is None else host
        self.port = cfg.port if port is None else port
        self.insecure = cfg.insecure if insecure is None else insecure
        self.max_frame_bytes = cfg.maxFrameBytes if max_frame_bytes is None else max_frame_bytes
        self.read_timeout_s = cfg.readTimeout if read_timeout_s is None else read_timeout_s
        self.idle_timeout_s = cfg.idleTimeout if idle_timeout_s is None else idle_timeout_s
        self.max_clients = cfg.maxClients if max_clients is None else max_clients
        password = cfg.password if password is None else password
        self.key = wire.derive_key(password)
        # who may run privileged requests (server/auth.py); the token is made on first start
        self.auth = Authority(logger.home.auth_token(create=True), password)
        # our clients may negotiate a PBKDF2 key instead of RTOC's SHA-256 one (server/auth.py)
        self.strong_key = StrongKey.make(password) if password else None
        self.is_local = is_local  # how a peer address counts as loopback (tests simulate remotes)
        # remembered across restarts in the user folder (server/replay.py)
        self.replay = PersistentReplayGuard(logger.home.replay_file, replay_capacity)
        self.guard = ConnectionGuard(  # lock-out and memory budgets (server/guard.py)
            max_per_peer=cfg.maxClientsPerPeer,
            min_rate=cfg.minByteRate,
            pending_budget=cfg.maxPendingBytes,
            window_s=self.read_timeout_s,
        )
        self.ops = ExtensionOps(logger)
        self.handler = RequestHandler(logger, self.ops)
        self.connections: set[_Connection] = set()
        self._held = 0  # connections the accept thread holds (not in self.connections)
        self._count_lock = threading.Lock()
        self._server: AcceptThread | Listener | AsyncioServer | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.check_bind()

    def check_bind(self) -> None:
        """Refuse a non-loopback address without a password unless tcp.insecure is set."""
        if is_loopback(self.host) or self.key is not None:
            return
        if not self.insecure:
            raise ServerConfigError(
                f"tcp.host: refusing to listen on {self.host!r} without a password. Set tcp.password "
                "(remote clients then must encrypt), or keep tcp.host 127.0.0.1 and tunnel with "
                "`ssh -L 5050:127.0.0.1:5050 host`, or set tcp.insecure to true to accept the risk"
            )

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    async def start(self) -> None:
        """Listen (SO_REUSEADDR) and start the timeout sweeper."""
        self.check_bind()
        if not is_loopback(self.host) and self.key is None:
            log.warning(
                "INSECURE: the TCP server listens on %s:%s without a password; anyone who can reach "
                "it can read all data and control every device (tcp.insecure is true)",
                self.host,
                self.port,
            )
        try:
            self._server = await listen(
                self.host, self.port, lambda: _Connection(self), front=self._accept_thread
            )
        except OSError as exc:
            raise OSError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from exc
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        self._sweeper = asyncio.create_task(self._sweep(), name="rtoc-tcp-sweeper")
        log.info(
            "TCP server listening on %s:%s (%s)",
            self.host,
            self.port,
            "encrypted for remote clients"
            if self.key
            else "plain, loopback only"
            if is_loopback(self.host)
            else "plain, INSECURE",
        )

    async def stop(self) -> None:
        """Stop listening and drop every connection (their pending work is cancelled)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            try:
                await self._sweeper
            except asyncio.CancelledError:
                pass
            self._sweeper = None
        if self._server is not None:
            self._server.close()
            self._server = None
            for conn in list(self.connections):
                conn.abort()
            for _ in range(100):  # connection_lost callbacks run on the next loop iterations
                if not self.connections:
                    break
                await asyncio.sleep(0)
        self._held = 0
        self.logger.clients = 0
        self.replay.flush()
        log.info("TCP server stopped")

    async def _sweep(self) -> None:
        # One timer for all connections: a call_later per frame would cost more than the frame.
        limits = [1.0, self.read_timeout_s / 4] + (
            [self.idle_timeout_s / 4] if self.idle_timeout_s else []
        )
        interval = max(0.02, min(limits))
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for conn in list(self.connections):
                conn.check_timeouts(now)
            self.replay.flush()

    def clients(self) -> int:
        """Open connections: the loop's and those the accept thread holds."""
        return len(self.connections) + self._held

    def _count(self) -> None:
        with self._count_lock:
            self.logger.clients = len(self.connections) + self._held

    def _held_changed(self, held: int) -> None:
        """The accept thread's count changed (called in that thread)."""
        with self._count_lock:  # or the loop's _count could write a sum with the old count
            self._held = held
            self.logger.clients = len(self.connections) + held

    # -- requests (any thread) -----------------------------------------------------------------
    def plain_refused(self, loopback: bool) -> bool:
        """True if a plain frame from this client must be refused (remote, and a password set)."""
        return not loopback and self.key is not None

    def respond(
        self, msg: dict[str, Any], raw: bytes, enc: bool, peer: Any, loopback: bool
    ) -> bytes | Coroutine[Any, Any, bytes]:
        """The reply to one decoded request, or a coroutine producing it when it must wait.
        peer: "host:port" or the address tuple (formatted only when needed)."""
        handler = self.handler
        try:
            if "y" in msg and msg.keys() <= DATA_KEYS and not msg.get("plot"):
                return handler.handle_data(msg, raw)
            return self.respond_authorised(msg, raw, enc, peer, loopback)
        except LimitError as exc:  # a configured limit: the client's answer, not a bug
            return error_reply(str(exc))
        except Exception as exc:  # a bug must cost one reply, never the logger
            log.exception("client %s: request failed", peer_text(peer))
            return error_reply(f"internal error: {type(exc).__name__}: {exc}")

    def respond_authorised(
        self, msg: dict[str, Any], raw: bytes | None, enc: bool, peer: Any, loopback: bool
    ) -> bytes | Coroutine[Any, Any, bytes]:
        """respond() for everything but plain data: checks `auth` and privileges first."""
        privileged = enc and self.key is not None  # the frame verified with the password
        refused = ""
        given = auth_value(msg)
        if given is not None:
            if "auth" in msg:  # never echoed back, not even to its sender
                msg = {k: v for k, v in msg.items() if k != "auth"}
                raw = None
            if not privileged:
                # A wrong or untried `auth` leaves the request unauthenticated: reads still work
                # (a token from another machine through an SSH forward), privileged parts fail.
                host = host_of(peer)
                wait = self.auth.blocked(host)
                if wait:
                    refused = f"too many wrong passwords from {host}: try again in {wait:.0f} s"
                elif self.auth.check(given):
                    self.auth.succeeded(host)
                    privileged = True
                else:
                    self.auth.failed(host, "wrong token or password in 'auth'")
                    refused = f"wrong token or password in 'auth'; {HOW_TO}"
        if not privileged:
            need = needs_privilege(msg, self.logger.store) or self.ops.privileged_op(msg)
            if need is not None:
                log.debug("client %s: refused %s (not authenticated)", peer_text(peer), need)
                return self._refuse(msg, refused or f"{need} needs authentication: {HOW_TO}")
        if "y" in msg and msg.keys() <= DATA_KEYS:  # plot data that passed the check
            return self.handler.handle_data(msg, raw)
        ctx = RequestContext(peer_text(peer), loopback, enc, privileged)
        return self.handler.handle(msg, raw, ctx)

    @staticmethod
    def _refuse(msg: dict[str, Any], text: str) -> bytes:
        """An error reply; for our `rtoc` key in its shape, so the client matches it by id."""
        ext = msg.get("rtoc")
        if type(ext) is dict:
            return wire.dumps(
                {"error": False, "rtoc": {"id": ext.get("id"), "ok": False, "error": text}}
            )
        return error_reply(text)

    def answer_inline(
        self, payload: bytes, peer: Any, loopback: bool
    ) -> bytes | Coroutine[Any, Any, bytes] | None:
        """The accept thread's question: the reply to one plain request, answered in the
        calling thread, or None to leave the request untouched to the connection's loop path
        (which also answers every refusal and error)."""
        if self.plain_refused(loopback):
            return None
        try:
            msg = wire.loads(payload)
        except ProtocolError:
            return None
        if type(msg) is not dict or not msg or not msg.keys() <= INLINE_KEYS:
            return None
        if not ("y" in msg and msg.keys() <= DATA_KEYS) and self.handler.needs_wait(msg):
            return None
        return self.respond(msg, payload, False, peer, loopback)

    # -- the accept thread ---------------------------------------------------------------------
    def _accept_thread(self, socks: list[Any]) -> AcceptThread:
        return AcceptThread(
            asyncio.get_running_loop(),
            socks,
            answer=self.answer_inline,
            adopt=self._adopt,
            admit=lambda held: len(self.connections) + held < self.max_clients,
            counted=self._held_changed,
            is_local=self.is_local,
            max_frame=self.max_frame_bytes,
        )

    def _adopt(self, conn: Accepted) -> None:
        """A connection from the accept thread continues on the loop (loop thread)."""
        if self._server is None:  # stopped meanwhile
            conn.sock.close()
            return
        SocketTransport(
            asyncio.get_running_loop(), conn.sock, _Connection(self, conn), conn.peer
        ).start()


class _Connection(asyncio.Protocol):
    """One client connection: frames in, replies out in request order."""

    def __init__(self, server: TcpServer, early: Accepted | None = None) -> None:
        self.srv = server
        self.early = early  # the accept thread's state of this connection, if it came from there
        self.decoder = FrameDecoder(server.max_frame_bytes)
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.host = "?"
        self.loopback = False
        self.pending_counted = 0  # this connection's share of guard.pending_total
        self.reply_key: bytes | None = None  # the negotiated PBKDF2 key, once used
        self.rate_start = time.monotonic()  # the byte-rate window inside a frame (guard.py)
        self.rate_bytes = 0
        self.opened = self.last_rx = self.last_tx = time.monotonic()
        self.requests = 0
        self.encrypted = False  # mode of the last frame (for unsolicited error replies)
        self.closing = False
        self.busy = False  # an in-order request is being answered by a task
        self.queue: deque[tuple[dict[str, Any], bytes, bool]] = deque()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.out: list[bytes] = []
        self.read_paused = False
        self.write_paused = False
        self.write_paused_at = 0.0
        self.closing_at = 0.0

    # -- asyncio callbacks --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = peer_text(peer)
        self.host = host_of(peer)
        self.loopback = isinstance(peer, tuple) and self.srv.is_local(str(peer[0]))
        early = self.early
        full = (early is None or not early.admitted) and self.srv.clients() >= self.srv.max_clients
        refused = self.srv.guard.admit(self, self.srv.connections, full)
        if refused is not None:
            log.debug("refusing %s: %s", self.peer, refused)
            self.closing = True
            transport.write(wire.pack(error_reply(refused)))
            transport.close()
            return
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        self.srv.connections.add(self)
        self.srv._count()
        log.debug("client %s connected", self.peer)
        if early is not None:
            self.early = None
            self.resume(early)

    def resume(self, early: Accepted) -> None:
        """Continue where the accept thread stopped: its decoder (with any partial frame), its
        clocks, an unsent reply tail, a reply still being made, received frames or an error."""
        assert self.transport is not None
        self.decoder = early.decoder
        self.srv.guard.received(self, 0, self.decoder.pending)
        self.opened, self.requests = early.opened, early.requests
        self.last_rx = early.last_rx or early.opened
        self.last_tx = early.last_tx or early.opened
        if early.unsent:
            self.transport.write(early.unsent)
        if early.result is not None:
            self.wait_reply(early.result, False, ordered=True)
        if early.error is not None:
            self.fail(f"{early.error}; closing the connection", level=logging.WARNING)
            return
        self.on_frames(early.frames)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.release()
        for task in list(self.tasks):
            task.cancel()
        self.queue.clear()
        if self in self.srv.connections:
            self.srv.guard.forget(self)
            self.srv.connections.discard(self)
            self.srv._count()
            log.debug("client %s disconnected after %d requests", self.peer, self.requests)

    def pause_writing(self) -> None:
        self.write_paused = True
        self.write_paused_at = time.monotonic()
        self._update_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._update_reading()

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.last_rx = time.monotonic()
        try:
            frames = self.decoder.feed(data)
        except ProtocolError as exc:  # FrameTooLarge included
            self.fail(f"{exc}; closing the connection", level=logging.WARNING)
            return
        over = self.srv.guard.received(self, len(data), self.decoder.pending)
        if over is not None:
            self.on_frames(frames)
            self.fail(over, level=logging.DEBUG)
            return
        self.on_frames(frames)

    # -- frames -------------------------------------------------------------------------------
    def on_frames(self, frames: list[Frame]) -> None:
        for frame in frames:
            if self.closing:
                break
            self.on_frame(frame)
        self.flush()

    def on_frame(self, frame: Frame) -> None:
        self.requests += 1
        tag, nonce, payload = frame
        enc = bool(tag)
        self.encrypted = enc
        if enc:
            key = self.srv.key
            if key is None:
                self.fail("this server has no password: send plain frames", encrypted=False)
                return
            auth = self.srv.auth
            host = host_of(self.peer)
            wait = auth.blocked(host)
            if wait:  # refused untried: guessing runs at the back-off's pace (server/auth.py)
                self.fail(
                    f"too many wrong passwords from {host}: try again in {wait:.0f} s",
                    encrypted=False,
                    level=logging.DEBUG,
                )
                return
            try:
                payload = self._decrypt(tag, nonce, payload, key)
            except wire.AuthError:
                auth.failed(host, "wrong password")  # logs once a minute per peer
                self.fail("wrong password", encrypted=False, level=logging.DEBUG)
                return
            auth.succeeded(host)
            if not self.srv.replay.check_and_add(nonce):
                self.fail("replayed frame rejected", level=logging.WARNING)
                return
        elif (kdf := kdf_request_id(payload))[0] and self.srv.strong_key is not None:
            self.reply(self.srv.strong_key.offer(kdf[1]), False)  # plain: before any key
            return
        elif self.srv.plain_refused(self.loopback):
            self.fail(
                "this server needs encrypted frames from remote clients (set the password)",
                level=logging.WARNING,
                password=PROTECTED_TEXT,
            )
            return
        try:
            msg = wire.loads(payload)
        except ProtocolError as exc:
            log.info("client %s: %s", self.peer, exc)
            self.reply(error_reply(str(exc)), enc)
            return
        if type(msg) is not dict or not msg:
            self.reply(error_reply("a request must be a non-empty JSON object"), enc)
            return
        if enc and (why := refusal(msg, self.srv.ops.instance)) is not None:
            self.fail(why, level=logging.WARNING)
            return
        if len(msg) == 1 and type(ext := msg.get("rtoc")) is dict and "id" in ext:
            # our clients tag requests with ids: answer each as soon as it is ready
            self.dispatch(msg, payload, enc, ordered=False)
        elif self.busy:
            self.queue.append((msg, payload, enc))
            self._update_reading()
        else:
            self.dispatch(msg, payload, enc, ordered=True)

    def _decrypt(self, tag: bytes, nonce: bytes, payload: bytes, key: bytes) -> bytes:
        """RTOC's key first; then the PBKDF2 key our clients negotiate (replies follow it)."""
        if self.reply_key is None:
            try:
                return wire.decrypt(tag, nonce, payload, key)
            except wire.AuthError:
                strong = self.srv.strong_key
                if strong is None:
                    raise
                plain = wire.decrypt(tag, nonce, payload, strong.key)
                self.reply_key = strong.key
                return plain
        return wire.decrypt(tag, nonce, payload, self.reply_key)

    def dispatch(self, msg: dict[str, Any], raw: bytes, enc: bool, ordered: bool) -> None:
        result = self.srv.respond(msg, raw, enc, self.peer, self.loopback)
        if isinstance(result, bytes):
            self.reply(result, enc)
            return
        self.wait_reply(result, enc, ordered)

    def wait_reply(self, result: Coroutine[Any, Any, bytes], enc: bool, ordered: bool) -> None:
        """Answer when result is ready (a task); ordered requests hold back the ones after."""
        task = asyncio.get_running_loop().create_task(result)
        self.tasks.add(task)
        if ordered:
            self.busy = True
        task.add_done_callback(lambda t: self._finished(t, enc, ordered))

    def _finished(self, task: asyncio.Task[bytes], enc: bool, ordered: bool) -> None:
        self.tasks.discard(task)
        if task.cancelled() or self.closing:
            return
        exc = task.exception()
        if exc is not None:
            log.error("client %s: request failed", self.peer, exc_info=exc)
            reply = error_reply(f"internal error: {type(exc).__name__}: {exc}")
        else:
            reply = task.result()
        self.reply(reply, enc)
        if ordered:
            self.busy = False
            while self.queue and not self.busy and not self.closing:
                msg, raw, q_enc = self.queue.popleft()
                self.dispatch(msg, raw, q_enc, ordered=True)
            self._update_reading()
        self.flush()

    # -- output -------------------------------------------------------------------------------
    def reply(self, payload: bytes, encrypted: bool) -> None:
        if encrypted:
            self.out.append(wire.pack(payload, self.reply_key or self.srv.key))
        else:
            self.out.append(b"%d,0,0\n%s" % (len(payload), payload))

    def flush(self) -> None:
        if self.out and self.transport is not None and not self.transport.is_closing():
            data = b"".join(self.out) if len(self.out) > 1 else self.out[0]
            self.transport.write(data)
            self.last_tx = time.monotonic()
        self.out.clear()

    def fail(
        self, text: str, *, encrypted: bool | None = None, level: int = logging.INFO, **extra: Any
    ) -> None:
        """Answer an error (if the protocol still allows one) and close the connection."""
        log.log(level, "client %s: %s", self.peer, text)
        enc = self.encrypted if encrypted is None else encrypted
        self.reply(error_reply(text, **extra), enc and self.srv.key is not None)
        self.flush()
        self.closing = True
        self.closing_at = time.monotonic()
        self.queue.clear()
        self.release()
        if self.transport is not None:
            self.transport.close()

    def release(self) -> None:
        """Free a partial frame at once: the connection and its transport form a cycle that
        only the cyclic GC would collect, and a refused 60 MB frame must not wait for it."""
        if self.decoder.pending:
            self.srv.guard.received(self, 0, 0)
            self.decoder = FrameDecoder(self.srv.max_frame_bytes)

    def evict(self, text: str) -> None:
        """Closed by the guard to make room: an error reply if possible, then gone at once
        (it no longer counts as a client)."""
        self.fail(text, level=logging.DEBUG)
        if self.transport is not None:
            self.transport.abort()  # a silent client may never read the reply: do not wait
        if self in self.srv.connections:
            self.srv.guard.forget(self)
            self.srv.connections.discard(self)
            self.srv._count()

    def abort(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    def _update_reading(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        want_pause = self.write_paused or len(self.queue) >= MAX_QUEUED_REQUESTS
        if want_pause and not self.read_paused:
            self.transport.pause_reading()
            self.read_paused = True
        elif not want_pause and self.read_paused:
            self.transport.resume_reading()
            self.read_paused = False
            self.last_rx = time.monotonic()  # the client was waiting on us, not stalling

    def check_timeouts(self, now: float) -> None:
        """Close a client stalled inside a frame, silent since it connected, idle too long, or
        not reading its replies (then its unsent replies are dropped)."""
        srv = self.srv
        if self.closing:
            if self.closing_at and now - self.closing_at > srv.read_timeout_s:
                self.abort()  # its last replies never drained
            return
        if self.write_paused:
            if now - self.write_paused_at > srv.read_timeout_s:
                log.warning("client %s: does not read its replies; disconnected", self.peer)
                self.abort()
            return
        if self.read_paused:
            self.rate_start, self.rate_bytes = now, 0  # not the client's slowness
            return  # we are busy with its queued requests: the wait is ours
        slow = srv.guard.too_slow(self, now, self.decoder.pending)
        if self.decoder.pending:
            if now - self.last_rx > srv.read_timeout_s:
                self.fail(f"timeout: no data for {srv.read_timeout_s:g} s in the middle of a frame")
            elif slow is not None:
                self.fail(slow, level=logging.DEBUG)
        elif self.busy or self.tasks or self.queue:
            return
        elif self.requests == 0:
            if now - self.opened > srv.read_timeout_s:
                self.fail(f"timeout: no request within {srv.read_timeout_s:g} s")
        elif srv.idle_timeout_s and now - max(self.last_rx, self.last_tx) > srv.idle_timeout_s:
            self.fail(f"idle for {srv.idle_timeout_s:g} s")


def attach_tcp(logger: Logger) -> TcpServer | None:
    """Add the TCP server to the logger's services when config tcp.active is true."""
    if not logger.config.tcp.active:
        return None
    server = TcpServer(logger)
    logger.add_service(server)
    logger.tcp_server = server
    return server
