"""VC820 decoder and driver, the driver against the FS9721 emulator over a real pty."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import serial
from helpers import events, wait_for
from rtoc_tui.drivers.vc820.driver import (
    AC,
    AUTO,
    DC,
    HOLD,
    LOW_BAT,
    QUANTITIES,
    REL,
    VC820,
    FS9721Parser,
    decode_stream,
)
from rtoc_tui.drivers.vc820.emulator import VC820Emulator, autorange, encode_frame

from rtoc_tui.core import introspect
from rtoc_tui.core.devices import DeviceError
from rtoc_tui.core.logger import Logger

DOC_FRAMES = [
    # (display args, frame from shared/protocols/vc820.md §7, value, signal)
    (("1.234", "", "V", False), "17 20 35 4D 5B 61 7F 82 97 A0 B0 C0 D4 E0", 1.234, "Voltage"),
    (("-0.056", "m", "A", False), "17 2F 3D 4F 5D 63 7E 87 9E A0 B8 C0 D8 E0", -56e-6, "Current"),
    (("23.00", "", "V", True), "1B 25 3B 41 5F 6F 7D 87 9D A0 B0 C0 D4 E0", 23.0, "VoltageAC"),
]


def values(logger: Logger, sig: str) -> list[float]:
    buf = logger.store.get(f"VC820.{sig}")
    return [] if buf is None else buf.copy()[1].tolist()


# -- encoder / decoder ---------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "frame", "value", "signal"), DOC_FRAMES)
def test_encoder_reproduces_the_documented_frames(
    args: tuple[Any, ...], frame: str, value: float, signal: str
) -> None:
    display, prefix, unit, ac = args
    assert encode_frame(display, prefix=prefix, unit=unit, ac=ac).hex(" ").upper() == frame


@pytest.mark.parametrize(("args", "frame", "value", "signal"), DOC_FRAMES)
def test_decoder_reads_the_documented_frames(
    args: tuple[Any, ...], frame: str, value: float, signal: str
) -> None:
    (r,) = FS9721Parser().feed(bytes.fromhex(frame))
    assert r.value == value
    assert (
        r.quantity == signal and r.unit == QUANTITIES[[q[0] for q in QUANTITIES].index(signal)][1]
    )
    assert r.flags & AUTO and bool(r.flags & AC) == args[3] and bool(r.flags & DC) == (not args[3])
    assert r.display == f"{args[0]} {args[1]}{args[2]}"


def test_flags_prefixes_and_units_round_trip() -> None:
    cases = [
        (dict(display="12.34", prefix="k", unit="Ω"), 12340.0, "Resistance", 0),
        (dict(display="3.999", prefix="M", unit="Ω"), 3.999e6, "Resistance", 0),
        (dict(display="4.70", prefix="n", unit="F"), 4.7e-9, "Capacitance", 0),
        (dict(display="10.00", prefix="µ", unit="F"), 1e-5, "Capacitance", 0),
        (dict(display="50.00", prefix="k", unit="Hz"), 50000.0, "Frequency", 0),
        (dict(display="49.9", unit="%"), 49.9, "DutyCycle", 0),
        (dict(display="-12", unit="°C"), -12.0, "Temperature", 0),
        (dict(display="0.583", unit="V", diode=True), 0.583, "Diode", 0),
        (dict(display="012.3", unit="Ω", beep=True), 1.0, "Continuity", 0),
        (dict(display=" 0.L", unit="Ω", beep=True), 0.0, "Continuity", 0),  # open, not overload
        (dict(display="1.000", unit="V", hold=True), 1.0, "Voltage", HOLD),
        (dict(display="-0.100", unit="V", rel=True), -0.1, "Voltage", REL),
        (dict(display="2.000", unit="V", low_battery=True), 2.0, "Voltage", LOW_BAT),
        (dict(display="1.23", unit="A", ac=True), 1.23, "CurrentAC", AC),
        (dict(display="0123", unit=""), 123.0, "Value", 0),
    ]
    for kwargs, value, quantity, flag in cases:
        (r,) = FS9721Parser().feed(encode_frame(**kwargs))
        assert r.quantity == quantity, kwargs
        assert r.value == pytest.approx(value, rel=1e-12), kwargs
        assert not r.overload, kwargs
        assert (r.flags & flag) == flag, kwargs


def test_overload_reads_as_nan_with_the_flag() -> None:
    (r,) = FS9721Parser().feed(encode_frame(" 0.L", prefix="M", unit="Ω"))
    assert r.overload and math.isnan(r.value) and r.quantity == "Resistance"
    assert r.display == "0L MΩ"


def test_autoranged_values_round_trip() -> None:
    rng = random.Random(820)
    for _ in range(500):
        unit = rng.choice(["V", "A", "Ω", "F", "Hz"])
        value = (
            rng.choice([-1, 1]) * 10 ** rng.uniform(-8, 6.5)
            if unit in ("V", "A")
            else 10 ** rng.uniform(-8, 6.5)
        )
        try:
            display, prefix = autorange(value, unit)
        except ValueError:
            continue  # outside the meter's ranges
        (r,) = FS9721Parser().feed(encode_frame(display, prefix=prefix, unit=unit))
        resolution = 10.0 ** (r.prefix_exp - r.decimals)
        assert abs(r.value - value) <= resolution / 2 * 1.0001, (value, unit, display, prefix)


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda f: f.__setitem__(0, f[0] | 0x0C), "AC and DC"),
        (lambda f: f.__setitem__(12, f[12] | 0x0C), "two units"),
        (lambda f: f.__setitem__(10, f[10] | 0x0A), "two prefixes"),
        (lambda f: f.__setitem__(0, f[0] & 0xFE), "RS232 bit missing"),
        (lambda f: f.__setitem__(2, (f[2] & 0xF0) | 0x0C), "no such digit"),
    ],
)
def test_invalid_frames_are_rejected(mutate: Callable[[bytearray], None], why: str) -> None:
    frame = bytearray(encode_frame("1.234", unit="V"))
    mutate(frame)
    parser = FS9721Parser()
    assert parser.feed(bytes(frame)) == [], why
    assert parser.frames_bad == 1 and parser.frames_ok == 0


def test_resync_after_garbage_cut_frames_and_split_reads() -> None:
    a = encode_frame("1.234", unit="V")
    b = encode_frame("-0.056", prefix="m", unit="A")
    garbage = bytes([0x00] * 9 + [0x1F, 0x2F, 0x35, 0xFF, 0x13, 0x99])  # incl. a fake frame start
    stream = garbage + a + b[:6] + a + a[:13] + b + bytes(range(256)) + b
    expected = [1.234, 1.234, -56e-6, -56e-6]
    for chunk in (1, 3, 7, 14, 50, len(stream)):
        parser = FS9721Parser()
        got = []
        for i in range(0, len(stream), chunk):
            got += [r.value for r in parser.feed(stream[i : i + chunk])]
        assert got == expected, chunk
        assert parser.frames_ok == 4
    # position of each frame's end, counted back from the end of the data fed
    parser = FS9721Parser()
    ends = [r.end for r in parser.feed(a + b + b"\x00\x00")]
    assert ends == [-16, -2]


def test_batch_decoder_matches_the_incremental_parser() -> None:
    rng = np.random.default_rng(3)
    shown = [autorange(float(v), "V") for v in rng.uniform(-30, 30, 200)]
    frames = [encode_frame(display, prefix=prefix, unit="V") for display, prefix in shown]
    parts = []
    for f in frames:
        parts.append(f)
        if rng.random() < 0.2:
            parts.append(rng.integers(0, 256, int(rng.integers(1, 30)), dtype=np.uint8).tobytes())
    data = b"".join(parts)
    batch = decode_stream(data)
    incremental = FS9721Parser().feed(data)
    good = batch.value[batch.valid]
    assert len(good) >= 200
    assert good.tolist() == [r.value for r in incremental]


# -- driver against the emulator ----------------------------------------------------------------------
@pytest.fixture
def emu(tmp_path: Path) -> Iterator[VC820Emulator]:
    e = VC820Emulator(link=tmp_path / "ttyVC820", rate_hz=50.0)
    e.set_reading(1.234, "V")
    e.start()
    yield e
    e.stop()


@pytest.fixture
def start_vc(start_driver, emu: VC820Emulator) -> Callable[..., VC820]:
    def _start(**settings: Any) -> VC820:
        plugin = start_driver(
            "VC820",
            **{
                "port": emu.path,
                "samplerate": 50.0,
                "timeout": 0.3,
                **settings,
            },
        )
        assert isinstance(plugin, VC820)
        return plugin

    return _start


def test_streams_the_reading_with_its_unit(
    logger: Logger, emu: VC820Emulator, start_vc: Callable[..., VC820]
) -> None:
    vc = start_vc()
    wait_for(lambda: len(values(logger, "Voltage")) >= 5, what="voltage samples")
    assert set(values(logger, "Voltage")) == {1.234}
    buf = logger.store.get("VC820.Voltage")
    assert buf.unit == "V"
    x, _ = buf.copy()
    assert np.all(np.diff(x) > 0) and abs(x[-1] - time.time()) < 2.0
    assert vc.display == "1.234 V" and vc.dc and not vc.ac and vc.auto_range and vc.unit == "V"
    emu.set_reading(0.75, "A", ac=True)
    wait_for(lambda: values(logger, "CurrentAC"), what="AC current")
    assert (
        logger.store.get("VC820.CurrentAC").unit == "A" and values(logger, "CurrentAC")[-1] == 0.75
    )
    assert vc.ac and not vc.dc and vc.quantity == "CurrentAC"
    emu.set_reading(4700.0, "Ω")
    wait_for(lambda: values(logger, "Resistance"), what="resistance")
    assert (
        values(logger, "Resistance")[-1] == 4700.0
        and logger.store.get("VC820.Resistance").unit == "Ω"
    )
    params = {p.name: p for p in introspect.parameters(vc)}
    assert params["display"].value == "4.70 kΩ" and not params["hold"].writable
    assert vc._state == ("running", "")


def test_states_as_parameters_and_hold(
    logger: Logger, emu: VC820Emulator, start_vc: Callable[..., VC820]
) -> None:
    vc = start_vc(stream_on_hold=False)
    wait_for(lambda: values(logger, "Voltage"), what="samples")
    emu.set_reading(2.5, "V", hold=True, rel=True, low_battery=True)
    wait_for(lambda: vc.hold, what="hold flag")
    assert vc.relative and vc.low_battery
    n = len(values(logger, "Voltage"))
    frames = vc.frames_ok
    wait_for(lambda: vc.frames_ok >= frames + 5, what="more frames")
    assert len(values(logger, "Voltage")) == n and 2.5 not in values(
        logger, "Voltage"
    )  # not streamed on hold
    (ev,) = events(logger, "lowBattery")
    assert ev.priority == 1
    emu.set_flags(hold=False)
    wait_for(lambda: 2.5 in values(logger, "Voltage"), what="samples after hold")
    assert len(events(logger, "lowBattery")) == 1


def test_overload_streams_nothing_and_raises_one_event(
    logger: Logger, emu: VC820Emulator, start_vc: Callable[..., VC820]
) -> None:
    vc = start_vc()
    wait_for(lambda: values(logger, "Voltage"), what="samples")
    emu.set_overload()
    wait_for(lambda: vc.overload, what="overload flag")
    n = len(values(logger, "Voltage"))
    frames = vc.frames_ok
    wait_for(lambda: vc.frames_ok >= frames + 5, what="more overload frames")
    assert len(values(logger, "Voltage")) == n
    assert all(math.isfinite(v) for v in values(logger, "Voltage"))
    (ev,) = events(logger, "overload")
    assert ev.priority == 1 and ev.sname == "Voltage" and "over range" in ev.text
    emu.set_reading(3.0, "V")
    wait_for(lambda: 3.0 in values(logger, "Voltage"), what="samples after overload")
    emu.set_overload()
    wait_for(lambda: len(events(logger, "overload")) == 2, what="second overload episode")


def test_garbage_and_cut_frames_are_skipped(
    logger: Logger, emu: VC820Emulator, start_vc: Callable[..., VC820]
) -> None:
    vc = start_vc()
    wait_for(lambda: values(logger, "Voltage"), what="samples")
    for _ in range(5):
        emu.inject_garbage()
        emu.cut_next_frame(9)
        emu.send_invalid_frame()
        emu.inject_garbage(bytes([0x1F, 0x2F, 0x3F]))  # a false frame start
    wait_for(lambda: vc.frames_bad >= 5, what="invalid frames rejected")
    frames = vc.frames_ok
    wait_for(lambda: vc.frames_ok >= frames + 3, what="frames after the garbage")
    assert set(values(logger, "Voltage")) == {1.234}
    assert logger.store.names() == ["VC820.Voltage"]
    assert vc._state == ("running", "") and not events(logger, "deviceError")


def test_silent_meter_is_an_error_until_it_talks_again(
    logger: Logger, emu: VC820Emulator, start_vc: Callable[..., VC820], fast_backoff: None
) -> None:
    vc = start_vc()
    wait_for(lambda: values(logger, "Voltage"), what="samples")
    emu.mute()
    wait_for(lambda: events(logger, "deviceError"), what="error event")
    assert "no valid frame for 0.3 s, received nothing" in vc._state[1]
    emu.unmute()
    wait_for(lambda: events(logger, "deviceRecovered"), what="recovery")
    assert vc._state == ("running", "") and len(events(logger, "deviceError")) == 1


def test_unplug_and_automatic_reconnect(
    logger: Logger, emu: VC820Emulator, start_vc: Callable[..., VC820], fast_backoff: None
) -> None:
    vc = start_vc()
    wait_for(lambda: values(logger, "Voltage"), what="samples")
    emu.unplug()
    wait_for(lambda: vc._state[0] == "error", what="error state")
    assert events(logger, "deviceError")[0].priority == 2
    n = len(values(logger, "Voltage"))
    failures = vc._failures
    wait_for(lambda: vc._failures >= failures + 2, what="retries")
    assert len(values(logger, "Voltage")) == n and not vc.connected
    assert "cannot open" in vc._state[1]
    emu.set_reading(5.0, "V")
    emu.replug()
    wait_for(lambda: 5.0 in values(logger, "Voltage"), what="samples after replug")
    wait_for(lambda: vc._state == ("running", ""), what="running state")
    assert len(events(logger, "deviceRecovered")) == 1
    assert set(values(logger, "Voltage")) == {1.234, 5.0}


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"baudrate": "fast"}, r"devices\.VC820\.baudrate: expected int"),
        ({"timeout": -1}, r"devices\.VC820\.timeout: must be >="),
        ({"samplerate": 1000}, r"devices\.VC820\.samplerate: must be <="),
        ({"stream_on_hold": "sometimes"}, r"devices\.VC820\.stream_on_hold: expected bool"),
        ({"device": "/dev/ttyUSB0"}, r"devices\.VC820\.device: unknown setting"),
    ],
)
def test_invalid_settings_name_the_key(
    logger: Logger, settings: dict[str, Any], match: str
) -> None:
    logger.devices.settings["VC820"] = settings
    with pytest.raises(DeviceError, match=match):
        logger.devices.start("VC820")


def test_emulator_runs_standalone(tmp_path: Path) -> None:
    link = tmp_path / "ttyDemo"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rtoc_tui.drivers.vc820.emulator",
            "--value",
            "0.0123",
            "--rate",
            "50",
            "--link",
            str(link),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert str(link) in proc.stdout.readline()
        parser = FS9721Parser()
        got: list[Any] = []
        with serial.Serial(str(link), 2400, timeout=0.1) as port:
            wait_for(lambda: got.extend(parser.feed(port.read(64))) or got, what="a frame")
        assert got[0].display == "12.30 mV" and got[0].value == pytest.approx(0.0123)
    finally:
        proc.terminate()
        proc.wait(5)


def test_sample_config_runs_against_the_emulator(
    make_logger: Callable[..., Logger], emu: VC820Emulator
) -> None:
    path = Path(__file__).resolve().parents[2] / "drivers" / "vc820" / "sample_config.json"
    lg = make_logger(json.loads(path.read_text(encoding="utf-8")))
    section = lg.devices.settings["VC820"]
    assert section["timeout"] == 5.0 and section["port"].startswith("/dev/serial/by-id/")
    lg.devices.settings["VC820"] = {**section, "port": emu.path}
    try:
        vc = lg.devices.start("VC820")
        assert vc.settings["baudrate"] == 2400
        wait_for(lambda: values(lg, "Voltage"), what="a reading")
    finally:
        lg.devices.stop_all()
