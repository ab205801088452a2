"""Connection budgets of the TCP server: lock-out and memory abuse by valid-looking clients.

- A client inside a frame must keep up `tcp.minByteRate` measured over `tcp.readTimeout`
  (the plain stall timeout restarts with every byte, so a slowloris trickling one byte every
  few seconds would otherwise hold its connection for ever).
- At most `tcp.maxClientsPerPeer` connections per address, and `tcp.maxClients` in all; when
  either is full, the connection that has gone longest without an answer (silent ones,
  slow senders, clients idle between requests) is closed to make room, so silent or trickling
  connections cannot lock good clients out.
- Partial frames of all connections together stay within `tcp.maxPendingBytes`; the frame that
  would exceed it is refused (the bound is no longer maxClients x maxFrameBytes).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

log = logging.getLogger("rtoc.server")

MIN_IDLE_S = 0.5  # a connection answered more recently than this is not evicted (unless it
# never sent a whole request: a silent or trickling connection may go at once, oldest first)
LOG_EVERY_S = 60.0


class GuardedConnection(Protocol):
    """What the guard reads of a server connection (tcp._Connection)."""

    host: str
    closing: bool
    busy: bool
    tasks: set[Any]
    queue: Any
    write_paused: bool
    last_tx: float
    requests: int
    pending_counted: int
    rate_start: float
    rate_bytes: int

    def evict(self, text: str) -> None: ...


class ConnectionGuard:
    """Per-peer counts, eviction, the byte-rate check and the partial-frame budget of one
    server. Loop thread only."""

    def __init__(
        self, *, max_per_peer: int, min_rate: float, pending_budget: int, window_s: float
    ) -> None:
        self.max_per_peer = max_per_peer
        self.min_rate = min_rate
        self.pending_budget = pending_budget
        self.window_s = window_s
        self.pending_total = 0  # bytes of partial frames held by the loop's connections
        self.peers: dict[str, int] = {}
        self.evicted = 0
        self._logged: dict[str, float] = {}

    # -- admission ------------------------------------------------------------------------------
    def admit(self, conn: GuardedConnection, conns: Any, full: bool) -> str | None:
        """Register a new connection; None if admitted, else the refusal text. Makes room by
        evicting the connection idle longest (of its peer when the peer is at its cap)."""
        host = conn.host
        if self.peers.get(host, 0) >= self.max_per_peer and not self.make_room(conns, host):
            return f"too many connections from {host} (tcp.maxClientsPerPeer), try again later"
        if full and not self.make_room(conns, None):
            return "too many clients, try again later"
        self.peers[host] = self.peers.get(host, 0) + 1
        return None

    def make_room(self, conns: Any, host: str | None) -> bool:
        """Close the connection that has waited longest for nothing (of host, if given)."""
        now = time.monotonic()
        victim: GuardedConnection | None = None
        for c in conns:
            if (
                c.closing
                or c.busy
                or c.tasks
                or c.queue
                or c.write_paused
                or (c.requests and now - c.last_tx < MIN_IDLE_S)
                or (host is not None and c.host != host)
            ):
                continue
            if victim is None or c.last_tx < victim.last_tx:
                victim = c
        if victim is None:
            return False
        self.evicted += 1
        self._log(victim.host, "connections evicted to make room for new ones")
        victim.evict("closed to make room for another client (idle the longest)")
        return True

    def forget(self, conn: GuardedConnection) -> None:
        """The connection is gone: its peer count and partial frame are released."""
        n = self.peers.get(conn.host, 0) - 1
        if n > 0:
            self.peers[conn.host] = n
        else:
            self.peers.pop(conn.host, None)
        self.pending_total -= conn.pending_counted
        conn.pending_counted = 0

    # -- bytes ---------------------------------------------------------------------------------
    def received(self, conn: GuardedConnection, nbytes: int, pending: int) -> str | None:
        """Account received bytes and the connection's partial frame; the refusal text if the
        partial frames of all clients now exceed the budget."""
        conn.rate_bytes += nbytes
        self.pending_total += pending - conn.pending_counted
        conn.pending_counted = pending
        if pending and self.pending_total > self.pending_budget:
            return (
                f"partial frames of all clients exceed tcp.maxPendingBytes "
                f"({self.pending_budget} bytes); send smaller frames or try again later"
            )
        return None

    def too_slow(self, conn: GuardedConnection, now: float, pending: int) -> str | None:
        """Inside a frame: the refusal text if the client sent less than min_rate over the
        last window; starts a new window when one is complete."""
        if not pending:
            conn.rate_start, conn.rate_bytes = now, 0
            return None
        elapsed = now - conn.rate_start
        if elapsed < self.window_s:
            return None
        rate = conn.rate_bytes / elapsed
        conn.rate_start, conn.rate_bytes = now, 0
        if self.min_rate and rate < self.min_rate:
            return (
                f"too slow: {rate:.0f} bytes/s inside a frame, at least {self.min_rate:g} "
                "needed (tcp.minByteRate)"
            )
        return None

    def _log(self, host: str, what: str) -> None:
        now = time.monotonic()
        if now - self._logged.get(host, -LOG_EVERY_S) >= LOG_EVERY_S:
            if len(self._logged) > 10_000:
                self._logged.clear()
            self._logged[host] = now
            log.warning("client %s: %s (logged once a minute)", host, what)
