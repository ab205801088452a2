"""The RTOC plugin API, the device manager, failure isolation and RTOC plugin compatibility."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest
from helpers import wait_for

from rtoc_tui.core import introspect
from rtoc_tui.core import plugin as plugin_mod
from rtoc_tui.core.devices import DeviceError
from rtoc_tui.core.logger import Logger
from rtoc_tui.core.plugin import LoggerPlugin, construction_context
from rtoc_tui.core.settings import Setting, SettingsError

DATA = Path(__file__).parent / "data"


class Counter(LoggerPlugin):
    """A test driver that counts."""

    SETTINGS = {"samplerate": Setting(200.0, "rate"), "start_at": Setting(0, "first value")}

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.setDeviceName("Counter")
        self.n = self.settings["start_at"]
        self.fail_next = 0
        self.setPerpetualTimer(self._tick, samplerate=self.settings["samplerate"])

    def _tick(self) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise OSError("device unplugged")
        self.n += 1
        self.stream(float(self.n), "N", unit="n")

    def reset(self, to: int = 0) -> int:
        """Reset the counter."""
        self.n = to
        return to


def make(
    logger: Logger, cls: type[LoggerPlugin] = Counter, settings: dict | None = None
) -> LoggerPlugin:
    with construction_context(logger, cls.__name__, settings):
        return cls(logger)


def test_stream_forms_and_defaults(logger: Logger) -> None:
    p = make(logger)
    assert p.stream(1.5, "A", unit="V")
    assert p.stream([1.0, 2.0], ["B", "C"], unit=["V", "A"])
    assert p.stream(slist=[[3.0, "D", "W"]])
    assert p.stream(sdict={"Other": {"E": [4.0, "°C"]}})
    assert p.stream(7.0, ["A"], x=[100.0])
    assert sorted(logger.store.names()) == [
        "Counter.A",
        "Counter.B",
        "Counter.C",
        "Counter.D",
        "Other.E",
    ]
    assert logger.store.get("Counter.A").latest() == (100.0, 7.0)
    assert not p.stream([1.0, 2.0], ["only-one"])  # bad input: False, logged, nothing raised


def test_plot_event_and_autoresize(logger: Logger) -> None:
    p = make(logger)
    assert p.plot([1, 2, 3])  # y only: x becomes indices
    assert logger.store.get("Counter.noName").copy()[0].tolist() == [0, 1, 2]
    logger.store.resize(5)
    assert p.plot(list(range(10)), list(range(10)), sname="Big", autoResize=True)
    assert len(logger.store.get("Counter.Big")) == 10
    assert p.event("hello", sname="A", priority=1, id="myID", value=3)
    ev = logger.events.all()[-1]
    assert (ev.text, ev.dname, ev.sname, ev.priority, ev.id, ev.value) == (
        "hello",
        "Counter",
        "A",
        1,
        "myID",
        3,
    )
    p.event("no signal")
    assert logger.events.all()[-1].sname == "unknownEvent"


def test_plugin_without_logger_reports_false() -> None:
    p = Counter()
    assert p.stream(1.0, "A") is False
    assert p.event("x") is False


def test_timer_runs_samplerate_and_cancel(logger: Logger) -> None:
    p = make(logger)
    assert p.start()
    wait_for(lambda: len(logger.store.get("Counter.N") or []) >= 5)
    assert p._state == ("running", "")
    assert p.setSamplerate(50) and p.samplerate == 50
    assert p.setInterval(0.01) and p.samplerate == pytest.approx(100)
    with pytest.raises(ValueError):
        p.samplerate = -1
    p.cancel()
    n = p.n
    time.sleep(0.05)
    assert p.n == n and p._state[0] == "stopped"
    assert p.start()  # restartable
    wait_for(lambda: p.n > n)
    p.close()


def test_timer_exception_is_isolated_with_backoff_and_recovery(
    logger: Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin_mod, "BACKOFF_MAX_S", 0.02)
    p = make(logger)
    other = make(logger, settings={"start_at": 1000})
    other.setDeviceName("Other")
    p.fail_next = 3
    p.start()
    other.start()
    wait_for(lambda: any(e.id == "deviceRecovered" for e in logger.events.all()))
    errors = [e for e in logger.events.all() if e.id == "deviceError"]
    assert len(errors) == 1  # one event per failure episode, not one per retry
    assert errors[0].priority == 2 and "device unplugged" in errors[0].text
    wait_for(lambda: p.n >= 3)
    assert p._state == ("running", "")
    assert len(logger.store.get("Other.N")) > 0  # the other driver was never disturbed
    p.cancel()
    other.cancel()


def test_error_state_is_visible_while_failing(
    logger: Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin_mod, "BACKOFF_MAX_S", 10.0)
    p = make(logger)
    p.fail_next = 10**9
    p.start()
    wait_for(lambda: p._state[0] == "error")
    assert "OSError: device unplugged" in p._state[1]
    p.cancel()


def test_settings_validated_with_key_path(logger: Logger) -> None:
    with pytest.raises(SettingsError, match=r"devices\.Counter\.samplerate: expected float"):
        make(logger, settings={"samplerate": "fast"})
    with pytest.raises(SettingsError, match=r"devices\.Counter\.bogus: unknown setting"):
        make(logger, settings={"bogus": 1})
    p = make(logger, settings={"samplerate": 5, "start_at": "7"})
    assert p.settings == {"samplerate": 5.0, "start_at": 7}


def test_parameters_and_functions_by_name(logger: Logger) -> None:
    p = make(logger)
    assert "n" in introspect.parameter_names(p) and "samplerate" in introspect.parameter_names(p)
    assert "fail_next" in introspect.parameter_names(p)
    assert introspect.function_names(p) == ["reset"]
    assert introspect.set_parameter(p, "n", "41") == 41
    assert introspect.call_function(p, "reset", 5) == 5 and p.n == 5
    for bad in ("_tick", "__class__", "stream", "nope"):
        with pytest.raises(introspect.IntrospectionError):
            introspect.call_function(p, bad)
    with pytest.raises(introspect.IntrospectionError):
        introspect.set_parameter(p, "_devicename", "x")
    with pytest.raises(introspect.IntrospectionError, match="expected a number"):
        introspect.set_parameter(p, "n", "many")


def test_persistent_variables_survive_restart(home) -> None:
    class Persist(LoggerPlugin):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.setDeviceName("Persist")
            self.createPersistentVariable("level", 3, docs="a level")
            self.old = self.initPersistentVariable("old", "x")

    lg = Logger.from_home(home)
    p = make(lg, Persist)
    assert p.level == 3 and p.old == "x"
    p.level = 9
    p.savePersistentVariable("old", "y")
    lg2 = Logger.from_home(home)
    p2 = make(lg2, Persist)
    assert p2.level == 9 and p2.old == "y"
    assert p2.__doc_level__ == "a level"


def test_device_manager_generator_start_stop(logger: Logger) -> None:
    g = logger.devices.start("Generator")
    wait_for(lambda: logger.store.get("Generator.Square") is not None)
    status = {d.name: d for d in logger.devices.status()}
    assert status["Generator"].state == "running"
    assert status["DPS5020"].state == "stopped"
    assert logger.devices.get("Generator") is g
    logger.devices.stop("Generator")
    assert {d.name: d for d in logger.devices.status()}["Generator"].state == "stopped"
    assert not g._timer or not g._timer.running


def test_unknown_driver_and_failing_constructor(logger: Logger) -> None:
    with pytest.raises(DeviceError, match="no driver named 'Nope'"):
        logger.devices.start("Nope")
    (logger.home.devices_dir / "Broken.py").write_text(
        "from LoggerPlugin import LoggerPlugin\nclass Plugin(LoggerPlugin):\n"
        "    def __init__(self, *a, **k):\n        super().__init__(*a, **k)\n        raise RuntimeError('no port')\n"
    )
    logger.devices.refresh()
    with pytest.raises(DeviceError, match="no port"):
        logger.devices.start("Broken")
    st = {d.name: d for d in logger.devices.status()}["Broken"]
    assert st.state == "error" and "no port" in st.reason
    assert any(e.priority == 2 and "Broken" in e.text for e in logger.events.all())


def test_unmodified_rtoc_plugins_load_and_stream_without_pyqt5(logger: Logger) -> None:
    assert "PyQt5" not in sys.modules or getattr(sys.modules["PyQt5"], "__rtoc_stub__", False)
    shutil.copytree(DATA / "Template", logger.home.devices_dir / "Template")
    shutil.copy(DATA / "OldStyle.py", logger.home.devices_dir / "OldStyle.py")
    logger.devices.refresh()
    tpl = logger.devices.start("Template")
    old = logger.devices.start("OldStyle")
    try:
        wait_for(
            lambda: (
                logger.store.get("Template.Sinus") is not None
                and len(logger.store.get("Template.Sinus")) > 2
            )
        )
        wait_for(lambda: logger.store.get("OldStyle.Count") is not None)
        assert logger.store.get("Template.Sinus").unit == "kg"
        assert logger.store.get("Template.Plot").copy()[0].tolist() == [-10, 0]
        assert any(e.id == "testID" for e in logger.events.all())
        assert introspect.function_names(tpl) == ["setGain"]  # loadGUI is Qt-only: hidden
        assert introspect.call_function(tpl, "setGain", 5.0) is True and tpl.gain == 5.0
        assert old.counter >= 1
    finally:
        logger.devices.stop_all()
    assert old.run is False


def test_one_error_event_per_outage_even_if_the_reason_changes(
    logger: Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin_mod, "BACKOFF_MAX_S", 0.01)

    class Flaky(Counter):
        reasons = ["read timeout", "cannot open port", "cannot open port"]

        def _tick(self) -> None:
            if self.reasons:
                raise OSError(self.reasons.pop(0))
            super()._tick()

    p = make(logger, Flaky)
    p.start()
    wait_for(lambda: any(e.id == "deviceRecovered" for e in logger.events.all()))
    p.cancel()
    assert [e.id for e in logger.events.all()] == ["deviceError", "deviceRecovered"]
