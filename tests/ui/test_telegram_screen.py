"""The settings screen's Telegram part: bot switch and token, users and their roles."""

from __future__ import annotations

import json

from textual.widgets import DataTable, Input, Switch

from rtoc_tui.client.local import LocalClient
from rtoc_tui.telegram.bot import TelegramBot
from rtoc_tui.ui.app import build_app
from rtoc_tui.ui.screens.settings import SettingsScreen
from rtoc_tui.ui.screens.telegram import TelegramScreen

from .conftest import StableClient, settle, text_of, wait_for


async def test_settings_show_bot_users_and_change_a_role(ui_logger, clock):
    ui_logger.config.telegram.token = "1:secret-token"
    bot = TelegramBot(LocalClient(ui_logger), ui_logger.config.telegram, ui_logger.home.root)
    ui_logger.telegram = bot  # as runtime.attach_telegram does
    bot.users.register(10, "Ada", "", "blocked", 0)
    bot.users.register(11, "Bob", "", "blocked", 1)
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("O")
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsScreen))
        settings = app.screen
        await wait_for(pilot, lambda: bool(settings.values), what="config values")
        assert settings.query_one("#set-telegram-token", Input).value == "********"
        settings.query_one("#set-telegram-active", Switch).value = True
        await pilot.press("ctrl+s")
        await wait_for(
            pilot,
            lambda: json.loads(ui_logger.home.config_file.read_text())["telegram"].get("active"),
            what="telegram.active saved",
        )
        saved = json.loads(ui_logger.home.config_file.read_text())["telegram"]
        assert "token" not in saved or saved["token"] != "********"
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, TelegramScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.state is not None, what="bot state")
        table = screen.query_one("#telegram-users", DataTable)
        assert table.row_count == 2
        assert "not running" in text_of(screen.query_one("#telegram-state").content)
        table.move_cursor(row=1)
        await pilot.press("w")
        await wait_for(pilot, lambda: bot.users.permission(11) == "write", what="role changed")
        assert table.get_row_at(1)[2] == "write"
        # the only admin cannot be demoted: the error is shown, nothing changes
        table.move_cursor(row=0)
        await pilot.press("r")
        await wait_for(
            pilot,
            lambda: "only admin" in str(screen.query_one("#telegram-error").render()),
            what="refusal",
        )
        assert bot.users.permission(10) == "admin"
        await pilot.press("escape")
        assert isinstance(app.screen, SettingsScreen)
