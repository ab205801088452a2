"""`rtoc config telegram`: the Telegram bot's settings and state, its users, and role changes.

Works on the user folder's files (telegram_clients.json, status.json), so it needs neither a
running logger nor python-telegram-bot; a running bot re-reads telegram_clients.json on its next
update, so a role changed here applies at once.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..config.home import Home, load_config, resolve_home
from ..config.schema import ConfigError
from ..telegram.users import CLIENTS_FILE, EVENT_LEVELS, ROLES, UsersError, UserStore
from .common import HomeOpt, console
from .common import fail as _fail


def bot_state(home: Home) -> dict[str, Any] | None:
    """The running bot's state from status.json (None if no logger runs or no bot)."""
    try:
        data = json.loads(home.status_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    state = data.get("telegram") if isinstance(data, dict) else None
    return state if isinstance(state, dict) else None


def config_telegram(
    ctx: typer.Context,
    home: HomeOpt = None,
    role: Annotated[
        list[str] | None,
        typer.Option(
            "--role", help="Set a user's role: CHAT_ID=ROLE (blocked, read, write, admin)"
        ),
    ] = None,
    remove: Annotated[
        list[int] | None, typer.Option("--remove", help="Forget a user (chat id)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as JSON")] = False,
) -> None:
    """Show the Telegram bot's settings, state and users; change a user's role.

    Examples:

      rtoc config telegram

      rtoc config telegram --role 123456789=write

      rtoc config telegram --remove 123456789
    """
    if home is None and isinstance(ctx.obj, dict):
        home = ctx.obj.get("home")
    h = Home(resolve_home(home))
    try:
        cfg = load_config(h.config_file).config.telegram
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    store = UserStore(h.root / CLIENTS_FILE)
    if store.broken:
        raise _fail(f"{store.path} cannot be read ({store.broken}); fix or delete it")
    try:
        for item in role or []:
            chat, sep, new_role = item.partition("=")
            if not sep or not chat.strip().lstrip("-").isdigit():
                raise _fail(f"--role takes CHAT_ID=ROLE (roles: {', '.join(ROLES)}), not {item!r}")
            user = store.set_permission(int(chat), new_role.strip())
            console.print(f"{escape(user.name)} ({user.chat_id}) is now {user.permission}.")
        for chat_id in remove or []:
            store.remove(chat_id)
            console.print(f"Removed user {chat_id}.")
    except UsersError as exc:
        raise _fail(str(exc)) from exc
    state = bot_state(h)
    users: list[dict[str, Any]] = [
        {
            "chat_id": u.chat_id,
            "name": u.name,
            "permission": u.permission,
            "eventlevel": u.eventlevel,
        }
        for u in store.all()
    ]
    settings = {
        "active": cfg.active,
        "token": "set" if cfg.token else "not set",
        "base_url": cfg.base_url,
        "default_permission": cfg.default_permission,
        "default_eventlevel": cfg.default_eventlevel,
        "inlineMenu": cfg.inlineMenu,
        "onlyAdmin": cfg.onlyAdmin,
        "allowReboot": cfg.allowReboot,
    }
    if as_json:
        console.print_json(json.dumps({"settings": settings, "state": state, "users": users}))
        return
    on = "[green]on[/]" if cfg.active else "off"
    console.print(
        f"Telegram bot: {on}, token {settings['token']}, new users get "
        f"{cfg.default_permission}, {'inline' if cfg.inlineMenu else 'keyboard'} menu"
        + (", only admins" if cfg.onlyAdmin else "")
    )
    if state is None:
        console.print("  state: no logger with a bot is running for this folder")
    else:
        link = "[green]connected[/]" if state.get("connected") else "[yellow]not connected[/]"
        console.print(
            f"  state: {link} as @{escape(str(state.get('username') or '?'))}, "
            f"{state.get('messages_sent', 0)} notifications sent, "
            f"{state.get('lines_dropped', 0)} dropped, {state.get('pending', 0)} queued"
        )
        if state.get("last_error"):
            console.print(f"  last error: {escape(str(state['last_error']))}")
    if not users:
        console.print("No users yet: the first one to write to the bot becomes admin.")
        return
    table = Table("chat id", "name", "role", "notified of")
    for u in users:
        table.add_row(
            str(u["chat_id"]),
            escape(str(u["name"])),
            str(u["permission"]),
            EVENT_LEVELS.get(int(u["eventlevel"]), "?"),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add `telegram` to the `rtoc config` group (registered before this)."""
    for group in app.registered_groups:
        if group.name == "config" and group.typer_instance is not None:
            group.typer_instance.command("telegram")(config_telegram)
            return
