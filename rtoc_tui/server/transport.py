"""Lean socket transports and listeners for the TCP server.

RTOC clients open one connection per request, so the cost of a connection matters as much as
the cost of a request. Three ways in, best first:

- `AcceptThread` (Linux, epoll): a thread of its own accepts, reads and answers the common
  one-shot request inline (accept, recv, answer, send, then wait for the client's close) with
  no asyncio object at all. Server CPU for a one-sample request on its own connection, kernel
  included (2 vCPUs): ~150 us through the loop (Listener), ~92 us here, ~45 us for a bare
  blocking accept/recv/send/close loop that answers nothing. Every connection it cannot
  finish at once (encrypted, pipelined, broken or slow frames, requests that must wait,
  replies the socket does not take, clients that stay connected) is handed to the loop with
  what was read so far, where `SocketTransport` and the server's protocol take over.
- `Listener`: accepts in a reader callback on the loop, tries the first recv at once and sends
  without a write buffer when the socket takes it (other platforms with add_reader).
- `AsyncioServer`: loop.create_server, where the loop has no add_reader (Windows' proactor).

`SocketTransport` implements the part of asyncio.Transport that the server's protocol uses.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from ..wire import Frame, FrameDecoder, ProtocolError

log = logging.getLogger("rtoc.server")

RECV_BYTES = 256 * 1024
_AGAIN = (BlockingIOError, InterruptedError)


class SocketTransport(asyncio.Transport):
    """One accepted, non-blocking socket driven by add_reader/add_writer."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol: asyncio.Protocol,
        peer: Any,
    ) -> None:
        super().__init__()
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        self._peer = peer
        self._out = bytearray()
        self._closing = False
        self._closed = False
        self._reading = True
        self._writing_paused = False
        self._high = 64 * 1024
        self._low = 16 * 1024

    def start(self) -> None:
        """Hand the connection to the protocol and read what has already arrived."""
        self._protocol.connection_made(self)
        if self._closing:
            return
        self._loop.add_reader(self._fd, self._read_ready)
        self._read_ready()

    # -- asyncio.Transport API ----------------------------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "peername":
            return self._peer
        if name == "socket":
            return self._sock
        if name == "sockname":
            try:
                return self._sock.getsockname()
            except OSError:
                return default
        return default

    def is_closing(self) -> bool:
        return self._closing

    def is_reading(self) -> bool:
        return self._reading and not self._closing

    def pause_reading(self) -> None:
        if self._reading and not self._closing:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if not self._reading and not self._closing:
            self._reading = True
            self._loop.add_reader(self._fd, self._read_ready)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._high = 64 * 1024 if high is None else high
        self._low = self._high // 4 if low is None else low

    def get_write_buffer_size(self) -> int:
        return len(self._out)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closed or not data:
            return
        if not self._out:
            try:
                sent = self._sock.send(data)
            except _AGAIN:
                sent = 0
            except OSError as exc:
                self._fatal(exc)
                return
            if sent == len(data):
                return
            data = memoryview(data)[sent:]
            self._loop.add_writer(self._fd, self._write_ready)
        self._out += data
        if not self._writing_paused and len(self._out) > self._high:
            self._writing_paused = True
            self._protocol.pause_writing()

    def close(self) -> None:
        """Stop reading; close once everything written has been sent."""
        if self._closing:
            return
        self._closing = True
        if self._reading:
            self._loop.remove_reader(self._fd)
        if not self._out:
            self._loop.call_soon(self._finish, None)

    def abort(self) -> None:
        """Close now, dropping unsent data."""
        self._out.clear()
        self._closing = True
        self._loop.remove_reader(self._fd)
        self._loop.remove_writer(self._fd)
        self._loop.call_soon(self._finish, None)

    # -- events -------------------------------------------------------------------------------
    def _read_ready(self) -> None:
        if self._closing:
            return
        try:
            data = self._sock.recv(RECV_BYTES)
        except _AGAIN:
            return
        except OSError as exc:
            self._fatal(exc)
            return
        if data:
            self._protocol.data_received(data)
        else:  # the client closed its side: answer what is queued, then close
            self.close()

    def _write_ready(self) -> None:
        try:
            sent = self._sock.send(self._out)
        except _AGAIN:
            return
        except OSError as exc:
            self._fatal(exc)
            return
        del self._out[:sent]
        if self._writing_paused and len(self._out) <= self._low:
            self._writing_paused = False
            self._protocol.resume_writing()
        if not self._out:
            self._loop.remove_writer(self._fd)
            if self._closing:
                self._loop.call_soon(self._finish, None)

    def _fatal(self, exc: OSError) -> None:
        if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT):
            log.debug("socket error on %s: %s", self._peer, exc)
        self._out.clear()
        self._closing = True
        self._loop.remove_reader(self._fd)
        self._loop.remove_writer(self._fd)
        self._loop.call_soon(self._finish, exc)

    def _finish(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_writer(self._fd)
        try:
            self._sock.close()
        finally:
            self._protocol.connection_lost(exc)


class Listener:
    """Listening sockets that hand each accepted connection to a SocketTransport."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        socks: list[socket.socket],
        factory: Callable[[], asyncio.Protocol],
    ) -> None:
        self._loop = loop
        self.sockets = socks
        self._factory = factory
        for s in socks:
            loop.add_reader(s.fileno(), self._accept, s)

    def _accept(self, lsock: socket.socket) -> None:
        for _ in range(128):  # a burst of connections, but keep the loop fair
            try:
                sock, peer = lsock.accept()
            except _AGAIN:
                return
            except OSError as exc:  # EMFILE and friends: log, leave the rest for later
                log.warning("accept failed: %s", exc)
                return
            sock.setblocking(False)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            SocketTransport(self._loop, sock, self._factory(), peer).start()

    def close(self) -> None:
        for s in self.sockets:
            self._loop.remove_reader(s.fileno())
            s.close()


HOLD_S = 0.05  # the accept thread keeps a connection this long, then hands it to the loop
MAX_HELD = 128  # more connections waiting in the accept thread go to the loop at once
ACCEPT_RETRY_S = 0.1  # after accept() fails (EMFILE...), retry this much later, not in a spin
HOLD_PENDING_MAX = 64 * 1024  # a partial frame bigger than this goes to the loop (its budget)
READS_PER_WAKE = 4  # recv() calls for one connection before the others get their turn

# answer(payload, peer, loopback): the reply payload to one plain request answered in the
# calling thread, a coroutine producing it (the request was taken but has to wait: the loop
# finishes it), or None to leave the request untouched to the loop.
AnswerFn = Callable[[bytes, Any, bool], "bytes | Coroutine[Any, Any, bytes] | None"]


@dataclass(slots=True, eq=False)
class Accepted:
    """A connection while the accept thread holds it; handed to the loop as it is."""

    sock: socket.socket
    peer: Any
    loopback: bool
    decoder: FrameDecoder
    opened: float
    deadline: float
    last_rx: float = 0.0
    last_tx: float = 0.0
    requests: int = 0
    registered: bool = False  # in the accept thread's epoll set
    admitted: bool = True  # False: over tcp.maxClients, the loop refuses it
    frames: list[Frame] = field(default_factory=list)  # received, not answered
    error: ProtocolError | None = None  # what the decoder raised (the loop answers and closes)
    unsent: bytes = b""  # the tail of a reply the socket did not take
    result: Coroutine[Any, Any, bytes] | None = None  # a taken request, its reply not ready


class AcceptThread:
    """Accepts on a thread of its own and answers one-shot requests inline.

    A connection stays here while it is simple: one complete plain frame at a time, answered
    by `answer` right away and sent in one send(). Everything else goes to the loop through
    `adopt` (called on the loop with the `Accepted` state; the loop's decoder continues with
    the bytes already read): frames that do not decode (the loop answers the error), encrypted
    or pipelined frames, requests `answer` leaves alone, replies the socket does not take at
    once, more than MAX_HELD connections, and any connection still open HOLD_S after it was
    accepted or last answered (a slow sender, a silent client, a persistent client between
    requests). Nothing here waits on one client: every socket is non-blocking under one epoll.
    The code is written for the one-shot case's few microseconds (no helper calls it can save).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        socks: list[socket.socket],
        *,
        answer: AnswerFn,
        adopt: Callable[[Accepted], None],
        admit: Callable[[int], bool],
        counted: Callable[[int], None],
        is_local: Callable[[str], bool],
        max_frame: int,
    ) -> None:
        self._loop = loop
        self.sockets = socks
        self._answer = answer
        self._adopt = adopt
        self._admit = admit  # admit(held): room for one more beside `held` and the loop's?
        self._counted = counted  # counted(held): the number of held connections changed
        self._is_local = is_local
        self._local: dict[str, bool] = {}  # is_local by peer address (clients come back)
        self._max_frame = max_frame
        self._held: dict[int, Accepted] = {}  # by fd, oldest deadline first
        # fd -> (listening socket, family, type, proto) as plain ints for socket.socket()
        self._listeners = {s.fileno(): (s, int(s.family), int(s.type), s.proto) for s in socks}
        self._retry_at = 0.0  # listeners paused after a failed accept until then
        self._stop = False
        self._ep = select.epoll()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        for fd in self._listeners:
            self._ep.register(fd, select.EPOLLIN)
        self._ep.register(self._wake_r, select.EPOLLIN)
        self._thread = threading.Thread(target=self._run, name="rtoc-tcp-accept", daemon=True)
        self._thread.start()

    @property
    def held(self) -> int:
        """Connections the thread holds right now (they count as clients)."""
        return len(self._held)

    def close(self) -> None:
        """Stop the thread, drop the connections it holds and stop listening."""
        self._stop = True
        os.write(self._wake_w, b"x")
        self._thread.join(10)
        for s in self.sockets:
            s.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # -- the thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        held = self._held
        listeners = self._listeners
        poll = self._ep.poll
        monotonic = time.monotonic
        try:
            while not self._stop:
                wake = next(iter(held.values())).deadline if held else 0.0
                if self._retry_at:
                    wake = min(wake, self._retry_at) if wake else self._retry_at
                timeout = max(0.0, wake - monotonic()) if wake else -1.0
                for fd, _events in poll(timeout):
                    conn = held.get(fd)
                    if conn is not None:
                        try:
                            self._readable(conn)
                        except Exception:
                            self._failed(conn)
                    elif fd in listeners:
                        self._accept(*listeners[fd])
                    elif fd == self._wake_r:
                        os.read(fd, 64)
                if held:  # hand over what waited too long (dict order is deadline order)
                    now = monotonic()
                    while held:
                        conn = next(iter(held.values()))
                        if conn.deadline > now:
                            break
                        try:
                            self._handover(conn)
                        except Exception:
                            self._failed(conn)
                if self._retry_at and monotonic() >= self._retry_at:
                    self._retry_at = 0.0
                    for fd in listeners:
                        self._ep.modify(fd, select.EPOLLIN)
        except Exception:  # a bug must not end accepting silently
            log.exception("TCP accept thread failed")
        finally:
            for conn in list(held.values()):
                conn.sock.close()
            held.clear()
            self._ep.close()

    def _failed(self, conn: Accepted) -> None:
        log.exception("client %s: dropped after an internal error", conn.peer)
        self._drop(conn)

    def _accept(self, lsock: socket.socket, family: int, type_: int, proto: int) -> None:
        # One per wake-up: the epoll is level-triggered, so a burst comes back at once, and a
        # sequential client never pays for the accept() that would only say EAGAIN.
        try:
            fd, peer = lsock._accept()  # type: ignore[attr-defined]
        except _AGAIN:
            return
        except OSError as exc:  # EMFILE and friends: pause accepting instead of spinning
            log.warning("accept failed: %s", exc)
            self._retry_at = time.monotonic() + ACCEPT_RETRY_S
            for lfd in self._listeners:
                self._ep.modify(lfd, 0)
            return
        # Blocking mode (accept does not pass O_NONBLOCK on): recv/send say MSG_DONTWAIT.
        sock = socket.socket(family, type_, proto, fd)
        host = peer[0] if type(peer) is tuple else str(peer)
        loopback = self._local.get(host)
        if loopback is None:
            if len(self._local) > 1024:
                self._local.clear()
            loopback = self._local[host] = self._is_local(host)
        now = time.monotonic()
        conn = Accepted(sock, peer, loopback, FrameDecoder(self._max_frame), now, now + HOLD_S)
        held = self._held
        if not self._admit(len(held)):
            conn.admitted = False
            self._handover(conn)
            return
        if len(held) >= MAX_HELD:
            self._handover(conn)
            return
        held[fd] = conn
        self._counted(len(held))  # before answering: a client that got its reply is counted
        try:
            self._readable(conn)  # the request has often arrived already: answer it first
        except Exception:
            self._failed(conn)
        if held.get(fd) is conn:  # still here: from now on the epoll tells
            self._ep.register(fd, select.EPOLLIN)
            conn.registered = True

    def _readable(self, conn: Accepted) -> None:
        sock = conn.sock
        for _ in range(READS_PER_WAKE):  # more comes back at once: the epoll is level-triggered
            try:
                data = sock.recv(RECV_BYTES, socket.MSG_DONTWAIT)
            except _AGAIN:
                return
            except OSError:
                self._drop(conn)
                return
            if not data:  # the client closed: done (a partial frame dies with it, as on the loop)
                self._drop(conn)
                return
            now = conn.last_rx = time.monotonic()
            try:
                frames = conn.decoder.feed(data)
            except ProtocolError as exc:
                conn.error = exc
                self._handover(conn)
                return
            if not frames:
                if conn.decoder.pending > HOLD_PENDING_MAX:  # a big frame: the loop's budget
                    self._handover(conn)
                    return
                continue  # part of a frame: read on while there is more
            if len(frames) > 1 or conn.decoder.pending or frames[0][0]:  # pipelined/encrypted
                conn.frames = frames
                self._handover(conn)
                return
            result = self._answer(frames[0][2], conn.peer, conn.loopback)
            if result is None:
                conn.frames = frames
                self._handover(conn)
                return
            conn.requests += 1
            if type(result) is not bytes:
                conn.result = result  # type: ignore[assignment]
                self._handover(conn)
                return
            out = b"%d,0,0\n%s" % (len(result), result)
            try:
                sent = sock.send(out, socket.MSG_DONTWAIT)
            except _AGAIN:
                sent = 0
            except OSError:
                self._drop(conn)
                return
            conn.last_tx = now
            if sent < len(out):
                conn.unsent = out[sent:]
                self._handover(conn)
                return
            # Answered: wait for the client's close (or its next request) from now on.
            fd = sock.fileno()
            held = self._held
            del held[fd]
            conn.deadline = now + HOLD_S
            held[fd] = conn
            return

    def _drop(self, conn: Accepted) -> None:
        held = self._held
        if held.pop(conn.sock.fileno(), None) is not None:
            self._counted(len(held))
        conn.sock.close()  # also leaves the epoll set

    def _handover(self, conn: Accepted) -> None:
        fd = conn.sock.fileno()
        held = self._held
        if held.pop(fd, None) is not None:
            if conn.registered:
                self._ep.unregister(fd)
            self._counted(len(held))
        conn.sock.setblocking(False)
        try:
            self._loop.call_soon_threadsafe(self._adopt, conn)
        except RuntimeError:  # the loop has closed: nobody left to serve it
            conn.sock.close()


class AsyncioServer:
    """loop.create_server behind Listener's interface (loops without add_reader)."""

    def __init__(self, server: asyncio.Server) -> None:
        self._server = server
        self.sockets = list(server.sockets)

    def close(self) -> None:
        self._server.close()


async def listen(
    host: str,
    port: int,
    factory: Callable[[], asyncio.Protocol],
    backlog: int = 256,
    front: Callable[[list[socket.socket]], AcceptThread] | None = None,
) -> AcceptThread | Listener | AsyncioServer:
    """Bind every address of host (SO_REUSEADDR; IPv6 sockets IPv6-only) and accept: with
    front(sockets) (an AcceptThread) where epoll and the loop's add_reader exist, else on the
    loop."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    socks: list[socket.socket] = []
    try:
        for family, type_, proto, _name, addr in dict.fromkeys(infos):
            s = socket.socket(family, type_, proto)
            socks.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if family in (socket.AF_INET, socket.AF_INET6):
                # accepted sockets inherit it on Linux: one setsockopt less per connection
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if port == 0 and len(socks) > 1:  # one port for every address of the host
                addr = (addr[0], socks[0].getsockname()[1], *addr[2:])
            s.bind(addr)
            s.listen(backlog)
            s.setblocking(False)
        if front is not None and hasattr(select, "epoll"):
            fd = socks[0].fileno()
            loop.add_reader(fd, lambda: None)  # handed-over sockets need it: probe first
            loop.remove_reader(fd)
            return front(socks)
        return Listener(loop, socks, factory)
    except NotImplementedError:
        for s in socks:
            s.close()
        return AsyncioServer(
            await loop.create_server(factory, host, port, reuse_address=True, backlog=backlog)
        )
    except BaseException:
        for s in socks:
            s.close()
        raise
