"""End to end: the real `rtoc` command in a real terminal (tmux on a private socket).

Each test starts its own tmux server (`tmux -L rtoc-test-<random>`) and kills it afterwards, so
nothing keeps running. Screens are polled with `capture-pane` until the expected text appears.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import wait_for

from rtoc_tui.config.home import Home

pytestmark = pytest.mark.e2e

RTOC = f"{shlex.quote(sys.executable)} -m rtoc_tui"


class Tmux:
    """A private tmux server."""

    def __init__(self) -> None:
        if shutil.which("tmux") is None:
            raise RuntimeError("tmux is not installed (.ci/run installs it)")
        self.socket = f"rtoc-test-{uuid.uuid4().hex[:10]}"
        self.socket_path = ""

    def cmd(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20
        )
        if out.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def start(self, name: str, command: str, env: dict[str, str], size=(120, 40)) -> str:
        """A new session running command (a shell keeps the pane open after it exits)."""
        args = ["new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1])]
        for k, v in env.items():
            args += ["-e", f"{k}={v}"]
        self.cmd(*args, "bash", "--norc", "--noprofile")
        self.socket_path = self.cmd("display-message", "-p", "#{socket_path}").strip()
        if command:
            self.type(name, command)
            self.keys(name, "Enter")
        return name

    def type(self, target: str, text: str) -> None:
        self.cmd("send-keys", "-t", target, "-l", text)

    def keys(self, target: str, *keys: str) -> None:
        self.cmd("send-keys", "-t", target, *keys)

    def screen(self, target: str) -> str:
        return self.cmd("capture-pane", "-p", "-t", target)

    def wait_for(self, target: str, *texts: str, timeout: float = 20.0) -> str:
        """Poll the pane until every text is on it; fail with the screen after timeout."""
        screen = ""

        def shown() -> bool:
            nonlocal screen
            screen = self.screen(target)
            return all(t in screen for t in texts)

        wait_for(shown, timeout, lambda: f"{texts} on screen:\n{screen}", interval=0.1)
        return screen

    def wait_gone(self, target: str, text: str, timeout: float = 20.0) -> str:
        """Poll the pane until text is gone from it; fail with the screen after timeout."""
        screen = ""

        def gone() -> bool:
            nonlocal screen
            screen = self.screen(target)
            return text not in screen

        wait_for(gone, timeout, lambda: f"{text!r} to leave the screen:\n{screen}", interval=0.1)
        return screen

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20)
        if self.socket_path:  # tmux leaves its socket file behind
            Path(self.socket_path).unlink(missing_ok=True)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux()
    yield t
    t.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_home(root: Path, tcp_port: int | None = None) -> Home:
    """A user folder with the seeded Generator on autorun (and the TCP server if asked)."""
    home = Home(root)
    home.ensure()
    home.write_autorun(["Generator"])
    cfg = json.loads(home.config_file.read_text(encoding="utf-8"))
    cfg.setdefault("devices", {})["Generator"] = {"seed": 1, "waveform": "Sinus", "gen_freq": 0.2}
    if tcp_port is not None:
        cfg["tcp"]["active"] = True
        cfg["tcp"]["port"] = tcp_port
    home.config_file.write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    return home


def env_for(tmp_path: Path, term: str = "xterm-256color") -> dict[str, str]:
    return {
        "TERM": term,
        "HOME": str(tmp_path),
        "RTOC_HOME": str(tmp_path / "unused-rtoc-home"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TEXTUAL_ANIMATIONS": "none",
    }


def test_run_see_data_script_and_quit(tmux: Tmux, tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    s = tmux.start("ui", f"{RTOC} run --home {home.root}; echo RTOC-EXIT=$?", env_for(tmp_path))
    tmux.wait_for(s, "Devices", "Generator", "running", "Sinus", timeout=30)
    tmux.wait_for(s, "live · 1m · relative", "[-] ■ Generator.Sinus")
    # the script editor: a new script, run once, see its output
    tmux.keys(s, "E")
    tmux.wait_for(s, "Script script.py", "Output")
    tmux.keys(s, "C-n")
    tmux.wait_gone(s, "RTOC script: signals are")
    tmux.type(s, "print('answer', 20 + 22, Generator.Sinus.latest is not None)")
    tmux.keys(s, "F5")
    tmux.wait_for(s, "answer 42 True")
    # One escape leaves the editor (focus moves on: the footer shows the screen's keys
    # first), the next leaves the screen. Two at once would read as alt+escape.
    tmux.keys(s, "Escape")
    tmux.wait_for(s, "f5 Run f6 Repeat")
    tmux.keys(s, "Escape")
    tmux.wait_for(s, "Devices", "Events")
    tmux.keys(s, "q")
    tmux.wait_for(s, "RTOC-EXIT=0", timeout=20)
    log = (home.root / "rtoc.log").read_text(encoding="utf-8")
    assert "device Generator stopped" in log  # the runtime stopped the drivers after the UI


def test_starts_with_term_linux_at_80x24(tmux: Tmux, tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    s = tmux.start(
        "linux",
        f"{RTOC} run --home {home.root}; echo RTOC-EXIT=$?",
        env_for(tmp_path, term="linux"),
        size=(80, 24),
    )
    screen = tmux.wait_for(s, "Devices", "Signals", "Plot", "Events", "Sinus", timeout=30)
    assert "Traceback" not in screen
    tmux.keys(s, "C-q")
    tmux.wait_for(s, "RTOC-EXIT=0", timeout=20)


def test_headless_and_attach(tmux: Tmux, tmp_path: Path) -> None:
    port = free_port()
    home = make_home(tmp_path / "home", tcp_port=port)
    env = env_for(tmp_path)
    logger = tmux.start("logger", f"{RTOC} run --headless --home {home.root}", env)
    tmux.wait_for(logger, "running headless", timeout=30)
    ui = tmux.start("attach", f"{RTOC} attach 127.0.0.1:{port}; echo ATTACH-EXIT=$?", env)
    tmux.wait_for(ui, f"@ 127.0.0.1:{port}", "● connected", "Sinus", timeout=30)
    tmux.wait_for(ui, "[-] ■ Generator.Sinus")
    # the link drops: the UI says so and keeps running
    tmux.keys(logger, "C-c")
    tmux.wait_for(logger, "stopped")
    tmux.wait_for(ui, "disconnected", timeout=20)
    tmux.keys(ui, "w")  # still answers keys
    tmux.wait_for(ui, "live · 5m")
    # the logger comes back: the UI reconnects by itself
    tmux.type(logger, f"{RTOC} run --headless --home {home.root}")
    tmux.keys(logger, "Enter")
    tmux.wait_for(ui, "● connected", timeout=30)
    tmux.keys(ui, "q")
    tmux.wait_for(ui, "ATTACH-EXIT=0", timeout=20)
    tmux.keys(logger, "C-c")
    tmux.wait_for(logger, "stopped")


def test_terminal_hangup_stops_the_logger_cleanly(tmux: Tmux, tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    s = tmux.start("hup", f"exec {RTOC} run --home {home.root}", env_for(tmp_path))
    tmux.wait_for(s, "Devices", "Generator", "running", timeout=30)
    tmux.cmd("kill-session", "-t", s)  # like an SSH session that drops: SIGHUP
    log = home.root / "rtoc.log"
    deadline = time.monotonic() + 20
    while "device Generator stopped" not in log.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
        time.sleep(0.1)  # polling interval of a wait with a timeout


def test_import_screen_at_80x24(tmux: Tmux, tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    work = tmp_path / "work"
    work.mkdir()
    (work / "lab.csv").write_text(
        "Operator: me\nZeit;Spannung [V]\n0,5;1,25\n1,0;2,5\n1,5;3,75;9\n2,0;5\n",
        encoding="utf-8",
    )
    s = tmux.start(
        "imp",
        f"cd {work} && {RTOC} run --home {home.root}; echo RTOC-EXIT=$?",
        env_for(tmp_path),
        size=(80, 24),
    )
    tmux.wait_for(s, "Devices", "Signals", timeout=30)
    tmux.keys(s, "I")
    tmux.wait_for(s, "File", "Sheet", "Profile", "Import")
    tmux.keys(s, "C-o")  # the file picker, rooted at the current directory
    tmux.wait_for(s, "lab.csv", "current directory")
    tmux.keys(s, "Down")
    tmux.keys(s, "Enter")
    screen = tmux.wait_for(s, "Spannung [V]", "3 samples", "row skipped (line 5)")
    assert "lab.Spannung" in screen and "Zeit" in screen
    tmux.keys(s, "C-r")
    tmux.wait_for(s, "imported 3 samples of 1 signals")
    tmux.keys(s, "Escape")
    tmux.wait_for(s, "Devices", "Events", "Spannung 5 V n=3")  # in the signals pane
    tmux.keys(s, "q")
    tmux.wait_for(s, "RTOC-EXIT=0", timeout=20)
