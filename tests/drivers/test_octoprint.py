"""OctoPrint driver against the HTTP emulator of OctoPrint's REST API."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import helpers
import pytest
from helpers import events, standalone_emulator, wait_for
from rtoc_tui.drivers.octoprint.driver import OctoPrint, OctoPrintCommandError
from rtoc_tui.drivers.octoprint.emulator import OctoPrintEmulator

from rtoc_tui.core.devices import DeviceError
from rtoc_tui.core.introspect import function_names, parameters

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def latest(logger, name: str) -> float | None:
    return helpers.latest(logger, f"OctoPrint.{name}")


def count(logger, name: str) -> int:
    return helpers.count(logger, f"OctoPrint.{name}")


@pytest.fixture
def emu() -> Iterator[OctoPrintEmulator]:
    with OctoPrintEmulator(print_seconds=3.0) as e:
        e.model.tools["tool0"].tau_s = 0.2  # heat up quickly
        yield e


@pytest.fixture
def start(start_driver, emu, fast_backoff) -> Callable[..., OctoPrint]:
    """start(**settings) -> the running driver polling the emulator at 20 Hz."""

    def _start(**settings: Any) -> OctoPrint:
        base = {"url": emu.url, "api_key": "TESTKEY", "timeout": 0.3, "samplerate": 20.0}
        return start_driver("OctoPrint", **{**base, **settings})

    return _start


def states(logger) -> list[str]:
    return [e.value for e in events(logger, "printerState")]


def test_emulator_checks_the_api_key_like_octoprint(emu) -> None:
    def get(path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        req = urllib.request.Request(emu.url + path, headers=headers or {})
        try:
            with NO_PROXY.open(req, timeout=2) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read())

    assert get("/api/printer")[0] == 403
    status, body = get("/api/printer", {"X-Api-Key": "nope"})
    assert status == 403 and "permission" in body["error"]
    assert get("/api/printer", {"Authorization": "Bearer TESTKEY"})[0] == 200
    status, body = get("/api/printer?apikey=TESTKEY&exclude=temperature,sd")
    assert status == 200 and set(body) == {"state"}
    status, body = get("/api/printer?apikey=TESTKEY&history=true&limit=2")
    assert (
        len(body["temperature"]["history"]) <= 2 and body["temperature"]["tool0"]["target"] is None
    )
    emu.offline = True
    assert get("/api/printer?apikey=TESTKEY") == (409, {"error": "Printer is not operational"})
    status, job = get("/api/job?apikey=TESTKEY")
    assert status == 200 and job["state"] == "Offline" and job["progress"]["completion"] is None
    assert get("/api/connection?apikey=TESTKEY")[1]["current"]["state"] == "Closed"


def test_streams_temperatures_and_reports_the_state(start, logger, emu) -> None:
    dev = start()
    assert dev.devicename == "OctoPrint"
    wait_for(lambda: latest(logger, "Bed") is not None, what="a reading")
    assert latest(logger, "Tool0") == pytest.approx(21.0, abs=0.5)
    assert logger.store.get("OctoPrint.Tool0Target") is None  # target null: not streamed
    assert {b.unit for b in logger.store.buffers()} == {"°C"}
    assert states(logger) == ["Operational"]
    assert all(key == "TESTKEY" for _, _, key in emu.requests)
    assert {p for _, p, _ in emu.requests} == {"/api/printer", "/api/job"}
    assert dev.printer_state == "Operational" and dev.file == "whistle_v2.gcode"
    assert dev.version().startswith("OctoPrint")
    dev.setToolTarget(200)
    wait_for(lambda: latest(logger, "Tool0Target") == 200.0, what="the target")
    wait_for(lambda: latest(logger, "Tool0") > 150, what="the hotend to heat up")
    assert dev.temperatures["tool0"]["target"] == 200.0
    assert dev._state == ("running", "")
    params = {p.name for p in parameters(dev)}
    assert {"printer_state", "progress", "file", "temperatures"} <= params
    assert "api_key" not in params  # the secret is not a public parameter


def test_functions_post_commands(start, logger, emu) -> None:
    dev = start()
    wait_for(lambda: states(logger), what="a reading")
    assert {"setToolTarget", "setBedTarget", "sendGcode", "pauseJob", "heatersOff"} <= set(
        function_names(dev)
    )
    dev.setBedTarget(60)
    dev.setToolOffset(-5)
    dev.sendGcode("G28\n M105 \n")
    assert emu.posts == [
        ("/api/printer/bed", {"command": "target", "target": 60.0}),
        ("/api/printer/tool", {"command": "offset", "offsets": {"tool0": -5}}),
        ("/api/printer/command", {"commands": ["G28", "M105"]}),
    ]
    assert emu.model.bed.target == 60.0 and emu.model.commands == ["G28", "M105"]
    dev.heatersOff()
    assert emu.model.bed.target == 0 and emu.model.tools["tool0"].target == 0
    with pytest.raises(ValueError, match="0 to 500"):
        dev.setToolTarget(-5)
    with pytest.raises(OctoPrintCommandError, match="HTTP 400.*Invalid tool: tool3"):
        dev.setToolTarget(200, tool=3)
    with pytest.raises(OctoPrintCommandError, match="HTTP 409.*No active job"):
        dev.cancelJob()


def test_job_progress_and_state_changes(start, logger, emu) -> None:
    dev = start()
    wait_for(lambda: states(logger), what="a reading")
    assert logger.store.get("OctoPrint.Progress") is None  # nothing printed yet: nulls
    dev.startJob()
    wait_for(lambda: "Printing" in states(logger), what="the Printing event")
    wait_for(lambda: (latest(logger, "Progress") or 0) > 0, what="progress")
    dev.pauseJob()
    wait_for(lambda: states(logger)[-1] == "Paused", what="the Paused event")
    dev.resumeJob()
    wait_for(lambda: states(logger)[-1] == "Printing", what="printing again")
    wait_for(lambda: states(logger)[-1] == "Operational", what="the job to finish")
    assert latest(logger, "Progress") == pytest.approx(100.0)
    assert dev.progress == pytest.approx(100.0)
    units = {b.sname: b.unit for b in logger.store.buffers()}
    assert units["Progress"] == "%" and units["PrintTimeLeft"] == "s"
    assert states(logger) == ["Operational", "Printing", "Paused", "Printing", "Operational"]


def test_printer_offline_is_a_state_not_an_error(start, logger, emu) -> None:
    dev = start()
    wait_for(lambda: latest(logger, "Tool0") is not None, what="a reading")
    emu.offline = True
    wait_for(lambda: states(logger)[-1] == "Offline", what="the Offline event")
    n = count(logger, "Tool0")
    polls = len(emu.requests)
    wait_for(lambda: len(emu.requests) > polls + 6, what="more polls")
    assert count(logger, "Tool0") == n and dev._state == ("running", "")
    assert not events(logger, "deviceError")
    with pytest.raises(OctoPrintCommandError, match="Printer is not operational"):
        dev.setBedTarget(50)
    emu.offline = False
    wait_for(lambda: states(logger)[-1] == "Operational", what="online again")


@pytest.mark.parametrize(
    ("key", "message"),
    [("WRONG", "API key rejected (HTTP 403)"), ("", "no API key set (HTTP 403)")],
)
def test_wrong_api_key_is_a_clear_error(start, logger, key, message) -> None:
    dev = start(api_key=key)
    wait_for(lambda: dev._state[0] == "error", what="the error state")
    assert message in dev._state[1] and "devices.OctoPrint.api_key" in dev._state[1]
    assert dev._state[1].startswith("OctoPrintAuthError")
    assert logger.store.get("OctoPrint.Tool0") is None
    # the state is set just before the event is raised (another thread): wait for it, then
    # check that it stays one
    wait_for(lambda: events(logger, "deviceError"), what="the deviceError event")
    assert len(events(logger, "deviceError")) == 1


def test_unplug_and_replug(start, logger, emu) -> None:
    dev = start()
    wait_for(lambda: latest(logger, "Tool0") is not None, what="a reading")
    emu.unplug()
    wait_for(lambda: dev._state[0] == "error", what="the error state")
    failures, n = dev._failures, count(logger, "Tool0")
    wait_for(lambda: dev._failures >= failures + 3, what="reconnect attempts")
    assert f"cannot reach OctoPrint at {emu.url}" in dev._state[1]
    assert count(logger, "Tool0") == n
    # one event for the whole outage; the state text follows the latest reason
    assert len(events(logger, "deviceError")) == 1
    assert "Connection refused" in dev._state[1]
    emu.replug()
    wait_for(lambda: events(logger, "deviceRecovered"), what="recovery")
    wait_for(lambda: count(logger, "Tool0") > n, what="new readings")


def test_no_answer_times_out_and_recovers(start, logger, emu) -> None:
    dev = start()
    wait_for(lambda: latest(logger, "Tool0") is not None, what="a reading")
    emu.hang = True
    wait_for(lambda: dev._state[0] == "error", what="the error state")
    assert "no answer within 0.3 s" in dev._state[1]
    emu.hang = False
    wait_for(lambda: dev._state == ("running", ""), what="recovery")


@pytest.mark.parametrize(
    ("kind", "message"), [(True, "not JSON"), ("json", "garbage or not OctoPrint")]
)
def test_garbage_is_an_error_and_never_streamed(start, logger, emu, kind, message) -> None:
    dev = start()
    wait_for(lambda: latest(logger, "Tool0") is not None, what="a reading")
    emu.garbage = kind
    wait_for(lambda: dev._state[0] == "error", what="the error state")
    assert message in dev._state[1]
    failures, n = dev._failures, count(logger, "Tool0")
    wait_for(lambda: dev._failures >= failures + 2, what="more failed polls")
    assert count(logger, "Tool0") == n
    assert all(20 < v < 22 for v in logger.store.get("OctoPrint.Tool0").copy()[1])  # ambient only
    emu.garbage = False
    wait_for(lambda: dev._state == ("running", ""), what="recovery")


def test_not_an_http_server_is_an_error(start) -> None:
    with socket.create_server(("127.0.0.1", 0)) as srv:
        port = srv.getsockname()[1]
        dev = start(url=f"http://127.0.0.1:{port}")
        conn, _ = srv.accept()
        with conn:
            conn.recv(1000)
            conn.sendall(b"\x00\x01garbage that is no status line\r\n\r\n")
        wait_for(lambda: dev._state[0] == "error", what="the error state")
        assert "OctoPrint at http://127.0.0.1" in dev._state[1]


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"url": "ftp://printer"}, "url"),
        ({"url": "octopi.local"}, "url"),
        ({"timeout": -1}, "timeout"),
        ({"samplerate": "fast"}, "samplerate"),
        ({"apikey": "x"}, "apikey"),
    ],
)
def test_invalid_settings_name_the_key(logger, settings, key) -> None:
    logger.devices.settings["OctoPrint"] = settings
    with pytest.raises(DeviceError, match=rf"devices\.OctoPrint\.{key}"):
        logger.devices.start("OctoPrint")


def test_standalone_emulator_listens_on_loopback() -> None:
    with standalone_emulator("octoprint", "--port", "0", "--api-key", "K") as line:
        assert "listening on http://127.0.0.1:" in line
        url = line.split()[4]
        req = urllib.request.Request(url + "/api/version", headers={"X-Api-Key": "K"})
        with NO_PROXY.open(req, timeout=5) as r:
            assert json.loads(r.read())["text"].startswith("OctoPrint")


def test_sample_config_runs_against_the_emulator(make_logger, emu) -> None:
    path = Path(__file__).resolve().parents[2] / "drivers" / "octoprint" / "sample_config.json"
    lg = make_logger(json.loads(path.read_text(encoding="utf-8")))
    settings = lg.devices.settings["OctoPrint"]
    assert settings["url"].startswith("http://")
    emu.api_key = settings["api_key"]
    lg.devices.settings["OctoPrint"] = {**settings, "url": emu.url, "samplerate": 20.0}
    try:
        lg.devices.start("OctoPrint")
        wait_for(lambda: latest(lg, "Tool0") is not None, what="a reading")
    finally:
        lg.devices.stop_all()
