"""Plugins written for RTOC load and fail like they did there, or say what to do (issue 16).

Each test copies one fixture plugin folder from fixtures/rtoc_plugins into a fresh user folder.
"""

from __future__ import annotations

import shutil
import sys
import threading
from pathlib import Path

import pytest
from helpers import wait_for
from typer.testing import CliRunner

from rtoc_tui.cli import app
from rtoc_tui.core import introspect
from rtoc_tui.core.devices import DeviceError
from rtoc_tui.core.logger import Logger

FIXTURES = Path(__file__).parent / "fixtures" / "rtoc_plugins"


def bring(logger: Logger, *names: str) -> None:
    for name in names:
        shutil.copytree(FIXTURES / name, logger.home.devices_dir / name)
    logger.devices.refresh()


def test_plugin_folders_load_as_packages(logger: Logger) -> None:
    bring(logger, "PIKO", "HoldPeak VC820")
    try:
        logger.devices.start("PIKO")  # from .Piko import Piko
        logger.devices.start("HoldPeak VC820")  # from .vc820py.vc820 import ..., import sibling
        wait_for(lambda: logger.store.get("PIKO.Power") is not None)
        wait_for(lambda: logger.store.get("HoldPeak.Voltage") is not None)
        assert logger.store.get("PIKO.Power").latest()[1] > 1000
        assert logger.store.get("HoldPeak.Voltage").latest()[1] == pytest.approx(1.4)
        assert logger.store.get("HoldPeak.Voltage").unit == "V"
    finally:
        logger.devices.stop_all()


def test_two_user_folders_in_one_process_do_not_share_plugin_modules(
    logger: Logger, tmp_path: Path
) -> None:
    bring(logger, "PIKO")
    other = Logger.from_home(type(logger.home)(tmp_path / "other"))
    other.home.ensure()
    shutil.copytree(FIXTURES / "PIKO", other.home.devices_dir / "PIKO")
    (other.home.devices_dir / "PIKO" / "Piko.py").write_text(
        "class Piko:\n    def __init__(self, host):\n        pass\n"
        "    def power(self):\n        return -5.0\n"
    )
    other.devices.refresh()
    try:
        logger.devices.start("PIKO")
        other.devices.start("PIKO")
        wait_for(lambda: other.store.get("PIKO.Power") is not None)
        wait_for(lambda: logger.store.get("PIKO.Power") is not None)
        assert other.store.get("PIKO.Power").latest()[1] == -5.0
        assert logger.store.get("PIKO.Power").latest()[1] > 1000
    finally:
        logger.devices.stop_all()
        other.devices.stop_all()


def test_sys_exit_on_import_is_the_plugins_failure(logger: Logger) -> None:
    bring(logger, "ExitOnImport")
    with pytest.raises(DeviceError) as err:
        logger.devices.start("ExitOnImport")
    reason = str(err.value)
    assert "sys.exit(1)" in reason
    assert "rtoc_fixture_missing_serial_lib" in reason and "pip install" in reason
    assert "ExitOnImport.py line" in reason
    # autorun goes on with the next driver; the logger is alive
    try:
        assert logger.devices.autorun(["ExitOnImport", "Generator"]) == ["Generator"]
    finally:
        logger.devices.stop_all()
    status = {d.name: d for d in logger.devices.status()}
    assert (
        status["ExitOnImport"].state == "error" and "sys.exit(1)" in status["ExitOnImport"].reason
    )


def test_drivers_list_survives_a_plugin_that_exits(logger: Logger) -> None:
    bring(logger, "ExitOnImport")
    result = CliRunner().invoke(
        app, ["drivers", "list", "--home", str(logger.home.root)], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 0, result.output
    assert "ExitOnImport" in result.output and "sys.exit(1)" in result.output
    assert "Generator" in result.output


def test_sys_exit_in_the_timer_is_an_error_state_not_a_dead_thread(logger: Logger) -> None:
    bring(logger, "ExitInTimer")
    plugin = logger.devices.start("ExitInTimer")
    try:
        wait_for(lambda: plugin._state[0] == "error")
        assert "sys.exit('port closed')" in plugin._state[1]
        assert plugin._timer is not None and plugin._timer.running  # retrying with back-off
    finally:
        logger.devices.stop_all()


def test_a_crashed_plugin_thread_is_an_error_with_one_event(
    logger: Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    bring(logger, "ThreadCrash")
    plugin = logger.devices.start("ThreadCrash")
    try:
        wait_for(lambda: plugin._state[0] == "error")
        state = {d.name: d for d in logger.devices.status()}["ThreadCrash"]
        assert state.state == "error"
        assert "died" in state.reason and "UnicodeDecodeError" in state.reason
        assert "ThreadCrash.py line" in state.reason
        errors = [e for e in logger.events.all() if e.id == "deviceError"]
        assert len(errors) == 1 and errors[0].dname == "ThreadCrash"
        assert "Traceback" not in capsys.readouterr().err  # reported, not a bare traceback
    finally:
        logger.devices.stop_all()


def test_threads_of_other_code_keep_pythons_hook(logger: Logger) -> None:
    logger.devices.start("Generator")  # installs the hook
    seen: list[str] = []
    previous = sys.modules["rtoc_tui.core.devices"]._previous_hook
    sys.modules["rtoc_tui.core.devices"]._previous_hook = lambda args: seen.append(
        str(args.exc_value)
    )
    try:
        t = threading.Thread(target=lambda: 1 / 0)
        t.start()
        t.join()
    finally:
        sys.modules["rtoc_tui.core.devices"]._previous_hook = previous
        logger.devices.stop_all()
    assert seen == ["division by zero"]
    assert not [e for e in logger.events.all() if e.id == "deviceError"]


def test_plugins_for_old_python_get_compatible_modules(logger: Logger) -> None:
    bring(logger, "OldPython")
    plugin = logger.devices.start("OldPython")
    try:
        wait_for(lambda: logger.store.get("OldPython.Temp") is not None)
        buf = logger.store.get("OldPython.Temp")
        assert buf.latest()[1] == 2.5 and buf.unit == "°C"
        assert plugin.token == "cnRvYw=="
        assert plugin._state[0] == "running"
    finally:
        logger.devices.stop_all()
    # only plugin code sees the shims
    import json

    with pytest.raises(TypeError):
        json.loads("{}", encoding="utf-8")


def test_a_removed_api_without_a_shim_names_the_python_change_and_line(logger: Logger) -> None:
    bring(logger, "RemovedApi")
    plugin = logger.devices.start("RemovedApi")
    try:
        wait_for(lambda: plugin._state[0] == "error")
        reason = plugin._state[1]
        assert "removed in Python 3.9" in reason and "tobytes()" in reason
        assert "RemovedApi.py line 16" in reason
    finally:
        logger.devices.stop_all()


def test_qt_only_members_are_hidden(logger: Logger) -> None:
    bring(logger, "GuiOnly")
    plugin = logger.devices.start("GuiOnly")
    try:
        assert introspect.function_names(plugin) == ["connect"]
        assert introspect.parameter_names(plugin) == ["port", "samplerate"]
        with pytest.raises(introspect.IntrospectionError):
            introspect.call_function(plugin, "loadGUI")
        assert introspect.gui_only(plugin)
        introspect.call_function(plugin, "connect", "/dev/ttyUSB1")
        wait_for(lambda: logger.store.get("GuiOnly.Value") is not None)
        assert not introspect.gui_only(plugin)
    finally:
        logger.devices.stop_all()


def test_drivers_test_says_a_gui_only_plugin_needs_starting(logger: Logger) -> None:
    bring(logger, "GuiOnly")
    result = CliRunner().invoke(
        app,
        ["drivers", "test", "GuiOnly", "--home", str(logger.home.root), "--timeout", "5"],
        env={"COLUMNS": "300"},
    )
    assert result.exit_code == 1
    assert "RTOC's Qt GUI" in result.output and "no reading within" not in result.output


async def test_sys_exit_over_tcp_is_answered_and_the_server_keeps_serving(
    logger: Logger,
) -> None:
    import asyncio

    from rtoc_tui.core.jsonsocket import Client
    from rtoc_tui.server.tcp import TcpServer

    bring(logger, "ExitOnImport")
    (logger.home.devices_dir / "Quitter.py").write_text(
        "import sys\nfrom LoggerPlugin import LoggerPlugin\n"
        "class Plugin(LoggerPlugin):\n"
        "    def quit(self, code=3):\n        sys.exit(code)\n"
    )
    logger.devices.refresh()
    srv = TcpServer(logger, port=0)
    await srv.start()

    def ask(request: dict) -> dict:
        client = Client().connect("127.0.0.1", srv.port)
        client.send({**request, "auth": logger.home.auth_token()})  # device control: privileged
        return client.recv_and_close()

    try:
        started = await asyncio.to_thread(ask, {"plugin": {"ExitOnImport": {"start": True}}})
        ok, reason = started["plugin"]["ExitOnImport"]["start"]
        assert ok is False and "sys.exit(1)" in reason
        await asyncio.to_thread(ask, {"plugin": {"Quitter": {"start": True}}})
        called = await asyncio.to_thread(ask, {"plugin": {"Quitter": {"quit()": [4]}}})
        ok, reason = called["plugin"]["Quitter"]["quit()"]
        assert ok is False and "sys.exit(4)" in reason
        assert (await asyncio.to_thread(ask, {"getSignalList": True}))["error"] is False
    finally:
        await srv.stop()
        await asyncio.to_thread(logger.devices.stop_all)
