"""Persistent plugin variables (RTOC's createPersistentVariable), one JSON file per logger."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text

log = logging.getLogger(__name__)


class PersistentStore:
    """{device: {name: value}} kept in a JSON file, written atomically on every change."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, dict[str, Any]] = {}
        if path is not None and path.exists():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(loaded, dict):
                    self._data = {str(k): dict(v) for k, v in loaded.items() if isinstance(v, dict)}
            except (OSError, ValueError) as exc:
                log.error(
                    "%s is unreadable (%s); persistent variables start empty and the file is left as it is",
                    path,
                    exc,
                )
                self.path = None  # never overwrite a broken file

    def load(self, dname: str, name: str, fallback: Any = None) -> Any:
        with self._lock:
            return self._data.get(dname, {}).get(name, fallback)

    def init(self, dname: str, name: str, value: Any) -> Any:
        with self._lock:
            dev = self._data.setdefault(dname, {})
            if name in dev:
                return dev[name]
            dev[name] = value
        self._write()
        return value

    def save(self, dname: str, name: str, value: Any) -> None:
        with self._lock:
            self._data.setdefault(dname, {})[name] = value
        self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        with self._lock:
            try:
                text = json.dumps(self._data, indent=2, default=str)
            except (TypeError, ValueError) as exc:
                log.error("persistent variables not saved: %s", exc)
                return
        try:
            atomic_write_text(self.path, text)
        except OSError as exc:
            log.error("persistent variables not saved to %s: %s", self.path, exc)
