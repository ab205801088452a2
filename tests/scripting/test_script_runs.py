"""Script runs: RTOC's documented examples (section 5.6) against the real Generator, output,
stopping endless loops, error lines, repeated and triggered runs, saved scripts."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from rtoc_tui.scripting import ScriptingError

Make = Callable[..., Any]


def start_generator(logger: Any, wait_for: Callable[..., Any], samples: int = 3) -> Any:
    gen = logger.devices.start("Generator")
    wait_for(
        lambda: (b := logger.store.get("Generator.Square")) is not None and len(b) >= samples,
        what="Generator data",
    )
    return gen


def test_rtoc_signal_access_examples_run_unchanged(
    make_auto: Make, wait_for: Any, finish: Any
) -> None:
    logger, auto = make_auto()
    start_generator(logger, wait_for)
    # section 5.6.2.3, with Device.Signalname = Generator.Square
    src = textwrap.dedent(
        """\
        [x], [y] = Generator.Square
        print(type(x).__name__, len(x) == len(y), len(x) >= 3)
        [x] = Generator.Square.x
        [y] = Generator.Square.y
        c = Generator.Square.latest
        print(x[-1] > 1e9, y[-1] == c, c in (1.0, 2.0))
        """
    )
    out = finish(auto, auto.run(src, "signals").id)
    assert out.state == "finished", out
    assert out.lines == ("ndarray True True", "True True True")


def test_rtoc_parameter_and_function_examples(make_auto: Make, wait_for: Any, finish: Any) -> None:
    logger, auto = make_auto()
    gen = start_generator(logger, wait_for)
    src = "Generator.gen_level = 2.5\nok = Generator.setFrequency(4)\nprint(ok, Generator.gen_freq, Generator.gen_level)\n"
    out = finish(auto, auto.run(src, "params").id)
    assert out.lines == ("True 4.0 2.5",)
    assert gen.gen_level == 2.5 and gen.gen_freq == 4.0


def test_global_variable_kept_across_runs_and_initialised_once(
    make_auto: Make, finish: Any
) -> None:
    _logger, auto = make_auto()
    src = "global VARNAME = 0\nVARNAME += 1\nprint(VARNAME)\n"
    assert finish(auto, auto.run(src, "counter").id).lines == ("1",)
    assert finish(auto, auto.run(src, "counter").id).lines == ("2",)
    assert finish(auto, auto.run(src, "other").id).lines == ("1",)  # per script name


def test_trig_runs_its_block_only_on_a_false_to_true_change(make_auto: Make, finish: Any) -> None:
    logger, auto = make_auto()
    src = "trig Test.Level.latest > 5:\n    print('Hello')\n"
    outputs = []
    for value in (1, 7, 8, 2, 9):
        logger.stream(float(value), "Level", dname="Test")
        outputs.append(finish(auto, auto.run(src, "trigger demo").id).lines)
    assert outputs == [(), ("Hello",), (), (), ("Hello",)]


def test_rtoc_trig_example_in_a_repeated_script_with_the_generator(
    make_auto: Make, wait_for: Any
) -> None:
    config = {"devices": {"Generator": {"samplerate": 50.0, "gen_freq": 5.0}}}
    logger, auto = make_auto(config)
    start_generator(logger, wait_for)
    src = "global VARNAME = 0\nVARNAME += 1\ntrig Generator.Square.latest >= 2:\n    print('Hello', VARNAME)\n"
    run = auto.run(src, "doc trig", mode="repeat", samplerate=100)
    wait_for(lambda: len(auto.output(run.id).lines) >= 3, what="three rising edges")
    auto.stop(run.id)
    wait_for(lambda: auto.output(run.id).state == "stopped")
    lines = auto.output(run.id).lines
    runs = [r.runs for r in auto.list() if r.id == run.id][0]
    counts = [int(line.split()[1]) for line in lines]
    assert all(line.startswith("Hello ") for line in lines)
    assert counts == sorted(set(counts)) and counts[-1] <= runs  # VARNAME kept across runs
    assert 2 * len(lines) <= runs  # once per rising edge, not on every run while high


def test_clock_is_current_and_print_goes_to_the_output(make_auto: Make, finish: Any) -> None:
    logger, auto = make_auto()
    src = "print('a', 1, sep='-')\nprint('b', end='')\nprint('c')\nt0 = clock\nsleep(0.01)\nprint(clock > 1e9, clock > t0)\n"
    run = auto.run(src, "out")
    out = finish(auto, run.id)
    assert out.lines == ("a-1", "bc", "True True") and out.cursor == 3
    assert auto.output(run.id, out.cursor).lines == ()
    assert auto.output(run.id, 2).lines == ("True True",)


def test_stream_plot_and_event_from_scripts(make_auto: Make, finish: Any) -> None:
    logger, auto = make_auto()
    src = (
        "stream(3.5, 'Out', unit='V')\nstream([1.0, 2.0], ['A', 'B'], dname='Mine')\n"
        "plot([0, 1, 2], [5, 6, 7], sname='XY')\nevent('hello', sname='Out', priority=1, id='hi')\n"
        "print(noDevice.Out.latest, Mine.B.latest, noDevice.XY.y.tolist())\n"
    )
    out = finish(auto, auto.run(src, "io").id)
    assert out.lines == ("3.5 2.0 [5.0, 6.0, 7.0]",)
    assert logger.store.get("noDevice.Out").unit == "V"
    ev = logger.events.all()[-1]
    assert (ev.text, ev.dname, ev.sname, ev.priority, ev.id) == (
        "hello",
        "noDevice",
        "Out",
        1,
        "hi",
    )


def test_names_that_are_not_identifiers(make_auto: Make, home: Any, finish: Any) -> None:
    (home.devices_dir / "MyDev.py").write_text(
        textwrap.dedent(
            """\
            from LoggerPlugin import LoggerPlugin

            class Plugin(LoggerPlugin):
                def __init__(self, *a, **kw):
                    super().__init__(*a, **kw)
                    self.setDeviceName("My Dev")
                    self.level = 1.0

                def double(self, v):
                    return 2 * v
            """
        ),
        encoding="utf-8",
    )
    logger, auto = make_auto()
    logger.devices.start("MyDev")
    logger.stream(21.5, "Temp 1", dname="My Dev")
    src = (
        "d = device('My Dev')\nd.level = 3\nprint(d.level, d.double(4))\n"
        "print(signal('My Dev.Temp 1').latest, signal('My Dev', 'Temp 1').latest)\n"
        "print(getattr(d, 'Temp 1').latest)\n"
    )
    out = finish(auto, auto.run(src, "names").id)
    assert out.lines == ("3.0 8", "21.5 21.5", "21.5"), out


def test_rtoc_library_and_modules_are_preimported(make_auto: Make, finish: Any) -> None:
    logger, auto = make_auto()
    logger.store.append("Test", "Ramp", np.arange(10.0), np.arange(10.0) * 2)
    src = "x, y = Test.Ramp\nprint(rtoc.mean(x, y), round(math.pi, 2), np.max(y), rtoc.lsfit(x, y)[2].round(6).tolist())\n"
    out = finish(auto, auto.run(src, "lib").id)
    assert out.lines == ("9.0 3.14 18.0 [0.0, 2.0]",), out


# -- stopping ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "src",
    [
        "while True:\n    pass\n",
        "n = 0\nwhile True:\n    try:\n        n += 1\n    except:\n        pass\n",
        "while True:\n    try:\n        sleep(0.001)\n    except BaseException:\n        pass\n",
        "total = sum(1 for _ in iter(int, 1))\n",
        "def spin():\n    while 1:\n        x = [i for i in range(10)]\nspin()\n",
        "sleep(3600)\n",
    ],
    ids=[
        "while",
        "bare-except",
        "catches-BaseException",
        "endless-generator",
        "in-function",
        "sleep",
    ],
)
def test_stop_ends_an_endless_script_and_the_logger_keeps_running(
    make_auto: Make, wait_for: Any, src: str
) -> None:
    logger, auto = make_auto()
    start_generator(logger, wait_for)
    run = auto.run(src, "endless")
    assert auto.output(run.id).state == "running"
    auto.stop(run.id)
    wait_for(lambda: auto.output(run.id).state == "stopped", what="the script to stop")
    assert [r.state for r in auto.list() if r.id == run.id] == ["stopped"]
    before = logger.store.get("Generator.Square").written
    wait_for(
        lambda: logger.store.get("Generator.Square").written > before, what="more Generator data"
    )
    assert not [e for e in logger.events.all() if e.priority == 2]


def test_stop_unknown_id_is_an_error(make_auto: Make) -> None:
    _logger, auto = make_auto()
    with pytest.raises(ScriptingError, match="no script run"):
        auto.stop("nope")


# -- errors with the user's line numbers ----------------------------------------------------------
@pytest.mark.parametrize(
    ("src", "line", "message"),
    [
        ("a = 1\n\nb = 0\nc = a / b\n", 4, "ZeroDivisionError: division by zero"),
        ("def f(v):\n    return v['missing']\n\nf({})\n", 2, "KeyError: 'missing'"),
        ("global n = 0\ntrig n >= 0:\n    print(undefined_thing)\n", 3, "NameError"),
        ("x = 1\nprint(NoSuchDevice.Signal.latest)\n", 2, "no running device 'NoSuchDevice'"),
        ("x = [1, 2]\ny = [v / 0 for v in x]\n", 2, "ZeroDivisionError"),
        ("ok = 1\nrtoc.combine([])\n", 2, "ValueError: combine needs at least one signal"),
        ("a = 1\ntrig a >:\n    pass\n", 2, "SyntaxError"),
        (
            "stream(1.0, 'E')\nclearData()\nprint(noDevice.E.latest)\n",
            3,
            "noDevice.E has no samples",
        ),
    ],
)
def test_error_reports_the_line_in_the_users_text(
    make_auto: Make, finish: Any, src: str, line: int, message: str
) -> None:
    logger, auto = make_auto()
    run = auto.run(src, "broken")
    out = finish(auto, run.id)
    assert out.state == "error"
    assert out.error.startswith(f"line {line}: ") and message in out.error
    assert out.lines[0].startswith(f"Error in line {line}: ")
    assert out.lines[1].strip() == src.splitlines()[line - 1].strip()
    ev = logger.events.all()[-1]
    assert ev.priority == 2 and ev.id == "scriptError" and ev.sname == "broken"
    assert f"line {line}: " in ev.text and message in ev.text


def test_device_errors_are_reported(make_auto: Make, wait_for: Any, finish: Any) -> None:
    logger, auto = make_auto()
    start_generator(logger, wait_for)
    out = finish(auto, auto.run("x = 1\nGenerator.waveform = 'Nope'\n", "bad value").id)
    assert out.state == "error" and out.error.startswith("line 2: ") and "waveform" in out.error
    out = finish(auto, auto.run("Generator._t0 = 5\n", "hidden").id)
    assert out.state == "error" and "no parameter '_t0'" in out.error


# -- repeated and triggered runs ----------------------------------------------------------------
def test_repeated_script_runs_at_its_samplerate_until_stopped(
    make_auto: Make, wait_for: Any
) -> None:
    logger, auto = make_auto()
    src = "global n = 0\nn += 1\nstream(float(n), 'count')\ntrig n % 3 == 0:\n    print('every third', n)\n"
    run = auto.run(src, "repeat", mode="repeat", samplerate=200)
    wait_for(lambda: [r.runs for r in auto.list() if r.id == run.id][0] >= 7, what="7 runs")
    auto.stop(run.id)
    wait_for(lambda: auto.output(run.id).state == "stopped")
    info = [r for r in auto.list() if r.id == run.id][0]
    assert info.mode == "repeat" and info.runs >= 7
    assert logger.store.get("noDevice.count").latest()[1] == info.runs
    assert auto.output(run.id).lines[:2] == ("every third 3", "every third 6")


def test_triggered_script_runs_on_new_data_of_its_signals(make_auto: Make, wait_for: Any) -> None:
    logger, auto = make_auto()
    src = "global seen = 0\nseen += 1\nprint('got', Test.In.latest)\n"
    run = auto.run(src, "on data", mode="trigger", triggers=["Test.In"])
    logger.stream(1.0, "Other", dname="Test")  # not a trigger signal
    assert auto.output(run.id).lines == () and [r.runs for r in auto.list() if r.id == run.id] == [
        0
    ]
    for value in (1.0, 2.0, 3.0):
        logger.stream(value, "In", dname="Test")
        wait_for(lambda v=value: f"got {v}" in auto.output(run.id).lines, what=f"a run for {value}")
    auto.stop(run.id)
    wait_for(lambda: auto.output(run.id).state == "stopped")
    assert auto._trigger_index == {}  # unsubscribed


def test_bad_run_requests_are_refused(make_auto: Make) -> None:
    _logger, auto = make_auto()
    with pytest.raises(ScriptingError, match="mode"):
        auto.run("pass", mode="sometimes")
    with pytest.raises(ScriptingError, match="samplerate"):
        auto.run("pass", mode="repeat")
    with pytest.raises(ScriptingError, match="samplerate"):
        auto.run("pass", mode="repeat", samplerate=-1)
    with pytest.raises(ScriptingError, match="trigger"):
        auto.run("pass", mode="trigger")
    with pytest.raises(ScriptingError, match="Device.Signal"):
        auto.run("pass", mode="trigger", triggers=["NoDot"])


def test_run_list_is_bounded(make_auto: Make, finish: Any) -> None:
    _logger, auto = make_auto()
    ids = [auto.run("pass", f"s{i}").id for i in range(60)]
    for run_id in ids[-5:]:
        finish(auto, run_id)
    auto.run("pass", "last")
    assert len(auto.list()) <= 51


# -- saved scripts ------------------------------------------------------------------------------
def test_save_load_and_list_scripts(make_auto: Make, home: Any) -> None:
    _logger, auto = make_auto()
    auto.save("blink", "print('hi')\n")
    auto.save("My script-2.py", "x = 1\n")
    assert auto.saved() == ["My script-2", "blink"]
    assert auto.load("blink") == "print('hi')\n"
    assert auto.load("My script-2.py") == "x = 1\n"
    assert (home.scripts_dir / "blink.py").read_text() == "print('hi')\n"
    with pytest.raises(ScriptingError, match="no saved script"):
        auto.load("missing")


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", ".hidden", "", "a\\b", "x" * 200, "..x"])
def test_script_names_cannot_escape_the_scripts_folder(
    make_auto: Make, home: Any, name: str
) -> None:
    _logger, auto = make_auto()
    with pytest.raises(ScriptingError, match="invalid script name"):
        auto.save(name, "x = 1")
    with pytest.raises(ScriptingError, match="invalid script name"):
        auto.load(name)
    assert not list(home.root.parent.glob("evil*"))
