"""`rtoc config`: the wizard in-process, from a pipe, and at a real pseudo-terminal."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from rtoc_tui.cli.wizard import (
    SerialPort,
    WizardResult,
    check_postgres,
    parse_host,
    run_wizard,
)
from rtoc_tui.config.home import Home, load_config
from rtoc_tui.config.schema import ConfigError
from rtoc_tui.wire import is_loopback

RTOC = [sys.executable, "-m", "rtoc_tui"]
ANSI = re.compile(
    r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\r"
)

# A user driver with a serial port setting, the shape of RTOC-style serial plugins.
METER_DRIVER = '''
from rtoc_tui.core.plugin import LoggerPlugin
from rtoc_tui.core.settings import Setting


class Plugin(LoggerPlugin):
    """A serial meter (test driver)."""

    SETTINGS = {
        "port": Setting("/dev/ttyUSB0", "Serial port of the meter"),
        "baudrate": Setting(2400, "Baud rate", minimum=300, maximum=115200),
    }
'''


def wizard(home: Home, answers: str, **kw: Any) -> tuple[WizardResult, str]:
    """Run the wizard in-process with answers (one a line); returns (result, transcript)."""
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, highlight=False)
    kw.setdefault("serial_ports", lambda: [])
    kw.setdefault("env", {})
    kw.setdefault("telegram_tester", _no_telegram)
    result = run_wizard(home, console, io.StringIO(answers), **kw)
    return result, out.getvalue()


def _no_telegram(base_url: str, token: str) -> tuple[str | None, str | None]:
    raise AssertionError("an answer meant for another question switched the Telegram bot on")


def lines(*answers: str) -> str:
    return "".join(a + "\n" for a in answers)


def config_of(home: Home) -> Any:
    return load_config(home.config_file, env={}).config


# Answers in the wizard's order for a fresh home (autorun: Generator):
# recordLength, autorun, [settings...], tcp?, [port, password, host, ...], engine, [...], plot_hz, save?


def test_end_of_input_keeps_everything(home: Home) -> None:
    before = home.config_file.read_bytes()
    result, out = wizard(home, "")
    assert result.changes == [] and not result.saved
    assert "Nothing changed" in out
    assert home.config_file.read_bytes() == before


def test_answers_are_validated_and_asked_again(home: Home) -> None:
    result, out = wizard(
        home, lines("abc", "5", "1k", "Nope, 99", "none", "n", "", "", "-1", "4", "", "", "y")
    )
    assert "expected a whole number, got 'abc'" in out
    assert "must be at least 10, got 5" in out
    assert "Nope: no such driver" in out
    assert "must be greater than 0" in out
    assert result.saved
    cfg = config_of(home)
    assert cfg.global_.recordLength == 1000
    assert cfg.tui.plot_hz == 4.0
    assert home.read_autorun() == []
    assert f"Wrote {home.config_file}" in out
    assert "global.recordLength: 500000 -> 1000" in out
    assert "autorun_devices: [] -> []" not in out  # it was [] (conftest) and stays []


def test_declining_to_save_writes_nothing(home: Home) -> None:
    before = home.config_file.read_bytes()
    result, out = wizard(home, lines("1000", "", "", "", "", "", "", "", "n"))
    assert result.changes and not result.saved
    assert "nothing was written" in out
    assert home.config_file.read_bytes() == before


def test_tcp_open_without_password_is_refused_unless_confirmed(home: Home) -> None:
    # Refuse, then decline a password: the wizard falls back to loopback.
    _, out = wizard(
        home, lines("", "", "y", "5051", "", "0.0.0.0", "n", "", "", "", "", "", "", "y")
    )
    assert "without a password lets anyone" in out
    cfg = config_of(home)
    assert (cfg.tcp.active, cfg.tcp.port, cfg.tcp.host, cfg.tcp.insecure) == (
        True,
        5051,
        "127.0.0.1",
        False,
    )
    # Confirm insecure.
    wizard(home, lines("", "", "y", "", "", "0.0.0.0", "y", "", "", "", "", "", "y"))
    cfg = config_of(home)
    assert (cfg.tcp.host, cfg.tcp.insecure, cfg.tcp.password) == ("0.0.0.0", True, "")
    # Refuse insecure but give a password: 0.0.0.0 stays, encrypted.
    wizard(home, lines("", "", "y", "", "", "0.0.0.0", "n", "pw1", "", "", "", "", "", "y"))
    cfg = config_of(home)
    assert (cfg.tcp.host, cfg.tcp.insecure, cfg.tcp.password) == ("0.0.0.0", False, "pw1")
    # End of input at the insecure question must not expose the server.
    wizard(home, lines("", "", "y", "", "-", "::"))
    cfg = config_of(home)
    assert cfg.tcp.password == "" and cfg.tcp.host == "127.0.0.1" and not cfg.tcp.insecure


def test_secrets_are_masked_in_the_summary(home: Home) -> None:
    _, out = wizard(home, lines("", "", "y", "", "hunter22", "", "", "", "", "", "", "y"))
    assert "tcp.password: (empty) -> ********" in out
    assert "hunter22" not in out
    assert config_of(home).tcp.password == "hunter22"


def test_bad_bind_address_and_port(home: Home) -> None:
    _, out = wizard(home, lines("", "", "y", "70000", "80", "", "not a host!", "localhost"))
    assert "must be at most 65535" in out
    assert "ports below 1024 need root" in out
    assert "neither an IP address" in out
    assert config_of(home).tcp.host == "localhost"


def test_device_settings_offer_serial_ports(home: Home) -> None:
    (home.devices_dir / "Meter.py").write_text(METER_DRIVER)
    ports = [SerialPort("/dev/ttyFAKE0", "CP2102 USB to UART"), SerialPort("/dev/ttyFAKE1", "")]
    result, out = wizard(
        home,
        lines("", "Meter", "", "2", "fast", "9600", "n"),
        serial_ports=lambda: ports,
    )
    assert "1) /dev/ttyFAKE0  CP2102 USB to UART" in out
    assert "Edit the settings of Meter? (y/n) [y]" in out  # newly added: asked by default
    assert "expected int, got 'fast'" in out
    assert "/dev/ttyFAKE1 does not exist now; kept anyway" in out
    assert home.read_autorun() == ["Meter"]
    assert config_of(home).devices["Meter"] == {"port": "/dev/ttyFAKE1", "baudrate": 9600}
    assert ("autorun_devices", [], ["Meter"]) in result.changes


def test_device_settings_equal_to_defaults_are_not_written(home: Home) -> None:
    wizard(home, lines("", "Generator", "y", "", "Sinus", "", "", "", "", "", "n"))
    assert config_of(home).devices == {"Generator": {"waveform": "Sinus"}}


def test_postgres_is_tested_and_asked_again(home: Home) -> None:
    calls: list[tuple[str, int]] = []

    def tester(pg: Any) -> str | None:
        calls.append((pg.host, pg.port))
        return None if pg.port == 5433 else "connection refused"

    answers = lines("", "", "n", "postgresql", "db.local", "5999", "", "pw", "rtoc", "again")
    answers += lines("", "5433", "", "", "", "", "", "", "y")
    result, out = wizard(home, answers, pg_tester=tester)
    assert calls == [("db.local", 5999), ("db.local", 5433)]
    assert "Connection failed: connection refused" in out and "Connected." in out
    cfg = config_of(home)
    assert cfg.postgresql.active and cfg.backup.active
    assert (cfg.postgresql.host, cfg.postgresql.port, cfg.postgresql.database) == (
        "db.local",
        5433,
        "rtoc",
    )
    assert result.saved


def test_postgres_failure_can_be_kept(home: Home) -> None:
    _, out = wizard(
        home,
        lines("", "", "n", "postgresql", "", "", "", "", "", "keep", "", "", "", "y"),
        pg_tester=lambda pg: "password authentication failed",
    )
    assert "Kept; the logger will report the failure" in out
    assert config_of(home).postgresql.active


def test_storage_off_and_sqlite_path(home: Home) -> None:
    wizard(home, lines("", "", "n", "off", "", "", "", "y"))
    assert config_of(home).backup.active is False
    wizard(home, lines("", "", "n", "sq", "/srv/rtoc", "", "", "", "y"))
    cfg = config_of(home)
    assert cfg.backup.active and not cfg.postgresql.active and cfg.backup.path == "/srv/rtoc"


def test_env_overrides_are_not_baked_in(home: Home) -> None:
    _, out = wizard(
        home,
        lines("", "", "y", "6000", "", "", "", "", "", "", "", "y"),
        env={"RTOC_TCP_PORT": "7000"},
    )
    data = json.loads(home.config_file.read_text())
    assert data["tcp"]["port"] == 6000
    assert "$RTOC_TCP_PORT is set and overrides tcp.port" in out


def test_broken_config_is_not_overwritten(home: Home) -> None:
    home.config_file.write_text('{"tcp": {"port": "x"}}')
    with pytest.raises(ConfigError, match="tcp.port"):
        wizard(home, lines("1000"))
    assert home.config_file.read_text() == '{"tcp": {"port": "x"}}'
    proc = subprocess.run(
        [*RTOC, "config", "--home", str(home.root)],
        input="1000\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "tcp.port: expected int" in proc.stderr
    assert home.config_file.read_text() == '{"tcp": {"port": "x"}}'


def test_helpers() -> None:
    assert parse_host("[::1]") == "::1" and parse_host("raspberrypi.local") == "raspberrypi.local"
    assert is_loopback("127.0.0.2") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("raspberrypi")


# -- a real subprocess, answers from a pipe ----------------------------------------------------
def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTOC_") or k == "RTOC_HOME"}
    env.update(COLUMNS="200", **extra)
    return env


def test_wizard_from_a_pipe(tmp_path: Path) -> None:
    home = Home(tmp_path / "piped")
    answers = lines("200000", "Generator System", "", "n", "y", "5052", "", "", "", "", "2.5")
    proc = subprocess.run(
        [*RTOC, "config", "--home", str(home.root)],
        input=answers,
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # End of input answered "Save these changes?" with its default (yes).
    assert f"Wrote {home.config_file}" in proc.stdout
    assert "global.recordLength: 500000 -> 200000" in proc.stdout
    assert "tui.plot_hz: 10.0 -> 2.5" in proc.stdout
    cfg = config_of(home)
    assert cfg.global_.recordLength == 200_000 and cfg.tui.plot_hz == 2.5
    assert (cfg.tcp.active, cfg.tcp.port) == (True, 5052)
    assert home.read_autorun() == ["Generator", "System"]


# -- a real pseudo-terminal --------------------------------------------------------------------
class PtySession:
    """A child process on a pseudo-terminal: expect() text, send() answers, with timeouts."""

    def __init__(self, argv: list[str], env: dict[str, str], cols: int = 160, rows: int = 40):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # child: the pty is its controlling terminal, as in a real login
            try:
                # As a login shell starts a program: ^C at its default and no signal blocked.
                # An ignored SIGINT would survive exec (the pytest worker's disposition varies
                # with what ran before), and the wizard would never see the ^C.
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_SETMASK, set())
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.raw = b""
        self.pos = 0
        self.closed = False
        self.status: int | None = None

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if not chunk:
            self.closed = True
        self.raw += chunk

    def expect(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Wait until pattern (a regex) appears after the previous match."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.compile(pattern).search(self.text, self.pos)
            if match:
                self.pos = match.end()
                return match
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed:
                raise AssertionError(f"{pattern!r} did not appear; transcript:\n{self.text}")
            self._read(min(remaining, 0.5))

    def send(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def send_eof(self) -> None:
        os.write(self.fd, b"\x04")

    def wait(self, timeout: float = 30.0) -> int:
        """Read until the child exits; its exit code."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"the wizard did not exit; transcript:\n{self.text}")
            self._read(0.2)
        return self.status

    def close(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except ProcessLookupError:
                pass
            self.status = -9
        os.close(self.fd)


@pytest.fixture
def pty_wizard(tmp_path: Path):
    sessions: list[PtySession] = []

    def start(home: Home) -> PtySession:
        env = cli_env(TERM="xterm-256color")
        env.pop("COLUMNS")  # the terminal's own size applies
        s = PtySession([*RTOC, "config", "--home", str(home.root)], env)
        sessions.append(s)
        return s

    yield start
    for s in sessions:
        s.close()


def test_wizard_at_a_terminal(tmp_path: Path, pty_wizard: Any) -> None:
    home = Home(tmp_path / "tty")
    s = pty_wizard(home)
    s.expect(r"global\.recordLength\) \[500000\]: ")
    s.send("lots")
    s.expect("expected a whole number, got 'lots'")
    s.expect(r"global\.recordLength\) \[500000\]: ")
    s.send("250000")
    s.expect(r"Drivers to autorun.*\[Generator\]: ")
    s.send("Generator, System")
    s.expect(r"Edit the settings of Generator\? \(y/n\) \[n\]: ")
    s.send("")
    s.expect(r"Edit the settings of System\? \(y/n\) \[y\]: ")
    s.send("n")
    s.expect(r"Run the TCP server\? \(y/n\) \[n\]: ")
    s.send("y")
    s.expect(r"Port \(tcp\.port\) \[5050\]: ")
    s.send("5055")
    s.expect(r"Password .*\[none\]: ")
    s.send("s3cret-pass")  # typed with echo off: it must not appear in the transcript
    s.expect(r"Bind address .*\[127\.0\.0\.1\]: ")
    s.send("0.0.0.0")
    s.expect(r"Storage engine \(sqlite/postgresql/off\) \[sqlite\]: ")
    s.send("sq")
    s.expect(r"Folder of the SQLite database .*: ")
    s.send("")
    s.expect(r"Plot refresh rate in Hz \(tui\.plot_hz\) \[10\]: ")
    s.send("0")
    s.expect("must be greater than 0")
    s.expect(r"tui\.plot_hz\) \[10\]: ")
    s.send("4")
    s.expect(r"Serve the web view\? \(y/n\) \[n\]: ")
    s.send("")
    s.expect(r"Run the Telegram bot \(telegram\.active\)\? \(y/n\) \[n\]: ")
    s.send("n")
    s.expect(r"tcp\.password: \(empty\) -> \*+")
    s.expect(r"Save these changes\? \(y/n\) \[y\]: ")
    s.send("y")
    s.expect(f"Wrote {re.escape(str(home.config_file))}")
    assert s.wait() == 0
    assert "s3cret-pass" not in s.text
    cfg = config_of(home)
    assert cfg.global_.recordLength == 250_000
    assert (cfg.tcp.active, cfg.tcp.port, cfg.tcp.host) == (True, 5055, "0.0.0.0")
    assert cfg.tcp.password == "s3cret-pass" and not cfg.tcp.insecure
    assert cfg.tui.plot_hz == 4.0
    assert home.read_autorun() == ["Generator", "System"]


def test_ctrl_d_at_a_terminal_keeps_everything(tmp_path: Path, pty_wizard: Any) -> None:
    home = Home(tmp_path / "tty-eof")
    home.ensure()
    before = home.config_file.read_bytes()
    s = pty_wizard(home)
    s.expect(r"global\.recordLength\) \[500000\]: ")
    s.send_eof()
    s.expect("Nothing changed")
    assert s.wait() == 0
    assert home.config_file.read_bytes() == before


def test_ctrl_c_at_a_terminal_writes_nothing(tmp_path: Path, pty_wizard: Any) -> None:
    home = Home(tmp_path / "tty-int")
    home.ensure()
    before = home.config_file.read_bytes()
    s = pty_wizard(home)
    s.expect(r"global\.recordLength\) \[500000\]: ")
    s.send("1000")
    s.expect(r"Drivers to autorun.*: ")
    os.write(s.fd, b"\x03")  # the terminal turns ^C into SIGINT
    s.expect("nothing was written")
    assert s.wait() == 130
    assert home.config_file.read_bytes() == before


# -- PostgreSQL, live ----------------------------------------------------------------------------
def test_unreachable_postgres_is_reported(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    home = Home(tmp_path / "pg-down")
    # recordLength, autorun, edit Generator?, tcp?, engine, connection ...
    answers = lines("", "", "", "n", "postgresql", "127.0.0.1", str(port), "rtoc", "pw", "rtoc")
    proc = subprocess.run(
        [*RTOC, "config", "--home", str(home.root)],
        input=answers,
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert "Connection failed:" in proc.stdout
    assert re.search(r"Connection failed:.*(refused|connect)", proc.stdout, re.I)
    # End of input at "again or keep" keeps what was typed.
    assert "Kept; the logger will report the failure" in proc.stdout
    cfg = config_of(home)
    assert cfg.postgresql.active and cfg.postgresql.port == port


# Read before conftest's autouse fixture clears RTOC_* variables from the environment.
_PG_DSN = os.environ.get("RTOC_TEST_PG_DSN", "")
_PG_ENV_FILE = Path(os.environ.get("RTOC_TEST_PG_ENV", "/tmp/rtoc-test-pg.env"))
_REPO = Path(__file__).resolve().parents[2]


def _dsn_from_env_file(path: Path) -> str:
    match = re.search(r"RTOC_TEST_PG_DSN='([^']*)'", path.read_text()) if path.is_file() else None
    return match.group(1) if match else ""


@pytest.fixture(scope="module")
def pg_dsn(tmp_path_factory: pytest.TempPathFactory):
    """The CI cluster's DSN, or a throwaway cluster of our own (.ci/postgres.sh)."""
    dsn = _PG_DSN or _dsn_from_env_file(_PG_ENV_FILE)
    if dsn:
        yield dsn
        return
    env_file = tmp_path_factory.mktemp("pg") / "pg.env"
    script = _REPO / ".ci" / "postgres.sh"
    subprocess.run(
        ["bash", str(script), "start", str(env_file)], check=True, capture_output=True, timeout=300
    )
    try:
        yield _dsn_from_env_file(env_file)
    finally:
        subprocess.run(
            ["bash", str(script), "stop", str(env_file)], capture_output=True, timeout=120
        )


@pytest.mark.postgres
def test_reachable_postgres_is_accepted(tmp_path: Path, pg_dsn: str) -> None:
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(pg_dsn)
    home = Home(tmp_path / "pg-up")
    answers = lines(
        "",
        "",
        "",
        "n",
        "postgresql",
        str(info["host"]),
        str(info["port"]),
        str(info["user"]),
        str(info["password"]),
        str(info["dbname"]),
    )
    proc = subprocess.run(
        [*RTOC, "config", "--home", str(home.root)],
        input=answers,
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert "Connected." in proc.stdout and "Connection failed" not in proc.stdout
    cfg = config_of(home)
    assert cfg.postgresql.active and cfg.postgresql.database == info["dbname"]
    # Wrong password: a clear reason from the server.
    info_bad = {**info, "password": "wrong"}
    reason = check_postgres(type("PG", (), {**info_bad, "database": info["dbname"]})())
    assert reason is not None and "password" in reason.lower()


def test_web_view_questions(home: Home) -> None:
    # on, port 8060, a network address without a password: the wizard falls back to loopback
    _, out = wizard(home, lines("", "", "n", "", "", "", "y", "8060", "0.0.0.0", "-", "", "y"))
    assert "binds 127.0.0.1" in out
    cfg = config_of(home)
    assert (cfg.web.active, cfg.global_.webserver_port, cfg.web.host) == (True, 8060, "127.0.0.1")
    # with a password it stays on the network address, masked, and warns about plain HTTP
    _, out = wizard(home, lines("", "", "n", "", "", "", "y", "", "0.0.0.0", "w3b-pass", "", "y"))
    assert "Plain HTTP" in out and "w3b-pass" not in out
    assert "web.password: (empty) -> ********" in out
    cfg = config_of(home)
    assert (cfg.web.host, cfg.web.password) == ("0.0.0.0", "w3b-pass")
