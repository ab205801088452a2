"""DPS5020: RDTech/RuiDeng DPS programmable power supplies (DPS3005, DPS5005, DPH5005, DPS5015,
DPS5020, DPS8005) over Modbus RTU (minimalmodbus, 9600 8N1, slave address 1 by default).

Each poll reads the 13 status registers 0x00-0x0C in one request (as esphome-dps does) and
streams, with RTOC's signal names, VOut, IOut, POut, VIn, VSet, ISet (V, A, W) and Mode
(0 = CV, 1 = CC). A change between CV and CC and a tripped protection (OVP/OCP/OPP) are events.
The model comes from register 0x0B (or the `model` setting) and selects the current scaling:
0.01 A for the 15/20 A units, 0.001 A for the 5 A units (sigrok's table).

Writes (set voltage/current, output on/off, key lock, backlight, load preset) use function 0x10
with one register, as sigrok does; they go through properties and RTOC's setVoltage/setCurrent/
setPower/setLocked functions.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import minimalmodbus
import serial

from rtoc_tui.core.plugin import LoggerPlugin
from rtoc_tui.core.settings import Setting

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DPSModel:
    """Limits and register scaling of one DPS model (sigrok rdtech-dps api.c)."""

    model_id: int  # value of register 0x0B
    name: str
    max_v: float
    max_i: float
    max_p: float
    v_decimals: int
    i_decimals: int


MODELS: dict[int, DPSModel] = {
    m.model_id: m
    for m in (
        DPSModel(3005, "DPS3005", 30.0, 5.0, 160.0, 2, 3),
        DPSModel(5005, "DPS5005", 50.0, 5.0, 250.0, 2, 3),
        DPSModel(5205, "DPH5005", 50.0, 5.0, 250.0, 2, 3),
        DPSModel(5015, "DPS5015", 50.0, 15.0, 750.0, 2, 2),
        DPSModel(5020, "DPS5020", 50.0, 20.0, 1000.0, 2, 2),
        DPSModel(8005, "DPS8005", 80.0, 5.0, 408.0, 2, 3),
    )
}
MODELS_BY_NAME = {m.name: m for m in MODELS.values()}

# Register addresses (0-based, as on the wire)
REG_USET, REG_ISET, REG_UOUT, REG_IOUT, REG_POWER, REG_UIN = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05
REG_LOCK, REG_PROTECT, REG_CVCC, REG_ONOFF, REG_BLED, REG_MODEL, REG_VERSION = range(0x06, 0x0D)
REG_EXTRACT = 0x23
N_STATUS = 13  # 0x00-0x0C in one read

PROTECT_NAMES = ("OK", "OVP", "OCP", "OPP")
MODE_NAMES = ("CV", "CC")
POWER_WRAP_W = 655.36  # POWER is a 16-bit register in 0.01 W

BAUDRATES = (2400, 4800, 9600, 19200, 38400, 57600, 115200)
SIGNALS = ("VOut", "IOut", "POut", "VIn", "VSet", "ISet", "Mode")
UNITS = ("V", "A", "W", "V", "V", "A", "")


class DPSError(IOError):
    """The power supply did not answer, answered garbage or rejected a request."""


def unwrap_power(p_reg_w: float, u: float, i: float) -> float:
    """POWER wraps at 655.35 W; undo whole wraps using U×I as the estimate (esphome-dps note)."""
    wraps = round((u * i - p_reg_w) / POWER_WRAP_W)
    return p_reg_w + max(0, wraps) * POWER_WRAP_W


class DPS5020(LoggerPlugin):
    """RDTech DPS3005/5005/5015/5020/8005 power supply over Modbus RTU."""

    SETTINGS = {
        "port": Setting("/dev/ttyUSB0", "Serial port of the DPS's USB/TTL adapter"),
        "baudrate": Setting(9600, "Baud rate set on the unit", choices=BAUDRATES),
        "address": Setting(1, "Modbus slave address set on the unit", minimum=1, maximum=247),
        "model": Setting(
            "auto",
            "Model; 'auto' reads it from register 0x0B",
            choices=("auto", *MODELS_BY_NAME),
        ),
        "samplerate": Setting(1.0, "Readings per second", minimum=0.01, maximum=20.0),
        "timeout": Setting(1.0, "Seconds to wait for an answer", minimum=0.05, maximum=10.0),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setDeviceName("DPS5020")
        s = self.settings
        self._port: str = s["port"]
        self._address: int = s["address"]
        self._baudrate: int = s["baudrate"]
        self._timeout_s: float = s["timeout"]
        self._model_setting: str = s["model"]
        self._io = threading.Lock()  # poll thread and parameter writes share the port
        self._inst: minimalmodbus.Instrument | None = None
        self._model: DPSModel | None = MODELS_BY_NAME.get(self._model_setting)
        self._model_warned = False
        self._regs: list[int] | None = None  # last good status registers
        self._mode: int | None = None
        self._protect = 0
        self.setPerpetualTimer(self._poll, samplerate=s["samplerate"])
        self.start()

    # -- connection -----------------------------------------------------------------------------
    def _connect(self) -> minimalmodbus.Instrument:
        if self._inst is not None:
            return self._inst
        try:
            ser = serial.Serial()
            ser.port = self._port
            ser.baudrate = self._baudrate
            ser.bytesize = serial.EIGHTBITS
            ser.parity = serial.PARITY_NONE
            ser.stopbits = serial.STOPBITS_ONE
            ser.timeout = self._timeout_s
            ser.write_timeout = self._timeout_s
            ser.open()
        except (OSError, serial.SerialException, ValueError) as exc:
            raise DPSError(f"DPS5020: cannot open {self._port}: {_why(exc)}") from None
        # Hand minimalmodbus our own Serial object: given a port name it would open the port
        # itself and cache it in a module-wide dict by name, which outlives our reconnects.
        try:
            inst = minimalmodbus.Instrument(ser, self._address, mode=minimalmodbus.MODE_RTU)
        except Exception:
            ser.close()
            raise
        inst.clear_buffers_before_each_transaction = True
        self._inst = inst
        log.info("DPS5020 connected on %s (address %d)", self._port, self._address)
        return inst

    def _disconnect(self) -> None:
        inst, self._inst = self._inst, None
        if inst is not None:
            try:
                inst.serial.close()
            except (OSError, serial.SerialException, AttributeError):
                pass

    def close(self) -> None:
        """Stop polling and close the port."""
        super().close()
        with self._io:
            self._disconnect()

    def _transact(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one Modbus request; on any failure drop the connection and raise DPSError."""
        inst = self._connect()
        try:
            return fn(inst, *args, **kwargs)
        except minimalmodbus.SlaveReportedException as exc:
            # the unit answered properly but refused: the link is fine, keep it
            raise DPSError(
                f"DPS5020 at address {self._address} on {self._port} refused {what}: {exc}"
            ) from None
        except Exception as exc:
            # Anything else (timeouts, CRC errors, EIO, termios.error, which is no OSError) leaves
            # the link in an unknown state: drop it so the next poll reconnects.
            self._disconnect()
            raise DPSError(
                f"DPS5020 at address {self._address} on {self._port}: {what} failed: {exc}"
            ) from None

    # -- polling --------------------------------------------------------------------------------
    def _poll(self) -> None:
        with self._io:
            regs = self._transact(
                "reading the status registers",
                lambda inst: inst.read_registers(REG_USET, N_STATUS, functioncode=3),
            )
        t = time.time()
        self._check_plausible(regs)
        model = self._resolve_model(regs[REG_MODEL])
        vs, cs = 10.0**model.v_decimals, 10.0**model.i_decimals
        vset, iset = regs[REG_USET] / vs, regs[REG_ISET] / cs
        vout, iout = regs[REG_UOUT] / vs, regs[REG_IOUT] / cs
        pout = unwrap_power(regs[REG_POWER] / 100.0, vout, iout)
        vin = regs[REG_UIN] / vs
        mode = regs[REG_CVCC]
        self._regs = regs
        self.stream(
            [vout, iout, pout, vin, vset, iset, float(mode)],
            SIGNALS,
            unit=UNITS,
            x=[t] * len(SIGNALS),
        )
        if self._mode is not None and mode != self._mode:
            self.event(
                f"DPS5020 switched to {MODE_NAMES[mode]} ({vout:.2f} V, {iout:.{model.i_decimals}f} A)",
                sname="Mode",
                priority=0,
                id="dpsMode",
                value=mode,
                x=t,
            )
        self._mode = mode
        protect = regs[REG_PROTECT]
        if protect and protect != self._protect:
            self.event(
                f"DPS5020 protection tripped: {PROTECT_NAMES[protect]}, output off",
                sname="VOut",
                priority=2,
                id="dpsProtect",
                value=PROTECT_NAMES[protect],
                x=t,
            )
        self._protect = protect

    def _check_plausible(self, regs: list[int]) -> None:
        """Reject answers whose state registers hold values the unit never reports."""
        bad = []
        for reg, top in (
            (REG_LOCK, 1),
            (REG_PROTECT, 3),
            (REG_CVCC, 1),
            (REG_ONOFF, 1),
            (REG_BLED, 5),
        ):
            if regs[reg] > top:
                bad.append(f"0x{reg:02X}={regs[reg]}")
        if self._regs is not None and regs[REG_MODEL] != self._regs[REG_MODEL]:
            bad.append(f"model register changed {self._regs[REG_MODEL]} -> {regs[REG_MODEL]}")
        if bad:
            with self._io:
                self._disconnect()
            raise DPSError(f"DPS5020 on {self._port}: implausible answer ({', '.join(bad)})")

    def _resolve_model(self, model_id: int) -> DPSModel:
        if self._model_setting != "auto":
            model = MODELS_BY_NAME[self._model_setting]
            if model_id != model.model_id and not self._model_warned:
                self._model_warned = True
                self.warning(
                    f"DPS5020: unit reports model {model_id} but devices.DPS5020.model is {model.name}; using {model.name}"
                )
            self._model = model
            return model
        model = MODELS.get(model_id)
        if model is None:
            known = ", ".join(MODELS_BY_NAME)
            raise DPSError(
                f"DPS5020 on {self._port}: unknown model id {model_id} in register 0x0B; "
                f"set devices.DPS5020.model to one of {known}"
            )
        self._model = model
        return model

    # -- writes ---------------------------------------------------------------------------------
    def _write(self, reg: int, raw: int, what: str) -> None:
        with self._io:
            self._transact(
                what,
                lambda inst: inst.write_register(reg, raw, number_of_decimals=0, functioncode=16),
            )
        if self._regs is not None and reg < N_STATUS:
            self._regs = [*self._regs]
            self._regs[reg] = raw

    def _known_model(self) -> DPSModel:
        """The model, reading it from the unit if no poll has succeeded yet."""
        if self._model is not None:
            return self._model
        with self._io:
            model_id = self._transact(
                "reading the model register", lambda inst: inst.read_register(REG_MODEL)
            )
        return self._resolve_model(int(model_id))

    def _reg(self, reg: int) -> int | None:
        regs = self._regs
        return None if regs is None else regs[reg]

    @property
    def model(self) -> str:
        """Model name (from register 0x0B or the model setting); empty before the first answer."""
        return "" if self._model is None else self._model.name

    @property
    def firmware(self) -> float | None:
        """Firmware version (register 0x0C / 10)."""
        v = self._reg(REG_VERSION)
        return None if v is None else v / 10.0

    @property
    def voltage_set(self) -> float | None:
        """Output voltage setpoint in V (writes register 0x00)."""
        v, m = self._reg(REG_USET), self._model
        return None if v is None or m is None else v / 10.0**m.v_decimals

    @voltage_set.setter
    def voltage_set(self, volts: float) -> None:
        self.setVoltage(volts)

    @property
    def current_set(self) -> float | None:
        """Output current limit in A (writes register 0x01)."""
        v, m = self._reg(REG_ISET), self._model
        return None if v is None or m is None else v / 10.0**m.i_decimals

    @current_set.setter
    def current_set(self, amps: float) -> None:
        self.setCurrent(amps)

    @property
    def output(self) -> bool | None:
        """Output enabled (writes register 0x09)."""
        v = self._reg(REG_ONOFF)
        return None if v is None else bool(v)

    @output.setter
    def output(self, on: bool) -> None:
        self.setPower(on)

    @property
    def key_lock(self) -> bool | None:
        """Front panel keys locked (writes register 0x06)."""
        v = self._reg(REG_LOCK)
        return None if v is None else bool(v)

    @key_lock.setter
    def key_lock(self, locked: bool) -> None:
        self.setLocked(locked)

    @property
    def backlight(self) -> int | None:
        """Display brightness 0..5 (writes register 0x0A)."""
        return self._reg(REG_BLED)

    @backlight.setter
    def backlight(self, level: int) -> None:
        level = _as_int(level, "backlight")
        if not 0 <= level <= 5:
            raise ValueError(f"backlight must be 0..5, got {level}")
        self._write(REG_BLED, level, f"setting the backlight to {level}")

    @property
    def mode(self) -> str:
        """Regulation mode: CV (constant voltage) or CC (constant current)."""
        return "" if self._mode is None else MODE_NAMES[self._mode]

    @property
    def protection(self) -> str:
        """Protection state: OK, OVP, OCP or OPP."""
        return PROTECT_NAMES[self._protect]

    @property
    def connected(self) -> bool:
        """The serial port is open."""
        return self._inst is not None

    # -- functions (RTOC's DPS5020 plugin names) -------------------------------------------------
    def setVoltage(self, value: float = 0) -> None:
        """Set the output voltage in V (0 .. the model's maximum)."""
        model = self._known_model()
        volts = _as_float(value, "voltage")
        if not 0.0 <= volts <= model.max_v:
            raise ValueError(f"{model.name}: voltage must be 0..{model.max_v:g} V, got {volts:g}")
        raw = round(volts * 10**model.v_decimals)
        self._write(REG_USET, raw, f"setting the voltage to {volts:g} V")

    def setCurrent(self, value: float = 0) -> None:
        """Set the current limit in A (0 .. the model's maximum)."""
        model = self._known_model()
        amps = _as_float(value, "current")
        if not 0.0 <= amps <= model.max_i:
            raise ValueError(f"{model.name}: current must be 0..{model.max_i:g} A, got {amps:g}")
        raw = round(amps * 10**model.i_decimals)
        self._write(REG_ISET, raw, f"setting the current to {amps:g} A")

    def setPower(self, value: bool = False) -> None:
        """Switch the output on (True) or off (False)."""
        on = _as_bool(value, "output")
        self._write(REG_ONOFF, int(on), f"switching the output {'on' if on else 'off'}")
        self.event(
            f"DPS5020 output {'on' if on else 'off'}", sname="VOut", id="dpsOutput", value=int(on)
        )

    def setLocked(self, value: bool = True) -> None:
        """Lock (True) or unlock (False) the front panel keys."""
        locked = _as_bool(value, "key_lock")
        self._write(REG_LOCK, int(locked), f"{'locking' if locked else 'unlocking'} the keys")

    def loadPreset(self, group: int = 1) -> None:
        """Load memory group M0..M9 into the active settings (register 0x23)."""
        n = _as_int(group, "group")
        if not 0 <= n <= 9:
            raise ValueError(f"preset group must be 0..9, got {n}")
        self._write(REG_EXTRACT, n, f"loading preset M{n}")


def _as_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            return float(str(value))
        except ValueError:
            raise ValueError(f"{name} must be a number, got {value!r}") from None
    return float(value)


def _as_int(value: Any, name: str) -> int:
    f = _as_float(value, name)
    if not f.is_integer():
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(f)


def _as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "on", "off", "1", "0"):
        return value.lower() in ("true", "on", "1")
    raise ValueError(f"{name} must be True or False, got {value!r}")


def _why(exc: BaseException) -> str:
    """The OS reason of a failed open ('No such file or directory'), else the message."""
    code = getattr(exc, "errno", None)
    return os.strerror(code) if isinstance(code, int) and code > 0 else str(exc)
