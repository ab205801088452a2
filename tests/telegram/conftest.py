"""Fixtures for the Telegram bot: a fake Bot API server, a logger and a running bot.

This folder is not a package (a `telegram` package here would shadow python-telegram-bot), so
the fake server module is put on sys.path by hand.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_bot_api import TOKEN, FakeBotApi  # noqa: E402

from rtoc_tui.client.local import LocalClient  # noqa: E402
from rtoc_tui.config.schema import TelegramSection  # noqa: E402
from rtoc_tui.core.logger import Logger  # noqa: E402
from rtoc_tui.scripting import attach_automation  # noqa: E402
from rtoc_tui.telegram.bot import TelegramBot  # noqa: E402


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    server = FakeBotApi()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def settings(api: FakeBotApi, logger: Logger) -> TelegramSection:
    """The logger's own telegram section (so settings changed from the bot reach the bot)."""
    section = logger.config.telegram
    section.active, section.token, section.base_url = True, TOKEN, api.base_url
    section.inlineMenu = True
    return section


@pytest.fixture
async def started_logger(logger: Logger) -> AsyncIterator[Logger]:
    attach_automation(logger)
    await logger.start(autorun=False)
    try:
        yield logger
    finally:
        await logger.stop()


@pytest.fixture
async def make_bot(
    started_logger: Logger, settings: TelegramSection
) -> AsyncIterator[Callable[..., Any]]:
    """make_bot(**kw) -> a started TelegramBot on the fake server (stopped at teardown)."""
    bots: list[TelegramBot] = []

    async def _make(**kw: Any) -> TelegramBot:
        bot = TelegramBot(LocalClient(started_logger), settings, started_logger.home.root, **kw)
        started_logger.telegram_sink = bot.plugin_send
        await bot.start()
        bots.append(bot)
        return bot

    try:
        yield _make
    finally:
        for b in bots:
            await b.stop()


@pytest.fixture
async def bot(make_bot: Callable[..., Any], api: FakeBotApi) -> AsyncIterator[TelegramBot]:
    b = await make_bot(event_poll_s=0.05, notify_interval_s=0.2)
    await api.wait_for(lambda: b.connected, what="the bot to connect")
    yield b
