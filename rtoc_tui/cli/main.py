"""The `rtoc` command line (Typer).

Commands that open the TUI import it inside the command, so `rtoc run --headless` and the
scripting commands never load Textual.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..config.home import FolderBusy, FolderLock, Home
from ..config.schema import ConfigError
from ..wire import is_loopback
from . import config as config_commands
from . import data as data_commands
from . import remote as remote_commands
from . import telegram as telegram_commands
from . import web as web_commands
from .common import HomeOpt, configured_port, console, fail, open_home

app = typer.Typer(
    name="rtoc",
    help="rtoc-tui: a terminal-first measurement logger compatible with RealTime OpenControl (RTOC).",
    no_args_is_help=False,
    add_completion=True,
    rich_markup_mode="rich",
)
drivers_app = typer.Typer(
    help="List drivers and take test readings.\n\nExample: rtoc drivers test Generator"
)
app.add_typer(drivers_app, name="drivers")

# how long `drivers test` waits before saying a GUI-only RTOC plugin will not collect by itself
GUI_ONLY_WAIT_S = 1.0


@app.callback(invoke_without_command=True)
def main_callback(ctx: typer.Context) -> None:
    """Without a command, `rtoc` runs the logger with the terminal UI (same as `rtoc run`)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(run)


@app.command()
def run(
    headless: Annotated[
        bool,
        typer.Option(
            "--headless", help="No UI: run as a daemon (logs to stderr, stops on SIGTERM)"
        ),
    ] = False,
    home: HomeOpt = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Use a demo user folder (~/.rtoc-demo) with the Generator and System drivers",
        ),
    ] = False,
    tcp: Annotated[bool | None, typer.Option("--tcp/--no-tcp", help="Override tcp.active")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Override tcp.port")] = None,
    web: Annotated[
        bool | None,
        typer.Option(
            "--web/--no-web", help="Override web.active: serve the web view (docs/web.md)"
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging")] = False,
) -> None:
    """Run the logger, with the terminal UI or headless.

    Examples:

      rtoc run --demo            # the demo generator with live plots

      rtoc run --headless        # a daemon, e.g. under systemd on a Raspberry Pi

      rtoc run --web             # also serve plots and events to browsers (port 8050)
    """
    from .. import runtime
    from ..core.settings import SettingsError

    overrides: dict[str, Any] = {}
    if tcp is not None:
        overrides["tcp.active"] = tcp
    if port is not None:
        overrides["tcp.port"] = port
    if web is not None:
        overrides["web.active"] = web
    try:
        h = runtime.demo_home(home) if demo else open_home(home)
        if headless:
            runtime.setup_logging(logging.DEBUG if verbose else logging.INFO)
        else:
            _log_to_file(h, verbose)
        logger = runtime.build_logger(h, overrides)
    except (ConfigError, SettingsError) as exc:
        raise fail(str(exc)) from exc
    lock = FolderLock(h)  # one logger per folder: a second one would store everything twice
    try:
        lock.acquire()
    except FolderBusy as exc:
        raise fail(str(exc)) from exc
    try:
        if headless:
            code = asyncio.run(runtime.run_headless(logger))
        else:
            code = asyncio.run(runtime.run_with_tui(logger))
    finally:
        lock.release()
    raise typer.Exit(code)


def _log_to_file(home: Home, verbose: bool) -> None:
    """Under the TUI, log lines go to a file: stderr would garble the screen."""
    handler = logging.FileHandler(home.root / "rtoc.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


@app.command()
def attach(
    target: Annotated[str, typer.Argument(help="HOST or HOST:PORT of a logger's TCP server")],
    password: Annotated[
        str | None,
        typer.Option(
            "--password", envvar="RTOC_PASSWORD", help="Server password (or $RTOC_PASSWORD)"
        ),
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Open the terminal UI on a remote logger.

    To a logger on this machine (127.0.0.1, or an SSH forward to one) the token in the user
    folder (--home) authenticates scripts, config and device control; remotely the password.

    Example: rtoc attach raspberrypi.local:5050 --password secret
    (or through SSH: ssh -L 5050:127.0.0.1:5050 pi@raspberrypi, then rtoc attach 127.0.0.1)
    """
    host, _, port_text = target.rpartition(":") if target.count(":") == 1 else (target, "", "")
    if not host:
        host, port_text = target, ""
    try:
        port = int(port_text) if port_text else configured_port(None)
    except ValueError:
        raise fail(f"bad port in {target!r}") from None
    from ..client.remote import RemoteClient, local_token
    from ..ui.app import run_tui

    token = local_token(home) if is_loopback(host) else None
    client = RemoteClient(host, port, password or None, token=token)
    asyncio.run(run_tui(client, None))


@drivers_app.command("list")
def drivers_list(home: HomeOpt = None) -> None:
    """List every available driver (built-in, installed, and from the user's devices/ folder).

    Example: rtoc drivers list
    """
    from ..core.devices import DeviceError, discover, load_class

    h = open_home(home)
    table = Table("driver", "source", "description", "settings")
    for name, spec in sorted(discover(h.devices_dir).items()):
        need = spec.missing_extra()
        if need is not None:
            table.add_row(name, spec.source, f"[yellow]needs {escape(need)}[/]", "")
            continue
        try:
            cls = load_class(spec)
            doc = (cls.__doc__ or "").strip().splitlines()[0] if (cls.__doc__ or "").strip() else ""
            settings = ", ".join(cls.SETTINGS)
        except DeviceError as exc:
            doc, settings = f"[red]unavailable: {escape(str(exc))}[/]", ""
        table.add_row(name, spec.source, doc, settings)
    console.print(table)


@drivers_app.command("test")
def drivers_test(
    name: Annotated[str, typer.Argument(help="Driver name, e.g. Generator")],
    home: HomeOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a reading")] = 10.0,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show the driver's log lines")
    ] = False,
) -> None:
    """Start one driver with its settings from config.json, take one reading, print it, stop.

    Example: rtoc drivers test DPS5020
    """
    from .. import runtime
    from ..core import introspect
    from ..core.devices import DeviceError
    from ..core.logger import Logger
    from ..core.settings import SettingsError

    # The failure reason is printed below; the driver's log (with tracebacks) only on request.
    runtime.setup_logging(logging.DEBUG if verbose else logging.CRITICAL + 1)

    h = open_home(home)
    try:
        logger = Logger.from_home(h)
    except (ConfigError, SettingsError) as exc:
        raise fail(str(exc)) from exc
    try:
        plugin = logger.devices.start(name)
    except DeviceError as exc:
        raise fail(f"{name}: {exc}", 1) from exc
    try:
        started = time.monotonic()
        deadline = started + timeout
        readings: list[Any] = []
        while time.monotonic() < deadline:
            readings = [b for b in logger.store.buffers() if len(b)]
            state, reason = plugin._state
            if readings:
                time.sleep(
                    min(0.2, max(0.0, deadline - time.monotonic()))
                )  # let a multi-signal poll finish
                readings = [b for b in logger.store.buffers() if len(b)]
                break
            if state == "error":
                raise fail(f"{name}: {reason}", 1)
            if introspect.gui_only(plugin) and time.monotonic() > started + GUI_ONLY_WAIT_S:
                raise fail(
                    f"{name} does not collect by itself: it starts only from RTOC's Qt GUI "
                    "(its loadGUI), which a terminal does not build. Start it by calling its "
                    "functions (the device screen, `rtoc send`, or a script), or make its "
                    "__init__ call self.start().",
                    1,
                )
            time.sleep(0.02)
        if not readings:
            raise fail(f"{name}: no reading within {timeout:g} s", 1)
        table = Table("signal", "value", "unit", "time")
        for b in sorted(readings, key=lambda b: b.name):
            latest = b.latest()
            if latest is None:
                continue
            x, y = latest
            table.add_row(
                b.name,
                f"{y:.6g}",
                b.unit,
                time.strftime("%H:%M:%S", time.localtime(x)) if x > 1e8 else f"{x:g}",
            )
        console.print(table)
    finally:
        logger.devices.stop_all()


# The command groups of the other cli modules; each adds its commands to the app. They import
# the logger's layers inside their commands, so `rtoc attach` loads neither kernel nor server.
# telegram_commands adds `rtoc config telegram` to the group config_commands creates.
for _commands in (remote_commands, data_commands, config_commands, web_commands, telegram_commands):
    _commands.register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
