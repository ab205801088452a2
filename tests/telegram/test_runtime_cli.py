"""The bot inside a running logger (in process and `rtoc run --headless`), the wizard, the CLI."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import sys
from pathlib import Path

from fake_bot_api import TOKEN, FakeBotApi, start_menu
from rich.console import Console
from typer.testing import CliRunner

from rtoc_tui.cli import app
from rtoc_tui.cli.wizard import check_telegram, run_wizard
from rtoc_tui.config.home import Home
from rtoc_tui.runtime import build_logger, stop_logger, write_status_file


def telegram_config(home: Home, api: FakeBotApi, **extra: object) -> None:
    data = json.loads(home.config_file.read_text())
    data["telegram"] = {"active": True, "token": TOKEN, "base_url": api.base_url, **extra}
    data["backup"] = {"active": False}
    home.config_file.write_text(json.dumps(data))


async def test_runtime_attaches_the_bot_and_routes_plugin_messages(
    api: FakeBotApi, home: Home
) -> None:
    telegram_config(home, api, inlineMenu=True)
    logger = build_logger(home)
    bot = logger.telegram
    assert bot is not None
    assert logger.telegram_sink == bot.plugin_send
    await logger.start(autorun=False)
    try:
        await api.wait_for(lambda: bot.connected, what="connect")
        ada = api.user(1, "Ada")
        menu = await start_menu(api, ada)
        assert "Ada (admin)" in menu.text
        logger.telegram_sink("text", "from a plugin", False, "Dev")
        await api.wait_for(lambda: "Dev: from a plugin" in ada.texts(), what="plugin message")
        await asyncio.to_thread(write_status_file, logger)
        status = json.loads(home.status_file.read_text())
        assert status["telegram"]["connected"] is True
        assert status["telegram"]["username"] == "rtoc_test_bot"
        assert TOKEN not in home.status_file.read_text()
    finally:
        await stop_logger(logger)
    assert bot.stopped


async def test_runtime_without_token_or_inactive(home: Home, caplog) -> None:
    data = json.loads(home.config_file.read_text())
    data["telegram"] = {"active": True, "token": ""}
    home.config_file.write_text(json.dumps(data))
    with caplog.at_level(logging.ERROR):
        logger = build_logger(home)
    assert getattr(logger, "telegram", None) is None and logger.telegram_sink is None
    assert "telegram.token is empty" in caplog.text
    data["telegram"] = {"active": False, "token": TOKEN}
    home.config_file.write_text(json.dumps(data))
    assert getattr(build_logger(home), "telegram", None) is None


async def test_rejected_token_stops_trying(api: FakeBotApi, home: Home, caplog) -> None:
    telegram_config(home, api)
    data = json.loads(home.config_file.read_text())
    data["telegram"]["token"] = "999:wrong"
    home.config_file.write_text(json.dumps(data))
    logger = build_logger(home)
    await logger.start(autorun=False)
    try:
        bot = logger.telegram
        assert bot is not None
        await api.wait_for(lambda: "rejected the token" in bot.last_error, what="rejection")
        assert not bot.connected and "999:wrong" not in caplog.text
    finally:
        await stop_logger(logger)


async def test_headless_logger_runs_the_bot(api: FakeBotApi, home: Home) -> None:
    telegram_config(home, api)
    env = {**os.environ, "RTOC_HOME": str(home.root)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rtoc_tui",
        "run",
        "--headless",
        "--home",
        str(home.root),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        ada = api.user(1, "Ada")
        await api.wait_for(lambda: api.sent(method="getMe"), timeout=30, what="getMe")
        ada.say("/start")
        menu = await api.wait_for(lambda: api.menus(1), timeout=20, what="menu")
        assert "Ada (admin)" in menu[-1].text
        assert menu[-1].params["reply_markup"].get("keyboard")  # inlineMenu is false by default
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    assert TOKEN not in err.decode() and TOKEN.split(":")[1] not in err.decode()


async def test_wizard_asks_for_the_token_and_tests_it(api: FakeBotApi, home: Home) -> None:
    # record length, autorun, tcp, storage, sqlite folder, plot rate, web view: kept; then the bot
    keep = [""] * 7
    answers = "\n".join([*keep, "y", "999:bad", "again", TOKEN, "read", "y"]) + "\n"
    data = json.loads(home.config_file.read_text())
    data["telegram"] = {"base_url": api.base_url}
    home.config_file.write_text(json.dumps(data))
    out = io.StringIO()
    console = Console(file=out, width=200, highlight=False)
    result = await asyncio.to_thread(run_wizard, home, console, io.StringIO(answers))
    text = out.getvalue()
    assert "The token did not work" in text and "rejected the token" in text
    assert "the bot is @rtoc_test_bot" in text
    assert result.saved
    saved = json.loads(home.config_file.read_text())["telegram"]
    assert saved["active"] is True and saved["token"] == TOKEN
    assert saved["default_permission"] == "read"
    assert TOKEN not in text
    assert api.sent(method="getMe")


async def test_check_telegram_unreachable() -> None:
    username, error = await asyncio.to_thread(check_telegram, "http://127.0.0.1:9", "1:secret", 2)
    assert username is None and "cannot reach" in (error or "") and "secret" not in (error or "")


def test_rtoc_config_telegram_lists_users_and_changes_roles(home: Home) -> None:
    clients = {
        "1": {
            "eventlevel": 0,
            "shortcuts": [[], []],
            "first_name": "Ada",
            "last_name": "",
            "permission": "admin",
            "menu": "menu",
        },
        "2": {
            "eventlevel": 2,
            "shortcuts": [[], []],
            "first_name": "Bob",
            "last_name": "",
            "permission": "blocked",
            "menu": "menu",
        },
    }
    path = home.root / "telegram_clients.json"
    path.write_text(json.dumps(clients))
    runner = CliRunner()
    res = runner.invoke(app, ["config", "telegram", "--home", str(home.root)])
    assert res.exit_code == 0, res.output
    assert "Telegram bot: off, token not set" in res.output
    assert "Bob" in res.output and "blocked" in res.output and "errors only" in res.output
    res = runner.invoke(app, ["config", "telegram", "--home", str(home.root), "--role", "2=write"])
    assert res.exit_code == 0 and "Bob (2) is now write" in res.output
    assert json.loads(path.read_text())["2"]["permission"] == "write"
    res = runner.invoke(app, ["config", "telegram", "--home", str(home.root), "--role", "1=read"])
    assert res.exit_code == 2 and "only admin" in res.output
    res = runner.invoke(app, ["config", "telegram", "--home", str(home.root), "--role", "x"])
    assert res.exit_code == 2 and "CHAT_ID=ROLE" in res.output
    res = runner.invoke(
        app, ["config", "telegram", "--home", str(home.root), "--remove", "2", "--json"]
    )
    assert res.exit_code == 0
    assert "Removed user 2" in res.output and set(json.loads(path.read_text())) == {"1"}


def test_import_hygiene_core_does_not_import_the_bot() -> None:
    import subprocess

    code = (
        "import sys, rtoc_tui.core.logger, rtoc_tui.core.plugin, rtoc_tui.runtime; "
        "print(any(m == 'telegram' or m.startswith(('telegram.', 'rtoc_tui.telegram', 'matplotlib')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert Path(__file__).parent.name == "telegram"
