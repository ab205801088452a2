"""`rtoc run --headless`: autorun, journald-style logs, clean SIGTERM/SIGINT stop, no Textual."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import wait_for

from rtoc_tui.config.home import Home

RTOC = [sys.executable, "-m", "rtoc_tui"]


def env_for(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["RTOC_HOME"] = str(home)
    env["HOME"] = str(home.parent)
    env["JOURNAL_STREAM"] = "8:1234"  # as under systemd
    return env


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_headless_runs_generator_by_default_and_stops_cleanly(
    tmp_path: Path, sig: signal.Signals
) -> None:
    home = tmp_path / "rtoc"
    proc = subprocess.Popen(
        [*RTOC, "run", "--headless"],
        env=env_for(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for((home / "status.json").exists, 15.0, "status.json")
        deadline = time.monotonic() + 10
        status = {}
        while time.monotonic() < deadline:
            status = json.loads((home / "status.json").read_text() or "{}")
            if status.get("signals", 0) >= 1:
                break
            time.sleep(0.05)
        assert status["signals"] >= 1
        assert {"name": "Generator", "state": "running", "reason": ""} in status["devices"]
        t0 = time.monotonic()
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=10)
        assert time.monotonic() - t0 < 5.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "<6>rtoc_tui.core.devices: device Generator started" in err  # journald priority prefix
    assert "<6>rtoc: stopped" in err
    assert not (home / "status.json").exists()


def test_headless_never_imports_textual(tmp_path: Path) -> None:
    home = tmp_path / "rtoc"
    code = textwrap.dedent(
        f"""
        import asyncio, os, signal, sys, threading
        from rtoc_tui import cli, runtime
        from rtoc_tui.config.home import Home
        h = Home(__import__('pathlib').Path({str(home)!r})); h.ensure()
        logger = runtime.build_logger(h)
        threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGTERM)).start()
        code = asyncio.run(runtime.run_headless(logger))
        bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'plotext') or m.startswith('rtoc_tui.ui'))
        print('BAD', bad)
        sys.exit(code)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env_for(home), capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert "BAD []" in out.stdout


def test_broken_config_is_a_clear_error_and_left_alone(tmp_path: Path) -> None:
    home = tmp_path / "rtoc"
    Home(home).ensure()
    (home / "config.json").write_text('{"tcp": {"port": "fifty"}}')
    out = subprocess.run(
        [*RTOC, "run", "--headless"], env=env_for(home), capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 2
    assert "tcp.port: expected int" in out.stderr and "config.json" in out.stderr
    assert (home / "config.json").read_text() == '{"tcp": {"port": "fifty"}}'


def test_drivers_list_and_test(tmp_path: Path) -> None:
    home = tmp_path / "rtoc"
    out = subprocess.run(
        [*RTOC, "drivers", "list"], env=env_for(home), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "Generator" in out.stdout and "System" in out.stdout
    out = subprocess.run(
        [*RTOC, "drivers", "test", "Generator"],
        env=env_for(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "Generator.Square" in out.stdout
    out = subprocess.run(
        [*RTOC, "drivers", "test", "Nope"],
        env=env_for(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "no driver named 'Nope'" in out.stderr


def test_core_import_loads_no_ui_toolkit() -> None:
    code = "import sys, rtoc_tui.core.logger, rtoc_tui.core.devices, rtoc_tui.runtime, rtoc_tui.cli.main; print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual','plotext')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "[]", out.stderr


def test_drivers_load_no_ui_toolkit() -> None:
    code = (
        "import sys, importlib\n"
        "from importlib.metadata import entry_points\n"
        "eps = [ep for ep in entry_points(group='rtoc.drivers') if ep.module.startswith('rtoc_tui.')]\n"
        "assert len(eps) >= 8, eps\n"
        "for ep in eps:\n"
        "    importlib.import_module(ep.module)\n"
        "    importlib.import_module(ep.module.rpartition('.')[0] + '.emulator') if ep.name not in ('Generator', 'System') else None\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual','plotext') or m.startswith('rtoc_tui.ui')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_drivers_test_reports_a_failing_device_without_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "rtoc"
    Home(home).ensure()
    (home / "devices" / "Flaky.py").write_text(
        "from LoggerPlugin import LoggerPlugin\n"
        "class Plugin(LoggerPlugin):\n"
        "    def __init__(self, *a, **k):\n"
        "        super().__init__(*a, **k)\n"
        "        self.setDeviceName('Flaky')\n"
        "        self.setPerpetualTimer(self._poll, samplerate=20)\n"
        "        self.start()\n"
        "    def _poll(self):\n"
        "        raise OSError('no answer on /dev/ttyUSB7')\n"
    )
    out = subprocess.run(
        [*RTOC, "drivers", "test", "Flaky", "--timeout", "5"],
        env=env_for(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert "OSError: no answer on /dev/ttyUSB7" in out.stderr
    assert "Traceback" not in out.stderr
