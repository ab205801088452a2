"""Global events (globalEvents.json) and global actions (globalActions.json), RTOC's format.

An event {cond, text, priority, id, trigger, sname, dname, active, return} is recorded when its
condition, evaluated after new data on a signal it references, changes the way `trigger` asks
(rising, falling, both) or on every evaluation while it is true ("true") or false ("false").
An action {listenID, script, active, parameters} runs its script whenever an event with one of
those ids is recorded (global events and plugin/script events alike, as in RTOC).

Each entry is validated on its own: a broken one is reported (name and reason) and skipped, the
others work. Files are saved atomically and never over a file that could not be read.
"""

from __future__ import annotations

import ast
import copy
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from . import translator as tr

log = logging.getLogger("rtoc.automation")

TRIGGERS = ("rising", "falling", "both", "true", "false")
EVENT_DEFAULTS: dict[str, Any] = {
    "cond": "",
    "text": "",
    "return": " ",
    "priority": 0,
    "id": "",
    "trigger": "rising",
    "sname": "",
    "dname": "",
    "active": True,
}
ACTION_DEFAULTS: dict[str, Any] = {"listenID": [], "parameters": "", "script": "", "active": True}
# RTOC writes its in-memory bookkeeping into the files; accepted and dropped
IGNORED_KEYS = frozenset({"errors", "latest", "error"})
MAX_NAME = 100


class SpecError(ValueError):
    """An event or action entry is invalid; the message says which field and why."""


def check_name(name: Any, kind: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise SpecError(f"{kind} name must be a non-empty string of at most {MAX_NAME} characters")
    return name


def _fields(raw: Any, defaults: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise SpecError(f"must be an object with the fields {', '.join(defaults)}")
    unknown = sorted(k for k in raw if k not in defaults and k not in IGNORED_KEYS)
    if unknown:
        raise SpecError(
            f"unknown field(s) {', '.join(map(repr, unknown))} (known: {', '.join(defaults)})"
        )
    out = dict(defaults)
    out.update({k: v for k, v in raw.items() if k in defaults})
    return out


def _expect(spec: dict[str, Any], key: str, tp: type, what: str) -> None:
    value = spec[key]
    if not isinstance(value, tp) or (isinstance(value, bool) and tp is not bool):
        raise SpecError(f"field {key!r} must be {what}, not {value!r}")


def convert_old_event_keys(raw: Mapping[str, Any]) -> dict[str, Any]:
    """RTOC 2.0's `rising` flag as the later `trigger` key (a `trigger` given as well wins).

    `rising: true` fired on the false->true change ("rising"); `rising: false` fired at every
    evaluation while the condition held ("true").
    """
    out = dict(raw)
    if "rising" in out:
        rising = out.pop("rising")
        if "trigger" not in out:
            out["trigger"] = "rising" if rising else "true"
    return out


def normalise_event(raw: Any) -> dict[str, Any]:
    """Validate a global event (defaults for missing fields); raises SpecError."""
    if isinstance(raw, Mapping):
        raw = convert_old_event_keys(raw)
    spec = _fields(raw, EVENT_DEFAULTS)
    for key in ("cond", "text", "id", "sname", "dname"):
        if spec[key] is None:
            spec[key] = ""
        _expect(spec, key, str, "a string")
    _expect(spec, "active", bool, "true or false")
    if isinstance(spec["priority"], str) and spec["priority"].strip().isdigit():
        spec["priority"] = int(spec["priority"])
    _expect(spec, "priority", int, "0, 1 or 2")
    if spec["priority"] not in (0, 1, 2):
        raise SpecError(f"field 'priority' must be 0, 1 or 2, not {spec['priority']!r}")
    trigger = spec["trigger"]
    if isinstance(trigger, bool):  # RTOC's GUI could store the "true"/"false" modes as booleans
        trigger = "true" if trigger else "false"
    if not isinstance(trigger, str) or trigger.lower() not in TRIGGERS:
        raise SpecError(f"field 'trigger' must be one of {', '.join(TRIGGERS)}, not {trigger!r}")
    spec["trigger"] = trigger.lower()
    if not spec["cond"].strip():
        raise SpecError("field 'cond' (the condition) is empty")
    return spec


def normalise_action(raw: Any) -> dict[str, Any]:
    """Validate a global action (defaults for missing fields); raises SpecError."""
    spec = _fields(raw, ACTION_DEFAULTS)
    ids = spec["listenID"]
    if isinstance(ids, str):  # RTOC accepts a single id
        ids = [ids]
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise SpecError(f"field 'listenID' must be a list of event ids, not {spec['listenID']!r}")
    spec["listenID"] = list(ids)
    _expect(spec, "script", str, "a string")
    _expect(spec, "active", bool, "true or false")
    return spec


@dataclass
class CompiledEvent:
    """A valid global event with its compiled condition and trigger state."""

    name: str
    spec: dict[str, Any]
    translation: tr.Translation
    keys: tuple[tuple[str, str], ...]  # signals whose new data re-evaluates the condition
    latest: bool | None = None  # the condition's previous value (None: not evaluated yet)
    last_error: str | None = None  # reported once until the condition works again

    def fires(self, value: bool) -> bool:
        """Whether this evaluation records the event (and updates the trigger state)."""
        before, self.latest = self.latest, value
        trigger = self.spec["trigger"]
        if trigger == "true":
            return value
        if trigger == "false":
            return not value
        rising = value and before is not True
        falling = not value and before is True
        if trigger == "rising":
            return rising
        if trigger == "falling":
            return falling
        return rising or falling


@dataclass
class CompiledAction:
    """A valid global action with its compiled script."""

    name: str
    spec: dict[str, Any]
    translation: tr.Translation


def compile_event(name: str, spec: dict[str, Any], known: frozenset[str]) -> CompiledEvent:
    """Compile a normalised event's condition; raises SpecError."""
    try:
        t = tr.translate(spec["cond"], name, mode="eval", known=known)
    except tr.TranslationError as exc:
        raise SpecError(f"condition {spec['cond']!r}: {exc.message}") from None
    keys = tuple(sorted(t.refs))
    if not keys:
        raise SpecError(
            f"condition {spec['cond']!r} references no signal (Device.Signal), so it would never be evaluated"
        )
    return CompiledEvent(name, spec, t, keys)


def compile_action(name: str, spec: dict[str, Any], known: frozenset[str]) -> CompiledAction:
    """Compile a normalised action's script; raises SpecError."""
    try:
        t = tr.translate(spec["script"], f"action {name}", known=known)
    except tr.TranslationError as exc:
        raise SpecError(f"script: {exc}") from None
    return CompiledAction(name, spec, t)


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


@dataclass
class SpecFile:
    """globalEvents.json or globalActions.json: raw entries, per-entry errors, atomic saves."""

    path: Path
    kind: str  # "global event" | "global action"
    validate: Callable[[str, Any], Any]  # (name, raw) -> compiled entry; raises SpecError
    raw: dict[str, Any] = field(default_factory=dict)  # entries as the file holds them
    compiled: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    broken: str | None = None  # why the whole file could not be read
    loaded: bool = False
    _signature: tuple[int, int, int] | None = None

    def load(self) -> list[str]:
        """(Re)read the file; returns the problems found, one message each."""
        self.loaded = True
        self._signature = _signature(self.path)
        self.raw, self.compiled, self.errors, self.broken = {}, {}, {}, None
        if not self.path.exists():
            return []
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            self.broken = f"cannot read: {exc}"
            return [f"{self.path.name}: {self.broken}"]
        data, self.broken = _parse(text)
        if self.broken is not None:
            return [
                f"{self.path.name}: {self.broken}; nothing in it is active and it is not overwritten until fixed"
            ]
        problems = []
        for name, entry in data.items():
            self.raw[name] = entry
            reason = self._compile(name, entry)
            if reason is not None:
                problems.append(f"{self.kind} {name!r}: {reason}")
        return problems

    def _compile(self, name: str, entry: Any) -> str | None:
        try:
            self.compiled[name] = self.validate(check_name(name, self.kind), entry)
        except SpecError as exc:
            self.errors[name] = str(exc)
            return str(exc)
        return None

    def changed_on_disk(self) -> bool:
        return _signature(self.path) != self._signature

    def set(self, name: str, entry: Any) -> None:
        """Add, replace (entry) or remove (None) one entry and save the file atomically."""
        check_name(name, self.kind)
        if self.broken is not None:
            raise SpecError(
                f"{self.path.name} could not be read ({self.broken}); fix or remove it first"
            )
        if entry is None:
            if name not in self.raw:
                raise SpecError(f"no {self.kind} named {name!r}")
            del self.raw[name]
            self.compiled.pop(name, None)
            self.errors.pop(name, None)
        else:
            compiled = self.validate(
                name,
                {k: v for k, v in dict(entry).items() if k not in IGNORED_KEYS}
                if isinstance(entry, Mapping)
                else entry,
            )
            self.raw[name] = dict(compiled.spec)
            self.compiled[name] = compiled
            self.errors.pop(name, None)
        atomic_write_text(self.path, json.dumps(self.raw, indent=4, ensure_ascii=False) + "\n")
        self._signature = _signature(self.path)

    def view(self) -> dict[str, dict[str, Any]]:
        """Every entry with RTOC's `errors` flag and an `error` reason (empty when valid)."""
        out = {}
        for name, entry in self.raw.items():
            compiled = self.compiled.get(name)
            source = compiled.spec if compiled is not None else entry
            base = copy.deepcopy(dict(source)) if isinstance(source, Mapping) else {"value": source}
            error = self.errors.get(name, "")
            base["errors"] = bool(error)
            base["error"] = error
            out[name] = base
        return out


def _parse(text: str) -> tuple[dict[str, Any], str | None]:
    """JSON, or the Python-literal form RTOC's documentation shows (True, 'single quotes')."""
    if not text.strip():
        return {}, None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        try:
            data = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return {}, f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        log.info(
            "read a Python-literal (not strict JSON) file; it is rewritten as JSON when edited"
        )
    if not isinstance(data, dict):
        return {}, "the top level must be an object {name: {...}}"
    return data, None
