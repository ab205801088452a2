"""System: CPU per core, memory, swap, disk, network and temperatures of this machine (psutil)."""

from __future__ import annotations

import time
from typing import Any

import psutil

from rtoc_tui.core.plugin import LoggerPlugin
from rtoc_tui.core.settings import Setting


class System(LoggerPlugin):
    """This machine's CPU, memory, swap, disk, network and temperature readings."""

    SETTINGS = {
        "samplerate": Setting(1.0, "Readings per second", minimum=1e-6, maximum=100.0),
        "disk": Setting("/", "Mount point whose usage is reported"),
        "per_core": Setting(True, "Report CPU load per core (else only the total)"),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setDeviceName("System")
        self.disk: str = self.settings["disk"]
        self.per_core: bool = self.settings["per_core"]
        self.__doc_disk__ = "Mount point whose usage is reported"
        self.__doc_per_core__ = "Report CPU load per core (else only the total)"
        self._net_last: tuple[float, int, int] | None = None
        psutil.cpu_percent(percpu=True)  # the first call only primes the counters
        self.setPerpetualTimer(self._sample, samplerate=self.settings["samplerate"])
        self.start()

    def read(self) -> dict[str, tuple[float, str]]:
        """One set of readings: {signal name: (value, unit)}."""
        out: dict[str, tuple[float, str]] = {}
        cores = psutil.cpu_percent(percpu=True)
        out["CPU"] = (sum(cores) / len(cores) if cores else 0.0, "%")
        if self.per_core:
            for i, c in enumerate(cores):
                out[f"CPU{i}"] = (float(c), "%")
        vm = psutil.virtual_memory()
        out["Memory"] = (float(vm.percent), "%")
        out["MemoryUsed"] = (vm.used / 2**20, "MiB")
        out["Swap"] = (float(psutil.swap_memory().percent), "%")
        try:
            out["Disk"] = (float(psutil.disk_usage(self.disk).percent), "%")
        except OSError as exc:
            self.warning(f"disk {self.disk}: {exc}")
        now = time.monotonic()
        net = psutil.net_io_counters()
        if net is not None:
            if self._net_last is not None:
                t0, s0, r0 = self._net_last
                dt = max(now - t0, 1e-6)
                out["NetSent"] = ((net.bytes_sent - s0) / dt / 1024, "KiB/s")
                out["NetRecv"] = ((net.bytes_recv - r0) / dt / 1024, "KiB/s")
            self._net_last = (now, net.bytes_sent, net.bytes_recv)
        temps: dict[str, Any] = {}
        if hasattr(psutil, "sensors_temperatures"):
            try:
                temps = psutil.sensors_temperatures() or {}
            except (OSError, RuntimeError):
                temps = {}
        for chip, entries in temps.items():
            for j, entry in enumerate(entries):
                label = entry.label or f"{chip}{j}"
                out[f"Temp_{label}".replace(" ", "_")] = (float(entry.current), "°C")
        return out

    def _sample(self) -> None:
        readings = self.read()
        self.stream(
            [v for v, _ in readings.values()],
            list(readings.keys()),
            unit=[u for _, u in readings.values()],
        )
