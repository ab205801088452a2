"""VC820: HoldPeak / Voltcraft VC820 multimeter (Fortune FS9721_LP3 protocol) over RS-232/USB.

The meter talks, it never listens: 2400 baud 8N1, a 14-byte frame every fraction of a second.
Each byte carries its index (1..14) in the high nibble and four LCD segments in the low nibble,
so the index nibbles are the framing: the decoder finds windows whose high nibbles run 1..14,
validates them (sigrok's rules) and drops everything else, which resynchronises after garbage,
cut frames and power-up zero bytes. The decoder is vectorised with numpy and table look-ups so a
batch of frames decodes in one pass (bench/bench_vc820.py measures it).

Signals are named after the measured quantity (see QUANTITIES): Voltage, VoltageAC, Current,
CurrentAC, Resistance, Capacitance, Frequency, DutyCycle, Temperature, Diode, Continuity, Value;
values are in base units (prefix applied), the unit comes from the frame. Meter states (AC, DC,
auto range, hold, relative, low battery, overload) are read-only parameters. An overload reading
("0L") streams no sample and raises one event per overload episode.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import serial

from rtoc_tui.core.plugin import LoggerPlugin
from rtoc_tui.core.settings import Setting

log = logging.getLogger(__name__)

FRAME_LEN = 14

# 7-segment code -> digit; 0x00 is a blank (leading) digit, 0x68 the "L" of "0L" (overload).
_BLANK, _L, _BAD = 0, -2, -1
DIGIT_CODES: dict[int, int] = {
    0x7D: 0,
    0x05: 1,
    0x5B: 2,
    0x1F: 3,
    0x27: 4,
    0x3E: 5,
    0x7E: 6,
    0x15: 7,
    0x7F: 8,
    0x3F: 9,
    0x00: _BLANK,
    0x68: _L,
}
_DIGIT_LUT = np.full(128, _BAD, dtype=np.int16)
for _code, _digit in DIGIT_CODES.items():
    _DIGIT_LUT[_code] = _digit

# Flag bits of a decoded frame (FrameBatch.flags).
AC, DC, AUTO, HOLD, REL, LOW_BAT, OVERLOAD, DIODE, BEEP = (1 << i for i in range(9))

# Quantity codes -> (signal name, unit). AC variants of voltage/current are separate signals
# so that a plot never mixes DC values with AC RMS values.
QUANTITIES: tuple[tuple[str, str], ...] = (
    ("Value", ""),  # 0: no unit symbol lit
    ("Voltage", "V"),  # 1
    ("Current", "A"),  # 2
    ("Resistance", "Ω"),  # 3
    ("Capacitance", "F"),  # 4
    ("Frequency", "Hz"),  # 5
    ("DutyCycle", "%"),  # 6
    ("Temperature", "°C"),  # 7
    ("Diode", "V"),  # 8
    ("Continuity", ""),  # 9: 1 = closed, 0 = open ("0L"), as sigrok reports it
    ("VoltageAC", "V"),  # 10
    ("CurrentAC", "A"),  # 11
)
Q_NONE, Q_VOLT, Q_AMP, Q_OHM, Q_FARAD, Q_HZ, Q_PCT, Q_DEGC, Q_DIODE, Q_CONT, Q_VAC, Q_AAC = range(
    12
)

PREFIXES = {-9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M"}


@dataclass(frozen=True, slots=True)
class FrameBatch:
    """Decoded frames as parallel numpy arrays (one entry per frame found)."""

    start: np.ndarray  # int64: offset of the frame's first byte in the decoded buffer
    valid: np.ndarray  # bool: passed the validation rules
    value: np.ndarray  # float64: value in base units (NaN for overload or invalid)
    count: np.ndarray  # int32: the displayed digits as an integer, with sign
    decimals: np.ndarray  # int8: digits after the decimal point on the display
    prefix_exp: np.ndarray  # int8: -9 n, -6 µ, -3 m, 0, 3 k, 6 M
    quantity: np.ndarray  # uint8: index into QUANTITIES
    flags: np.ndarray  # uint16: AC | DC | AUTO | HOLD | REL | LOW_BAT | OVERLOAD | DIODE | BEEP

    def __len__(self) -> int:
        return len(self.start)


@dataclass(frozen=True, slots=True)
class Reading:
    """One decoded, valid frame."""

    value: float  # base units; NaN when overloaded
    count: int
    decimals: int
    prefix_exp: int
    quantity: str
    unit: str
    flags: int
    end: int = 0  # offset just past the frame's last byte in the data fed

    @property
    def overload(self) -> bool:
        return bool(self.flags & OVERLOAD)

    @property
    def display(self) -> str:
        """What the LCD shows, e.g. '-0.056 mA' or '0L V'."""
        unit = PREFIXES.get(self.prefix_exp, "") + self.unit
        if self.overload:
            return f"0L {unit}".strip()
        digits = f"{abs(self.count):0{self.decimals + 1}d}"
        if self.decimals:
            digits = digits[: -self.decimals] + "." + digits[-self.decimals :]
        sign = "-" if self.count < 0 else ""
        return f"{sign}{digits} {unit}".strip()


def find_frames(buf: np.ndarray) -> np.ndarray:
    """Start offsets of every 14-byte window whose high nibbles run 1, 2, ..., 14.

    Such windows cannot overlap (a window needs nibble 1 only at its start), so the result is
    the complete, non-overlapping framing of the buffer; bytes outside it are garbage.
    """
    n = len(buf)
    if n < FRAME_LEN:
        return np.empty(0, dtype=np.int64)
    hi = buf >> 4
    step = np.empty(n, dtype=np.int32)  # step[i] = 1 where hi[i+1] == hi[i] + 1
    step[0] = 0
    np.cumsum((hi[1:] - hi[:-1]) == 1, out=step[1:])
    # window at s is good iff hi[s] == 1 and all 13 following steps are +1
    cand = np.flatnonzero(hi[: n - FRAME_LEN + 1] == 1)
    ok = (step[cand + FRAME_LEN - 1] - step[cand]) == FRAME_LEN - 1
    return cand[ok].astype(np.int64, copy=False)


def decode_frames(frames: np.ndarray, start: np.ndarray | None = None) -> FrameBatch:
    """Decode an (N, 14) uint8 array of index-checked frames."""
    f = np.asarray(frames, dtype=np.uint8).reshape(-1, FRAME_LEN)
    m = len(f)
    lo = f & 0x0F
    b = [lo[:, i] for i in range(FRAME_LEN)]

    codes = ((lo[:, 1:9:2] & 0x07) << 4) | lo[:, 2:9:2]
    digits = _DIGIT_LUT[codes]
    bad_digit = (digits == _BAD).any(axis=1)
    overload = (digits == _L).any(axis=1)
    d = np.maximum(digits, 0).astype(np.int32)
    count = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    count = np.where((b[1] & 8) != 0, -count, count).astype(np.int32)

    # decimal point: the first one set wins (sigrok's order)
    decimals = np.where(b[3] & 8, 3, np.where(b[5] & 8, 2, np.where(b[7] & 8, 1, 0))).astype(
        np.int8
    )

    mu, nano, kilo = (b[9] & 8) != 0, (b[9] & 4) != 0, (b[9] & 2) != 0
    milli, mega = (b[10] & 8) != 0, (b[10] & 2) != 0
    n_prefix = mu.astype(np.int8) + nano + kilo + milli + mega
    prefix_exp = (-6 * mu - 9 * nano + 3 * kilo - 3 * milli + 6 * mega).astype(np.int8)

    pct, farad, ohm = (b[10] & 4) != 0, (b[11] & 8) != 0, (b[11] & 4) != 0
    amp, volt, hz = (b[12] & 8) != 0, (b[12] & 4) != 0, (b[12] & 2) != 0
    n_unit = pct.astype(np.int8) + farad + ohm + amp + volt + hz

    ac, dc = (b[0] & 8) != 0, (b[0] & 4) != 0
    diode, beep, degc = (b[9] & 1) != 0, (b[10] & 1) != 0, (b[13] & 1) != 0
    valid = ((b[0] & 1) != 0) & ~(ac & dc) & (n_prefix <= 1) & (n_unit <= 1) & ~bad_digit

    # quantity: continuity and diode override the unit symbol (sigrok), °C only without one
    q = np.zeros(m, dtype=np.uint8)
    q[degc] = Q_DEGC
    q[pct] = Q_PCT
    q[hz] = Q_HZ
    q[farad] = Q_FARAD
    q[ohm] = Q_OHM
    q[amp] = np.where(ac[amp], Q_AAC, Q_AMP)
    q[volt] = np.where(ac[volt], Q_VAC, Q_VOLT)
    q[diode] = Q_DIODE
    q[beep] = Q_CONT

    exp10 = prefix_exp.astype(np.int32) - decimals
    # divide by an exact power of ten for negative exponents: 1234 / 1000 == 1.234 exactly,
    # whereas 1234 * 0.001 == 1.2340000000000002
    mag = np.where(
        exp10 < 0, count / 10.0 ** np.maximum(-exp10, 0), count * 10.0 ** np.maximum(exp10, 0)
    )
    cont = q == Q_CONT
    value = np.where(cont, np.where(overload, 0.0, 1.0), mag)
    value = np.where((overload & ~cont) | ~valid, np.nan, value)
    # a continuity "0L" means open, not overload
    overload_flag = overload & ~cont

    flags = (
        ac * AC
        + dc * DC
        + ((b[0] & 2) != 0) * AUTO
        + ((b[11] & 1) != 0) * HOLD
        + ((b[11] & 2) != 0) * REL
        + ((b[12] & 1) != 0) * LOW_BAT
        + overload_flag * OVERLOAD
        + diode * DIODE
        + beep * BEEP
    ).astype(np.uint16)
    if start is None:
        start = np.arange(m, dtype=np.int64) * FRAME_LEN
    return FrameBatch(start, valid, value, count, decimals, prefix_exp, q, flags)


def decode_stream(data: bytes | bytearray | memoryview | np.ndarray) -> FrameBatch:
    """Find and decode every frame in a byte stream (garbage between frames is skipped)."""
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    starts = find_frames(buf)
    if len(starts) == 0:
        return decode_frames(np.empty((0, FRAME_LEN), dtype=np.uint8), starts)
    frames = np.lib.stride_tricks.sliding_window_view(buf, FRAME_LEN)[starts]
    return decode_frames(frames, starts)


def _partial_frame_start(tail: bytes) -> int:
    """Offset of a trailing partial frame (nibbles 1, 2, ... up to the end), or len(tail)."""
    n = len(tail)
    for p in range(max(0, n - FRAME_LEN + 1), n):
        if all(tail[p + j] >> 4 == j + 1 for j in range(n - p)):
            return p
    return n


class FS9721Parser:
    """Incremental decoder: feed() bytes as they arrive, get the valid readings back."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.frames_ok = 0
        self.frames_bad = 0
        self.bytes_dropped = 0

    def reset(self) -> None:
        """Forget buffered bytes (after reconnecting)."""
        self._buf.clear()

    def feed(self, data: bytes) -> list[Reading]:
        """Add bytes; returns the valid frames completed by them, oldest first.

        Reading.end is the frame's end offset counted back from the end of all data fed so far
        (negative or zero), so the caller can date each frame by its position in the stream.
        """
        self._buf += data
        raw = bytes(self._buf)
        batch = decode_stream(raw)
        out: list[Reading] = []
        n = len(raw)
        for i in range(len(batch)):
            if not batch.valid[i]:
                self.frames_bad += 1
                continue
            self.frames_ok += 1
            q = int(batch.quantity[i])
            name, unit = QUANTITIES[q]
            out.append(
                Reading(
                    value=float(batch.value[i]),
                    count=int(batch.count[i]),
                    decimals=int(batch.decimals[i]),
                    prefix_exp=int(batch.prefix_exp[i]),
                    quantity=name,
                    unit=unit,
                    flags=int(batch.flags[i]),
                    end=int(batch.start[i]) + FRAME_LEN - n,
                )
            )
        used = int(batch.start[-1]) + FRAME_LEN if len(batch) else 0
        consumed = used + _partial_frame_start(raw[used:])
        self.bytes_dropped += consumed - FRAME_LEN * len(batch)
        del self._buf[:consumed]
        return out


class VC820Error(IOError):
    """The meter could not be read (port missing, unplugged, silent or sending garbage)."""


class VC820(LoggerPlugin):
    """HoldPeak / Voltcraft VC820 multimeter (FS9721 frames at 2400 baud, receive only)."""

    SETTINGS = {
        "port": Setting("/dev/ttyUSB0", "Serial port of the meter's RS-232/USB cable"),
        "baudrate": Setting(
            2400, "Baud rate; the VC820 always sends at 2400", minimum=300, maximum=115200
        ),
        "samplerate": Setting(
            10.0,
            "How often the port is read, in Hz (the meter itself sends 2-4 frames/s)",
            minimum=0.1,
            maximum=100,
        ),
        "timeout": Setting(
            3.0,
            "Seconds without a valid frame before the meter counts as disconnected",
            minimum=0.1,
            maximum=60,
        ),
        "stream_on_hold": Setting(True, "Keep streaming the frozen value while HOLD is on"),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setDeviceName("VC820")
        s = self.settings
        self._port: str = s["port"]
        self._baudrate: int = s["baudrate"]
        self._timeout_s: float = s["timeout"]
        self.stream_on_hold: bool = s["stream_on_hold"]
        self.__doc_stream_on_hold__ = "Keep streaming the frozen value while HOLD is on"
        self._serial: serial.Serial | None = None
        self._parser = FS9721Parser()
        self._last_valid = 0.0
        self._last: Reading | None = None
        self._in_overload = False
        self._low_battery_reported = False
        self.setPerpetualTimer(self._poll, samplerate=s["samplerate"])
        self.start()

    # -- parameters (read-only meter state) -----------------------------------------------------
    def _flag(self, bit: int) -> bool:
        last = self._last
        return bool(last is not None and last.flags & bit)

    @property
    def port(self) -> str:
        """Serial port the meter is read from."""
        return self._port

    @property
    def value(self) -> float | None:
        """Last value in base units (None before the first frame, NaN on overload)."""
        return None if self._last is None else self._last.value

    @property
    def unit(self) -> str:
        """Unit of the last reading (V, A, Ω, F, Hz, %, °C or empty)."""
        return "" if self._last is None else self._last.unit

    @property
    def quantity(self) -> str:
        """Signal name of the last reading (Voltage, CurrentAC, Resistance, ...)."""
        return "" if self._last is None else self._last.quantity

    @property
    def display(self) -> str:
        """What the meter's LCD shows, e.g. '-0.056 mA'."""
        return "" if self._last is None else self._last.display

    @property
    def ac(self) -> bool:
        """AC symbol lit."""
        return self._flag(AC)

    @property
    def dc(self) -> bool:
        """DC symbol lit."""
        return self._flag(DC)

    @property
    def auto_range(self) -> bool:
        """AUTO (auto range) symbol lit."""
        return self._flag(AUTO)

    @property
    def hold(self) -> bool:
        """HOLD symbol lit: the display is frozen."""
        return self._flag(HOLD)

    @property
    def relative(self) -> bool:
        """REL (Δ) symbol lit: readings are relative to a stored reference."""
        return self._flag(REL)

    @property
    def low_battery(self) -> bool:
        """Low-battery symbol lit."""
        return self._flag(LOW_BAT)

    @property
    def overload(self) -> bool:
        """The display shows 0L (over range); no samples are streamed meanwhile."""
        return self._flag(OVERLOAD)

    @property
    def connected(self) -> bool:
        """The serial port is open."""
        return self._serial is not None

    @property
    def frames_ok(self) -> int:
        """Valid frames decoded since start."""
        return self._parser.frames_ok

    @property
    def frames_bad(self) -> int:
        """Frames with correct index nibbles but invalid content (rejected)."""
        return self._parser.frames_bad

    # -- I/O ------------------------------------------------------------------------------------
    def _connect(self) -> serial.Serial:
        if self._serial is not None:
            return self._serial
        ser = serial.Serial()
        ser.port = self._port
        ser.baudrate = self._baudrate
        ser.bytesize = serial.EIGHTBITS
        ser.parity = serial.PARITY_NONE
        ser.stopbits = serial.STOPBITS_ONE
        ser.timeout = 0.05
        # The cable's receiver is powered from DTR (high) with RTS low (sigrok: rts=0/dtr=1).
        # Set before open(): pyserial then applies them while opening and tolerates ttys
        # (like a pty) that have no modem lines.
        ser.dtr = True
        ser.rts = False
        try:
            ser.open()
        except (OSError, serial.SerialException, ValueError) as exc:
            raise VC820Error(f"VC820: cannot open {self._port}: {_why(exc)}") from None
        try:
            ser.reset_input_buffer()  # stale bytes from before (re)connecting
        except (OSError, serial.SerialException):
            pass
        self._parser.reset()
        self._serial = ser
        self._last_valid = time.monotonic()
        log.info("VC820 connected on %s", self._port)
        return ser

    def _disconnect(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            try:
                ser.close()
            except (OSError, serial.SerialException):
                pass
        self._parser.reset()

    def close(self) -> None:
        """Stop polling and close the port."""
        super().close()
        self._disconnect()

    def _poll(self) -> None:
        """Read until at least one valid frame arrived, then stream everything decoded."""
        ser = self._connect()
        deadline = self._last_valid + self._timeout_s
        char_s = 10.0 / self._baudrate  # start + 8 data + stop bits
        got_bytes = False
        while True:
            try:
                data = ser.read(max(1, ser.in_waiting))
            except (OSError, serial.SerialException) as exc:
                self._disconnect()
                raise VC820Error(
                    f"VC820 on {self._port}: read failed (unplugged?): {exc}"
                ) from None
            now_wall = time.time()
            got_bytes = got_bytes or bool(data)
            readings = self._parser.feed(data) if data else []
            if readings:
                self._last_valid = time.monotonic()
                for r in readings:
                    # date each frame by how many bytes followed it in the stream
                    self._handle(r, now_wall + r.end * char_s)
                return
            if not self.run or time.monotonic() >= deadline:
                break
        if not self.run:
            return
        self._disconnect()
        what = "only invalid data" if got_bytes else "nothing"
        raise VC820Error(
            f"VC820 on {self._port}: no valid frame for {self._timeout_s:g} s, received {what} "
            "(meter off, RS232 mode off or cable unplugged?)"
        )

    def _handle(self, r: Reading, x: float) -> None:
        self._last = r
        if r.flags & LOW_BAT and not self._low_battery_reported:
            self._low_battery_reported = True
            self.event("VC820: low battery", sname=r.quantity, priority=1, id="lowBattery")
        elif not r.flags & LOW_BAT:
            self._low_battery_reported = False
        if r.overload:
            if not self._in_overload:
                self._in_overload = True
                self.event(
                    f"VC820 overload: {r.quantity} over range",
                    sname=r.quantity,
                    priority=1,
                    id="overload",
                )
            return
        self._in_overload = False
        if r.flags & HOLD and not self.stream_on_hold:
            return
        if math.isfinite(r.value):
            self.stream(r.value, r.quantity, unit=r.unit, x=x)


def _why(exc: BaseException) -> str:
    """The OS reason of a failed open ('No such file or directory'), else the message."""
    code = getattr(exc, "errno", None)
    return os.strerror(code) if isinstance(code, int) and code > 0 else str(exc)
