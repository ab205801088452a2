"""INA219 driver against the register-model emulator on a fake SMBus."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import helpers
import pytest
from helpers import events, wait_for
from rtoc_tui.drivers.ina219 import emulator as emu
from rtoc_tui.drivers.ina219.driver import INA219, Calibration

import rtoc_tui.core.plugin as plugin_mod
from rtoc_tui.core.devices import DeviceError
from rtoc_tui.core.introspect import IntrospectionError, set_parameter


def latest(logger, name: str) -> float | None:
    return helpers.latest(logger, f"INA219.{name}")


def count(logger, name: str) -> int:
    return helpers.count(logger, f"INA219.{name}")


@pytest.fixture
def chip() -> emu.FakeINA219:
    return emu.FakeINA219(bus_volts=12.0, amps=0.1, shunt_ohms=0.1)


@pytest.fixture
def opens() -> list[int]:
    """Bus numbers the driver opened, one entry per (re)connect."""
    return []


@pytest.fixture
def start(start_driver, chip, opens, monkeypatch, fast_backoff) -> Callable[..., INA219]:
    """start(**settings) -> the running INA219 driver wired to `chip` at 0x40."""
    factory = emu.bus_factory({0x40: chip})

    def _open(bus: int) -> emu.FakeSMBus:
        opens.append(bus)
        return factory(bus)

    monkeypatch.setattr(INA219, "_bus_factory", _open)

    def _start(**settings: Any) -> INA219:
        return start_driver("INA219", **{"samplerate": 50.0, **settings})

    return _start


def test_calibration_matches_the_datasheet_examples() -> None:
    c = Calibration(0.1, 2.0)  # Adafruit 32 V / 2 A
    assert (c.cal, round(c.current_lsb * 1e6), round(c.power_lsb * 1e3, 6)) == (4096, 100, 2.0)
    assert c.config == 0x399F  # PGA /8, 12-bit, continuous: the POR value
    c = Calibration(0.1, 0.2)  # RTOC's INA219_Modul default: 20 mV max -> PGA /1
    assert (c.pga, c.cal, round(c.current_lsb * 1e6, 6)) == (0, 40960, 10.0)
    assert Calibration(0.1, 0.1).cal <= 0xFFFE  # Cal is capped to 16 bits
    with pytest.raises(ValueError, match="beyond the INA219's"):
        Calibration(0.1, 4.0)


def test_streams_readings_with_units(start, logger, chip) -> None:
    dev = start()
    assert dev.devicename == "INA219"
    wait_for(lambda: latest(logger, "Power"), what="a reading")
    # the chip received Cal then config, in big-endian register order
    assert chip.calibration == 40960 and chip.config == 0x219F
    assert chip.writes[:2] == [(emu.REG_CAL, 40960), (emu.REG_CONFIG, 0x219F)]
    assert latest(logger, "Voltage") == pytest.approx(12.0)
    assert latest(logger, "ShuntVoltage") == pytest.approx(10.0)  # 0.1 A x 0.1 ohm = 10 mV
    assert latest(logger, "Current") == pytest.approx(100.0)
    assert latest(logger, "Power") == pytest.approx(1200.0)
    units = {b.sname: b.unit for b in logger.store.buffers()}
    assert units == {"Voltage": "V", "ShuntVoltage": "mV", "Current": "mA", "Power": "mW"}
    chip.set_load(
        bus_volts=5.0, amps=-0.05
    )  # reverse current: sign comes from the current register
    wait_for(lambda: latest(logger, "Current") == pytest.approx(-50.0), what="negative current")
    assert latest(logger, "Power") == pytest.approx(-250.0)
    assert dev.read()["Voltage"] == pytest.approx(5.0)
    assert dev._state == ("running", "")


def test_setting_parameters_reprograms_the_chip(start, logger, chip) -> None:
    dev = start()
    wait_for(lambda: latest(logger, "Current"), what="a reading")
    set_parameter(dev, "max_expected_amps", 2)
    wait_for(lambda: chip.calibration == 4096, what="the new calibration")
    assert chip.config == 0x399F
    chip.set_load(amps=1.5)
    wait_for(lambda: latest(logger, "Current") == pytest.approx(1500.0), what="1.5 A")
    dev.averaging = 8
    wait_for(lambda: (chip.config >> 3) & 0xF == 0b1011, what="8-sample averaging")
    assert (chip.config >> 7) & 0xF == 0b1011
    dev.bus_voltage_range = 16
    wait_for(lambda: not chip.config & (1 << 13), what="16 V range")
    with pytest.raises(IntrospectionError, match="beyond the INA219's"):
        set_parameter(dev, "max_expected_amps", 50)
    with pytest.raises(ValueError, match="averaging must be one of"):
        dev.averaging = 3
    assert dev.calibration == 4096 and dev.current_lsb_mA == pytest.approx(0.1)


def test_reset_and_trim(start, logger, chip) -> None:
    dev = start(samplerate=5.0)
    wait_for(lambda: latest(logger, "Current"), what="a reading")
    n = len(chip.writes)
    assert dev.reset() is True
    assert chip.writes[n][0] == emu.REG_CONFIG and chip.writes[n][1] & 0x8000  # RST bit sent
    assert chip.calibration == 40960
    new = dev.trim(110.0)  # a reference meter shows 10 % more than the INA219
    assert new == int(40960 * 1.1) & 0xFFFE
    wait_for(lambda: chip.calibration == new, what="the trimmed calibration")


def test_unplug_reports_one_error_and_replug_recovers(start, logger, chip, opens) -> None:
    dev = start()
    wait_for(lambda: latest(logger, "Current"), what="a reading")
    chip.unplug()
    wait_for(lambda: dev._state[0] == "error", what="the error state")
    assert "does not answer" in dev._state[1] and "0x40" in dev._state[1]
    before, tries = count(logger, "Current"), len(opens)
    wait_for(lambda: len(opens) >= tries + 3, what="reconnect attempts")
    # several failed reconnects later: still one event, no samples
    assert count(logger, "Current") == before
    assert len(events(logger, "deviceError")) == 1
    assert latest(logger, "Current") == pytest.approx(100.0)  # the last good value stays
    chip.replug()  # power-on values again: the driver must program the chip anew
    assert chip.calibration == 0
    wait_for(lambda: events(logger, "deviceRecovered"), what="recovery")
    wait_for(lambda: count(logger, "Current") > before, what="new readings")
    assert chip.calibration == 40960 and dev._state == ("running", "")


def test_chip_power_cycled_between_polls_is_programmed_again(start, logger, chip) -> None:
    start()
    wait_for(lambda: latest(logger, "Current"), what="a reading")
    chip.write_register(emu.REG_CONFIG, 0x8000)  # e.g. a brown-out: registers at POR
    wait_for(lambda: chip.calibration == 40960, what="re-programming")
    assert not events(logger, "deviceError")


@pytest.mark.parametrize("kind", ["ones", "random"])
def test_garbage_is_an_error_and_never_streamed(start, logger, chip, opens, kind) -> None:
    dev = start()
    wait_for(lambda: latest(logger, "Current"), what="a reading")
    chip.garbage = kind
    wait_for(lambda: dev._state[0] == "error", what="the error state")
    assert "garbage" in dev._state[1] or "read back" in dev._state[1]
    n, tries = count(logger, "Current"), len(opens)
    wait_for(lambda: len(opens) >= tries + 3, what="reconnect attempts")
    assert count(logger, "Current") == n
    assert set(logger.store.get("INA219.Voltage").copy()[1]) == {12.0}
    chip.garbage = None
    wait_for(lambda: dev._state == ("running", ""), what="recovery")


def test_overflow_streams_voltages_only_and_warns_once(start, logger, chip) -> None:
    dev = start()
    wait_for(lambda: latest(logger, "Current"), what="a reading")
    chip.set_load(amps=1.0)  # 100 mV on the +-40 mV range chosen for 0.2 A
    wait_for(lambda: events(logger, "ina219Overflow"), what="the overflow warning")
    n = count(logger, "Current")
    v = count(logger, "Voltage")
    wait_for(lambda: count(logger, "Voltage") > v + 3, what="more voltage readings")
    assert count(logger, "Current") == n
    assert len(events(logger, "ina219Overflow")) == 1
    assert dev._state == ("running", "")


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"max_expected_amps": 5.0}, "max_expected_amps"),
        ({"address": 0x60}, "address"),
        ({"averaging": 3}, "averaging"),
        ({"shunt_ohms": "low"}, "shunt_ohms"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_invalid_settings_name_the_key(logger, settings, key) -> None:
    logger.devices.settings["INA219"] = settings
    with pytest.raises(DeviceError, match=rf"devices\.INA219\.{key}"):
        logger.devices.start("INA219")
    assert logger.devices.get("INA219") is None


def test_address_as_hex_text_and_missing_i2c_device(logger, monkeypatch) -> None:
    monkeypatch.setattr(plugin_mod, "BACKOFF_MAX_S", 0.05)
    # the real smbus2 path: a bus that does not exist is a clear error, not a crash
    logger.devices.settings["INA219"] = {"bus": 250, "address": "0x41", "samplerate": 20.0}
    dev = logger.devices.start("INA219")
    try:
        assert dev.settings["address"] == 0x41
        wait_for(lambda: dev._state[0] == "error", what="the error state")
        assert "/dev/i2c-250" in dev._state[1]
    finally:
        logger.devices.stop("INA219")


def test_wrong_address_does_not_answer(start, logger) -> None:
    dev = start(address=0x45)
    wait_for(lambda: dev._state[0] == "error", what="the error state")
    assert "INA219 at 0x45 on I2C bus 1 does not answer" in dev._state[1]


def test_emulator_setting_and_standalone_main(logger, capsys) -> None:
    logger.devices.settings["INA219"] = {"emulator": True, "samplerate": 50.0, "address": 0x4F}
    logger.devices.start("INA219")
    try:
        wait_for(lambda: latest(logger, "Power"), what="a reading from the built-in emulator")
        assert emu.shared_chip(0x4F).calibration == 40960
    finally:
        logger.devices.stop("INA219")
    emu.main(["--count", "2", "--interval", "0", "--cal", "4096"])
    out = capsys.readouterr().out.splitlines()
    assert "chip at 0x40" in out[0] and len(out) == 3
    assert "calibration=0x1000" in out[1]


def test_sample_config_runs_against_the_emulator(make_logger, monkeypatch) -> None:
    path = Path(__file__).resolve().parents[2] / "drivers" / "ina219" / "sample_config.json"
    lg = make_logger(json.loads(path.read_text(encoding="utf-8")))
    chip = emu.FakeINA219(bus_volts=24.0, amps=1.5)
    monkeypatch.setattr(INA219, "_bus_factory", emu.bus_factory({0x41: chip}))
    lg.devices.settings["INA219"] = {**lg.devices.settings["INA219"], "samplerate": 50.0}
    try:
        dev = lg.devices.start("INA219")
        assert dev.settings["address"] == 0x41
        wait_for(lambda: latest(lg, "Current"), what="a reading")
        assert chip.calibration == 4096  # 2 A expected on 0.1 ohm: TI's worked example
        assert latest(lg, "Power") == pytest.approx(36000.0)
    finally:
        lg.devices.stop_all()
