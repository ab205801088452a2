"""`rtoc config import-rtoc` keeps storage on, converts old global-event keys and never lets
RTOC's plugin copies shadow built-in drivers (issue 16). Fixture: data/rtoc_home_builtins."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rtoc_tui.cli import app
from rtoc_tui.cli.import_rtoc import import_rtoc
from rtoc_tui.config.home import Home, load_config
from rtoc_tui.core.devices import discover
from rtoc_tui.core.logger import Logger
from rtoc_tui.scripting import attach_automation

FIXTURE = Path(__file__).parent / "data" / "rtoc_home_builtins"


@pytest.fixture
def rtoc_home(tmp_path: Path) -> Path:
    dest = tmp_path / ".RTOC"
    shutil.copytree(FIXTURE, dest)
    return dest


@pytest.fixture
def new_home(tmp_path: Path) -> Home:
    return Home(tmp_path / "rtoc-home")


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})
    return result.exit_code, result.output


def test_storage_stays_on_and_the_report_says_why(rtoc_home: Path, new_home: Home) -> None:
    code, out = run_cli("config", "import-rtoc", str(rtoc_home), "--home", str(new_home.root))
    assert code == 0, out
    cfg = load_config(new_home.config_file, env={}).config
    assert cfg.backup.active is True
    assert cfg.backup.intervall == 1.0
    assert "backup.active=False meant 'no periodic copy" in out and "storage stays on" in out
    assert "backup.intervall=240 s" in out


def test_old_and_documented_global_event_keys(rtoc_home: Path, new_home: Home) -> None:
    report = import_rtoc(rtoc_home, new_home)
    assert not [n for n in report.notes if "unknown keys" in n]
    events = json.loads(new_home.global_events_file.read_text(encoding="utf-8"))
    assert events["documented"]["trigger"] == "rising"
    assert events["old_rising"]["trigger"] == "rising" and "rising" not in events["old_rising"]
    assert events["old_level"]["trigger"] == "true"
    assert any("rising=False converted to trigger='true'" in n for n in report.notes)

    # and the event engine runs all three
    logger = Logger.from_home(new_home)
    auto = attach_automation(logger)
    try:
        auto.reload()
        assert not [e for e in logger.events.all() if e.id == "globalEventsError"]
        assert {name for name, spec in auto.global_events().items() if not spec["errors"]} == {
            "documented",
            "old_rising",
            "old_level",
        }
        for value in (-1.0, -2.0):
            logger.store.append_one("Thermo", "T", 0.0, value, "°C")
            auto.evaluate_dirty()
        assert len([e for e in logger.events.all() if e.id == "frost"]) == 2  # trigger "true"
    finally:
        auto.close()


def test_a_hand_copied_rising_key_works_too(new_home: Home) -> None:
    new_home.ensure()
    new_home.global_events_file.write_text(
        json.dumps({"e": {"cond": "A.b.latest > 1", "id": "x", "rising": True}}), encoding="utf-8"
    )
    logger = Logger.from_home(new_home)
    auto = attach_automation(logger)
    try:
        auto.reload()
        assert auto.global_events()["e"]["trigger"] == "rising"
        assert not auto.global_events()["e"]["errors"]
    finally:
        auto.close()


def test_rtoc_copies_of_built_in_drivers_are_not_imported(rtoc_home: Path, new_home: Home) -> None:
    code, out = run_cli("config", "import-rtoc", str(rtoc_home), "--home", str(new_home.root))
    assert code == 0, out
    assert sorted(p.name for p in new_home.devices_dir.iterdir()) == ["Thermo"]
    assert "devices/Generator/" in out and "it would replace the built-in Generator" in out
    assert "devices/HoldPeak VC820/" in out and "built-in VC820" in out
    assert "devices/OctoTouch/" in out and "built-in OctoPrint" in out
    assert new_home.read_autorun() == ["Generator", "VC820", "OctoPrint", "Thermo"]
    assert discover(new_home.devices_dir)["Generator"].source == "builtin"


def test_kept_copies_never_shadow_a_built_in_driver(rtoc_home: Path, new_home: Home) -> None:
    report = import_rtoc(rtoc_home, new_home, keep_plugin_copies=True)
    names = sorted(p.name for p in new_home.devices_dir.iterdir())
    assert names == ["Generator_rtoc", "HoldPeak VC820", "OctoTouch", "Thermo"]
    assert (new_home.devices_dir / "Generator_rtoc" / "Generator_rtoc.py").is_file()
    assert (new_home.devices_dir / "Generator_rtoc" / "Funktionsgenerator").is_dir()
    specs = discover(new_home.devices_dir)
    assert specs["Generator"].source == "builtin"
    assert specs["Generator_rtoc"].source == "user"
    assert any("copied as devices/Generator_rtoc" in n for n in report.notes)
    assert new_home.read_autorun()[0] == "Generator"  # the working built-in
