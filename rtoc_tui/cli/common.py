"""What every `rtoc` command shares: the consoles, the error exit, the --home option."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ..config.home import Home, resolve_home

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
