"""Scripts written for RTOC run unchanged (issue 16): signals passed to functions, RTOC's
stream/plot/event signatures, `Device.Signal.latest = v`, the whole script library, and the
Generator's RTOC names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rtoc_tui.core import introspect, scriptlib

Make = Callable[..., Any]
TOUR = Path(__file__).parents[1] / "core" / "fixtures" / "rtoc_scripts" / "library_tour.txt"


def test_rtoc_library_tour(make_auto: Make, finish: Any) -> None:
    logger, auto = make_auto()
    x = np.arange(10.0)
    logger.store.append("Lab", "Temp", x, 2 * x + 1, "°C")
    out = finish(auto, auto.run(TOUR.read_text(), "tour").id)
    assert out.state == "finished", out.lines
    lines = dict(line.split(" ", 1) for line in out.lines)
    assert lines["mean"] == "16.0"
    assert lines["fit"] == "1.0 2.0"
    assert lines["d"] == "2.0"
    assert lines["diff"] == "[2.0, 2.0, 2.0]"
    assert lines["PID"] == "9.0"
    assert lines["PID-I"] == "(18.0, 9.0)"
    assert lines["norm"] == "0.0 1.0"
    assert lines["combine"] == "4 2"
    assert lines["correlate"] == "1"
    assert lines["estimate"] == "[21.0, 23.0, 25.0]"
    assert lines["latest"] == "8.0"

    store = logger.store
    assert store.get("Tour.Global").latest()[1] == 2.0  # stream(y, snames, dname)
    assert (store.get("Tour.Kw").latest()[1], store.get("Tour.Kw").unit) == (4.0, "V")
    assert store.get("noDevice.Default").latest()[1] == 5.0  # RTOC's default device
    assert store.get("Tour.copy").copy()[1].tolist() == (2 * x + 1).tolist()
    assert store.get("Tour.copy2").unit == "rad"
    assert len(store.get("Tour.Resample")) == 5
    assert store.get("Tour.Latest").copy()[1].tolist() == [7.0, 8.0]  # each write appends
    events = [e for e in logger.events.all() if e.dname == "Tour"]
    assert [(e.text, e.sname) for e in events] == [
        ("tour started", "Note"),
        ("in ten seconds", "Note"),
    ]
    assert events[1].x == pytest.approx(events[0].x + 10, abs=1.0)  # x= before priority


def test_a_parameter_passed_to_a_function_stays_one_argument(make_auto: Make, finish: Any) -> None:
    logger, auto = make_auto()
    logger.devices.start("Generator")
    src = (
        "Generator.gen_level = 1\n"
        "Generator.setFrequency(Generator.gen_level * 2)\n"
        "print(Generator.gen_freq, max(Generator.gen_level, 0.5))\n"
    )
    out = finish(auto, auto.run(src, "params").id)
    assert out.lines == ("2.0 1.0",), out.error


def test_rtoc_generator_names_work_from_scripts_and_actions(
    make_auto: Make, finish: Any, wait_for: Any
) -> None:
    logger, auto = make_auto()
    gen = logger.devices.start("Generator")
    # RTOC's Generator (RTOC/RTLogger/plugins/Generator.py) has these members
    rtoc_parameters = {"gen_freq", "gen_level", "offset", "phase", "exampleString"}
    rtoc_parameters |= {"exampleBoolean", "test", "samplerate"}
    rtoc_functions = {"setFrequency", "changeType", "changeExampleString", "setColor"}
    rtoc_functions |= {"setAlphaColor"}
    assert rtoc_parameters <= set(introspect.parameter_names(gen))
    assert rtoc_functions <= set(introspect.function_names(gen))
    src = (
        "Generator.changeExampleString('from RTOC')\nGenerator.exampleBoolean = False\n"
        "Generator.test = 5\nGenerator.setColor(1, 2, 3)\nGenerator.changeType('DC')\n"
        "Generator.gen_level = 1\nGenerator.offset = 0\n"
        "x, y = rtoc.resample(Generator.Square, 10)\nprint(len(x), Generator.exampleString)\n"
    )
    wait_for(lambda: (b := logger.store.get("Generator.Square")) is not None and len(b) > 2)
    out = finish(auto, auto.run(src, "gen").id)
    assert out.lines == ("10 from RTOC",), out.error
    assert (gen.exampleBoolean, gen.test, gen.gen_level) == (False, 5, 1.0)
    wait_for(lambda: (b := logger.store.get("Generator.DC")) is not None and len(b))
    assert logger.store.get("Generator.DC").latest()[1] == 1.0


def test_rtoc_only_library_functions() -> None:
    x = np.arange(12.0)
    xs, ys = scriptlib.estimate(x, 3 * x, 2)
    assert xs.tolist() == [12.0, 13.0] and np.allclose(ys, [36.0, 39.0])
    t = np.arange(0.0, 600.0, 10.0)
    y = 80 * (1 - (60 * np.exp(-t / 60) - 20 * np.exp(-t / 20)) / 40) + 20
    xs, ys = scriptlib.PT2_estimation(1000 + t, y, 3)
    assert xs.tolist() == [1600.0, 1610.0, 1620.0]
    assert np.allclose(ys, 100.0, atol=0.01)
    with pytest.raises(NotImplementedError, match="keras demo"):
        scriptlib.CCN()
