"""Sessions: a logger's signals, events, scripts and settings (without secrets) in one JSON file.

The file is RTOC 3.0's session JSON (`maxLength`, `devices`, `signals`, `events`, as
RT_data.generateSessionJSON wrote it) plus our keys `format`, `scripts` and `settings`, so
RTOC opens our sessions and we open RTOC's. RTOC 1.x/2.x sessions (`data`: {"Dev.Sig":
[x, y, unit]}, `events`: {"Dev.Sig": [..., ...]}, `scripts`) load too.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from ..config.schema import is_secret, mask_tree
from .exporter import ExportError, select, write_session_json
from .imported import Imported, ImportedEvent, ImportedSignal, ImportResult, import_into_logger
from .progress import NullProgress, ProgressSink
from .sources import LoggerSource

if TYPE_CHECKING:
    from ..config.home import Home
    from ..core.logger import Logger


class SessionError(ValueError):
    """The file is not a session we can read; the message says why."""


def settings_without_secrets(config_json: dict[str, Any]) -> dict[str, Any]:
    """config.json content with every secret blanked, at any depth ("" or {}: a session
    loaded elsewhere must not write a mask into config.json)."""
    result: dict[str, Any] = mask_tree(config_json, "", lambda v: type(v)())
    return result


def read_scripts(home: Home) -> dict[str, str]:
    """The user's scripts (scripts/*.py) by file name."""
    if not home.scripts_dir.is_dir():
        return {}
    return {
        p.name: p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(home.scripts_dir.glob("*.py"))
    }


def save_session(
    logger: Logger,
    path: str | Path,
    *,
    names: list[str] | None = None,
    full: bool = False,
    progress: ProgressSink | None = None,
) -> Path:
    """Save signals (memory, or with full=True everything stored), events, scripts and settings."""
    path = Path(path)
    source = LoggerSource(logger, full=full)
    try:
        sigs = select(source, names)
    except ExportError as exc:
        raise SessionError(str(exc)) from exc
    extra = {
        "created": time.time(),
        "name": logger.config.global_.name,
        "scripts": read_scripts(logger.home),
        "settings": settings_without_secrets(logger.config.to_json()),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    try:
        write_session_json(
            tmp,
            source,
            sigs,
            None,
            None,
            progress or NullProgress(),
            extra,
            logger.store.record_length,
        )
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_session(
    logger: Logger,
    path: str | Path,
    *,
    apply_settings: bool = False,
    progress: ProgressSink | None = None,
) -> ImportResult:
    """Load a session (ours or RTOC's) into a running logger; scripts land in scripts/."""
    data = read_session(path, progress)
    res = import_into_logger(logger, data, progress)
    written = write_scripts(logger.home, data.scripts)
    applied = False
    if apply_settings and data.settings:
        apply_session_settings(logger.home, data.settings)
        applied = True
    return ImportResult(res.signals, res.samples, res.events, tuple(written), applied, res.dropped)


def write_scripts(home: Home, scripts: dict[str, str]) -> list[str]:
    """Save session scripts into scripts/, never overwriting a different file of the same name."""
    written = []
    home.scripts_dir.mkdir(parents=True, exist_ok=True)
    for name, source in scripts.items():
        stem = re.sub(r"[^A-Za-z0-9_. -]+", "_", Path(name).stem) or "script"
        target = home.scripts_dir / f"{stem}.py"
        k = 1
        while target.exists() and target.read_text(encoding="utf-8", errors="replace") != source:
            target = home.scripts_dir / f"{stem}-{k}.py"
            k += 1
        if not target.exists():
            target.write_text(source, encoding="utf-8")
            written.append(target.name)
    return written


def apply_session_settings(home: Home, settings: dict[str, Any]) -> None:
    """Write a session's settings into config.json (secrets stay as they are)."""
    from ..config.home import update_config_file

    updates = {}
    for section, values in settings.items():
        if section == "devices" or not isinstance(values, dict):
            continue
        for name, value in values.items():
            key = f"{section}.{name}"
            if not is_secret(key):
                updates[key] = value
    update_config_file(home.config_file, updates)


# -- reading ---------------------------------------------------------------------------------------
def read_session(path: str | Path, progress: ProgressSink | None = None) -> Imported:
    """Parse a session file written by rtoc-tui, RTOC 3.x or RTOC 1.x/2.x."""
    path = Path(path)
    progress = progress or NullProgress()
    progress.start(f"Reading {path.name}", None)
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise SessionError(f"{path}: not valid JSON ({exc})") from exc
    except OSError as exc:
        raise SessionError(f"{path}: cannot read ({exc})") from exc
    progress.finish()
    if not isinstance(data, dict):
        raise SessionError(f"{path}: not an RTOC session (the top level is not an object)")
    if isinstance(data.get("signals"), dict):
        out = _read_rtoc3(data, path)
    elif isinstance(data.get("data"), dict):
        out = _read_rtoc2(data, path)
    else:
        raise SessionError(f"{path}: not an RTOC session (no 'signals' or 'data' key)")
    out.scripts = _read_scripts(data.get("scripts"))
    if isinstance(data.get("settings"), dict):
        out.settings = data["settings"]
    return out


def _floats(values: Any, what: str) -> np.ndarray:
    try:
        return np.asarray(values if values is not None else [], dtype=float).reshape(
            -1
        )  # null -> NaN
    except (TypeError, ValueError) as exc:
        raise SessionError(f"{what}: not a list of numbers ({exc})") from exc


def _read_rtoc3(data: dict[str, Any], path: Path) -> Imported:
    devices = {str(k): str(v) for k, v in (data.get("devices") or {}).items()}
    out = Imported(
        source_format="rtoc-tui" if data.get("format") == "rtoc-tui-session" else "rtoc3"
    )
    by_id: dict[str, tuple[str, str]] = {}
    for sid, sig in data["signals"].items():
        if not isinstance(sig, list) or len(sig) < 4:
            raise SessionError(f"{path}: signal {sid} is not [deviceID, name, x, y, unit]")
        dname = devices.get(str(sig[0]), "noDevice")
        sname = str(sig[1])
        by_id[str(sid)] = (dname, sname)
        x = _floats(sig[2], f"{path}: signal {dname}.{sname} x")
        y = _floats(sig[3], f"{path}: signal {dname}.{sname} y")
        if len(x) != len(y):
            raise SessionError(
                f"{path}: signal {dname}.{sname} has {len(x)} x but {len(y)} y values"
            )
        unit = sig[4] if len(sig) > 4 else ""
        unit = (
            unit[-1] if isinstance(unit, list) and unit else unit
        )  # RTOC sometimes kept a unit list
        if len(x):
            out.signals.append(ImportedSignal(dname, sname, str(unit or ""), x, y))
    for eid, ev in (data.get("events") or {}).items():
        # [DEVICE_ID, SIGNAL_ID, EVENT_ID, TEXT, TIME, VALUE, PRIORITY, ID]
        if not isinstance(ev, list) or len(ev) < 5:
            raise SessionError(
                f"{path}: event {eid} is not [deviceID, signalID, eventID, text, x, ...]"
            )
        dname, sname = by_id.get(str(ev[1]), (devices.get(str(ev[0]), "noDevice"), "noSignal"))
        out.events.append(
            ImportedEvent(
                x=float(ev[4]),
                text=str(ev[3]),
                dname=dname,
                sname=sname,
                priority=int(ev[6]) if len(ev) > 6 and ev[6] is not None else 0,
                id=str(ev[7]) if len(ev) > 7 and ev[7] is not None else "",
                value=ev[5] if len(ev) > 5 else None,
            )
        )
    return out


def _read_rtoc2(data: dict[str, Any], path: Path) -> Imported:
    out = Imported(source_format="rtoc2")
    for name, sig in data["data"].items():
        dname, _, sname = str(name).partition(".")
        if not isinstance(sig, list) or len(sig) < 2:
            raise SessionError(f"{path}: signal {name} is not [x, y, unit]")
        x = _floats(sig[0], f"{path}: signal {name} x")
        y = _floats(sig[1], f"{path}: signal {name} y")
        unit = sig[2] if len(sig) > 2 else ""
        unit = unit[-1] if isinstance(unit, list) and unit else unit
        if len(x) != len(y):
            raise SessionError(f"{path}: signal {name} has {len(x)} x but {len(y)} y values")
        if len(x):
            out.signals.append(ImportedSignal(dname, sname or dname, str(unit or ""), x, y))
    for name, lists in (data.get("events") or {}).items():
        dname, _, sname = str(name).partition(".")
        if not isinstance(lists, list) or len(lists) < 2 or not lists[0]:
            continue
        # RTOC 2.x kept [x values, texts] per signal (the order varied between versions)
        a, b = lists[0], lists[1]
        xs, texts = (a, b) if all(isinstance(v, (int, float)) for v in a) else (b, a)
        for xv, text in zip(xs, texts, strict=False):
            out.events.append(ImportedEvent(x=float(xv), text=str(text), dname=dname, sname=sname))
    return out


def _read_scripts(scripts: Any) -> dict[str, str]:
    if isinstance(scripts, dict):
        return {str(k): str(v) for k, v in scripts.items()}
    if isinstance(scripts, str) and scripts.strip():
        return {"session_script.py": scripts}
    if isinstance(scripts, list):
        return {
            f"session_script_{i + 1}.py": str(s) for i, s in enumerate(scripts) if str(s).strip()
        }
    return {}
