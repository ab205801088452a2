"""The Otii driver's channels, controls, projects, licences and devices, against the emulator
through the unmodified otii-tcp-client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import helpers
import numpy as np
import pytest
from helpers import events, wait_for
from rtoc_tui.drivers.otii.driver import Otii, OtiiRefused
from rtoc_tui.drivers.otii.emulator import OtiiEmulator

import rtoc_tui.core.plugin as plugin_mod
from rtoc_tui.cli.wizard import mask
from rtoc_tui.config.home import Home
from rtoc_tui.core import introspect
from rtoc_tui.core.logger import Logger
from rtoc_tui.storage import attach_storage

ALL = "mc,mv,mp,ac,av,ap,sp,sn,vb,vj,tp,i1,i2,rx"


def count(logger: Logger, name: str) -> int:
    return helpers.count(logger, name)


@pytest.fixture
def emu() -> Iterator[OtiiEmulator]:
    with OtiiEmulator(port=0) as e:
        yield e


@pytest.fixture
def start_otii(start_driver, emu: OtiiEmulator) -> Callable[..., Otii]:
    def _start(**settings: Any) -> Otii:
        dev = start_driver("Otii", **{"port": emu.port, "samplerate": 20.0, **settings})
        assert isinstance(dev, Otii)
        return dev

    return _start


def uart_events(logger: Logger) -> list[Any]:
    return [e for e in logger.events.all() if e.sname == "UART"]


def test_every_channel_streams(logger: Logger, emu: OtiiEmulator, start_otii) -> None:
    dev = start_otii(channels=ALL, uart=True)
    wait_for(lambda: count(logger, "Otii.Temperature") >= 5, timeout=10, what="temperature")
    wait_for(lambda: len(uart_events(logger)) >= 1, timeout=10, what="a UART line")
    wait_for(lambda: count(logger, "Otii.GPI1") >= 2, timeout=10, what="GPI1 edges")
    units = {b.sname: b.unit for b in logger.store.buffers() if b.dname == "Otii"}
    assert units == {
        "MainCurrent": "A", "MainVoltage": "V", "MainPower": "W", "AdcCurrent": "A",
        "AdcVoltage": "V", "AdcPower": "W", "SensePlus": "V", "SenseMinus": "V", "VBUS": "V",
        "DCJack": "V", "Temperature": "°C", "GPI1": "", "GPI2": "",
    }  # fmt: skip
    # each channel at its own rate: 4 kS/s main and ADC, 1 kS/s sense/VBUS/jack, 10 S/s temperature
    for sname, rate in (
        ("MainCurrent", 4000),
        ("AdcPower", 4000),
        ("VBUS", 1000),
        ("Temperature", 10),
    ):
        x, _ = logger.store.get(f"Otii.{sname}").copy()
        assert np.allclose(np.diff(x), 1.0 / rate, rtol=0, atol=1e-6), sname
    # GPI1 is a 0/1 step signal: the DUT raises it during its radio burst
    x, y = logger.store.get("Otii.GPI1").copy()
    assert set(np.unique(y)) <= {0.0, 1.0} and np.all(np.diff(x) > 0)
    assert dev.samplerates.startswith("mc=4000, mv=4000")
    line = uart_events(logger)[0]
    assert line.text.startswith("sensor read #") and line.id == "uart" and line.priority == 0
    assert abs(line.x - dev._t0 - round(line.x - dev._t0)) == pytest.approx(0.52, abs=0.5)


def test_channels_and_rates_change_at_runtime(logger: Logger, start_driver) -> None:
    with OtiiEmulator(port=0, devices=[("Ace", "Ace I")]) as ace:
        dev = start_driver(
            "Otii", port=ace.port, samplerate=20.0, channels="mc,tp", samplerates="mc=1000, tp=5"
        )
        wait_for(lambda: count(logger, "Otii.MainCurrent") >= 500, what="mc")
        x, _ = logger.store.get("Otii.MainCurrent").copy()
        assert np.allclose(np.diff(x), 1e-3, rtol=0, atol=1e-6)
        assert ace.device().samplerate("tp") == 5 and dev.samplerates == "mc=1000, tp=5"
        first = dev.recording_id
        assert introspect.set_parameter(dev, "samplerates", "mc=2000") == "mc=2000, tp=5"
        assert dev.recording_id != first  # the rate of a running recording cannot change
        n = count(logger, "Otii.MainCurrent")
        wait_for(lambda: count(logger, "Otii.MainCurrent") > n + 1000)
        x, _ = logger.store.get("Otii.MainCurrent").copy()
        assert np.allclose(np.diff(x[-500:]), 1 / 2000, rtol=0, atol=1e-6)
        assert dev.set_channel_samplerate("MainCurrent", 4000) == 4000
        assert ace.device().samplerate("mc") == 4000
        with pytest.raises(OtiiRefused, match="Invalid key value"):
            dev.set_channel_samplerate("mc", 10**6)
        assert dev.enable_channel("mv") == "mc,mv,tp"
        wait_for(lambda: count(logger, "Otii.MainVoltage") > 100)
        assert ace.device().enabled == {"mc", "mv", "tp"}
        introspect.set_parameter(dev, "channels", "mc")
        assert ace.device().enabled == {"mc"}
        with pytest.raises(introspect.IntrospectionError, match="unknown channel 'zz'"):
            introspect.set_parameter(dev, "channels", "mc,zz")


def test_an_arcs_fixed_rate_is_a_clear_error(logger: Logger, start_otii) -> None:
    start_otii(samplerates="mc=1000")
    err = wait_for(lambda: events(logger, "deviceError"))
    assert "is an Arc: its mc sample rate is fixed at 4000/s" in err[0].text


def test_every_control_reaches_the_device(logger: Logger, emu: OtiiEmulator, start_otii) -> None:
    dev = start_otii(
        four_wire=True, five_volt=True, exp_port=True, exp_voltage=1.8, gpo2=True,
        adc_resistor=0.5, limit_mode="cut-off", baudrate=9600, tx=True, main_current=0.002,
    )  # fmt: skip
    wait_for(lambda: dev.connected, what="connect")
    arc = emu.device()
    assert (arc.four_wire, arc.five_v, arc.exp_port, arc.exp_voltage) == (True, True, True, 1.8)
    assert (arc.gpo, arc.adc_resistor, arc.src_cur_limit) == ({1: False, 2: True}, 0.5, False)
    assert (arc.baudrate, arc.tx, arc.main_current) == (9600, True, 0.002)
    # values not configured show what the device has
    assert dev.range == "low" and dev.gpo1 is None and dev.baudrate == 9600
    changes: list[tuple[str, Any, Callable[[], Any]]] = [
        ("power_regulation", "current", lambda: arc.power_regulation),
        ("main_current", 0.01, lambda: arc.main_current),
        ("power_regulation", "voltage", lambda: arc.power_regulation),
        ("main_voltage", 2.8, lambda: arc.main_voltage),
        ("max_current", 0.3, lambda: arc.max_current),
        ("limit_mode", "cc", lambda: "cc" if arc.src_cur_limit else "cut-off"),
        ("range", "high", lambda: arc.range),
        ("four_wire", False, lambda: arc.four_wire),
        ("adc_resistor", 2.0, lambda: arc.adc_resistor),
        ("five_volt", False, lambda: arc.five_v),
        ("exp_port", False, lambda: arc.exp_port),
        ("exp_voltage", 3.0, lambda: arc.exp_voltage),
        ("gpo1", True, lambda: arc.gpo[1]),
        ("gpo2", False, lambda: arc.gpo[2]),
        ("tx", False, lambda: arc.tx),
        ("uart", True, lambda: arc.uart),
        ("baudrate", 115200, lambda: arc.baudrate),
        ("main_power", False, lambda: arc.main_on),
    ]
    for name, value, actual in changes:
        introspect.set_parameter(dev, name, value)
        assert actual() == value, name
        assert getattr(dev, name) == value, name
    with pytest.raises(introspect.IntrospectionError, match="between 1.2 and 5.0"):
        introspect.set_parameter(dev, "exp_voltage", 9.0)
    with pytest.raises(introspect.IntrospectionError, match="Command not valid for device type"):
        introspect.set_parameter(dev, "voltage_0_15", 5.0)  # an Arc has no 0-15 V output
    assert dev.voltage_0_15 is None
    with pytest.raises(introspect.IntrospectionError, match="TX is used by the UART"):
        introspect.set_parameter(dev, "tx", True)
    # read-backs
    emu.set_gpi(arc.device_id, 2, True)
    wait_for(lambda: dev.gpi2 is True, what="GPI2 read back")
    assert dev.gpi1 is False and dev.rx_pin is None  # the UART uses RX
    assert dev.four_wire_state == "disabled" and dev.supply_mode == "power-box"
    assert (dev.firmware_version, dev.hardware_version) == ("1.2.4", "Arc 1.1")
    assert dev.get_value("vb") == 5.02
    dev.calibrate()
    introspect.set_parameter(dev, "main_power", True)
    with pytest.raises(OtiiRefused, match="switch the main output off"):
        dev.calibrate()
    dev.set_all_main(False)
    assert not arc.main_on and dev.main_power is False
    groups = introspect.parameter_groups(dev)
    params = {p.name: p for p in introspect.parameters(dev)}
    assert set(groups) <= set(params) and all(p.doc for p in params.values())
    assert [p.group for p in introspect.parameters(dev)][0] == "Output"


def test_uart_write_and_answer(logger: Logger, emu: OtiiEmulator, start_otii) -> None:
    dev = start_otii(channels="mc,rx", uart=True)
    wait_for(lambda: dev.recording, what="recording")
    dev.write_tx("AT+CFUN=1")
    assert emu.device().tx_written == ["AT+CFUN=1\r\n"]
    wait_for(lambda: "AT+CFUN=1|OK" in "|".join(e.text for e in uart_events(logger)))
    introspect.set_parameter(dev, "uart", False)
    with pytest.raises(OtiiRefused, match="UART is disabled"):
        dev.write_tx("AT")


def test_over_current_cut_off(logger: Logger, emu: OtiiEmulator, start_otii) -> None:
    dev = start_otii(limit_mode="cut-off", max_current=0.02)
    ev = wait_for(lambda: events(logger, "otiiCutOff"), timeout=5, what="cut-off event")
    assert "switched off" in ev[0].text
    assert dev.main_power is False and emu.device().main_on is False


def test_battery_controls(logger: Logger, emu: OtiiEmulator, start_otii) -> None:
    dev = start_otii(battery_profile="CR2032-NoName", battery_used_capacity=81.0, battery_series=2)
    wait_for(lambda: dev.connected and dev.supply_mode == "battery-emulator", what="battery")
    bat = emu.device().battery
    assert bat["series"] == 2 and bat["used_capacity"] == pytest.approx(81.0, abs=0.01)
    assert dev.battery_soc == pytest.approx(90.0, abs=0.01)  # 81 C of 810 C used
    introspect.set_parameter(dev, "battery_soc", 50.0)
    assert bat["soc"] == pytest.approx(50.0, abs=0.01)
    introspect.set_parameter(dev, "battery_used_capacity", 0.0)
    assert bat["soc"] == pytest.approx(100.0, abs=0.01)
    introspect.set_parameter(dev, "soc_tracking", False)
    assert bat["soc_tracking"] is False
    introspect.set_parameter(dev, "battery_parallel", 2)
    assert emu.device().battery["parallel"] == 2
    status = dev.battery_status()
    assert (status["series"], status["parallel"], status["soc_tracking"]) == (2, 2, False)
    info = dev.battery_profile_info("CR2450-NoName")
    assert info["battery"]["capacity"] == 620.0
    dev.update_battery_profile("CR2450-NoName", keep_soc=False)
    assert emu.device().battery["profile_id"] == info["battery_profile_id"]


def test_creates_a_project_when_the_server_has_none(logger: Logger, start_driver) -> None:
    with OtiiEmulator(port=0, active_project=False) as bare:
        dev = start_driver("Otii", port=bare.port, samplerate=20.0)
        wait_for(lambda: dev.recording, what="recording")
        assert bare.active_project == 1 and dev.project == "1 (unsaved)"
        assert any("created project 1" in e.text for e in logger.events.all())


def test_save_project_and_list_recordings(
    logger: Logger, emu: OtiiEmulator, start_otii, tmp_path
) -> None:
    dev = start_otii()
    wait_for(lambda: count(logger, "Otii.MainCurrent") > 100)
    first = dev.recording_id
    with pytest.raises(OtiiRefused, match="no file yet"):
        dev.save_project()
    saved = dev.save_project(str(tmp_path / "lab"))
    assert saved == str(tmp_path / "lab.otii") and saved in emu.saved
    assert dev.project_file == saved and dev.project.endswith(f"({saved})")
    assert dev.recording and dev.recording_id != first  # recording again after the save
    assert [r["id"] for r in dev.recordings()] == [first, dev.recording_id]
    assert dev.save_project() == saved  # again, to project_file


def test_fetch_a_recording_into_the_logger(logger: Logger, emu: OtiiEmulator, start_otii) -> None:
    dev = start_otii(channels="mc,i1,rx", uart=True)
    wait_for(lambda: len(uart_events(logger)) >= 2, timeout=10, what="two UART lines")
    dev.stop_recording()
    rid = dev.recording_id
    rec = emu.projects[emu.active_project].recordings[-1]
    n = rec.count((emu.device().device_id, "mc"), emu.clock())
    summary = dev.fetch_recording()
    assert summary["recording_id"] == rid and summary["events"] >= 2
    assert set(summary["signals"]) == {f"Otii_rec{rid}.MainCurrent", f"Otii_rec{rid}.GPI1"}
    x, y = logger.store.get(f"Otii_rec{rid}.MainCurrent").copy()
    assert len(y) == n == summary["samples"] - len(logger.store.get(f"Otii_rec{rid}.GPI1"))
    np.testing.assert_allclose(y, emu.window(rec, emu.device(), "mc", 0, n), rtol=1e-12)
    assert x[0] == pytest.approx(dev._t0) and np.allclose(np.diff(x), 1 / 4000, atol=1e-6)
    copied = [e for e in logger.events.all() if e.dname == f"Otii_rec{rid}"]
    assert [e.text for e in copied][:1] == [e.text for e in uart_events(logger)][:1]
    with pytest.raises(OtiiRefused, match="no recording 99"):
        dev.fetch_recording(99)


async def test_fetched_recording_lands_in_storage(home: Home) -> None:
    """A recording longer than recordLength reaches the store whole (the ring keeps the end)."""
    home.config_file.write_text(json.dumps({"global": {"recordLength": 2000}}), encoding="utf-8")
    lg = Logger.from_home(home)
    svc = attach_storage(lg)
    assert svc is not None
    await lg.start(autorun=False)
    try:
        with OtiiEmulator(port=0) as emu:
            lg.devices.settings["Otii"] = {"port": emu.port, "channels": "mc", "record": False}
            dev = await asyncio.to_thread(lg.devices.start, "Otii")
            await asyncio.to_thread(wait_for, lambda: dev.connected)
            rid = await asyncio.to_thread(dev.start_recording)
            await asyncio.sleep(1.5)
            await asyncio.to_thread(dev.stop_recording)
            summary = await asyncio.to_thread(dev.fetch_recording, rid)
            assert summary["samples"] > 4000
            assert await asyncio.to_thread(svc.flush_now)
            x, y = svc.query(f"Otii_rec{rid}.MainCurrent", max_n=None)
            assert len(y) == summary["samples"]
            assert len(lg.store.get(f"Otii_rec{rid}.MainCurrent")) == 2000
            await asyncio.to_thread(lg.devices.stop, "Otii")
    finally:
        await lg.stop()


def test_several_devices_and_a_target(logger: Logger, start_driver) -> None:
    with OtiiEmulator(port=0, devices=[("Arc", "Arc I"), ("Arc", "Arc II"), ("Ace", "Ace I")]) as e:
        dev = start_driver("Otii", port=e.port, samplerate=20.0, device="*", main_voltage=3.0)
        wait_for(
            lambda: all(
                count(logger, f"Otii_{n}.MainCurrent") > 200 for n in ("Arc_I", "Arc_II", "Ace_I")
            )
        )
        assert dev.devices == "Arc I, Arc II, Ace I" and dev.target == "Arc I"
        assert all(d.main_voltage == 3.0 and d.main_on for d in e.devices.values())
        introspect.set_parameter(dev, "target", "Ace I")
        introspect.set_parameter(dev, "main_voltage", 12.0)  # an Ace goes to 25 V
        assert [d.main_voltage for d in e.devices.values()] == [3.0, 3.0, 12.0]
        assert dev.hardware_version.startswith("Ace")
        with pytest.raises(introspect.IntrospectionError, match="no device 'Arc IX'"):
            introspect.set_parameter(dev, "target", "Arc IX")
        assert len(e.projects[e.active_project].recordings) == 1  # one recording for all


def test_missing_battery_licence_is_named(logger: Logger, start_driver) -> None:
    with OtiiEmulator(port=0, licenses=["Automation"]) as e:
        start_driver("Otii", port=e.port, battery_profile="CR2032-NoName")
        err = wait_for(lambda: events(logger, "deviceError"))
        assert "no free Battery licence" in err[0].text and "Battery Toolbox" in err[0].text


def test_server_refusal_names_the_licence(logger: Logger, start_driver, monkeypatch) -> None:
    monkeypatch.setattr(plugin_mod, "BACKOFF_MAX_S", 0.05)
    with OtiiEmulator(port=0) as e:  # nothing reserved, and the driver must not reserve
        start_driver("Otii", port=e.port, licensing="manual")
        err = wait_for(lambda: events(logger, "deviceError"))
        assert "no Automation licence reserved for otii_get_devices" in err[0].text
        assert "Automation Toolbox" in err[0].text


def test_password_is_a_secret(logger: Logger) -> None:
    assert Otii.SETTINGS["password"].secret and not Otii.SETTINGS["username"].secret
    shown = mask("devices", {"Otii": {"username": "ada", "password": "hunter2"}})
    assert shown == {"Otii": {"username": "ada", "password": "********"}}
