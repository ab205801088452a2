"""Command palette: find devices, signals and plot actions by name."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .state import is_active

if TYPE_CHECKING:
    from .app import RtocApp
    from .screens.main import MainScreen

PLOT_ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Plot: pause / resume", "Freeze the view while recording continues (p)", "pause"),
    ("Plot: follow live data", "Jump back to now (end)", "live"),
    ("Plot: next time window", "10 s, 30 s, 1 min, ... everything (w)", "window(1)"),
    ("Plot: previous time window", "(W)", "window(-1)"),
    ("Plot: zoom in", "Halve the time window (+)", "zoom(0.5)"),
    ("Plot: zoom out", "Double the time window (-)", "zoom(2.0)"),
    ("Plot: relative / clock time axis", "(t)", "time_axis"),
    ("Plot: cursor on / off", "Read out every signal at one time (k)", "cursor"),
    ("Plot: event marks on / off", "(m)", "toggle_events"),
    ("Plot: legend on / off", "(l)", "toggle_legend"),
)


class RtocCommands(Provider):
    """Devices, signals and plot actions."""

    def _app(self) -> RtocApp:
        return self.app  # type: ignore[return-value]

    def _main(self) -> MainScreen | None:
        from .screens.main import MainScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return None

    def _on_main(self, fn: Callable[[MainScreen], Any]) -> None:
        """Go back to the main screen, then run fn on it."""
        from .screens.main import MainScreen

        main = self._main()
        if main is None:
            return
        while not isinstance(self.app.screen, MainScreen):
            self.app.pop_screen()
        fn(main)

    def _commands(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        app = self._app()
        for d in app.state.devices:
            verb = "Stop" if is_active(d.state) else "Start"
            yield (
                f"{verb} device {d.name}",
                f"{d.state}{': ' + d.reason if d.reason else ''}",
                partial(self._on_main, lambda m, n=d.name: m.toggle_device(n)),
            )
            yield (
                f"Device {d.name}: parameters and functions",
                d.doc or "edit parameters, call functions",
                partial(self._on_main, lambda m, n=d.name: m.open_device(n)),
            )
        for name, s in sorted(app.state.signals.items()):
            yield (
                f"Signal {name}: plot on/off",
                f"{s.count} samples" + (f" [{s.unit}]" if s.unit else ""),
                partial(self._on_main, lambda m, n=name: m.toggle_signal(n)),
            )
            yield (
                f"Signal {name}: show in tree",
                "move the signals cursor there",
                partial(self._on_main, lambda m, n=name: m.focus_signal(n)),
            )
            yield (
                f"Signal {name}: statistics",
                "min, max, mean and integral of the visible window",
                partial(self._on_main, lambda m, n=name: m.show_stats(n)),
            )
            yield (
                f"Signal {name}: export",
                "CSV or JSON",
                partial(self._on_main, lambda m, n=name: m.export_signals([n])),
            )
        for title, help_text, action in PLOT_ACTIONS:
            yield (
                title,
                help_text,
                partial(self._on_main, lambda m, a=action: m.plot_action(a)),
            )
        yield (
            "Clear events",
            "Clear the logger's event list",
            partial(self._on_main, lambda m: m.clear_events()),
        )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, text=title, help=help_text)

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            if title.startswith(("Plot:", "Start device", "Stop device")):
                yield DiscoveryHit(title, callback, text=title, help=help_text)
