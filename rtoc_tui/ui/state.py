"""What the UI knows about the logger, refreshed once per tick by the app's poller.

Only plain client dataclasses live here (no sample arrays: the plot fetches its own
decimated windows). Screens read it in `apply_state`, inside one `batch_update`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..api import DeviceInfo, EventInfo, SignalInfo, Status
from ..config.schema import TuiSection

MAX_EVENTS = 5000  # events kept by the UI (the logger keeps its own, larger list)

# Signal colours (RGB): distinct on dark and light backgrounds; a signal keeps its colour
# (chosen by its id) for the whole session, in the tree, the plot and the legend.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (77, 166, 255),
    (255, 159, 64),
    (80, 200, 120),
    (240, 84, 84),
    (186, 130, 255),
    (230, 200, 60),
    (64, 210, 210),
    (255, 120, 200),
    (160, 160, 160),
    (140, 210, 80),
    (120, 140, 255),
    (210, 150, 110),
)

PRIORITY_COLORS: dict[int, tuple[int, int, int]] = {
    0: (77, 166, 255),
    1: (230, 200, 60),
    2: (240, 84, 84),
}


def color_of(sig_id: int) -> tuple[int, int, int]:
    """The colour of a signal, stable for its id."""
    return PALETTE[sig_id % len(PALETTE)]


def rich_color(rgb: tuple[int, int, int]) -> str:
    """An RGB triple as a Rich colour string."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@dataclass
class LoggerState:
    """The newest view of the logger (replaced field by field by the poller)."""

    status: Status | None = None
    devices: tuple[DeviceInfo, ...] = ()
    signals: dict[str, SignalInfo] = field(default_factory=dict)
    events: deque[EventInfo] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    event_cursor: int = 0
    connected: bool = True
    error: str = ""
    polls: int = 0  # completed polls (tests wait on it)


def tui_settings(values: dict[str, Any]) -> TuiSection:
    """TuiSection from `tui.*` config values (unknown or badly typed ones keep defaults)."""
    tui = TuiSection()
    for key, value in values.items():
        section, _, name = key.partition(".")
        if section != "tui" or not hasattr(tui, name):
            continue
        default = getattr(tui, name)
        if isinstance(default, bool):
            if isinstance(value, bool):
                setattr(tui, name, value)
        elif isinstance(default, float):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                setattr(tui, name, float(value))
        elif isinstance(default, type(value)):
            setattr(tui, name, value)
    return tui


ACTIVE_STATES = frozenset({"running", "stuck", "error"})
"""Device states in which start/stop means stop: a driver in error is still retrying (or
failed to start); stopping it is how the user ends that (issue 13)."""


def is_active(state: str) -> bool:
    """Whether start/stop on a device in this state stops it."""
    return state in ACTIVE_STATES
