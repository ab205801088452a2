"""Every menu of the bot, driven by fake users through the fake Bot API server."""

from __future__ import annotations

import json
import time

import numpy as np
from fake_bot_api import FakeBotApi, press, press_text, reply, start_menu

from rtoc_tui.core.logger import Logger
from rtoc_tui.telegram.bot import TelegramBot


def fill(logger: Logger) -> None:
    now = time.time()
    x = now - 600 + np.arange(600.0)
    logger.store.append("Gen", "volt", x, np.sin(x / 30.0), "V")
    logger.store.append("Gen", "amp", x, np.cos(x / 30.0), "A")
    logger.store.append("Heat", "temp", x, 20 + np.arange(600.0) / 100, "°C")


async def test_first_user_is_admin_and_main_menu_by_role(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    bot.settings.default_permission = "read"
    ada, bob = api.user(1, "Ada", "Lovelace"), api.user(2, "Bob")
    menu = await start_menu(api, ada)
    assert "Ada Lovelace (admin)" in menu.text
    assert set(menu.labels()) >= {
        "📈 Latest values",
        "📊 Signals",
        "🔌 Devices",
        "✉ Send event/signal",
        "⚙ Automation",
        "🛠 Settings",
    }
    menu = await start_menu(api, bob)
    assert "(read)" in menu.text
    assert menu.labels() == ["📈 Latest values", "📊 Signals", "🛠 Settings"]
    # the admin was told about the new user
    await api.wait_for(
        lambda: any("New Telegram user Bob" in t for t in ada.texts()), what="admin notice"
    )
    data = json.loads((started_logger.home.root / "telegram_clients.json").read_text())
    assert data["1"]["permission"] == "admin" and data["2"]["permission"] == "read"
    assert data["1"]["first_name"] == "Ada" and data["1"]["shortcuts"] == [[], []]
    assert data["1"]["eventlevel"] == 0 and data["1"]["menu"] == "menu"


async def test_latest_values(api: FakeBotApi, bot: TelegramBot, started_logger: Logger) -> None:
    fill(started_logger)
    ada = api.user(1, "Ada")
    await start_menu(api, ada)
    menu = await press(api, ada, "Latest values", "Latest values")
    assert "Heat.temp: 25.99 °C" in menu.text and "Gen.volt:" in menu.text
    started_logger.store.append("Heat", "temp", [time.time()], [30.5], "°C")
    menu = await press(api, ada, "Refresh", "30.5")
    menu = await press(api, ada, "Back", "signed in")


async def test_signals_select_period_plot_with_events(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    fill(started_logger)
    started_logger.event("spike", dname="Gen", sname="volt", priority=1, x=time.time() - 300)
    ada = api.user(1, "Ada")
    await start_menu(api, ada)
    menu = await press(api, ada, "Signals", "Signals: 3")
    assert "▫ Gen.volt" in menu.labels() and "Selected: none" in menu.text
    # plotting without a selection says what to do
    menu = await press(api, ada, "Generate plot", "Select at least one signal")
    menu = await press(api, ada, "Gen.volt", "Selected: Gen.volt")
    menu = await press(api, ada, "Heat.temp", "Selected: Gen.volt, Heat.temp")
    assert "✅ Gen.volt" in menu.labels()
    menu = await press(api, ada, "Select period", "Plot period")
    menu = await press(api, ada, "10 min", "Period: 10 min")
    n_photos = len(api.sent(ada.id, "sendPhoto"))
    await press(api, ada, "Generate plot", "Signals")
    photo = await api.wait_for(lambda: api.sent(ada.id, "sendPhoto")[n_photos:], what="plot")
    assert photo[0].files["photo"][:8] == b"\x89PNG\r\n\x1a\n"
    assert "2 signals" in photo[0].text and "1 events" in photo[0].text
    # hiding events drops the marks
    menu = await press(api, ada, "Hide events", "Events in the plot: hidden")
    await press(api, ada, "Generate plot", "Signals")
    photos = await api.wait_for(
        lambda: (
            len(api.sent(ada.id, "sendPhoto")) == n_photos + 2 and api.sent(ada.id, "sendPhoto")
        ),
        what="second plot",
    )
    assert "0 events" in photos[-1].text
    # a typed period
    await press(api, ada, "Select period", "Plot period")
    await press(api, ada, "Other", "period in hours")
    await reply(api, ada, "abc", "must be a number")
    await reply(api, ada, "2.5", "Period: 2.5 h")
    # deselect
    menu = await press(api, ada, "Heat.temp", "Selected: Gen.volt.")


async def test_admin_deletes_signals_and_events(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    fill(started_logger)
    started_logger.event("old event")
    ada = api.user(1, "Ada")
    await start_menu(api, ada)
    await press(api, ada, "Signals", "Signals: 3")
    await press(api, ada, "Gen.amp", "Selected: Gen.amp")
    await press(api, ada, "Delete signals", "Delete the signals Gen.amp")
    await press(api, ada, "Yes, delete", "Deleted Gen.amp")
    assert started_logger.store.get("Gen.amp") is None
    assert started_logger.store.get("Gen.volt") is not None
    await press(api, ada, "Delete events", "Delete all events?")
    await press(api, ada, "Cancel", "Signals")
    assert len(started_logger.events) == 1
    await press(api, ada, "Delete events", "Delete all events?")
    await press(api, ada, "Yes, delete", "All events deleted")
    assert len(started_logger.events) == 0


async def test_devices_start_functions_parameters_samplerate_shortcuts(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    ada = api.user(1, "Ada")
    await start_menu(api, ada)
    menu = await press(api, ada, "Devices", "Devices:")
    assert any("Generator" in label for label in menu.labels())
    await press(api, ada, "Generator", "Generator: stopped")
    menu = await press(api, ada, "Start", "Generator is running")
    assert "⏹ Stop" in menu.labels()
    # functions: one without required arguments runs at once, one with asks for them
    await press(api, ada, "Functions", "Functions of Generator")
    await press(api, ada, "changeType", "returned: True")
    await press(api, ada, "setFrequency", "Send the arguments")
    await reply(api, ada, "2.5", "setFrequency() returned: True")
    plugin = started_logger.devices.get("Generator")
    assert plugin is not None and plugin.gen_freq == 2.5
    # parameters
    await press(api, ada, "Back", "Generator: running")
    menu = await press(api, ada, "Parameters", "Parameters of Generator")
    await press(api, ada, "gen_level", "Send the new value of Generator.gen_level")
    await reply(api, ada, "3", "Generator.gen_level = 3")
    assert plugin.gen_level == 3
    await press(api, ada, "waveform", "new value")
    await reply(api, ada, "Triangle", "waveform must be one of")
    await reply(api, ada, "Sinus", "Generator.waveform = Sinus")  # asked again after an error
    # samplerate
    await press(api, ada, "Back", "Generator: running")
    await press(api, ada, "Change samplerate", "new samplerate")
    await reply(api, ada, "5", "Samplerate of Generator: 5 Hz")
    assert plugin.samplerate == 5
    # shortcuts: a star adds a parameter and a function to the main menu
    await press(api, ada, "Parameters", "Parameters of Generator")
    menu = api.menus(ada.id)[-1]
    labels = menu.labels()
    star = labels[labels.index(next(x for x in labels if x.startswith("gen_level"))) + 1]
    await press(api, ada, star, "Shortcut Generator.gen_level added")
    await press(api, ada, "Back", "Generator: running")
    await press(api, ada, "Functions", "Functions of")
    labels = api.menus(ada.id)[-1].labels()
    star = labels[labels.index(next(x for x in labels if x.startswith("changeType"))) + 1]
    await press(api, ada, star, "Shortcut Generator.changeType added")
    clients = json.loads((started_logger.home.root / "telegram_clients.json").read_text())
    assert clients["1"]["shortcuts"] == [["Generator.gen_level"], ["Generator.changeType"]]
    menu = await start_menu(api, ada)
    assert "★ Generator.gen_level" in menu.labels() and "★ Generator.changeType()" in menu.labels()
    await press(api, ada, "★ Generator.gen_level", "Generator.gen_level = 3")
    await reply(api, ada, "4", "Generator.gen_level = 4")
    assert plugin.gen_level == 4
    await press(api, ada, "★ Generator.changeType()", "changeType() returned: True")
    # stop
    await press(api, ada, "Devices", "Devices:")
    await press(api, ada, "Generator", "Generator: running")
    await press(api, ada, "Stop", "Generator is stopped")


async def test_send_event_and_measurement(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    ada = api.user(1, "Ada", "L")
    await start_menu(api, ada)
    await press(api, ada, "Send event/signal", "Send an event")
    await press(api, ada, "Warning event", "text of the warning event")
    await reply(api, ada, "door open", "Event sent")
    ev = [e for e in started_logger.events.all() if e.text == "door open"]
    assert ev and ev[0].priority == 1 and ev[0].dname == "Telegram" and ev[0].sname == "Ada L"
    await press(api, ada, "Measurement", "Device.Signal value")
    await reply(api, ada, "nonsense", "Send `Device.Signal value")
    await reply(api, ada, "Manual.Temperature 21,5 °C", "Manual.Temperature = 21.5 °C")
    buf = started_logger.store.get("Manual.Temperature")
    assert buf is not None and buf.latest()[1] == 21.5 and buf.unit == "°C"


async def test_automation_add_edit_toggle_delete(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    auto = started_logger.automation  # type: ignore[attr-defined]
    ada = api.user(1, "Ada")
    await start_menu(api, ada)
    menu = await press(api, ada, "Automation", "Global events: 0")
    assert "Events: off" in menu.labels()
    await press(api, ada, "Events: off", "evaluated")
    assert started_logger.config.global_.globalEventsActivated is True
    await press(api, ada, "Actions: off", "running")
    assert started_logger.config.global_.globalActionsActivated is True
    await press(api, ada, "Global events", "No global events yet")
    await press(api, ada, "Add event", "one field a line")
    await reply(api, ada, "big\nGen.x.latest >= 2\nIt is big\nbigID\n1", "Global event added")
    spec = auto.global_events()["big"]
    assert spec["cond"] == "Gen.x.latest >= 2" and spec["id"] == "bigID" and spec["priority"] == 1
    await press(api, ada, "Disable", "Disabled")
    assert auto.global_events()["big"]["active"] is False
    await press(api, ada, "Enable", "Enabled")
    await press(api, ada, "✏ text", "new text of big")
    await reply(api, ada, "Really big", "text changed")
    assert auto.global_events()["big"]["text"] == "Really big"
    await press(api, ada, "✏ cond", "new cond")
    await reply(api, ada, "1 +", "condition")  # a broken condition is refused with the reason
    assert auto.global_events()["big"]["cond"] == "Gen.x.latest >= 2"
    # actions
    await start_menu(api, ada)
    await press(api, ada, "Automation", "Global events: 1")
    await press(api, ada, "Global actions", "No global actions")
    await press(api, ada, "Add action", "one field a line")
    await reply(api, ada, "act\nbigID, other\nGen.level = 1\nprint('x')", "Global action added")
    spec = auto.global_actions()["act"]
    assert spec["listenID"] == ["bigID", "other"] and spec["script"] == "Gen.level = 1\nprint('x')"
    await press(api, ada, "✏ listenID", "new listenID")
    await reply(api, ada, "only", "listenID changed")
    assert auto.global_actions()["act"]["listenID"] == ["only"]
    await press(api, ada, "Delete", "Delete the global action act?")
    await press(api, ada, "Yes, delete", "Deleted act")
    assert "act" not in auto.global_actions()


async def test_settings_notifications_general_backup(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    ada = api.user(1, "Ada")
    await start_menu(api, ada)
    menu = await press(api, ada, "Settings", "Settings")
    assert menu.labels() == [
        "🔔 Event notifications",
        "⚙ General",
        "🤖 Telegram bot",
        "💾 Backup",
        "⬅ Back",
    ]
    await press(api, ada, "Event notifications", "all events")
    await press(api, ada, "Errors only", "errors only")
    assert bot.users.get(1).eventlevel == 2  # type: ignore[union-attr]
    await press(api, ada, "Back", "Settings")
    await press(api, ada, "General", "recordLength")
    await press(api, ada, "recording length", "number of samples")
    await reply(api, ada, "0", "at least 1")
    await reply(api, ada, "1234", "Recording length set to 1,234")
    assert started_logger.store.record_length == 1234
    assert json.loads(started_logger.home.config_file.read_text())["global"]["recordLength"] == 1234
    await press(api, ada, "TCP server: off", "TCP server on from the next start")
    assert started_logger.config.tcp.active is True
    assert "🔁 Reboot host" not in api.menus(ada.id)[-1].labels()  # allowReboot is off
    await press(api, ada, "global samplerate", "samplerate in Hz")
    await reply(api, ada, "2", "no running device")
    await start_menu(api, ada)
    await press(api, ada, "Settings", "Settings")
    menu = await press(api, ada, "Backup", "Persist recordings")
    await press(api, ada, "Clear memory after storing: off", "Saved")
    assert started_logger.config.backup.clear is True
    await press(api, ada, "Flush interval", "flush interval")
    await reply(api, ada, "2.5", "Flush interval: 2.5 s")
    await press(api, ada, "Resample database", "resampled")
    await reply(api, ada, "-1", "0 (off) or more")
    await reply(api, ada, "0.5", "Resample before storing: 0.5 Hz")
    assert started_logger.config.backup.resample == 0.5
    fill(started_logger)
    started_logger.event("e")
    await press(api, ada, "Delete all data", "Delete all signals and all events?")
    await press(api, ada, "Yes, delete everything", "Deleted 3 signals and all events")
    assert not started_logger.store.info() and len(started_logger.events) == 0


async def test_global_samplerate_sets_every_running_device(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    ada = api.user(1, "Ada")
    await start_menu(api, ada)
    await press(api, ada, "Devices", "Devices:")
    await press(api, ada, "Generator", "stopped")
    await press(api, ada, "Start", "running")
    await start_menu(api, ada)
    await press(api, ada, "Settings", "Settings")
    await press(api, ada, "General", "recordLength")
    await press(api, ada, "global samplerate", "samplerate in Hz")
    await reply(api, ada, "4", "set for: Generator")
    assert started_logger.devices.get("Generator").samplerate == 4  # type: ignore[union-attr]


async def test_telegram_clients_menu_changes_roles(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    ada, bob = api.user(1, "Ada"), api.user(2, "Bob")
    await start_menu(api, ada)
    bob.say("/start")
    await api.wait_for(lambda: "not permitted" in bob.texts(), what="bob refused")
    await press(api, ada, "Settings", "Settings")
    menu = await press(api, ada, "Telegram bot", "Bot @rtoc_test_bot: 2 users")
    assert "Bob (blocked)" in menu.labels() and "New users get: blocked" in menu.text
    await press(api, ada, "Bob (blocked)", "Bob (chat 2): blocked")
    await press(api, ada, "write", "Permission set to write")
    menu = await start_menu(api, bob)
    assert "(write)" in menu.text and "🔌 Devices" in menu.labels()
    # the only admin cannot demote themselves
    await press(api, ada, "Back", "Bot @")
    await press(api, ada, "Ada (admin)", "Ada (chat 1)")
    await press_text(api, ada, "read", "only admin")
    assert bot.users.get(1).permission == "admin"  # type: ignore[union-attr]
    # switches
    await press(api, ada, "Back", "Bot @")
    await press(api, ada, "Only admins: off", "Saved")
    assert bot.settings.onlyAdmin is True
    bob.say("/start")
    await api.wait_for(lambda: bob.texts()[-1] == "not permitted", what="bob refused again")
    await press(api, ada, "Only admins: on", "Saved")
    # remove a user
    await press(api, ada, "Bob (write)", "Bob (chat 2)")
    await press(api, ada, "Remove user", "User removed")
    assert bot.users.get(2) is None


async def test_keyboard_menu_mode(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger
) -> None:
    bot.settings.inlineMenu = False
    fill(started_logger)
    ada = api.user(1, "Ada")
    menu = await start_menu(api, ada)
    assert menu.method == "sendMessage" and "keyboard" in menu.params["reply_markup"]
    assert menu.buttons()[0][1] is None  # labels, no callback data
    menu = await press(api, ada, "📈 Latest values", "Heat.temp")
    menu = await press(api, ada, "⬅ Back", "signed in")
    await press(api, ada, "📊 Signals", "Signals: 3")
    await press(api, ada, "▫ Gen.volt", "Selected: Gen.volt")
    # a typed answer in keyboard mode
    await press(api, ada, "⬅ Back", "signed in")
    await press(api, ada, "✉ Send event/signal", "Send an event")
    await press(api, ada, "ℹ️ Info event", "text of the info event")
    await reply(api, ada, "typed", "Event sent")
    assert any(e.text == "typed" for e in started_logger.events.all())
    # unknown text shows the main menu again
    await reply(api, ada, "hello?", "signed in")


async def test_reboot_needs_switch_admin_and_confirmation(
    api: FakeBotApi, bot: TelegramBot, started_logger: Logger, tmp_path
) -> None:
    marker = tmp_path / "rebooted"
    bot.settings.allowReboot = True
    bot.settings.rebootCommand = f"touch {marker}"
    ada = api.user(1, "Ada")
    await start_menu(api, ada)
    await press(api, ada, "Settings", "Settings")
    await press(api, ada, "General", "recordLength")
    await press(api, ada, "Reboot host", "Reboot the host computer now?")
    await press(api, ada, "Cancel", "recordLength")
    assert not marker.exists()
    await press(api, ada, "Reboot host", "Reboot the host computer now?")
    # switched off between the menu and the confirmation: refused
    bot.settings.allowReboot = False
    await press_text(api, ada, "Yes, reboot", "switched off")
    assert not marker.exists()
    bot.settings.allowReboot = True
    await start_menu(api, ada)
    await press(api, ada, "Settings", "Settings")
    await press(api, ada, "General", "recordLength")
    await press(api, ada, "Reboot host", "Reboot the host computer now?")
    await press(api, ada, "Yes, reboot", "Rebooting")
    assert marker.exists()
