"""RTOC's Telegram bot (RTOC 2.0 documentation, section 5.5): menus, roles, plots, alerts.

Needs the `telegram` extra (python-telegram-bot, matplotlib). The bot talks to the logger only
through a `LoggerClient`; `rtoc_tui.runtime` builds it when `telegram.active` is true and a token
is set, and routes plugins' `telegram_send_*` calls to it. See docs/telegram.md.
"""

from __future__ import annotations

from .users import ROLES, TelegramUser, UsersError, UserStore

__all__ = ["ROLES", "TelegramUser", "UserStore", "UsersError"]
