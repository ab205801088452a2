"""`rtoc status` against a real `rtoc run --headless`, and against stale status files."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers import wait_for
from typer.testing import CliRunner

from rtoc_tui.cli import app
from rtoc_tui.config.home import Home

RTOC = [sys.executable, "-m", "rtoc_tui"]


def status(home: Home, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RTOC, "status", "--home", str(home.root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_status_of_a_running_headless_logger(tmp_path: Path) -> None:
    home = Home(tmp_path / "svc")
    home.ensure()
    home.write_autorun(["Generator"])
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*RTOC, "run", "--headless", "--home", str(home.root)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def has_signal() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"rtoc run exited early:\n{log_path.read_text()}")
            try:
                return json.loads(home.status_file.read_text())["signals"] >= 1
            except (OSError, ValueError, KeyError):
                return False

        wait_for(has_signal, 30, "status.json with a signal")
        result = status(home)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"running RTOC-Remote (pid {proc.pid}" in result.stdout
        assert "Generator running" in result.stdout
        assert re.search(r"signals +1 \(", result.stdout)

        result = status(home, "--json")
        assert result.returncode == 0
        assert json.loads(result.stdout)["pid"] == proc.pid

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log_path.read_text()
        assert not home.status_file.exists()
        result = status(home)
        assert result.returncode == 1
        assert f"No logger is running for {home.root}" in result.stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def write_status(home: Home, **fields: object) -> None:
    data = {"pid": os.getpid(), "written_at": time.time(), "name": "bench", "uptime_s": 3725.0}
    data.update(fields)
    home.status_file.write_text(json.dumps(data))


def run_status(home: Home) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["status", "--home", str(home.root)], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_no_status_file(home: Home) -> None:
    code, out = run_status(home)
    assert code == 1 and "No logger is running" in out and "no status.json" in out


def test_status_left_by_a_dead_process(home: Home) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    write_status(home, pid=dead.pid, written_at=time.time() - 30)
    code, out = run_status(home)
    assert code == 1
    assert f"process {dead.pid} is gone" in out


def test_status_not_updated_any_more(home: Home) -> None:
    write_status(home, written_at=time.time() - 95)
    code, out = run_status(home)
    assert code == 1
    assert "has not updated status.json for 95" in out and "hung" in out


def test_fresh_status_is_shown(home: Home) -> None:
    write_status(
        home,
        signals=3,
        samples_per_s=20.0,
        samples_in_memory=1200,
        events=2,
        devices=[
            {"name": "Generator", "state": "running", "reason": ""},
            {"name": "VC820", "state": "error", "reason": "/dev/ttyUSB0: no such file"},
        ],
        clients=1,
        storage="sqlite",
        storage_lag_s=0.4,
        tcp={"active": True, "host": "127.0.0.1", "port": 5050},
    )
    code, out = run_status(home)
    assert code == 0, out
    assert "running bench" in out and "up 1 h 2 min" in out
    assert "3 (20.0 samples/s, 1,200 in memory)" in out
    assert "sqlite (lag 0.4 s)" in out
    assert "127.0.0.1:5050, 1 clients" in out
    assert "VC820 error: /dev/ttyUSB0: no such file" in out


def test_unreadable_status_file(home: Home) -> None:
    home.status_file.write_text("{half a file")
    code, out = run_status(home)
    assert code == 1 and "cannot read" in out
