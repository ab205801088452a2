"""`rtoc export` and `rtoc import`: recordings out of and into the store of a user folder.

Both work on the store the folder's config selects (SQLite in data/ or PostgreSQL), without a
running logger; a logger running on the same folder keeps working (SQLite WAL, or PostgreSQL).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..config.home import Home, load_config, resolve_home
from ..config.schema import ConfigError
from .common import HomeOpt, console, err_console, fail

if TYPE_CHECKING:
    from ..transfer import Imported, ImportResult
    from ..transfer.mapping import CsvMapping

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
    output: Annotated[Path, typer.Argument(help="File to write (.csv, .json or .xlsx)")],
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
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="csv, json, xlsx (a sheet per signal) or xlsx-table (default: from the file name)",
        ),
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


def running_logger(h: Home) -> tuple[str, int, str | None] | None:
    """(host, port, password) of a logger running on this folder with its TCP server on."""
    import json
    import time

    from .config import STATUS_STALE_S, pid_alive

    try:
        data = json.loads(h.status_file.read_text(encoding="utf-8"))
        pid = int(data.get("pid") or 0)
        age = time.time() - float(data.get("written_at") or 0)
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    if not pid_alive(pid) or age > STATUS_STALE_S:
        return None
    tcp = data.get("tcp") or {}
    if not tcp.get("active") or not tcp.get("port"):
        return ("", 0, None)  # running, but not reachable
    host = str(tcp.get("host") or "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    try:
        password = load_config(h.config_file).config.tcp.password or None
    except (ConfigError, OSError):
        password = None
    return host, int(tcp["port"]), password


def _build_mapping(
    h: Home,
    profile: str | None,
    x: str | None,
    signal: list[str] | None,
    device: str | None,
    delimiter: str | None,
    sheet: str | None,
    rate: float | None,
    header: bool | None,
) -> CsvMapping:
    from ..transfer.mapping import (
        CsvImportError,
        CsvMapping,
        parse_signal_spec,
        parse_x_spec,
    )
    from ..transfer.profiles import Profiles

    mapping = Profiles.in_home(h.root).get(profile).mapping if profile else CsvMapping()
    if x is not None:
        mapping.x = parse_x_spec(x)
    if signal:
        mapping.signals = [parse_signal_spec(s) for s in signal]
    if device is not None:
        mapping.device = device
    if delimiter is not None:
        mapping.delimiter = "\t" if delimiter in ("\\t", "tab") else delimiter
    if sheet is not None:
        mapping.sheet = sheet
    if rate is not None:
        if rate <= 0:
            raise CsvImportError("--rate must be above 0 Hz")
        mapping.rate = rate
    if header is not None:
        mapping.header = header
    return mapping


def import_cmd(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV/TSV, XLSX/XLS/ODS, MATLAB .mat, WAV, or a session JSON (rtoc-tui or RTOC)"
        ),
    ],
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="auto, csv, xlsx, xls, ods, mat, wav or session"),
    ] = "auto",
    sheet: Annotated[
        str | None, typer.Option("--sheet", help="Spreadsheet sheet (default: the first)")
    ] = None,
    x: Annotated[
        str | None,
        typer.Option(
            "--x",
            help="x column: header or 1-based number; 0 = row index; 'rate' = row / --rate "
            "(default: guess; a WAV's own rate)",
        ),
    ] = None,
    signal: Annotated[
        list[str] | None,
        typer.Option(
            "--signal",
            "-s",
            help="Signal column: COLUMN[=Device.Signal][:unit] (repeat; default: all)",
        ),
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", help="Sample rate in Hz for --x rate")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="Device name for signals without one [CSV]")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="CSV delimiter (default: guess)")
    ] = None,
    header: Annotated[
        bool | None,
        typer.Option("--header/--no-header", help="CSV has a header row (default: guess)"),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="Use a saved import profile (csv_profiles.json)"),
    ] = None,
    save_profile: Annotated[
        str | None, typer.Option("--save-profile", help="Save this mapping as a named profile")
    ] = None,
    store: Annotated[
        bool,
        typer.Option("--store", help="Write into the store even when a logger runs on this folder"),
    ] = False,
    apply_settings: Annotated[
        bool,
        typer.Option("--apply-settings", help="Also write a session's settings into config.json"),
    ] = False,
    home: HomeOpt = None,
) -> None:
    """Import a file into the running logger of the user folder, or into its store.

    With a logger running on the folder (and its TCP server on), the data goes through the logger, so attached UIs show it at once; otherwise straight into the store. Either way the import is one piece: all of it is stored or (with the reason) what was.

    Examples:

      rtoc import old_rtoc_session.json

      rtoc import data.csv --x time --signal "temp=Lab.Temp:°C"

      rtoc import run.xlsx --sheet Run2 --x 1 --signal 2=PSU.U:V --save-profile psu

      rtoc import scope.wav --signal "1=Scope.Left"
    """
    from ..transfer import Imported, ImportFileError, RichProgress, SessionError, read_file
    from ..transfer.profiles import Profiles
    from ..transfer.session import apply_session_settings, write_scripts

    h = Home(resolve_home(home))
    try:
        h.ensure()
        mapping = _build_mapping(h, profile, x, signal, device, delimiter, sheet, rate, header)
        with RichProgress(err_console) as progress:
            data = read_file(str(file), fmt, mapping, progress)
        if save_profile:
            from ..transfer.readers import open_source

            src = open_source(file, fmt, mapping.delimiter, mapping.header)
            table = src.table(mapping.sheet)
            Profiles.in_home(h.root).save(save_profile, src.format, table, mapping)
    except (ImportFileError, SessionError, ConfigError, OSError, ValueError) as exc:
        raise fail(f"import failed, nothing was stored: {exc}") from exc
    for note in data.notes:
        err_console.print(f"note: {note}", highlight=False)
    target = None if store else running_logger(h)
    where = f"the store of {h.root}"
    if target is not None and target[1]:
        # importing is privileged: the logger's own token from its user folder (docs/protocol.md)
        res = _import_through_logger(target, data, h.auth_token())
        where = f"the running logger ({target[0]}:{target[1]})"
        events_to_store = bool(data.events)
    else:
        if target is not None:
            err_console.print(
                "note: a logger runs on this folder without its TCP server (tcp.active false): "
                "the data goes into the store; that logger shows it after a restart",
                highlight=False,
            )
        res = _import_into_store(h, data, with_events=True)
        events_to_store = False
    if events_to_store:  # a session's events: the logger keeps them only in its store
        _import_into_store(h, Imported(events=data.events), with_events=True)
    scripts = write_scripts(h, data.scripts)
    if apply_settings and data.settings:
        apply_session_settings(h, data.settings)
    console.print(
        f"imported {res.samples:,} samples of {res.signals} signals and {len(data.events)} events "
        f"from {file} into {where}" + (f" ({data.source_format})" if data.source_format else "")
    )
    if res.dropped:
        console.print(
            f"[yellow]{res.dropped:,} samples did not fit in the logger's memory (recordLength) "
            "and it has no storage: they were not kept[/]"
        )
    if save_profile:
        console.print(f"profile {save_profile!r} saved in {Profiles.in_home(h.root).path}")
    if scripts:
        console.print(f"scripts saved in {h.scripts_dir}: {', '.join(scripts)}")
    if apply_settings and data.settings:
        console.print(f"settings written to {h.config_file}")


def _import_into_store(h: Home, data: Imported, with_events: bool) -> ImportResult:
    from ..storage import StorageError
    from ..transfer import RichProgress, import_into_engine

    _h, engine = _open(h.root)
    try:
        with RichProgress(err_console) as progress:
            return import_into_engine(engine, data, progress)  # type: ignore[arg-type]
    except (StorageError, ValueError) as exc:
        raise fail(f"import failed, nothing was stored (one transaction): {exc}") from exc
    finally:
        engine.close()  # type: ignore[attr-defined]


def _import_through_logger(
    target: tuple[str, int, str | None], data: Imported, token: str | None = None
) -> ImportResult:
    import asyncio

    from ..api import ClientError, ImportSignal
    from ..client.remote import RemoteClient
    from ..transfer import ImportResult, RichProgress

    host, port, password = target
    sigs = [ImportSignal(s.name, s.unit, s.x, s.y) for s in data.signals]

    async def run() -> ImportResult:
        client = RemoteClient(host, port, password=password, token=token)
        await client.connect()
        if not await client.wait_connected(10.0):
            await client.close()
            raise ClientError(f"the logger at {host}:{port} does not answer")
        try:
            with RichProgress(err_console) as progress:
                progress.start(f"Sending {data.samples:,} samples to the logger", data.samples)
                last = [0]

                def step(done: int, total: int) -> None:
                    progress.advance(done - last[0])
                    last[0] = done

                rep = await client.import_signals(sigs, step)
                progress.finish()
        finally:
            await client.close()
        return ImportResult(rep.signals, rep.samples, 0, dropped=rep.dropped, stored=rep.stored)

    try:
        return asyncio.run(run())
    except ClientError as exc:
        raise fail(f"import failed: {exc}") from exc


def register(app: typer.Typer) -> None:
    """Add `export` and `import` to the rtoc command."""
    app.command("export")(export_cmd)
    app.command("import")(import_cmd)
