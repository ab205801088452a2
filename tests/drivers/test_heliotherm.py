"""Heliotherm driver against the Modbus TCP emulator of the RCG2+ gateway."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import helpers
import pytest
from helpers import events, standalone_emulator, wait_for
from pymodbus.client import ModbusTcpClient
from rtoc_tui.drivers.heliotherm.driver import Heliotherm
from rtoc_tui.drivers.heliotherm.emulator import HeliothermEmulator

from rtoc_tui.core.devices import DeviceError
from rtoc_tui.core.introspect import IntrospectionError, function_names, parameters, set_parameter


def latest(logger, name: str) -> float | None:
    return helpers.latest(logger, f"Heliotherm.{name}")


def count(logger, name: str) -> int:
    return helpers.count(logger, f"Heliotherm.{name}")


@pytest.fixture
def emu() -> Iterator[HeliothermEmulator]:
    with HeliothermEmulator() as e:
        yield e


@pytest.fixture
def start(start_driver, emu, fast_backoff) -> Callable[..., Heliotherm]:
    """start(**settings) -> the running driver polling the emulator at 20 Hz."""

    def _start(**settings: Any) -> Heliotherm:
        base = {"host": "127.0.0.1", "port": emu.port, "timeout": 0.3, "samplerate": 20.0}
        return start_driver("Heliotherm", **{**base, **settings})

    return _start


def test_raw_frames_match_the_documented_examples(emu) -> None:
    with socket.create_connection(("127.0.0.1", emu.port), timeout=2) as s:
        s.sendall(bytes.fromhex("000100000006010400 0A0020".replace(" ", "")))
        reply = b""
        while len(reply) < 9 + 64:
            reply += s.recv(200)
        assert reply[:9] == bytes.fromhex("000100000043010440")
        s.sendall(bytes.fromhex("000200000006010600640001"))
        assert s.recv(100) == bytes.fromhex("000200000006010600640001")  # FC 06 echoes the request
        s.sendall(bytes.fromhex("000300000006010400300002"))  # reg 48: not in the map
        assert s.recv(100) == bytes.fromhex("0003000000030184" + "02")
    assert emu.writes == [(100, 1)]


def test_streams_temperatures_states_and_energy(start, logger, emu) -> None:
    dev = start()
    assert dev.devicename == "Heliotherm"
    wait_for(lambda: latest(logger, "HeatPower") is not None, what="a reading")
    assert latest(logger, "ReturnTemp") == pytest.approx(28.0, abs=1.0)
    assert latest(logger, "HotWaterTemp") == pytest.approx(48.0, abs=1.0)
    assert latest(logger, "HeatEnergyHeating") >= 12345
    assert latest(logger, "OperatingMode") == 1.0
    assert latest(logger, "Compressor") in (0.0, 1.0)
    assert latest(logger, "COP") in (0.0, 4.0)
    assert logger.store.get("Heliotherm.FreshWaterTemp") is None  # -50.0 = no probe: not streamed
    units = {b.sname: b.unit for b in logger.store.buffers()}
    assert (
        units["OutdoorTemp"] == "°C"
        and units["HighPressure"] == "bar"
        and units["ElecPower"] == "W"
    )
    assert {(4, 10, 32), (4, 60, 16), (3, 100, 18)} <= set(emu.requests)
    assert dev.operating_mode == 1 and dev.operating_mode_name == "auto"
    assert dev.return_setpoint == 30.0 and dev.return_setpoint_active is False
    assert dev._state == ("running", "")
    reading = dev.read()
    assert "OutdoorTemp" in reading and "FreshWaterTemp" not in reading


def test_parameters_write_holding_registers(start, logger, emu) -> None:
    dev = start()
    wait_for(lambda: dev.operating_mode is not None, what="a reading")
    names = {p.name: p for p in parameters(dev)}
    assert "Operating mode" in names["operating_mode"].doc and names["operating_mode"].writable
    assert not names["operating_mode_name"].writable
    set_parameter(dev, "operating_mode", 3)
    assert emu.holding(100) == 3 and (6, 100, 3) in emu.requests
    wait_for(lambda: events(logger, "heliothermMode"), what="the mode event")
    assert "summer" in events(logger, "heliothermMode")[0].text
    set_parameter(dev, "room_setpoint", "21.5")
    assert emu.holding(101) == 215
    dev.cooling_return_min = -5.5
    assert emu.holding(104) == 0xFFC9  # INT16, two's complement
    wait_for(lambda: dev.cooling_return_min == -5.5, what="the value read back")
    set_parameter(dev, "mkr1_setpoint_active", True)
    assert emu.holding(110) == 1
    with pytest.raises(IntrospectionError, match="operating mode must be 0-7"):
        set_parameter(dev, "operating_mode", 9)
    with pytest.raises(IntrospectionError, match="outside -50"):
        set_parameter(dev, "hot_water_temp", 150)
    assert emu.holding(105) == 500


def test_functions(start, logger, emu) -> None:
    dev = start()
    wait_for(lambda: dev.operating_mode is not None, what="a reading")
    assert {"setOperatingMode", "setReturnSetpoint", "resetFault", "setCompressorSpeed"} <= set(
        function_names(dev)
    )
    assert dev.setOperatingMode("party") == "party" and emu.holding(100) == 7
    dev.setReturnSetpoint(32.5)
    assert (emu.holding(102), emu.holding(103)) == (325, 1)
    dev.setReturnSetpoint(None)
    assert emu.holding(103) == 0
    dev.setCompressorSpeed(500)
    assert (emu.holding(126), emu.holding(117)) == (500, 1)
    dev.setPowerSetpoint(None)
    assert emu.holding(117) == 0
    with pytest.raises(ValueError, match="0-1000"):
        dev.setCompressorSpeed(2000)
    dev.setExternalOutdoorTemp(-8.5)
    assert (emu.holding(129), emu.holding(130)) == (0xFFAB, 1)
    wait_for(lambda: latest(logger, "OutdoorTemp") == -8.5, what="the supplied outdoor temperature")
    emu.set_fault(True)
    wait_for(lambda: events(logger, "heliothermFault"), what="the fault event")
    assert events(logger, "heliothermFault")[0].priority == 2
    assert dev.resetFault() is True and emu.holding(128) == 1
    wait_for(lambda: events(logger, "heliothermFaultCleared"), what="the fault-cleared event")


def test_unplug_and_replug(start, logger, emu) -> None:
    dev = start()
    wait_for(lambda: latest(logger, "ReturnTemp") is not None, what="a reading")
    emu.unplug()
    wait_for(lambda: dev._state[0] == "error", what="the error state")
    assert "127.0.0.1" in dev._state[1]
    before, failures = count(logger, "ReturnTemp"), dev._failures
    wait_for(lambda: dev._failures >= failures + 3, what="reconnect attempts")
    assert "cannot connect" in dev._state[1]
    assert count(logger, "ReturnTemp") == before  # the last good values stay
    # one event for the whole outage (the state text follows the latest reason)
    texts = [e.text for e in events(logger, "deviceError")]
    assert len(texts) == 1 and ("connection lost" in texts[0] or "refused or timed out" in texts[0])
    emu.replug()
    wait_for(lambda: events(logger, "deviceRecovered"), what="recovery")
    wait_for(lambda: count(logger, "ReturnTemp") > before, what="new readings")
    assert dev._state == ("running", "")


def test_no_answer_times_out_and_recovers(start, logger, emu) -> None:
    dev = start()
    wait_for(lambda: latest(logger, "ReturnTemp") is not None, what="a reading")
    emu.hang = True
    wait_for(lambda: dev._state[0] == "error", what="the error state")
    assert "no valid answer within 0.3 s" in dev._state[1]
    emu.hang = False
    wait_for(lambda: dev._state == ("running", ""), what="recovery")


def test_garbage_is_an_error_and_never_streamed(start, logger, emu) -> None:
    dev = start()
    wait_for(lambda: latest(logger, "ReturnTemp") is not None, what="a reading")
    emu.garbage = True
    wait_for(lambda: dev._state[0] == "error", what="the error state")
    n, failures = count(logger, "ReturnTemp"), dev._failures
    wait_for(lambda: dev._failures >= failures + 2, what="more failed polls")
    assert count(logger, "ReturnTemp") == n
    assert len(events(logger, "deviceError")) == 1
    emu.garbage = False
    wait_for(lambda: dev._state == ("running", ""), what="recovery")
    wait_for(lambda: count(logger, "ReturnTemp") > n, what="new readings")


def test_wrong_unit_id_is_explained(start, emu) -> None:
    dev = start(unit_id=7)
    wait_for(lambda: dev._state[0] == "error", what="the error state")
    assert "Modbus exception 11" in dev._state[1] and "devices.Heliotherm.unit_id" in dev._state[1]


def test_write_while_unplugged_raises_a_clear_error(start, logger, emu) -> None:
    dev = start()
    wait_for(lambda: dev.operating_mode is not None, what="a reading")
    emu.unplug()
    with pytest.raises(ConnectionError, match="Heliotherm RCG2\\+ at 127.0.0.1"):
        dev.setOperatingMode(0)


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({}, "host"),
        ({"host": "   "}, "host"),
        ({"host": "hp", "port": 70000}, "port"),
        ({"host": "hp", "unit_id": "one"}, "unit_id"),
        ({"host": "hp", "timeout": 0}, "timeout"),
    ],
)
def test_invalid_settings_name_the_key(logger, settings, key) -> None:
    logger.devices.settings["Heliotherm"] = settings
    with pytest.raises(DeviceError, match=rf"devices\.Heliotherm\.{key}"):
        logger.devices.start("Heliotherm")


def test_standalone_emulator_listens_on_loopback() -> None:
    with standalone_emulator("heliotherm", "--port", "0") as line:
        assert "listening on 127.0.0.1:" in line
        port = int(line.rsplit(":", 1)[1])
        client = ModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
        assert client.connect()
        assert client.read_input_registers(10, count=2, device_id=1).registers
        client.close()


def test_sample_config_runs_against_the_emulator(make_logger, emu) -> None:
    path = Path(__file__).resolve().parents[2] / "drivers" / "heliotherm" / "sample_config.json"
    lg = make_logger(json.loads(path.read_text(encoding="utf-8")))
    assert lg.devices.settings["Heliotherm"]["host"]
    lg.devices.settings["Heliotherm"] = {
        **lg.devices.settings["Heliotherm"],
        "host": "127.0.0.1",
        "port": emu.port,
        "samplerate": 20.0,
    }
    try:
        lg.devices.start("Heliotherm")
        wait_for(lambda: latest(lg, "ReturnTemp") is not None, what="a reading")
    finally:
        lg.devices.stop_all()
