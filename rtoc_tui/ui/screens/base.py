"""The base of rtoc's full screens: marks when a screen may receive state updates."""

from __future__ import annotations

from textual.screen import Screen


class RtocScreen(Screen[None]):
    """A screen the app hands `apply_state` / `apply_tui_settings` once it is mounted."""

    ready = False

    def on_mount(self) -> None:
        # Textual runs on_mount of every class in the MRO, most derived first, so this runs
        # after the subclass has composed and set itself up.
        self.ready = True
