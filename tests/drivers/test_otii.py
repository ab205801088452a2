"""Otii driver against the loopback Otii TCP server emulator, through the real otii-tcp-client."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import helpers
import numpy as np
import pytest
from helpers import events, wait_for
from otii_tcp_client import otii_client
from otii_tcp_client.otii_exception import Otii_Exception
from rtoc_tui.drivers.otii.driver import Otii, OtiiRefused
from rtoc_tui.drivers.otii.emulator import OtiiEmulator

import rtoc_tui.core.plugin as plugin_mod
from rtoc_tui.core import introspect
from rtoc_tui.core.devices import DeviceError
from rtoc_tui.core.logger import Logger

RATE = 4000


def count(logger, name: str) -> int:
    return helpers.count(logger, f"Otii.{name}")


@pytest.fixture
def emu() -> Iterator[OtiiEmulator]:
    with OtiiEmulator(port=0, sample_rate=RATE) as e:
        yield e


@pytest.fixture
def start_otii(start_driver, emu: OtiiEmulator) -> Callable[..., Otii]:
    """start_otii(**settings) -> the running driver (port of the emulator filled in)."""

    def _start(**settings: Any) -> Otii:
        dev = start_driver("Otii", **{"port": emu.port, "samplerate": 20.0, **settings})
        assert isinstance(dev, Otii)
        return dev

    return _start


# -- normal readings ------------------------------------------------------------------------
def test_streams_main_channels_with_units_and_unix_time(
    logger: Logger, emu: OtiiEmulator, start_otii
) -> None:
    t_before = time.time()
    dev = start_otii()
    wait_for(
        lambda: all(
            count(logger, s) >= 2 * RATE // 10 for s in ("MainCurrent", "MainVoltage", "MainPower")
        )
    )
    units = {b.sname: b.unit for b in logger.store.buffers() if b.dname == "Otii"}
    assert units == {"MainCurrent": "A", "MainVoltage": "V", "MainPower": "W"}
    x, y = logger.store.get("Otii.MainVoltage").copy()
    assert np.all(np.diff(x) > 0)
    # consecutive batches join without gaps (atol: float64 resolution of Unix time is ~0.24 µs)
    assert np.allclose(np.diff(x), 1.0 / RATE, rtol=0, atol=1e-6)
    assert t_before - 1.0 < x[0] < time.time()  # x is Unix time
    assert np.all((y > 3.2) & (y <= 3.3))  # 3.3 V minus the drop across the output resistance
    assert dev.connected and dev.recording and dev._state == ("running", "")
    assert "Arc I" in dev.device
    assert dev.samples_ingested >= 3 * 2 * RATE // 10


def test_samples_are_the_emulators_waveform(logger: Logger, emu: OtiiEmulator, start_otii) -> None:
    dev = start_otii(channels="mc, MainPower")
    wait_for(
        lambda: (
            count(logger, "MainCurrent") >= RATE // 2 and count(logger, "MainPower") >= RATE // 2
        )
    )
    assert logger.store.get("Otii.MainVoltage") is None  # not enabled
    rec = emu.projects[emu.active_project].recordings[-1]
    for ch, sname in (("mc", "MainCurrent"), ("mp", "MainPower")):
        x, y = logger.store.get(f"Otii.{sname}").copy()
        k = np.rint((x - dev._t0) * RATE).astype(int)
        assert k[0] == 0 and np.array_equal(k, np.arange(len(k)))
        expected = emu.window(rec, emu.device(), ch, 0, len(k))
        np.testing.assert_allclose(y, expected, rtol=1e-12)


def test_without_recording_reads_single_values(
    logger: Logger, emu: OtiiEmulator, start_otii
) -> None:
    dev = start_otii(record=False, channels="mv,tp")
    wait_for(lambda: count(logger, "MainVoltage") >= 3 and count(logger, "Temperature") >= 3)
    assert not dev.recording and not emu.projects[emu.active_project].recordings
    assert logger.store.get("Otii.Temperature").unit == "°C"
    assert "arc_get_value" in emu.commands()


# -- parameters and functions -----------------------------------------------------------------
def test_settings_reach_the_device(logger: Logger, emu: OtiiEmulator, start_otii) -> None:
    dev = start_otii(main_voltage=2.5, max_current=0.2, range="high")
    wait_for(lambda: dev.connected, what="connect")
    arc = emu.device()
    assert (arc.main_on, arc.main_voltage, arc.max_current, arc.range) == (True, 2.5, 0.2, "high")
    assert arc.enabled == {"mc", "mv", "mp"} and arc.samplerate("mc") == RATE
    assert arc.supply_mode == "power-box"
    # the measured voltage follows the setting
    wait_for(lambda: count(logger, "MainVoltage") >= 100)
    assert abs(logger.store.get("Otii.MainVoltage").latest()[1] - 2.5) < 0.01


def test_parameters_change_the_device_at_runtime(
    logger: Logger, emu: OtiiEmulator, start_otii
) -> None:
    dev = start_otii()
    wait_for(lambda: dev.connected, what="connect")
    assert introspect.set_parameter(dev, "main_voltage", "1.8") == 1.8
    assert emu.device().main_voltage == 1.8
    introspect.set_parameter(dev, "main_power", False)
    assert emu.device().main_on is False
    introspect.set_parameter(dev, "range", "high")
    assert emu.device().range == "high"
    # 9 V is a valid Ace voltage, so the driver sends it; the emulated Arc refuses it
    with pytest.raises(introspect.IntrospectionError, match="Invalid key value"):
        introspect.set_parameter(dev, "main_voltage", 9.0)
    assert dev.main_voltage == 1.8 and emu.device().main_voltage == 1.8
    assert dev.connected  # a refusal does not cost the connection
    with pytest.raises(introspect.IntrospectionError, match="between"):
        introspect.set_parameter(dev, "max_current", 7.0)
    names = {p.name: p for p in introspect.parameters(dev)}
    assert {"main_voltage", "max_current", "range", "main_power", "recording", "connected"} <= set(
        names
    )
    assert names["main_voltage"].doc and not names["recording"].writable
    funcs = {f.name: f for f in introspect.functions(dev)}
    assert {
        "get_channel_statistics",
        "start_recording",
        "stop_recording",
        "battery_profiles",
    } <= set(funcs)
    assert all(f.doc for f in funcs.values())


def test_channel_statistics(logger: Logger, emu: OtiiEmulator, start_otii) -> None:
    dev = start_otii()
    wait_for(lambda: count(logger, "MainCurrent") >= RATE and count(logger, "MainPower") >= RATE)
    stats = introspect.call_function(dev, "get_channel_statistics", "mc", 0.0, 0.5)
    assert set(stats) >= {"min", "max", "average", "energy", "charge"}
    x, i = logger.store.get("Otii.MainCurrent").copy()
    _, p = logger.store.get("Otii.MainPower").copy()
    win = slice(0, RATE // 2 + 1)  # samples 0 .. 0.5 s inclusive
    assert stats["min"] == pytest.approx(i[win].min())
    assert stats["max"] == pytest.approx(i[win].max())
    assert stats["average"] == pytest.approx(i[win].mean())
    assert stats["charge"] == pytest.approx(i[win].sum() / RATE)
    assert stats["energy"] == pytest.approx(p[win].sum() / RATE)
    # the same window in Unix time (the signals' x), and a signal name instead of the code
    same = dev.get_channel_statistics("MainCurrent", x[0], x[0] + 0.5)
    assert same["average"] == pytest.approx(stats["average"])
    assert dev.get_channel_statistics("mv")["max"] <= 3.3
    with pytest.raises(ValueError, match="unknown channel"):
        dev.get_channel_statistics("zz")


def test_stop_and_start_recording(logger: Logger, emu: OtiiEmulator, start_otii) -> None:
    dev = start_otii()
    wait_for(lambda: count(logger, "MainCurrent") > 0)
    first = dev._rec_id
    assert dev.stop_recording() is True
    assert emu._running() is None and not dev.recording
    rid = dev.start_recording()
    assert rid != first and emu._running().id == rid
    n = count(logger, "MainCurrent")
    wait_for(lambda: count(logger, "MainCurrent") > n + 100)
    x, _ = logger.store.get("Otii.MainCurrent").copy()
    assert np.all(np.diff(x) > 0)


def test_battery_emulator_profile(logger: Logger, emu: OtiiEmulator, start_otii) -> None:
    dev = start_otii(battery_profile="CR2032-NoName", battery_soc=80.0)
    wait_for(lambda: count(logger, "MainVoltage") >= 100)
    arc = emu.device()
    assert arc.supply_mode == "battery-emulator"
    assert arc.battery["soc"] == pytest.approx(80.0, abs=0.01)  # the DUT drains it slowly
    assert abs(logger.store.get("Otii.MainVoltage").latest()[1] - 3.0) < 0.01
    assert dev.battery_status()["soc"] == pytest.approx(80.0, abs=0.01)
    assert "CR2450-NoName" in [p["name"] for p in dev.battery_profiles()]
    dev.battery_profile = "CR2450-NoName"
    assert arc.battery["profile_id"] == "b2ce2796-80f7-4386-8759-be31466927b8"
    with pytest.raises(OtiiRefused, match="no battery profile 'nope'"):
        dev.battery_profile = "nope"
    assert dev.battery_profile == "CR2450-NoName"
    dev.battery_profile = ""
    assert arc.supply_mode == "power-box"


def test_device_selection(logger: Logger, start_otii) -> None:
    with OtiiEmulator(port=0, devices=[("Arc", "Arc I"), ("Ace", "Ace I")]) as two:
        logger.devices.settings["Otii"] = {
            "port": two.port,
            "device": "Ace I",
            "main_voltage": 12.0,
        }
        dev = logger.devices.start("Otii")
        wait_for(lambda: dev.connected, what="connect")
        assert "Ace I" in dev.device
        assert two.device(1).main_voltage == 12.0 and two.device(0).main_on is False
        logger.devices.stop("Otii")


def test_unknown_device_is_a_clear_error(logger: Logger, emu: OtiiEmulator, start_otii) -> None:
    dev = start_otii(device="Arc 99")
    err = wait_for(lambda: events(logger, "deviceError"))
    assert "no device 'Arc 99'" in err[0].text and "Arc I" in err[0].text
    assert dev._state[0] == "error"


# -- failures -------------------------------------------------------------------------------
def test_unplug_then_reconnect_resumes(
    logger: Logger, emu: OtiiEmulator, start_otii, monkeypatch
) -> None:
    monkeypatch.setattr(plugin_mod, "BACKOFF_MAX_S", 0.05)
    dev = start_otii()
    wait_for(lambda: count(logger, "MainCurrent") >= 200)
    emu.unplug()
    wait_for(lambda: dev._state[0] == "error", what="error state")
    wait_for(lambda: dev._failures >= 4, what="several failed reconnects")
    before = count(logger, "MainCurrent")
    assert before > 0  # the last good values stay
    errs = events(logger, "deviceError")
    assert len(errs) == 1 and errs[0].priority == 2
    assert "connection closed by the server" in errs[0].text or "connection refused" in errs[0].text
    emu.replug()
    wait_for(lambda: dev._state == ("running", ""), what="recovery")
    wait_for(lambda: count(logger, "MainCurrent") > before + 200)
    assert len(events(logger, "deviceError")) == 1 and len(events(logger, "deviceRecovered")) == 1
    # the server kept recording, so the driver resumed it: one gap-free series
    assert len(emu.projects[emu.active_project].recordings) == 1
    x, _ = logger.store.get("Otii.MainCurrent").copy()
    assert np.allclose(np.diff(x), 1.0 / RATE, rtol=0, atol=1e-6)
    assert emu.connections_accepted >= 2


def test_device_usb_unplug_while_server_runs(
    logger: Logger, emu: OtiiEmulator, start_otii, monkeypatch
) -> None:
    monkeypatch.setattr(plugin_mod, "BACKOFF_MAX_S", 0.05)
    dev = start_otii()
    wait_for(lambda: count(logger, "MainCurrent") > 0)
    first = dev._rec_id
    emu.connect_device(emu.device().device_id, False)
    err = wait_for(lambda: events(logger, "deviceError"))
    assert "device Arc I" in err[0].text and "disconnected" in err[0].text
    emu.connect_device(emu.device().device_id, True)
    wait_for(lambda: events(logger, "deviceRecovered"))
    n = count(logger, "MainCurrent")
    wait_for(lambda: count(logger, "MainCurrent") > n + 100)
    assert dev._rec_id != first and emu._running().id == dev._rec_id  # a new recording
    with pytest.raises(OtiiRefused, match="battery-emulator mode"):
        dev.battery_status()


@pytest.mark.parametrize("kind", ["json", "bytes", "trans_id"])
def test_garbage_reply_is_an_error_then_recovers(
    logger, emu: OtiiEmulator, start_otii, monkeypatch, kind
) -> None:
    monkeypatch.setattr(plugin_mod, "BACKOFF_MAX_S", 0.05)
    dev = start_otii()
    wait_for(lambda: count(logger, "MainCurrent") >= 100)
    emu.inject_garbage(1, kind)
    err = wait_for(lambda: events(logger, "deviceError"))
    expected = "transaction id mismatch" if kind == "trans_id" else "garbled reply"
    assert expected in err[0].text
    wait_for(lambda: events(logger, "deviceRecovered"))
    n = count(logger, "MainCurrent")
    wait_for(lambda: count(logger, "MainCurrent") > n)
    assert dev._state == ("running", "")


def test_server_down_at_start(logger: Logger, start_otii, monkeypatch) -> None:
    monkeypatch.setattr(plugin_mod, "BACKOFF_MAX_S", 0.05)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    logger.devices.settings["Otii"] = {"port": port}
    dev = logger.devices.start("Otii")
    err = wait_for(lambda: events(logger, "deviceError"))
    assert f"127.0.0.1:{port}: connect: connection refused" in err[0].text
    with pytest.raises(RuntimeError, match="no connection to the Otii server"):
        dev.list_devices()
    logger.devices.stop("Otii")


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"channels": "mc,zz"}, "channels"),
        ({"channels": "mc,me"}, "channels"),
        ({"samplerates": "rx=10"}, "samplerates"),
        ({"samplerates": "mc"}, "samplerates"),
        ({"limit_mode": "soft"}, "limit_mode"),
        ({"channels": ""}, "channels"),
        ({"port": 70000}, "port"),
        ({"range": "medium"}, "range"),
        ({"main_voltage": "high"}, "main_voltage"),
        ({"licensing": "sometimes"}, "licensing"),
        ({"bogus": 1}, "bogus"),
    ],
)
def test_invalid_settings_name_the_key(logger: Logger, settings: dict, key: str) -> None:
    logger.devices.settings["Otii"] = settings
    with pytest.raises(DeviceError, match=rf"devices\.Otii\.{key}"):
        logger.devices.start("Otii")
    assert logger.devices.get("Otii") is None


# -- licensing ------------------------------------------------------------------------------
def test_login_and_licence_are_released_on_stop(logger: Logger, start_otii) -> None:
    with OtiiEmulator(port=0, username="ada", password="secret") as locked:
        logger.devices.settings["Otii"] = {
            "port": locked.port,
            "username": "ada",
            "password": "secret",
        }
        dev = logger.devices.start("Otii")
        wait_for(lambda: count(logger, "MainCurrent") > 0)
        assert locked.logged_in and locked.licenses[0]["reserved_to"] == "ada"
        assert locked.licenses[1]["reserved_to"] == ""  # no Battery licence without a profile
        logger.devices.stop("Otii")
        assert not dev.connected
        assert locked.licenses[0]["reserved_to"] == "" and not locked.logged_in
        assert locked._running() is None and locked.device().main_on is False
        wait_for(lambda: locked.connection_count == 0, what="connection closed")


def test_wrong_password_and_missing_credentials(logger: Logger, start_otii, monkeypatch) -> None:
    monkeypatch.delenv("OTII_USERNAME", raising=False)
    with OtiiEmulator(port=0, username="ada", password="secret") as locked:
        logger.devices.settings["Otii"] = {
            "port": locked.port,
            "username": "ada",
            "password": "wrong",
        }
        logger.devices.start("Otii")
        err = wait_for(lambda: events(logger, "deviceError"))
        assert "log in: server error 'Could not login'" in err[0].text
        logger.devices.stop("Otii")
        logger.events.clear()
        logger.devices.settings["Otii"] = {"port": locked.port}
        logger.devices.start("Otii")
        err = wait_for(lambda: events(logger, "deviceError"))
        assert "not logged in: set devices.Otii.username" in err[0].text
        logger.devices.stop("Otii")


def test_credentials_file(logger: Logger, tmp_path, start_otii) -> None:
    cred = tmp_path / "credentials.json"
    cred.write_text('{"username": "ada", "password": "secret"}', encoding="utf-8")
    with OtiiEmulator(port=0, username="ada", password="secret") as locked:
        logger.devices.settings["Otii"] = {"port": locked.port, "credentials": str(cred)}
        dev = logger.devices.start("Otii")
        wait_for(lambda: dev.connected, what="connect")
        logger.devices.stop("Otii")


# -- the emulator speaks the protocol the stock client expects ----------------------------------
def test_emulator_with_the_stock_client(emu: OtiiEmulator) -> None:
    client = otii_client.OtiiClient()
    o = client.connect(port=emu.port, try_for_seconds=0)
    try:
        arc = o.get_devices()[0]
        with pytest.raises(Otii_Exception) as bad:
            arc.set_range("medium")  # type: ignore[arg-type]
        assert bad.value.type == "Invalid key value"
        reply = o.connection.send_and_receive(
            {"type": "request", "cmd": "arc_no_such_cmd", "data": {}}
        )
        assert Otii_Exception(reply).message == 'arc_no_such_cmd Error: "Invalid command"'
        with pytest.raises(Otii_Exception) as bad:
            arc.enable_channel("mc", "yes")  # type: ignore[arg-type]
        assert bad.value.type == "Invalid key type"
        arc.enable_channel("mc", True)
        arc.set_main(True)
        proj = o.create_project()
        proj.start_recording()
        rec = wait_for(
            lambda: (
                (r := proj.get_last_recording())
                and r.get_channel_data_count(arc.id, "mc") >= 50
                and r
            )
        )
        a = rec.get_channel_data(arc.id, "mc", 10, 40)
        b = rec.get_channel_data(arc.id, "mc", 10, 40)
        assert (
            a == b
            and len(a["values"]) == 40
            and a["timestamp"] == 10 / RATE
            and a["interval"] == 1 / RATE
        )
        with pytest.raises(Otii_Exception) as bad:
            rec.get_channel_data(arc.id, "mv", 0, 1)
        assert bad.value.type == "Command failure" and "not part of recording" in bad.value.message
        assert rec.start_time is not None and rec.is_running()
        proj.stop_recording()
        assert not rec.is_running()
    finally:
        client.disconnect()
    assert emu.licenses[0]["reserved_to"] == ""  # the client returned what it reserved


def test_emulator_unplug_refuses_connections(emu: OtiiEmulator) -> None:
    emu.unplug()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(emu.address, timeout=2).close()
    emu.replug()
    with socket.create_connection(emu.address, timeout=2) as s:
        assert s.recv(4096).startswith(b'{"type":"information"')


def test_emulator_parse_errors(emu: OtiiEmulator) -> None:
    with socket.create_connection(emu.address, timeout=2) as s:
        f = s.makefile("rb")
        f.readline()  # greeting
        s.sendall(b"{not json\r\n")
        assert b'"errorcode":"Not able to parse request"' in f.readline()
        s.sendall(
            b'{"type": "request", "cmd": "otii_has_license", "data": {}, "trans_id": "7"}\r\n'
        )
        line = f.readline()
        assert b'"errorcode":"Missing key in request"' in line and b'"trans_id":"7"' in line


def test_sample_config_runs_against_the_emulator(make_logger, emu: OtiiEmulator) -> None:
    path = Path(__file__).resolve().parents[2] / "drivers" / "otii" / "sample_config.json"
    lg = make_logger(json.loads(path.read_text(encoding="utf-8")))
    assert lg.devices.settings["Otii"]["port"] == 1905
    lg.devices.settings["Otii"] = {**lg.devices.settings["Otii"], "port": emu.port}
    try:
        lg.devices.start("Otii")
        wait_for(lambda: count(lg, "MainPower") > 0)
    finally:
        lg.devices.stop_all()
