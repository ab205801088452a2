"""`rtoc config import-rtoc`: take over an existing RTOC user folder (~/.RTOC).

Reads RTOC's config.json (the sectioned RTOC 2.x/3.0 layout with its `GUI` section, and the
flat layout of early versions), autorun_devices, the plugin folders in devices/,
globalEvents.json and globalActions.json, and reports what it took, what it mapped and what it
could not use. The RTOC folder is only ever read.
"""

from __future__ import annotations

import ast
import filecmp
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..config.home import Home, read_config_file, save_config, set_value
from ..config.schema import Config, ConfigError, from_json, lookup_field

DEFAULT_RTOC_HOME = Path("~/.RTOC")


class MigrationError(RuntimeError):
    """The RTOC folder cannot be imported (missing, or a file in it is unreadable)."""


@dataclass
class MigrationReport:
    """What an import took, mapped and left out."""

    source: Path
    home: Path
    dry_run: bool = False
    taken: list[str] = field(default_factory=list)  # files and folders copied
    mapped: list[tuple[str, str, Any]] = field(default_factory=list)  # (RTOC key, our key, value)
    unused: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    notes: list[str] = field(default_factory=list)
    autorun: list[str] = field(default_factory=list)


# RTOC sections whose keys we keep under the same name.
SAME_SECTIONS = ("global", "tcp", "postgresql", "backup", "telegram")

# RTOC 3.0's GUI section (Qt) -> the terminal UI; the other GUI keys have no equivalent.
GUI_KEYS = {
    "plotRate": "tui.plot_hz",
    "signalInactivityTimeout": "tui.signalInactivityTimeout",
    "xTimeBase": "tui.xTimeBase",
    "showEvents": "tui.showEvents",
    "plotLegendEnabled": "tui.plotLegendEnabled",
    "plotGridEnabled": "tui.plotGridEnabled",
}

# Early RTOC (1.x, 2.0 betas) kept a flat config.json.
FLAT_KEYS = {
    "language": "global.language",
    "defaultRecordLength": "global.recordLength",
    "recordLength": "global.recordLength",
    "tcpserver": "tcp.active",
    "tcpPort": "tcp.port",
    **GUI_KEYS,
}

# Keys RTOC spelled differently from our schema.
RENAMED = {
    "telegram.eventlevel": "telegram.default_eventlevel",
}

WHY_UNUSED = {
    "global.documentfolder": "RTOC's own folder; ours is the rtoc-tui user folder",
    "telegram.chat_ids": "the Telegram bot is not supported",
    "backup.path": "RTOC's local JSON backup folder; rtoc-tui stores SQLite in data/",
}

# RTOC plugin names -> our built-in drivers: the folder names of RTOC's plugin repository
# (RTOCplugins) and of RTOC's own plugins/ folder, in the spellings RTOC versions used.
BUILTIN_EQUIVALENTS = {
    "Generator": "Generator",
    "Funktionsgenerator": "Generator",
    "System": "System",
    "DPS5020": "DPS5020",
    "holdPeak_VC820": "VC820",
    "HoldPeak VC820": "VC820",
    "HoldPeak_VC820": "VC820",
    "VC820": "VC820",
    "INA219_Modul": "INA219",
    "INA219": "INA219",
    "Octotouch": "OctoPrint",
    "OctoTouch": "OctoPrint",
    "OctoPrint": "OctoPrint",
    "Heliotherm": "Heliotherm",
}

# Every key RTOC documents (section 5.6.3) or writes: `trigger` (2.1+), `rising` (2.0, converted
# to trigger), `errors`/`latest` (RTOC's own bookkeeping, dropped by the event engine).
GLOBAL_EVENT_KEYS = {
    "cond",
    "text",
    "return",
    "priority",
    "id",
    "trigger",
    "rising",
    "sname",
    "dname",
    "active",
    "errors",
    "latest",
}
GLOBAL_ACTION_KEYS = {"listenID", "parameters", "script", "active", "errors"}

# RTOC's backup section meant "copy memory to PostgreSQL/a file every `intervall` s"; here
# backup.active and backup.intervall mean "persist every sample" and "flush every N s".
# Copying RTOC's values would silently turn persistence off or delay it by minutes.
STORAGE_KEPT = {
    "backup.active": "RTOC's backup.active={value} meant 'no periodic copy of memory to "
    "PostgreSQL or a file'; rtoc-tui stores every sample as it arrives (SQLite in data/, or "
    "PostgreSQL), so storage stays on. Set backup.active false yourself to keep data in memory "
    "only (lost on restart).",
    "backup.intervall": "RTOC's backup.intervall={value} s was how often it copied memory to "
    "PostgreSQL; rtoc-tui's backup.intervall is how often new samples are flushed, kept at "
    "{ours:g} s so a crash loses at most that much.",
}

UNUSED_FILES = {
    "plotStyles.json": "signal styles (colours, symbols) of RTOC's Qt plots; the terminal plots choose their own colours",
    "telegramActions.json": "the Telegram bot is not supported",
    "telegram_clients.json": "the Telegram bot is not supported",
    "backup": "RTOC's local backup folder (never implemented by RTOC)",
}


def load_lenient_json(path: Path) -> tuple[Any, bool]:
    """Parse a JSON file, also accepting Python literals (True/False/None, single quotes).

    RTOC wrote real JSON, but its documentation shows these files with Python's True/False,
    and hand-written copies follow the docs. Returns (data, was_python_style).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MigrationError(f"{path}: cannot read: {exc}") from exc
    if not text.strip():
        return {}, False
    try:
        return json.loads(text), False
    except json.JSONDecodeError as exc:
        error = exc
    try:
        return ast.literal_eval(text), True
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise MigrationError(
            f"{path}: neither JSON nor Python literals (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None


def import_rtoc(
    source: Path,
    home: Home,
    *,
    overwrite: bool = False,
    dry_run: bool = False,
    keep_plugin_copies: bool = False,
) -> MigrationReport:
    """Import the RTOC user folder source into home; with dry_run, only report.

    RTOC's plugins for devices rtoc-tui has built-in drivers for are not copied, unless
    keep_plugin_copies (then one named like a built-in driver is copied as Name_rtoc).
    """
    source = Path(source).expanduser()
    if not source.is_dir():
        raise MigrationError(f"no RTOC user folder at {source}")
    report = MigrationReport(source.resolve(), home.root, dry_run)
    if not dry_run:
        home.ensure()
    # Our file must be valid before we touch anything: a broken one is never overwritten.
    try:
        cfg = from_json(Config, read_config_file(home.config_file))
    except ConfigError as exc:
        raise ConfigError(f"{home.config_file}: {exc}") from None

    known = {"config.json", "autorun_devices", "devices", "globalEvents.json", "globalActions.json"}
    config_file = source / "config.json"
    if config_file.is_file():
        _import_config(config_file, cfg, report)
    else:
        report.notes.append("no config.json in the RTOC folder: settings left as they were")
    copied = _import_devices(
        source / "devices",
        home,
        report,
        overwrite=overwrite,
        dry_run=dry_run,
        keep_builtin_copies=keep_plugin_copies,
    )
    autorun = _import_autorun(source / "autorun_devices", home, copied, report)
    for name in ("globalEvents.json", "globalActions.json"):
        if (source / name).is_file():
            _import_global_file(
                source / name, home.root / name, report, overwrite=overwrite, dry_run=dry_run
            )
    for entry in sorted(source.iterdir()):
        if entry.name in known or entry.name.startswith("."):
            continue
        why = UNUSED_FILES.get(entry.name, "not an RTOC file rtoc-tui uses")
        report.unused.append((entry.name + ("/" if entry.is_dir() else ""), why))

    if not dry_run:
        save_config(home.config_file, cfg)
        if autorun is not None:
            home.write_autorun(autorun)
    return report


def _import_config(path: Path, cfg: Config, report: MigrationReport) -> None:
    data, python_style = load_lenient_json(path)
    if not isinstance(data, dict):
        raise MigrationError(f"{path}: the top level must be an object")
    if python_style:
        report.notes.append("config.json: Python-style literals (True/False) read as JSON")
    report.taken.append("config.json")
    sectioned = any(isinstance(data.get(s), dict) for s in (*SAME_SECTIONS, "GUI"))
    if sectioned:
        for section, values in data.items():
            if section in SAME_SECTIONS and isinstance(values, dict):
                for key, value in values.items():
                    rtoc_key = f"{section}.{key}"
                    _map(rtoc_key, RENAMED.get(rtoc_key, rtoc_key), value, cfg, report)
            elif section == "GUI" and isinstance(values, dict):
                for key, value in values.items():
                    _map_gui(f"GUI.{key}", key, value, cfg, report)
            else:
                report.unused.append((f"{section}", "not a section rtoc-tui knows"))
    else:
        report.notes.append("config.json has RTOC's early flat layout")
        for key, value in data.items():
            _map_gui(key, key, value, cfg, report, flat=True)
    if cfg.tcp.active:
        report.notes.append(
            "RTOC's TCP server listened on every interface; rtoc-tui binds tcp.host "
            f"{cfg.tcp.host}. Attach through 'ssh -L 5050:127.0.0.1:5050', or set tcp.host "
            "0.0.0.0 (with a password) for remote clients."
        )
    if cfg.telegram.active:
        report.notes.append("telegram.active is set, but rtoc-tui has no Telegram bot: ignored")


def _map_gui(
    rtoc_key: str, key: str, value: Any, cfg: Config, report: MigrationReport, *, flat: bool = False
) -> None:
    target = (FLAT_KEYS if flat else GUI_KEYS).get(key)
    if target is not None:
        _map(rtoc_key, target, value, cfg, report)
    elif key == "darkmode" and isinstance(value, bool):
        _map(rtoc_key, "tui.theme", "textual-dark" if value else "textual-light", cfg, report)
    else:
        report.unused.append((f"{rtoc_key}", "Qt GUI option with no terminal equivalent"))


def _map(rtoc_key: str, key: str, value: Any, cfg: Config, report: MigrationReport) -> None:
    if key in STORAGE_KEPT:
        ours = getattr(cfg.backup, key.split(".", 1)[1])
        if value != ours and not (key == "backup.active" and value):
            report.notes.append(STORAGE_KEPT[key].format(value=value, ours=ours))
            report.unused.append((rtoc_key, "kept rtoc-tui's value, see the note below"))
            return
    if key in WHY_UNUSED:
        report.unused.append((f"{rtoc_key}", WHY_UNUSED[key]))
        return
    try:
        lookup_field(key)
    except ConfigError:
        report.unused.append((f"{rtoc_key}", "no such setting in rtoc-tui"))
        return
    if key == "tcp.knownHosts" and isinstance(value, list):
        # Old RTOC kept a list of hosts; RTOC 2.1+ converts it to {host: [name, password]}.
        value = {str(h): ["RenameDevice", ""] for h in value}
    try:
        # RTOC wrote some numbers as strings (postgresql.port "5432"): convert those.
        typed = set_value(cfg, key, value)
    except ConfigError as exc:
        report.unused.append((f"{rtoc_key}", f"invalid value: {exc}"))
        return
    report.mapped.append((rtoc_key, key, typed))


def _import_devices(
    src: Path,
    home: Home,
    report: MigrationReport,
    *,
    overwrite: bool,
    dry_run: bool,
    keep_builtin_copies: bool = False,
    renamed: dict[str, str] | None = None,
) -> set[str]:
    """Copy RTOC plugin folders (devices/Name/Name.py) and files; returns the plugin names.

    RTOC's plugins for devices rtoc-tui has built in are left out (or, with
    keep_builtin_copies, copied as Name_rtoc; `renamed` receives old -> new names).
    """
    from ..core.devices import discover

    renamed = {} if renamed is None else renamed
    builtin_names = set(discover(None))  # built-in and installed drivers
    names: set[str] = set()
    if not src.is_dir():
        return names
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    for entry in sorted(src.iterdir()):
        if entry.name.startswith((".", "__")):
            continue
        is_plugin = (entry.is_dir() and (entry / f"{entry.name}.py").is_file()) or (
            entry.is_file() and entry.suffix == ".py"
        )
        if not is_plugin:
            report.unused.append((f"devices/{entry.name}", "not a plugin (devices/Name/Name.py)"))
            continue
        name = entry.stem if entry.is_file() else entry.name
        builtin = BUILTIN_EQUIVALENTS.get(name) or (name if name in builtin_names else None)
        label = f"devices/{entry.name}" + ("/" if entry.is_dir() else "")
        shadows = name in builtin_names
        if builtin is not None and not keep_builtin_copies:
            # RTOC's copy of a device we ship: under the built-in's name it would replace the
            # working driver, and RTOC's versions need its Qt GUI or old libraries.
            report.unused.append(
                (
                    label,
                    f"RTOC's plugin for a device the built-in {builtin} driver reads; not copied"
                    + (f" (it would replace the built-in {builtin})" if shadows else "")
                    + ". --keep-plugin-copies copies it"
                    + (f" as devices/{_copy_name(entry.name)}" if shadows else ""),
                )
            )
            continue
        if shadows:
            new_name = _copy_name(name)
            dest = home.devices_dir / _copy_name(entry.name)
            report.notes.append(
                f"{label} copied as devices/{dest.name}: under its own name it would replace the "
                f"built-in {name} driver. Start it as {new_name}."
            )
            renamed[name] = new_name
            names.add(new_name)
            report.taken.append(f"{label} -> devices/{dest.name}")
            if not dry_run:
                _copy_plugin(entry, dest, name, new_name, ignore)
            continue
        dest = home.devices_dir / entry.name
        label = f"devices/{entry.name}" + ("/" if entry.is_dir() else "")
        if dest.exists() and not overwrite:
            if _same_tree(entry, dest):
                names.add(name)
                report.notes.append(f"{label} is already in {home.devices_dir} (identical)")
            else:
                report.unused.append((label, f"{dest} exists and differs; --overwrite replaces it"))
            continue
        names.add(name)
        report.taken.append(label)
        if dry_run:
            continue
        home.devices_dir.mkdir(parents=True, exist_ok=True)
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        elif dest.exists():
            dest.unlink()
        if entry.is_dir():
            shutil.copytree(entry, dest, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(entry, dest)
    return names


def _copy_name(name: str) -> str:
    """devices/Generator -> devices/Generator_rtoc (Generator.py -> Generator_rtoc.py)."""
    stem, dot, ext = name.partition(".") if name.endswith(".py") else (name, "", "")
    return f"{stem}_rtoc{dot}{ext}"


def _copy_plugin(src: Path, dest: Path, name: str, new_name: str, ignore: Any) -> None:
    """Copy a plugin under a new name (its main module renamed along with the folder)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_dir() and not dest.is_symlink():
        shutil.rmtree(dest)
    elif dest.exists():
        dest.unlink()
    if src.is_file():
        shutil.copy2(src, dest)
        return
    shutil.copytree(src, dest, symlinks=True, ignore=ignore)
    (dest / f"{name}.py").rename(dest / f"{new_name}.py")


def _same_tree(a: Path, b: Path) -> bool:
    if a.is_file() and b.is_file():
        return filecmp.cmp(a, b, shallow=False)
    if not (a.is_dir() and b.is_dir()):
        return False
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])

    def same(c: filecmp.dircmp[str]) -> bool:
        _match, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
        if c.left_only or c.right_only or mismatch or errors:
            return False
        return all(same(sub) for sub in c.subdirs.values())

    return same(cmp)


def _import_autorun(
    path: Path, home: Home, copied: set[str], report: MigrationReport
) -> list[str] | None:
    """RTOC's autorun list, with plugin names mapped to our built-in drivers where needed."""
    if not path.is_file():
        return None
    from ..core.devices import discover

    available = set(discover(home.devices_dir)) | copied
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MigrationError(f"{path}: cannot read: {exc}") from exc
    report.taken.append("autorun_devices")
    names: list[str] = []
    for line in lines:
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        builtin = BUILTIN_EQUIVALENTS.get(name)
        if name in copied:
            target = name
            if builtin and builtin != name:
                report.notes.append(
                    f"autorun {name}: runs your RTOC plugin; the built-in driver {builtin} does the same"
                )
        elif name in available:
            target = name
        elif builtin and builtin in available:
            target = builtin
            report.mapped.append((f"autorun_devices: {name}", f"built-in driver {builtin}", None))
        else:
            report.unused.append(
                (
                    f"autorun_devices: {name}",
                    "no such driver here (its plugin folder is not in devices/)",
                )
            )
            continue
        if target not in names:
            names.append(target)
    report.autorun = names
    return names


def _import_global_file(
    src: Path, dest: Path, report: MigrationReport, *, overwrite: bool, dry_run: bool
) -> None:
    """Copy globalEvents.json/globalActions.json as validated JSON."""
    data, python_style = load_lenient_json(src)
    kind = "event" if src.name == "globalEvents.json" else "action"
    allowed = GLOBAL_EVENT_KEYS if kind == "event" else GLOBAL_ACTION_KEYS
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        report.unused.append((src.name, f"expected an object of named {kind}s"))
        return
    from ..scripting.automation import (
        SpecError,
        convert_old_event_keys,
        normalise_action,
        normalise_event,
    )

    for name, entry in list(data.items()):
        odd = sorted(set(entry) - allowed)
        if odd:
            report.notes.append(f"{src.name}: {kind} {name!r} has unknown keys {', '.join(odd)}")
        if kind == "event" and "rising" in entry:
            converted = convert_old_event_keys(entry)
            report.notes.append(
                f"{src.name}: event {name!r}: RTOC 2.0's rising={entry['rising']!r} converted "
                f"to trigger={converted['trigger']!r}"
            )
            data[name] = entry = converted
        if kind == "action" and isinstance(entry.get("listenID"), str):
            entry["listenID"] = [entry["listenID"]]  # RTOC accepted a single ID as a string
        try:
            (normalise_event if kind == "event" else normalise_action)(entry)
        except SpecError as exc:
            report.notes.append(
                f"{src.name}: {kind} {name!r} will not run until fixed: {exc} (the logger reports it "
                "at start and runs the others)"
            )
    text = json.dumps(data, indent=4, ensure_ascii=False) + "\n"
    if dest.exists() and not overwrite:
        try:
            ours = json.loads(dest.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            ours = None
        if ours not in ({}, data):
            report.unused.append((src.name, f"{dest} already has {kind}s; --overwrite replaces it"))
            return
    if python_style:
        report.notes.append(f"{src.name}: Python-style literals (True/False) converted to JSON")
    report.taken.append(f"{src.name} ({len(data)} {kind}{'s' if len(data) != 1 else ''})")
    if not dry_run:
        atomic_write_text(dest, text)
