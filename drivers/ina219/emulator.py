"""INA219 emulator: the chip's register model behind a fake smbus2 `SMBus`.

`FakeINA219` computes the shunt, bus, current and power registers from a simulated load
(bus voltage, shunt current) exactly as the datasheet's internal equations do, and honours the
configuration (PGA range, bus range, RST) and calibration the driver writes. `FakeSMBus`
implements the smbus2 methods the driver uses (`read_word_data`, `write_word_data`,
`write_byte`, `read_byte`, `close`), with SMBus's little-endian word order, so the driver has to
swap bytes just as it does on a real bus. A chip that is unplugged, or an address nobody answers
on, raises `OSError(121, 'Remote I/O error')` like the kernel's i2c-dev does for a NACK.

Run standalone (`python -m rtoc_tui.drivers.ina219.emulator`) to watch the registers of a
simulated load; there is no socket: I2C has no network form, so drivers use it in-process
(config `devices.INA219.emulator = true`, or tests inject `FakeSMBus`).
"""

from __future__ import annotations

import argparse
import errno
import math
import random
import threading
import time
from collections.abc import Callable

POR_CONFIG = 0x399F
REG_CONFIG, REG_SHUNT, REG_BUS, REG_POWER, REG_CURRENT, REG_CAL = range(6)
REGISTER_NAMES = ("config", "shunt", "bus", "power", "current", "calibration")


def _nack() -> OSError:
    # what smbus2 raises when nobody ACKs the address (EREMOTEIO from i2c-dev)
    return OSError(errno.EREMOTEIO, "Remote I/O error")


def _swap(word: int) -> int:
    return ((word & 0xFF) << 8) | (word >> 8)


def _u16(value: int) -> int:
    return value & 0xFFFF


class FakeINA219:
    """Register model of one INA219 with a simulated load (thread-safe)."""

    def __init__(self, bus_volts: float = 12.0, amps: float = 0.1, shunt_ohms: float = 0.1) -> None:
        self.bus_volts = bus_volts
        self.amps = amps
        self.shunt_ohms = shunt_ohms
        self.unplugged = False
        self.garbage: str | None = None  # None, "ones" (SDA stuck high) or "random"
        self.writes: list[tuple[int, int]] = []  # (register, value) as the chip received them
        self._rng = random.Random(219)
        self._lock = threading.Lock()
        self.config = POR_CONFIG
        self.calibration = 0
        self.pointer = 0
        self.cnvr = True

    # -- test controls ------------------------------------------------------------------------
    def unplug(self) -> None:
        """Stop acknowledging; the chip loses power, so its registers reset on replug."""
        self.unplugged = True

    def replug(self) -> None:
        """Power the chip again: registers back to their power-on values."""
        with self._lock:
            self._por()
        self.unplugged = False

    def set_load(self, bus_volts: float | None = None, amps: float | None = None) -> None:
        """Change the simulated bus voltage (V) and shunt current (A)."""
        if bus_volts is not None:
            self.bus_volts = bus_volts
        if amps is not None:
            self.amps = amps

    # -- register model -------------------------------------------------------------------------
    def _por(self) -> None:
        self.config = POR_CONFIG
        self.calibration = 0
        self.pointer = 0
        self.cnvr = True

    def _pga_limit(self) -> int:
        return 4000 << ((self.config >> 11) & 0b11)

    def _shunt_counts(self) -> int:
        limit = self._pga_limit()
        counts = round(self.amps * self.shunt_ohms / 10e-6)
        return max(-limit, min(limit, counts))

    def _bus_counts(self) -> int:
        full_scale = 8000 if self.config & (1 << 13) else 4000
        return max(0, min(full_scale, round(self.bus_volts / 0.004)))

    def _math(self) -> tuple[int, int, bool]:
        """(current register, power register, OVF) from the datasheet's internal equations."""
        shunt = self._shunt_counts()
        current = math.trunc(shunt * self.calibration / 4096)
        ovf = not -32768 <= current <= 32767
        current = max(-32768, min(32767, current))
        power = math.trunc(abs(current) * self._bus_counts() / 5000)
        if power > 0xFFFF:
            ovf, power = True, 0xFFFF
        return current, power, ovf

    def _mode(self) -> int:
        return self.config & 0b111

    def read_register(self, reg: int) -> int:
        """The 16-bit value the chip sends (MSB first on the wire) for register reg."""
        with self._lock:
            if reg > REG_CAL:
                return 0  # pointer beyond the map: the chip answers, content undefined
            if reg == REG_CONFIG:
                return self.config
            if reg == REG_CAL:
                return self.calibration
            mode = self._mode()
            if mode in (0b000, 0b100):  # power-down / ADC off: no conversions
                shunt_on = bus_on = False
            else:
                shunt_on, bus_on = bool(mode & 0b001), bool(mode & 0b010)
            if reg == REG_SHUNT:
                return _u16(self._shunt_counts()) if shunt_on else 0
            current, power, ovf = self._math()
            if reg == REG_BUS:
                bus = self._bus_counts() if bus_on else 0
                return (bus << 3) | (int(self.cnvr) << 1) | int(ovf)
            if reg == REG_POWER:
                self.cnvr = False  # reading Power clears CNVR
                if mode & 0b100 and mode != 0b100:  # continuous: the next conversion sets it again
                    self.cnvr = True
                return power if shunt_on and bus_on else 0
            return _u16(current) if shunt_on else 0

    def write_register(self, reg: int, value: int) -> None:
        """Apply a register write as the chip does (read-only registers ignore writes)."""
        value &= 0xFFFF
        with self._lock:
            self.writes.append((reg, value))
            if reg == REG_CONFIG:
                if value & 0x8000:
                    self._por()  # RST is self-clearing
                    return
                self.config = value & 0x3FFF
                self.cnvr = True  # a new MODE starts a conversion that completes "instantly"
            elif reg == REG_CAL:
                self.calibration = value & 0xFFFE  # bit 0 is not implemented

    def garbage_word(self) -> int:
        """What the master reads when the bus is noisy."""
        if self.garbage == "ones":
            return 0xFFFF
        return self._rng.randrange(0x10000)


class FakeSMBus:
    """A stand-in for `smbus2.SMBus` with INA219 chips at given addresses."""

    def __init__(self, bus: int | None = 1, chips: dict[int, FakeINA219] | None = None) -> None:
        self.bus = bus
        self.chips: dict[int, FakeINA219] = chips if chips is not None else {0x40: FakeINA219()}
        self.closed = False
        self.transactions = 0

    def _chip(self, addr: int) -> FakeINA219:
        if self.closed:
            raise OSError(errno.EBADF, "Bad file descriptor")
        self.transactions += 1
        chip = self.chips.get(addr)
        if chip is None or chip.unplugged:
            raise _nack()
        return chip

    def read_word_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        """SMBus read word: pointer write, repeated start, two bytes (returned low byte first)."""
        chip = self._chip(i2c_addr)
        chip.pointer = register
        if chip.garbage:
            return chip.garbage_word()
        # the chip sends MSB first; SMBus assembles the first byte as the low byte
        return _swap(chip.read_register(register))

    def write_word_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        """SMBus write word: pointer, then the low byte of value first on the wire."""
        chip = self._chip(i2c_addr)
        chip.pointer = register
        chip.write_register(register, _swap(value & 0xFFFF))

    def write_byte(self, i2c_addr: int, value: int, force: bool | None = None) -> None:
        """Set the register pointer only."""
        self._chip(i2c_addr).pointer = value & 0xFF

    def read_byte(self, i2c_addr: int, force: bool | None = None) -> int:
        """Read one byte: the MSB of the last-pointed register."""
        chip = self._chip(i2c_addr)
        if chip.garbage:
            return chip.garbage_word() >> 8
        return chip.read_register(chip.pointer) >> 8

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> FakeSMBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bus_factory(chips: dict[int, FakeINA219]) -> Callable[[int], FakeSMBus]:
    """A factory the INA219 driver can use: every (re)connect opens a new FakeSMBus on chips."""

    def _open(bus: int) -> FakeSMBus:
        return FakeSMBus(bus, chips)

    return _open


_SHARED: dict[int, FakeINA219] = {}
_SHARED_LOCK = threading.Lock()


def shared_chip(address: int) -> FakeINA219:
    """The process-wide simulated chip at an address (used by `devices.INA219.emulator`)."""
    with _SHARED_LOCK:
        chip = _SHARED.get(address)
        if chip is None:
            chip = _SHARED[address] = FakeINA219()
        return chip


def shared_bus_factory(bus: int) -> FakeSMBus:
    """Open a fake bus on which every address 0x40-0x4F answers with a shared simulated chip."""
    return FakeSMBus(bus, {a: shared_chip(a) for a in range(0x40, 0x50)})


def main(argv: list[str] | None = None) -> None:
    """Simulate a load and print what each register reads, as a driver would see it."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--address", type=lambda s: int(s, 0), default=0x40)
    ap.add_argument("--volts", type=float, default=12.0, help="simulated bus voltage")
    ap.add_argument("--amps", type=float, default=0.1, help="simulated shunt current (mean)")
    ap.add_argument("--shunt-ohms", type=float, default=0.1)
    ap.add_argument(
        "--cal",
        type=lambda s: int(s, 0),
        default=4096,
        help="calibration to program (4096: 100 uA per bit at 0.1 ohm)",
    )
    ap.add_argument("--count", type=int, default=0, help="readings to print (0: until Ctrl-C)")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between readings")
    args = ap.parse_args(argv)
    chip = FakeINA219(args.volts, args.amps, args.shunt_ohms)
    bus = FakeSMBus(1, {args.address: chip})
    bus.write_word_data(args.address, REG_CAL, _swap(args.cal))
    print(
        f"INA219 emulator: in-process fake I2C bus 1, chip at {args.address:#04x} (no socket)",
        flush=True,
    )
    n = 0
    try:
        while args.count == 0 or n < args.count:
            chip.set_load(amps=args.amps * (1 + 0.2 * math.sin(n / 5)))
            regs = {
                name: _swap(bus.read_word_data(args.address, i))
                for i, name in enumerate(REGISTER_NAMES)
            }
            print("  ".join(f"{k}={v:#06x}" for k, v in regs.items()), flush=True)
            n += 1
            if args.count == 0 or n < args.count:
                time.sleep(args.interval)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
