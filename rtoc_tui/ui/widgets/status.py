"""The one-line header: logger name, where it runs, connection state and a status summary."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ...api import Status
from ..format import fmt_count, fmt_span


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
                text.append(f" ({error})", style="red")
            text.append("  retrying", style="dim")
        elif remote:
            text.append("● connected", style="bold green")
        if status is not None:
            parts = [
                f"{status.signals} signals",
                f"{status.samples_per_s:,.0f} S/s",
                f"{fmt_count(status.samples_in_memory)} in memory",
                f"{status.devices_running} devices",
                f"{status.events} events",
                f"up {fmt_span(status.uptime_s)}",
            ]
            if status.clients:
                parts.append(f"{status.clients} clients")
            if status.storage:
                lag = status.storage_lag_s
                parts.append(f"storage {status.storage}" + (f" (lag {lag:.1f}s)" if lag else ""))
            if web:
                parts.append(f"web {web}")
            text.append("  " + " │ ".join(parts), style="")
        elif error and not remote:
            text.append(f"  {error}", style="red")
        if text != self._text:
            self._text = text
            self.update(text, layout=False)  # always one row: no layout pass (4 per s)
