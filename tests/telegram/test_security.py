"""Roles are enforced on every action; forged callbacks, blocked users, groups and the token."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from fake_bot_api import TOKEN, FakeBotApi, press, press_text, reply, start_menu

from rtoc_tui.core.logger import Logger
from rtoc_tui.telegram.bot import TelegramBot
from rtoc_tui.telegram.menus import ACTIONS, PROMPTS


def set_role(logger: Logger, chat_id: int, role: str) -> None:
    path = logger.home.root / "telegram_clients.json"
    data = json.loads(path.read_text())
    data[str(chat_id)]["permission"] = role
    path.write_text(json.dumps(data))


async def test_blocked_user_gets_only_not_permitted(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    ada, eve = api.user(1, "Ada"), api.user(666, "Eve")
    await start_menu(api, ada)
    for text in ("/start", "Latest values", "/help", "📊 Signals"):
        n = len(eve.messages())
        eve.say(text)
        await api.wait_for(lambda n=n: len(eve.messages()) > n, what="an answer")
    eve.click("anything")
    await api.wait_for(lambda: api.sent(method="answerCallbackQuery"), what="callback answer")
    assert [c.text for c in eve.messages()] == ["not permitted"] * 4
    assert all(not c.params.get("reply_markup") for c in eve.messages())
    answers = [c for c in api.sent(method="answerCallbackQuery")]
    assert answers[-1].text == "not permitted"


async def test_only_admin_mode(api: FakeBotApi, bot: TelegramBot, started_logger: Logger) -> None:
    bot.settings.default_permission = "write"
    bot.settings.onlyAdmin = True
    ada, bob = api.user(1, "Ada"), api.user(2, "Bob")
    await start_menu(api, ada)
    bob.say("/start")
    await api.wait_for(lambda: bob.texts() == ["not permitted"], what="refusal")


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        (
            "read",
            ["Latest values", "Signals", "Settings"],
            ["devices", "send", "automation", "general", "telegram", "backup", "delete_signals"],
        ),
        (
            "write",
            ["Devices", "Send event/signal", "Automation"],
            ["telegram", "backup", "delete_signals", "delete_all_yes", "set_role"],
        ),
    ],
)
async def test_role_boundaries_hold_for_every_action(
    api: FakeBotApi,
    bot: TelegramBot,
    started_logger: Logger,
    role: str,
    allowed: list[str],
    refused: list[str],
) -> None:
    bot.settings.default_permission = role
    ada, bob = api.user(1, "Ada"), api.user(2, "Bob")
    await start_menu(api, ada)
    menu = await start_menu(api, bob)
    for label in allowed:
        assert any(label in b for b in menu.labels()), (label, menu.labels())
    # Buttons bob never saw: a token the bot issued to him for an action above his role,
    # as a forged client could build if tokens were guessable, is refused when it runs.
    tokens = bot._tokens[bob.id]
    from rtoc_tui.telegram.screens import Button

    for action in refused:
        need = ACTIONS[action][0]
        assert need > (1 if role == "read" else 2)
        args: tuple = {"set_role": (1, "blocked"), "user": (1,)}.get(action, ())
        token = tokens.issue(Button("x", action, args))
        n = len(bob.messages())
        bob.click(token)
        await api.wait_for(lambda n=n: len(bob.messages()) > n, what=f"refusal of {action}")
        assert bob.messages()[-1].text == "not permitted", action
    assert bot.users.get(1).permission == "admin"  # type: ignore[union-attr]
    # every registered action and prompt declares its role
    assert all(need in (1, 2, 3) for need, _ in [*ACTIONS.values(), *PROMPTS.values()])


async def test_forged_and_foreign_callback_data_fail(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    bot.settings.default_permission = "read"
    ada, bob = api.user(1, "Ada"), api.user(2, "Bob")
    admin_menu = await start_menu(api, ada)
    await start_menu(api, bob)
    # callback data made up by a client, RTOC-style names, and a token issued to another chat
    foreign = dict(admin_menu.buttons())["🔌 Devices"]
    for data in ("devices", "delete_all_yes", "main", "A" * 12, foreign, ""):
        n = len(api.sent(method="answerCallbackQuery"))
        bob.click(data or " ")
        await api.wait_for(
            lambda n=n: len(api.sent(method="answerCallbackQuery")) > n, what="answer"
        )
        ans = api.sent(method="answerCallbackQuery")[-1]
        assert "no longer valid" in ans.text and ans.params.get("show_alert") in (True, "true")
    assert not [c for c in bob.messages() if c.method == "sendMessage"][1:]  # no new menus
    assert "Devices" not in " ".join(bob.messages()[-1].labels())


async def test_demoted_user_cannot_use_old_buttons_or_prompts(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    bot.settings.default_permission = "write"
    ada, bob = api.user(1, "Ada"), api.user(2, "Bob")
    await start_menu(api, ada)
    await start_menu(api, bob)
    await press(api, bob, "Send event/signal", "Send an event")
    await press(api, bob, "Info event", "text of the info event")
    # demoted while the question is open (by editing the file, as `rtoc config telegram` does)
    set_role(started_logger, 2, "read")
    await reply(api, bob, "sneaky", "not permitted")
    assert not [e for e in started_logger.events.all() if e.text == "sneaky"]
    # an old Devices button from before the demotion
    old = next(m for m in bob.messages() if "🔌 Devices" in m.labels())
    data = dict(old.buttons())["🔌 Devices"]
    n = len(bob.messages())
    bob.click(data)  # type: ignore[arg-type]
    await api.wait_for(lambda: len(bob.messages()) > n, what="refusal")
    assert bob.messages()[-1].text == "not permitted"
    # blocked: even the main menu is gone
    set_role(started_logger, 2, "blocked")
    await reply(api, bob, "/start", "not permitted")


async def test_admin_only_custom_actions_hidden_and_refused(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    (started_logger.home.root / "telegramActions.json").write_text(
        json.dumps({"Hello": "return 'text', 'hi'", "_Secret": "return 'text', 'secret'"})
    )
    bot.settings.default_permission = "read"
    ada, bob = api.user(1, "Ada"), api.user(2, "Bob")
    menu = await start_menu(api, ada)
    assert "▶ Hello" in menu.labels() and "▶ Secret" in menu.labels()
    menu = await start_menu(api, bob)
    assert "▶ Hello" in menu.labels() and "▶ Secret" not in menu.labels()
    from rtoc_tui.telegram.screens import Button

    token = bot._tokens[bob.id].issue(Button("x", "custom", ("_Secret",)))
    n = len(bob.messages())
    bob.click(token)
    await api.wait_for(lambda: len(bob.messages()) > n, what="refusal")
    assert bob.messages()[-1].text == "not permitted"
    await press_text(api, bob, "Hello", "hi")


async def test_group_chats_are_refused(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    api.push_update(
        {
            "message": {
                "message_id": 5,
                "date": 0,
                "chat": {"id": -100, "type": "group", "title": "g"},
                "from": {"id": 7, "is_bot": False, "first_name": "G"},
                "text": "/start",
            }
        }
    )
    await api.wait_for(lambda: api.sent(-100), what="refusal")
    assert [c.text for c in api.sent(-100)] == ["not permitted"]
    assert bot.users.all() == []  # nobody became admin through a group


async def test_token_never_in_logs_or_replies(
    api: FakeBotApi,
    make_bot,
    started_logger: Logger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await make_bot(event_poll_s=0.05, notify_interval_s=0.1)
    await api.wait_for(lambda: bot.connected, what="connect")
    ada = api.user(1, "Ada")
    await start_menu(api, ada)
    await press(api, ada, "Settings", "Settings")
    await press(api, ada, "Telegram bot", "Bot @")
    api.fail_next(2, 500, "boom")
    started_logger.event("x", priority=2)
    await api.wait_for(lambda: bot.notifier.stats.send_errors, what="a failed send")
    await api.wait_for(lambda: any(c.text.endswith("x") for c in ada.messages()), what="retry")
    await bot.stop()
    logs = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert TOKEN not in logs and TOKEN.split(":")[1] not in logs
    assert "bot***/sendMessage" in logs  # httpx logged the URLs, with the token replaced
    assert all(TOKEN not in json.dumps(c.params) for c in api.calls)
    # the logger's own config view masks it too
    from rtoc_tui.client.local import LocalClient

    values = {c.key: c.value for c in await LocalClient(started_logger).config()}
    assert values["telegram.token"] == "********"


async def test_token_not_in_sessions_or_exports(logger: Logger, tmp_path) -> None:
    from rtoc_tui.config.home import update_config_file
    from rtoc_tui.transfer.session import save_session

    update_config_file(logger.home.config_file, {"telegram.token": TOKEN})
    logger.config.telegram.token = TOKEN
    logger.store.append("D", "s", [1.0, 2.0], [3.0, 4.0], "V")
    out = tmp_path / "s.json"
    await asyncio.to_thread(save_session, logger, out, full=True)
    text = out.read_text()
    assert "telegram" in text and TOKEN not in text and TOKEN.split(":")[1] not in text
