"""DPS5020 driver against the Modbus RTU emulator over a real pty."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import helpers
import pytest
import serial
from helpers import events, wait_for
from rtoc_tui.drivers.dps5020.driver import DPS5020, DPSError, unwrap_power
from rtoc_tui.drivers.dps5020.emulator import DPSEmulator, crc16, with_crc

from rtoc_tui.core import introspect
from rtoc_tui.core.devices import DeviceError
from rtoc_tui.core.logger import Logger


def latest(logger, name: str) -> float | None:
    return helpers.latest(logger, f"DPS5020.{name}")


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[DPSEmulator]:
    e = DPSEmulator(link=tmp_path / "ttyDPS", model=5020, load_ohm=10.0, input_v=55.0)
    e.start()
    # a running supply: 12 V / 2 A limit into 10 ohm -> CV at 1.2 A
    e.set_register(0x00, 1200)
    e.set_register(0x01, 200)
    e.set_register(0x09, 1)
    yield e
    e.stop()


@pytest.fixture
def start_dps(start_driver, emu: DPSEmulator) -> Callable[..., DPS5020]:
    def _start(**settings: Any) -> DPS5020:
        plugin = start_driver(
            "DPS5020",
            **{
                "port": emu.path,
                "samplerate": 20.0,
                "timeout": 0.2,
                **settings,
            },
        )
        assert isinstance(plugin, DPS5020)
        return plugin

    return _start


# -- the emulator speaks the documented bytes -----------------------------------------------------
def test_emulator_answers_the_documented_frames(tmp_path: Path) -> None:
    emu = DPSEmulator(link=tmp_path / "ttyRaw", model=5020).start()
    try:
        for reg, value in {0x00: 3600, 0x01: 1000, 0x09: 1, 0x0A: 0}.items():
            emu.set_register(reg, value)
        # the esphome-dps capture's measured values
        for reg, value in {0x02: 3598, 0x03: 237, 0x04: 8527, 0x05: 4231}.items():
            emu.pin(reg, value)
        with serial.Serial(emu.path, 9600, timeout=1.0) as port:

            def ask(req: str, n: int) -> str:
                port.write(bytes.fromhex(req))
                return port.read(n).hex(" ").upper()

            assert ask("01 03 00 00 00 0D 84 0F", 31) == (
                "01 03 1A 0E 10 03 E8 0E 0E 00 ED 21 4F 10 87 00 00 00 00 00 00 00 01 00 00 13 9C 00 11 87 BD"
            )
            assert ask("01 10 00 09 00 01 02 00 01 67 09", 8) == "01 10 00 09 00 01 D1 CB"
            assert ask("01 06 00 00 03 E8 89 74", 8) == "01 06 00 00 03 E8 89 74"
            assert emu.register(0x00) == 1000 and emu.register(0x50) == 1000  # mirrored
            # unmapped register -> exception 0x02; other slave address -> no answer at all
            assert ask(with_crc(bytes.fromhex("01 03 00 30 00 01")).hex(), 5) == "01 83 02 C0 F1"
            assert ask(with_crc(bytes.fromhex("02 03 00 00 00 01")).hex(), 5) == ""
            # corrupted CRC is ignored like on the bus
            assert ask("01 03 00 00 00 0D 84 0E", 5) == ""
            # read-only register and out-of-range value are refused
            assert (
                ask(with_crc(bytes.fromhex("01 06 00 02 00 01")).hex(), 5)
                == with_crc(b"\x01\x86\x02").hex(" ").upper()
            )
            assert (
                ask(with_crc(bytes.fromhex("01 06 00 00 13 89")).hex(), 5)
                == with_crc(b"\x01\x86\x03").hex(" ").upper()
            )
            # unknown function code -> exception 0x01 (after the RTU silence)
            assert (
                ask(with_crc(bytes.fromhex("01 2B 0E 01 00")).hex(), 5)
                == with_crc(b"\x01\xab\x01").hex(" ").upper()
            )
    finally:
        emu.stop()


def test_crc_matches_the_protocol_examples() -> None:
    assert crc16(bytes.fromhex("01 03 00 00 00 0D")).to_bytes(2, "little") == bytes.fromhex("84 0F")
    assert with_crc(bytes.fromhex("01 03 00 50 00 08")).hex(" ") == "01 03 00 50 00 08 44 1d"


def test_power_unwrap() -> None:
    assert unwrap_power(85.27, 35.98, 2.37) == pytest.approx(85.27)
    # 45.65 V x 15.43 A = 704.4 W, register shows 49.01 W (esphome-dps observation)
    assert unwrap_power(49.01, 45.65, 15.43) == pytest.approx(704.37)


# -- readings --------------------------------------------------------------------------------------
def test_streams_readings_with_rtoc_signal_names(
    logger: Logger, start_dps: Callable[..., DPS5020]
) -> None:
    dps = start_dps()
    wait_for(lambda: latest(logger, "Mode") is not None, what="first reading")
    assert latest(logger, "VOut") == 12.0
    assert latest(logger, "IOut") == 1.2
    assert latest(logger, "POut") == pytest.approx(14.4)
    assert latest(logger, "VIn") == 55.0
    assert latest(logger, "VSet") == 12.0
    assert latest(logger, "ISet") == 2.0
    assert latest(logger, "Mode") == 0.0
    units = {b.sname: b.unit for b in logger.store.buffers()}
    assert units == {
        "VOut": "V",
        "IOut": "A",
        "POut": "W",
        "VIn": "V",
        "VSet": "V",
        "ISet": "A",
        "Mode": "",
    }
    assert dps.model == "DPS5020" and dps.firmware == 1.7
    assert dps.mode == "CV" and dps.output is True and dps.key_lock is False
    assert dps._state == ("running", "")
    names = {p.name for p in introspect.parameters(dps)}
    assert {"voltage_set", "current_set", "output", "key_lock", "mode", "model"} <= names
    assert {"setVoltage", "setCurrent", "setPower", "setLocked", "loadPreset"} <= set(
        introspect.function_names(dps)
    )


def test_power_register_overflow_is_unwrapped(
    logger: Logger, emu: DPSEmulator, start_dps: Callable[..., DPS5020]
) -> None:
    emu.set_register(0x00, 4000)  # 40 V
    emu.set_register(0x01, 2000)  # 20 A
    emu.set_load(2.0)  # wants 20 A -> CV at the edge: 40 V x 20 A = 800 W
    assert emu.register(0x04) == 80000 % 65536  # the register wrapped
    start_dps()
    wait_for(lambda: latest(logger, "POut") is not None, what="a reading")
    assert latest(logger, "POut") == pytest.approx(800.0)


@pytest.mark.parametrize(
    ("model", "name"), [(5005, "DPS5005"), (3005, "DPS3005"), (8005, "DPS8005"), (5015, "DPS5015")]
)
def test_model_is_detected_and_scales_current(
    logger: Logger, tmp_path: Path, fast_backoff: None, model: int, name: str
) -> None:
    emu = DPSEmulator(link=tmp_path / "ttyM", model=model, load_ohm=1000.0).start()
    try:
        logger.devices.settings["DPS5020"] = {"port": emu.path, "samplerate": 20.0, "timeout": 0.2}
        dps = logger.devices.start("DPS5020")
        assert isinstance(dps, DPS5020)
        wait_for(lambda: dps.model == name, what="model detection")
        dps.setVoltage(10.0)
        dps.current_set = 1.234
        dps.output = True
        decimals = 3 if model in (3005, 5005, 8005) else 2
        assert emu.register(0x01) == round(1.234 * 10**decimals)
        wait_for(lambda: latest(logger, "IOut") == 0.01, what="10 mA into 1 kOhm")
        wait_for(lambda: dps.current_set == round(1.234, decimals), what="ISet read back")
        assert latest(logger, "ISet") == round(1.234, decimals)
    finally:
        logger.devices.stop_all()
        emu.stop()


def test_unknown_model_id_needs_the_model_setting(
    logger: Logger, emu: DPSEmulator, start_dps: Callable[..., DPS5020], fast_backoff: None
) -> None:
    emu.pin(0x0B, 6012)  # an RD6012 reports a model id outside the DPS table
    dps = start_dps()
    wait_for(lambda: dps._state[0] == "error", what="error state")
    assert "unknown model id 6012" in dps._state[1] and "devices.DPS5020.model" in dps._state[1]
    assert logger.store.get("DPS5020.VOut") is None
    logger.devices.stop("DPS5020")
    dps = start_dps(model="DPS5020")
    wait_for(lambda: latest(logger, "VOut") == 12.0, what="reading with the model forced")
    assert dps.model == "DPS5020"


# -- writes ----------------------------------------------------------------------------------------
def test_parameters_write_the_device_registers(
    logger: Logger, emu: DPSEmulator, start_dps: Callable[..., DPS5020]
) -> None:
    dps = start_dps()
    wait_for(lambda: dps.model, what="first reading")
    emu.writes.clear()
    dps.voltage_set = 12.5
    dps.current_set = 0.75
    dps.key_lock = True
    dps.backlight = 2
    introspect.set_parameter(dps, "output", "off")  # the UI / TCP path, text converted
    assert list(emu.writes) == [(0x00, 1250), (0x01, 75), (0x06, 1), (0x0A, 2), (0x09, 0)]
    assert emu.register(0x50) == 1250 and emu.register(0x51) == 75  # mirrors of the active group
    assert all(req[1] == 0x10 for req in list(emu.requests)[-5:])  # sigrok-style FC16 writes
    wait_for(
        lambda: latest(logger, "VSet") == 12.5 and latest(logger, "VOut") == 0.0,
        what="new state read back",
    )
    assert dps.output is False and dps.key_lock is True and dps.backlight == 2
    assert [e.value for e in events(logger, "dpsOutput")] == [0]
    # RTOC's function names
    dps.setPower(True)
    dps.setVoltage(5)
    dps.setCurrent(1)
    dps.setLocked(False)
    assert list(emu.writes)[-4:] == [(0x09, 1), (0x00, 500), (0x01, 100), (0x06, 0)]
    wait_for(lambda: latest(logger, "VOut") == 5.0, what="output back on")


def test_load_preset(emu: DPSEmulator, start_dps: Callable[..., DPS5020]) -> None:
    emu.set_register(0x70, 3300)  # M2: 33.00 V
    emu.set_register(0x71, 150)  # M2: 1.5 A
    dps = start_dps()
    wait_for(lambda: dps.model, what="first reading")
    dps.loadPreset(2)
    assert emu.register(0x00) == 3300 and emu.register(0x01) == 150
    with pytest.raises(ValueError, match="0..9"):
        dps.loadPreset(12)


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("voltage_set", 60.0, r"DPS5020: voltage must be 0..50 V, got 60"),
        ("voltage_set", -1.0, r"voltage must be 0..50 V"),
        ("current_set", 25.0, r"current must be 0..20 A"),
        ("current_set", "lots", r"current must be a number"),
        ("output", "maybe", r"output must be True or False"),
        ("backlight", 9, r"backlight must be 0..5"),
    ],
)
def test_bad_parameter_values_are_refused_before_writing(
    emu: DPSEmulator, start_dps: Callable[..., DPS5020], name: str, value: Any, match: str
) -> None:
    dps = start_dps()
    wait_for(lambda: dps.model, what="first reading")
    emu.writes.clear()
    with pytest.raises(ValueError, match=match):
        setattr(dps, name, value)
    assert list(emu.writes) == []


def test_refused_write_keeps_the_link(logger: Logger, tmp_path: Path) -> None:
    emu = DPSEmulator(link=tmp_path / "tty3005", model=3005).start()
    try:
        # wrong model setting: the driver allows 50 V, the 30 V unit refuses (exception 0x03)
        logger.devices.settings["DPS5020"] = {
            "port": emu.path,
            "model": "DPS5020",
            "samplerate": 20.0,
        }
        dps = logger.devices.start("DPS5020")
        assert isinstance(dps, DPS5020)
        wait_for(lambda: dps.voltage_set == 5.0, what="first reading")
        with pytest.raises(DPSError, match="refused setting the voltage to 40 V"):
            dps.voltage_set = 40.0
        assert dps.connected and emu.register(0x00) == 500
        dps.voltage_set = 20.0
        assert emu.register(0x00) == 2000
    finally:
        logger.devices.stop_all()
        emu.stop()


# -- CV/CC and protection --------------------------------------------------------------------------
def test_cv_cc_changes_are_a_signal_and_events(
    logger: Logger, emu: DPSEmulator, start_dps: Callable[..., DPS5020]
) -> None:
    dps = start_dps()
    wait_for(lambda: latest(logger, "Mode") == 0.0, what="CV")
    emu.set_load(2.0)  # 12 V / 2 ohm = 6 A > 2 A limit
    wait_for(lambda: latest(logger, "Mode") == 1.0, what="CC")
    assert dps.mode == "CC"
    assert latest(logger, "IOut") == 2.0 and latest(logger, "VOut") == 4.0
    emu.set_load(10.0)
    wait_for(lambda: latest(logger, "Mode") == 0.0, what="CV again")
    mode_events = events(logger, "dpsMode")
    assert [e.value for e in mode_events] == [1, 0]
    assert "switched to CC" in mode_events[0].text and mode_events[0].sname == "Mode"


def test_protection_trip_is_an_error_event(
    logger: Logger, emu: DPSEmulator, start_dps: Callable[..., DPS5020]
) -> None:
    dps = start_dps()
    wait_for(lambda: latest(logger, "VOut") == 12.0, what="output on")
    emu.set_register(0x52, 1000)  # S-OVP 10 V < 12 V output
    wait_for(lambda: dps.protection == "OVP", what="OVP")
    ev = wait_for(lambda: events(logger, "dpsProtect"), what="protection event")
    assert ev[0].priority == 2 and ev[0].value == "OVP"
    wait_for(lambda: latest(logger, "VOut") == 0.0, what="output off")
    assert dps.output is False


# -- robustness ------------------------------------------------------------------------------------
def test_unplug_and_automatic_reconnect(
    logger: Logger, emu: DPSEmulator, start_dps: Callable[..., DPS5020], fast_backoff: None
) -> None:
    dps = start_dps()
    wait_for(lambda: latest(logger, "VOut") == 12.0, what="first reading")
    emu.unplug()
    wait_for(lambda: dps._state[0] == "error", what="error state")
    assert not os.path.exists(emu.path)
    errors = events(logger, "deviceError")
    assert errors and errors[0].priority == 2 and "DPS5020" in errors[0].text
    # no samples while unplugged, the last good value stays
    n = len(logger.store.get("DPS5020.VOut"))
    failures = dps._failures
    wait_for(lambda: dps._failures >= failures + 2, what="more failed tries")
    assert len(logger.store.get("DPS5020.VOut")) == n and latest(logger, "VOut") == 12.0
    assert not dps.connected
    with pytest.raises(DPSError, match="cannot open"):
        dps.output = False  # a write while unplugged fails clearly
    emu.set_register(0x00, 1500)
    emu.replug()
    wait_for(lambda: latest(logger, "VOut") == 15.0, what="readings after replug")
    wait_for(lambda: dps._state == ("running", ""), what="recovered state")
    assert len(events(logger, "deviceRecovered")) == 1
    assert len(logger.store.get("DPS5020.VOut")) > n
    x, y = logger.store.get("DPS5020.VOut").copy()
    assert set(y.tolist()) <= {12.0, 15.0}


@pytest.mark.parametrize("kind", ["crc", "garbage", "truncate", "silence"])
def test_garbage_answers_never_reach_the_store(
    logger: Logger,
    emu: DPSEmulator,
    start_dps: Callable[..., DPS5020],
    fast_backoff: None,
    kind: str,
) -> None:
    dps = start_dps()
    wait_for(lambda: latest(logger, "VOut") == 12.0, what="first reading")
    emu.fault(kind, count=3)
    wait_for(lambda: events(logger, "deviceError"), what="error event")
    assert "reading the status registers failed" in events(logger, "deviceError")[0].text
    wait_for(lambda: events(logger, "deviceRecovered"), what="recovery")
    assert dps._state == ("running", "")
    for sig, expected in {"VOut": 12.0, "IOut": 1.2, "VIn": 55.0, "Mode": 0.0}.items():
        _, y = logger.store.get(f"DPS5020.{sig}").copy()
        assert set(y.tolist()) == {expected}, sig


def test_implausible_answer_is_rejected(
    logger: Logger, emu: DPSEmulator, start_dps: Callable[..., DPS5020], fast_backoff: None
) -> None:
    dps = start_dps()
    wait_for(lambda: latest(logger, "Mode") == 0.0, what="first reading")
    emu.pin(0x08, 7)  # CV/CC register can only be 0 or 1
    wait_for(lambda: dps._state[0] == "error", what="error state")
    assert "implausible answer (0x08=7)" in dps._state[1]
    emu.pin(0x08, None)
    wait_for(lambda: dps._state[0] == "running", what="recovery")
    _, y = logger.store.get("DPS5020.Mode").copy()
    assert set(y.tolist()) == {0.0}


def test_missing_port_does_not_block_start(
    logger: Logger, tmp_path: Path, fast_backoff: None
) -> None:
    logger.devices.settings["DPS5020"] = {"port": str(tmp_path / "nothing"), "samplerate": 20.0}
    try:
        dps = logger.devices.start("DPS5020")
        wait_for(lambda: dps._failures >= 3, what="three failed tries")
        assert "cannot open" in dps._state[1] and "No such file or directory" in dps._state[1]
        assert len(events(logger, "deviceError")) == 1  # retries with the same reason stay quiet
    finally:
        logger.devices.stop_all()


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"baudrate": 1234}, r"devices\.DPS5020\.baudrate: must be one of"),
        ({"baudrate": "fast"}, r"devices\.DPS5020\.baudrate: expected int"),
        ({"address": 300}, r"devices\.DPS5020\.address: must be <= 247"),
        ({"model": "DPS9999"}, r"devices\.DPS5020\.model: must be one of"),
        ({"samplerate": 0}, r"devices\.DPS5020\.samplerate: must be >="),
        ({"speed": 1}, r"devices\.DPS5020\.speed: unknown setting"),
    ],
)
def test_invalid_settings_name_the_key(
    logger: Logger, settings: dict[str, Any], match: str
) -> None:
    logger.devices.settings["DPS5020"] = settings
    with pytest.raises(DeviceError, match=match):
        logger.devices.start("DPS5020")
    assert logger.devices.get("DPS5020") is None


def test_emulator_runs_standalone(tmp_path: Path) -> None:
    link = tmp_path / "ttyDemo"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rtoc_tui.drivers.dps5020.emulator",
            "--model",
            "5005",
            "--link",
            str(link),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "DPS5005 emulator serving" in line and str(link) in line
        with serial.Serial(str(link), 9600, timeout=1.0) as port:
            port.write(with_crc(bytes.fromhex("01 03 00 0B 00 01")))
            assert port.read(7) == with_crc(bytes.fromhex("01 03 02 13 8D"))  # 5005
    finally:
        proc.terminate()
        proc.wait(5)


def test_sample_config_runs_against_the_emulator(
    make_logger: Callable[..., Logger], emu: DPSEmulator
) -> None:
    path = Path(__file__).resolve().parents[2] / "drivers" / "dps5020" / "sample_config.json"
    lg = make_logger(json.loads(path.read_text(encoding="utf-8")))
    section = lg.devices.settings["DPS5020"]
    assert section["samplerate"] == 2.0 and section["port"].startswith("/dev/serial/by-id/")
    lg.devices.settings["DPS5020"] = {**section, "port": emu.path, "samplerate": 20.0}
    try:
        dps = lg.devices.start("DPS5020")
        assert dps.settings["baudrate"] == 9600 and dps.settings["address"] == 1
        wait_for(lambda: latest(lg, "VOut") == 12.0, what="a reading")
    finally:
        lg.devices.stop_all()
