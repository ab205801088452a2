"""Replay and reflection protection for encrypted frames that survives a restart.

RTOC's encryption (AES-EAX, key = SHA-256 of the password, fresh nonce per frame, no
direction, no sequence) cannot tell a replayed or reflected frame from a new one by itself:
- replays: the nonces of accepted frames are remembered (wire.ReplayGuard) and appended to
  `replay_nonces` in the user folder, so a frame captured before a restart is still refused
  after it (what a crash loses is at most the last sweep interval, about a second);
- reflection: every reply the server sends has the key `error` and no request needs it, so an
  encrypted request with `error` is refused: a reply sent back never parses as a request;
- our clients (`rtoc` key) also bind each encrypted request to the server's `instance` from
  `hello`, which changes with every start.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ..wire import ReplayGuard

log = logging.getLogger("rtoc.server")

OPEN_OPS = frozenset({"hello", "ping"})  # ops a client sends before it knows the instance


def refusal(msg: dict[str, Any], instance: str) -> str | None:
    """Why an encrypted request must be refused (reflected reply, other server run), or None."""
    if "error" in msg:
        return "a reply sent back as a request (reflection) is rejected"
    ext = msg.get("rtoc")
    if type(ext) is dict and ext.get("op") not in OPEN_OPS and ext.get("instance") != instance:
        return (
            "encrypted rtoc requests must carry this server run's instance (from hello): "
            "replayed from another run, or an old client; reconnect"
        )
    return None


class PersistentReplayGuard(ReplayGuard):
    """ReplayGuard whose memory is appended to a file and read back on start."""

    __slots__ = ("_fresh", "path")

    def __init__(self, path: Path | None, capacity: int = 100_000) -> None:
        super().__init__(capacity)
        self.path = path
        self._fresh: list[bytes] = []
        if path is not None:
            self._load(path)

    def check_and_add(self, nonce: bytes) -> bool:
        if not super().check_and_add(nonce):
            return False
        if self.path is not None:
            self._fresh.append(nonce)
        return True

    def _load(self, path: Path) -> None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("cannot read %s (%s): replay memory starts empty", path, exc)
            return
        nonces = []
        pos = 0
        while pos < len(data):
            n = data[pos]
            chunk = data[pos + 1 : pos + 1 + n]
            if len(chunk) < n:  # a torn last record (crash while appending)
                break
            nonces.append(chunk)
            pos += 1 + n
        for nonce in nonces[-self.capacity :]:
            super().check_and_add(nonce)
        self._rewrite(nonces[-self.capacity :])

    def _rewrite(self, nonces: list[bytes]) -> None:
        """Compact the file to what is remembered (at start: it only ever grows otherwise)."""
        assert self.path is not None
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(b"".join(bytes((len(n),)) + n for n in nonces))
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.path, exc)

    def flush(self) -> None:
        """Append the nonces accepted since the last flush (the server's sweeper calls this)."""
        fresh, self._fresh = self._fresh, []
        if not fresh or self.path is None:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "ab") as f:
                f.write(b"".join(bytes((len(n),)) + n for n in fresh))
        except OSError as exc:
            log.warning("cannot append to %s: %s", self.path, exc)
