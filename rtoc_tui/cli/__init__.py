"""The `rtoc` command line: every command, and the wizard and RTOC import behind `rtoc config`.

`main` is the console-script entry point; the Typer app lives in `main.py`, the commands in one
module each (`data`, `remote`, `config`).
"""

from __future__ import annotations

from .main import app, main

__all__ = ["app", "main"]
