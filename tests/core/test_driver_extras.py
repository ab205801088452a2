"""Built-in drivers register through entry points; a driver whose extra is missing says which."""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rtoc_tui.cli import app
from rtoc_tui.core import devices
from rtoc_tui.core.devices import DeviceError, discover, load_class


def test_builtin_drivers_come_from_our_entry_points() -> None:
    specs = discover(None)
    builtin = {n for n, s in specs.items() if s.source == "builtin"}
    assert {
        "Generator",
        "System",
        "VC820",
        "OctoPrint",
        "DPS5020",
        "Heliotherm",
        "Otii",
        "INA219",
    } <= builtin
    eps = {ep.name: ep for ep in md.entry_points(group="rtoc.drivers")}
    assert eps["DPS5020"].extras == ["modbus"] and specs["DPS5020"].extra == "modbus"
    assert specs["Generator"].extra is None
    assert specs["Otii"].extra == "otii" and specs["INA219"].extra == "pi"


def test_installed_extras_are_not_reported_missing() -> None:
    for name, spec in discover(None).items():
        if spec.source == "builtin":
            assert spec.missing_extra() is None, name


@pytest.fixture
def without_modbus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend minimalmodbus is not installed (as after a base install)."""
    real = devices.distribution

    def fake(name: str) -> md.Distribution:
        if name.lower() == "minimalmodbus":
            raise md.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(devices, "distribution", fake)


@pytest.mark.usefixtures("without_modbus")
def test_a_missing_extra_is_named_when_listing_and_starting(tmp_path: Path) -> None:
    specs = discover(None)
    assert specs["DPS5020"].missing_extra() == "rtoc-tui[modbus]"
    assert specs["Heliotherm"].missing_extra() == "rtoc-tui[modbus]"
    assert specs["Otii"].missing_extra() is None
    with pytest.raises(
        DeviceError, match=r"DPS5020 needs rtoc-tui\[modbus\]: pip install 'rtoc-tui\[modbus\]'"
    ):
        load_class(specs["DPS5020"])
    result = CliRunner().invoke(
        app, ["drivers", "list", "--home", str(tmp_path / "h")], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.output.splitlines() if "DPS5020" in ln)
    assert "needs rtoc-tui[modbus]" in line
