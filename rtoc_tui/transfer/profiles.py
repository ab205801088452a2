"""Named import mappings (RTOC's `csv_profiles`), kept in `csv_profiles.json` in the user folder.

RTOC kept them in its GUI settings under `csv_profiles`; here they are a file of their own:
`{"name": {"format": "csv", "columns": [...], "sheet": ..., "mapping": {...}, "saved": t}}`.
A profile matches a table of the same shape (same format and column names); the import screen
and `rtoc import` offer matching profiles first. Imports no part of the logger.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from .mapping import CsvMapping
from .table import ImportFileError, Table

FILE_NAME = "csv_profiles.json"


@dataclass(frozen=True)
class Profile:
    """A saved mapping and the shape of the file it was made for."""

    name: str
    format: str
    columns: tuple[str, ...]
    mapping: CsvMapping

    def matches(self, fmt: str, table: Table) -> bool:
        return self.format == fmt and list(self.columns) == table.shape_key()


class Profiles:
    """The profile file of one user folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_home(cls, root: Path) -> Profiles:
        return cls(root / FILE_NAME)

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ImportFileError(
                f"{self.path}: cannot read the import profiles ({exc}); fix or delete the file"
            ) from exc
        if not isinstance(data, dict):
            raise ImportFileError(f"{self.path}: not a JSON object of profiles")
        return data

    def all(self) -> list[Profile]:
        out = []
        for name, p in self._load().items():
            if not isinstance(p, dict) or not isinstance(p.get("mapping"), dict):
                continue  # RTOC's own entries or a hand-edited one: not ours to interpret
            out.append(
                Profile(
                    name,
                    str(p.get("format", "")),
                    tuple(str(c) for c in p.get("columns", [])),
                    CsvMapping.from_json(p["mapping"]),
                )
            )
        return out

    def get(self, name: str) -> Profile:
        for p in self.all():
            if p.name == name:
                return p
        names = [p.name for p in self.all()]
        raise ImportFileError(
            f"no import profile named {name!r} in {self.path}"
            + (f" (profiles: {', '.join(names)})" if names else " (none saved yet)")
        )

    def matching(self, fmt: str, table: Table) -> list[Profile]:
        """Profiles made for files of this shape, newest first."""
        return [p for p in reversed(self.all()) if p.matches(fmt, table)]

    def save(self, name: str, fmt: str, table: Table, mapping: CsvMapping) -> Profile:
        """Save (or replace) a profile; the file is written atomically."""
        name = name.strip()
        if not name:
            raise ImportFileError("a profile needs a name")
        data = self._load()
        data.pop(name, None)  # re-saved profiles move to the end (newest)
        data[name] = {
            "format": fmt,
            "columns": table.shape_key(),
            "sheet": mapping.sheet,
            "mapping": mapping.to_json(),
            "saved": time.time(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(data, indent=1, ensure_ascii=False))
        return Profile(name, fmt, tuple(table.shape_key()), mapping)

    def delete(self, name: str) -> None:
        data = self._load()
        if data.pop(name, None) is not None:
            atomic_write_text(self.path, json.dumps(data, indent=1, ensure_ascii=False))
