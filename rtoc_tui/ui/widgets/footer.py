"""A footer that never cuts a key in half: as many whole keys as fit, in their order, and
always Help and the command palette (at 80 columns the main screen's keys need ~110)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Resize
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# Kept when the keys do not fit: `?` lists every key, ctrl+p finds every action.
ESSENTIAL_ACTIONS = frozenset({"help", "app.help", "command_palette", "app.command_palette"})


def key_width(key: FooterKey) -> int:
    """Cells a compact footer key takes: ' key description ' (a key only: ' key ')."""
    return len(key.key_display) + (len(key.description) + 1 if key.description else 0) + 2


class FittingFooter(Footer):
    """Textual's Footer, without the keys that would be cut (Help and palette always stay)."""

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._narrow: bool | None = None

    def compose(self) -> ComposeResult:
        keys = self._ordered([k for k in super().compose() if isinstance(k, FooterKey)])
        width = self.size.width or self.app.size.width
        self._narrow = sum(key_width(k) for k in keys) > width
        if self._narrow:
            room = width - sum(key_width(k) for k in keys if k.action in ESSENTIAL_ACTIONS)
            kept = []
            for k in keys:
                if k.action in ESSENTIAL_ACTIONS:
                    kept.append(k)
                elif key_width(k) <= room:
                    kept.append(k)
                    room -= key_width(k)
                else:
                    room = 0  # keep the order: no later, shorter key jumps ahead
            keys = kept
        self.styles.grid_size_columns = len(keys)
        yield from keys

    def _ordered(self, keys: list[FooterKey]) -> list[FooterKey]:
        """The focused widget's keys first, then the screen's and the app's in the order their
        BINDINGS list them, each shown with its first key (`f8` for "f8,ctrl+k", as the docs
        say). Textual's own order follows the bindings map, which a focused TextArea reorders."""
        first: dict[str, tuple[int, str]] = {}
        for binding in [*self.screen.BINDINGS, *self.app.BINDINGS]:
            if isinstance(binding, Binding) and binding.action not in first:
                first[binding.action] = (len(first), binding.key.split(",")[0].strip())
        for k in keys:
            if k.action in first:
                key = first[k.action][1]
                k.key, k.key_display = key, self.app.get_key_display(Binding(key, k.action))
        return sorted(keys, key=lambda k: first.get(k.action, (-1, ""))[0])

    def on_resize(self, event: Resize) -> None:
        if self._narrow is None:
            return
        width = event.size.width
        keys = [k for k in self.query(FooterKey)]
        fits = sum(key_width(k) for k in keys) <= width
        # recompose when a narrow footer might now fit all keys, or a full one no longer fits
        if (self._narrow and width > 0) or (not self._narrow and not fits):
            self.call_after_refresh(self.recompose)
