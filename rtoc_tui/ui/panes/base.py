"""What the main screen's panes share."""

from __future__ import annotations

from textual.containers import Vertical


class Pane(Vertical):
    """A bordered pane with a title and a status line in its bottom border."""

    _subtitle_text: str | None = None

    def set_subtitle(self, text: str) -> None:
        """Show text in the bottom border. Setting border_subtitle repaints the whole pane
        even when the text is the same, and panes update theirs on every poll or frame."""
        if text != self._subtitle_text:
            self._subtitle_text = text
            self.border_subtitle = text
