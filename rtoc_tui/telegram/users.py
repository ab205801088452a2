"""Telegram users and their roles, kept in `telegram_clients.json` in RTOC's format.

RTOC stores one object per chat id::

    {"123456": {"eventlevel": 0, "shortcuts": [[], []], "first_name": "Ada",
                "last_name": "", "permission": "admin", "menu": "menu"}}

`shortcuts[0]` holds parameter shortcuts and `shortcuts[1]` function shortcuts, each as
"Device.name". The first user who ever writes to the bot becomes admin; later ones get
`telegram.default_permission`. The file is re-read when it changed on disk (so `rtoc config
telegram` can edit it while the logger runs) and written atomically; a file that cannot be read
is never overwritten.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text

log = logging.getLogger("rtoc.telegram")

ROLES = ("blocked", "read", "write", "admin")
EVENT_LEVELS = {0: "all events", 1: "warnings and errors", 2: "errors only", 3: "no notifications"}
CLIENTS_FILE = "telegram_clients.json"


class UsersError(ValueError):
    """telegram_clients.json or a requested change is invalid; the message says what to do."""


def role_rank(permission: str) -> int:
    """0 blocked, 1 read, 2 write, 3 admin (an unknown permission counts as blocked)."""
    try:
        return ROLES.index(permission)
    except ValueError:
        return 0


def check_role(permission: str) -> str:
    if permission not in ROLES:
        raise UsersError(f"permission must be one of {', '.join(ROLES)}, not {permission!r}")
    return permission


@dataclass
class TelegramUser:
    """One chat that has written to the bot."""

    chat_id: int
    first_name: str = ""
    last_name: str = ""
    permission: str = "blocked"
    eventlevel: int = 0
    shortcuts: list[list[str]] = field(default_factory=lambda: [[], []])
    menu: str = "menu"

    @property
    def name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or str(self.chat_id)

    @property
    def rank(self) -> int:
        return role_rank(self.permission)

    def to_json(self) -> dict[str, Any]:
        return {
            "eventlevel": self.eventlevel,
            "shortcuts": [list(self.shortcuts[0]), list(self.shortcuts[1])],
            "first_name": self.first_name,
            "last_name": self.last_name,
            "permission": self.permission,
            "menu": self.menu,
        }


def _user_from_json(key: str, raw: Any) -> TelegramUser:
    try:
        chat_id = int(key)
    except ValueError:
        raise UsersError(f"{key!r}: the keys are Telegram chat ids (integers)") from None
    if not isinstance(raw, dict):
        raise UsersError(f"{key}: expected an object")
    shortcuts = raw.get("shortcuts") or [[], []]
    if not (isinstance(shortcuts, list) and len(shortcuts) == 2):
        shortcuts = [[], []]
    level = raw.get("eventlevel", 0)
    permission = str(raw.get("permission", "blocked"))
    return TelegramUser(
        chat_id=chat_id,
        first_name=str(raw.get("first_name") or ""),
        last_name=str(raw.get("last_name") or ""),
        permission=permission if permission in ROLES else "blocked",
        eventlevel=int(level) if isinstance(level, int) and 0 <= level <= 3 else 0,
        shortcuts=[[str(s) for s in shortcuts[0]], [str(s) for s in shortcuts[1]]],
        menu=str(raw.get("menu") or "menu"),
    )


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


class UserStore:
    """The users of one bot, backed by telegram_clients.json; thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._users: dict[int, TelegramUser] = {}
        self._signature: tuple[int, int] | None = None
        self.broken: str | None = None  # why the file could not be read (then never written)
        self.reload()

    # -- file -----------------------------------------------------------------------------------
    def reload(self) -> None:
        """(Re)read the file; a broken file keeps the users we had and is reported."""
        with self._lock:
            self._signature = _signature(self.path)
            if not self.path.exists():
                self.broken = None
                self._users = {}
                return
            try:
                text = self.path.read_text(encoding="utf-8")
                data = _parse(text)
                users = {}
                for key, raw in data.items():
                    u = _user_from_json(str(key), raw)
                    users[u.chat_id] = u
            except (OSError, UsersError) as exc:
                self.broken = str(exc)
                log.error(
                    "%s cannot be read (%s); fix or delete it, it is not overwritten until then",
                    self.path,
                    exc,
                )
                return
            self.broken = None
            self._users = users

    def _refresh(self) -> None:
        if _signature(self.path) != self._signature:
            self.reload()

    def _save(self) -> None:
        if self.broken is not None:
            raise UsersError(
                f"{self.path.name} could not be read ({self.broken}); fix or delete it first"
            )
        data = {str(u.chat_id): u.to_json() for u in self._users.values()}
        atomic_write_text(self.path, json.dumps(data, indent=4, ensure_ascii=False) + "\n")
        self._signature = _signature(self.path)

    # -- queries --------------------------------------------------------------------------------
    def all(self) -> list[TelegramUser]:
        with self._lock:
            self._refresh()
            return list(self._users.values())

    def get(self, chat_id: int) -> TelegramUser | None:
        with self._lock:
            self._refresh()
            return self._users.get(int(chat_id))

    def permission(self, chat_id: int) -> str:
        user = self.get(chat_id)
        return "blocked" if user is None else user.permission

    # -- changes --------------------------------------------------------------------------------
    def register(
        self,
        chat_id: int,
        first_name: str,
        last_name: str,
        default_permission: str,
        default_eventlevel: int,
    ) -> tuple[TelegramUser, bool]:
        """The user for chat_id, created on first contact: (user, created)."""
        with self._lock:
            self._refresh()
            user = self._users.get(int(chat_id))
            if user is not None:
                if (first_name, last_name) != (user.first_name, user.last_name):
                    user.first_name, user.last_name = first_name, last_name
                    self._save_quietly()
                return user, False
            if self.broken is not None:
                # never hand out admin because the file with the real admin is unreadable
                return TelegramUser(int(chat_id), first_name, last_name, "blocked"), False
            first = not self._users
            user = TelegramUser(
                chat_id=int(chat_id),
                first_name=first_name,
                last_name=last_name,
                permission="admin" if first else check_role(default_permission),
                eventlevel=default_eventlevel if 0 <= default_eventlevel <= 3 else 0,
            )
            self._users[user.chat_id] = user
            self._save_quietly()
            return user, True

    def _save_quietly(self) -> None:
        try:
            self._save()
        except (OSError, UsersError) as exc:
            log.error("cannot save %s: %s", self.path, exc)

    def _change(self, chat_id: int, **changes: Any) -> TelegramUser:
        with self._lock:
            self._refresh()
            user = self._users.get(int(chat_id))
            if user is None:
                raise UsersError(f"no Telegram user with chat id {chat_id}")
            for key, value in changes.items():
                setattr(user, key, value)
            self._save()
            return user

    def set_permission(self, chat_id: int, permission: str) -> TelegramUser:
        """Change a user's role; the last admin cannot lose admin rights."""
        check_role(permission)
        with self._lock:
            self._refresh()
            user = self._users.get(int(chat_id))
            admins = [u for u in self._users.values() if u.permission == "admin"]
            if user is not None and user.permission == "admin" and permission != "admin":
                if len(admins) == 1:
                    raise UsersError(
                        f"{user.name} is the only admin; make another user admin first"
                    )
            return self._change(chat_id, permission=permission)

    def set_eventlevel(self, chat_id: int, level: int) -> TelegramUser:
        if level not in EVENT_LEVELS:
            raise UsersError(f"event level must be one of {', '.join(map(str, EVENT_LEVELS))}")
        return self._change(chat_id, eventlevel=level)

    def toggle_shortcut(self, chat_id: int, kind: int, target: str) -> bool:
        """Add or remove a shortcut (kind 0 parameter, 1 function); True if it is now set."""
        with self._lock:
            user = self.get(chat_id)
            if user is None:
                raise UsersError(f"no Telegram user with chat id {chat_id}")
            items = list(user.shortcuts[kind])
            present = target in items
            if present:
                items.remove(target)
            else:
                items.append(target)
            shortcuts = [list(user.shortcuts[0]), list(user.shortcuts[1])]
            shortcuts[kind] = items
            self._change(chat_id, shortcuts=shortcuts)
            return not present

    def remove(self, chat_id: int) -> None:
        with self._lock:
            self._refresh()
            if int(chat_id) not in self._users:
                raise UsersError(f"no Telegram user with chat id {chat_id}")
            del self._users[int(chat_id)]
            self._save()


def _parse(text: str) -> dict[str, Any]:
    """JSON, or the Python literal RTOC's documentation shows (single quotes, True)."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        try:
            data = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise UsersError(
                f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from None
    if not isinstance(data, dict):
        raise UsersError("the top level must be an object {chat_id: {...}}")
    return data
