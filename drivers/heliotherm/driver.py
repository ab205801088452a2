"""Heliotherm: a Heliotherm heat pump through its RCG2+ gateway over Modbus TCP (pymodbus).

Reads input registers 10-41 (temperatures, pressures, pump/compressor states) and 60-75
(energy meters and power, UINT32 high word first) and the writable holding registers 100-117
every poll, as in shared/protocols/heliotherm.md. Writable registers are device parameters
(operating mode, setpoints ...); registers 117 and 125-134 (external demand, compressor speed,
power setpoint, fault reset, externally supplied temperatures) are device functions.
RTOC's Heliotherm plugin used pyModbusTCP; this driver uses pymodbus's synchronous client in
the plugin's own thread, reconnecting on the next poll after any failure (the RCG2+ itself
never reconnects).
"""

from __future__ import annotations

import struct
import threading
from typing import Any

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException

from rtoc_tui.core.plugin import LoggerPlugin
from rtoc_tui.core.settings import Setting, SettingsError

MODES = ("off", "auto", "cooling", "summer", "continuous", "setback", "holiday", "party")
# read-only states some firmwares report in register 100 (community documentation)
MODE_INFO = {8: "bake-out", 9: "EVU lock", 10: "main switch off"}
MISSING = -500  # an unconnected probe reads -50.0 degC

# register -> (signal, unit, scale); scale None = on/off state streamed as 0/1
INPUT_INT16: dict[int, tuple[str, str, float | None]] = {
    10: ("OutdoorTemp", "°C", 0.1),
    11: ("HotWaterTemp", "°C", 0.1),
    12: ("FlowTemp", "°C", 0.1),
    13: ("ReturnTemp", "°C", 0.1),
    14: ("BufferTemp", "°C", 0.1),
    15: ("SourceInletTemp", "°C", 0.1),
    16: ("SourceOutletTemp", "°C", 0.1),
    17: ("SuctionGasTemp", "°C", 0.1),
    18: ("EvaporationTemp", "°C", 0.1),
    19: ("CondensationTemp", "°C", 0.1),
    20: ("HotGasTemp", "°C", 0.1),
    21: ("LowPressure", "bar", 0.1),
    22: ("HighPressure", "bar", 0.1),
    23: ("HeatingPump", "", None),
    24: ("BufferPump", "", None),
    25: ("Compressor", "", None),
    26: ("Fault", "", None),
    27: ("Defrost", "", None),  # 4-way valve
    28: ("HeatMeterFlow", "l/h", 0.1),  # PDF unit; a community config says 0.1 l/min
    29: ("CompressorSpeedTarget", "‰", 1.0),
    30: ("COP", "", 0.1),
    31: ("FreshWaterTemp", "°C", 0.1),
    32: ("EVULock", "", None),
    33: ("OutdoorTempDelayed", "°C", 0.1),
    34: ("HeatingTarget", "°C", 0.1),
    35: ("MKR1Target", "°C", 0.1),
    36: ("MKR2Target", "°C", 0.1),
    37: ("SourcePump", "", None),
    38: ("HotWaterPriority", "", None),
    39: ("PassiveCooling", "", None),
    40: ("ExpansionValve", "‰", 1.0),
    41: ("CompressorDemand", "", 1.0),  # 0 none, 10 cooling, 20 heating, 30 hot water
}
INPUT_UINT32: dict[int, tuple[str, str, float]] = {
    60: ("HeatEnergyHeating", "kWh", 1.0),
    62: ("ElecEnergyHeating", "kWh", 1.0),
    64: ("HeatEnergyHotWater", "kWh", 1.0),
    66: ("ElecEnergyHotWater", "kWh", 1.0),
    68: ("ElecEnergyTotal", "kWh", 1.0),
    70: ("ElecPower", "W", 1.0),
    72: ("HeatEnergyTotal", "kWh", 1.0),
    74: ("HeatPower", "kW", 1.0),  # PDF unit; the HA integrations scale by 0.1
}
HOLDING_FIRST, HOLDING_COUNT = 100, 18  # parameters 100-117 (118-124 are undocumented)
EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    6: "server busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class HeliothermError(ConnectionError):
    """The heat pump (RCG2+ gateway) is unreachable or answered with an error."""


def _s16(word: int) -> int:
    return word - 0x10000 if word & 0x8000 else word


def _holding_parameter(reg: int, kind: str, doc: str) -> property:
    """A device parameter backed by holding register reg (read each poll, written with FC 06)."""

    def fget(self: Heliotherm) -> Any:
        raw = self._holding.get(reg)
        if raw is None:
            return None
        if kind == "temp":
            return _s16(raw) / 10
        if kind == "bool":
            return bool(raw)
        return raw

    def fset(self: Heliotherm, value: Any) -> None:
        self._write(reg, _encode(kind, value, f"register {reg}"))

    return property(fget, fset, doc=doc)


def _encode(kind: str, value: Any, label: str) -> int:
    """Raw register value for a parameter value, or ValueError naming the parameter."""
    if kind == "mode":
        return _mode_number(value)
    if kind == "bool":
        if isinstance(value, str):
            value = value.lower() in ("1", "true", "on", "yes")
        return 1 if value else 0
    try:
        temp = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{label}: expected a temperature in °C, got {value!r}") from None
    if not -50.0 <= temp <= 100.0:
        raise ValueError(f"{label}: {temp:g} °C is outside -50 ... 100 °C")
    return round(temp * 10) & 0xFFFF


def _mode_number(mode: Any) -> int:
    if isinstance(mode, str) and not mode.strip().isdigit():
        name = mode.strip().lower()
        if name not in MODES:
            raise ValueError(f"unknown operating mode {mode!r} (one of {', '.join(MODES)} or 0-7)")
        return MODES.index(name)
    if (
        isinstance(mode, bool)
        or not isinstance(mode, (int, str, float))
        or int(mode) != float(mode)
    ):
        raise ValueError(f"operating mode must be 0-7 or a name, got {mode!r}")
    number = int(mode)
    if not 0 <= number <= 7:
        raise ValueError(
            f"operating mode must be 0-7 ({', '.join(f'{i} {n}' for i, n in enumerate(MODES))}), got {number}"
        )
    return number


def mode_name(mode: int | None) -> str:
    """Name of an operating-mode number (register 100/107/112)."""
    if mode is None:
        return "unknown"
    if 0 <= mode < len(MODES):
        return MODES[mode]
    return MODE_INFO.get(mode, f"mode {mode}")


MODE_DOC = "0 off, 1 auto, 2 cooling, 3 summer, 4 continuous, 5 setback, 6 holiday, 7 party"


class Heliotherm(LoggerPlugin):
    """Heliotherm heat pump (RCG2+ gateway, Modbus TCP): temperatures, states, energy, setpoints."""

    SETTINGS = {
        "host": Setting("", "IP address or host name of the RCG2+ gateway (required)"),
        "port": Setting(502, "Modbus TCP port of the RCG2+", minimum=1, maximum=65535),
        "unit_id": Setting(
            1, "Modbus unit id (slave address) set in the RCG2+ Modbus page", minimum=0, maximum=255
        ),
        "timeout": Setting(
            3.0, "Seconds to wait for a connection or an answer", minimum=0.01, maximum=60.0
        ),
        "samplerate": Setting(
            0.1, "Polls per second (0.1: every 10 s)", minimum=1e-6, maximum=100.0
        ),
    }

    operating_mode = _holding_parameter(100, "mode", f"Operating mode (reg 100): {MODE_DOC}")
    room_setpoint = _holding_parameter(101, "temp", "Heating circuit room setpoint in °C (reg 101)")
    return_setpoint = _holding_parameter(
        102,
        "temp",
        "Heating circuit return setpoint in °C (reg 102; used when return_setpoint_active)",
    )
    return_setpoint_active = _holding_parameter(103, "bool", "Use return_setpoint (reg 103)")
    cooling_return_min = _holding_parameter(
        104, "temp", "Minimum return temperature when cooling in °C (reg 104)"
    )
    hot_water_temp = _holding_parameter(105, "temp", "Hot water normal temperature in °C (reg 105)")
    hot_water_min_temp = _holding_parameter(
        106, "temp", "Hot water minimum temperature in °C (reg 106)"
    )
    mkr1_mode = _holding_parameter(
        107, "mode", f"Mixing circuit 1 operating mode (reg 107): {MODE_DOC}"
    )
    mkr1_room_setpoint = _holding_parameter(
        108, "temp", "Mixing circuit 1 room setpoint in °C (reg 108)"
    )
    mkr1_setpoint = _holding_parameter(
        109,
        "temp",
        "Mixing circuit 1 flow setpoint in °C (reg 109; used when mkr1_setpoint_active)",
    )
    mkr1_setpoint_active = _holding_parameter(110, "bool", "Use mkr1_setpoint (reg 110)")
    mkr1_cooling_return_min = _holding_parameter(
        111, "temp", "Mixing circuit 1 minimum return temperature when cooling in °C (reg 111)"
    )
    mkr2_mode = _holding_parameter(
        112, "mode", f"Mixing circuit 2 operating mode (reg 112): {MODE_DOC}"
    )
    mkr2_room_setpoint = _holding_parameter(
        113, "temp", "Mixing circuit 2 room setpoint in °C (reg 113)"
    )
    mkr2_setpoint = _holding_parameter(
        114,
        "temp",
        "Mixing circuit 2 flow setpoint in °C (reg 114; used when mkr2_setpoint_active)",
    )
    mkr2_setpoint_active = _holding_parameter(115, "bool", "Use mkr2_setpoint (reg 115)")
    mkr2_cooling_return_min = _holding_parameter(
        116, "temp", "Mixing circuit 2 minimum return temperature when cooling in °C (reg 116)"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setDeviceName("Heliotherm")
        s = self.settings
        if not s["host"].strip():
            raise SettingsError(
                f"config.json: devices.{self._registry_name}.host: required (IP address or name of the RCG2+ gateway)"
            )
        self._client: ModbusTcpClient | None = None
        self._io = threading.RLock()  # pymodbus's sync client is not thread-safe
        self._holding: dict[int, int] = {}
        self._fault: bool | None = None
        self._mode: int | None = None
        self.setPerpetualTimer(self._poll, samplerate=s["samplerate"])
        self.start()

    # -- read-only parameters ---------------------------------------------------------------
    @property
    def operating_mode_name(self) -> str:
        """Operating mode as text (off, auto, cooling, summer, continuous, setback, holiday, party)."""
        return mode_name(self._holding.get(100))

    @property
    def external_demand(self) -> bool | None:
        """PV / external power or speed demand enabled (reg 117); set with setCompressorSpeed/setPowerSetpoint."""
        raw = self._holding.get(117)
        return None if raw is None else bool(raw)

    # -- functions ----------------------------------------------------------------------------
    def read(self) -> dict[str, float]:
        """Poll the heat pump once: {signal: value} (missing probes are left out)."""
        return {name: value for name, (value, _unit) in self._read_all().items()}

    def setOperatingMode(self, mode: int | str) -> str:
        """Set the operating mode by number 0-7 or name (off, auto, cooling, summer, continuous, setback, holiday, party)."""
        self._write(100, _mode_number(mode))
        return self.operating_mode_name

    def setReturnSetpoint(self, temp_c: float | None) -> bool:
        """Demand a return temperature in °C (regs 102 + 103 = 1); None hands control back (103 = 0)."""
        if temp_c is None:
            self._write(103, 0)
        else:
            self._write(102, _encode("temp", temp_c, "temp_c"))
            self._write(103, 1)
        return True

    def setCompressorSpeed(self, permille: int | None) -> bool:
        """Demand a compressor speed 0-1000 ‰ (regs 117 = 1 + 126; RCG PV mode Off); None ends it (117 = 0)."""
        if permille is None:
            self._write(117, 0)
            return True
        value = int(permille)
        if not 0 <= value <= 1000:
            raise ValueError(f"compressor speed must be 0-1000 ‰, got {permille!r}")
        self._write(126, value)
        self._write(117, 1)
        return True

    def setPowerSetpoint(self, watts: int | None) -> bool:
        """Demand an electrical input power in W (regs 117 = 1 + 125; RCG PV mode Modbus); None ends it."""
        if watts is None:
            self._write(117, 0)
            return True
        value = int(watts)
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"power setpoint must be 0-65535 W, got {watts!r}")
        self._write(125, value)
        self._write(117, 1)
        return True

    def setExternalDemand(self, on: bool) -> bool:
        """Switch the external demand input (reg 127) on or off."""
        self._write(127, 1 if on else 0)
        return True

    def resetFault(self) -> bool:
        """Acknowledge a heat-pump fault (reg 128 = 1)."""
        self._write(128, 1)
        return True

    def setExternalOutdoorTemp(self, temp_c: float | None) -> bool:
        """Supply the outdoor temperature in °C over Modbus (regs 129 + 130 = 1); None uses the sensor again."""
        return self._supply(129, temp_c)

    def setExternalBufferTemp(self, temp_c: float | None) -> bool:
        """Supply the buffer tank temperature in °C over Modbus (regs 131 + 132 = 1); None uses the sensor."""
        return self._supply(131, temp_c)

    def setExternalHotWaterTemp(self, temp_c: float | None) -> bool:
        """Supply the hot water temperature in °C over Modbus (regs 133 + 134 = 1); None uses the sensor."""
        return self._supply(133, temp_c)

    def _supply(self, reg: int, temp_c: float | None) -> bool:
        if temp_c is None:
            self._write(reg + 1, 0)
        else:
            self._write(reg, _encode("temp", temp_c, "temp_c"))
            self._write(reg + 1, 1)
        return True

    # -- Modbus I/O ----------------------------------------------------------------------------
    def _where(self) -> str:
        s = self.settings
        return f"Heliotherm RCG2+ at {s['host']}:{s['port']} (unit {s['unit_id']})"

    def _connect(self) -> ModbusTcpClient:
        if self._client is not None and self._client.connected:
            return self._client
        self._drop()
        s = self.settings
        # retries=0: the poll itself is the retry, with the base class's back-off
        client = ModbusTcpClient(s["host"], port=s["port"], timeout=s["timeout"], retries=0)
        if not client.connect():
            client.close()
            raise HeliothermError(
                f"cannot connect to {self._where()}: refused or timed out (is Modbus TCP enabled in the RCG2+ web UI?)"
            )
        self._client = client
        return client

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one request; any transport failure drops the connection and raises HeliothermError."""
        client = self._connect()
        try:
            response = getattr(client, fn)(*args, device_id=self.settings["unit_id"], **kwargs)
        except ModbusException as exc:
            self._drop()
            text = str(exc).replace("Modbus Error: ", "")
            if isinstance(exc, ConnectionException):
                text = "connection lost"
            elif "No response" in text:
                text = f"no valid answer within {self.settings['timeout']:g} s"
            raise HeliothermError(f"{self._where()}: {what}: {text}") from exc
        except OSError as exc:
            self._drop()
            raise HeliothermError(f"{self._where()}: {what}: {exc}") from exc
        if response.isError():
            code = getattr(response, "exception_code", None)
            hint = " (check devices.Heliotherm.unit_id)" if code in (10, 11) else ""
            raise HeliothermError(
                f"{self._where()}: {what}: Modbus exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')}){hint}"
            )
        return response

    def _registers(self, fn: str, first: int, count: int) -> list[int]:
        response = self._call(
            f"reading registers {first}-{first + count - 1}", fn, first, count=count
        )
        regs = list(response.registers)
        if len(regs) != count:  # pymodbus checks the frame, not that we got what we asked for
            self._drop()
            raise HeliothermError(
                f"{self._where()}: asked for {count} registers from {first}, got {len(regs)}"
            )
        return regs

    def _write(self, reg: int, raw: int) -> None:
        with self._io:
            self._call(f"writing {raw} to register {reg}", "write_register", reg, raw & 0xFFFF)
            if HOLDING_FIRST <= reg < HOLDING_FIRST + HOLDING_COUNT:
                self._holding[reg] = raw & 0xFFFF
        self.info(f"register {reg} set to {raw}")

    def _read_all(self) -> dict[str, tuple[float, str]]:
        with self._io:
            base = self._registers("read_input_registers", 10, 32)
            energy = self._registers("read_input_registers", 60, 16)
            holding = self._registers("read_holding_registers", HOLDING_FIRST, HOLDING_COUNT)
        out: dict[str, tuple[float, str]] = {}
        for reg, (name, unit, scale) in INPUT_INT16.items():
            raw = _s16(base[reg - 10])
            if scale is None:
                out[name] = (1.0 if raw else 0.0, unit)
            elif not (unit == "°C" and raw == MISSING):
                out[name] = (round(raw * scale, 3), unit)
        for reg, (name, unit, scale) in INPUT_UINT32.items():
            i = reg - 60
            (value,) = struct.unpack(
                ">I", struct.pack(">HH", energy[i], energy[i + 1])
            )  # high word first
            out[name] = (value * scale, unit)
        self._holding = {HOLDING_FIRST + i: v for i, v in enumerate(holding)}
        out["OperatingMode"] = (float(holding[0]), "")
        return out

    def _poll(self) -> None:
        values = self._read_all()
        names = list(values)
        self.stream([values[n][0] for n in names], names, unit=[values[n][1] for n in names])
        self._state_events(values)

    def _state_events(self, values: dict[str, tuple[float, str]]) -> None:
        """Events when the fault flag or the operating mode change (not for the first reading)."""
        fault = bool(values["Fault"][0])
        if self._fault is not None and fault != self._fault:
            if fault:
                self.event(
                    f"{self._devicename}: heat pump reports a fault",
                    sname="Fault",
                    priority=2,
                    id="heliothermFault",
                    value=1,
                )
            else:
                self.event(
                    f"{self._devicename}: fault cleared",
                    sname="Fault",
                    priority=0,
                    id="heliothermFaultCleared",
                    value=0,
                )
        self._fault = fault
        mode = int(values["OperatingMode"][0])
        if self._mode is not None and mode != self._mode:
            self.event(
                f"{self._devicename}: operating mode {mode_name(mode)}",
                sname="OperatingMode",
                priority=0,
                id="heliothermMode",
                value=mode,
            )
        self._mode = mode

    def close(self) -> None:
        """Stop polling and close the Modbus connection."""
        super().close()
        with self._io:
            self._drop()
