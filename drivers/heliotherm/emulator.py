"""Heliotherm heat pump emulator: an RCG2+ gateway speaking Modbus TCP (MBAP frames).

Register map per shared/protocols/heliotherm.md: input registers 10-45 and 60-75 (FC 04, FC 03
accepted too), writable holding registers 100-117 and 125-134 (FC 06 / FC 16, read back with
FC 03). A small thermal model makes the values move plausibly: the compressor cycles around the
return-temperature target, energy meters count up, the operating mode and setpoints written over
Modbus take effect. Register 31 (fresh water) reads -50.0 degC like an unconnected probe.

Test controls: `unplug()` closes the port and every connection, `replug()` listens again on the
same port; `hang = True` accepts requests but never answers; `garbage = True` answers with bytes
that are no Modbus frame.

Standalone: `python -m rtoc_tui.drivers.heliotherm.emulator [--port 5020]`; type unplug,
replug, hang, garbage, fault, ok or quit on stdin.
"""

from __future__ import annotations

import argparse
import math
import random
import socketserver
import struct
import sys
import time
from typing import Any

from ..emulation.loopback import LoopbackServer

INPUT_RANGES = ((10, 45), (60, 75))
HOLDING_RANGES = ((100, 134),)
UNDOCUMENTED = range(118, 125)  # registers 118-124 are not in the manufacturer's map
MODE_REGISTERS = (100, 107, 112)  # operating modes: 0 off ... 7 party
MAX_READ = 125  # Modbus limit for registers per read

ILLEGAL_FUNCTION, ILLEGAL_ADDRESS, ILLEGAL_VALUE, GATEWAY_TARGET = 0x01, 0x02, 0x03, 0x0B


def _in(addr: int, count: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= addr and addr + count - 1 <= hi for lo, hi in ranges)


class HeatPumpModel:
    """Register values of a running heat pump, advanced in time on every request."""

    def __init__(self, seed: int = 1) -> None:
        self._rng = random.Random(seed)
        self.t0 = time.monotonic()
        self.last = self.t0
        self.fault = False
        self.holding: dict[int, int] = dict.fromkeys(range(100, 135), 0)
        self.holding.update(
            {
                100: 1,
                101: 200,
                102: 300,
                103: 0,
                104: 180,
                105: 500,
                106: 420,
                107: 1,
                108: 210,
                109: 350,
            }
        )
        self.holding.update({111: 180, 112: 0, 113: 200, 114: 300, 116: 180})
        self.return_c = 28.0
        self.dhw_c = 48.0
        self.compressor = False
        self.energy_wh = {
            "heat_heating": 12_345_000.0,
            "elec_heating": 3_100_000.0,
            "heat_dhw": 2_500_000.0,
            "elec_dhw": 800_000.0,
        }

    def s16(self, reg: int) -> int:
        v = self.holding[reg]
        return v - 0x10000 if v & 0x8000 else v

    def outdoor_c(self) -> float:
        if self.holding[130]:
            return self.s16(129) / 10
        return 5.0 + 6.0 * math.sin(
            (time.monotonic() - self.t0) * 2 * math.pi / 600
        )  # 10-min "day"

    def target_c(self) -> float:
        if self.holding[103]:
            return self.s16(102) / 10
        return max(20.0, min(45.0, 35.0 - 0.6 * self.outdoor_c()))  # heating curve

    def step(self) -> None:
        """Advance the thermal model to now."""
        now = time.monotonic()
        dt, self.last = min(now - self.last, 60.0), now
        mode = self.holding[100]
        heating_allowed = mode in (1, 4, 5, 6, 7) and not self.fault
        target = self.target_c()
        if not heating_allowed:
            self.compressor = False
        elif self.return_c < target - 2:
            self.compressor = True
        elif self.return_c > target + 2:
            self.compressor = False
        self.return_c += (0.05 if self.compressor else -0.02) * dt
        self.dhw_c -= 0.002 * dt
        if self.dhw_c < self.s16(106) / 10:
            self.dhw_c = self.s16(105) / 10
        if self.compressor:
            self.energy_wh["elec_heating"] += 1500 * dt / 3600
            self.energy_wh["heat_heating"] += 6000 * dt / 3600

    def input_registers(self) -> dict[int, int]:
        """The current read-register values (signed values as 16-bit words)."""
        self.step()
        on = self.compressor
        out = self.outdoor_c()
        flow = self.return_c + (5.0 if on else 0.5)
        noise = self._rng.uniform(-0.05, 0.05)
        regs: dict[int, float | int] = {
            10: out * 10,
            11: self.dhw_c * 10,
            12: flow * 10,
            13: self.return_c * 10,
            14: (self.return_c + 1.0) * 10,
            15: (8.0 + noise) * 10,
            16: (5.0 if on else 7.5) * 10,
            17: (2.0 if on else 10.0) * 10,
            18: (-2.0 if on else 8.0) * 10,
            19: (flow + 3.0) * 10,
            20: (75.0 if on else 30.0) * 10,
            21: 80 if on else 95,  # 0.1 bar
            22: 250 if on else 100,
            23: 1 if self.holding[100] else 0,
            24: int(on),
            25: int(on),
            26: int(self.fault),
            27: 0,
            28: 12000 if on else 0,  # 0.1 l/h
            29: 650 if on else 0,  # per mille
            30: 40 if on else 0,  # COP x10
            31: -500,  # no fresh-water probe fitted: reads -50.0 degC
            32: 0,
            33: (out - 0.5) * 10,
            34: self.target_c() * 10,
            35: self.s16(109) if self.holding[110] else 350,
            36: 300,
            37: int(on),
            38: 0,
            39: 0,
            40: 350 if on else 0,
            41: 20 if on else 0,
        }
        words = {k: int(round(v)) & 0xFFFF for k, v in regs.items()}
        e = self.energy_wh
        u32 = {
            42: 1520,  # operating hours DHW
            44: 8730,  # operating hours heating
            60: e["heat_heating"] / 1000,
            62: e["elec_heating"] / 1000,
            64: e["heat_dhw"] / 1000,
            66: e["elec_dhw"] / 1000,
            68: (e["elec_heating"] + e["elec_dhw"]) / 1000,
            70: 1500 if on else 0,  # W
            72: (e["heat_heating"] + e["heat_dhw"]) / 1000,
            74: 6 if on else 0,  # kW (PDF scaling)
        }
        for reg, value in u32.items():
            v = int(value) & 0xFFFFFFFF
            words[reg], words[reg + 1] = v >> 16, v & 0xFFFF  # high word first
        return words

    def write(self, reg: int, value: int) -> int | None:
        """Apply a holding-register write; returns a Modbus exception code or None."""
        if reg in UNDOCUMENTED or not 100 <= reg <= 134:
            return ILLEGAL_ADDRESS
        if reg in MODE_REGISTERS and value > 7:
            return ILLEGAL_VALUE  # 8-10 are read-only informational states
        self.step()
        self.holding[reg] = value
        if reg == 128 and value:
            self.fault = False  # fault reset (Entstoeren)
        return None


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def setup(self) -> None:
        self.server.emulator._track(self.request, True)

    def finish(self) -> None:
        self.server.emulator._track(self.request, False)

    def _recv_exact(self, n: int) -> bytes | None:
        buf = b""
        while len(buf) < n:
            try:
                chunk = self.request.recv(n - len(buf))
            except OSError:
                return None
            if not chunk:
                return None
            buf += chunk
        return buf

    def handle(self) -> None:
        emu = self.server.emulator
        while True:
            header = self._recv_exact(7)
            if header is None:
                return
            tid, proto, length, unit = struct.unpack(">HHHB", header)
            if proto != 0 or not 2 <= length <= 254:
                return  # not Modbus TCP: drop the connection like a real server
            pdu = self._recv_exact(length - 1)
            if pdu is None:
                return
            if emu.hang:
                continue  # stop answering, keep the connection open
            if emu.garbage:
                reply = bytes(emu.rng.randrange(256) for _ in range(emu.rng.randrange(3, 20)))
            else:
                reply = header[:4] + _frame_rest(unit, emu.handle_pdu(unit, pdu))
            try:
                self.request.sendall(reply)
            except OSError:
                return


def _frame_rest(unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HB", len(pdu) + 1, unit) + pdu


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, addr: tuple[str, int], emulator: HeliothermEmulator) -> None:
        self.emulator = emulator
        super().__init__(addr, _Handler)


class HeliothermEmulator(LoopbackServer):
    """A Modbus TCP server on 127.0.0.1 with the RCG2+ register map (use as a context manager)."""

    server_class = _Server
    thread_name = "heliotherm-emu"

    def __init__(self, port: int = 0, unit_id: int = 1, seed: int = 1) -> None:
        super().__init__(port)
        self.unit_id = unit_id
        self.model = HeatPumpModel(seed)
        self.rng = random.Random(seed)
        self.hang = False
        self.garbage = False
        self.requests: list[tuple[int, int, int]] = []  # (function, address, count or value)
        self.writes: list[tuple[int, int]] = []  # (register, value)

    # -- Modbus ---------------------------------------------------------------------------------
    def handle_pdu(self, unit: int, pdu: bytes) -> bytes:
        """The response PDU (function code + data, or an exception response) for a request PDU."""
        fc = pdu[0] if pdu else 0
        with self.lock:
            if unit != self.unit_id:
                return bytes([fc | 0x80, GATEWAY_TARGET])
            try:
                return self._dispatch(fc, pdu[1:])
            except struct.error:
                return bytes([fc | 0x80, ILLEGAL_VALUE])

    def _dispatch(self, fc: int, data: bytes) -> bytes:
        def exc(code: int) -> bytes:
            return bytes([fc | 0x80, code])

        if fc in (0x03, 0x04):
            addr, count = struct.unpack(">HH", data[:4])
            self.requests.append((fc, addr, count))
            if not 1 <= count <= MAX_READ:
                return exc(ILLEGAL_VALUE)
            ranges = INPUT_RANGES if fc == 0x04 else INPUT_RANGES + HOLDING_RANGES
            if not _in(addr, count, ranges):
                return exc(ILLEGAL_ADDRESS)
            values = self.model.input_registers() if addr < 100 else self.model.holding
            words = [values.get(a, 0) for a in range(addr, addr + count)]
            return struct.pack(f">BB{count}H", fc, 2 * count, *words)
        if fc == 0x06:
            addr, value = struct.unpack(">HH", data[:4])
            self.requests.append((fc, addr, value))
            err = self.model.write(addr, value)
            if err is not None:
                return exc(err)
            self.writes.append((addr, value))
            return bytes([fc]) + data[:4]  # echo
        if fc == 0x10:
            addr, count, nbytes = struct.unpack(">HHB", data[:5])
            self.requests.append((fc, addr, count))
            if not 1 <= count <= 123 or nbytes != 2 * count or len(data) < 5 + nbytes:
                return exc(ILLEGAL_VALUE)
            if not _in(addr, count, HOLDING_RANGES):
                return exc(ILLEGAL_ADDRESS)
            values = struct.unpack(f">{count}H", data[5 : 5 + nbytes])
            for i, v in enumerate(values):
                err = self.model.write(addr + i, v)
                if err is not None:
                    return exc(err)
                self.writes.append((addr + i, v))
            return struct.pack(">BHH", fc, addr, count)
        self.requests.append((fc, -1, -1))
        return exc(ILLEGAL_FUNCTION)

    # -- convenience for tests ------------------------------------------------------------------
    def holding(self, reg: int) -> int:
        """The raw value of a holding register."""
        with self.lock:
            return self.model.holding[reg]

    def set_fault(self, on: bool = True) -> None:
        """Simulate a heat-pump fault (register 26) until reset over Modbus (register 128)."""
        with self.lock:
            self.model.fault = on

    def set_input(self, **changes: Any) -> None:
        """Adjust the model (return_c, dhw_c, compressor) for tests."""
        with self.lock:
            for k, v in changes.items():
                setattr(self.model, k, v)


def main(argv: list[str] | None = None) -> None:
    """Run the emulator until stdin closes or `quit` is typed."""
    ap = argparse.ArgumentParser(
        description="Heliotherm RCG2+ Modbus TCP emulator (127.0.0.1 only)"
    )
    ap.add_argument(
        "--port", type=int, default=5020, help="TCP port (502 needs root; 0 = any free port)"
    )
    ap.add_argument("--unit-id", type=int, default=1)
    args = ap.parse_args(argv)
    emu = HeliothermEmulator(args.port, args.unit_id).start()
    print(
        f"Heliotherm emulator (Modbus TCP, unit {emu.unit_id}) listening on {emu.host}:{emu.port}",
        flush=True,
    )
    print("commands: unplug, replug, hang, garbage, fault, ok, quit", flush=True)
    try:
        for line in sys.stdin:
            cmd = line.strip().lower()
            if cmd == "quit":
                break
            if cmd == "unplug":
                emu.unplug()
            elif cmd == "replug":
                emu.replug()
            elif cmd in ("hang", "garbage"):
                setattr(emu, cmd, not getattr(emu, cmd))
            elif cmd == "fault":
                emu.set_fault(True)
            elif cmd == "ok":
                emu.hang = emu.garbage = False
                emu.set_fault(False)
            elif cmd:
                print(f"unknown command {cmd!r}", flush=True)
                continue
            print(
                f"running={emu.running} hang={emu.hang} garbage={emu.garbage} fault={emu.model.fault}",
                flush=True,
            )
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
