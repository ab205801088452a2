"""The typed schema of config.json: RTOC's sections (global, tcp, postgresql, backup, telegram)
plus `web`, `tui` and `devices`. Every field has a docstring (the wizard and `config show` use them).

Validation is strict: an unknown key or a wrong type is a ConfigError naming the file and the
key path (e.g. `config.json: tcp.port: expected int, got str '5050x'`).
"""

from __future__ import annotations

import dataclasses
import logging
import types
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_D = TypeVar("_D", bound="DataclassInstance")


class ConfigError(ValueError):
    """config.json (or a value for it) is invalid; the message names the file and key path."""


def doc(text: str, *, secret: bool = False, **limits: float) -> dict[str, Any]:
    """Field metadata: its docstring, plus optional limits ge/gt/le checked on load and save.

    secret=True marks a value that must never leave the logger in full: replies to clients,
    sessions and exports, the settings screen, `config show` and the wizard all mask it.
    """
    return {"doc": text, "secret": secret, **limits}


@dataclass
class GlobalSection:
    """RTOC's global section."""

    language: Literal["en", "de"] = field(
        default="en", metadata=doc("Language of messages (en, de)")
    )
    recordLength: int = field(
        default=500_000,
        metadata=doc("Samples kept in memory per signal; the oldest drop out first", ge=1),
    )
    name: str = field(
        default="RTOC-Remote", metadata=doc("Name of this logger, shown to remote clients")
    )
    globalActionsActivated: bool = field(
        default=False, metadata=doc("Run global actions (globalActions.json)")
    )
    globalEventsActivated: bool = field(
        default=False, metadata=doc("Evaluate global events (globalEvents.json)")
    )
    maxEvents: int = field(
        default=10_000, metadata=doc("Events kept in memory; the oldest drop out first", ge=1)
    )
    maxSignals: int = field(
        default=10_000,
        metadata=doc("Most signals at once; creating more is refused (0: no limit)", ge=0),
    )
    maxNameLength: int = field(
        default=256,
        metadata=doc("Longest device or signal name in characters (0: no limit)", ge=0),
    )
    maxEventBytes: int = field(
        default=65_536,
        metadata=doc("Largest event (text and value) in bytes; larger ones are refused", ge=0),
    )
    webserver_port: int = field(
        default=8050,
        metadata=doc(
            "Port of the web view (RTOC's key; web.active turns it on; 0: any free port)",
            ge=0,
            le=65535,
        ),
    )


@dataclass
class TcpSection:
    """RTOC's TCP server (jsonsocket wire format)."""

    active: bool = field(default=False, metadata=doc("Run the TCP server"))
    port: int = field(
        default=5050, metadata=doc("TCP port (0: any free port, for tests)", ge=0, le=65535)
    )
    password: str = field(
        default="",
        metadata=doc(
            "Password for AES encryption; empty means plain frames and loopback only", secret=True
        ),
    )
    host: str = field(
        default="127.0.0.1",
        metadata=doc("Address to bind; anything but loopback needs a password (or insecure)"),
    )
    insecure: bool = field(
        default=False,
        metadata=doc("Allow binding a non-loopback address without a password (dangerous)"),
    )
    maxFrameBytes: int = field(
        default=64 * 1024 * 1024, metadata=doc("Largest accepted frame in bytes")
    )
    knownHosts: dict[str, Any] = field(
        # RTOC keeps [name, password] pairs here
        default_factory=dict,
        metadata=doc("Recently used remote hosts", secret=True),
    )
    remoteRefreshRate: float = field(
        default=1.0, metadata=doc("Refresh rate of a remote session in Hz (RTOC GUI)")
    )
    readTimeout: float = field(
        default=10.0,
        metadata=doc(
            "Seconds a client may stall inside a frame, or before its first request, "
            "before it is disconnected",
            gt=0,
        ),
    )
    idleTimeout: float = field(
        default=600.0,
        metadata=doc(
            "Seconds an open connection may stay silent between requests (0: no limit)", ge=0
        ),
    )
    maxClients: int = field(
        default=256,
        metadata=doc(
            "Most simultaneous TCP connections; when full, the connection idle the longest "
            "makes room, else new ones are refused",
            ge=1,
        ),
    )
    maxClientsPerPeer: int = field(
        default=64,
        metadata=doc(
            "Most simultaneous connections from one address; its idle-longest one makes room",
            ge=1,
        ),
    )
    minByteRate: float = field(
        default=1024.0,
        metadata=doc(
            "Bytes per second a client must keep up while inside a frame, measured over "
            "readTimeout (slow senders holding a connection are disconnected)",
            ge=0,
        ),
    )
    maxPendingBytes: int = field(
        default=128 * 1024 * 1024,
        metadata=doc(
            "Budget in bytes for partial frames of all clients together; a frame that would "
            "exceed it is refused",
            ge=1024,
        ),
    )


@dataclass
class PostgresqlSection:
    """RTOC's PostgreSQL connection; active selects PostgreSQL instead of SQLite for storage."""

    active: bool = field(
        default=False, metadata=doc("Store recordings in PostgreSQL instead of SQLite")
    )
    user: str = field(default="postgres", metadata=doc("PostgreSQL user"))
    password: str = field(default="", metadata=doc("PostgreSQL password", secret=True))
    host: str = field(default="127.0.0.1", metadata=doc("PostgreSQL server host"))
    port: int = field(default=5432, metadata=doc("PostgreSQL server port", ge=1, le=65535))
    database: str = field(default="postgres", metadata=doc("PostgreSQL database name"))
    onlyPush: bool = field(
        default=True, metadata=doc("RTOC: only push data to the database (kept for compatibility)")
    )


@dataclass
class BackupSection:
    """Persistence of recordings (RTOC's backup section, see README for what changed)."""

    active: bool = field(
        default=True,
        metadata=doc("Persist every sample and event (SQLite in data/, or PostgreSQL)"),
    )
    path: str = field(
        default="",
        metadata=doc("Folder of the SQLite database; empty means data/ in the user folder"),
    )
    clear: bool = field(
        default=False, metadata=doc("Clear in-memory samples after they were stored")
    )
    autoIfFull: bool = field(
        default=True, metadata=doc("RTOC: back up when recordLength is reached (always true here)")
    )
    autoOnClose: bool = field(default=True, metadata=doc("Flush everything on shutdown"))
    loadOnOpen: bool = field(
        default=True, metadata=doc("Restore the newest recordLength samples into memory on start")
    )
    intervall: float = field(
        default=1.0, metadata=doc("Flush interval in seconds (RTOC: backup interval)")
    )
    resample: float = field(
        default=0.0, metadata=doc("If not 0, resample signals to this rate in Hz before storing")
    )
    retentionDays: float = field(
        default=0.0,
        metadata=doc("Delete stored samples older than this many days; 0 keeps everything", ge=0),
    )
    retentionMB: float = field(
        default=0.0,
        metadata=doc(
            "Keep the stored samples under this size (MB, ~17 bytes a sample), oldest deleted "
            "first; 0 means no limit",
            ge=0,
        ),
    )
    retentionSignals: dict[str, float] = field(
        default_factory=dict,
        metadata=doc(
            'Days to keep per signal pattern, e.g. {"System.*": 7, "Lab.Temp": 365}; first '
            "match wins, others use retentionDays"
        ),
    )


@dataclass
class TelegramSection:
    """RTOC's Telegram bot (docs/telegram.md); needs the `telegram` extra."""

    active: bool = field(default=False, metadata=doc("Run the Telegram bot (needs a token)"))
    token: str = field(
        default="",
        metadata=doc(
            "Bot token from @BotFather (never sent to clients or written to logs)", secret=True
        ),
    )
    default_eventlevel: int = field(
        default=0,
        metadata=doc(
            "Event level of new users: 0 all events, 1 warnings and errors, 2 errors, 3 none",
            ge=0,
            le=3,
        ),
    )
    default_permission: Literal["blocked", "read", "write", "admin"] = field(
        default="blocked",
        metadata=doc("Role of new users (the first user is always admin)"),
    )
    inlineMenu: bool = field(
        default=False, metadata=doc("Menus as buttons under the message (else a reply keyboard)")
    )
    onlyAdmin: bool = field(default=False, metadata=doc("Only admins may use the bot"))
    base_url: str = field(
        default="https://api.telegram.org",
        metadata=doc("Bot API server (change it only for a self-hosted Bot API server)"),
    )
    allowReboot: bool = field(
        default=False,
        metadata=doc("Let admins reboot the host from the bot (after a confirmation)"),
    )
    rebootCommand: str = field(
        default="sudo reboot", metadata=doc("Command run to reboot the host (allowReboot)")
    )


@dataclass
class WebSection:
    """The web view: plots, events and status in a browser (port: global.webserver_port)."""

    active: bool = field(
        default=False, metadata=doc("Serve the web view from the logger (rtoc run --web)")
    )
    host: str = field(
        default="127.0.0.1",
        metadata=doc("Address to bind; anything but loopback needs web.password"),
    )
    password: str = field(
        default="",
        metadata=doc(
            "Password of the web view (HTTP basic auth or a token link; never shown)", secret=True
        ),
    )
    tls_cert: str = field(
        default="", metadata=doc("TLS certificate file (PEM); with tls_key the view uses HTTPS")
    )
    tls_key: str = field(default="", metadata=doc("TLS private key file (PEM) for tls_cert"))


@dataclass
class TuiSection:
    """The terminal UI."""

    refresh_hz: float = field(
        default=4.0, metadata=doc("How often the UI fetches new data (Hz)", gt=0)
    )
    plot_hz: float = field(
        default=10.0,
        metadata=doc("Plot refresh rate in Hz (RTOC: plotRate); lower it on a Pi", gt=0),
    )
    theme: str = field(default="textual-dark", metadata=doc("Textual theme name"))
    signalInactivityTimeout: float = field(
        default=2.0, metadata=doc("Seconds without data after which a signal is marked inactive")
    )
    xTimeBase: bool = field(
        default=True, metadata=doc("Plot time relative to now (else absolute clock time)")
    )
    showEvents: bool = field(default=True, metadata=doc("Draw events as markers in plots"))
    plotLegendEnabled: bool = field(default=True, metadata=doc("Show the plot legend"))
    plotGridEnabled: bool = field(default=True, metadata=doc("Show the plot grid"))
    keymap: dict[str, str] = field(
        default_factory=dict, metadata=doc("Key remapping: binding id -> keys")
    )


@dataclass
class Config:
    """The whole config.json."""

    global_: GlobalSection = field(
        default_factory=GlobalSection, metadata={"key": "global", "doc": "General settings"}
    )
    tcp: TcpSection = field(default_factory=TcpSection, metadata=doc("TCP server"))
    postgresql: PostgresqlSection = field(
        default_factory=PostgresqlSection, metadata=doc("PostgreSQL")
    )
    backup: BackupSection = field(default_factory=BackupSection, metadata=doc("Persistence"))
    telegram: TelegramSection = field(default_factory=TelegramSection, metadata=doc("Telegram bot"))
    web: WebSection = field(default_factory=WebSection, metadata=doc("Web view"))
    tui: TuiSection = field(default_factory=TuiSection, metadata=doc("Terminal UI"))
    devices: dict[str, dict[str, Any]] = field(
        default_factory=dict,
        metadata=doc("Per-device settings: {DriverName: {port, address, samplerate, ...}}"),
    )

    def to_json(self) -> dict[str, Any]:
        return to_json(self)

    def section(self, name: str) -> Any:
        return getattr(self, "global_" if name == "global" else name)


# -- generic (de)serialisation ---------------------------------------------------------------
def json_key(f: dataclasses.Field[Any]) -> str:
    return f.metadata.get("key", f.name)


def field_doc(f: dataclasses.Field[Any]) -> str:
    return f.metadata.get("doc", "")


# -- secrets: the one policy ------------------------------------------------------------------
SECRET_MASK = "********"
"""What a secret value is replaced with wherever it would be shown or sent."""

_SECRET_WORDS = ("password", "passwd", "token", "secret", "apikey", "api_key")
_DECLARED_NAMES: set[str] = set()  # setting names drivers declared secret (Setting(secret=True))


def declare_secret_name(name: str) -> None:
    """A driver declares one of its settings secret (core.settings.Setting(secret=True)): a
    setting or parameter of that name is masked under every device from now on."""
    _DECLARED_NAMES.add(name.lower())


def is_secret_name(name: str) -> bool:
    """A driver setting or plugin parameter that holds a credential: declared so by a driver,
    or its name says so (password, token, secret, api key)."""
    low = name.lower()
    return low in _DECLARED_NAMES or any(w in low for w in _SECRET_WORDS)


def is_secret(key: str) -> bool:
    """A dotted config key whose value is never shown or sent in full (see `doc(secret=)`), at
    any depth: a schema secret and everything below it, any part of a device's settings whose
    name is secret (devices.OctoPrint.api_key, devices.X.auth.password)."""
    if key in SECRET_KEYS:
        return True
    parts = key.split(".")
    if parts[0] == "devices":
        return any(is_secret_name(p) for p in parts[2:])
    return any(".".join(parts[:i]) in SECRET_KEYS for i in range(2, len(parts)))


def mask_tree(value: Any, key: str = "", mask: Any = SECRET_MASK) -> Any:
    """A copy of value (a config subtree at dotted `key`, "" for the whole config.json) with
    every set secret replaced by mask at any depth; `mask` may be a function of the secret."""
    if key and is_secret(key):
        if not value:
            return value
        return mask(value) if callable(mask) else mask
    if isinstance(value, dict):
        return {k: mask_tree(v, f"{key}.{k}" if key else str(k), mask) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_tree(v, key, mask) for v in value]
    return value


def mask_secret(key: str, value: Any) -> Any:
    """The value as it may leave the logger: every set secret in it becomes SECRET_MASK."""
    return mask_tree(value, key)


def restore_secrets(key: str, new: Any, old: Any) -> Any:
    """new with every SECRET_MASK at a secret place replaced by old's value there: a client
    that sends a masked value back unchanged means "keep the stored secret"."""
    if new == SECRET_MASK and is_secret(key):
        return old
    if isinstance(new, dict):
        prev = old if isinstance(old, dict) else {}
        return {k: restore_secrets(f"{key}.{k}", v, prev.get(k)) for k, v in new.items()}
    return new


def secret_values(tree: Any, key: str = "") -> set[str]:
    """Every secret text in a config tree (for redacting log lines)."""
    found: set[str] = set()

    def collect(v: Any) -> str:
        if isinstance(v, str):
            found.add(v)
        elif isinstance(v, dict | list):
            for item in v.values() if isinstance(v, dict) else v:
                collect(item)
        return SECRET_MASK

    mask_tree(tree, key, collect)
    return found


class _LogRedactor:
    """Replaces known secret values in every log record, whichever logger or handler."""

    MIN_LENGTH = 4  # shorter values would mask ordinary words and numbers

    def __init__(self) -> None:
        self.values: tuple[str, ...] = ()
        self._factory = logging.getLogRecordFactory()

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._factory(*args, **kwargs)
        values = self.values
        if values:
            try:
                text = record.getMessage()
            except Exception:  # a broken format: leave it to logging's own error report
                return record
            if any(v in text for v in values):
                for v in values:
                    text = text.replace(v, SECRET_MASK)
                record.msg, record.args = text, None
        return record


_redactor: _LogRedactor | None = None


def redact_logs(tree: dict[str, Any]) -> None:
    """From now on, log lines show the secrets of this config.json tree as SECRET_MASK (call
    again when the config changes; one logger per process is the usual case)."""
    global _redactor
    if _redactor is None:
        _redactor = _LogRedactor()
        logging.setLogRecordFactory(_redactor)
    values = {v for v in secret_values(tree) if len(v) >= _LogRedactor.MIN_LENGTH}
    _redactor.values = tuple(sorted(values, key=len, reverse=True))


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin is not None:
        return getattr(origin, "__name__", str(origin))
    return getattr(tp, "__name__", str(tp))


def check_value(tp: Any, value: Any, path: str) -> Any:
    """Validate (and lightly convert: int -> float) value against type tp."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{path}: must be one of {_type_name(tp)}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return check_value(arg, value, path)
            except ConfigError:
                continue
        raise ConfigError(
            f"{path}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}"
        )
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{path}: expected null")
        return None
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(
                f"{path}: expected bool (true/false), got {type(value).__name__} {value!r}"
            )
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected int, got {type(value).__name__} {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected number, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected str, got {type(value).__name__} {value!r}")
        return value
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected an object, got {type(value).__name__}")
        args = typing.get_args(tp)
        if args:
            return {str(k): check_value(args[1], v, f"{path}.{k}") for k, v in value.items()}
        return dict(value)
    if origin is list or tp is list:
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__}")
        args = typing.get_args(tp)
        return (
            [check_value(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
            if args
            else list(value)
        )
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return from_json(tp, value, path)
    raise ConfigError(f"{path}: unsupported type {tp!r}")


def from_json(cls: type[_D], data: Any, path: str = "") -> _D:
    """Build dataclass cls from parsed JSON, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path or '(top level)'}: expected an object, got {type(data).__name__}")
    hints = _hints(cls)
    fields = {json_key(f): f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            where = f"{path}.{key}" if path else str(key)
            known = ", ".join(fields)
            raise ConfigError(f"{where}: unknown key (known keys here: {known})")
    kwargs = {}
    for key, f in fields.items():
        if key in data:
            where = f"{path}.{key}" if path else key
            kwargs[f.name] = check_limits(f, check_value(hints[f.name], data[key], where), where)
    return cls(**kwargs)


def check_limits(f: dataclasses.Field[Any], value: Any, path: str) -> Any:
    """Check value against the field's optional ge/gt/le limits (see `doc`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    meta = f.metadata
    if "ge" in meta and value < meta["ge"]:
        raise ConfigError(f"{path}: must be at least {meta['ge']:g}, got {value!r}")
    if "gt" in meta and value <= meta["gt"]:
        raise ConfigError(f"{path}: must be greater than {meta['gt']:g}, got {value!r}")
    if "le" in meta and value > meta["le"]:
        raise ConfigError(f"{path}: must be at most {meta['le']:g}, got {value!r}")
    return value


def to_json(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {json_key(f): to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_json(v) for v in obj]
    return obj


def iter_fields(cfg: Config) -> typing.Iterator[tuple[str, Any, dataclasses.Field[Any], Any]]:
    """(dotted key, value, field, type) of every leaf setting, in schema order."""
    hints = _hints(Config)
    for sf in dataclasses.fields(Config):
        section = getattr(cfg, sf.name)
        if dataclasses.is_dataclass(section):
            shints = _hints(type(section))
            for f in dataclasses.fields(section):
                yield f"{json_key(sf)}.{json_key(f)}", getattr(section, f.name), f, shints[f.name]
        else:
            yield json_key(sf), section, sf, hints[sf.name]


def lookup_field(key: str) -> tuple[str, str, Any, dataclasses.Field[Any]]:
    """(section attr, field attr, type, field) of a dotted key like 'tcp.port'."""
    section_key, _, name = key.partition(".")
    chints = _hints(Config)
    for sf in dataclasses.fields(Config):
        if json_key(sf) != section_key:
            continue
        stype = chints[sf.name]
        if not (isinstance(stype, type) and dataclasses.is_dataclass(stype)):
            raise ConfigError(f"{key}: {section_key} is not a settings section")
        shints = _hints(stype)
        for f in dataclasses.fields(stype):
            if json_key(f) == name:
                return sf.name, f.name, shints[f.name], f
        raise ConfigError(
            f"{key}: unknown key (known in {section_key}: {', '.join(json_key(f) for f in dataclasses.fields(stype))})"
        )
    raise ConfigError(f"{key}: unknown section {section_key!r}")


def parse_text_value(tp: Any, text: str, path: str) -> Any:
    """Convert a command-line/env string to type tp (JSON for lists and objects)."""
    import json

    origin = typing.get_origin(tp)
    if tp is bool:
        low = text.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{path}: expected true or false, got {text!r}")
    if tp is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{path}: expected int, got {text!r}") from None
    if tp is float:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"{path}: expected number, got {text!r}") from None
    if tp is str or origin is Literal:
        return check_value(tp, text, path)
    try:
        return check_value(tp, json.loads(text), path)
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{path}: expected JSON, got {text!r}") from None


def _secret_keys() -> frozenset[str]:
    hints = _hints(Config)
    return frozenset(
        f"{json_key(sf)}.{json_key(f)}"
        for sf in dataclasses.fields(Config)
        if dataclasses.is_dataclass(hints[sf.name])
        for f in dataclasses.fields(hints[sf.name])
        if f.metadata.get("secret")
    )


SECRET_KEYS = _secret_keys()
"""Every schema key marked secret=True (tcp.password, postgresql.password, ...)."""
