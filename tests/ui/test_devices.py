"""Devices pane and device screen: start, stop, errors, parameters, functions, samplerate."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Label, Static

from rtoc_tui.ui.app import build_app
from rtoc_tui.ui.panes.devices import DevicesPane, DevicesTable
from rtoc_tui.ui.screens.device import DeviceScreen, parse_arguments, parse_value
from rtoc_tui.ui.screens.dialogs import PromptDialog

from .conftest import StableClient, settle, wait_for

BROKEN = '''
from LoggerPlugin import LoggerPlugin


class Plugin(LoggerPlugin):
    """Always fails to start."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        raise RuntimeError("no device on /dev/ttyUSB9")
'''


def device_state(app, name):
    return app.screen.query_one(DevicesPane).devices[name].state


async def select_device(pilot, name):
    app = pilot.app
    await pilot.press("D")
    table = app.screen.query_one(DevicesTable)
    assert table.has_focus
    names = list(app.screen.query_one(DevicesPane).devices)
    table.move_cursor(row=names.index(name))
    await pilot.pause()


async def test_start_and_stop_with_keys(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await select_device(pilot, "Generator")
        await pilot.press("space")
        await wait_for(pilot, lambda: device_state(app, "Generator") == "running")
        assert ui_logger.devices.get("Generator") is not None
        await pilot.press("space")
        await wait_for(pilot, lambda: device_state(app, "Generator") == "stopped")
        assert ui_logger.devices.get("Generator") is None


async def test_failing_driver_shows_error_with_reason(home, make_logger, clock):
    (home.devices_dir / "Broken.py").write_text(BROKEN, encoding="utf-8")
    logger = make_logger(clock=clock)
    app = build_app(StableClient(logger, ("Broken", "Generator")), logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await select_device(pilot, "Broken")
        await pilot.press("s")
        await wait_for(pilot, lambda: device_state(app, "Broken") == "error")
        info = app.screen.query_one(DevicesPane).devices["Broken"]
        assert "no device on /dev/ttyUSB9" in info.reason
        table = app.screen.query_one(DevicesTable)
        assert "ttyUSB9" in str(table.get_cell("Broken", "note"))
        await wait_for(
            pilot,
            lambda: any("ttyUSB9" in n.message for n in app._notifications),
            what="an error notification",
        )


async def test_device_screen_edits_parameters_and_calls_functions(ui_logger, clock):
    plugin = ui_logger.devices.start("Generator")
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await select_device(pilot, "Generator")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        screen = app.screen
        await wait_for(pilot, lambda: screen.detail is not None, what="device detail")
        params = screen.query_one("#params-table", DataTable)
        names = [p.name for p in screen.detail.parameters]
        assert {"gen_freq", "waveform", "samplerate"} <= set(names)

        # edit gen_freq in place
        params.focus()
        params.move_cursor(row=names.index("gen_freq"))
        await pilot.press("enter")
        edit = screen.query_one("#edit-input", Input)
        assert edit.has_focus and edit.value == "1.0"
        edit.value = ""
        await pilot.press("2", ".", "5", "enter")
        await wait_for(pilot, lambda: plugin.gen_freq == 2.5, what="gen_freq set")
        await wait_for(pilot, lambda: "gen_freq = 2.5" in screen.last_result)

        # an invalid value is refused with the logger's reason, and the editor stays open
        params.move_cursor(row=names.index("waveform"))
        params.focus()
        await pilot.press("enter")
        edit.value = "Nope"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "waveform must be one of" in screen.last_result)
        assert screen.query_one("#device-edit").display
        assert plugin.waveform == "Square"
        await pilot.press("escape")
        assert not screen.query_one("#device-edit").display

        # call a function with arguments and see the result
        funcs = screen.query_one("#functions-table", DataTable)
        fnames = [f.name for f in screen.detail.functions]
        funcs.focus()
        funcs.move_cursor(row=fnames.index("setFrequency"))
        await pilot.press("enter")
        await pilot.press("4", "enter")
        await wait_for(pilot, lambda: "→ True" in screen.last_result, what="function result")
        assert plugin.gen_freq == 4.0
        assert "True" in str(screen.query_one("#device-result", Static).render())

        # arguments that are not literals are refused before anything is sent
        funcs.focus()
        await pilot.press("enter")
        edit.value = "os.system('x')"
        await pilot.press("enter")
        assert "literals" in screen.last_result
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, DeviceScreen))


async def test_samplerate_prompt_validates_and_sets(ui_logger, clock):
    plugin = ui_logger.devices.start("Generator")
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await select_device(pilot, "Generator")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptDialog))
        dialog = app.screen
        box = dialog.query_one(Input)
        assert box.value == "10"
        box.value = "abc"
        await pilot.press("enter")
        assert "number" in str(dialog.query_one("#prompt-error", Label).render())
        box.value = "5"
        await pilot.press("enter")
        await wait_for(pilot, lambda: plugin.samplerate == 5.0, what="samplerate")
        await wait_for(
            pilot, lambda: app.screen.query_one(DevicesPane).devices["Generator"].samplerate == 5.0
        )


async def test_samplerate_of_a_stopped_device_is_refused(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await select_device(pilot, "System")
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, PromptDialog)
        assert any("not running" in n.message for n in app._notifications)


def test_parse_value_and_arguments():
    assert parse_value("2.5", None) == 2.5
    assert parse_value("True", None) is True
    assert parse_value("hello", None) == "hello"
    assert parse_arguments("1, 2.5, inverse=True") == ([1, 2.5], {"inverse": True})
    assert parse_arguments("") == ([], {})
    for bad in ("1,,", "__import__('os')", "**x"):
        try:
            parse_arguments(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


FLAKY = """
from LoggerPlugin import LoggerPlugin


class Plugin(LoggerPlugin):
    \"\"\"Starts, then every poll fails: the device is in error and keeps retrying.\"\"\"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setDeviceName("Flaky")
        self.setPerpetualTimer(self.poll, samplerate=20)
        self.start()

    def poll(self):
        raise OSError("cannot open /dev/ttyUSB7")
"""


async def test_a_device_in_error_can_be_stopped_and_retried_at_80x24(home, make_logger, clock):
    """Issue 13 item 6: space stops a device in error (it was started again), R retries now,
    and the reason shows in the pane at 80 columns, where the note column is off-screen."""
    (home.devices_dir / "Flaky.py").write_text(FLAKY, encoding="utf-8")
    (home.devices_dir / "Broken.py").write_text(BROKEN, encoding="utf-8")
    logger = make_logger(clock=clock)
    app = build_app(StableClient(logger, ("Broken", "Flaky")), logger.config, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await select_device(pilot, "Flaky")
        await pilot.press("space")
        await wait_for(pilot, lambda: device_state(app, "Flaky") == "error", what="error")
        pane = app.screen.query_one(DevicesPane)
        await wait_for(
            pilot, lambda: "ttyUSB7" in str(pane.border_subtitle), what="the reason in the pane"
        )
        old = logger.devices.get("Flaky")
        await pilot.press("R")  # retry now: a new plugin instance
        await wait_for(
            pilot,
            lambda: logger.devices.get("Flaky") not in (None, old),
            what="a restarted device",
        )
        await pilot.press("space")
        await wait_for(pilot, lambda: device_state(app, "Flaky") == "stopped", what="stopped")
        assert logger.devices.get("Flaky") is None
        # a driver that failed to start: space acknowledges it (stopped), space again retries
        await select_device(pilot, "Broken")
        await pilot.press("space")
        await wait_for(pilot, lambda: device_state(app, "Broken") == "error", what="start error")
        await pilot.press("space")
        await wait_for(pilot, lambda: device_state(app, "Broken") == "stopped", what="ack")
