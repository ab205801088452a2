"""What a menu is, independent of how Telegram draws it: text plus rows of buttons.

A button names an action and its arguments. The bot never puts either into the message: each
drawn button gets a random token kept per chat, so callback data (or a keyboard label) can only
point at something the bot itself offered to that chat. The role an action needs is checked again
when it runs, so a token kept from before a demotion does nothing either.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

MAX_TOKENS = 400  # per chat: several screens back are still clickable, memory stays bounded


@dataclass(frozen=True)
class Button:
    """A button: its label, the action it runs and that action's arguments."""

    label: str
    action: str
    args: tuple[Any, ...] = ()


@dataclass
class Screen:
    """A menu: text and rows of buttons."""

    text: str
    rows: list[list[Button]] = field(default_factory=list)

    def add(self, *buttons: Button | None) -> Screen:
        row = [b for b in buttons if b is not None]
        if row:
            self.rows.append(row)
        return self

    def labels(self) -> list[str]:
        return [b.label for row in self.rows for b in row]


@dataclass
class Prompt:
    """The chat's next text message is input for `action` (with `args`)."""

    action: str
    args: tuple[Any, ...] = ()


class Tokens:
    """Per-chat map of issued button tokens to (action, args), oldest forgotten first."""

    def __init__(self, limit: int = MAX_TOKENS) -> None:
        self._limit = limit
        self._items: OrderedDict[str, tuple[str, tuple[Any, ...]]] = OrderedDict()

    def issue(self, button: Button) -> str:
        token = secrets.token_urlsafe(9)  # 12 characters, far below the 64-byte callback limit
        self._items[token] = (button.action, button.args)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)
        return token

    def get(self, token: str) -> tuple[str, tuple[Any, ...]] | None:
        return self._items.get(token)

    def clear(self) -> None:
        self._items.clear()


def unique_labels(screen: Screen) -> Screen:
    """Make labels unique (a keyboard menu maps the label the user sends back to the button)."""
    seen: dict[str, int] = {}
    rows = []
    for row in screen.rows:
        new_row = []
        for b in row:
            n = seen.get(b.label, 0) + 1
            seen[b.label] = n
            new_row.append(b if n == 1 else Button(f"{b.label} ({n})", b.action, b.args))
        rows.append(new_row)
    return Screen(screen.text, rows)
