"""A footer that never cuts a key in half: every key when they fit, else only Help and the
command palette (at 80 columns the main screen's keys need ~110)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.events import Resize
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# Kept when the keys do not fit: `?` lists every key, ctrl+p finds every action.
ESSENTIAL_ACTIONS = frozenset({"help", "app.help", "command_palette", "app.command_palette"})


def key_width(key: FooterKey) -> int:
    """Cells a compact footer key takes: ' key description ' (a key only: ' key ')."""
    return len(key.key_display) + (len(key.description) + 1 if key.description else 0) + 2


class FittingFooter(Footer):
    """Textual's Footer, reduced to the essential keys when the others would be cut."""

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._narrow: bool | None = None

    def compose(self) -> ComposeResult:
        keys = [k for k in super().compose() if isinstance(k, FooterKey)]
        width = self.size.width or self.app.size.width
        self._narrow = sum(key_width(k) for k in keys) > width
        if self._narrow:
            keys = [k for k in keys if k.action in ESSENTIAL_ACTIONS] or keys[:1]
        self.styles.grid_size_columns = len(keys)
        yield from keys

    def on_resize(self, event: Resize) -> None:
        if self._narrow is None:
            return
        width = event.size.width
        keys = [k for k in self.query(FooterKey)]
        fits = sum(key_width(k) for k in keys) <= width
        # recompose when a narrow footer might now fit all keys, or a full one no longer fits
        if (self._narrow and width > 0) or (not self._narrow and not fits):
            self.call_after_refresh(self.recompose)
