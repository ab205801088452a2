"""config.json: defaults, strict validation with key paths, precedence, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rtoc_tui.config.home import Home, load_config, resolve_home, save_config, update_config_file
from rtoc_tui.config.schema import Config, ConfigError


def test_first_run_creates_rtoc_tree_with_defaults(tmp_path: Path) -> None:
    h = Home(tmp_path / "u")
    assert h.ensure() is True
    for p in (
        h.config_file,
        h.devices_dir,
        h.autorun_file,
        h.data_dir,
        h.scripts_dir,
        h.global_events_file,
        h.global_actions_file,
    ):
        assert p.exists(), p
    data = json.loads(h.config_file.read_text())
    assert data["global"]["recordLength"] == 500_000
    assert (
        data["tcp"]["port"] == 5050
        and data["tcp"]["active"] is False
        and data["tcp"]["host"] == "127.0.0.1"
    )
    assert set(data) == {
        "global",
        "tcp",
        "postgresql",
        "backup",
        "telegram",
        "web",
        "tui",
        "devices",
    }
    assert h.read_autorun() == ["Generator"]  # a newcomer sees data
    assert h.ensure() is False


def test_home_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RTOC_HOME", str(tmp_path / "env"))
    assert resolve_home(tmp_path / "cli") == (tmp_path / "cli").resolve()
    assert resolve_home(None) == (tmp_path / "env").resolve()
    monkeypatch.delenv("RTOC_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_home(None) == tmp_path / ".rtoc"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tcp": {"port": "5050"}}, r"config\.json: tcp\.port: expected int, got str '5050'"),
        ({"tcp": {"prot": 1}}, r"tcp\.prot: unknown key"),
        ({"global": {"recordLength": True}}, r"global\.recordLength: expected int"),
        ({"bogus": {}}, r"bogus: unknown key"),
        ({"global": {"language": "fr"}}, r"global\.language: must be one of"),
        ({"devices": {"Gen": 3}}, r"devices\.Gen: expected an object"),
    ],
)
def test_invalid_config_names_file_and_key(tmp_path: Path, data: dict, message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_broken_file_is_reported_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    broken = '{"tcp": {"port": 5050,,}'
    path.write_text(broken)
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(path)
    with pytest.raises(ConfigError):
        save_config(path, Config())
    with pytest.raises(ConfigError):
        update_config_file(path, {"tcp.port": 1})
    assert path.read_text() == broken


def test_precedence_cli_over_env_over_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"tcp": {"port": 6000, "active": True}}))
    lc = load_config(
        path,
        env={"RTOC_TCP_PORT": "7000", "RTOC_GLOBAL_RECORDLENGTH": "1000"},
        cli={"tcp.port": 8000},
    )
    assert lc.config.tcp.port == 8000 and lc.provenance["tcp.port"] == "cli"
    assert lc.config.global_.recordLength == 1000 and lc.provenance["global.recordLength"] == "env"
    assert lc.config.tcp.active is True and lc.provenance["tcp.active"] == "file"
    assert lc.provenance["tcp.password"] == "default"
    with pytest.raises(ConfigError, match=r"RTOC_TCP_PORT: tcp\.port: expected int"):
        load_config(path, env={"RTOC_TCP_PORT": "high"})


def test_update_is_atomic_and_keeps_other_values(tmp_path: Path) -> None:
    h = Home(tmp_path / "u")
    h.ensure()
    update_config_file(h.config_file, {"tcp.port": 5999, "global.recordLength": "1234"})
    cfg = load_config(h.config_file).config
    assert cfg.tcp.port == 5999 and cfg.global_.recordLength == 1234
    assert not [p for p in h.root.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ConfigError):
        update_config_file(h.config_file, {"tcp.port": "x"})
    assert load_config(h.config_file).config.tcp.port == 5999
