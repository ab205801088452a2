"""Type-to-filter for a pane's list widget: filter keys are taken before any binding.

A terminal delivers a fast typist's keys (or a paste) as one burst. Moving focus to the filter
box is deferred by Textual, so a burst such as `/cpa` used to reach the list widget: the
letters were dropped, or fired the pane's bindings (`c` cleared a signal, `p` paused the plot).
Here the list widget itself feeds the filter box while the user types, so nothing is lost and
no action fires; focus stays on the list (arrows still move through the matches).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events
from textual.message import Message
from textual.widgets import Input

if TYPE_CHECKING:
    from textual.widget import Widget

    _Base = Widget
else:
    # A plain mixin at run time: as a Widget subclass placed before DataTable or Tree in the
    # bases, it hid their COMPONENT_CLASSES from Textual.
    _Base = object


class FilterKeys(_Base):
    """Mixin for the focusable list of a pane with a filter Input (DataTable, Tree).

    While typing: printable keys (and space) extend the filter, backspace shortens it, enter
    accepts it (typing ends, the filter stays), escape clears it (a second escape hides the
    box); `/` while typing changes nothing. `/` starts typing; with `FILTER_ON_PRINTABLE` so does any printable key that is no
    binding. A key the list does not take in typing mode (arrows, page keys) works as usual.
    """

    FILTER_BOX_ID = ""  # id of the pane's filter Input
    FILTER_ON_PRINTABLE = False

    class FilterAccepted(Message):
        """Enter ended typing; the filter stays (the pane may move to the first match)."""

    typing = False

    def filter_box(self) -> Input:
        assert self.parent is not None
        return self.parent.query_one(f"#{self.FILTER_BOX_ID}", Input)

    def start_typing(self) -> None:
        """Show the filter box and send the next keys to it."""
        self.typing = True
        self.filter_box().display = True

    def _set_filter(self, text: str) -> None:
        box = self.filter_box()
        box.value = text
        box.cursor_position = len(text)

    def take_filter_key(self, event: events.Key) -> bool:
        """Handle event as a filter key; True when it was one (the caller stops it)."""
        key, char = event.key, event.character
        box = self.filter_box()
        if not self.typing:
            starts = key == "slash" or (
                self.FILTER_ON_PRINTABLE
                and char is not None
                and char.isprintable()
                and not char.isspace()
                and key not in self.app.active_bindings
            )
            if not starts:
                return False
            self.start_typing()
            if key != "slash":
                self._set_filter(box.value + char)  # type: ignore[operator]
            return True
        if key == "enter":
            self.typing = False
            self.post_message(self.FilterAccepted())
        elif key == "escape":
            if box.value:
                self._set_filter("")
            else:
                self.typing = False
                box.display = False
        elif key == "backspace":
            self._set_filter(box.value[:-1])
        elif key == "slash":
            pass  # `/` opens the filter; pressed again while typing it changes nothing
        elif char is not None and char.isprintable():
            self._set_filter(box.value + char)
        else:
            return False
        return True

    async def _on_key(self, event: events.Key) -> None:
        if self.take_filter_key(event):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    def _on_blur(self, event: events.Blur) -> None:
        self.typing = False
        super()._on_blur(event)
