"""The `rtoc config` command group (wizard, show, get, set, import-rtoc) and `rtoc status`.

`rtoc_tui.cli.main` calls `register(app)`. Exit codes: 0 success, 1 the thing asked about is not
there (no logger running, migration failed), 2 bad input (unknown key, invalid value, broken
config.json), 130 interrupted.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from ..config.home import Home, load_config, read_config_file, resolve_home, save_config
from ..config.schema import Config, ConfigError, field_doc, from_json, iter_fields, lookup_field
from ..wire import is_loopback
from .common import HomeOpt, console, err_console, fail
from .wizard import mask, show_value

STATUS_STALE_S = 10.0
"""status.json older than this means the logger is hung or gone (it is rewritten every 2 s)."""


def complete_key(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of config keys: every schema key, and devices.<driver>.<setting>."""
    keys = [key for key, _v, _f, _tp in iter_fields(Config()) if key != "devices"]
    if incomplete.startswith("devices"):
        try:
            from ..core.devices import discover, load_class

            home = ctx.params.get("home") or (ctx.obj or {}).get("home")
            specs = discover(Home(resolve_home(home)).devices_dir)
            parts = incomplete.split(".")
            if len(parts) >= 3 and parts[1] in specs:
                keys = [f"devices.{parts[1]}.{s}" for s in load_class(specs[parts[1]]).SETTINGS]
            else:
                keys = [f"devices.{name}" for name in sorted(specs)]
        except Exception:  # completion must never print a traceback into the shell
            keys = ["devices"]
    return [k for k in keys if k.startswith(incomplete)]


def _home(ctx: typer.Context | None, home: Path | None) -> Home:
    """--home given to the subcommand, else to `rtoc config`, else $RTOC_HOME or ~/.rtoc."""
    if home is None and ctx is not None and isinstance(ctx.obj, dict):
        home = ctx.obj.get("home")
    return Home(resolve_home(home))


def _ensure(h: Home) -> None:
    try:
        h.ensure()
    except OSError as exc:
        raise fail(f"cannot create the user folder {h.root}: {exc}") from exc


# -- rtoc config (the wizard) -------------------------------------------------------------------
def config_main(ctx: typer.Context, home: HomeOpt = None) -> None:
    """Set up config.json step by step (the wizard).

    Asks for the record length, the devices to autorun and their settings, the TCP server, storage (SQLite, or PostgreSQL tested live) and the plot rate. Enter keeps the value in brackets; answers can come from a pipe, one a line, and end of input keeps the remaining values.

    Examples:

      rtoc config                           # interactive

      printf '100000\\n' | rtoc config   # new record length, rest kept

      rtoc config show                      # every value and where it came from
    """
    ctx.ensure_object(dict)
    ctx.obj["home"] = home
    if ctx.invoked_subcommand is not None:
        return
    from .wizard import run_wizard

    h = _home(ctx, home)
    _ensure(h)
    try:
        run_wizard(h, console)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    except KeyboardInterrupt:
        console.print("\nInterrupted; nothing was written.")
        raise typer.Exit(130) from None


# -- config show / get / set --------------------------------------------------------------------
def config_show(
    ctx: typer.Context,
    home: HomeOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON: {key: {value, source}}")
    ] = False,
) -> None:
    """Print every setting with its source (default, file, env, cli); secrets masked.

    Passwords and tokens are shown as ********; use `rtoc config get` for the value itself.

    Examples:

      rtoc config show

      RTOC_TCP_PORT=5051 rtoc config show --json
    """
    h = _home(ctx, home)
    try:
        loaded = load_config(h.config_file)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    rows: list[tuple[str, Any, str, str]] = []
    for key, value, f, _tp in iter_fields(loaded.config):
        source = loaded.provenance.get(key, "default")
        if source == "env":
            source = f"env ${_env_name(key)}"
        rows.append((key, mask(key, value), source, field_doc(f)))
    autorun = h.read_autorun()
    if as_json:
        out: dict[str, Any] = {k: {"value": v, "source": s} for k, v, s, _d in rows}
        out["autorun_devices"] = {"value": autorun, "source": str(h.autorun_file)}
        console.print_json(json.dumps(out))
        return
    exists = "" if h.config_file.exists() else " (does not exist yet: all defaults)"
    console.print(f"[bold]config:[/] {escape(str(h.config_file))}{exists}")
    table = Table()
    # Keys stay whole (they are what `config get/set` take); the description wraps instead.
    table.add_column("key", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("source", no_wrap=True)
    table.add_column("description", ratio=1)
    for key, value, source, doc in rows:
        style = "" if source == "default" else "bold"
        table.add_row(
            key,
            escape(show_value(value)),
            f"[{style}]{source}[/]" if style else source,
            escape(doc),
        )
    console.print(table)
    console.print(
        f"[bold]autorun_devices:[/] {escape(', '.join(autorun) or 'none')} "
        f"[dim]({escape(str(h.autorun_file))})[/]"
    )


def config_get(
    ctx: typer.Context,
    key: Annotated[
        str,
        typer.Argument(
            help="Dotted key, e.g. tcp.port or devices.Generator.seed",
            autocompletion=complete_key,
        ),
    ],
    home: HomeOpt = None,
) -> None:
    """Print one effective value, for scripts.

    The value from config.json, or its RTOC_* environment override; unmasked. Text is printed as is, everything else as JSON.

    Examples:

      rtoc config get tcp.port

      rtoc config get devices.Generator
    """
    h = _home(ctx, home)
    try:
        loaded = load_config(h.config_file)
        value = _get(loaded.config, key)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    # Text goes out unformatted so `$(rtoc config get ...)` gets exactly the value.
    typer.echo(show_value(value))


def _get(cfg: Config, key: str) -> Any:
    parts = key.split(".")
    if parts[0] == "devices":
        value: Any = cfg.devices
        for i, part in enumerate(parts[1:], 1):
            if not isinstance(value, dict) or part not in value:
                where = ".".join(parts[:i])
                known = ", ".join(sorted(value)) if isinstance(value, dict) else ""
                raise ConfigError(f"{key}: not set in {where} (set there: {known or 'nothing'})")
            value = value[part]
        return value
    if len(parts) == 1:
        from ..config.schema import to_json

        section = lookup_section(key)
        return to_json(cfg.section(section))
    section_attr, field_attr, _tp, _f = lookup_field(key)
    return getattr(getattr(cfg, section_attr), field_attr)


def lookup_section(name: str) -> str:
    """Validate a bare section name like 'tcp'."""
    sections = ["global", "tcp", "postgresql", "backup", "telegram", "tui"]
    if name not in sections:
        raise ConfigError(f"{name}: unknown key (sections: {', '.join(sections)}, devices)")
    return name


def config_set(
    ctx: typer.Context,
    key: Annotated[
        str,
        typer.Argument(
            help="Dotted key, e.g. tcp.port or devices.VC820.port", autocompletion=complete_key
        ),
    ],
    value: Annotated[str, typer.Argument(help="New value: text, a number, true/false, or JSON")],
    home: HomeOpt = None,
) -> None:
    """Change one value in config.json, validated.

    The rest of the file is kept. Bad input exits with code 2 and says why; a broken
    config.json is never overwritten. Device settings are checked against the driver.

    Examples:

      rtoc config set tcp.port 5051

      rtoc config set devices.VC820.port /dev/ttyUSB1

      rtoc config set tcp.knownHosts '{"pi:5050": ["Pi", ""]}'
    """
    h = _home(ctx, home)
    _ensure(h)
    try:
        data = read_config_file(h.config_file)
        cfg = from_json(Config, data)
    except ConfigError as exc:
        raise fail(
            f"{h.config_file}: {exc}" if str(h.config_file) not in str(exc) else str(exc)
        ) from exc
    try:
        if key.split(".")[0] == "devices":
            old, new = _set_device(h, cfg, key, value)
        else:
            from ..config.home import set_value

            old = _get(cfg, key)
            new = set_value(cfg, key, value)
        save_config(h.config_file, cfg)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    console.print(
        f"{escape(key)}: {escape(show_value(mask(key, old)))} -> {escape(show_value(mask(key, new)))}"
        f"  [dim](wrote {escape(str(h.config_file))})[/]"
    )
    env_name = _env_name(key)
    if env_name in os.environ:
        err_console.print(
            f"[yellow]note:[/] ${env_name} is set and overrides {escape(key)} at run time"
        )
    t = cfg.tcp
    if key.startswith("tcp.") and t.active and not is_loopback(t.host) and not t.password:
        if t.insecure:
            err_console.print(
                f"[yellow]warning:[/] the TCP server is open to the network on {escape(t.host)} "
                "without a password (tcp.insecure is true)"
            )
        else:
            err_console.print(
                f"[yellow]warning:[/] tcp.host {escape(t.host)} without a password: the logger "
                "will refuse to start the server. Set tcp.password, or tcp.insecure true."
            )
    w = cfg.web
    if key.startswith(("web.", "global.webserver_port")) and w.active and not is_loopback(w.host):
        if not w.password:
            err_console.print(
                f"[yellow]warning:[/] web.host {escape(w.host)} without web.password: the logger "
                "will not serve the web view. Set web.password, or web.host 127.0.0.1."
            )
        elif not (w.tls_cert and w.tls_key):
            err_console.print(
                "[yellow]warning:[/] the web view on the network is plain HTTP: set web.tls_cert "
                "and web.tls_key for HTTPS (docs/web.md)"
            )


def _set_device(h: Home, cfg: Config, key: str, text: str) -> tuple[Any, Any]:
    """devices.NAME (a JSON object) or devices.NAME.SETTING, validated by the driver."""
    from ..core.devices import DeviceError, discover, load_class
    from ..core.settings import SettingsError, validate_settings

    parts = key.split(".")
    if len(parts) not in (2, 3) or not all(parts):
        raise ConfigError(f"{key}: expected devices.NAME or devices.NAME.SETTING")
    name = parts[1]
    specs = discover(h.devices_dir)
    if name not in specs:
        raise ConfigError(f"{key}: no driver named {name!r} (known: {', '.join(sorted(specs))})")
    try:
        declared = load_class(specs[name]).SETTINGS
    except DeviceError as exc:
        raise ConfigError(f"{key}: cannot load driver {name} to check the value: {exc}") from exc
    current = dict(cfg.devices.get(name, {}))
    try:
        if len(parts) == 2:
            try:
                given = json.loads(text)
            except ValueError:
                raise ConfigError(f"{key}: expected a JSON object, got {text!r}") from None
            if not isinstance(given, dict):
                raise ConfigError(f"{key}: expected a JSON object, got {text!r}")
            validate_settings(name, declared, given)
            old: Any = current
            new: Any = given
            cfg.devices[name] = given
        else:
            setting = declared.get(parts[2])
            if setting is None:
                known = ", ".join(sorted(declared)) or "none"
                raise ConfigError(f"{key}: unknown setting (known: {known})")
            raw: Any = text
            if setting.value_type is not str and text.strip().lower() in ("null", "none"):
                raw = None  # accepted only where the driver's default is None
            old = current.get(parts[2], setting.default)
            new = setting.coerce(raw, key)
            current[parts[2]] = new
            cfg.devices[name] = current
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None
    return old, new


def _env_name(key: str) -> str:
    return "RTOC_" + key.replace(".", "_").upper()


# -- config import-rtoc -------------------------------------------------------------------------
def config_import_rtoc(
    ctx: typer.Context,
    path: Annotated[
        Path | None, typer.Argument(help="RTOC user folder (default: ~/.RTOC)", show_default=False)
    ] = None,
    home: HomeOpt = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Replace device folders and global events/actions we already have"
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report what would be imported")
    ] = False,
    keep_plugin_copies: Annotated[
        bool,
        typer.Option(
            "--keep-plugin-copies",
            help="Also copy RTOC's plugins for devices with a built-in driver (one named like "
            "a built-in driver is copied as NAME_rtoc)",
        ),
    ] = False,
) -> None:
    """Import an RTOC user folder (~/.RTOC) into ours; the RTOC folder is only read.

    Takes config.json (incl. RTOC 3.0's GUI section), autorun_devices, the devices/ plugins, globalEvents.json and globalActions.json, and reports what it mapped and left out.

    Examples:

      rtoc config import-rtoc                 # from ~/.RTOC

      rtoc config import-rtoc /mnt/old-pi/home/pi/.RTOC --dry-run
    """
    from .import_rtoc import DEFAULT_RTOC_HOME, MigrationError, import_rtoc

    h = _home(ctx, home)
    source = (path or DEFAULT_RTOC_HOME).expanduser()
    try:
        report = import_rtoc(
            source, h, overwrite=overwrite, dry_run=dry_run, keep_plugin_copies=keep_plugin_copies
        )
    except MigrationError as exc:
        raise fail(str(exc), 1) from exc
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    verb = "Would import" if dry_run else "Imported"
    console.print(f"[bold]{verb}[/] {escape(str(report.source))} -> {escape(str(h.root))}")
    if report.taken:
        console.print("[bold green]Took:[/]")
        for item in report.taken:
            console.print(f"  {escape(item)}")
    if report.mapped:
        console.print("[bold green]Mapped:[/]")
        for rtoc_key, key, value in report.mapped:
            arrow = "" if rtoc_key == key else f" -> {escape(key)}"
            shown = "" if value is None else f" = {escape(show_value(mask(key, value)))}"
            console.print(f"  {escape(rtoc_key)}{arrow}{shown}")
    if report.unused:
        console.print("[bold yellow]Not used:[/]")
        # One line per reason: RTOC 3.0's GUI section alone has 20 Qt-only keys.
        by_reason: dict[str, list[str]] = {}
        for what, why in report.unused:
            by_reason.setdefault(why, []).append(what)
        for why, whats in by_reason.items():
            console.print(f"  {escape(', '.join(whats))}: {escape(why)}")
    for note in report.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    if dry_run:
        console.print("Dry run: nothing was written.")
    else:
        console.print(
            f"Wrote {escape(str(h.config_file))} and {escape(str(h.autorun_file))}; the RTOC folder "
            "was not changed. Check with: rtoc config show"
        )


# -- rtoc status --------------------------------------------------------------------------------
def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists (even one of another user)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # e.g. the service runs as user rtoc and we are pi
    return True


def status(
    home: HomeOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print status.json as JSON")] = False,
) -> None:
    """Show whether a logger runs for this user folder, and what it does.

    Reads the status.json a running logger rewrites every 2 s. Exit code 0 if it runs, 1 if not.

    Examples:

      rtoc status

      sudo -u rtoc rtoc status --home /var/lib/rtoc     # the systemd service
    """
    h = Home(resolve_home(home))
    path = h.status_file
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        console.print(f"No logger is running for {escape(str(h.root))} (no {path.name}).")
        raise typer.Exit(1) from None
    except PermissionError:
        raise fail(
            f"cannot read {path}: permission denied; run as the logger's user, "
            f"e.g. sudo -u rtoc rtoc status --home {h.root}",
            1,
        ) from None
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read {path}: {exc}", 1) from exc
    if not isinstance(data, dict):
        raise fail(f"{path}: unexpected content", 1)
    pid = int(data.get("pid") or 0)
    age = time.time() - float(data.get("written_at") or 0)
    if not pid_alive(pid):
        console.print(
            f"No logger is running for {escape(str(h.root))}: process {pid} is gone "
            f"(it left {path.name} behind {_ago(age)}, probably a crash or a kill -9)."
        )
        raise typer.Exit(1)
    if age > STATUS_STALE_S:
        console.print(
            f"[yellow]The logger (pid {pid}) has not updated {path.name} for {_ago(age)}:[/] "
            "it is hung, or it is not an rtoc process any more."
        )
        raise typer.Exit(1)
    if as_json:
        console.print_json(json.dumps(data))
        return
    tcp = data.get("tcp") or {}
    lag = data.get("storage_lag_s")
    console.print(
        f"[bold green]running[/] {escape(str(data.get('name', '')))} (pid {pid}, "
        f"up {_duration(float(data.get('uptime_s') or 0))}) in {escape(str(h.root))}"
    )
    lines = [
        (
            "signals",
            f"{data.get('signals', 0)} ({float(data.get('samples_per_s') or 0):,.1f} samples/s, "
            f"{int(data.get('samples_in_memory') or 0):,} in memory)",
        ),
        ("events", str(data.get("events", 0))),
        (
            "storage",
            f"{data.get('storage', '?')}" + ("" if lag is None else f" (lag {float(lag):.1f} s)"),
        ),
        ("retention", str(data.get("retention") or "storage off")),
        (
            "tcp",
            f"{tcp.get('host')}:{tcp.get('port')}, {data.get('clients', 0)} clients"
            if tcp.get("active")
            else "off",
        ),
        ("updated", _ago(age)),
    ]
    for label, text in lines:
        console.print(f"  {label:8} {escape(text)}")
    devices = data.get("devices") or []
    console.print(f"  {'devices':8} {'none' if not devices else ''}")
    for d in devices:
        state = d.get("state", "?")
        colour = "green" if state == "running" else "red"
        reason = f": {d.get('reason')}" if d.get("reason") else ""
        console.print(
            f"    {escape(str(d.get('name')))} [{colour}]{escape(state)}[/]{escape(reason)}"
        )


def _ago(age_s: float) -> str:
    return f"{max(age_s, 0):.1f} s ago" if age_s < 120 else f"{_duration(age_s)} ago"


def _duration(s: float) -> str:
    s = int(max(s, 0))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def register(app: typer.Typer) -> None:
    """Add `rtoc config ...` and `rtoc status` to the main app."""
    config_app = typer.Typer(rich_markup_mode="rich")
    config_app.callback(invoke_without_command=True)(config_main)
    config_app.command("show")(config_show)
    config_app.command("get")(config_get)
    config_app.command("set")(config_set)
    config_app.command("import-rtoc")(config_import_rtoc)
    app.add_typer(config_app, name="config")
    app.command("status")(status)
