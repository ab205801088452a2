"""The user folder (RTOC's document tree, lower-case) and loading/saving config.json.

Precedence: command-line flags, then RTOC_* environment variables (RTOC_TCP_PORT=5051 sets
tcp.port), then config.json, then the schema defaults. `provenance` says where each value came
from. A broken config.json is never overwritten: loading it raises ConfigError.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from .schema import (
    Config,
    ConfigError,
    check_limits,
    check_value,
    from_json,
    iter_fields,
    lookup_field,
    parse_text_value,
)

log = logging.getLogger("rtoc.home")

DEFAULT_AUTORUN = ["Generator"]
ENV_PREFIX = "RTOC_"


class FolderBusy(RuntimeError):
    """Another logger runs on this user folder; the message names it."""

    def __init__(self, root: Path, holder: dict[str, Any]) -> None:
        started = holder.get("started")
        since = (
            time.strftime(" since %Y-%m-%d %H:%M:%S", time.localtime(started))
            if isinstance(started, (int, float))
            else ""
        )
        pid = holder.get("pid", "?")
        super().__init__(
            f"another logger is already running on {root} (PID {pid}{since}); stop it first "
            f"(`kill {pid}` stops it cleanly), or use another folder with --home"
        )
        self.holder = holder


class FolderLock:
    """One logger per user folder: an exclusive flock on rtoc.lock, which holds the PID.

    The kernel drops the lock when its process dies, however it dies, so a lock file left by a
    crashed logger (its PID gone, or reused) is stale by construction: taking it just works.
    """

    def __init__(self, home: Home) -> None:
        self.home = home
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise FolderBusy naming the running logger."""
        import fcntl

        path = self.home.lock_file
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise FolderBusy(self.home.root, self.holder() or {}) from None
        old = _read_lock(path)
        if old.get("pid") and old.get("pid") != os.getpid():
            log.info("user folder lock of PID %s was stale (that logger is gone)", old["pid"])
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "started": time.time()}).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        finally:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def holder(self) -> dict[str, Any] | None:
        """{'pid', 'started'} of the logger holding the lock, or None if nobody does."""
        import fcntl

        path = self.home.lock_file
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_lock(path) or {"pid": "?"}
        else:
            return None
        finally:
            os.close(fd)  # also drops the shared lock we may have taken


def _read_lock(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def resolve_home(cli_home: str | Path | None = None) -> Path:
    """--home, else $RTOC_HOME, else ~/.rtoc."""
    if cli_home:
        return Path(cli_home).expanduser().resolve()
    env = os.environ.get("RTOC_HOME")
    if env:
        return Path(env).expanduser().resolve()
    return Path.home() / ".rtoc"


@dataclass
class Home:
    """Paths of one user folder."""

    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / "config.json"

    @property
    def devices_dir(self) -> Path:
        return self.root / "devices"

    @property
    def autorun_file(self) -> Path:
        return self.root / "autorun_devices"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def exports_dir(self) -> Path:
        """Where the TCP server writes exports asked for by clients (never outside it)."""
        return self.root / "exports"

    @property
    def token_file(self) -> Path:
        """The per-install token that authenticates local clients for privileged operations
        (mode 0600: only the logger's user can read it; see docs/protocol.md)."""
        return self.root / "auth_token"

    @property
    def replay_file(self) -> Path:
        """Nonces of accepted encrypted frames: replays stay refused after a restart."""
        return self.root / "replay_nonces"

    def auth_token(self, create: bool = False) -> str | None:
        """The per-install token; with create=True it is made on first use. None if missing or
        unreadable (another user's logger: that user's token is not ours to read)."""
        path = self.token_file
        if create and not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            try:  # O_EXCL and mode 0600 from the start: never readable by others, not even briefly
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w", encoding="ascii") as f:
                    f.write(secrets.token_urlsafe(32) + "\n")
        try:
            if create and os.name == "posix" and path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)  # someone loosened it: the token must stay the user's
            token = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return token or None

    @property
    def scripts_dir(self) -> Path:
        return self.root / "scripts"

    @property
    def global_events_file(self) -> Path:
        return self.root / "globalEvents.json"

    @property
    def global_actions_file(self) -> Path:
        return self.root / "globalActions.json"

    @property
    def persistent_file(self) -> Path:
        return self.root / "persistent.json"

    @property
    def status_file(self) -> Path:
        return self.root / "status.json"

    @property
    def lock_file(self) -> Path:
        """Held (flock) by the logger running on this folder; holds its PID (FolderLock)."""
        return self.root / "rtoc.lock"

    def ensure(self) -> bool:
        """Create the tree on first run; returns True if this was the first run."""
        first = not self.root.exists() or not self.config_file.exists()
        for d in (self.root, self.devices_dir, self.data_dir, self.scripts_dir):
            d.mkdir(parents=True, exist_ok=True)
        if not self.config_file.exists():
            atomic_write_text(self.config_file, json.dumps(Config().to_json(), indent=2) + "\n")
        if not self.autorun_file.exists():
            atomic_write_text(self.autorun_file, "\n".join(DEFAULT_AUTORUN) + "\n")
        for f in (self.global_events_file, self.global_actions_file):
            if not f.exists():
                atomic_write_text(f, "{}\n")
        return first

    def read_autorun(self) -> list[str]:
        """Driver names listed in autorun_devices, one a line (# comments allowed)."""
        if not self.autorun_file.exists():
            return []
        names = []
        for line in self.autorun_file.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                names.append(line)
        return names

    def write_autorun(self, names: list[str]) -> None:
        atomic_write_text(self.autorun_file, "".join(f"{n}\n" for n in names))


@dataclass
class LoadedConfig:
    """The effective config, where each value came from, and the file it was read from."""

    config: Config
    path: Path
    provenance: dict[str, str] = field(default_factory=dict)  # key -> default|file|env|cli
    file_data: dict[str, Any] = field(default_factory=dict)  # exactly what the file held


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse config.json; a missing file is an empty config, a broken one a ConfigError."""
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); fix or remove the file"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a JSON object")
    return data


def load_config(
    path: Path, env: Mapping[str, str] | None = None, cli: Mapping[str, Any] | None = None
) -> LoadedConfig:
    """Load and validate config.json, then apply RTOC_* env vars and CLI overrides."""
    data = read_config_file(path)
    try:
        cfg = from_json(Config, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    prov = {}
    for key, _value, _f, _tp in iter_fields(cfg):
        section, _, name = key.partition(".")
        in_file = name in data.get(section, {}) if name else section in data
        prov[key] = "file" if in_file else "default"
    env = os.environ if env is None else env
    for key in list(prov):
        if key == "devices":
            continue
        env_name = ENV_PREFIX + key.replace(".", "_").upper()
        if env_name in env and env_name != "RTOC_HOME":
            set_value(cfg, key, env[env_name], source=f"${env_name}")
            prov[key] = "env"
    for key, value in (cli or {}).items():
        set_value(cfg, key, value)
        prov[key] = "cli"
    return LoadedConfig(cfg, path, prov, data)


def set_value(cfg: Config, key: str, value: Any, source: str = "") -> Any:
    """Set a dotted key ('tcp.port') from a typed value or a string, validating it."""
    section_attr, field_attr, tp, f = lookup_field(key)
    label = f"{source}: {key}" if source else key
    value = (
        parse_text_value(tp, value, label)
        if isinstance(value, str)
        else check_value(tp, value, label)
    )
    check_limits(f, value, label)
    setattr(getattr(cfg, section_attr), field_attr, value)
    return value


def get_value(cfg: Config, key: str) -> Any:
    section_attr, field_attr, _tp, _f = lookup_field(key)
    return getattr(getattr(cfg, section_attr), field_attr)


def save_config(path: Path, cfg: Config) -> None:
    """Validate and write config.json atomically (never over a file we could not parse)."""
    read_config_file(path)  # raises for a broken file: it is never overwritten
    from_json(Config, cfg.to_json())  # re-validate what we are about to write
    atomic_write_text(path, json.dumps(cfg.to_json(), indent=2) + "\n")


def update_config_file(path: Path, updates: Mapping[str, Any]) -> Config:
    """Change some keys in config.json, keeping everything else as the file has it."""
    data = read_config_file(path)
    try:
        cfg = from_json(Config, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    for key, value in updates.items():
        set_value(cfg, key, value)
    save_config(path, cfg)
    return cfg
