"""The Textual app: one poller, the screens, keys and the command palette.

`build_app(client, config)` makes the app for the CLI and the tests; `run_tui(client, config)`
runs it until the user quits. The app talks to the logger only through a `LoggerClient`
(local or remote): one periodic fetch per tick (status, signals, new events, devices), applied
to the screens in one `batch_update`. The plot fetches its own decimated windows.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker

from ..api import ClientError, Disconnected, EventInfo, LoggerClient
from ..config.schema import Config, TuiSection
from .commands import RtocCommands
from .state import LoggerState, tui_settings
from .work import describe_error

log = logging.getLogger("rtoc.ui")

DEVICES_EVERY = 2  # fetch the device list every n-th poll (it changes rarely)
RECONNECT_INTERVAL_S = 2.0


class RtocApp(App[None]):
    """rtoc's terminal UI over one LoggerClient."""

    CSS_PATH = "app.tcss"
    TITLE = "rtoc"
    COMMANDS = App.COMMANDS | {RtocCommands}
    BINDINGS: ClassVar[list[Any]] = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark,f1", "help", "Help", id="help", key_display="?"),
        Binding("E,f2", "scripts", "Scripts", id="scripts", key_display="E"),
        Binding("A,f3", "automation", "Auto", id="automation", key_display="A"),
        Binding("O,f4", "settings", "Settings", id="settings", key_display="O"),
        Binding("I,f5", "import_file", "Import", id="import", key_display="I", show=False),
    ]

    def __init__(
        self,
        client: LoggerClient,
        config: Config | None = None,
        *,
        clock: Callable[[], float] = time.time,
        refresh_hz: float | None = None,
        plot_hz: float | None = None,
        theme: str | None = None,
        poll: bool = True,
    ) -> None:
        super().__init__()
        self.client = client
        self.clock = clock
        self.logger_config = config
        tui = replace(config.tui) if config is not None else TuiSection()
        if refresh_hz is not None:
            tui.refresh_hz = refresh_hz
        if plot_hz is not None:
            tui.plot_hz = plot_hz
        if theme is not None:
            tui.theme = theme
        self.tui: TuiSection = tui
        self._fixed = {
            k for k, v in (("refresh_hz", refresh_hz), ("plot_hz", plot_hz), ("theme", theme)) if v
        }
        self.state = LoggerState(connected=client.info.connected or not client.info.remote)
        self._poll_enabled = poll
        self._poll_worker: Worker[None] | None = None
        self._poll_timer: Any = None
        self._last_connect_try = 0.0
        self._history_loaded = False
        self._devices_due = True
        self._remote_settings_loaded = config is not None

    # -- lifecycle ------------------------------------------------------------------------
    def get_default_screen(self) -> Screen[Any]:
        from .screens.main import MainScreen

        return MainScreen()

    # Startup leaves ~100,000 long-lived objects (modules, widgets, styles); every full garbage
    # collection walked them all, a 40-65 ms pause about once a second while plotting, and a
    # key pressed then waited for it. Frozen after startup, they are skipped: 8-17 ms pauses.
    GC_FREEZE_AFTER_S: ClassVar[float | None] = 3.0

    def on_mount(self) -> None:
        if self.GC_FREEZE_AFTER_S is not None:
            self.set_timer(self.GC_FREEZE_AFTER_S, self._freeze_startup_objects)
        self._apply_tui_settings()
        if self._poll_enabled:
            self._restart_poll_timer()
            self.poll()

    def _apply_tui_settings(self) -> None:
        """Theme, key map and rates from the tui settings."""
        if self.tui.theme in self.available_themes:
            self.theme = self.tui.theme
        if self.tui.keymap:
            self.set_keymap(dict(self.tui.keymap))
        self._call_screens("apply_tui_settings", self.tui)

    def _freeze_startup_objects(self) -> None:
        """Move what lives now out of the cyclic GC's reach (freed by refcount as usual)."""
        gc.collect()  # once: startup garbage is not frozen with the rest
        gc.freeze()

    def _restart_poll_timer(self) -> None:
        if self._poll_timer is not None:
            self._poll_timer.stop()
        hz = max(0.1, float(self.tui.refresh_hz or 4.0))
        self._poll_timer = self.set_interval(1.0 / hz, self.poll, name="poll")

    def update_tui_settings(self, tui: TuiSection) -> None:
        """New tui settings (from the settings screen or the remote config)."""
        for name in self._fixed:
            setattr(tui, name, getattr(self.tui, name))
        old_hz = self.tui.refresh_hz
        self.tui = tui
        self._apply_tui_settings()
        if self._poll_enabled and tui.refresh_hz != old_hz:
            self._restart_poll_timer()

    @work(group="config", exit_on_error=False)
    async def _load_remote_settings(self) -> None:
        """Attached: the tui section comes from the remote logger's config (else defaults)."""
        try:
            values = await self.client.config()
        except ClientError as exc:
            log.info("no remote tui settings: %s", describe_error(exc))
            if isinstance(exc, Disconnected):
                self._remote_settings_loaded = False  # try again once reconnected
            return
        self._remote_settings_loaded = True
        self.update_tui_settings(tui_settings({v.key: v.value for v in values}))

    # -- polling ----------------------------------------------------------------------------
    def poll(self) -> None:
        """Start one fetch unless the previous one is still running (a slow link skips ticks)."""
        if self._poll_worker is not None and self._poll_worker.is_running:
            return
        self._poll_worker = self.run_worker(
            self._fetch(), group="poll", exit_on_error=False, name="poll"
        )

    async def _fetch(self) -> None:
        client = self.client
        st = self.state
        try:
            if client.info.remote and not st.connected:
                now = time.monotonic()
                if now - self._last_connect_try < RECONNECT_INTERVAL_S:
                    return
                self._last_connect_try = now
                with contextlib.suppress(ClientError):
                    await client.connect()
            status = await client.status()
            signals = await client.signals()
            events = await client.events_since(st.event_cursor)
            devices = None
            if self._devices_due or st.polls % DEVICES_EVERY == 0:
                self._devices_due = False
                devices = await client.devices()
        except Disconnected as exc:
            self._set_connected(False, describe_error(exc))
            return
        except ClientError as exc:
            self._set_connected(True, describe_error(exc))
            return
        except Exception as exc:  # a bug in a client must not stop polling: show it, go on
            log.exception("poll failed")
            self.state.error = describe_error(exc)
            self.notify(self.state.error, title="poll", severity="error")
            return
        self._apply(status, signals, events, devices)

    def _set_connected(self, connected: bool, error: str = "") -> None:
        st = self.state
        changed = st.connected != connected
        st.connected = connected
        st.error = error
        if changed and not connected:
            self.notify(
                f"lost the connection to {self.host_label()}; retrying",
                severity="warning",
                timeout=5,
            )
        elif changed:
            self.notify(f"connected to {self.host_label()}", timeout=3)
        self._distribute([])

    def _apply(self, status: Any, signals: Any, events: list[EventInfo], devices: Any) -> None:
        st = self.state
        was_connected = st.connected
        st.status = status
        st.signals = {s.name: s for s in signals}
        if devices is not None:
            st.devices = tuple(devices)
        if events:
            st.event_cursor = max(st.event_cursor, events[-1].seq)
            st.events.extend(events)
        st.polls += 1
        st.error = ""
        if not self._remote_settings_loaded:
            # Attached: the tui settings come from the remote config once it answers.
            self._remote_settings_loaded = True
            self._load_remote_settings()
        if not was_connected:
            self._set_connected(True)
        with self.batch_update():
            self._distribute(events)
            if self._history_loaded:
                self._toast_events(events)
        self._history_loaded = True

    def _distribute(self, new_events: list[EventInfo]) -> None:
        self._call_screens("apply_state", self.state, new_events)

    def _call_screens(self, method: str, *args: Any) -> None:
        """Call a hook on every screen that has it and has finished mounting."""
        for screen in self.screen_stack:
            hook = getattr(screen, method, None)
            if hook is None or not getattr(screen, "ready", False):
                continue
            hook(*args)

    def _toast_events(self, events: Iterable[EventInfo]) -> None:
        """A notification for each new warning or error (a burst collapses into one)."""
        loud = [e for e in events if e.priority >= 1]
        if len(loud) > 3:
            worst = max(e.priority for e in loud)
            self.notify(
                f"{len(loud)} new warnings/errors, newest: {loud[-1].text}",
                severity="error" if worst >= 2 else "warning",
                timeout=6,
            )
            return
        for e in loud:
            where = ".".join(p for p in (e.dname, e.sname) if p)
            self.notify(
                e.text,
                title=where or ("error" if e.priority >= 2 else "warning"),
                severity="error" if e.priority >= 2 else "warning",
                timeout=6,
            )

    def refresh_now(self) -> None:
        """Poll again soon (after an action changed something); devices included."""
        self._devices_due = True
        if self._poll_enabled:
            self.poll()

    # -- header text --------------------------------------------------------------------------
    def host_label(self) -> str:
        info = self.client.info
        if not info.remote:
            return "local"
        return f"{info.host}:{info.port}" if info.port else info.host

    # -- actions ------------------------------------------------------------------------------
    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_scripts(self) -> None:
        from .screens.scripts import ScriptScreen

        self._switch_to(ScriptScreen, "scripts")

    def action_automation(self) -> None:
        from .screens.automation import AutomationScreen

        self._switch_to(AutomationScreen, "automation")

    def action_settings(self) -> None:
        from .screens.settings import SettingsScreen

        self._switch_to(SettingsScreen, "settings")

    def action_import_file(self) -> None:
        from .screens.importer import ImportScreen

        self._switch_to(ImportScreen, "import")

    def _switch_to(self, cls: type[Screen[Any]], name: str) -> None:
        """Show the screen, reusing an open one (the script editor keeps its text)."""
        if isinstance(self.screen, cls):
            return
        for screen in self.screen_stack:
            if isinstance(screen, cls):
                while not isinstance(self.screen, cls):
                    self.pop_screen()
                return
        if name not in self._installed_screens:
            self.install_screen(cls(), name=name)
        self.push_screen(name)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Script editor", "Write and run scripts (E)", self.action_scripts)
        yield SystemCommand("Automation", "Global events and actions (A)", self.action_automation)
        yield SystemCommand("Settings", "Logger and UI settings (O)", self.action_settings)
        yield SystemCommand(
            "Import a file",
            "CSV, Excel, ODS, MATLAB or WAV into the logger (I)",
            self.action_import_file,
        )
        yield SystemCommand("Help", "Keys and panes (?)", self.action_help)


def build_app(client: LoggerClient, config: Config | None = None, **opts: Any) -> RtocApp:
    """The app for the CLI and the tests.

    Args:
        client: LocalClient or RemoteClient (or any LoggerClient).
        config: the local logger's config (None when attached: tui settings then come from
            `client.config()`, or defaults).
        **opts: clock (a fake clock for tests), refresh_hz, plot_hz, theme, poll.
    """
    return RtocApp(client, config, **opts)


async def run_tui(client: LoggerClient, config: Config | None) -> None:
    """Run the UI until the user quits (or the terminal goes away); then close the client."""
    app = build_app(client, config)
    loop = asyncio.get_running_loop()
    hup = getattr(signal, "SIGHUP", None)
    if hup is not None:
        # An SSH session that drops hangs up the terminal: quit cleanly so the runtime can
        # stop the drivers and flush storage instead of being killed mid-write.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(hup, _on_hangup, app)
    try:
        await app.run_async()
    finally:
        if hup is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(hup)
        with contextlib.suppress(Exception):
            await client.close()


def _on_hangup(app: App[Any]) -> None:
    """The terminal went away: quit without writing to it (or blocking on it)."""
    log.warning("the terminal hung up: quitting")
    try:  # what is still written (screen restore) goes nowhere instead of failing
        null = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            os.dup2(null, fd)
        os.close(null)
    except OSError:
        pass
    threading.Thread(
        target=_drain_dead_writer, args=(app,), name="rtoc-hangup", daemon=True
    ).start()
    app.exit()


def _drain_dead_writer(app: App[Any], timeout_s: float = 30.0) -> None:
    """Empty the output queue of Textual's writer thread if it died, until the app is gone.

    Workaround (Textual 8.2 drivers/_writer_thread.py): writing to a hung-up terminal raises
    EIO, which ends the writer thread; the app's shutdown then blocks for ever in
    WriterThread.stop() -> queue.put() on the full queue. Delete once Textual handles it.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        driver = getattr(app, "_driver", None)
        writer = getattr(driver, "_writer_thread", None)
        if driver is None:
            return
        queue = getattr(writer, "_queue", None)
        if writer is not None and queue is not None and not writer.is_alive():
            with contextlib.suppress(Exception):
                while True:
                    queue.get_nowait()
        time.sleep(0.05)
