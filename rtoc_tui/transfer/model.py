"""What a file held, once read: signals (x, y arrays), events, scripts and settings.

Imports no part of the logger, so the readers and the UI can use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class ImportedSignal:
    """One signal read from a file."""

    dname: str
    sname: str
    unit: str
    x: np.ndarray
    y: np.ndarray

    @property
    def name(self) -> str:
        return f"{self.dname}.{self.sname}"


@dataclass
class ImportedEvent:
    x: float
    text: str
    dname: str = ""
    sname: str = ""
    priority: int = 0
    id: str = ""
    value: Any = None


@dataclass
class Imported:
    """Everything a file held."""

    signals: list[ImportedSignal] = field(default_factory=list)
    events: list[ImportedEvent] = field(default_factory=list)
    scripts: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    source_format: str = ""
    notes: list[str] = field(default_factory=list)  # skipped rows, variables left out, ...

    @property
    def samples(self) -> int:
        return sum(len(s.x) for s in self.signals)


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    signals: int
    samples: int
    events: int
    scripts: tuple[str, ...] = ()
    settings_applied: bool = False
    dropped: int = 0  # samples that did not fit in memory and had no store to go to
    stored: tuple[tuple[str, int], ...] = ()  # samples of each signal now in the logger or store


class ImportIncomplete(RuntimeError):
    """An import failed part way; `stored` says exactly what did arrive (signal, samples)."""

    def __init__(self, message: str, stored: list[tuple[str, int]]) -> None:
        done = ", ".join(f"{n}: {k:,} samples" for n, k in stored if k) or "nothing"
        super().__init__(f"{message}; stored before the failure: {done}")
        self.stored = tuple(stored)


def validate(data: Imported) -> None:
    """Refuse data a logger cannot take before any of it is stored (an import is one piece)."""
    for s in data.signals:
        if not s.dname or not s.sname:
            raise ValueError(f"signal name {s.name!r} is not Device.Signal")
        if len(s.x) != len(s.y):
            raise ValueError(f"{s.name}: {len(s.x)} x values but {len(s.y)} y values")
        if len(s.x) and not np.isfinite(s.x).all():
            raise ValueError(f"{s.name}: x values must be finite numbers")
    names = [s.name for s in data.signals]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"several signals are named {', '.join(dupes)}")
