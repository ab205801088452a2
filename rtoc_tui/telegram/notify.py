"""Outgoing notifications: one bounded queue per chat, bursts collapsed, outages survived.

Telegram allows about one message a second per chat (and 30 a second per bot). Events can come
by the thousand, so a chat never gets more than one message per `min_interval_s`: every event
line that arrived in between goes into that one message (the first lines, then "... and N more").
While the Bot API is unreachable nothing is lost up to `max_pending` lines per chat; beyond that
the oldest lines are dropped, counted, and the count is reported in the next message and the log.
Files (plugins' photos and documents) queue beside the text, bounded by `max_files`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger("rtoc.telegram")

MAX_MESSAGE_CHARS = 4000  # Telegram's limit is 4096; leave room for the summary lines
MAX_LINES_PER_MESSAGE = 40
RETRY_MIN_S = 1.0
RETRY_MAX_S = 30.0


class TransientSendError(Exception):
    """Sending failed for a reason that passes (network, server error, rate limit)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentSendError(Exception):
    """Sending to this chat cannot work (the user blocked the bot, the chat is gone)."""


@dataclass(frozen=True)
class Outgoing:
    """One message for one chat: text, or a photo/document with a caption."""

    kind: str  # text | photo | document
    text: str = ""
    data: bytes = b""
    filename: str = ""


Sender = Callable[[int, Outgoing], Awaitable[None]]


@dataclass
class _ChatQueue:
    lines: deque[str] = field(default_factory=deque)
    files: deque[Outgoing] = field(default_factory=deque)
    dropped: int = 0  # lines dropped since the last report
    next_at: float = 0.0  # monotonic time this chat may get its next message


@dataclass
class NotifierStats:
    """Counters for the bot's state page and the logs."""

    messages_sent: int = 0
    lines_sent: int = 0
    lines_dropped: int = 0
    files_dropped: int = 0
    send_errors: int = 0
    outage: bool = False
    last_error: str = ""


class Notifier:
    """Queues notifications per chat and sends them rate-limited, collapsed and retried."""

    def __init__(
        self,
        send: Sender,
        *,
        min_interval_s: float = 1.0,
        max_pending: int = 1000,
        max_files: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self.min_interval_s = min_interval_s
        self.max_pending = max_pending
        self.max_files = max_files
        self._clock = clock
        self._queues: dict[int, _ChatQueue] = {}
        self._wake = asyncio.Event()
        self._retry_s = RETRY_MIN_S
        self._blocked_until = 0.0
        # chats that answered 403 (the user blocked the bot): nothing is queued for them until
        # they write again (`unmute`), instead of failing on every event
        self.muted: set[int] = set()
        self.stats = NotifierStats()

    # -- producers (loop thread only) ---------------------------------------------------------
    def add_line(self, chat_id: int, line: str) -> None:
        """Queue one notification line (an event) for a chat."""
        if chat_id in self.muted:
            return
        q = self._queues.setdefault(chat_id, _ChatQueue())
        q.lines.append(line)
        while len(q.lines) > self.max_pending:
            q.lines.popleft()
            q.dropped += 1
            self.stats.lines_dropped += 1
        self._wake.set()

    def add_file(self, chat_id: int, item: Outgoing) -> None:
        """Queue a photo, document or a text that must not be merged (plugin messages)."""
        if chat_id in self.muted:
            return
        q = self._queues.setdefault(chat_id, _ChatQueue())
        q.files.append(item)
        while len(q.files) > self.max_files:
            q.files.popleft()
            q.dropped += 1
            self.stats.files_dropped += 1
        self._wake.set()

    def pending(self, chat_id: int | None = None) -> int:
        """Lines and files waiting (for one chat, or all)."""
        queues = self._queues.values() if chat_id is None else [self._queues.get(chat_id)]
        return sum(len(q.lines) + len(q.files) for q in queues if q is not None)

    def forget(self, chat_id: int) -> None:
        self._queues.pop(chat_id, None)

    def unmute(self, chat_id: int) -> None:
        """The chat wrote to the bot: it can be reached again."""
        self.muted.discard(chat_id)

    # -- the sending task -----------------------------------------------------------------------
    async def run(self) -> None:
        """Send forever; cancel to stop."""
        while True:
            delay = await self.send_due()
            self._wake.clear()
            if delay is None:
                await self._wake.wait()
            else:
                try:
                    await asyncio.wait_for(self._wake.wait(), max(delay, 0.01))
                except TimeoutError:
                    pass

    async def send_due(self) -> float | None:
        """Send one message to every chat that is due; seconds until the next is due (or None)."""
        now = self._clock()
        if now < self._blocked_until:
            return self._blocked_until - now
        soonest: float | None = None
        for chat_id, q in list(self._queues.items()):
            if not q.lines and not q.files:
                continue
            if q.next_at > now:
                wait = q.next_at - now
                soonest = wait if soonest is None else min(soonest, wait)
                continue
            item, n_lines = self._next_item(q)
            try:
                await self._send(chat_id, item)
            except TransientSendError as exc:
                self._outage(exc)
                return self._blocked_until - self._clock()
            except PermanentSendError as exc:
                log.warning(
                    "notifications to chat %s dropped until it writes again: %s", chat_id, exc
                )
                self.stats.lines_dropped += len(q.lines)
                self._queues.pop(chat_id, None)
                self.muted.add(chat_id)
                continue
            self._delivered(q, item, n_lines)
            soonest = self.min_interval_s if soonest is None else min(soonest, self.min_interval_s)
        return soonest

    def _next_item(self, q: _ChatQueue) -> tuple[Outgoing, int]:
        """The message a chat gets next (without removing it yet) and how many lines it holds."""
        if q.files and not q.lines:
            item = q.files[0]
            if q.dropped:
                item = Outgoing(
                    item.kind, _with_drop_note(item.text, q.dropped), item.data, item.filename
                )
            return item, 0
        lines = list(q.lines)
        shown: list[str] = []
        size = 0
        for line in lines[:MAX_LINES_PER_MESSAGE]:
            if size + len(line) + 1 > MAX_MESSAGE_CHARS:
                break
            shown.append(line)
            size += len(line) + 1
        rest = len(lines) - len(shown)
        text = "\n".join(shown)
        if rest:
            text += f"\n... and {rest} more event{'s' if rest != 1 else ''}"
        if len(lines) > 1:
            text = f"{len(lines)} events:\n{text}"
        if q.dropped:
            text = _with_drop_note(text, q.dropped)
        return Outgoing("text", text), len(lines)

    def _delivered(self, q: _ChatQueue, item: Outgoing, n_lines: int) -> None:
        if n_lines:
            for _ in range(n_lines):
                q.lines.popleft()
        else:
            q.files.popleft()
        if q.dropped:
            log.warning("reported %d dropped Telegram notifications", q.dropped)
        q.dropped = 0
        q.next_at = self._clock() + self.min_interval_s
        self.stats.messages_sent += 1
        self.stats.lines_sent += n_lines
        if self.stats.outage:
            log.info("Telegram is reachable again; sending queued notifications")
        self.stats.outage = False
        self._retry_s = RETRY_MIN_S

    def _outage(self, exc: TransientSendError) -> None:
        self.stats.send_errors += 1
        self.stats.last_error = str(exc)
        wait = exc.retry_after_s if exc.retry_after_s is not None else self._retry_s
        if not self.stats.outage:
            log.warning(
                "cannot reach Telegram (%s); notifications are queued (at most %d per chat)",
                exc,
                self.max_pending,
            )
        self.stats.outage = True
        self._blocked_until = self._clock() + wait
        if exc.retry_after_s is None:
            self._retry_s = min(self._retry_s * 2, RETRY_MAX_S)


def _with_drop_note(text: str, dropped: int) -> str:
    note = (
        f"({dropped} older notification{'s were' if dropped != 1 else ' was'} dropped "
        "while Telegram was unreachable)"
    )
    return f"{text}\n{note}" if text else note
