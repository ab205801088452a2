"""sample_configs/ and each driver's sample_config.json: every JSON file loads through the real loader, and the systemd unit verifies."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rtoc_tui.config.home import Home, load_config
from rtoc_tui.config.schema import TuiSection
from rtoc_tui.core.devices import discover, load_class
from rtoc_tui.core.logger import Logger
from rtoc_tui.core.settings import validate_settings

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_configs"
JSON_SAMPLES = sorted(SAMPLES.glob("*.json")) + sorted(REPO.glob("drivers/*/sample_config.json"))
UNIT = SAMPLES / "rtoc.service"


def test_the_samples_are_there() -> None:
    names = {p.name for p in JSON_SAMPLES}
    assert {"pi_headless.json", "demo.json", "attach.json"} <= names
    with_sample = {p.parent.name for p in JSON_SAMPLES if p.name == "sample_config.json"}
    assert {"dps5020", "vc820", "ina219", "otii", "heliotherm", "octoprint"} <= with_sample
    assert UNIT.is_file()


@pytest.mark.parametrize("sample", JSON_SAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_sample_config_loads(sample: Path, tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.ensure()
    shutil.copy(sample, home.config_file)
    loaded = load_config(home.config_file, env={})
    specs = discover(home.devices_dir)
    for name, given in loaded.config.devices.items():
        assert name in specs, f"{sample.name}: devices.{name}: no such driver"
        validate_settings(name, load_class(specs[name]).SETTINGS, given, where=sample.name)
    Logger.from_home(home)  # the logger itself accepts it


def test_pi_headless_sample() -> None:
    cfg = load_config(SAMPLES / "pi_headless.json", env={}).config
    assert cfg.tcp.active and cfg.tcp.host == "0.0.0.0"
    assert cfg.tcp.password and not cfg.tcp.insecure  # a placeholder to replace, never open
    assert cfg.tui.plot_hz < TuiSection().plot_hz


def test_demo_sample_uses_the_generator() -> None:
    cfg = load_config(SAMPLES / "demo.json", env={}).config
    assert "Generator" in cfg.devices and cfg.devices["Generator"]["seed"] is not None


def unit_directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m:
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


def test_unit_has_what_a_pi_service_needs() -> None:
    d = unit_directives(UNIT.read_text())
    assert d["User"] == ["rtoc"]
    assert d["Restart"] == ["on-failure"]
    assert set(d["SupplementaryGroups"][0].split()) >= {"dialout", "i2c", "gpio"}
    assert any(e.startswith("RTOC_HOME=") for e in d["Environment"])
    assert d["KillSignal"] == ["SIGTERM"] and d["TimeoutStopSec"] == ["10"]
    exec_start = d["ExecStart"][0].split()
    assert exec_start[0].startswith("/") and exec_start[1:] == ["run", "--headless"]
    # Hardening that would hide /dev/ttyUSB*, /dev/i2c-* from the drivers must stay off.
    assert "PrivateDevices" not in d and "DevicePolicy" not in d
    assert d["NoNewPrivileges"] == ["yes"] and d["ProtectSystem"] == ["strict"]


@pytest.fixture
def checkable_unit(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at an existing wrapper (verify checks it is executable)."""
    wrapper = tmp_path / "bin" / "rtoc"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m rtoc_tui "$@"\n')
    wrapper.chmod(0o755)
    original = UNIT.read_text()
    exec_path = unit_directives(original)["ExecStart"][0].split()[0]
    text = original.replace(f"ExecStart={exec_path} ", f"ExecStart={wrapper} ")
    # Only that one line may differ: everything else is verified as shipped.
    changed = [
        (a, b) for a, b in zip(original.splitlines(), text.splitlines(), strict=True) if a != b
    ]
    assert len(changed) == 1 and changed[0][0].startswith("ExecStart=")
    unit = tmp_path / "rtoc.service"
    unit.write_text(text)
    return unit


def test_unit_passes_systemd_analyze_verify(checkable_unit: Path) -> None:
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(checkable_unit)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    # verify exits 0 even for unknown keys; it only warns, so any output is a failure too.
    assert proc.returncode == 0 and proc.stderr.strip() == "" and proc.stdout.strip() == "", (
        proc.stdout + proc.stderr
    )


def test_unit_hardening_exposure_is_low(checkable_unit: Path) -> None:
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(checkable_unit)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    m = re.search(r"Overall exposure level for rtoc\.service: (\d+\.\d+)", proc.stdout)
    assert m, proc.stdout + proc.stderr
    # 0 is fully locked down, 10 unprotected; systemd calls up to 3.9 "OK".
    assert float(m.group(1)) <= 3.0, proc.stdout
