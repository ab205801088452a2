"""Custom actions (telegramActions.json), plot images and the users file."""

from __future__ import annotations

import asyncio
import json
import os

import numpy as np
import pytest
from fake_bot_api import FakeBotApi, press_text, start_menu

from rtoc_tui.core.logger import Logger
from rtoc_tui.telegram import actions as A
from rtoc_tui.telegram.bot import TelegramBot
from rtoc_tui.telegram.plots import Mark, Series, render_plot
from rtoc_tui.telegram.users import UsersError, UserStore


def write_actions(logger: Logger, actions: dict[str, str] | str) -> None:
    text = actions if isinstance(actions, str) else json.dumps(actions)
    (logger.home.root / "telegramActions.json").write_text(text)


async def test_custom_actions_text_picture_document(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger, tmp_path
) -> None:
    started_logger.store.append("Gen", "x", [1.0, 2.0], [3.0, 4.5], "V")
    pic = tmp_path / "pic.png"
    pic.write_bytes(b"\x89PNG\r\n\x1a\npicture")
    doc = tmp_path / "notes.txt"
    doc.write_text("some notes")
    write_actions(
        started_logger,
        {
            "Latest x": "v = Gen.x.latest\nreturn 'text', f'x is {v}'",
            "Picture": f"return 'picture', {str(pic)!r}",
            "Document": f"return 'document', {str(doc)!r}",
            "Printer": "print('printed line')",
            "Broken": "x = 1\ny = 1 / 0\nreturn 'text', 'never'",
            "BadKind": "return 'video', 'x'",
        },
    )
    ada = api.user(1, "Ada")
    menu = await start_menu(api, ada)
    assert menu.labels()[:6] == [
        "▶ Latest x",
        "▶ Picture",
        "▶ Document",
        "▶ Printer",
        "▶ Broken",
        "▶ BadKind",
    ]
    await press_text(api, ada, "Latest x", "x is 4.5")
    await start_menu(api, ada)
    await press_text(api, ada, "Picture", "Picture")
    photo = await api.wait_for(lambda: api.sent(1, "sendPhoto"), what="photo")
    assert bytes(photo[0].files["photo"]) == pic.read_bytes()
    await start_menu(api, ada)
    await press_text(api, ada, "Document", "Document")
    document = await api.wait_for(lambda: api.sent(1, "sendDocument"), what="document")
    assert bytes(document[0].files["document"]) == b"some notes"
    await start_menu(api, ada)
    await press_text(api, ada, "Printer", "printed line")
    await start_menu(api, ada)
    # the error names the line of the user's text (2), not of the wrapped script
    err = await press_text(api, ada, "Broken", "⚠")
    assert "line 2" in err.text and "ZeroDivisionError" in err.text
    await start_menu(api, ada)
    await press_text(api, ada, "BadKind", "use 'text', 'picture' or 'document'")


async def test_rtoc_python_literal_actions_file_and_broken_file(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    # RTOC's documentation writes the file as a Python literal with a triple-quoted script
    write_actions(
        started_logger,
        '{\n    "Hello": """\n        name = "RTOC"\n        return \'text\', "hello " + name\n    """\n}\n',
    )
    ada = api.user(1, "Ada")
    await start_menu(api, ada)
    await press_text(api, ada, "Hello", "hello RTOC")
    oops = '{\n    "Oops": """\n        a = 1\n        b = a / 0\n        return "text", "x"\n    """\n}\n'
    write_actions(started_logger, oops)
    os.utime(started_logger.home.root / "telegramActions.json", (2, 2))
    await start_menu(api, ada)
    err = await press_text(api, ada, "Oops", "ZeroDivisionError")
    assert "line 3" in err.text and err.text.startswith("⚠")  # the line in the script's text
    await asyncio.sleep(0.3)
    assert not any("Script.telegram" in t for t in ada.texts())  # no duplicate as a notification
    write_actions(started_logger, "{not json")
    os.utime(started_logger.home.root / "telegramActions.json", (1, 1))
    menu = await start_menu(api, ada)
    assert not any(label.startswith("▶") for label in menu.labels())


async def test_action_never_execs_chat_text(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger, tmp_path
) -> None:
    marker = tmp_path / "pwned"
    ada = api.user(1, "Ada")
    await start_menu(api, ada)
    ada.say(f"__import__('pathlib').Path({str(marker)!r}).touch()")
    await api.wait_for(lambda: len(api.menus(1)) >= 2, what="menu")
    assert not marker.exists()


def test_wrap_returns_and_parses() -> None:
    src, shift = A.wrap("if True:\n    return 'text', 'a'\nreturn 'x'")
    assert src.splitlines()[0].startswith("def _telegram_action") and shift == 1
    assert src.splitlines()[3] == "    return 'x'"
    # RTOC's triple-quoted form: the def takes the empty first line, numbers are kept
    src, shift = A.wrap("\n        x = 1\n        return 'text', x\n    ")
    assert shift == 0 and src.splitlines()[1:3] == ["    x = 1", "    return 'text', x"]
    assert A.fix_lineno("line 3: boom", 1) == "line 2: boom"
    value, out = A.parse_result(["hello", A.RESULT_MARK + repr(("text", "a"))])
    assert value == ("text", "a") and out == "hello"
    assert A.interpret(("picture", "/p.png"), "").kind == "picture"
    assert A.interpret(None, "out").value == "out"
    assert A.interpret(42, "").value == "42"
    with pytest.raises(A.ActionError):
        A.interpret(("video", "x"), "")
    assert A.label("_Admin") == "Admin" and A.is_admin_only("_Admin")


def test_plot_one_panel_per_unit_and_events() -> None:
    x = 1.7e9 + np.arange(1000.0) * 86.4
    one = render_plot([Series("A.v", "V", x, np.sin(x))], [Mark(x[500], "ev", 2)], "t")
    two = render_plot(
        [
            Series("A.v", "V", x, np.sin(x)),
            Series("A.w", "V", x, np.cos(x)),
            Series("B.t", "°C", x, x * 0 + 20),
        ],
        [],
    )
    assert one[:8] == b"\x89PNG\r\n\x1a\n" and two[:8] == b"\x89PNG\r\n\x1a\n"

    def height(png: bytes) -> int:
        return int.from_bytes(png[20:24], "big")

    assert height(two) > height(one)  # two units, two panels
    assert render_plot([], [])[:8] == b"\x89PNG\r\n\x1a\n"


def test_users_store_rtoc_format_and_rules(tmp_path) -> None:
    path = tmp_path / "telegram_clients.json"
    store = UserStore(path)
    admin, created = store.register(10, "Ada", "", "read", 1)
    assert created and admin.permission == "admin" and admin.eventlevel == 1
    bob, _ = store.register(11, "Bob", "", "read", 0)
    assert bob.permission == "read"
    with pytest.raises(UsersError, match="only admin"):
        store.set_permission(10, "write")
    with pytest.raises(UsersError, match="permission must be one of"):
        store.set_permission(11, "root")
    store.set_permission(11, "admin")
    store.set_permission(10, "write")
    assert store.toggle_shortcut(11, 1, "Gen.reset") is True
    assert store.toggle_shortcut(11, 1, "Gen.reset") is False
    # edited by hand (RTOC's Python-literal style) while running: picked up
    path.write_text(
        "{'10': {'eventlevel': 2, 'shortcuts': [['G.p'], []], 'first_name': 'Ada', "
        "'last_name': '', 'permission': 'blocked', 'menu': 'menu'}}"
    )
    assert store.permission(10) == "blocked" and store.get(10).shortcuts == [["G.p"], []]  # type: ignore[union-attr]
    # a broken file is never overwritten and hands out no admin rights
    path.write_text("{broken")
    os.utime(path, (5, 5))
    user, created = store.register(12, "Eve", "", "admin", 0)
    assert not created and user.permission == "blocked"
    with pytest.raises(UsersError, match="could not be read"):
        store.set_eventlevel(10, 1)
    assert path.read_text() == "{broken"
