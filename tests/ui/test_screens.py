"""Script editor, automation, settings, help, command palette and quitting."""

from __future__ import annotations

import json

import pytest
from textual.command import CommandList
from textual.widgets import Input, Select, Switch

from rtoc_tui.api import ClientError
from rtoc_tui.scripting import attach_automation
from rtoc_tui.ui.app import build_app
from rtoc_tui.ui.panes.devices import DevicesPane
from rtoc_tui.ui.panes.signals import SignalsPane
from rtoc_tui.ui.screens.automation import AutomationScreen, SpecEditor
from rtoc_tui.ui.screens.dialogs import PromptDialog
from rtoc_tui.ui.screens.help import HelpScreen
from rtoc_tui.ui.screens.main import MainScreen
from rtoc_tui.ui.screens.scripts import ScriptListDialog, ScriptScreen
from rtoc_tui.ui.screens.settings import SettingsScreen
from rtoc_tui.ui.widgets.editor import PythonEditor, python_highlights

from .conftest import StableClient, settle, text_of, wait_for


@pytest.fixture
async def auto_logger(ui_logger):
    """The UI logger with scripting, started (no autorun drivers)."""
    attach_automation(ui_logger)
    await ui_logger.start(autorun=False)
    yield ui_logger
    await ui_logger.stop()


async def open_editor(pilot, source):
    app = pilot.app
    await pilot.press("E")
    await wait_for(pilot, lambda: isinstance(app.screen, ScriptScreen))
    screen = app.screen
    screen.query_one(PythonEditor).load_text(source)
    return screen


async def test_script_runs_once_and_prints(auto_logger, clock):
    app = build_app(StableClient(auto_logger), auto_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_editor(pilot, "v = Bench.Voltage.latest\nprint('volts', v)\n")
        await pilot.press("f5")
        await wait_for(
            pilot, lambda: any(line.startswith("volts ") for line in screen.output_lines)
        )
        await wait_for(pilot, lambda: any("finished" in line for line in screen.output_lines))
        latest = auto_logger.store.get("Bench.Voltage").latest()[1]
        assert f"volts {latest}" in screen.output_lines
        run = next(iter(screen.runs.values()))
        assert run.mode == "once" and run.state == "finished"


async def test_script_error_shows_line_and_moves_the_cursor(auto_logger, clock):
    app = build_app(StableClient(auto_logger), auto_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_editor(pilot, "x = 1\ny = 2\nz = x / 0\n")
        await pilot.press("f5")
        await wait_for(pilot, lambda: any("ZeroDivisionError" in ln for ln in screen.output_lines))
        error = next(ln for ln in screen.output_lines if "ZeroDivisionError" in ln)
        assert "line 3" in error
        editor = screen.query_one(PythonEditor)
        assert editor.selection.start == (2, 0) and editor.selected_text == "z = x / 0"


async def test_script_repeat_trigger_and_stop(auto_logger, clock):
    app = build_app(StableClient(auto_logger), auto_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_editor(pilot, "print('tick')\n")
        await pilot.press("f6")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptDialog))
        app.screen.query_one(Input).value = "20"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.output_lines.count("tick") >= 3, what="repeats")
        repeat_id = next(i for i, r in screen.runs.items() if r.mode == "repeat")
        await pilot.press("f8")
        await wait_for(pilot, lambda: screen.runs[repeat_id].state == "stopped", what="stopped")
        # run on new data of a signal
        screen.query_one(PythonEditor).load_text("print('got data')\n")
        await pilot.press("f7")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptDialog))
        app.screen.query_one(Input).value = "Bench.Voltage"
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(r.mode == "trigger" for r in screen.runs.values()))
        auto_logger.stream(7.0, "Voltage", dname="Bench", unit="V", x=clock() + 1)
        await wait_for(pilot, lambda: "got data" in screen.output_lines, what="trigger run")
        await pilot.press("f8")
        trig = next(i for i, r in screen.runs.items() if r.mode == "trigger")
        await wait_for(pilot, lambda: screen.runs[trig].state == "stopped")


async def test_script_save_and_open(auto_logger, clock):
    app = build_app(StableClient(auto_logger), auto_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_editor(pilot, "print('saved')\n")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptDialog))
        app.screen.query_one(Input).value = "bad name!"
        await pilot.press("enter")
        assert isinstance(app.screen, PromptDialog)  # refused, still asking
        app.screen.query_one(Input).value = "hello"
        await pilot.press("enter")
        scripts_dir = auto_logger.home.scripts_dir
        await wait_for(pilot, lambda: (scripts_dir / "hello.py").exists())
        assert not screen.modified
        await pilot.press("ctrl+n")
        assert screen.query_one(PythonEditor).text == ""
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, ScriptListDialog))
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.query_one(PythonEditor).text == "print('saved')\n")
        assert screen.script_name == "hello"


async def test_insert_list_holds_signals_parameters_and_functions(auto_logger, clock):
    auto_logger.devices.start("Generator")
    app = build_app(StableClient(auto_logger), auto_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_editor(pilot, "")
        tree = screen.query_one("#script-help")
        await wait_for(pilot, lambda: len(tree.root.children) == 2, what="help list")
        data = [leaf.data for node in tree.root.children for leaf in node.children]
        assert "Bench.Voltage.latest" in data
        assert "Generator.gen_freq" in data and "Generator.setFrequency()" in data
        await pilot.press("ctrl+g")
        assert tree.has_focus
        tree.move_cursor(tree.root.children[0].children[0])
        await pilot.press("enter")
        assert screen.query_one(PythonEditor).text == "Bench.Current.latest"


async def test_scripting_errors_are_notified_not_fatal(ui_logger, clock):
    """Without the scripting service the client refuses: a notification, and the app lives."""
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = await open_editor(pilot, "print(1)\n")
        await pilot.press("f5")
        await wait_for(pilot, lambda: any("not available" in n.message for n in app._notifications))
        assert any("not available" in ln for ln in screen.output_lines)
        assert app.is_running


def test_python_highlighting():
    spans = python_highlights("def f(x):\n    return 'a' # note\n")
    names = {name for line in spans.values() for (_s, _e, name) in line}
    assert {"keyword", "function", "string", "comment"} <= names
    assert (0, 3, "keyword") in spans[0]


async def test_automation_lists_and_edits(auto_logger, clock):
    app = build_app(StableClient(auto_logger), auto_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("A")
        await wait_for(pilot, lambda: isinstance(app.screen, AutomationScreen))
        screen = app.screen
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, SpecEditor))
        editor = app.screen
        editor.query_one("#spec-name", Input).value = "hot"
        editor.query_one("#spec-text").load_text("{not json")
        await pilot.press("ctrl+s")
        assert "not valid JSON" in str(editor.query_one("#spec-error").render())
        editor.query_one("#spec-text").load_text(
            json.dumps({"cond": "Bench.Voltage.latest > 5.2", "id": "hot", "text": "hot"})
        )
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "hot" in screen.events, what="saved event")
        assert "hot" in json.loads(auto_logger.home.global_events_file.read_text())
        # a condition the logger refuses is reported
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SpecEditor))
        app.screen.query_one("#spec-text").load_text('{"cond": "Bench.Voltage.latest >"}')
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any(n.severity == "error" for n in app._notifications))
        await pilot.press("delete")
        await pilot.press("y")
        await wait_for(pilot, lambda: "hot" not in screen.events, what="deleted")


async def test_settings_save_validates_and_applies(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("O")
        await wait_for(pilot, lambda: isinstance(app.screen, SettingsScreen))
        screen = app.screen
        await wait_for(pilot, lambda: bool(screen.values), what="config values")
        port = screen.query_one("#set-tcp-port", Input)
        assert port.value == "5050"
        port.value = "-1"
        await pilot.press("ctrl+s")
        assert "must be above 0" in str(screen.query_one("#settings-error").render())
        port.value = "5071"
        screen.query_one("#set-tcp-active", Switch).value = True
        screen.query_one("#set-tui-plot_hz", Input).value = "4"
        screen.query_one("#set-tui-theme", Select).value = "nord"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.tui.plot_hz == 4.0, what="plot rate applied")
        saved = json.loads(ui_logger.home.config_file.read_text())
        assert saved["tcp"]["port"] == 5071 and saved["tcp"]["active"] is True
        assert saved["tui"]["theme"] == "nord" and app.theme == "nord"
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_help_screen(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = " ".join(text_of(s.content) for s in app.screen.query("Static"))
        for words in ("Pause", "Start/stop", "Stats", "Run", "Command palette"):
            assert words in text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


def hits(app) -> int:
    lists = app.screen.query(CommandList)
    return lists.first().option_count if lists else 0


async def test_command_palette_finds_devices_and_signals(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"start device gen")
        await wait_for(pilot, lambda: hits(app) > 0, what="hits")
        await pilot.press("enter")
        await wait_for(pilot, lambda: ui_logger.devices.get("Generator") is not None)
        await wait_for(
            pilot, lambda: app.screen.query_one(DevicesPane).devices["Generator"].state == "running"
        )
        await pilot.press("ctrl+p")
        await pilot.press(*"Bench.Voltage: plot")
        await wait_for(pilot, lambda: hits(app) > 0, what="hits")
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: "Bench.Voltage" not in app.screen.query_one(SignalsPane).plotted
        )


async def test_q_quits(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, what="exit")
    assert app.return_code == 0


async def test_ctrl_q_quits_from_the_editor(ui_logger, clock):
    app = build_app(StableClient(ui_logger), ui_logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await open_editor(pilot, "")
        await pilot.press("q")  # typed into the editor, does not quit
        assert app.is_running and app.screen.query_one(PythonEditor).text == "q"
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, what="exit")


def test_client_error_type_is_what_the_ui_catches():
    assert issubclass(ClientError, RuntimeError)


async def test_keys_can_be_remapped_from_config(make_logger, clock):
    logger = make_logger({"tui": {"keymap": {"plot.pause": "z", "scripts": "ctrl+e"}}}, clock=clock)
    app = build_app(StableClient(logger), logger.config, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = app.screen.query_one("PlotPane")
        await pilot.press("z")
        assert plot.paused
        await pilot.press("p")  # no longer bound: it starts the signal filter instead
        assert plot.paused
        assert app.screen.query_one("#signals-filter", Input).value == "p"
        await pilot.press("escape", "escape")
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: isinstance(app.screen, ScriptScreen))
