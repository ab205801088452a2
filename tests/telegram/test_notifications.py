"""Event notifications: levels, burst collapsing, rate limits, outages, plugin messages."""

from __future__ import annotations

import asyncio
import json
import logging
import textwrap

import pytest
from fake_bot_api import FakeBotApi, start_menu

from rtoc_tui.core.logger import Logger
from rtoc_tui.telegram.bot import TelegramBot
from rtoc_tui.telegram.notify import (
    Notifier,
    Outgoing,
    PermanentSendError,
    TransientSendError,
)


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[int, Outgoing]] = []
        self.fail: list[Exception] = []

    async def __call__(self, chat_id: int, item: Outgoing) -> None:
        if self.fail:
            raise self.fail.pop(0)
        self.sent.append((chat_id, item))


async def test_burst_collapses_into_one_message_per_interval() -> None:
    clock, rec = FakeClock(), Recorder()
    n = Notifier(rec, min_interval_s=1.0, clock=clock)
    n.add_line(1, "first")
    assert await n.send_due() == 1.0
    assert rec.sent == [(1, Outgoing("text", "first"))]
    for i in range(500):
        n.add_line(1, f"e{i}")
    await n.send_due()  # not due yet: nothing sent
    assert len(rec.sent) == 1
    clock.t += 1.0
    await n.send_due()
    assert len(rec.sent) == 2
    text = rec.sent[1][1].text
    assert text.startswith("500 events:\ne0\ne1") and "... and 460 more events" in text
    assert len(text) < 4096 and n.pending() == 0 and n.stats.lines_sent == 501


async def test_chats_are_rate_limited_independently() -> None:
    clock, rec = FakeClock(), Recorder()
    n = Notifier(rec, min_interval_s=1.0, clock=clock)
    n.add_line(1, "a")
    n.add_line(2, "b")
    await n.send_due()
    n.add_line(1, "c")
    n.add_line(2, "d")
    await n.send_due()
    assert [c for c, _ in rec.sent] == [1, 2]
    clock.t += 1.0
    await n.send_due()
    assert [(c, i.text) for c, i in rec.sent[2:]] == [(1, "c"), (2, "d")]


async def test_outage_queues_with_bound_and_reports_drops() -> None:
    clock, rec = FakeClock(), Recorder()
    n = Notifier(rec, min_interval_s=1.0, max_pending=10, clock=clock)
    rec.fail = [TransientSendError("connection refused")] * 3
    for i in range(25):
        n.add_line(1, f"e{i}")
    wait = await n.send_due()
    assert n.stats.outage and wait == pytest.approx(1.0)
    clock.t += 1.0
    assert await n.send_due() == pytest.approx(2.0)  # back-off doubles
    clock.t += 2.0
    await n.send_due()
    clock.t += 4.0
    await n.send_due()  # reachable again
    assert not n.stats.outage and len(rec.sent) == 1
    text = rec.sent[0][1].text
    assert text.startswith("10 events:\ne15") and "e24" in text
    assert "(15 older notifications were dropped while Telegram was unreachable)" in text
    assert n.stats.lines_dropped == 15 and n.stats.send_errors == 3


async def test_retry_after_is_respected_and_permanent_errors_drop_the_chat() -> None:
    clock, rec = FakeClock(), Recorder()
    n = Notifier(rec, min_interval_s=1.0, clock=clock)
    rec.fail = [TransientSendError("flood", retry_after_s=7.0)]
    n.add_line(1, "x")
    assert await n.send_due() == pytest.approx(7.0)
    clock.t += 7.0
    await n.send_due()
    assert rec.sent[0][1].text == "x"
    rec.fail = [PermanentSendError("bot was blocked by the user")]
    clock.t += 1
    n.add_line(1, "y")
    await n.send_due()
    assert n.pending(1) == 0 and len(rec.sent) == 1


async def test_files_queue_beside_lines_bounded() -> None:
    clock, rec = FakeClock(), Recorder()
    n = Notifier(rec, min_interval_s=0.0, max_files=2, clock=clock)
    for i in range(4):
        n.add_file(1, Outgoing("photo", f"p{i}", b"x"))
    for _ in range(3):
        await n.send_due()
    assert [i.text for _, i in rec.sent][:1] == [
        "p2\n(2 older notifications were dropped while Telegram was unreachable)"
    ]
    assert [i.text for _, i in rec.sent][1:] == ["p3"] and n.stats.files_dropped == 2


# -- through the bot and the fake server -----------------------------------------------------------


async def test_events_reach_users_by_level(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    bot.settings.default_permission = "read"
    ada, bob, eve = api.user(1, "Ada"), api.user(2, "Bob"), api.user(3, "Eve")
    await start_menu(api, ada)
    await start_menu(api, bob)
    eve.say("/start")
    await api.wait_for(lambda: eve.texts(), what="eve answered")
    bot.users.set_eventlevel(2, 2)  # bob: errors only
    bot.users.set_permission(3, "blocked")
    started_logger.event("just info", dname="Gen", sname="x", priority=0)
    started_logger.event("bad thing", dname="Gen", sname="x", priority=2)
    await api.wait_for(
        lambda: (
            any("bad thing" in t for t in bob.texts())
            and any("bad thing" in t for t in ada.texts())
        ),
        what="notifications",
    )
    await asyncio.sleep(0.5)
    assert not any("just info" in t for t in bob.texts())
    assert any("just info" in t for t in ada.texts())
    assert any("❗" in t and "Gen.x: bad thing" in t for t in bob.texts())
    assert not any("bad thing" in t or "just info" in t for t in eve.texts())


async def test_burst_through_the_bot_is_one_message_per_interval(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    ada = api.user(1, "Ada")
    await start_menu(api, ada)
    n0 = len(ada.messages())
    for i in range(300):
        started_logger.event(f"burst {i}", priority=1)
    await api.wait_for(
        lambda: (
            any("burst 299" in c.text for c in ada.messages()[n0:])
            or any("and " in c.text and "more events" in c.text for c in ada.messages()[n0:])
        ),
        what="the collapsed burst",
    )
    await asyncio.sleep(0.6)
    notes = [c for c in ada.messages()[n0:] if "burst" in c.text]
    assert 1 <= len(notes) <= 4
    assert sum(int(c.text.split(" events")[0]) if " events:" in c.text else 1 for c in notes) == 300
    times = [c.at for c in notes]
    assert all(b - a >= 0.19 for a, b in zip(times, times[1:], strict=False))


async def test_outage_and_recovery(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    ada = api.user(1, "Ada")
    await start_menu(api, ada)
    # errors from the API are retried
    api.fail_methods = {"sendMessage"}
    api.fail_next(2, 502, "Bad Gateway")
    started_logger.event("during errors", priority=2)
    await api.wait_for(lambda: any("during errors" in t for t in ada.texts()), what="retried")
    assert bot.notifier.stats.send_errors >= 1
    # the API goes away entirely, events queue, then it comes back
    await api.go_away()
    for i in range(5):
        started_logger.event(f"offline {i}", priority=2)
    await asyncio.sleep(0.3)
    await api.wait_for(lambda: bot.notifier.stats.outage, what="the outage to be noticed")
    assert bot.notifier.pending(1) >= 5
    await api.come_back()
    msg = await api.wait_for(
        lambda: next((c for c in ada.messages() if "offline 4" in c.text), None),
        timeout=20,
        what="queued events after the outage",
    )
    assert " events:" in msg.text and "offline 0" in msg.text
    # polling recovered too: the menu works again
    await api.wait_for(lambda: True)
    await start_menu(api, ada)
    assert not bot.notifier.stats.outage


async def test_429_retry_after(api: FakeBotApi, bot: TelegramBot, started_logger: Logger) -> None:
    ada = api.user(1, "Ada")
    await start_menu(api, ada)
    api.fail_methods = {"sendMessage"}
    api.fail_next(1, 429, "Too Many Requests: retry after 1", retry_after=1)
    started_logger.event("slow down", priority=2)
    await api.wait_for(lambda: any("slow down" in t for t in ada.texts()), timeout=10)
    failed = api.sent(method="sendMessage:failed")
    ok = next(c for c in api.sent(1, "sendMessage") if "slow down" in c.text)
    assert failed and ok.at - failed[-1].at >= 0.9


PLUGIN = textwrap.dedent(
    """
    from rtoc_tui.core.plugin import LoggerPlugin

    class Plugin(LoggerPlugin):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.setDeviceName("Teller")

        def say(self, text="hello", admin=False):
            self.telegram_send_message(text, onlyAdmin=admin)

        def photo(self, path):
            self.telegram_send_photo(path)

        def doc(self, path, admin=False):
            self.telegram_send_document(path, onlyAdmin=admin)

        def chart(self):
            self.telegram_send_plot({"a": [[1.7e9, 1.7e9 + 60], [1.0, 2.0]]}, title="T", text="chart")
    """
)


async def test_plugin_messages_photos_documents_and_plots(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger, tmp_path
) -> None:
    bot.settings.default_permission = "read"
    (started_logger.home.devices_dir / "Teller.py").write_text(PLUGIN)
    await asyncio.to_thread(started_logger.devices.start, "Teller")
    ada, bob = api.user(1, "Ada"), api.user(2, "Bob")
    await start_menu(api, ada)
    await start_menu(api, bob)
    plugin = started_logger.devices.get("Teller")
    png = tmp_path / "p.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    doc = tmp_path / "report.csv"
    doc.write_text("a,b\n1,2\n")
    await asyncio.to_thread(plugin.say, "for all")
    await asyncio.to_thread(plugin.say, "admins only", True)
    await asyncio.to_thread(plugin.photo, str(png))
    await asyncio.to_thread(plugin.doc, str(doc), True)
    await asyncio.to_thread(plugin.chart)
    await api.wait_for(
        lambda: len(api.sent(1, "sendPhoto")) == 2 and api.sent(1, "sendDocument"), what="files"
    )
    await api.wait_for(lambda: len(api.sent(2, "sendPhoto")) == 2, what="bob's photos")
    assert any(t == "Teller: for all" for t in bob.texts())
    assert not any("admins only" in t for t in bob.texts())
    assert any(t == "Teller: admins only" for t in ada.texts())
    assert bytes(api.sent(1, "sendDocument")[0].files["document"]) == b"a,b\n1,2\n"
    assert not api.sent(2, "sendDocument")
    photos = api.sent(1, "sendPhoto")
    assert {bytes(p.files["photo"][:8]) for p in photos} == {b"\x89PNG\r\n\x1a\n"}
    assert any(p.text == "chart" for p in photos)
    # a missing file is logged, never raised into the plugin
    await asyncio.to_thread(plugin.photo, str(tmp_path / "missing.png"))


async def test_plugin_message_without_bot_is_logged(logger: Logger, caplog) -> None:
    from rtoc_tui.core.plugin import LoggerPlugin

    p = LoggerPlugin(logger)
    p.setDeviceName("Lonely")
    with caplog.at_level(logging.WARNING, logger="rtoc.plugin"):
        p.telegram_send_message("hi")
    assert "Telegram bot is not running" in caplog.text and "Lonely" in caplog.text


async def test_clients_file_is_rtoc_format(started_logger: Logger, api, bot) -> None:
    ada = api.user(5, "Ada", "L")
    await start_menu(api, ada)
    data = json.loads((started_logger.home.root / "telegram_clients.json").read_text())
    assert data == {
        "5": {
            "eventlevel": 0,
            "shortcuts": [[], []],
            "first_name": "Ada",
            "last_name": "L",
            "permission": "admin",
            "menu": "menu",
        }
    }


async def test_bot_started_while_the_api_is_away_connects_later(
    api: FakeBotApi, make_bot, started_logger: Logger
) -> None:
    await api.go_away()
    bot = await make_bot(event_poll_s=0.05, notify_interval_s=0.2)
    started_logger.event("before connect", priority=2)
    await asyncio.sleep(1.2)
    assert not bot.connected and bot.last_error
    await api.come_back()
    await api.wait_for(lambda: bot.connected, timeout=20, what="connected after the outage")
    ada = api.user(1, "Ada")
    menu = await start_menu(api, ada)
    assert "Ada (admin)" in menu.text


async def test_user_who_blocked_the_bot_is_skipped_until_they_write(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    bot.settings.default_permission = "read"
    ada, bob = api.user(1, "Ada"), api.user(2, "Bob")
    await start_menu(api, ada)
    await start_menu(api, bob)
    await api.wait_for(lambda: any("New Telegram user" in t for t in ada.texts()), what="notice")
    api.fail_methods, api.fail_chats = {"sendMessage"}, {1}
    api.fail_next(1, 403, "Forbidden: bot was blocked by the user")
    started_logger.event("first", priority=2)
    await api.wait_for(lambda: any("first" in t for t in bob.texts()), what="bob got it")
    await api.wait_for(lambda: 1 in bot.notifier.muted, what="ada muted")
    started_logger.event("second", priority=2)
    await api.wait_for(lambda: any("second" in t for t in bob.texts()), what="bob got the 2nd")
    assert not any("first" in t or "second" in t for t in ada.texts())
    assert len(api.sent(method="sendMessage:failed")) == 1  # no attempt after the 403
    assert not bot.notifier.stats.outage
    await start_menu(api, ada)  # ada unblocked the bot and wrote again
    started_logger.event("third", priority=2)
    await api.wait_for(lambda: any("third" in t for t in ada.texts()), what="ada again")
