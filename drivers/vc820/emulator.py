"""Emulator of a VC820 / HoldPeak multimeter: FS9721_LP3 frames written to a pty.

The meter only transmits, so the emulator sends one 14-byte frame per 1/rate_hz seconds for the
configured reading. Faults for tests and demos: `inject_garbage`, `cut_next_frame` (a frame
stops half way, as when the IR link is interrupted), `send_invalid_frame` (correct index nibbles,
impossible content), `mute` (RS232 mode off) and `unplug`/`replug` (cable pulled).

Run standalone for a demo (prints the port to configure as devices.VC820.port):
    python -m rtoc_tui.drivers.vc820.emulator --value 1.234 --unit V [--sweep] [--link PATH]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace

from ..emulation.pty_pair import PtyEmulator

# digit -> 7-segment code (inverse of the decoder's table); ' ' blank, 'L' for "0L"
SEGMENTS = {
    "0": 0x7D,
    "1": 0x05,
    "2": 0x5B,
    "3": 0x1F,
    "4": 0x27,
    "5": 0x3E,
    "6": 0x7E,
    "7": 0x15,
    "8": 0x7F,
    "9": 0x3F,
    " ": 0x00,
    "L": 0x68,
}
# prefix -> (byte, bit)
PREFIX_BITS = {
    "": None,
    "n": (9, 4),
    "µ": (9, 8),
    "u": (9, 8),
    "m": (10, 8),
    "k": (9, 2),
    "M": (10, 2),
}
PREFIX_EXP = {"n": -9, "µ": -6, "m": -3, "": 0, "k": 3, "M": 6}
# unit -> (byte, bit)
UNIT_BITS = {
    "": None,
    "V": (12, 4),
    "A": (12, 8),
    "Hz": (12, 2),
    "Ω": (11, 4),
    "Ohm": (11, 4),
    "F": (11, 8),
    "%": (10, 4),
    "°C": (13, 1),
}
# prefixes a 4000-count meter's ranges use per unit, coarse to fine
RANGES = {
    "V": ("", "m"),
    "A": ("", "m", "µ"),
    "Ω": ("M", "k", ""),
    "F": ("µ", "n"),
    "Hz": ("M", "k", ""),
    "%": ("",),
    "°C": ("",),
    "": ("",),
}
MAX_COUNT = 3999


def encode_frame(
    display: str,
    *,
    prefix: str = "",
    unit: str = "V",
    ac: bool = False,
    dc: bool | None = None,
    auto: bool = True,
    hold: bool = False,
    rel: bool = False,
    low_battery: bool = False,
    diode: bool = False,
    beep: bool = False,
    rs232: bool = True,
) -> bytes:
    """Build the 14-byte frame for an LCD content such as '1.234', '-0.056' or ' 0.L '.

    display: up to 4 characters from 0-9, ' ' (blank) and 'L', an optional leading '-' and at
    most one '.' after the first, second or third character. dc defaults to "not ac" for V and A.
    """
    text = display.strip("\n")
    neg = text.startswith("-")
    if neg:
        text = text[1:]
    dp = text.find(".")
    chars = text.replace(".", "", 1)
    if "." in chars or len(chars) > 4 or any(c not in SEGMENTS for c in chars):
        raise ValueError(f"cannot show {display!r} on a 4-digit FS9721 display")
    pad = 4 - len(chars)
    chars = " " * pad + chars
    if dp >= 0:
        dp += pad
        if not 1 <= dp <= 3:
            raise ValueError(f"decimal point of {display!r} must follow digit 1, 2 or 3")
    if unit not in UNIT_BITS:
        raise ValueError(f"unknown unit {unit!r} (known: {', '.join(u for u in UNIT_BITS if u)})")
    if prefix not in PREFIX_BITS:
        raise ValueError(f"unknown prefix {prefix!r}")
    if dc is None:
        dc = not ac and unit in ("V", "A") and not diode
    nib = [0] * 14
    nib[0] = 8 * ac + 4 * dc + 2 * auto + 1 * rs232
    for k, ch in enumerate(chars):
        code = SEGMENTS[ch]
        nib[1 + 2 * k] = code >> 4
        nib[2 + 2 * k] = code & 0x0F
    if neg:
        nib[1] |= 8
    if dp > 0:
        nib[{1: 3, 2: 5, 3: 7}[dp]] |= 8
    for bits in (PREFIX_BITS[prefix], UNIT_BITS[unit]):
        if bits is not None:
            nib[bits[0]] |= bits[1]
    nib[9] |= 1 * diode
    nib[10] |= 1 * beep
    nib[11] |= 2 * rel + 1 * hold
    nib[12] |= 1 * low_battery
    return bytes(((i + 1) << 4) | v for i, v in enumerate(nib))


def autorange(value: float, unit: str) -> tuple[str, str]:
    """(display, prefix) a 4000-count autoranging meter shows for value (in base units)."""
    best: tuple[int, str, str] | None = None
    for prefix in RANGES.get(unit, ("",)):
        scaled = value / 10.0 ** PREFIX_EXP[prefix]
        for decimals in (3, 2, 1, 0):
            count = round(scaled * 10**decimals)
            if abs(count) > MAX_COUNT:
                continue
            resolution = PREFIX_EXP[prefix] - decimals
            if best is None or resolution < best[0]:
                digits = f"{abs(count):0{decimals + 1}d}"
                if decimals:
                    digits = digits[:-decimals] + "." + digits[-decimals:]
                best = (resolution, ("-" if count < 0 else "") + digits, prefix)
            break  # finer decimals of this prefix did not fit; coarser ones are worse
    if best is None:
        raise ValueError(f"{value} {unit} is out of range for a 4000-count meter")
    return best[1], best[2]


@dataclass(frozen=True)
class MeterState:
    """What the meter currently displays."""

    display: str = "0.000"
    prefix: str = ""
    unit: str = "V"
    ac: bool = False
    auto: bool = True
    hold: bool = False
    rel: bool = False
    low_battery: bool = False
    diode: bool = False
    beep: bool = False

    def frame(self) -> bytes:
        return encode_frame(
            self.display,
            prefix=self.prefix,
            unit=self.unit,
            ac=self.ac,
            auto=self.auto,
            hold=self.hold,
            rel=self.rel,
            low_battery=self.low_battery,
            diode=self.diode,
            beep=self.beep,
        )


class VC820Emulator(PtyEmulator):
    """A talk-only VC820 on a pty: sends the current reading rate_hz times per second."""

    def __init__(self, link: str | os.PathLike[str] | None = None, rate_hz: float = 4.0) -> None:
        super().__init__(link)
        if rate_hz <= 0:
            raise ValueError("rate_hz must be positive")
        self.tick_s = 1.0 / rate_hz
        self._state = MeterState()
        self._frame = self._state.frame()
        self._pending: list[bytes] = []  # faults queued for the next tick
        self._lock = threading.Lock()
        self.frames_sent = 0

    @property
    def state(self) -> MeterState:
        return self._state

    def set_state(self, state: MeterState) -> None:
        """Show an exact display state (validated by encoding it)."""
        frame = state.frame()
        with self._lock:
            self._state, self._frame = state, frame

    def set_display(self, display: str, prefix: str = "", unit: str = "V", **flags: bool) -> None:
        """Show an LCD content, e.g. set_display('-0.056', 'm', 'A')."""
        self.set_state(MeterState(display=display, prefix=prefix, unit=unit, **flags))

    def set_reading(self, value: float, unit: str = "V", **flags: bool) -> None:
        """Show a value in base units, auto-ranged like the meter (e.g. 0.0123 V -> 12.30 mV)."""
        display, prefix = autorange(value, unit)
        self.set_state(MeterState(display=display, prefix=prefix, unit=unit, **flags))

    def set_flags(self, **flags: bool) -> None:
        """Change flags (hold, rel, ac, low_battery, ...) and keep the displayed value."""
        self.set_state(replace(self._state, **flags))

    def set_overload(self, unit: str | None = None, prefix: str | None = None) -> None:
        """Show '0.L' (over range) in the current unit."""
        st = self._state
        self.set_state(
            replace(
                st,
                display=" 0.L",
                unit=st.unit if unit is None else unit,
                prefix=st.prefix if prefix is None else prefix,
            )
        )

    def inject_garbage(self, data: bytes | None = None, n: int = 23) -> None:
        """Send garbage before the next frame (random bytes unless data is given)."""
        junk = bytes(random.getrandbits(8) for _ in range(n)) if data is None else bytes(data)
        with self._lock:
            self._pending.append(junk)

    def cut_next_frame(self, n_bytes: int = 7) -> None:
        """Send only the first n_bytes of the next frame (the rest is lost)."""
        if not 0 < n_bytes < 14:
            raise ValueError("n_bytes must be 1..13")
        with self._lock:
            self._pending.append(self._frame[:n_bytes])

    def send_invalid_frame(self) -> None:
        """Send a frame with correct index nibbles but both AC and DC and two units lit."""
        bad = bytearray(self._frame)
        bad[0] |= 0x0C  # AC and DC
        bad[12] |= 0x0C  # A and V
        with self._lock:
            self._pending.append(bytes(bad))

    def _on_tick(self, now: float) -> None:
        if self.muted:
            return
        with self._lock:
            out = b"".join(self._pending) + self._frame
            self._pending.clear()
        self.port.write(out)
        self.frames_sent += 1


def main(argv: list[str] | None = None) -> int:
    """Serve a VC820 on a pty until Ctrl-C."""
    ap = argparse.ArgumentParser(description="VC820 multimeter emulator on a pty")
    ap.add_argument("--value", type=float, default=1.234, help="reading in base units")
    ap.add_argument("--unit", default="V", choices=[u for u in UNIT_BITS if u and u != "Ohm"])
    ap.add_argument("--ac", action="store_true", help="AC measurement")
    ap.add_argument("--rate", type=float, default=4.0, help="frames per second")
    ap.add_argument("--sweep", action="store_true", help="vary the value slowly (sine, ±50 %%)")
    ap.add_argument("--link", help="also serve the port under this stable path (symlink)")
    args = ap.parse_args(argv)
    emu = VC820Emulator(link=args.link, rate_hz=args.rate)
    emu.set_reading(args.value, args.unit, ac=args.ac)
    emu.start()
    print(f"VC820 emulator serving {emu.path} ({emu.port.slave_name})", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    t0 = time.monotonic()
    try:
        while not stop.wait(0.25):
            if args.sweep:
                v = args.value * (1 + 0.5 * math.sin(2 * math.pi * (time.monotonic() - t0) / 20))
                emu.set_reading(v, args.unit, ac=args.ac)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
