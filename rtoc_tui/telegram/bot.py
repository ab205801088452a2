"""The Telegram bot: python-telegram-bot (async) on the logger's loop, talking to a LoggerClient.

Incoming updates are long-polled from `telegram.base_url` (Telegram's own server, or a
self-hosted Bot API server). Every update goes through `_handle`: the user is looked up (the
first user ever becomes admin, later ones get `telegram.default_permission`), a blocked user
gets nothing but "not permitted", and the action behind a button is checked against the user's
role when it runs. Event notifications are read from the logger with `events_since` and sent
through the `Notifier` (rate-limited, collapsed, queued across outages).

The token is a secret: it never appears in a reply, and while the bot runs every log record that
would contain it has it replaced by `***` (python-telegram-bot and httpx put it in URLs).
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, ApplicationBuilder, TypeHandler

from ..api import ClientError, EventInfo, LoggerClient
from ..config.schema import TelegramSection
from . import actions as custom
from .menus import ACTIONS, PROMPTS, Chat, ChatState, Menus
from .notify import Notifier, Outgoing, PermanentSendError, TransientSendError
from .plots import Mark, Series, render_plot, warm_up
from .screens import Button, Prompt, Screen, Tokens, unique_labels
from .users import CLIENTS_FILE, UsersError, UserStore, role_rank

log = logging.getLogger("rtoc.telegram")

NOT_PERMITTED = "not permitted"
EXPIRED = "This button is no longer valid. Send /start for a fresh menu."
EVENT_POLL_S = 0.25
POLL_TIMEOUT_S = 10
START_RETRY_MAX_S = 60.0
PRIORITY_ICONS = ("ℹ️", "⚠️", "❗")


class TokenRedactor:
    """Replaces the bot token in every log record while installed (a LogRecord factory)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self._previous: Callable[..., logging.LogRecord] | None = None

    def install(self) -> None:
        if not self.token or self._previous is not None:
            return
        previous = logging.getLogRecordFactory()
        self._previous = previous
        token = self.token

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a broken format string is logging's problem, not ours
                return record
            if token in message:
                record.msg, record.args = message.replace(token, "***"), None
            if record.exc_info and record.exc_info[1] is not None:
                text = logging.Formatter().formatException(record.exc_info)
                if token in text:
                    record.exc_text = text.replace(token, "***")
                    record.exc_info = None
            return record

        logging.setLogRecordFactory(factory)

    def uninstall(self) -> None:
        if self._previous is not None:
            logging.setLogRecordFactory(self._previous)
            self._previous = None


def api_root(base_url: str) -> str:
    return base_url.rstrip("/")


class TelegramBot:
    """The bot of one logger: menus, roles, notifications and custom actions."""

    name = "telegram"

    def __init__(
        self,
        client: LoggerClient,
        settings: TelegramSection,
        home_dir: Path,
        *,
        event_poll_s: float = EVENT_POLL_S,
        notify_interval_s: float = 1.0,
        max_pending: int = 1000,
    ) -> None:
        self.client = client
        self.settings = settings
        self.home_dir = Path(home_dir)
        self.users = UserStore(self.home_dir / CLIENTS_FILE)
        self.actions_file = self.home_dir / custom.ACTIONS_FILE
        self.menus = Menus(self)
        self.notifier = Notifier(
            self._send_notification, min_interval_s=notify_interval_s, max_pending=max_pending
        )
        self.event_poll_s = event_poll_s
        self._chats: dict[int, ChatState] = {}
        self._tokens: dict[int, Tokens] = {}
        self._keyboards: dict[int, dict[str, str]] = {}  # keyboard mode: label -> token
        self._locks: dict[int, asyncio.Lock] = {}
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redactor = TokenRedactor(settings.token)
        self._event_cursor = 0
        self._actions_cache: tuple[float, dict[str, str]] = (-1.0, {})
        self.username = ""
        self.connected = False
        self.stopped = True
        self.last_error = ""

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start polling and notifying in the background; never fails the logger's start."""
        if not self.settings.token:
            raise ValueError(
                "telegram.token is empty; get one from @BotFather (see docs/telegram.md)"
            )
        self._redactor.install()
        self._loop = asyncio.get_running_loop()
        self.stopped = False
        root = api_root(self.settings.base_url)
        self._app = (
            ApplicationBuilder()
            .token(self.settings.token)
            .base_url(f"{root}/bot")
            .base_file_url(f"{root}/file/bot")
            .concurrent_updates(True)
            .get_updates_read_timeout(POLL_TIMEOUT_S + 10)
            # the cancelled long poll may still hold its connection when stop() confirms the
            # last offset; a second one avoids a PoolTimeout error at every shutdown
            .get_updates_connection_pool_size(2)
            .build()
        )
        self._app.add_handler(TypeHandler(Update, self._on_update))
        self._app.add_error_handler(self._on_error)
        events = await self.client.events_since(0)
        self._event_cursor = events[-1].seq if events else 0
        self._tasks = [
            asyncio.create_task(self._connect(), name="telegram-connect"),
            asyncio.create_task(asyncio.to_thread(warm_up), name="telegram-plot-warm-up"),
            asyncio.create_task(self.notifier.run(), name="telegram-notify"),
            asyncio.create_task(self._watch_events(), name="telegram-events"),
        ]

    async def stop(self) -> None:
        self.stopped = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks = []
        app = self._app
        if app is not None:
            try:
                if app.updater is not None and app.updater.running:
                    await app.updater.stop()
                if app.running:
                    await app.stop()
                await app.shutdown()
            except Exception as exc:  # the server may be gone; we are stopping anyway
                log.debug("telegram shutdown: %s", exc)
        self._app = None
        self.connected = False
        self._redactor.uninstall()

    async def _connect(self) -> None:
        """getMe, then long polling; retried with back-off while the Bot API is unreachable."""
        app = self._app
        assert app is not None
        delay = 1.0
        while True:
            try:
                await app.initialize()
                break
            except InvalidToken:
                self.last_error = "the Bot API rejected the token (telegram.token)"
                log.error(
                    "Telegram bot not started: %s; check it with 'rtoc config'", self.last_error
                )
                return
            except TelegramError as exc:
                self.last_error = str(exc)
                log.warning(
                    "cannot reach the Telegram Bot API (%s); retrying in %.0f s", exc, delay
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, START_RETRY_MAX_S)
        self.username = app.bot.username or ""
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0.0,
            timeout=POLL_TIMEOUT_S,
            bootstrap_retries=-1,
            allowed_updates=["message", "callback_query"],
            error_callback=self._poll_error,
        )
        await app.start()
        self.connected = True
        log.info("Telegram bot @%s is running", self.username)

    def _poll_error(self, exc: TelegramError) -> None:
        self.last_error = str(exc)
        if self.connected:
            log.warning("Telegram polling failed (%s); retrying", exc)
        self.connected = False

    async def _on_error(self, update: object, context: Any) -> None:
        log.error("Telegram update failed: %s", context.error)

    def state(self) -> dict[str, Any]:
        """The bot's state for the settings menus, `rtoc config` and the TUI."""
        st = self.notifier.stats
        return {
            "running": not self.stopped,
            "connected": self.connected,
            "username": self.username,
            "users": [
                {
                    "chat_id": u.chat_id,
                    "name": u.name,
                    "permission": u.permission,
                    "eventlevel": u.eventlevel,
                }
                for u in self.users.all()
            ],
            "messages_sent": st.messages_sent,
            "lines_dropped": st.lines_dropped + st.files_dropped,
            "outage": st.outage,
            "pending": self.notifier.pending(),
            "last_error": self.last_error,
        }

    # -- custom actions ----------------------------------------------------------------------------
    def custom_actions(self) -> dict[str, str]:
        """telegramActions.json, re-read when it changed (a broken file is logged once)."""
        try:
            mtime = self.actions_file.stat().st_mtime
        except OSError:
            return {}
        cached_mtime, cached = self._actions_cache
        if mtime == cached_mtime:
            return cached
        try:
            loaded = custom.load_actions(self.actions_file)
        except custom.ActionError as exc:
            log.error("%s; no custom actions until it is fixed", exc)
            loaded = {}
        self._actions_cache = (mtime, loaded)
        return loaded

    # -- incoming ----------------------------------------------------------------------------------
    async def _on_update(self, update: Update, context: Any) -> None:
        try:
            await self._handle(update)
        except TelegramError as exc:
            log.warning("cannot answer a Telegram update: %s", exc)

    async def _handle(self, update: Update) -> None:
        query = update.callback_query
        message = update.message
        tg_user = update.effective_user
        tg_chat = update.effective_chat
        if tg_user is None or tg_chat is None:
            return
        chat_id = tg_chat.id
        self.notifier.unmute(chat_id)
        if tg_chat.type != "private" or tg_user.id != chat_id:
            # a bot in a group would give every member the rights of whoever set it up
            if query is not None:
                await query.answer(NOT_PERMITTED)
            elif message is not None:
                await message.reply_text(NOT_PERMITTED)
            return
        user, created = await asyncio.to_thread(
            self.users.register,
            chat_id,
            tg_user.first_name or "",
            tg_user.last_name or "",
            self.settings.default_permission,
            self.settings.default_eventlevel,
        )
        if created:
            log.info("new Telegram user %s (%s): %s", user.name, chat_id, user.permission)
            self._tell_admins(
                f"New Telegram user {user.name} (chat {chat_id}) with permission "
                f"{user.permission}. Change it in Settings → Telegram bot.",
                exclude=chat_id,
            )
        if not self._allowed(user.permission):
            if query is not None:
                await query.answer(NOT_PERMITTED)
            else:
                await self.send_text(chat_id, NOT_PERMITTED)
            return
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        async with lock:
            chat = Chat(chat_id, user, self._chats.setdefault(chat_id, ChatState()))
            if query is not None:
                await self._on_callback(chat, query.data or "", query)
            elif message is not None:
                await self._on_text(chat, message.text or "")

    def _allowed(self, permission: str) -> bool:
        rank = role_rank(permission)
        if rank == 0:
            return False
        return not (self.settings.onlyAdmin and permission != "admin")

    async def _on_callback(self, chat: Chat, data: str, query: Any) -> None:
        entry = self._tokens.get(chat.id, Tokens()).get(data)
        if entry is None:
            log.warning("Telegram: unknown button data from chat %s refused", chat.id)
            await query.answer(EXPIRED, show_alert=True)
            return
        await query.answer()
        msg = query.message
        await self._run(chat, entry[0], entry[1], edit_id=getattr(msg, "message_id", None))

    async def _on_text(self, chat: Chat, text: str) -> None:
        if text.startswith("/"):
            chat.state.prompt = None
            command = text.split()[0].split("@")[0].lower()
            if command == "/help":
                await self.send_text(chat.id, HELP)
            await self._run(chat, "main", ())
            return
        token = self._keyboards.get(chat.id, {}).get(text)
        if token is not None and not self.settings.inlineMenu:
            entry = self._tokens.get(chat.id, Tokens()).get(token)
            if entry is not None:
                chat.state.prompt = None
                await self._run(chat, entry[0], entry[1])
                return
        pending = chat.state.prompt
        if pending is not None:
            chat.state.prompt = None
            await self._run(chat, pending.action, pending.args, typed=text)
            return
        await self._run(chat, "main", ())

    async def _run(
        self,
        chat: Chat,
        name: str,
        args: tuple[Any, ...],
        *,
        typed: str | None = None,
        edit_id: int | None = None,
    ) -> None:
        """Run a menu action or a typed answer after checking the user's role, show the result."""
        table = ACTIONS if typed is None else PROMPTS
        spec = table.get(name)
        if spec is None:
            await self.send_text(chat.id, EXPIRED)
            return
        need, fn = spec
        if name == "ask" and args and args[0] in PROMPTS:
            need = max(need, PROMPTS[args[0]][0])
        fresh = self.users.get(chat.id)
        if fresh is None or not self._allowed(fresh.permission) or fresh.rank < need:
            log.warning("Telegram: %s (%s) may not run %s", chat.user.name, chat.id, name)
            await self.send_text(chat.id, NOT_PERMITTED)
            return
        chat.user = fresh
        try:
            if typed is None:
                screen = await fn(self.menus, chat, *args)
            else:
                screen = await fn(self.menus, chat, typed, *args)
        except PermissionError:
            await self.send_text(chat.id, NOT_PERMITTED)
            return
        except (ClientError, UsersError, custom.ActionError, ValueError, OSError) as exc:
            if typed is not None:  # a typed answer was refused: the next message is the retry
                chat.state.prompt = Prompt(name, args)
                await self.send_text(chat.id, f"⚠ {exc}\nSend it again, or /start to cancel.")
            else:
                await self.send_text(chat.id, f"⚠ {exc}")
            return
        if screen is not None:
            await self.show(chat.id, screen, edit_id=edit_id)

    # -- outgoing ----------------------------------------------------------------------------------
    @property
    def bot(self) -> Any:
        if self._app is None:
            raise RuntimeError("the Telegram bot is not running")
        return self._app.bot

    async def show(self, chat_id: int, screen: Screen, *, edit_id: int | None = None) -> None:
        """Draw a menu: inline buttons (editing the message clicked) or a reply keyboard."""
        tokens = self._tokens.setdefault(chat_id, Tokens())
        screen = unique_labels(screen)
        text = screen.text[:4096] or "…"
        if self.settings.inlineMenu:
            markup: Any = InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton(b.label, callback_data=tokens.issue(b)) for b in row]
                    for row in screen.rows
                ]
            )
            if edit_id is not None:
                try:
                    await self.bot.edit_message_text(
                        text, chat_id=chat_id, message_id=edit_id, reply_markup=markup
                    )
                    return
                except BadRequest as exc:  # "message is not modified" or too old: send anew
                    log.debug("edit failed, sending a new menu: %s", exc)
            await self.bot.send_message(chat_id, text, reply_markup=markup)
            return
        keyboard: dict[str, str] = {}
        rows = []
        for row in screen.rows:
            rows.append([b.label for b in row])
            for b in row:
                keyboard[b.label] = tokens.issue(b)
        self._keyboards[chat_id] = keyboard
        await self.bot.send_message(
            chat_id, text, reply_markup=ReplyKeyboardMarkup(rows, resize_keyboard=True)
        )

    async def send_text(self, chat_id: int, text: str) -> None:
        await self.bot.send_message(chat_id, text[:4096])

    async def send_photo(self, chat_id: int, data: bytes, caption: str = "") -> None:
        await self.bot.send_photo(chat_id, data, caption=caption[:1024])

    async def send_document(
        self, chat_id: int, data: bytes, filename: str, caption: str = ""
    ) -> None:
        await self.bot.send_document(chat_id, data, filename=filename, caption=caption[:1024])

    async def _send_notification(self, chat_id: int, item: Outgoing) -> None:
        """The notifier's sender: maps python-telegram-bot's errors to transient/permanent."""
        if self._app is None or not self._app.bot:
            raise TransientSendError("the bot is not connected yet")
        try:
            if item.kind == "photo":
                await self.send_photo(chat_id, item.data, item.text)
            elif item.kind == "document":
                await self.send_document(chat_id, item.data, item.filename, item.text)
            else:
                await self.send_text(chat_id, item.text)
        except RetryAfter as exc:
            with warnings.catch_warnings():  # PTB 22.2+ warns that it becomes a timedelta
                warnings.simplefilter("ignore")
                after = exc.retry_after
            seconds = after.total_seconds() if hasattr(after, "total_seconds") else float(after)
            raise TransientSendError(str(exc), seconds) from exc
        except (Forbidden, BadRequest, InvalidToken) as exc:
            raise PermanentSendError(str(exc)) from exc
        except (NetworkError, TelegramError, RuntimeError) as exc:
            raise TransientSendError(str(exc)) from exc

    # -- notifications -----------------------------------------------------------------------------
    async def _watch_events(self) -> None:
        while True:
            await asyncio.sleep(self.event_poll_s)
            try:
                events = await self.client.events_since(self._event_cursor)
            except ClientError as exc:
                log.debug("cannot read events: %s", exc)
                continue
            if events:
                self._event_cursor = events[-1].seq
                self.notify_events(events)

    def notify_events(self, events: list[EventInfo]) -> None:
        """Queue event lines for every user whose event level they meet."""
        users = [u for u in self.users.all() if self._allowed(u.permission)]
        if not users:
            return
        for e in events:
            if e.id == "scriptError" and e.sname.startswith(custom.SCRIPT_PREFIX):
                continue  # the user who ran the action got the error as the reply already
            line = format_event(e)
            for u in users:
                if e.priority >= u.eventlevel:
                    self.notifier.add_line(u.chat_id, line)

    def _tell_admins(self, text: str, exclude: int | None = None) -> None:
        for u in self.users.all():
            if u.permission == "admin" and u.chat_id != exclude:
                self.notifier.add_file(u.chat_id, Outgoing("text", text))

    # -- plugins' telegram_send_message/photo/document (any thread) --------------------------------
    def plugin_send(self, kind: str, payload: Any, only_admin: bool, source: str) -> None:
        """Queue a plugin's message ("text"), file ("photo"/"document" path) or "plot".

        Called from any thread. Files are read and plots rendered in a worker thread, never on
        the logger's loop and never in the plugin's own thread (its timer keeps its rate).
        """
        loop = self._loop
        if loop is None or self.stopped:
            log.warning("Telegram bot is not running; %s from %s dropped", kind, source)
            return
        if kind == "text":
            item = Outgoing("text", f"{source}: {payload}" if source else str(payload))
            loop.call_soon_threadsafe(self._queue_plugin_item, item, only_admin)
            return

        def work() -> None:
            try:
                if kind == "plot":
                    item = Outgoing(
                        "photo", payload.get("text") or source, plugin_plot(payload), "plot.png"
                    )
                else:
                    data, filename = custom.read_result_file(str(payload))
                    item = Outgoing(kind, source, data, filename)
            except (custom.ActionError, ValueError, TypeError) as exc:
                log.error("%s: telegram_send_%s: %s", source, kind, exc)
                return
            loop.call_soon_threadsafe(self._queue_plugin_item, item, only_admin)

        loop.call_soon_threadsafe(loop.run_in_executor, None, work)

    def _queue_plugin_item(self, item: Outgoing, only_admin: bool) -> None:
        need = 3 if only_admin else 1
        for u in self.users.all():
            if self._allowed(u.permission) and u.rank >= need:
                self.notifier.add_file(u.chat_id, item)


def plugin_plot(payload: dict[str, Any]) -> bytes:
    """Render RTOC's telegram_send_plot payload: {signals: {name: [x, y]}, title, events}."""
    series = []
    for name, xy in dict(payload.get("signals") or {}).items():
        x, y = np.asarray(xy[0], dtype=float), np.asarray(xy[1], dtype=float)
        if x.shape != y.shape:
            raise ValueError(f"signal {name!r}: x and y differ in length")
        series.append(Series(str(name), "", x, y))
    marks = []
    for ev in payload.get("events") or []:
        if isinstance(ev, (list, tuple)) and len(ev) >= 2:
            marks.append(Mark(float(ev[0]), str(ev[1])))
    return render_plot(series, marks, str(payload.get("title") or ""))


def format_event(e: EventInfo) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(e.x)) if e.x > 1e8 else f"{e.x:g}"
    where = ".".join(p for p in (e.dname, e.sname) if p)
    icon = PRIORITY_ICONS[max(0, min(2, e.priority))]
    return f"{icon} {when} {where}: {e.text}" if where else f"{icon} {when} {e.text}"


HELP = (
    "This bot controls an RTOC logger. Use the menu buttons; /start shows the main menu.\n"
    "What you can do depends on your role: read (values, plots, notifications), write (devices, "
    "events, automation), admin (settings, users, deleting data)."
)

__all__ = ["Button", "HELP", "TelegramBot", "TokenRedactor", "format_event"]
