"""INA219: bus voltage, shunt voltage, current and power of a TI INA219 over I2C (smbus2).

RTOC's INA219_Modul used the pi-ina219 package; this driver talks to the chip's registers
directly (shared/protocols/ina219.md) and keeps pi-ina219's units, so RTOC scripts and global
events on `INA219.Current` (mA) keep working. Calibration is computed from `shunt_ohms` and
`max_expected_amps`: the PGA range is the smallest that covers max_expected_amps x shunt_ohms,
Current_LSB a round number >= max_expected_amps / 32767, Cal = trunc(0.04096 / (LSB x R)),
Power_LSB = 20 x Current_LSB.
"""

from __future__ import annotations

import errno
import math
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from rtoc_tui.core.plugin import LoggerPlugin
from rtoc_tui.core.settings import Setting, SettingsError

POR_CONFIG = 0x399F
REG_CONFIG, REG_SHUNT, REG_BUS, REG_POWER, REG_CURRENT, REG_CAL = range(6)
# samples averaged -> BADC/SADC field (datasheet table; 1 sample = 12-bit, 532 us)
AVERAGING = {
    1: 0b0011,
    2: 0b1001,
    4: 0b1010,
    8: 0b1011,
    16: 0b1100,
    32: 0b1101,
    64: 0b1110,
    128: 0b1111,
}
PGA_VOLTS = (0.04, 0.08, 0.16, 0.32)  # full-scale shunt voltage for PG = 0..3
MODE_CONTINUOUS = 0b111  # shunt and bus, continuous
SIGNALS = ("Voltage", "ShuntVoltage", "Current", "Power")
UNITS = ("V", "mV", "mA", "mW")


class INA219Error(OSError):
    """The INA219 did not answer or answered with values that cannot be right."""


class Calibration:
    """Register values for a shunt and expected current (datasheet section 8.5, 'Programming')."""

    def __init__(
        self, shunt_ohms: float, max_expected_amps: float, bus_range_v: int = 32, averaging: int = 1
    ) -> None:
        self.shunt_ohms = shunt_ohms
        self.max_expected_amps = max_expected_amps
        v_max = max_expected_amps * shunt_ohms
        self.pga = next((i for i, v in enumerate(PGA_VOLTS) if v >= v_max * (1 - 1e-9)), None)
        if self.pga is None:
            limit = PGA_VOLTS[-1] / shunt_ohms
            raise ValueError(
                f"{max_expected_amps:g} A through {shunt_ohms:g} ohm gives {v_max:g} V, beyond the "
                f"INA219's +-0.32 V shunt range (at most {limit:g} A with this shunt)"
            )
        # the finest LSB that neither overflows the 15-bit current register nor the 16-bit Cal
        lsb_min = max(max_expected_amps / 32767, 0.04096 / (0xFFFE * shunt_ohms))
        lsb = _round_up_125(lsb_min)
        self.cal = int(0.04096 / (lsb * shunt_ohms)) & 0xFFFE  # bit 0 is not implemented
        # the LSB the chip really applies, given the truncated Cal
        self.current_lsb = 0.04096 / (self.cal * shunt_ohms)
        self.power_lsb = 20 * self.current_lsb
        adc = AVERAGING[averaging]
        brng = 1 if bus_range_v == 32 else 0
        self.config = (brng << 13) | (self.pga << 11) | (adc << 7) | (adc << 3) | MODE_CONTINUOUS
        self.shunt_limit = 4000 << self.pga
        self.bus_limit = 8000 if brng else 4000


def _round_up_125(x: float) -> float:
    """The smallest 1, 2 or 5 x 10^n that is >= x (a 'round' Current_LSB, as TI suggests)."""
    exp = math.floor(math.log10(x))
    for step in (1, 2, 5, 10):
        candidate = step * 10.0**exp
        if candidate >= x * (1 - 1e-12):
            return candidate
    return 10.0 ** (exp + 1)


def _swap(word: int) -> int:
    # SMBus words are little-endian on the wire, INA219 registers big-endian
    return ((word & 0xFF) << 8) | ((word >> 8) & 0xFF)


def _int16(word: int) -> int:
    return word - 0x10000 if word & 0x8000 else word


def _open_smbus(bus: int) -> Any:
    from smbus2 import SMBus

    return SMBus(bus)


class INA219(LoggerPlugin):
    """TI INA219 current/power monitor on I2C: voltage, shunt voltage, current and power."""

    SETTINGS = {
        "samplerate": Setting(1.0, "Readings per second", minimum=1e-6, maximum=1000.0),
        "bus": Setting(1, "I2C bus number (/dev/i2c-<bus>; 1 on a Raspberry Pi)", minimum=0),
        "address": Setting(
            0x40,
            "7-bit I2C address, 0x40-0x4F set by pins A0/A1 (RTOC's INA219_Modul used 0x41)",
            minimum=0x40,
            maximum=0x4F,
        ),
        "shunt_ohms": Setting(
            0.1, "Shunt resistor in ohm (0.1 on the common breakout boards)", minimum=1e-6
        ),
        "max_expected_amps": Setting(
            0.2,
            "Largest current expected in A; sets the PGA range and the resolution",
            minimum=1e-6,
        ),
        "bus_voltage_range": Setting(
            32, "Bus voltage full scale in V: 16 or 32 (the input is rated 26 V)", choices=(16, 32)
        ),
        "averaging": Setting(
            1, "ADC samples averaged per reading: 1, 2, 4 ... 128", choices=tuple(AVERAGING)
        ),
        "emulator": Setting(
            False, "Use the built-in INA219 emulator instead of /dev/i2c-<bus> (demos)"
        ),
    }

    _bus_factory: ClassVar[Callable[[int], Any] | None] = None
    """Opens the bus (tests put the emulator's factory here); None: smbus2.SMBus."""

    def __init__(
        self, *args: Any, bus_factory: Callable[[int], Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.setDeviceName("INA219")
        s = self.settings
        try:
            self._cal = Calibration(
                s["shunt_ohms"], s["max_expected_amps"], s["bus_voltage_range"], s["averaging"]
            )
        except ValueError as exc:
            raise SettingsError(
                f"config.json: devices.{self._registry_name}.max_expected_amps: {exc}"
            ) from None
        self._factory = bus_factory
        self._bus: Any = None
        self._io = threading.RLock()
        self._dirty = True  # calibration/config must be (re)written before the next reading
        self._overflow = False
        self._last: dict[str, float] = {}
        self.__doc_shunt_ohms__ = "Shunt resistor in ohm"
        self.__doc_max_expected_amps__ = "Largest current expected in A (sets range and resolution)"
        self.__doc_averaging__ = "ADC samples averaged per reading: 1, 2, 4 ... 128"
        self.__doc_bus_voltage_range__ = "Bus voltage full scale in V: 16 or 32"
        self.setPerpetualTimer(self._poll, samplerate=s["samplerate"])
        self.start()

    # -- parameters ---------------------------------------------------------------------------
    def _recalibrate(self, **changes: Any) -> None:
        c = self._cal
        args = {
            "shunt_ohms": c.shunt_ohms,
            "max_expected_amps": c.max_expected_amps,
            "bus_range_v": 32 if c.bus_limit == 8000 else 16,
            "averaging": self.averaging,
        }
        args.update(changes)
        cal = Calibration(**args)  # raises ValueError with a clear message
        with self._io:
            self._cal = cal
            self._dirty = True

    @property
    def shunt_ohms(self) -> float:
        return self._cal.shunt_ohms

    @shunt_ohms.setter
    def shunt_ohms(self, value: float) -> None:
        if not value > 0:
            raise ValueError(f"shunt_ohms must be > 0, got {value!r}")
        self._recalibrate(shunt_ohms=float(value))

    @property
    def max_expected_amps(self) -> float:
        return self._cal.max_expected_amps

    @max_expected_amps.setter
    def max_expected_amps(self, value: float) -> None:
        if not value > 0:
            raise ValueError(f"max_expected_amps must be > 0, got {value!r}")
        self._recalibrate(max_expected_amps=float(value))

    @property
    def averaging(self) -> int:
        field = (self._cal.config >> 3) & 0xF
        return next(n for n, f in AVERAGING.items() if f == field)

    @averaging.setter
    def averaging(self, value: int) -> None:
        if value not in AVERAGING:
            raise ValueError(
                f"averaging must be one of {', '.join(map(str, AVERAGING))}, got {value!r}"
            )
        self._recalibrate(averaging=int(value))

    @property
    def bus_voltage_range(self) -> int:
        return 32 if self._cal.bus_limit == 8000 else 16

    @bus_voltage_range.setter
    def bus_voltage_range(self, value: int) -> None:
        if value not in (16, 32):
            raise ValueError(f"bus_voltage_range must be 16 or 32, got {value!r}")
        self._recalibrate(bus_range_v=int(value))

    @property
    def calibration(self) -> int:
        """Calibration register value written to the chip."""
        return self._cal.cal

    @property
    def current_lsb_mA(self) -> float:
        """Current resolution in mA (Current_LSB)."""
        return self._cal.current_lsb * 1000

    # -- functions ----------------------------------------------------------------------------
    def read(self) -> dict[str, float]:
        """Take one reading now: {Voltage V, ShuntVoltage mV, Current mA, Power mW}."""
        return self._read()

    def reset(self) -> bool:
        """Reset the chip (RST bit) and program calibration and configuration again."""
        with self._io:
            try:
                bus = self._connect()
                self._write(bus, REG_CONFIG, 0x8000)
                self._program(bus)
            except OSError as exc:
                self._drop()
                raise self._io_error(exc) from exc
        return True

    def trim(self, measured_mA: float) -> int:
        """Correct the calibration with a current measured by a reference meter; returns the new Cal."""
        reported = self._last.get("Current")
        if not reported:
            raise ValueError("trim needs a non-zero current reading first")
        with self._io:
            c = self._cal
            new = int(c.cal * float(measured_mA) / reported) & 0xFFFE
            if not 2 <= new <= 0xFFFE:
                raise ValueError(f"trimmed calibration {new} is out of range; check measured_mA")
            c.cal = new
            c.current_lsb = 0.04096 / (new * c.shunt_ohms)
            c.power_lsb = 20 * c.current_lsb
            self._dirty = True
        return new

    # -- I/O ------------------------------------------------------------------------------------
    def _where(self) -> str:
        return f"INA219 at {self.settings['address']:#04x} on I2C bus {self.settings['bus']}"

    def _io_error(self, exc: OSError) -> INA219Error:
        if isinstance(exc, INA219Error):
            return exc
        if exc.errno in (errno.EREMOTEIO, errno.ENXIO, errno.EIO):
            return INA219Error(
                exc.errno,
                f"{self._where()} does not answer ({exc.strerror or exc}): check wiring, power and address",
            )
        if isinstance(exc, PermissionError):
            return INA219Error(
                exc.errno,
                f"cannot open /dev/i2c-{self.settings['bus']}: permission denied (add the user to the i2c group)",
            )
        if isinstance(exc, FileNotFoundError):
            return INA219Error(
                exc.errno,
                f"cannot open /dev/i2c-{self.settings['bus']}: {exc.strerror} (is I2C enabled? raspi-config on a Pi)",
            )
        return INA219Error(exc.errno, f"{self._where()}: {exc}")

    def _connect(self) -> Any:
        if self._bus is None:
            factory = self._factory or type(self)._bus_factory
            if factory is None and self.settings["emulator"]:
                from rtoc_tui.drivers.ina219.emulator import shared_bus_factory

                factory = shared_bus_factory
            self._bus = (factory or _open_smbus)(self.settings["bus"])
            self._dirty = True
        if self._dirty:
            self._program(self._bus)
        return self._bus

    def _drop(self) -> None:
        bus, self._bus = self._bus, None
        if bus is not None:
            try:
                bus.close()
            except OSError:
                pass  # the bus is being dropped because it failed

    def _read_reg(self, bus: Any, reg: int) -> int:
        return _swap(bus.read_word_data(self.settings["address"], reg))

    def _write(self, bus: Any, reg: int, value: int) -> None:
        bus.write_word_data(self.settings["address"], reg, _swap(value))

    def _program(self, bus: Any) -> None:
        """Write Calibration, then Configuration (Adafruit's order), and verify both."""
        c = self._cal
        self._write(bus, REG_CAL, c.cal)
        self._write(bus, REG_CONFIG, c.config)
        cal, config = self._read_reg(bus, REG_CAL), self._read_reg(bus, REG_CONFIG)
        if (cal, config) != (c.cal, c.config):
            raise INA219Error(
                errno.EIO,
                f"{self._where()}: registers read back as cal={cal:#06x} config={config:#06x}, "
                f"expected {c.cal:#06x}/{c.config:#06x}: not an INA219 or a noisy bus",
            )
        self._dirty = False

    def _read(self) -> dict[str, float]:
        with self._io:
            try:
                return self._read_locked()
            except OSError as exc:
                self._drop()
                raise self._io_error(exc) from exc

    def _read_locked(self) -> dict[str, float]:
        bus = self._connect()
        c = self._cal
        cal, config = self._read_reg(bus, REG_CAL), self._read_reg(bus, REG_CONFIG)
        if (cal, config) != (c.cal, c.config):
            if (cal, config) == (0, POR_CONFIG):
                # power-on values: the chip was power-cycled (replugged); program it again
                self.info(f"{self._where()} was reset; programming it again")
                self._program(bus)
            else:
                raise INA219Error(
                    errno.EIO,
                    f"{self._where()}: garbage: cal={cal:#06x} config={config:#06x}, expected {c.cal:#06x}/{c.config:#06x}",
                )
        bus_reg = self._read_reg(bus, REG_BUS)
        shunt = _int16(self._read_reg(bus, REG_SHUNT))
        current = _int16(self._read_reg(bus, REG_CURRENT))
        power = self._read_reg(bus, REG_POWER)
        bus_counts = bus_reg >> 3
        if bus_counts > c.bus_limit or abs(shunt) > c.shunt_limit:
            raise INA219Error(
                errno.EIO,
                f"{self._where()}: garbage: bus={bus_reg:#06x} shunt={shunt} outside the configured ranges",
            )
        out = {"Voltage": bus_counts * 0.004, "ShuntVoltage": shunt * 0.01}  # 4 mV and 10 uV LSBs
        if not bus_reg & 1:  # OVF clear: current and power are meaningful
            out["Current"] = current * c.current_lsb * 1000
            # the datasheet leaves the power sign open; take it from the current register
            out["Power"] = math.copysign(power * c.power_lsb * 1000, current) if current else 0.0
        return out

    def _poll(self) -> None:
        values = self._read()
        if len(values) < len(SIGNALS):
            if not self._overflow:
                self._overflow = True
                self.event(
                    f"{self._devicename}: current above the measurable range (OVF); raise max_expected_amps",
                    sname="Current",
                    priority=1,
                    id="ina219Overflow",
                )
        else:
            self._overflow = False
        names = [n for n in SIGNALS if n in values]
        self._last.update(values)
        self.stream(
            [values[n] for n in names], names, unit=[UNITS[SIGNALS.index(n)] for n in names]
        )

    def close(self) -> None:
        """Stop polling and release the I2C bus."""
        super().close()
        with self._io:
            self._drop()
