"""Who may do what on the TCP server: authentication, privileged requests, password back-off.

RTOC's data and read keys stay open to every client the server accepts (on loopback without a
password, as RTOC clients expect). Privileged requests (scripts, automation edits, config
changes, device control, exports, deleting or clearing signals and events, resize, replacing a
signal's samples) need an authenticated request, also on loopback:
- an encrypted frame that verified with `tcp.password` (its holder knows the password), or
- a request carrying `auth`: the per-install token from the user folder (`auth_token`, mode
  0600, so only the logger's user can read it) or, when one is set, the password.
  Our clients put it in the `rtoc` object (`{"rtoc": {"op", "id", "args", "auth"}}`), any
  client may put it at the top level of an RTOC request (`{"logger": {...}, "auth": "..."}`);
  it is never echoed back.

Wrong passwords and wrong tokens put the peer's address into an exponential back-off: while it
lasts, authentication attempts from that address are refused without being tried, so guessing
runs at a few attempts a minute instead of thousands a second. The log gets one line per peer
per minute with the number of failures, not a line per guess.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from .. import wire

log = logging.getLogger("rtoc.server")

FREE_FAILURES = 3  # wrong guesses a peer may make before the back-off starts (typos happen)
BACKOFF_BASE_S = 1.0  # first back-off; doubles with every further failure
BACKOFF_MAX_S = 60.0
LOG_EVERY_S = 60.0  # one log line per peer in this time, with the count of failures
MAX_PEERS = 10_000  # remembered peers; the oldest quiet ones are forgotten beyond this

HOW_TO = (
    "authenticate: on this machine rtoc's own clients read the token in the user folder "
    "(auth_token) by themselves; other clients send it, or tcp.password, as 'auth', or send "
    "encrypted frames with tcp.password"
)


def needs_privilege(msg: dict[str, Any], store: Any) -> str | None:
    """The privileged part of an RTOC request (a short name for the error text), or None.

    `rtoc` ops are checked by ops.py (OPS[...].privileged); this covers RTOC's own keys."""
    lg = msg.get("logger")
    if isinstance(lg, dict):
        for call in ("clear", "resize", "export"):
            if call in lg:
                return f"logger {call}"
    plugin = msg.get("plugin")
    if isinstance(plugin, dict):
        for name, actions in plugin.items():
            if not isinstance(actions, dict):
                continue
            for call, value in actions.items():
                if call == "get" or value == "get":
                    continue  # reading a parameter (secrets are masked there)
                return f"plugin {name}.{call}"
    if msg.get("plot") and msg.get("hold", "off") == "off" and "y" in msg:
        sname = msg.get("sname")
        if isinstance(sname, list) and len(sname) == 1:
            sname = sname[0]
        dname = msg.get("dname")
        if not isinstance(dname, str) or not dname:
            dname = "noDevice"
        buf = store.get((dname, sname)) if isinstance(sname, str) else None
        if buf is not None and buf.appended > 0:  # recorded history, not a previous plot
            return f"plot replacing the recorded samples of {dname}.{sname}"
    return None


def auth_value(msg: dict[str, Any]) -> Any:
    """The `auth` a request carries (top level, or in its `rtoc` object), or None."""
    value = msg.get("auth")
    if value is None:
        ext = msg.get("rtoc")
        if type(ext) is dict:
            value = ext.get("auth")
    return value


@dataclass(slots=True)
class _Peer:
    failures: int = 0
    blocked_until: float = 0.0
    logged_at: float = 0.0
    unlogged: int = 0  # failures since the last log line
    last: float = 0.0


class Authority:
    """The credentials of one server and the back-off state of its peers (thread-safe: the
    accept thread and the loop both ask)."""

    def __init__(self, token: str | None, password: str | None) -> None:
        self._secrets = [s.encode("utf-8") for s in (token, password) if s]
        self._peers: dict[str, _Peer] = {}
        self._lock = threading.Lock()
        self.failures = 0  # total, for status and tests

    def check(self, value: Any) -> bool:
        """True if value is the token or the password (constant-time comparisons)."""
        if not isinstance(value, str) or not value:
            return False
        given = value.encode("utf-8")
        ok = False
        for secret in self._secrets:
            ok |= hmac.compare_digest(given, secret)
        return ok

    # -- back-off -------------------------------------------------------------------------------
    def blocked(self, host: str) -> float:
        """Seconds this peer must still wait before its next authentication attempt (0: none)."""
        peer = self._peers.get(host)
        if peer is None or not peer.blocked_until:
            return 0.0
        return max(0.0, peer.blocked_until - time.monotonic())

    def failed(self, host: str, what: str) -> None:
        """Count a wrong password or token from host; log at most once a minute per peer."""
        now = time.monotonic()
        with self._lock:
            self.failures += 1
            peer = self._peers.get(host)
            if peer is None:
                if len(self._peers) >= MAX_PEERS:
                    self._forget(now)
                peer = self._peers[host] = _Peer()
            peer.failures += 1
            peer.unlogged += 1
            peer.last = now
            over = peer.failures - FREE_FAILURES
            if over > 0:
                peer.blocked_until = now + min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (over - 1))
            if now - peer.logged_at < LOG_EVERY_S and peer.logged_at:
                return
            count, peer.unlogged, peer.logged_at = peer.unlogged, 0, now
            wait = max(0.0, peer.blocked_until - now)
        log.warning(
            "client %s: %s (%d failure%s since the last report%s)",
            host,
            what,
            count,
            "" if count == 1 else "s",
            f"; authentication refused for {wait:.0f} s" if wait else "",
        )

    def succeeded(self, host: str) -> None:
        """A correct password or token: the peer's failures are forgiven."""
        if host in self._peers:
            with self._lock:
                self._peers.pop(host, None)

    def _forget(self, now: float) -> None:
        """Drop the peers quiet the longest (their back-off has long expired)."""
        quiet = sorted(self._peers.items(), key=lambda kv: kv[1].last)
        for host, _peer in quiet[: len(quiet) // 2]:
            del self._peers[host]


def host_of(peer: Any) -> str:
    """The address part of a peer ("host:port" text or an address tuple)."""
    if isinstance(peer, tuple):
        return str(peer[0])
    text = str(peer)
    return text.rsplit(":", 1)[0] if ":" in text else text


# -- a stronger key for our own clients -----------------------------------------------------------
KDF_ITERATIONS = 200_000  # PBKDF2-HMAC-SHA256: ~0.1-0.5 s once per start and per client connect


@dataclass(frozen=True, slots=True)
class StrongKey:
    """The AES key our clients may use instead of RTOC's SHA-256(password): PBKDF2 with a
    salt that is new with every server start. Offline guessing of a captured frame then costs
    KDF_ITERATIONS hashes per guess instead of one; RTOC clients keep the SHA-256 key."""

    salt: bytes
    iterations: int
    key: bytes

    @classmethod
    def make(cls, password: str) -> StrongKey:
        salt = secrets.token_bytes(16)
        return cls(salt, KDF_ITERATIONS, derive_strong_key(password, salt, KDF_ITERATIONS))

    def offer(self, req_id: Any) -> bytes:
        """The plain reply to a `kdf` request (the salt is no secret)."""
        result = {"alg": "pbkdf2-sha256", "salt": self.salt.hex(), "iterations": self.iterations}
        return wire.dumps({"error": False, "rtoc": {"id": req_id, "ok": True, "result": result}})


def derive_strong_key(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)


def kdf_request_id(payload: bytes) -> tuple[bool, Any]:
    """(True, id) if a plain payload is our `{"rtoc": {"op": "kdf"}}` request."""
    if len(payload) > 200 or b'"kdf"' not in payload:
        return False, None
    try:
        msg = wire.loads(payload)
    except wire.ProtocolError:
        return False, None
    ext = msg.get("rtoc") if isinstance(msg, dict) else None
    if isinstance(ext, dict) and ext.get("op") == "kdf" and len(msg) == 1:
        return True, ext.get("id")
    return False, None
