"""`rtoc config import-rtoc`: a sample RTOC 3.0 user folder migrated into ours."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rtoc_tui.cli import app
from rtoc_tui.cli.import_rtoc import MigrationError, import_rtoc, load_lenient_json
from rtoc_tui.config.home import Home, load_config
from rtoc_tui.core.devices import discover, load_class
from rtoc_tui.core.logger import Logger

FIXTURE = Path(__file__).parent / "data" / "rtoc_home"


def tree_digest(root: Path) -> dict[str, str]:
    """Every path under root with the hash of its bytes (or 'dir') and its mode."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_dir():
            out[rel] = f"dir {p.stat().st_mode:o}"
        else:
            out[rel] = f"{hashlib.sha256(p.read_bytes()).hexdigest()} {p.stat().st_mode:o}"
    return out


@pytest.fixture
def rtoc_home(tmp_path: Path) -> Path:
    """A copy of the sample RTOC folder (the test must not depend on the checkout's modes)."""
    dest = tmp_path / ".RTOC"
    shutil.copytree(FIXTURE, dest)
    return dest


@pytest.fixture
def new_home(tmp_path: Path) -> Home:
    return Home(tmp_path / "rtoc-home")


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_import_maps_rtoc_3_config(rtoc_home: Path, new_home: Home) -> None:
    before = tree_digest(rtoc_home)
    code, out = run_cli("config", "import-rtoc", str(rtoc_home), "--home", str(new_home.root))
    assert code == 0, out
    assert tree_digest(rtoc_home) == before  # the RTOC folder is byte-identical

    cfg = load_config(new_home.config_file, env={}).config
    assert cfg.global_.language == "de"
    assert cfg.global_.recordLength == 200_000
    assert cfg.global_.name == "Werkstatt"
    assert cfg.global_.globalEventsActivated is True
    assert cfg.postgresql.port == 5432  # RTOC wrote the port as the string "5432"
    assert cfg.postgresql.host == "192.168.1.10"
    assert cfg.postgresql.password == "pgsecret"
    assert cfg.tui.plot_hz == 4.0  # GUI.plotRate
    assert cfg.tui.signalInactivityTimeout == 5.0
    assert cfg.tui.plotGridEnabled is False
    assert cfg.tcp.active is True and cfg.tcp.port == 5051 and cfg.tcp.password == "tcpsecret"
    assert cfg.tcp.host == "127.0.0.1"  # our safe default stays; the report says so
    assert cfg.tcp.knownHosts == {"192.168.1.20:5050": ["RenameDevice", ""]}  # old list form
    assert cfg.telegram.default_eventlevel == 1  # RTOC 3.0 spelled it eventlevel
    assert cfg.backup.intervall == 1.0  # RTOC's 240 s backup period is not our flush interval

    # holdPeak_VC820 has no plugin folder: the built-in VC820 takes its place.
    assert new_home.read_autorun() == ["Generator", "VC820", "MyPlugin"]

    # The report names what it took, mapped and could not use; secrets stay masked.
    assert "Took:" in out and "devices/MyPlugin/" in out
    assert "GUI.plotRate -> tui.plot_hz = 4.0" in out
    assert "telegram.eventlevel -> telegram.default_eventlevel = 1" in out
    assert "holdPeak_VC820 -> built-in driver VC820" in out
    assert "autorun_devices: NotInstalled" in out
    assert "global.documentfolder" in out and "GUI.openGL" in out
    assert "plotStyles.json" in out and "telegram_clients.json" in out and "backup/" in out
    assert "devices/README.txt" in out
    assert "pgsecret" not in out and "tcpsecret" not in out and "ABCdef" not in out


def test_imported_plugin_runs_unchanged(rtoc_home: Path, new_home: Home) -> None:
    import_rtoc(rtoc_home, new_home)
    assert (new_home.devices_dir / "MyPlugin" / "myplugin_helper.py").is_file()
    spec = discover(new_home.devices_dir)["MyPlugin"]
    assert spec.source == "user"
    load_class(spec)
    logger = Logger.from_home(new_home)
    logger.devices.start("MyPlugin")
    try:
        deadline = time.monotonic() + 10
        buffers = []
        while time.monotonic() < deadline and not buffers:
            buffers = [b for b in logger.store.buffers() if len(b)]
            time.sleep(0.02)  # polling for the plugin's first sample, bounded by the deadline
        assert buffers, "the migrated plugin produced no sample"
        assert buffers[0].name == "MyPlugin.count"
    finally:
        logger.devices.stop_all()


def test_global_events_and_actions_become_valid_json(rtoc_home: Path, new_home: Home) -> None:
    report = import_rtoc(rtoc_home, new_home)
    events = json.loads(new_home.global_events_file.read_text(encoding="utf-8"))
    assert events["myevent1"]["trigger"] == "rising"  # RTOC 2.0's rising: True (a Python literal)
    assert "rising" not in events["myevent1"]
    assert events["myevent1"]["cond"] == "Generator.Square.latest >= 2"
    actions = json.loads(new_home.global_actions_file.read_text(encoding="utf-8"))
    assert actions["action2"]["listenID"] == ["testID"]  # RTOC accepted a bare string
    assert any("Python-style" in n and "globalEvents.json" in n for n in report.notes)


def test_dry_run_writes_nothing(rtoc_home: Path, new_home: Home) -> None:
    code, out = run_cli(
        "config", "import-rtoc", str(rtoc_home), "--home", str(new_home.root), "--dry-run"
    )
    assert code == 0, out
    assert "Would import" in out and "nothing was written" in out
    assert not new_home.root.exists()


def test_existing_files_are_kept_without_overwrite(rtoc_home: Path, new_home: Home) -> None:
    new_home.ensure()
    (new_home.devices_dir / "MyPlugin").mkdir()
    (new_home.devices_dir / "MyPlugin" / "MyPlugin.py").write_text("# mine\n")
    new_home.global_events_file.write_text('{"mine": {"cond": "", "text": "x"}}\n')

    report = import_rtoc(rtoc_home, new_home)
    assert (new_home.devices_dir / "MyPlugin" / "MyPlugin.py").read_text() == "# mine\n"
    assert "mine" in json.loads(new_home.global_events_file.read_text())
    unused = dict(report.unused)
    assert "--overwrite" in unused["devices/MyPlugin/"]
    assert "--overwrite" in unused["globalEvents.json"]

    import_rtoc(rtoc_home, new_home, overwrite=True)
    assert "# mine" not in (new_home.devices_dir / "MyPlugin" / "MyPlugin.py").read_text()
    assert "myevent1" in json.loads(new_home.global_events_file.read_text())


def test_flat_layout_of_early_rtoc(tmp_path: Path, new_home: Home) -> None:
    src = tmp_path / "old"
    src.mkdir()
    (src / "config.json").write_text(
        json.dumps(
            {
                "language": "en",
                "defaultRecordLength": 5000,
                "plotRate": 8,
                "tcpserver": True,
                "tcpPort": "5060",
                "lastSessions": [],
            }
        )
    )
    report = import_rtoc(src, new_home)
    cfg = load_config(new_home.config_file, env={}).config
    assert cfg.global_.recordLength == 5000
    assert cfg.tcp.active is True and cfg.tcp.port == 5060
    assert cfg.tui.plot_hz == 8.0
    assert ("lastSessions", "Qt GUI option with no terminal equivalent") in report.unused


def test_invalid_values_are_reported_not_imported(tmp_path: Path, new_home: Home) -> None:
    src = tmp_path / "bad"
    src.mkdir()
    (src / "config.json").write_text(
        json.dumps({"tcp": {"port": "fifty"}, "global": {"language": "fr"}, "web": {}})
    )
    report = import_rtoc(src, new_home)
    cfg = load_config(new_home.config_file, env={}).config
    assert cfg.tcp.port == 5050 and cfg.global_.language == "en"
    unused = dict(report.unused)
    assert "expected int" in unused["tcp.port"]
    assert "must be one of" in unused["global.language"]
    assert unused["web"] == "not a section rtoc-tui knows"


def test_missing_folder_and_broken_files(tmp_path: Path, new_home: Home) -> None:
    code, out = run_cli(
        "config", "import-rtoc", str(tmp_path / "nope"), "--home", str(new_home.root)
    )
    assert code == 1 and "no RTOC user folder" in out

    src = tmp_path / "broken"
    src.mkdir()
    (src / "globalEvents.json").write_text("{not json at all")
    with pytest.raises(MigrationError, match="neither JSON nor Python literals"):
        import_rtoc(src, new_home)


def test_broken_own_config_is_never_overwritten(rtoc_home: Path, new_home: Home) -> None:
    new_home.ensure()
    new_home.config_file.write_text("{broken")
    code, out = run_cli("config", "import-rtoc", str(rtoc_home), "--home", str(new_home.root))
    assert code == 2 and "not valid JSON" in out
    assert new_home.config_file.read_text() == "{broken"
    assert not (new_home.devices_dir / "MyPlugin").exists()


def test_lenient_json(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text("{'a': True, 'b': None, 'c': [1, 2,]}")
    assert load_lenient_json(p) == ({"a": True, "b": None, "c": [1, 2]}, True)
    p.write_text('{"a": true}')
    assert load_lenient_json(p) == ({"a": True}, False)
