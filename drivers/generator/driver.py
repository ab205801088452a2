"""Generator: RTOC's function generator, with RTOC's parameter and function names.

Streams one signal named after its waveform (Square by default, sampled at 10 Hz):
Square, Sinus, Sawtooth, Random, AC or DC. Its parameters (gen_freq, gen_level, offset, phase,
exampleString, exampleBoolean, test, samplerate) and functions (setFrequency, changeType,
changeExampleString, setColor, setAlphaColor) are RTOC's Generator's, so RTOC scripts, global
events and actions such as `Generator.Square.latest >= 2` and `Generator.gen_level = 1` work
unchanged.
Set `seed` (config devices.Generator.seed) for a repeatable Random waveform.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from rtoc_tui.core.plugin import LoggerPlugin
from rtoc_tui.core.settings import Setting

WAVEFORMS = ("Square", "Sinus", "Sawtooth", "Random", "AC", "DC")


class Generator(LoggerPlugin):
    """Function generator: square, sine, sawtooth, random, AC and DC signals."""

    SETTINGS = {
        "samplerate": Setting(10.0, "Samples per second", minimum=1e-6, maximum=100_000),
        "waveform": Setting("Square", "Waveform: " + ", ".join(WAVEFORMS), choices=WAVEFORMS),
        "gen_freq": Setting(1.0, "Frequency of the waveform in Hz", minimum=0.0),
        "gen_level": Setting(1.0, "Amplitude (gain) of the waveform"),
        "offset": Setting(1.0, "Y offset added to the waveform"),
        "phase": Setting(1.0, "Phase of the waveform in radians"),
        "seed": Setting(
            None, "Seed of the Random waveform (empty: a different sequence each run)", type=int
        ),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setDeviceName("Generator")
        s = self.settings
        self.gen_freq: float = s["gen_freq"]
        self.gen_level: float = s["gen_level"]
        self.offset: float = s["offset"]
        self.phase: float = s["phase"]
        self._waveform: str = s["waveform"]
        self._rng = np.random.default_rng(s["seed"])
        self._clock = getattr(self._host, "clock", time.time)
        self._t0 = self._clock()
        self.__doc_gen_freq__ = "Frequency of the waveform in Hz"
        self.__doc_gen_level__ = "Amplitude (gain) of the waveform"
        self.__doc_offset__ = "Y offset added to the waveform"
        self.__doc_phase__ = "Phase of the waveform in radians"
        # RTOC's Generator also carries these example members; global events, actions and
        # scripts written against it use them (`Generator.exampleString = "..."`).
        self.exampleString: str = "Hello"
        self.exampleBoolean: bool = True
        self.__doc_exampleString__ = "Example text parameter (RTOC's Generator)"
        self.__doc_exampleBoolean__ = "Example boolean parameter (RTOC's Generator)"
        self._test = 2
        self.setPerpetualTimer(self._sample, samplerate=s["samplerate"])
        self.start()

    @property
    def waveform(self) -> str:
        """Waveform streamed: Square, Sinus, Sawtooth, Random, AC or DC."""
        return self._waveform

    @waveform.setter
    def waveform(self, value: str) -> None:
        if value not in WAVEFORMS:
            raise ValueError(f"waveform must be one of {', '.join(WAVEFORMS)}, not {value!r}")
        self._waveform = value

    @property
    def test(self) -> Any:
        """Example property parameter (RTOC's Generator)."""
        return self._test

    @test.setter
    def test(self, value: Any) -> None:
        self._test = value

    def changeExampleString(self, name: str) -> None:
        """Set exampleString (RTOC's Generator example function)."""
        self.exampleString = str(name)

    def setAlphaColor(
        self, red: int = 0, green: int = 255, blue: int = 0, alpha: int = 255
    ) -> None:
        """Set a colour, each part 0-255 (RTOC's Generator example function; it logs it)."""
        self.info(f"R: {red}, G: {green}, B: {blue}, A: {alpha}")

    def setColor(self, red: int = 0, green: int = 255, blue: int = 0) -> None:
        """Set a colour, each part 0-255 (RTOC's Generator example function; it logs it)."""
        self.info(f"R: {red}, G: {green}, B: {blue}")

    def setFrequency(self, freq: float, inverse: bool = False) -> bool:
        """Set the frequency in Hz (with inverse=True, freq is a period in s)."""
        if isinstance(freq, bool) or not isinstance(freq, (int, float)) or freq <= 0:
            self.warning(f"Generator: frequency must be a positive number, not {freq!r}")
            return False
        self.gen_freq = 1.0 / freq if inverse else float(freq)
        return True

    def changeType(self, stype: str = "Square") -> bool:
        """Change the waveform: Square, Sawtooth, Random, Sinus, AC or DC."""
        if stype not in WAVEFORMS:
            self.warning(f"Generator: unknown waveform {stype!r}")
            return False
        self._waveform = stype
        return True

    def value_at(self, t: float) -> float:
        """The waveform's value at time t (Random draws a new value)."""
        lvl, off, f = float(self.gen_level), float(self.offset), float(self.gen_freq)
        frac = ((t - self._t0) * f + self.phase / (2 * math.pi)) % 1.0
        w = self._waveform
        if w == "Square":
            return off + (lvl if frac >= 0.5 else 0.0)
        if w == "Sinus":
            return lvl * math.sin(2 * math.pi * f * (t - self._t0) + self.phase) + off
        if w == "Sawtooth":
            return lvl * frac + off
        if w == "Random":
            return float(self._rng.uniform(0.0, lvl)) + off if lvl > 0 else off
        if w == "AC":
            return (lvl + off) if frac >= 0.5 else (-lvl - off)
        return lvl + off  # DC

    def _sample(self) -> None:
        t = self._clock()
        self.stream(self.value_at(t), self._waveform, x=t, unit="")
