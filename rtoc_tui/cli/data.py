"""`rtoc export` and `rtoc import`: recordings out of and into the store of a user folder.

Both work on the store the folder's config selects (SQLite in data/ or PostgreSQL), without a
running logger; a logger running on the same folder keeps working (SQLite WAL, or PostgreSQL).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from ..config.home import FolderLock, Home, load_config, resolve_home
from ..config.schema import ConfigError
from .common import HomeOpt, console, err_console, fail

# The storage and transfer layers (and through them the kernel) are imported inside the
# commands: registering these commands must not load them for `rtoc attach`.


def parse_time(text: str | None) -> float | None:
    """Unix seconds, or an ISO 8601 date/time (local time unless it has an offset)."""
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise typer.BadParameter(f"{text!r} is neither Unix seconds nor an ISO date/time") from None


def _open(home: Path | None) -> tuple[Home, object]:
    from ..storage import StorageError, make_engine

    h = Home(resolve_home(home))
    try:
        h.ensure()
        cfg = load_config(h.config_file).config
    except (ConfigError, OSError) as exc:
        raise fail(str(exc)) from exc
    engine = make_engine(h, cfg)
    try:
        engine.open()
    except StorageError as exc:
        raise fail(f"cannot open the store: {exc}") from exc
    return h, engine


def export_cmd(
    output: Annotated[Path, typer.Argument(help="File to write (.csv or .json)")],
    signal: Annotated[
        list[str] | None,
        typer.Option("--signal", "-s", help="Device.Signal to export (repeat; default: all)"),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Start: Unix seconds or ISO date/time")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="End: Unix seconds or ISO date/time")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help="csv or json (default: from the file name)")
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Export stored signals (and events, in JSON) of a time range to CSV or JSON.

    Example: rtoc export run1.csv -s Generator.Square --from "2026-11-21 10:00" --to "2026-11-21 11:00"
    """
    from ..storage import StorageError
    from ..transfer import EngineSource, ExportError, RichProgress, export

    xmin, xmax = parse_time(start), parse_time(end)
    _h, engine = _open(home)
    try:
        with RichProgress(err_console) as progress:
            out = export(EngineSource(engine), output, signal or None, xmin, xmax, fmt, progress)  # type: ignore[arg-type]
    except (ExportError, StorageError, OSError) as exc:
        raise fail(f"export failed: {exc}") from exc
    finally:
        engine.close()  # type: ignore[attr-defined]
    console.print(f"wrote {out}")


def import_cmd(
    file: Annotated[Path, typer.Argument(help="CSV file, or a session JSON (rtoc-tui or RTOC)")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="auto, csv or session")] = "auto",
    x: Annotated[
        str | None,
        typer.Option(
            "--x", help="CSV x column: header or 1-based number; 0 = row index (default: guess)"
        ),
    ] = None,
    signal: Annotated[
        list[str] | None,
        typer.Option(
            "--signal",
            "-s",
            help="CSV signal column: COLUMN[=Device.Signal][:unit] (repeat; default: all)",
        ),
    ] = None,
    device: Annotated[
        str, typer.Option("--device", help="Device name for CSV signals without one")
    ] = "CSV",
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="CSV delimiter (default: guess)")
    ] = None,
    apply_settings: Annotated[
        bool,
        typer.Option("--apply-settings", help="Also write a session's settings into config.json"),
    ] = False,
    home: HomeOpt = None,
) -> None:
    """Import a CSV file (with a column mapping) or a session into the store of the user folder.

    Examples: rtoc import old_rtoc_session.json
              rtoc import data.csv --x time --signal "temp=Lab.Temp:°C"
    """
    from ..storage import StorageError
    from ..transfer import (
        CsvImportError,
        CsvMapping,
        RichProgress,
        SessionError,
        import_into_engine,
        read_file,
    )
    from ..transfer.csv_import import parse_signal_spec, parse_x_spec
    from ..transfer.session import apply_session_settings, write_scripts

    try:
        mapping = CsvMapping(
            x=parse_x_spec(x),
            signals=[parse_signal_spec(s) for s in signal or []],
            device=device,
            delimiter=delimiter,
        )
    except CsvImportError as exc:
        raise fail(str(exc)) from exc
    h, engine = _open(home)
    running = FolderLock(h).holder()
    if running is not None:
        if apply_settings:
            engine.close()  # type: ignore[attr-defined]
            raise fail(
                f"a logger is running on {h.root} (PID {running.get('pid', '?')}): it owns "
                "config.json. Stop it to import with --apply-settings, or import without it"
            )
        # the store takes writers one transaction at a time: importing beside it is safe
        err_console.print(
            f"note: a logger is running on this folder (PID {running.get('pid', '?')}); the "
            "import goes into its store beside it"
        )
    try:
        with RichProgress(err_console) as progress:
            data = read_file(str(file), fmt, mapping, progress)
            res = import_into_engine(engine, data, progress)  # type: ignore[arg-type]
        scripts = write_scripts(h, data.scripts)
        if apply_settings and data.settings:
            apply_session_settings(h, data.settings)
    except (CsvImportError, SessionError, StorageError, ConfigError, OSError, ValueError) as exc:
        raise fail(f"import failed: {exc}") from exc
    finally:
        engine.close()  # type: ignore[attr-defined]
    console.print(
        f"imported {res.samples:,} samples of {res.signals} signals and {res.events} events from {file}"
        + (f" ({data.source_format})" if data.source_format else "")
    )
    if scripts:
        console.print(f"scripts saved in {h.scripts_dir}: {', '.join(scripts)}")
    if apply_settings and data.settings:
        console.print(f"settings written to {h.config_file}")


def register(app: typer.Typer) -> None:
    """Add `export` and `import` to the rtoc command."""
    app.command("export")(export_cmd)
    app.command("import")(import_cmd)
