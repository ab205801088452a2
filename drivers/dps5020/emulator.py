"""Emulator of an RDTech DPS power supply: a Modbus RTU slave on a pty.

Register map, scaling, CRC and frame formats follow shared/protocols/dps5020.md (sigrok,
esphome-dps captures): function codes 0x03, 0x06 and 0x10; registers 0x00-0x0C, 0x23 and the
memory groups 0x50+0x10*n .. 0x57+0x10*n. The output follows a resistive load: it regulates the
set voltage (CV) until the load current would exceed the current limit, then the current (CC).
OVP/OCP thresholds of the active group trip the protection (output off).

Assumptions where the protocol notes have gaps (documented in drivers/dps5020/README.md):
unmapped registers and writes to read-only registers answer exception 0x02, out-of-range values
exception 0x03, unknown function codes exception 0x01; OPP is not emulated.

Faults: `fault(kind, count)` corrupts the next answers ("crc", "garbage", "truncate",
"silence"), `mute()` stops answering, `unplug()`/`replug()` remove and restore the port.

Run standalone for a demo (prints the port to configure as devices.DPS5020.port):
    python -m rtoc_tui.drivers.dps5020.emulator [--model 5020] [--load 10] [--link PATH]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import struct
import sys
import threading
import time
from collections import deque

from rtoc_tui.drivers.dps5020.driver import MODELS, DPSModel

from ..emulation.pty_pair import PtyEmulator

FAULTS = ("crc", "garbage", "truncate", "silence")

# read-only registers of the status block
READ_ONLY = {0x02, 0x03, 0x04, 0x05, 0x07, 0x08, 0x0B, 0x0C}
# mirrors: writing one also changes the other (0x00/0x01 and B-LED are group 0's values)
MIRRORS = {0x00: 0x50, 0x50: 0x00, 0x01: 0x51, 0x51: 0x01, 0x0A: 0x55, 0x55: 0x0A}


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS (init 0xFFFF, reflected poly 0xA001)."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(body: bytes) -> bytes:
    """Append the CRC, low byte first."""
    return body + struct.pack("<H", crc16(body))


def is_mapped(addr: int) -> bool:
    """True for the registers the DPS documents."""
    return addr <= 0x0C or addr == 0x23 or (0x50 <= addr <= 0xEF and (addr & 0x0F) <= 0x07)


class DPSEmulator(PtyEmulator):
    """A DPS power supply (any model of the family) on a pty."""

    tick_s = 0.02  # also the inter-frame silence after which a partial request is dropped

    def __init__(
        self,
        link: str | os.PathLike[str] | None = None,
        model: int = 5020,
        address: int = 1,
        load_ohm: float = 10.0,
        input_v: float = 55.0,
        firmware: int = 17,
    ) -> None:
        super().__init__(link)
        if model not in MODELS:
            raise ValueError(f"unknown model {model} (known: {', '.join(map(str, MODELS))})")
        self.model: DPSModel = MODELS[model]
        self.address = address
        self.load_ohm = float(load_ohm)
        self.input_v = float(input_v)
        self._lock = threading.RLock()
        self._regs: dict[int, int] = {a: 0 for a in range(0x100) if is_mapped(a)}
        self._regs[0x0B] = model
        self._regs[0x0C] = firmware
        vs, cs = 10**self.model.v_decimals, 10**self.model.i_decimals
        for n in range(10):
            g = 0x50 + 0x10 * n
            self._regs[g + 0] = 5 * vs  # 5.00 V
            self._regs[g + 1] = 1 * cs  # 1 A
            self._regs[g + 2] = round(self.model.max_v * 1.02 * vs)  # S-OVP
            self._regs[g + 3] = round(self.model.max_i * 1.02 * cs)  # S-OCP
            self._regs[g + 4] = 0  # S-OPP: not emulated (scaling unknown for 15/20 A units)
            self._regs[g + 5] = 4  # B-LED
            self._regs[g + 6] = 1  # M-PRE
            self._regs[g + 7] = 0  # S-INI
        self._regs[0x00], self._regs[0x01] = self._regs[0x50], self._regs[0x51]
        self._regs[0x0A] = self._regs[0x55]
        self._pinned: dict[int, int] = {}
        self._rx = bytearray()
        self._last_rx = 0.0
        self._faults: deque[str] = deque()
        # recent well-formed requests addressed to us, and (register, value) of accepted writes
        self.requests: deque[bytes] = deque(maxlen=1000)
        self.writes: deque[tuple[int, int]] = deque(maxlen=1000)
        self._update_outputs()

    # -- state for tests and demos -------------------------------------------------------------
    def register(self, addr: int) -> int:
        """Current value of a register."""
        with self._lock:
            self._update_outputs()
            return self._regs[addr]

    def set_register(self, addr: int, value: int) -> None:
        """Change a register directly (front panel, power-up state ...)."""
        with self._lock:
            self._store(addr, value)
            self._update_outputs()

    def pin(self, addr: int, value: int | None) -> None:
        """Force a register to a raw value regardless of the load model (None: release it)."""
        with self._lock:
            if value is None:
                self._pinned.pop(addr, None)
            else:
                self._pinned[addr] = value
            self._update_outputs()

    def set_load(self, ohms: float) -> None:
        """Change the resistive load (float('inf') = open output)."""
        with self._lock:
            self.load_ohm = float(ohms)
            self._update_outputs()

    def fault(self, kind: str, count: int = 1) -> None:
        """Corrupt the next `count` answers: crc, garbage, truncate or silence."""
        if kind not in FAULTS:
            raise ValueError(f"fault must be one of {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend([kind] * count)

    # -- load model ----------------------------------------------------------------------------
    def _store(self, addr: int, value: int) -> None:
        self._regs[addr] = value
        mirror = MIRRORS.get(addr)
        if mirror is not None:
            self._regs[mirror] = value

    def _update_outputs(self) -> None:
        m = self.model
        vs, cs = 10**m.v_decimals, 10**m.i_decimals
        r = self._regs
        u = i = 0.0
        cc = False
        if r[0x09]:
            u_set = min(r[0x00] / vs, self.input_v / 1.1)  # needs ~10 % headroom
            i_lim = r[0x01] / cs
            i_cv = u_set / self.load_ohm if self.load_ohm > 0 else float("inf")
            if i_cv <= i_lim:
                u, i = u_set, i_cv
            else:
                cc = True
                i = i_lim
                u = i_lim * self.load_ohm
            if u > r[0x52] / vs or i > r[0x53] / cs:
                r[0x07] = 1 if u > r[0x52] / vs else 2
                r[0x09] = 0
                u = i = 0.0
                cc = False
        r[0x02] = round(u * vs)
        r[0x03] = round(i * cs)
        r[0x04] = round(u * i * 100) % 65536  # 16-bit register wraps (see protocol notes)
        r[0x05] = round(self.input_v * vs)
        r[0x08] = int(cc)
        r.update(self._pinned)

    # -- Modbus RTU slave ----------------------------------------------------------------------
    def _on_data(self, data: bytes) -> None:
        if self.muted:
            return  # not listening: the request is lost
        self._rx += data
        self._last_rx = time.monotonic()
        self._parse()

    def _on_tick(self, now: float) -> None:
        # RTU: silence ends a frame. Only a request of unknown length (an unsupported function
        # code) is still waiting here; answer it if it is intact, drop anything else.
        if self._rx and now - self._last_rx >= self.tick_s:
            frame = bytes(self._rx)
            self._rx.clear()
            if len(frame) >= 4 and crc16(frame[:-2]) == int.from_bytes(frame[-2:], "little"):
                self._handle(frame)

    def _parse(self) -> None:
        while len(self._rx) >= 2:
            fc = self._rx[1]
            if fc in (0x03, 0x06):
                need = 8
            elif fc == 0x10:
                if len(self._rx) < 7:
                    return
                need = 9 + self._rx[6]
            else:
                return  # unknown length: wait for the silence after it (_on_tick)
            if len(self._rx) < need:
                return
            frame = bytes(self._rx[:need])
            if crc16(frame[:-2]) != int.from_bytes(frame[-2:], "little"):
                self._rx.clear()  # a real slave ignores a corrupted frame
                return
            del self._rx[:need]
            self._handle(frame)

    def _handle(self, frame: bytes) -> None:
        addr, fc = frame[0], frame[1]
        if addr not in (0, self.address):
            return
        self.requests.append(frame)
        with self._lock:
            reply = self._execute(fc, frame[2:-2])
            self._update_outputs()
        if addr == 0:
            return  # broadcast: executed, never answered
        self._send(with_crc(bytes([self.address]) + reply))

    def _execute(self, fc: int, pdu: bytes) -> bytes:
        if fc == 0x03:
            start, qty = struct.unpack(">HH", pdu[:4])
            if not 1 <= qty <= 125:
                return bytes([0x83, 0x03])
            if not all(is_mapped(a) for a in range(start, start + qty)):
                return bytes([0x83, 0x02])
            values = [self._regs[a] for a in range(start, start + qty)]
            return bytes([0x03, 2 * qty]) + struct.pack(f">{qty}H", *values)
        if fc == 0x06:
            reg, value = struct.unpack(">HH", pdu[:4])
            err = self._write(reg, value)
            return bytes([0x86, err]) if err else bytes([0x06]) + pdu[:4]
        if fc == 0x10:
            start, qty, nbytes = struct.unpack(">HHB", pdu[:5])
            if not 1 <= qty <= 123 or nbytes != 2 * qty or len(pdu) != 5 + nbytes:
                return bytes([0x90, 0x03])
            values = struct.unpack(f">{qty}H", pdu[5:])
            for k, v in enumerate(values):
                err = self._write(start + k, v)
                if err:
                    return bytes([0x90, err])
            return bytes([0x10]) + pdu[:4]
        return bytes([fc | 0x80, 0x01])

    def _write(self, reg: int, value: int) -> int:
        """Apply one register write; returns a Modbus exception code or 0."""
        if not is_mapped(reg) or reg in READ_ONLY:
            return 0x02
        m = self.model
        limits = {
            0x00: round(m.max_v * 10**m.v_decimals),
            0x01: round(m.max_i * 10**m.i_decimals),
            0x06: 1,
            0x09: 1,
            0x0A: 5,
            0x23: 9,
        }
        group_off = reg & 0x0F if reg >= 0x50 else None
        if group_off is not None:
            limits[reg] = {0: limits[0x00], 1: limits[0x01], 5: 5, 6: 1, 7: 1}.get(
                group_off, 0xFFFF
            )
        if value > limits.get(reg, 0xFFFF):
            return 0x03
        self.writes.append((reg, value))
        if reg == 0x23:
            src = 0x50 + 0x10 * value
            for k in range(8):
                self._store(0x50 + k, self._regs[src + k])
            if self._regs[src + 6] == 0:  # M-PRE 0: loading the preset switches the output off
                self._regs[0x09] = 0
            return 0
        if reg == 0x09 and value == 1:
            self._regs[0x07] = 0  # switching on again clears a tripped protection
        self._store(reg, value)
        return 0

    def _send(self, reply: bytes) -> None:
        with self._lock:
            kind = self._faults.popleft() if self._faults else None
        if kind == "silence":
            return
        if kind == "crc":
            reply = reply[:-1] + bytes([reply[-1] ^ 0xFF])
        elif kind == "garbage":
            reply = bytes(random.getrandbits(8) for _ in range(len(reply)))
        elif kind == "truncate":
            reply = reply[: len(reply) // 2]
        self.port.write(reply)


def main(argv: list[str] | None = None) -> int:
    """Serve a DPS power supply on a pty until Ctrl-C."""
    ap = argparse.ArgumentParser(description="DPS power supply emulator (Modbus RTU on a pty)")
    ap.add_argument("--model", type=int, default=5020, choices=sorted(MODELS))
    ap.add_argument("--address", type=int, default=1, help="Modbus slave address")
    ap.add_argument("--load", type=float, default=10.0, help="resistive load in ohm")
    ap.add_argument("--input", type=float, default=55.0, help="input voltage in V")
    ap.add_argument("--link", help="also serve the port under this stable path (symlink)")
    args = ap.parse_args(argv)
    emu = DPSEmulator(
        link=args.link,
        model=args.model,
        address=args.address,
        load_ohm=args.load,
        input_v=args.input,
    )
    emu.start()
    print(
        f"{emu.model.name} emulator serving {emu.path} ({emu.port.slave_name}), address {args.address}",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
