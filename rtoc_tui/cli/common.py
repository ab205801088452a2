"""What every `rtoc` command shares: the consoles, the error exit, the --home option."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ..config.home import Home, load_config, resolve_home
from ..config.schema import ConfigError

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="User folder (default: $RTOC_HOME or ~/.rtoc)", show_default=False),
]

EXIT_USAGE = 2  # bad arguments or configuration: the user must change something
EXIT_FAILED = 1  # the command was right but the logger or the network said no


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print `rtoc: message` to stderr and return the Exit to raise (markup in message is shown)."""
    err_console.print(f"[bold red]rtoc:[/] {escape(message)}")
    return typer.Exit(code)


def open_home(home: Path | None) -> Home:
    """The user folder (--home, $RTOC_HOME or ~/.rtoc), created if missing; a clear exit if not."""
    h = Home(resolve_home(home))
    try:
        h.ensure()
    except OSError as exc:
        raise fail(f"cannot create the user folder {h.root}: {exc}") from exc
    return h


DEFAULT_TCP_PORT = 5050  # RTOC's


def configured_port(home: Path | None) -> int:
    """The logger's TCP port as this user folder's config says (tcp.port, or RTOC_TCP_PORT).

    Client commands (`rtoc send/latest/signals/fetch`, `rtoc attach HOST`) use it when no port
    is given, so they find a logger that runs on another port. A missing folder or config means
    RTOC's 5050; a broken config is an error that names the file.
    """
    path = Home(resolve_home(home)).config_file
    try:
        port = load_config(path).config.tcp.port
    except FileNotFoundError:
        return DEFAULT_TCP_PORT
    except (ConfigError, OSError) as exc:
        raise fail(f"{exc} (needed for the TCP port; or give --port)") from exc
    return port or DEFAULT_TCP_PORT  # 0 means "any free port" to a server: unknown here
