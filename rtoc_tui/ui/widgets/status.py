"""The one-line header: logger name, where it runs, connection state and a status summary."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ...api import Status
from ..format import fmt_count, fmt_span, plural


class StatusBar(Static):
    """Header line; updated once per poll, only when its text changes."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $foreground;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self._text: Text | None = None

    def show(
        self,
        host: str,
        remote: bool,
        connected: bool,
        status: Status | None,
        error: str = "",
        web: str = "",
    ) -> None:
        """Render the header from the newest state."""
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" RTOC ", style="bold reverse")
        name = status.name if status is not None else ""
        text.append(f" {name} " if name else " ", style="bold")
        text.append(f"@ {host} " if remote else "(local) ", style="dim" if not remote else "")
        if remote and not connected:
            text.append(
                "○ disconnected" if status is not None else "○ connecting", style="bold red"
            )
            if error:
                # the client's reason often starts with the state itself: say it once
                reason = error.removeprefix("disconnected").lstrip(": ")
                if reason:
                    text.append(f" ({reason})", style="red")
            text.append("  retrying", style="dim")
        elif remote:
            text.append("● connected", style="bold green")
        if status is not None:
            # (priority, text): the lowest priorities go first when the line is too narrow,
            # so the header never ends in a cut word (80 columns over SSH).
            parts: list[tuple[int, str]] = [
                (0, plural(status.devices_running, "device") + " running"),
                (1, plural(status.signals, "signal")),
                (2, f"{status.samples_per_s:,.0f} S/s"),
                (5, f"{fmt_count(status.samples_in_memory)} in memory"),
                (3, plural(status.events, "event")),
                (6, f"up {fmt_span(status.uptime_s)}"),
            ]
            if status.clients:
                parts.append((7, plural(status.clients, "client")))
            if status.storage:
                lag = status.storage_lag_s
                parts.append(
                    (4, f"storage {status.storage}" + (f" (lag {lag:.1f}s)" if lag else ""))
                )
            if web:
                parts.append((8, f"web {web}"))
            width = self.size.width or 10_000
            room = width - text.cell_len - 2
            while parts and len(" │ ".join(p for _, p in parts)) > room:
                parts.remove(max(parts, key=lambda p: p[0]))
            if parts:
                text.append("  " + " │ ".join(p for _, p in parts), style="")
        elif error and not remote:
            text.append(f"  {error}", style="red")
        if text != self._text:
            self._text = text
            self.update(text, layout=False)  # always one row: no layout pass (4 per s)
