"""The Otii emulator against the unmodified otii-tcp-client: every command the client can send,
the shapes it parses, and the behaviour a driver relies on; plus scripted sessions written the
way Qoitech's published examples (basic_measurement.py, battery_emulator.py, at_commands.py) use
the client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import otii_tcp_client
import pytest
from helpers import wait_for
from otii_tcp_client import arc as arc_mod
from otii_tcp_client import otii as otii_mod
from otii_tcp_client import otii_client, otii_connection
from otii_tcp_client.otii_exception import Otii_Exception
from rtoc_tui.drivers.otii.emulator import RATES, OtiiEmulator


class Clock:
    """A server clock that only moves when told to."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emu(clock: Clock) -> Iterator[OtiiEmulator]:
    with OtiiEmulator(port=0, devices=[("Arc", "Arc I"), ("Ace", "Ace I")], clock=clock) as e:
        yield e


@pytest.fixture
def o(emu: OtiiEmulator) -> Iterator[otii_mod.Otii]:
    client = otii_client.OtiiClient()
    with client.connect(port=emu.port, try_for_seconds=0, licenses=["Automation", "Battery"]) as o:
        yield o


def devices(o: otii_mod.Otii) -> tuple[arc_mod.Arc, arc_mod.Arc]:
    arc, ace = o.get_devices()
    assert (arc.type, arc.name, ace.type, ace.name) == ("Arc", "Arc I", "Ace", "Ace I")
    return arc, ace


def refused(fn, *args, **kwargs) -> Otii_Exception:
    with pytest.raises(Otii_Exception) as exc:
        fn(*args, **kwargs)
    return exc.value


def test_every_client_command_has_a_handler() -> None:
    src = Path(otii_tcp_client.__file__).parent
    sent = set()
    for f in src.glob("*.py"):
        sent |= set(re.findall(r'"cmd": "([a-z0-9_-]+)"', f.read_text(encoding="utf-8")))
    assert len(sent) > 80
    handlers = {name[4:] for name in dir(OtiiEmulator) if name.startswith("cmd_")}
    missing = {c for c in sent if c.replace("-", "_") not in handlers}
    assert not missing


def test_starts_like_the_real_server(emu: OtiiEmulator) -> None:
    conn = otii_connection.OtiiConnection("127.0.0.1", emu.port)
    greeting = conn.connect_to_server(try_for_seconds=1)
    try:
        assert greeting["type"] == "information" and greeting["data"]["otii_version"]
        o = otii_mod.Otii(conn)
        assert o.is_logged_in()
        o.reserve_license(1)  # what the Otii app's user does (or OtiiClient's AUTO licensing)
        proj = o.get_active_project()  # an active project without creating one
        assert proj.id >= 1 and proj.get_last_recording() is None
        assert [d.name for d in o.get_devices()] == ["Arc I", "Ace I"]
        assert o.get_device_id("Ace I") == emu.device(1).device_id
    finally:
        conn.close_connection()


def test_login_and_licences() -> None:
    with OtiiEmulator(port=0, username="ada", password="secret", licenses=["All", "Battery"]) as e:
        conn = otii_connection.OtiiConnection("127.0.0.1", e.port)
        conn.connect_to_server()
        o = otii_mod.Otii(conn)
        try:
            assert o.is_logged_in() is False
            assert refused(o.get_licenses).type == "Not logged in"
            assert refused(o.login, "ada", "wrong").type == "Could not login"
            o.login("ada", "secret")
            lics = o.get_licenses()
            assert [
                set(lic) >= {"id", "type", "available", "reserved_to", "hostname"} for lic in lics
            ]
            assert all(lic["reservedTo"] == "" for lic in lics)  # otii_control's spelling too
            assert refused(o.get_devices).type == "No license"
            assert o.has_license("Automation") is False
            o.reserve_license(lics[0]["id"])
            assert o.has_license("Automation") and o.has_license("Battery")
            assert o.get_licenses()[0]["reserved_to"] == "ada"
            assert refused(o.reserve_license, lics[0]["id"]).type == "License could not be reserved"
            assert o.get_devices()[0].name == "Arc I"
            o.return_license(lics[0]["id"])
            assert refused(o.return_license, lics[0]["id"]).type == "License could not be returned"
            assert refused(o.get_battery_profiles).type == "No license"
            o.logout()
            assert o.is_logged_in() is False
        finally:
            conn.close_connection()


def test_otii_shutdown_closes_the_connection(emu: OtiiEmulator) -> None:
    conn = otii_connection.OtiiConnection("127.0.0.1", emu.port)
    conn.connect_to_server()
    otii_mod.Otii(conn).shutdown()  # the client swallows the disconnect
    wait_for(lambda: emu.connection_count == 0, what="connection dropped")


def test_arc_output_controls(o: otii_mod.Otii, emu: OtiiEmulator) -> None:
    arc, ace = devices(o)
    assert arc.get_main() is False
    arc.set_main(True)
    assert arc.get_main() and emu.device().main_on
    arc.set_main_voltage(2.5)
    assert arc.get_main_voltage() == 2.5
    assert refused(arc.set_main_voltage, 9.0).type == "Invalid key value"  # an Arc stops at 5 V
    ace.set_main_voltage(12.0)
    assert ace.get_main_voltage() == 12.0
    arc.set_max_current(0.2)
    assert arc.get_max_current() == 0.2
    arc.set_main_current(0.01)
    assert emu.device().main_current == 0.01
    for mode in ("current", "inline", "off", "voltage"):
        arc.set_power_regulation(mode)  # type: ignore[arg-type]
        assert emu.device().power_regulation == mode
    assert refused(arc.set_power_regulation, "turbo").type == "Invalid key value"
    assert arc.get_src_cur_limit_enabled() is True
    arc.set_src_cur_limit_enabled(False)
    assert arc.get_src_cur_limit_enabled() is False
    arc.set_range("high")
    assert arc.get_range() == "high"
    assert arc.get_4wire() == "disabled"
    arc.set_4wire(True)
    assert arc.get_4wire() == "active"  # main on, voltage mode
    arc.set_main(False)
    assert arc.get_4wire() == "inactive"
    arc.calibrate()
    arc.set_main(True)
    assert refused(arc.calibrate).type == "Command failure"  # not with the output on
    o.set_all_main(False)
    assert not emu.device(0).main_on and not emu.device(1).main_on
    assert arc.get_supply_mode() == "power-box"
    assert refused(arc.set_0_to_15_voltage, 5.0).type == "Command not valid for device type"
    ace.set_0_to_15_voltage(5.0)
    assert emu.device(1).voltage_0_15 == 5.0
    arc.enable_legacy_sink(True)
    assert emu.device().legacy_sink


def test_arc_io_controls(o: otii_mod.Otii, emu: OtiiEmulator) -> None:
    arc, _ = devices(o)
    arc.enable_5v(5)  # Qoitech's at_commands.py passes numbers
    assert emu.device().five_v
    arc.enable_5v(0)
    assert not emu.device().five_v
    arc.enable_exp_port(True)
    arc.set_exp_voltage(1.8)
    assert arc.get_exp_voltage() == 1.8 and emu.device().exp_port
    assert refused(arc.set_exp_voltage, 6.0).type == "Invalid key value"
    arc.set_adc_resistor(0.5)
    assert arc.get_adc_resistor() == 0.5
    arc.set_gpo(2, True)
    assert emu.device().gpo == {1: False, 2: True}
    assert refused(arc.set_gpo, 3, True).type == "Invalid key value"
    assert arc.get_gpi(1) is False and arc.get_gpi(2) is False
    emu.set_gpi(emu.device().device_id, 2, True)
    assert arc.get_gpi(2) is True and arc.get_value("i2") is True
    # RX/TX are a GPI/GPO while the UART is off, the UART's afterwards
    assert arc.get_rx() is True
    arc.set_tx(True)
    assert emu.device().tx
    assert refused(arc.write_tx, "AT").type == "Command failure"
    arc.enable_uart(True)
    assert refused(arc.get_rx).type == "Command failure"
    assert refused(arc.set_tx, False).type == "Command failure"
    assert arc.get_uart_baudrate() == 115200
    arc.set_uart_baudrate(9600)
    assert arc.get_uart_baudrate() == 9600
    arc.write_tx("AT+CFUN=1\r\n")
    assert emu.device().tx_written == ["AT+CFUN=1\r\n"]


def test_arc_identity_properties_and_firmware(
    o: otii_mod.Otii, emu: OtiiEmulator, tmp_path: Path
) -> None:
    arc, ace = devices(o)
    assert arc.get_version() == {"hw_version": "Arc 1.1", "fw_version": "1.2.4"}
    assert ace.get_version()["hw_version"].startswith("Ace")
    assert arc.is_connected()
    arc.add_to_project()
    assert emu.device().in_project
    assert arc.get_property("nickname") is None
    arc.set_property("nickname", "bench")
    assert arc.get_property("nickname") == "bench"
    arc.commit()
    assert refused(arc.firmware_upgrade, str(tmp_path / "none.bin")).type == "Command failure"
    fw = tmp_path / "arc.bin"
    fw.write_bytes(b"\0")
    arc.firmware_upgrade(str(fw))
    assert arc.get_version()["fw_version"] == "1.2.5"
    arc.firmware_upgrade()
    assert arc.get_version()["fw_version"] == "1.2.6"


def test_values_follow_the_power_mode(o: otii_mod.Otii, emu: OtiiEmulator, clock: Clock) -> None:
    arc, _ = devices(o)
    clock.t = 1000.25  # between the DUT's bursts: it draws ~2 mA
    assert arc.get_value("mc") == 0.0 and arc.get_value("mv") == 0.0  # main off
    arc.set_main(True)
    assert 0.0014 < arc.get_value("mc") < 0.0026
    assert 3.29 < arc.get_value("mv") < 3.3
    arc.set_4wire(True)
    assert arc.get_value("mv") == 3.3  # sensing at the DUT removes the cable drop
    arc.set_power_regulation("current")
    arc.set_main_current(0.004)
    assert arc.get_value("mc") == 0.004 and arc.get_value("mv") > 3.3  # twice the DUT's current
    arc.set_power_regulation("inline")
    assert arc.get_value("mv") == 3.3
    arc.set_power_regulation("off")
    assert arc.get_value("mc") == 0.0
    arc.set_power_regulation("voltage")
    # a 20 mA limit: constant current clips the 80 mA burst, cut-off switches the output off
    arc.set_max_current(0.02)
    clock.t = 1001.05
    assert arc.get_value("mc") == pytest.approx(0.02)
    arc.set_src_cur_limit_enabled(False)
    assert arc.get_main() is True  # the limit is checked as the DUT draws, not when it is set
    clock.advance(1.0)  # through the next burst
    assert arc.get_main() is False and arc.get_value("mc") == 0.0
    assert arc.get_value("vb") == 5.02 and 20 < arc.get_value("tp") < 30
    assert refused(arc.get_value, "rx").type == "Invalid key value"


def test_channels_stream_only_while_recording(
    o: otii_mod.Otii, emu: OtiiEmulator, clock: Clock
) -> None:
    arc, ace = devices(o)
    for ch in ("mc", "sp", "tp", "i1", "rx"):
        arc.enable_channel(ch, True)
    arc.enable_channel("sp", False)
    ace.enable_channel("mc", True)
    arc.set_main(True)
    proj = o.get_active_project()
    clock.advance(5.0)
    assert proj.get_last_recording() is None  # enabled channels do not record by themselves
    proj.start_recording()
    rec = proj.get_last_recording()
    assert rec is not None and rec.is_running() and rec.start_time is not None
    chans = {(m["device_id"], m["channel"]): m.get("sample_rate") for m in rec.measurements}
    assert chans == {
        (ace.id, "mc"): 50000,
        (arc.id, "mc"): 4000,
        (arc.id, "tp"): 10,
        (arc.id, "i1"): None,
        (arc.id, "rx"): None,
    }
    assert refused(rec.get_channel_data_count, arc.id, "sp").type == "Command failure"
    clock.advance(2.0)
    assert rec.get_channel_data_count(arc.id, "mc") == 8000
    assert rec.get_channel_data_count(arc.id, "tp") == 20
    info = rec.get_channel_info(arc.id, "mc")
    assert info == {"offset": 0.0, "from": 0.0, "to": 2.0, "sample_rate": 4000}
    data = rec.get_channel_data(arc.id, "mc", 0, 8000)  # the client fetches in 40,000 chunks
    assert (
        data["data_type"] == "analog"
        and data["interval"] == 1 / 4000
        and len(data["values"]) == 8000
    )
    assert data == rec.get_channel_data(arc.id, "mc", 0, 8000)  # deterministic
    assert rec.get_channel_data_index(arc.id, "mc", 1.0) == 4000
    # an Arc's rates are fixed, an Ace's settable, never while recording
    assert arc.get_channel_samplerate("sp") == RATES["Arc"]["sp"]
    assert (
        refused(arc.set_channel_samplerate, "mc", 1000).type == "Command not valid for device type"
    )
    assert refused(ace.set_channel_samplerate, "mc", 1000).type == "Command failure"
    proj.stop_recording()
    clock.advance(1.0)
    assert not rec.is_running() and rec.get_channel_data_count(arc.id, "mc") == 8000
    ace.set_channel_samplerate("mc", 1000)
    assert ace.get_channel_samplerate("mc") == 1000
    assert refused(ace.set_channel_samplerate, "mc", 10**6).type == "Invalid key value"
    proj.start_recording()
    clock.advance(0.5)
    second = proj.get_last_recording()
    assert second is not None and second.id != rec.id
    assert second.get_channel_data_count(ace.id, "mc") == 500  # the new rate changes the stream
    assert second.get_channel_data_count(arc.id, "mc") == 2000
    stats = second.get_channel_statistics(arc.id, "mc", 0.0, 0.4)
    assert set(stats) == {"min", "max", "average", "energy", "charge"} and stats["max"] > 0.08
    proj.stop_recording()


def test_uart_lines_and_digital_edges(o: otii_mod.Otii, emu: OtiiEmulator, clock: Clock) -> None:
    arc, _ = devices(o)
    clock.t = 1000.0
    arc.enable_uart(True)
    for ch in ("rx", "i1", "i2"):
        arc.enable_channel(ch, True)
    proj = o.get_active_project()
    proj.start_recording()
    rec = proj.get_last_recording()
    assert rec is not None
    clock.advance(0.3)
    arc.set_main(True)  # the DUT boots
    clock.advance(2.0)
    lines = rec.get_channel_data(arc.id, "rx", 0, rec.get_channel_data_count(arc.id, "rx"))
    assert lines["data_type"] == "log"
    texts = [v["value"] for v in lines["values"]]
    assert texts == ["Device booting", "sensor read #1000: 25.0 mA", "sensor read #1001: 25.0 mA"]
    assert lines["values"][0]["timestamp"] == pytest.approx(0.3)
    arc.write_tx("AT+CEREG=5\r\n")
    n = rec.get_channel_data_count(arc.id, "rx")
    clock.advance(0.1)  # the DUT answers 50 ms later
    assert rec.get_channel_data_count(arc.id, "rx") == n + 2
    n += 2
    assert [v["value"] for v in rec.get_channel_data(arc.id, "rx", n - 2, 2)["values"]] == [
        "AT+CEREG=5",
        "OK",
    ]
    raw = rec.get_channel_data(arc.id, "rx", 0, 1, strip=False)["values"][0]["value"]
    assert raw == "Device booting\r\n"  # the client strips the control characters
    edges = rec.get_channel_data(arc.id, "i1", 0, rec.get_channel_data_count(arc.id, "i1"))
    assert edges["data_type"] == "digital"
    assert [(round(v["timestamp"], 3), v["value"]) for v in edges["values"]] == [
        (0.0, False),
        (1.0, True),
        (1.1, False),
        (2.0, True),
        (2.1, False),
    ]
    emu.set_gpi(arc.id, 2, True)
    clock.advance(0.5)
    i2 = rec.get_channel_data(arc.id, "i2", 0, 10)["values"]
    assert [v["value"] for v in i2] == [False, True] and i2[1]["timestamp"] == pytest.approx(2.4)
    assert rec.get_channel_data_index(arc.id, "rx", 1.0) == 2
    arc.set_uart_baudrate(9600)  # the DUT still talks at 115200: garbage
    clock.advance(1.0)
    last = rec.get_channel_data(arc.id, "rx", rec.get_channel_data_count(arc.id, "rx") - 1, 1)
    assert "sensor" not in last["values"][0]["value"]
    proj.stop_recording()


def test_projects_recordings_and_user_logs(
    o: otii_mod.Otii, emu: OtiiEmulator, clock: Clock, tmp_path: Path
) -> None:
    arc, _ = devices(o)
    arc.enable_channel("mc", True)
    arc.enable_channel("i1", True)
    arc.set_main(True)
    proj = o.get_active_project()
    proj.start_recording()
    clock.advance(3.0)
    assert refused(proj.save_as, str(tmp_path / "p")).type == "Command failure"  # recording
    proj.stop_recording()
    rec = proj.get_last_recording()
    assert rec is not None
    saved = proj.save_as(str(tmp_path / "p"), progress=True)  # progress lines are skipped
    assert saved == str(tmp_path / "p.otii") and proj.save() == saved
    assert refused(o.open_project, str(tmp_path / "nope.otii")).type == "Command failure"
    rec.rename("first")
    assert [r.name for r in proj.get_recordings()] == ["first"]
    # offsets
    rec.set_offset(250.0)
    assert rec.get_offset() == 250.0
    rec.set_log_offset(arc.id, "rx", 0.5)
    assert rec.get_log_offset(arc.id, "rx") == 0.5 and rec.get_log_offset(None, "rx") == 0.0
    # user logs
    assert proj.create_user_log("notes") == "notes"
    for n in range(5):
        rec.append_user_log("notes", 0.1 * n, f"step {n}")
    page = rec.get_user_log_data("notes", 0.0, 1.0, "step", page=1, page_size=2)
    assert page["data_type"] == "log_data" and page["pages_total"] == 3
    assert [v["value"] for v in page["values"]] == ["step 0", "step 1"]
    entries = list(rec.iter_user_log_data("notes", 0.0, 1.0))
    assert len(entries) == 5
    rec.offset_user_log("notes", 1.0)
    assert rec.get_user_log_data("notes", 1.35, 2.0, "", 1)["values"][0]["value"] == "step 4"
    rec.log("hello", 0.5)
    log_file = tmp_path / "dut.log"
    log_file.write_text("0.5 boot\n1.5 ready\n", encoding="utf-8")
    log_id = rec.import_log(str(log_file), "text")
    assert [v["value"] for v in rec.get_user_log_data(log_id, 0, 9, "", 1)["values"]] == [
        "boot",
        "ready",
    ]
    # downsample and crop
    rec.downsample_channel(arc.id, "mc", 4)
    assert rec.get_channel_info(arc.id, "mc")["sample_rate"] == 1000
    assert rec.get_channel_data_count(arc.id, "mc") == 3000
    rec.downsample_channel(arc.id, "me", 2)  # energy is derived: accepted, nothing to thin
    assert refused(rec.downsample_channel, arc.id, "mp", 2).type == "Invalid key value"
    proj.crop_data(1.0, 2.5)
    assert rec.get_channel_data_count(arc.id, "mc") == 1500
    i1 = rec.get_channel_data(arc.id, "i1", 0, 10)["values"]
    assert i1[0]["timestamp"] == 0.0 and i1[0]["value"] is True  # the burst at the new start
    # a second recording, deleted again; the project reopens as saved
    proj.start_recording()
    clock.advance(1.0)
    second = proj.get_last_recording()
    assert second is not None
    assert refused(second.delete).type == "Command failure"
    proj.stop_recording()
    second.delete()
    assert len(proj.get_recordings()) == 1
    assert refused(proj.close).type == "Command failure"  # unsaved changes
    reopened = o.open_project(saved, force=True, progress=True)
    assert reopened.filename == saved and reopened.id != proj.id
    assert o.get_active_project().id == reopened.id
    recs = reopened.get_recordings()
    assert len(recs) == 1 and recs[0].get_channel_data_count(arc.id, "mc") == 12000
    reopened.close(force=True)
    with pytest.raises(otii_mod.OtiiException):
        o.get_active_project()
    created = o.create_project()
    assert o.get_active_project().id == created.id


def test_battery_emulator(o: otii_mod.Otii, emu: OtiiEmulator, clock: Clock) -> None:
    arc, _ = devices(o)
    profiles = o.get_battery_profiles()
    assert all(set(p) == {"battery_profile_id", "name", "manufacturer", "model"} for p in profiles)
    cr2032 = next(p for p in profiles if p["model"] == "CR2032")["battery_profile_id"]
    info = o.get_battery_profile_info(cr2032)
    assert set(info["battery"]) == {
        "capacity", "capacityunit", "cutoffvoltage", "manufacturer", "maxtemperature",
        "mintemperature", "model", "size", "sizeunit", "temperatureunit", "voltage",
        "voltageunit", "weight", "weightunit", "worktemperature",
    }  # fmt: skip
    assert info["discharge_tables"][0]["dischargetable_id"]
    assert refused(arc.set_supply_battery_emulator, cr2032, soc=50, used_capacity=10).type == (
        "Command failure"
    )
    be = arc.set_supply_battery_emulator(cr2032, series=2, parallel=3, soc=50)
    assert arc.get_supply_mode() == "battery-emulator"
    assert (be.get_series(), be.get_parallel(), be.get_soc_tracking()) == (2, 3, True)
    capacity_c = 225.0 * 3.6 * 3
    assert be.get_soc() == 50 and be.get_used_capacity() == pytest.approx(capacity_c / 2)
    arc.set_main(True)
    assert arc.get_value("mv") == pytest.approx(6.0, abs=0.01)  # two 3 V cells in series
    clock.advance(100.0)
    assert be.get_soc() < 50  # the DUT drains it
    be.set_soc_tracking(False)
    soc = be.get_soc()
    clock.advance(100.0)
    assert be.get_soc() == soc
    be.set_soc(80)
    assert be.get_used_capacity() == pytest.approx(capacity_c * 0.2)
    be.set_used_capacity(capacity_c / 4)
    assert be.get_soc() == pytest.approx(75.0)
    cr2450 = next(p for p in profiles if p["model"] == "CR2450")["battery_profile_id"]
    be.update_profile(cr2450, "keep_soc")
    assert be.get_soc() == pytest.approx(75.0)
    be.update_profile(cr2450, "reset")
    assert be.get_soc() == 100.0
    assert refused(be.update_profile, cr2450, "maybe").type == "Invalid key value"
    # battery profiling (Battery Toolbox)
    assert refused(arc.wait_for_battery_data, 100).type == "Command failure"
    arc.enable_battery_profiling(True)
    arc.set_battery_profile(cr2032)
    assert arc.wait_for_battery_data(100) == pytest.approx(6.0, abs=0.01)
    arc.set_supply_power_box()
    assert arc.get_supply_mode() == "power-box"
    assert refused(be.get_soc).type == "Invalid key value"


def test_device_disconnects_and_comes_back(
    o: otii_mod.Otii, emu: OtiiEmulator, clock: Clock
) -> None:
    arc, _ = devices(o)
    arc.enable_channel("mc", True)
    arc.set_main(True)
    proj = o.get_active_project()
    proj.start_recording()
    clock.advance(1.0)
    emu.connect_device(arc.id, False)
    assert arc.is_connected() is False
    err = refused(arc.get_main)
    assert err.type == "Device not connected" and arc.id in str(err.message)
    assert [d.name for d in o.get_devices()] == ["Ace I"]
    rec = proj.get_last_recording()
    assert rec is not None and not rec.is_running()  # it cannot record without its device
    clock.advance(1.0)
    assert rec.get_channel_data_count(arc.id, "mc") == 4000
    emu.connect_device(arc.id, True)
    assert arc.is_connected() and arc.get_main() is False  # back, with its output off


def test_scripted_basic_measurement(emu: OtiiEmulator, clock: Clock, tmp_path: Path) -> None:
    """Qoitech's basic_measurement.py, step by step: configure, record, statistics, save."""
    client = otii_client.OtiiClient()
    with client.connect(port=emu.port, try_for_seconds=0) as otii:
        devices_found = otii.get_devices()
        if len(devices_found) == 0:
            raise AssertionError("No Arc or Ace connected!")
        device = devices_found[0]
        device.set_main_voltage(3.7)
        device.set_exp_voltage(3.3)
        device.set_max_current(0.5)
        device.enable_channel("mc", True)
        project = otii.get_active_project()
        project.start_recording()
        device.set_main(True)
        clock.advance(5.0)  # time.sleep(MEASUREMENT_DURATION)
        device.set_main(False)
        project.stop_recording()
        recording = project.get_last_recording()
        info = recording.get_channel_info(device.id, "mc")
        statistics = recording.get_channel_statistics(device.id, "mc", info["from"], info["to"])
        assert (info["from"], info["to"], info["offset"], info["sample_rate"]) == (
            0.0,
            5.0,
            0.0,
            4000,
        )
        assert 0.0 < statistics["min"] < statistics["average"] < statistics["max"] < 0.1
        assert statistics["energy"] / 3600 > 0  # the example prints Wh
        assert project.save_as(str(tmp_path / "basic")).endswith("basic.otii")
    assert emu.licenses[0]["reserved_to"] == ""  # the client returned what it reserved


def test_scripted_battery_emulator(emu: OtiiEmulator, clock: Clock) -> None:
    """Qoitech's battery_emulator.py: profiles, select by model, emulate, read everything."""
    client = otii_client.OtiiClient()
    with client.connect(
        port=emu.port, try_for_seconds=0, licenses=["Automation", "Battery"]
    ) as otii:
        device = otii.get_devices()[0]
        device.add_to_project()
        assert device.get_supply_mode() == "power-box"
        profiles = otii.get_battery_profiles()
        lm_profiles = [p for p in profiles if "model" in p and p["model"] == "190mAh_LiPo"]
        profile = lm_profiles[0]
        battery_profile_id = profile["battery_profile_id"]
        series, parallel = 2, 3
        battery_emulator = device.set_supply_battery_emulator(
            battery_profile_id, series=series, parallel=parallel, soc=50
        )
        clock.advance(1.0)
        info = otii.get_battery_profile_info(battery_profile_id)
        assert info["battery"]["capacity"] * parallel == pytest.approx(621.21)
        assert battery_emulator.get_parallel() == parallel
        assert battery_emulator.get_series() == series
        assert battery_emulator.get_soc() == 50.0  # main off: nothing drawn
        assert battery_emulator.get_soc_tracking() is True
        assert battery_emulator.get_used_capacity() / 3.6 == pytest.approx(621.21 / 2)
        device.set_supply_power_box()


def test_scripted_at_commands(emu: OtiiEmulator, clock: Clock) -> None:
    """Qoitech's at_commands.py: UART at 115200, write AT commands on TX, wait for OK on RX."""
    client = otii_client.OtiiClient()
    with client.connect(port=emu.port, try_for_seconds=0) as otii:
        device = otii.get_devices()[0]
        device.set_main_voltage(3.6)
        device.set_exp_voltage(1.8)
        device.set_max_current(1)
        device.enable_5v(5)
        device.enable_channel("mc", True)
        device.enable_channel("rx", True)
        device.enable_uart(True)
        device.set_uart_baudrate(115200)
        project = otii.get_active_project()
        project.start_recording()
        recording = project.get_last_recording()
        device.set_main(True)

        def wait_for_response(ok_text: str) -> bool:
            previous = recording.get_channel_data_count(device.id, "rx")
            for _ in range(50):
                clock.advance(0.2)  # MESSAGE_POLLING_TIME
                samples = recording.get_channel_data_count(device.id, "rx")
                if samples > previous:
                    rx = recording.get_channel_data(device.id, "rx", previous, samples - previous)
                    if any(ok_text in d["value"] for d in rx["values"]):
                        return True
                    previous = samples
            return False

        assert wait_for_response("Device booting")
        recording.rename("Initial settings")
        for command in ["AT+CEREG=5", "AT+CSCON=3"]:
            device.write_tx(command + "\r\n")
            assert wait_for_response("OK")
        project.stop_recording()
        device.set_main(False)
        device.enable_5v(0)
        assert [r.name for r in project.get_recordings()] == ["Initial settings"]
