"""A fake Telegram Bot API server on 127.0.0.1 for the bot's tests and benchmark.

It implements what the bot uses (getMe, getUpdates with long polling, deleteWebhook,
sendMessage, editMessageText, answerCallbackQuery, sendPhoto, sendDocument), records every
request, feeds updates from fake users (`FakeUser.say`, `FakeUser.press`), and can answer
errors (`fail_next`) or go away and come back (`go_away`, `come_back`) on the same port.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from helpers import wait_until

TOKEN = "123456789:AAB-BAABB66AA11_uGG22GH44AA55_3test"


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    result: Any = None
    at: float = field(default_factory=time.monotonic)

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return None if value is None else int(value)

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    def buttons(self) -> list[tuple[str, str | None]]:
        """(label, callback_data or None) of every button in the reply markup."""
        markup = self.params.get("reply_markup")
        if not markup:
            return []
        if isinstance(markup, str):
            markup = json.loads(markup)
        out = []
        for row in markup.get("inline_keyboard") or markup.get("keyboard") or []:
            for b in row:
                if isinstance(b, str):
                    out.append((b, None))
                else:
                    out.append((b["text"], b.get("callback_data")))
        return out

    def labels(self) -> list[str]:
        return [label for label, _ in self.buttons()]


class FakeBotApi:
    """The fake server. Use `await server.start()` / `await server.stop()`."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self._update_id = itertools.count(1)
        self._message_id = itertools.count(1000)
        self._new_update = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.failures: list[tuple[int, str, dict[str, Any] | None]] = []
        self.fail_methods: set[str] | None = None  # which methods fail_next applies to (None: all)
        self.fail_chats: set[int] | None = None  # which chats fail_next applies to (None: all)
        self.poll_timeout_cap_s = 30.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("POST", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        if not self.port:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_in_thread(self) -> None:
        """Serve from a loop of its own (benchmarks: the bot's loop then carries only the bot)."""
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-bot-api", daemon=True)
        self._thread.start()
        ready.wait(10)

    def stop_thread(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            await self.stop()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in others:
                t.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

    async def go_away(self) -> None:
        """Close the listener: the bot gets connection errors until `come_back`.

        The port stays bound (without listening), so a test in another xdist worker cannot
        get it for its own fake server meanwhile: the bot would "reconnect" to that one."""
        await self.stop()
        hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # its own TIME_WAITs
        hold.bind(("127.0.0.1", self.port))
        self._held = hold

    async def come_back(self) -> None:
        held = getattr(self, "_held", None)
        if held is not None:
            held.close()
            self._held = None
        await self.start()

    def fail_next(
        self, n: int, code: int = 500, description: str = "Internal Server Error", **params: Any
    ) -> None:
        """Answer the next n requests (of fail_methods, if set) with an error."""
        for _ in range(n):
            self.failures.append((code, description, params or None))

    # -- users -------------------------------------------------------------------------------------
    def user(self, user_id: int, first_name: str = "User", last_name: str = "") -> FakeUser:
        return FakeUser(self, user_id, first_name, last_name)

    def push_update(self, update: dict[str, Any]) -> None:
        loop = self._loop
        if (
            loop is not None
            and self._thread is not None
            and threading.current_thread() is not self._thread
        ):
            loop.call_soon_threadsafe(self.push_update, update)  # served from its own thread
            return
        update["update_id"] = next(self._update_id)
        self.updates.append(update)
        self._new_update.set()

    def new_message_id(self) -> int:
        return next(self._message_id)

    # -- queries for the tests ---------------------------------------------------------------------
    def sent(self, chat_id: int | None = None, method: str | None = None) -> list[Call]:
        """Requests the bot made (answered with an error only if `method` names them)."""
        return [
            c
            for c in self.calls
            if (chat_id is None or c.chat_id == chat_id)
            and (c.method == method if method else not c.method.endswith(":failed"))
        ]

    def menus(self, chat_id: int) -> list[Call]:
        """Messages (and edits) to a chat that carry buttons, oldest first."""
        return [
            c
            for c in self.sent(chat_id)
            if c.method in ("sendMessage", "editMessageText") and c.params.get("reply_markup")
        ]

    async def wait_for(self, cond: Any, timeout: float = 20.0, what: str = "a request") -> Any:
        """The tests' wait_until, with the timeout these tests use (the bot answers in ms)."""
        return await wait_until(cond, timeout, what)

    # -- the API -----------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        params, files = await _read_params(request)
        chat = params.get("chat_id")
        if (
            self.failures
            and (self.fail_methods is None or method in self.fail_methods)
            and (self.fail_chats is None or (chat is not None and int(chat) in self.fail_chats))
        ):
            code, description, extra = self.failures.pop(0)
            self.calls.append(Call(method + ":failed", params, files))
            body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
            if extra:
                body["parameters"] = extra
            return web.json_response(body, status=code)
        call = Call(method, params, files)
        if method != "getUpdates":
            self.calls.append(call)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
                status=404,
            )
        result = await handler(params)
        call.result = result
        return web.json_response({"ok": True, "result": result})

    async def _api_getMe(self, params: dict[str, Any]) -> Any:
        return {
            "id": int(self.token.split(":")[0]),
            "is_bot": True,
            "first_name": "RTOC test bot",
            "username": "rtoc_test_bot",
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_setMyCommands(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = min(float(params.get("timeout") or 0), self.poll_timeout_cap_s)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while not self.updates:
            self._new_update.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            try:
                await asyncio.wait_for(self._new_update.wait(), left)
            except TimeoutError:
                return []
        limit = int(params.get("limit") or 100)
        return self.updates[:limit]

    def _message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        msg = {
            "message_id": self.new_message_id(),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": int(self.token.split(":")[0]), "is_bot": True, "first_name": "bot"},
        }
        msg.update(extra)
        return msg

    async def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        return self._message(params, text=str(params.get("text", "")))

    async def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        msg = self._message(params, text=str(params.get("text", "")))
        msg["message_id"] = int(params.get("message_id") or msg["message_id"])
        return msg

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_sendPhoto(self, params: dict[str, Any]) -> Any:
        return self._message(
            params,
            photo=[{"file_id": "p1", "file_unique_id": "p1", "width": 100, "height": 100}],
            caption=str(params.get("caption", "")),
        )

    async def _api_sendDocument(self, params: dict[str, Any]) -> Any:
        return self._message(
            params,
            document={"file_id": "d1", "file_unique_id": "d1"},
            caption=str(params.get("caption", "")),
        )


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
    """python-telegram-bot sends form fields (JSON-encoded values) or multipart with files."""
    params: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    ctype = request.content_type
    if ctype == "application/json":
        params = await request.json()
    elif ctype.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if part.filename:  # type: ignore[union-attr]
                files[part.name or ""] = await part.read()  # type: ignore[union-attr]
            else:
                params[part.name or ""] = await part.text()  # type: ignore[union-attr]
    else:
        form = await request.post()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
    for key in ("reply_markup",):
        if isinstance(params.get(key), str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                pass
    return params, files


@dataclass
class FakeUser:
    """A Telegram user talking to the bot in a private chat."""

    api: FakeBotApi
    id: int
    first_name: str = "User"
    last_name: str = ""

    def _from(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "last_name": self.last_name,
        }

    def _chat(self) -> dict[str, Any]:
        return {"id": self.id, "type": "private", "first_name": self.first_name}

    def say(self, text: str) -> None:
        """Send a text message (a command, a keyboard label or a typed answer)."""
        self.api.push_update(
            {
                "message": {
                    "message_id": self.api.new_message_id(),
                    "date": int(time.time()),
                    "chat": self._chat(),
                    "from": self._from(),
                    "text": text,
                    **(
                        {
                            "entities": [
                                {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
                            ]
                        }
                        if text.startswith("/")
                        else {}
                    ),
                }
            }
        )

    def click(self, data: str, message_id: int = 1) -> None:
        """Send callback data as if an inline button carrying it was pressed."""
        self.api.push_update(
            {
                "callback_query": {
                    "id": str(self.api.new_message_id()),
                    "from": self._from(),
                    "chat_instance": str(self.id),
                    "data": data,
                    "message": {
                        "message_id": message_id,
                        "date": int(time.time()),
                        "chat": self._chat(),
                        "text": "menu",
                    },
                }
            }
        )

    def last_menu(self) -> Call | None:
        menus = self.api.menus(self.id)
        return menus[-1] if menus else None

    def press(self, label_part: str) -> None:
        """Press the button of the newest menu whose label contains label_part."""
        menu = self.last_menu()
        assert menu is not None, f"user {self.id} has no menu"
        for label, data in menu.buttons():
            if label_part in label:
                if data is None:
                    self.say(label)
                else:
                    result = menu.result if isinstance(menu.result, dict) else {}
                    message_id = int(menu.params.get("message_id") or result.get("message_id") or 1)
                    self.click(data, message_id)
                return
        raise AssertionError(f"no button {label_part!r} in {menu.labels()}")

    def messages(self) -> list[Call]:
        return self.api.sent(self.id)

    def texts(self) -> list[str]:
        return [c.text for c in self.messages()]


# -- helpers for the tests: act as a user and wait for the bot's answer ------------------------
async def quiet(api: FakeBotApi, user: FakeUser, for_s: float = 0.15) -> None:
    """Wait until the bot has sent nothing to the user for for_s seconds (an action may still
    send its trailing menu after its result, which must not pass for the next answer)."""
    deadline = time.monotonic() + 5.0
    count, since = len(api.sent(user.id)), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        now_count = len(api.sent(user.id))
        if now_count != count:
            count, since = now_count, time.monotonic()
        elif time.monotonic() - since >= for_s:
            return


async def start_menu(api: FakeBotApi, user: FakeUser) -> Any:
    """Send /start and wait for the main menu."""
    await quiet(api, user)
    n = len(api.menus(user.id))
    user.say("/start")
    return await api.wait_for(
        lambda: len(api.menus(user.id)) > n and api.menus(user.id)[-1], what="the main menu"
    )


async def press(api: FakeBotApi, user: FakeUser, label: str, expect: str = "") -> Any:
    """Press a button of the newest menu and wait for the next menu (containing expect)."""
    n = len(api.menus(user.id))
    user.press(label)
    return await api.wait_for(
        lambda: (
            len(api.menus(user.id)) > n
            and expect in api.menus(user.id)[-1].text
            and api.menus(user.id)[-1]
        ),
        what=f"a menu with {expect!r} after pressing {label!r}",
    )


async def reply(api: FakeBotApi, user: FakeUser, text: str, expect: str = "") -> Any:
    """Type an answer and wait for the next message (containing expect)."""
    n = len(api.sent(user.id))
    user.say(text)
    return await api.wait_for(
        lambda: (
            len(api.sent(user.id)) > n
            and any(expect in c.text for c in api.sent(user.id)[n:])
            and api.sent(user.id)[-1]
        ),
        what=f"an answer with {expect!r} to {text!r}",
    )


async def press_text(api: FakeBotApi, user: FakeUser, label: str, expect: str) -> Any:
    """Press a button and wait for any message (menu or not) containing expect."""
    n = len(api.sent(user.id))
    user.press(label)
    return await api.wait_for(
        lambda: next((c for c in api.sent(user.id)[n:] if expect in c.text), None),
        what=f"a message with {expect!r} after pressing {label!r}",
    )
