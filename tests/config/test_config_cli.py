"""`rtoc config show|get|set` and the --help of every command this module adds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rtoc_tui.cli import app
from rtoc_tui.config.home import Home, load_config

RTOC = [sys.executable, "-m", "rtoc_tui"]


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_show_gives_every_value_with_its_source(home: Home) -> None:
    home.config_file.write_text(json.dumps({"tcp": {"port": 5055, "password": "topsecret"}}))
    code, out = run(
        "config",
        "show",
        "--home",
        str(home.root),
        "--json",
        env={"RTOC_TUI_PLOT_HZ": "3", "COLUMNS": "200"},
    )
    assert code == 0, out
    data = json.loads(out)
    assert data["tcp.port"] == {"value": 5055, "source": "file"}
    assert data["tcp.password"] == {"value": "********", "source": "file"}
    assert data["postgresql.password"] == {"value": "(empty)", "source": "default"}
    assert data["tui.plot_hz"] == {"value": 3.0, "source": "env $RTOC_TUI_PLOT_HZ"}
    assert data["global.recordLength"]["source"] == "default"
    assert data["autorun_devices"]["value"] == []
    assert "topsecret" not in out

    code, out = run("config", "show", "--home", str(home.root), env={"COLUMNS": "200"})
    assert code == 0
    assert str(home.config_file) in out
    assert "topsecret" not in out
    row = next(line for line in out.splitlines() if "tcp.port" in line)
    assert "5055" in row and "file" in row and "TCP port" in row


def test_get_prints_plain_values(home: Home) -> None:
    home.config_file.write_text(
        json.dumps({"tcp": {"password": "pw"}, "devices": {"Generator": {"seed": 3}}})
    )
    assert run("config", "get", "tcp.port", "--home", str(home.root)) == (0, "5050\n")
    assert run("config", "get", "tcp.password", "--home", str(home.root)) == (0, "pw\n")
    assert run("config", "get", "tcp.active", "--home", str(home.root)) == (0, "false\n")
    assert run("config", "get", "devices.Generator.seed", "--home", str(home.root)) == (0, "3\n")
    code, out = run("config", "get", "tcp", "--home", str(home.root))
    assert code == 0 and json.loads(out)["port"] == 5050
    # The effective value: an environment override wins, as at run time.
    code, out = run(
        "config", "get", "tcp.port", "--home", str(home.root), env={"RTOC_TCP_PORT": "6001"}
    )
    assert (code, out) == (0, "6001\n")
    # --home given to the group works too.
    assert run("config", "--home", str(home.root), "get", "tcp.password") == (0, "pw\n")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("tcp.nope", "tcp.nope: unknown key (known in tcp:"),
        ("nosuch.key", "unknown section 'nosuch'"),
        ("devices.System", "devices.System: not set in devices"),
        ("bogus", "bogus: unknown key (sections:"),
    ],
)
def test_get_unknown_key_exits_2(home: Home, key: str, message: str) -> None:
    code, out = run("config", "get", key, "--home", str(home.root))
    assert code == 2
    assert message in " ".join(out.split())


def test_set_validates_and_keeps_the_rest(home: Home) -> None:
    home.config_file.write_text(json.dumps({"global": {"name": "bench"}}))
    code, out = run("config", "set", "tcp.port", "5051", "--home", str(home.root))
    assert code == 0, out
    assert "tcp.port: 5050 -> 5051" in out and str(home.config_file) in " ".join(out.split())
    data = json.loads(home.config_file.read_text())
    assert data["tcp"]["port"] == 5051 and data["global"]["name"] == "bench"

    assert run("config", "set", "tui.plot_hz", "2.5", "--home", str(home.root))[0] == 0
    assert run("config", "set", "tcp.active", "yes", "--home", str(home.root))[0] == 0
    assert (
        run("config", "set", "tcp.knownHosts", '{"pi:5050": ["Pi", ""]}', "--home", str(home.root))[
            0
        ]
        == 0
    )
    cfg = load_config(home.config_file, env={}).config
    assert cfg.tui.plot_hz == 2.5 and cfg.tcp.active is True
    assert cfg.tcp.knownHosts == {"pi:5050": ["Pi", ""]}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("tcp.port", "fifty", "tcp.port: expected int, got 'fifty'"),
        ("tcp.port", "70000", "tcp.port: must be at most 65535, got 70000"),
        ("tui.plot_hz", "0", "tui.plot_hz: must be greater than 0"),
        ("tcp.active", "maybe", "tcp.active: expected true or false, got 'maybe'"),
        ("global.language", "fr", "global.language: must be one of 'en' | 'de', got 'fr'"),
        ("tcp.nope", "1", "tcp.nope: unknown key"),
        ("tcp.knownHosts", "{bad", "tcp.knownHosts: expected JSON"),
        ("devices.Generator.waveform", "Triangle", "devices.Generator.waveform: must be one of"),
        ("devices.Generator.nope", "1", "devices.Generator.nope: unknown setting (known:"),
        ("devices.NoSuchDriver.port", "x", "no driver named 'NoSuchDriver'"),
        ("devices.Generator", "[1]", "devices.Generator: expected a JSON object"),
    ],
)
def test_set_rejects_bad_input_with_exit_2(home: Home, key: str, value: str, message: str) -> None:
    before = home.config_file.read_bytes()
    code, out = run("config", "set", key, value, "--home", str(home.root))
    assert code == 2, out
    assert message in " ".join(out.split())
    assert home.config_file.read_bytes() == before


def test_set_device_settings_are_checked_by_the_driver(home: Home) -> None:
    code, out = run("config", "set", "devices.Generator.seed", "7", "--home", str(home.root))
    assert code == 0, out
    code, out = run(
        "config", "set", "devices.System", '{"samplerate": 0.5}', "--home", str(home.root)
    )
    assert code == 0, out
    cfg = load_config(home.config_file, env={}).config
    assert cfg.devices == {"Generator": {"seed": 7}, "System": {"samplerate": 0.5}}


def test_set_never_overwrites_a_broken_file(home: Home) -> None:
    home.config_file.write_text("{ not json")
    code, out = run("config", "set", "tcp.port", "5051", "--home", str(home.root))
    assert code == 2 and "not valid JSON" in out
    assert home.config_file.read_text() == "{ not json"


def test_set_warns_about_an_exposed_server(home: Home) -> None:
    run("config", "set", "tcp.active", "true", "--home", str(home.root))
    code, out = run("config", "set", "tcp.host", "0.0.0.0", "--home", str(home.root))
    assert code == 0
    assert "without a password" in " ".join(out.split())


def test_set_warns_about_an_exposed_web_view(home: Home) -> None:
    h = str(home.root)
    run("config", "set", "web.active", "true", "--home", h)
    code, out = run("config", "set", "web.host", "0.0.0.0", "--home", h)
    assert code == 0 and "without web.password" in " ".join(out.split())
    code, out = run("config", "set", "web.password", "pw", "--home", h)
    assert code == 0 and "plain HTTP" in " ".join(out.split()) and "pw" not in out.split()
    code, out = run("config", "set", "web.host", "127.0.0.1", "--home", h)
    assert code == 0 and "warning" not in out


def test_exit_code_2_from_the_real_command(home: Home) -> None:
    proc = subprocess.run(
        [*RTOC, "config", "set", "tcp.port", "x", "--home", str(home.root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "tcp.port: expected int, got 'x'" in proc.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["config"],
        ["config", "show"],
        ["config", "get"],
        ["config", "set"],
        ["config", "import-rtoc"],
        ["status"],
        ["web"],
    ],
)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    code, out = run(*command, "--help", env={"COLUMNS": "200"})
    assert code == 0
    assert "Example" in out and "rtoc " in out


def complete(words: str) -> list[str]:
    """What bash completion offers for the last word of `words`."""
    # The console script: completion keys off the program name (_RTOC_COMPLETE for `rtoc`).
    rtoc = Path(sys.executable).with_name("rtoc")
    assert rtoc.is_file(), f"no console script {rtoc}: install the package (pip install -e .)"
    proc = subprocess.run(
        [str(rtoc)],
        stdin=subprocess.DEVNULL,
        env={
            **os.environ,
            "_RTOC_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.stdout.split()


def test_shell_completion_of_keys(home: Home) -> None:
    assert complete("rtoc config get tcp.p") == ["tcp.port", "tcp.password"]
    assert complete("rtoc config set devices.Gen") == ["devices.Generator"]
    assert complete("rtoc config set devices.Generator.wa") == ["devices.Generator.waveform"]
