"""`rtoc config`: plain prompts that edit config.json and autorun_devices.

One answer a line, so the wizard works both at a terminal and from a pipe
(`printf '100000\\n\\n' | rtoc config`). Enter keeps the value shown in brackets, `-` empties a
text value, and end of input keeps every remaining value. Each answer is validated on the spot
and asked again with the reason when it is wrong. Nothing is written until the end, and then
atomically; the wizard prints what changed and the path it wrote.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

from rich.console import Console
from rich.markup import escape

from ..config.home import Home, read_config_file, save_config
from ..config.schema import (
    SECRET_MASK,
    Config,
    ConfigError,
    from_json,
    is_secret,
    iter_fields,
    mask_secret,
)
from ..wire import is_loopback

T = TypeVar("T")

CLEAR = "-"
"""Answer that empties a text value (Enter keeps the current one)."""

PG_CONNECT_TIMEOUT_S = 5


def mask(key: str, value: Any) -> Any:
    """The value as it may be shown: secrets become asterisks (or '(empty)')."""
    if key == "devices":
        return mask_secret(key, value)  # devices.Otii.password and the like
    if is_secret(key):
        return SECRET_MASK if value else "(empty)"
    return mask_secret(key, value)  # secrets deeper inside (devices.OctoPrint.api_key)


def show_value(value: Any) -> str:
    """A value as the user would type it (JSON for lists, objects, booleans and null)."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


class Prompter:
    """Asks one question a line on a console; reads answers from a terminal or a pipe."""

    def __init__(
        self,
        console: Console,
        stream: TextIO | None = None,
        interactive: bool | None = None,
    ) -> None:
        self.console = console
        self.stream = stream if stream is not None else sys.stdin
        if interactive is None:
            try:
                interactive = self.stream.isatty()
            except (AttributeError, ValueError):
                interactive = False
        self.interactive = interactive
        self.eof = False

    def read_line(self, prompt: str, *, secret: bool = False) -> str | None:
        """Print prompt and read one answer; None once input has ended."""
        if self.eof:
            self.console.print(prompt, highlight=False)
            return None
        if self.interactive:
            try:
                if secret:
                    return self._read_secret(prompt)
                self.console.print(prompt, end="", highlight=False)
                return input()
            except EOFError:
                self.eof = True
                self.console.print("", highlight=False)
                return None
        self.console.print(prompt, end="", highlight=False)
        raw = self.stream.readline()
        if raw == "":
            self.eof = True
            self.console.print("", highlight=False)
            return None
        line = raw.rstrip("\r\n")
        # From a pipe nothing is echoed: print the answer so the transcript reads like a session.
        self.console.print("********" if secret and line else line, highlight=False, markup=False)
        return line

    def _read_secret(self, prompt: str) -> str:
        """Read a line with terminal echo off.

        Echo goes off before the prompt is printed (getpass would switch it after), so not
        even an answer typed ahead of the prompt shows on the screen.
        """
        import termios

        fd = self.stream.fileno()
        old = termios.tcgetattr(fd)
        quiet = termios.tcgetattr(fd)
        quiet[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
        try:
            self.console.print(prompt, end="", highlight=False)
            raw = self.stream.readline()
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)
            self.console.print("", highlight=False)  # the user's Enter was not echoed either
        if raw == "":
            raise EOFError
        return raw.rstrip("\r\n")

    def ask(
        self,
        label: str,
        default: T,
        parse: Callable[[str], T],
        *,
        shown: str | None = None,
        secret: bool = False,
        eof_default: T | None = None,
    ) -> T:
        """Ask until parse accepts the answer; Enter (or end of input) returns default."""
        shown = show_value(default) if shown is None else shown
        prompt = f"{escape(label)} [bold cyan]\\[{escape(shown)}][/]: "
        while True:
            line = self.read_line(prompt, secret=secret)
            if line is None:
                return default if eof_default is None else eof_default
            text = line.strip()
            if text == "":
                return default
            try:
                return parse(text)
            except (ValueError, ConfigError) as exc:
                self.console.print(f"  [red]x {escape(str(exc))}[/] - please try again")

    def confirm(self, label: str, default: bool, *, eof_default: bool | None = None) -> bool:
        """A yes/no question."""
        return self.ask(
            label + " (y/n)",
            default,
            parse_bool,
            shown="y" if default else "n",
            eof_default=eof_default,
        )

    def choose(
        self, label: str, options: Iterable[str], default: str, *, eof_default: str | None = None
    ) -> str:
        """One of a few words; a unique prefix is enough."""
        opts = list(options)

        def parse(text: str) -> str:
            low = text.lower()
            hits = [o for o in opts if o == low] or [o for o in opts if o.startswith(low)]
            if len(hits) != 1:
                raise ValueError(f"answer one of: {', '.join(opts)}")
            return hits[0]

        return self.ask(f"{label} ({'/'.join(opts)})", default, parse, eof_default=eof_default)


# -- parsers: each raises ValueError with a message a user understands --------------------------
def parse_bool(text: str) -> bool:
    """y/yes/true/1/on (and German j/ja) or n/no/false/0/off."""
    low = text.strip().lower()
    if low in ("y", "yes", "true", "1", "on", "j", "ja"):
        return True
    if low in ("n", "no", "false", "0", "off", "nein"):
        return False
    raise ValueError(f"answer y or n, not {text!r}")


def int_parser(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    """Parse an int (underscores, commas and k/M suffixes allowed) within limits."""

    def parse(text: str) -> int:
        t = text.replace("_", "").replace(",", "").strip()
        scale = 1
        if t[-1:].lower() == "k":
            scale, t = 1_000, t[:-1]
        elif t[-1:] == "M":
            scale, t = 1_000_000, t[:-1]
        try:
            value = int(t) * scale
        except ValueError:
            raise ValueError(f"expected a whole number, got {text!r}") from None
        _check_range(value, minimum, maximum)
        return value

    return parse


def float_parser(
    minimum: float | None = None, maximum: float | None = None, *, above: float | None = None
) -> Callable[[str], float]:
    """Parse a number within limits (above: strictly greater than)."""

    def parse(text: str) -> float:
        try:
            value = float(text.replace(",", "."))
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"expected a finite number, got {text!r}")
        if above is not None and value <= above:
            raise ValueError(f"must be greater than {above:g}, got {value:g}")
        _check_range(value, minimum, maximum)
        return value

    return parse


def _check_range(value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and value < minimum:
        raise ValueError(f"must be at least {minimum:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise ValueError(f"must be at most {maximum:g}, got {value:g}")


def text_parser(*, allow_empty: bool = True) -> Callable[[str], str]:
    """Free text; CLEAR ('-') empties it."""

    def parse(text: str) -> str:
        if text == CLEAR:
            if not allow_empty:
                raise ValueError("this value cannot be empty")
            return ""
        return text

    return parse


_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def parse_host(text: str) -> str:
    """An IP address or a host name to bind or connect to."""
    t = text.strip().strip("[]")
    try:
        return str(ipaddress.ip_address(t))
    except ValueError:
        pass
    if _HOSTNAME.match(t):
        return t
    raise ValueError(
        f"{text!r} is neither an IP address (like 127.0.0.1 or 0.0.0.0) nor a host name"
    )


# -- what the wizard needs from the machine (injectable for tests) ------------------------------
@dataclass(frozen=True)
class SerialPort:
    """A serial port found on this machine."""

    device: str
    description: str


def find_serial_ports() -> list[SerialPort]:
    """Serial ports pyserial finds (USB adapters, the Pi's UART ...)."""
    try:
        from serial.tools import list_ports
    except ImportError:  # pyserial is a dependency, but the wizard must not die without it
        return []
    ports = []
    for p in sorted(list_ports.comports(), key=lambda p: p.device):
        desc = p.description if p.description and p.description != "n/a" else ""
        ports.append(SerialPort(p.device, desc))
    return ports


def check_postgres(section: Any) -> str | None:
    """Connect to PostgreSQL with these settings; None if it worked, else why it failed."""
    try:
        import psycopg
    except ImportError as exc:
        return f"psycopg is not installed ({exc})"
    try:
        with psycopg.connect(
            host=section.host,
            port=section.port,
            user=section.user,
            password=section.password or None,
            dbname=section.database,
            connect_timeout=PG_CONNECT_TIMEOUT_S,
        ) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # psycopg.Error, and OSError from odd host names
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


def running_on_raspberry_pi() -> bool:
    """True on a Raspberry Pi (its device-tree model string says so)."""
    try:
        return "raspberry pi" in Path("/proc/device-tree/model").read_text(errors="ignore").lower()
    except OSError:
        return False


@dataclass
class WizardResult:
    """What the wizard did: (key, old, new) for every change, and whether it wrote."""

    config_path: Path
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    saved: bool = False


# -- the wizard ---------------------------------------------------------------------------------
class Wizard:
    """Walks through the settings of one user folder and saves them."""

    def __init__(
        self,
        home: Home,
        prompter: Prompter,
        *,
        serial_ports: Callable[[], list[SerialPort]] = find_serial_ports,
        pg_tester: Callable[[Any], str | None] = check_postgres,
        env: dict[str, str] | None = None,
    ) -> None:
        self.home = home
        self.p = prompter
        self.console = prompter.console
        self.serial_ports = serial_ports
        self.pg_tester = pg_tester
        self.env = dict(os.environ if env is None else env)
        # Start from the file, not the effective config: env overrides must not be baked in.
        self.file_data = read_config_file(home.config_file)
        try:
            self.old = from_json(Config, self.file_data)
        except ConfigError as exc:
            raise ConfigError(f"{home.config_file}: {exc}") from None
        self.cfg = copy.deepcopy(self.old)
        self.old_autorun = home.read_autorun()
        self.autorun = list(self.old_autorun)

    def say(self, text: str) -> None:
        """Print a line (rich markup allowed)."""
        self.console.print(text, highlight=False)

    def heading(self, text: str) -> None:
        """Print a section heading."""
        self.console.print(f"\n[bold]{escape(text)}[/]", highlight=False)

    def run(self) -> WizardResult:
        """Ask everything, then save if anything changed (and the user agrees)."""
        self.say(f"[bold]rtoc config[/] - settings of {escape(str(self.home.root))}")
        self.say(
            "Enter keeps the value in [bold cyan]\\[brackets][/], '-' empties a text value, "
            "end of input (Ctrl-D) keeps all remaining values."
        )
        self.ask_memory()
        self.ask_devices()
        self.ask_tcp()
        self.ask_storage()
        self.ask_ui()
        self.ask_web()
        return self.finish()

    # -- sections ------------------------------------------------------------------------------
    def ask_memory(self) -> None:
        """global.recordLength."""
        self.heading("Memory")
        g = self.cfg.global_
        g.recordLength = self.p.ask(
            "Samples kept in memory per signal (global.recordLength)",
            g.recordLength,
            int_parser(minimum=10, maximum=1_000_000_000),
        )

    def ask_devices(self) -> None:
        """autorun_devices, then the settings of each chosen driver."""
        from ..core.devices import discover

        self.heading("Devices started with the logger (autorun_devices)")
        specs = discover(self.home.devices_dir)
        names = sorted(specs, key=str.lower)
        for i, name in enumerate(names, 1):
            self.say(f"  {i:2d}) {escape(name)}  [dim]{escape(self._describe(specs[name]))}[/]")
        missing = [n for n in self.autorun if n not in specs]
        if missing:
            self.say(
                f"  [yellow]! autorun_devices lists {', '.join(missing)}, which no driver provides;"
                " answer without them to drop them[/]"
            )

        def parse(text: str) -> list[str]:
            if text.lower() in (CLEAR, "none"):
                return []
            chosen: list[str] = []
            by_lower = {n.lower(): n for n in names}
            for token in re.split(r"[,\s]+", text.strip()):
                if not token:
                    continue
                if token.isdigit():
                    idx = int(token)
                    if not 1 <= idx <= len(names):
                        raise ValueError(f"{token}: no such number (1-{len(names)})")
                    name = names[idx - 1]
                elif token.lower() in by_lower:
                    name = by_lower[token.lower()]
                else:
                    raise ValueError(f"{token}: no such driver (known: {', '.join(names)})")
                if name not in chosen:
                    chosen.append(name)
            return chosen

        self.autorun = self.p.ask(
            "Drivers to autorun: names or numbers, separated by commas ('none' for none)",
            self.autorun,
            parse,
            shown=", ".join(self.autorun) or "none",
        )
        for name in self.autorun:
            if name in specs:
                self.ask_device_settings(name, specs[name], new=name not in self.old_autorun)

    def _describe(self, spec: Any) -> str:
        from ..core.devices import load_class

        try:
            doc = (load_class(spec).__doc__ or "").strip()
        except Exception as exc:  # a broken user plugin must not stop the wizard
            return f"{spec.source}; cannot be loaded: {exc}"
        return f"{spec.source}; {doc.splitlines()[0]}" if doc else spec.source

    def ask_device_settings(self, name: str, spec: Any, *, new: bool) -> None:
        """devices.<name>.*, validated by the driver's declared SETTINGS."""
        from ..core.devices import load_class
        from ..core.settings import SettingsError

        try:
            declared = load_class(spec).SETTINGS
        except Exception as exc:
            self.say(f"  [yellow]! {escape(name)}: cannot load the driver ({escape(str(exc))})[/]")
            return
        if not declared:
            return
        current = dict(self.cfg.devices.get(name, {}))
        # A device just added to autorun probably needs its port or address set; one already
        # running is likely fine, so its settings are only offered.
        if not self.p.confirm(f"Edit the settings of {name}?", new):
            return
        values = dict(current)
        for key, setting in declared.items():
            now = current.get(key, setting.default)
            path = f"devices.{name}.{key}"
            ports: list[SerialPort] = []
            if "port" in key.lower() and setting.value_type is str:
                ports = self.serial_ports()
                if ports:
                    self.say("  Serial ports found on this machine:")
                    for i, port in enumerate(ports, 1):
                        self.say(
                            f"    {i}) {escape(port.device)}  [dim]{escape(port.description)}[/]"
                        )
                else:
                    self.say(
                        "  [dim]No serial ports found on this machine (plug the adapter in?)[/]"
                    )

            def parse(
                text: str, setting: Any = setting, path: str = path, ports: Any = ports
            ) -> Any:
                if text == CLEAR and setting.default is None:
                    return None
                if ports and text.isdigit() and 1 <= int(text) <= len(ports):
                    text = ports[int(text) - 1].device
                try:
                    return setting.coerce(text, path)
                except SettingsError as exc:
                    raise ValueError(str(exc)) from None

            hint = " (a number above or a path)" if ports else ""
            if setting.default is None:
                hint += " ('-' for none)"
            secret = getattr(setting, "secret", False) or is_secret(path)
            value = self.p.ask(
                f"{name}.{key}: {setting.doc}{hint}",
                now,
                parse,
                shown="none" if now is None else SECRET_MASK if secret and now else show_value(now),
                secret=secret,
            )
            if ports and isinstance(value, str) and value and not os.path.exists(value):
                self.say(f"  [yellow]! {escape(value)} does not exist now; kept anyway[/]")
            # Keep the file tidy: store what differs from the driver default, or was set before.
            if key in current or value != setting.default:
                values[key] = value
        if values:
            self.cfg.devices[name] = values
        else:
            self.cfg.devices.pop(name, None)

    def ask_tcp(self) -> None:
        """tcp.active, port, password and host; never exposes the server by accident."""
        self.heading("TCP server (remote clients: rtoc attach, RTOC GUI)")
        t = self.cfg.tcp
        t.active = self.p.confirm("Run the TCP server?", t.active)
        if not t.active:
            return
        t.port = self.p.ask("Port (tcp.port)", t.port, int_parser(minimum=1, maximum=65535))
        if t.port < 1024:
            self.say(
                "  [yellow]! ports below 1024 need root; the systemd service runs as user rtoc[/]"
            )
        t.password = self.p.ask(
            "Password (AES encryption; '-' for none)",
            t.password,
            text_parser(),
            shown="set, Enter keeps it" if t.password else "none",
            secret=True,
        )
        while True:
            t.host = self.p.ask(
                "Bind address (127.0.0.1: this machine only, 0.0.0.0: every interface)",
                t.host,
                parse_host,
            )
            if is_loopback(t.host) or t.password:
                t.insecure = False  # not needed: loopback, or encrypted with a password
                return
            self.say(
                f"  [bold yellow]! Warning:[/] binding {escape(t.host)} without a password lets anyone"
                " on the network read your data and control your devices. Prefer 127.0.0.1 with"
                " 'ssh -L 5050:127.0.0.1:5050', or set a password."
            )
            # On end of input the safe choice wins: never expose the server by default.
            if self.p.confirm("Allow it anyway (tcp.insecure)?", False, eof_default=False):
                t.insecure = True
                return
            t.password = self.p.ask(
                "Then set a password (Enter for none and bind 127.0.0.1)",
                "",
                text_parser(),
                shown="none",
                secret=True,
                eof_default="",
            )
            t.insecure = False
            if not t.password:
                t.host = "127.0.0.1"
                self.say("  Binding 127.0.0.1 (this machine only).")
            return

    def ask_storage(self) -> None:
        """backup.active and the engine: SQLite (with its folder), PostgreSQL or off."""
        self.heading("Storage of recordings")
        b, pg = self.cfg.backup, self.cfg.postgresql
        current = "off" if not b.active else ("postgresql" if pg.active else "sqlite")
        engine = self.p.choose("Storage engine", ["sqlite", "postgresql", "off"], current)
        b.active = engine != "off"
        pg.active = engine == "postgresql"
        if engine == "sqlite":
            b.path = self.p.ask(
                "Folder of the SQLite database (- for data/ in the user folder)",
                b.path,
                text_parser(),
                shown=b.path or "data/ in the user folder",
            )
        elif engine == "postgresql":
            self.ask_postgres()

    def ask_postgres(self) -> None:
        """The PostgreSQL connection, tested live until it works or the user keeps it."""
        pg = self.cfg.postgresql
        while True:
            pg.host = self.p.ask("PostgreSQL host", pg.host, parse_host)
            pg.port = self.p.ask("PostgreSQL port", pg.port, int_parser(minimum=1, maximum=65535))
            pg.user = self.p.ask("PostgreSQL user", pg.user, text_parser(allow_empty=False))
            pg.password = self.p.ask(
                "PostgreSQL password ('-' for none)",
                pg.password,
                text_parser(),
                shown="set, Enter keeps it" if pg.password else "none",
                secret=True,
            )
            pg.database = self.p.ask("Database", pg.database, text_parser(allow_empty=False))
            self.say(
                f"  Connecting to {escape(pg.user)}@{escape(pg.host)}:{pg.port}/{escape(pg.database)} ..."
            )
            error = self.pg_tester(pg)
            if error is None:
                self.say("  [green]Connected.[/]")
                return
            self.say(f"  [red]x Connection failed:[/] {escape(error)}")
            # At end of input there is nobody to retype: keep what was entered.
            if (
                self.p.choose(
                    "Enter the connection again, or keep it",
                    ["again", "keep"],
                    "again",
                    eof_default="keep",
                )
                == "keep"
            ):
                self.say("  [yellow]! Kept; the logger will report the failure when it starts.[/]")
                return

    def ask_ui(self) -> None:
        """tui.plot_hz."""
        self.heading("Terminal UI")
        tui = self.cfg.tui
        if running_on_raspberry_pi():
            self.say("  [dim]This is a Raspberry Pi: 2-4 Hz leaves the CPU to the drivers.[/]")
        tui.plot_hz = self.p.ask(
            "Plot refresh rate in Hz (tui.plot_hz)",
            tui.plot_hz,
            float_parser(maximum=60.0, above=0.0),
            shown=f"{tui.plot_hz:g}",
        )

    def ask_web(self) -> None:
        """web.active, global.webserver_port, web.host and web.password (see docs/web.md)."""
        self.heading("Web view (plots, events and status in a browser)")
        w = self.cfg.web
        w.active = self.p.confirm("Serve the web view?", w.active)
        if not w.active:
            return
        g = self.cfg.global_
        g.webserver_port = self.p.ask(
            "Port (global.webserver_port)", g.webserver_port, int_parser(minimum=1, maximum=65535)
        )
        w.host = self.p.ask(
            "Bind address (127.0.0.1: this machine only, 0.0.0.0: every interface)",
            w.host,
            parse_host,
        )
        if is_loopback(w.host):
            return
        w.password = self.p.ask(
            "Password of the web view (required off this machine; '-' for none)",
            w.password,
            text_parser(),
            shown="set, Enter keeps it" if w.password else "none",
            secret=True,
        )
        if not w.password:
            # The logger refuses to serve a network address without one: say so, stay local.
            w.host = "127.0.0.1"
            self.say("  No password: the web view binds 127.0.0.1 (this machine only).")
            return
        if not (w.tls_cert and w.tls_key):
            self.say(
                "  [bold yellow]! Plain HTTP:[/] the password and the data cross the network"
                " unencrypted. For HTTPS set web.tls_cert and web.tls_key"
                " (rtoc config set web.tls_cert /path/cert.pem)."
            )

    # -- saving --------------------------------------------------------------------------------
    def changes(self) -> list[tuple[str, Any, Any]]:
        """(key, old, new) of every changed setting, autorun_devices included."""
        out = []
        old = dict(flatten(self.old))
        for key, value in flatten(self.cfg):
            if old.get(key, _MISSING) != value:
                out.append((key, old.get(key), value))
        new_keys = {k for k, _ in flatten(self.cfg)}
        for key, value in old.items():
            if key not in new_keys:
                out.append((key, value, None))
        if self.autorun != self.old_autorun:
            out.append(("autorun_devices", self.old_autorun, self.autorun))
        return out

    def finish(self) -> WizardResult:
        """Print the changes, confirm, write config.json and autorun_devices atomically."""
        result = WizardResult(self.home.config_file, self.changes())
        self.heading("Summary")
        if not result.changes:
            self.say(f"Nothing changed; {escape(str(self.home.config_file))} was left as it was.")
            return result
        for key, old, new in result.changes:
            self.say(
                f"  {escape(key)}: {escape(show_value(mask(key, old)))} -> "
                f"[bold]{escape(show_value(mask(key, new)))}[/]"
            )
        if not self.p.confirm("Save these changes?", True):
            self.say("Not saved; nothing was written.")
            return result
        save_config(self.home.config_file, self.cfg)
        if self.autorun != self.old_autorun:
            self.home.write_autorun(self.autorun)
        result.saved = True
        self.say(f"[green]Wrote[/] {escape(str(self.home.config_file))}")
        if self.autorun != self.old_autorun:
            self.say(f"[green]Wrote[/] {escape(str(self.home.autorun_file))}")
        for key, _old, _new in result.changes:
            env_name = "RTOC_" + key.replace(".", "_").upper()
            if env_name in self.env and env_name != "RTOC_HOME":
                self.say(
                    f"  [yellow]! ${env_name} is set and overrides {escape(key)} at run time[/]"
                )
        self.say("A running logger reads config.json when it starts: restart it to apply.")
        return result


_MISSING = object()


def flatten(cfg: Config) -> Iterable[tuple[str, Any]]:
    """(dotted key, value) of every leaf setting; device settings as devices.NAME.KEY."""
    for key, value, _f, _tp in iter_fields(cfg):
        if key == "devices":
            for dev, settings in sorted(value.items()):
                for skey, svalue in settings.items():
                    yield f"devices.{dev}.{skey}", svalue
        else:
            yield key, value


def run_wizard(
    home: Home,
    console: Console | None = None,
    stream: TextIO | None = None,
    **kw: Any,
) -> WizardResult:
    """Run the wizard on home with answers from stream (default: stdin)."""
    console = console or Console(highlight=False, soft_wrap=True)
    return Wizard(home, Prompter(console, stream), **kw).run()
