"""One logger per user folder (issue 14, item 7): a second `rtoc run` refuses and names the
running one; a lock left by a killed logger is stale and does not block the next start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import wait_for

from rtoc_tui.config.home import FolderBusy, FolderLock, Home

RTOC = [sys.executable, "-m", "rtoc_tui"]


def env_for(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["RTOC_HOME"] = str(home)
    env["HOME"] = str(home.parent)
    return env


def start(home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*RTOC, "run", "--headless"],
        env=env_for(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_logger_on_the_same_folder_refuses_and_names_the_first(tmp_path: Path) -> None:
    home = tmp_path / "rtoc"
    h = Home(home)
    h.ensure()
    h.write_autorun([])
    h.config_file.write_text(json.dumps({"tcp": {"active": False}}))
    first = start(home)
    try:
        wait_for((home / "status.json").exists, 20.0, "the first logger to run")
        second = subprocess.run(
            [*RTOC, "run", "--headless"],
            env=env_for(home),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode != 0
        assert f"PID {first.pid}" in second.stderr and "already running" in second.stderr
        first.send_signal(signal.SIGKILL)  # a crash: the lock file stays behind
        first.wait(10)
        assert json.loads(h.lock_file.read_text())["pid"] == first.pid
        (home / "status.json").unlink()
        third = start(home)
        try:
            wait_for((home / "status.json").exists, 20.0, "a logger after the stale lock")
            assert json.loads(h.lock_file.read_text())["pid"] == third.pid
        finally:
            third.send_signal(signal.SIGTERM)
            third.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()


def test_folder_lock_in_process(home: Home) -> None:
    a, b = FolderLock(home), FolderLock(home)
    a.acquire()
    try:
        assert b.holder() == {
            "pid": os.getpid(),
            "started": pytest.approx(json.loads(home.lock_file.read_text())["started"]),
        }
        with pytest.raises(FolderBusy, match=f"PID {os.getpid()}"):
            b.acquire()
    finally:
        a.release()
    assert b.holder() is None
    b.acquire()
    b.release()
