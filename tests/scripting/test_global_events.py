"""Global events and actions: RTOC's files and examples, trigger modes, validation, edits."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from rtoc_tui.scripting import ScriptingError
from rtoc_tui.scripting import engine as engine_mod

Make = Callable[..., Any]

# Section 5.6.3 of RTOC's documentation, verbatim (a Python literal, not strict JSON)
DOC_EVENTS = """{
  "myevent": {
    "cond": "Generator.Square.latest >= 2",
    "text": "It is big",
    "return": " ",
    "priority": 0,
    "id": "testID",
    "trigger": 'rising',
    'sname': '',
    'dname': '',
    'active': True
  }
}"""
DOC_ACTIONS = """{
  "action2": {
    "listenID": ["testID"],
    "parameters": "",
    "script": "Generator.gen_level = 1",
    "active": False
  }
}"""


def event(cond: str = "Test.S.latest >= 2", **kw: Any) -> dict[str, Any]:
    spec = {
        "cond": cond,
        "text": "big",
        "priority": 1,
        "id": "bigID",
        "trigger": "rising",
        "sname": "",
        "dname": "",
        "active": True,
    }
    spec.update(kw)
    return spec


def write(path: Any, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def feed(logger: Any, auto: Any, values: list[float], sname: str = "S") -> list[int]:
    """Stream values one by one, evaluating after each; returns the new event count per value."""
    counts = []
    for v in values:
        before = len(logger.events.all())
        logger.stream(float(v), sname, dname="Test")
        auto.evaluate_dirty()
        counts.append(len([e for e in logger.events.all()[before:] if e.id == "bigID"]))
    return counts


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        ("rising", [0, 1, 0, 0, 1]),
        ("falling", [0, 0, 0, 1, 0]),
        ("both", [0, 1, 0, 1, 1]),
        ("true", [0, 1, 1, 0, 1]),
        ("false", [1, 0, 0, 1, 0]),
    ],
)
def test_trigger_modes(make_auto: Make, home: Any, trigger: str, expected: list[int]) -> None:
    write(home.global_events_file, {"e": event(trigger=trigger)})
    logger, auto = make_auto()
    auto.reload()
    #               cond:  F  T  T  F  T
    assert feed(logger, auto, [1, 3, 3, 1, 3]) == expected


def test_fired_event_fields(make_auto: Make, home: Any) -> None:
    write(
        home.global_events_file,
        {
            "e": event(text="It is big", dname="", sname=""),
            "f": event(
                cond="Test.S.latest > 5",
                dname="Dev",
                sname="Sig",
                priority=2,
                id="fID",
                **{"return": "r"},
            ),
        },
    )
    logger, auto = make_auto()
    auto.reload()
    feed(logger, auto, [3, 9])
    evs = [e for e in logger.events.all() if e.id in ("bigID", "fID")]
    assert [(e.text, e.dname, e.sname, e.priority, e.id, e.value) for e in evs] == [
        ("It is big", "Test", "S", 1, "bigID", None),  # empty dname/sname: the triggering signal
        ("big", "Dev", "Sig", 2, "fID", "r"),
    ]


def test_only_referenced_signals_evaluate_a_condition(make_auto: Make, home: Any) -> None:
    write(home.global_events_file, {"e": event(trigger="true")})
    logger, auto = make_auto()
    auto.reload()
    logger.stream(5.0, "Other", dname="Test")
    assert auto.evaluate_dirty() == 0
    logger.stream(5.0, "S", dname="Test")
    assert auto.evaluate_dirty() == 1


def test_rtoc_documented_files_and_action_with_the_real_generator(
    make_auto: Make, home: Any, wait_for: Any
) -> None:
    home.global_events_file.write_text(DOC_EVENTS, encoding="utf-8")
    actions = DOC_ACTIONS.replace('"active": False', '"active": True')
    home.global_actions_file.write_text(actions.replace("action2", "action1", 1), encoding="utf-8")
    config = {
        "global": {"globalEventsActivated": True, "globalActionsActivated": True},
        "devices": {"Generator": {"gen_level": 3.0, "samplerate": 50.0, "gen_freq": 5.0}},
    }
    logger, auto = make_auto(config, open=True)
    assert (
        set(auto.global_events()) == {"myevent"} and not auto.global_events()["myevent"]["errors"]
    )
    gen = logger.devices.start("Generator")
    assert gen.gen_level == 3.0
    wait_for(lambda: gen.gen_level == 1.0, what="the action to set Generator.gen_level = 1")
    big = [e for e in logger.events.all() if e.id == "testID"]
    assert big and big[0].text == "It is big" and big[0].priority == 0
    runs = [r for r in auto.list() if r.name == "action:action1"]
    assert runs and runs[0].mode == "once"
    wait_for(lambda: all(r.state == "finished" for r in auto.list() if r.name == "action:action1"))
    assert not [e for e in logger.events.all() if e.priority == 2]


def test_documented_inactive_action_does_not_run(make_auto: Make, home: Any, wait_for: Any) -> None:
    home.global_events_file.write_text(DOC_EVENTS, encoding="utf-8")
    home.global_actions_file.write_text(DOC_ACTIONS, encoding="utf-8")
    logger, auto = make_auto()
    auto.reload()
    logger.stream(2.0, "Square", dname="Generator")
    auto.evaluate_dirty()
    assert [e.id for e in logger.events.all()] == ["testID"]
    assert auto.list() == []


def test_bad_entries_are_reported_and_the_others_still_run(make_auto: Make, home: Any) -> None:
    write(
        home.global_events_file,
        {
            "good": event(),
            "syntax": event(cond="Test.S.latest >="),
            "nosignal": event(cond="1 > 0"),
            "typo": {**event(), "activ": True},
            "trigger": event(trigger="sometimes"),
            "prio": event(priority=7),
            "notadict": [1, 2],
        },
    )
    logger, auto = make_auto()
    auto.reload()
    problems = {e.text.split("'")[1]: e for e in logger.events.all() if e.id == "globalEventsError"}
    assert set(problems) == {"syntax", "nosignal", "typo", "trigger", "prio", "notadict"}
    assert "SyntaxError" in problems["syntax"].text and "activ" in problems["typo"].text
    assert all(e.priority == 2 and e.dname == "RTOC" for e in problems.values())
    view = auto.global_events()
    assert (
        not view["good"]["errors"]
        and view["syntax"]["errors"]
        and "SyntaxError" in view["syntax"]["error"]
    )
    assert feed(logger, auto, [1, 3]) == [0, 1]


def test_condition_runtime_error_reported_once_while_others_run(make_auto: Make, home: Any) -> None:
    write(
        home.global_events_file,
        {"bad": event(cond="Test.S.latest / 0 > 1", id="x"), "good": event()},
    )
    logger, auto = make_auto()
    auto.reload()
    assert feed(logger, auto, [1, 3, 1, 3]) == [0, 1, 0, 1]
    errors = [e for e in logger.events.all() if e.id == "globalEventsError"]
    assert len(errors) == 1 and "'bad'" in errors[0].text and "ZeroDivisionError" in errors[0].text


def test_rtoc_bookkeeping_keys_and_single_listen_id_are_accepted(
    make_auto: Make, home: Any
) -> None:
    write(home.global_events_file, {"e": {**event(), "errors": False, "latest": True}})
    write(
        home.global_actions_file,
        {
            "a": {
                "listenID": "bigID",
                "script": "x = 1",
                "active": True,
                "parameters": "",
                "errors": False,
            }
        },
    )
    logger, auto = make_auto()
    auto.reload()
    assert not [e for e in logger.events.all() if e.priority == 2]
    assert auto.global_actions()["a"]["listenID"] == ["bigID"]


def test_activation_flags_are_honoured_and_read_at_runtime(
    make_auto: Make, home: Any, finish: Any, wait_for: Any
) -> None:
    write(home.global_events_file, {"e": event(trigger="true")})
    write(
        home.global_actions_file,
        {"a": {"listenID": ["bigID", "plugin"], "script": "stream(1.0, 'ran')"}},
    )
    logger, auto = make_auto(config={})
    auto.reload()
    assert feed(logger, auto, [3, 3]) == [0, 0]  # globalEventsActivated defaults to False (RTOC)
    logger.config.global_.globalEventsActivated = True
    assert feed(logger, auto, [3]) == [1]
    assert auto.list() == []  # globalActionsActivated is still False
    logger.config.global_.globalActionsActivated = True
    logger.event("from a plugin", id="plugin")  # actions listen to every event id, as in RTOC
    wait_for(lambda: logger.store.get("noDevice.ran") is not None, what="the action to run")


def test_actions_keep_globals_and_report_errors(make_auto: Make, home: Any, wait_for: Any) -> None:
    write(
        home.global_actions_file,
        {
            "count": {"listenID": ["go"], "script": "global n = 0\nn += 1\nstream(float(n), 'n')"},
            "fails": {"listenID": ["go"], "script": "a = 1\nb = a / 0"},
            "off": {"listenID": ["go"], "script": "stream(1.0, 'off')", "active": False},
            "broken": {"listenID": ["go"], "script": "if True\n  pass"},
        },
    )
    logger, auto = make_auto()
    auto.reload()
    broken = [e for e in logger.events.all() if e.id == "globalActionsError"]
    assert len(broken) == 1 and "'broken'" in broken[0].text and "line 1" in broken[0].text
    for i in (1, 2):
        logger.event("go!", id="go")
        wait_for(
            lambda i=i: (b := logger.store.get("noDevice.n")) is not None and b.latest()[1] == i,
            what=f"run {i}",
        )
        wait_for(lambda: not any(r.state == "running" for r in auto.list()))
    assert logger.store.get("noDevice.off") is None
    errors = [e for e in logger.events.all() if e.id == "scriptError"]
    assert len(errors) == 2 and all(
        e.sname == "action:fails" and "line 2" in e.text for e in errors
    )


def test_api_edits_are_validated_saved_and_live(make_auto: Make, home: Any) -> None:
    logger, auto = make_auto()
    auto.set_global_event("e", event())
    saved = json.loads(home.global_events_file.read_text())
    assert saved["e"]["cond"] == "Test.S.latest >= 2" and saved["e"]["return"] == " "
    assert feed(logger, auto, [3]) == [1]
    with pytest.raises(ScriptingError, match="trigger"):
        auto.set_global_event("e", event(trigger="nope"))
    with pytest.raises(ScriptingError, match="SyntaxError"):
        auto.set_global_event("e2", event(cond="Test.S.latest >"))
    assert set(json.loads(home.global_events_file.read_text())) == {"e"}
    auto.set_global_event("e", event(cond="Test.S.latest < 0"))  # replaced: trigger state reset
    assert feed(logger, auto, [3, -1]) == [0, 1]
    auto.set_global_event("e", None)
    assert json.loads(home.global_events_file.read_text()) == {}
    assert feed(logger, auto, [-5]) == [0]
    with pytest.raises(ScriptingError, match="no global event"):
        auto.set_global_event("e", None)
    auto.set_global_action("a", {"listenID": ["x"], "script": "pass"})
    assert json.loads(home.global_actions_file.read_text())["a"]["listenID"] == ["x"]
    with pytest.raises(ScriptingError, match="listenID"):
        auto.set_global_action("b", {"listenID": 5, "script": "pass"})


def test_a_broken_file_is_reported_and_never_overwritten(make_auto: Make, home: Any) -> None:
    home.global_events_file.write_text('{"e": {"cond": ', encoding="utf-8")
    logger, auto = make_auto()
    auto.reload()
    errs = [e for e in logger.events.all() if e.id == "globalEventsError"]
    assert len(errs) == 1 and "globalEvents.json" in errs[0].text and "line 1" in errs[0].text
    with pytest.raises(ScriptingError, match="fix or remove"):
        auto.set_global_event("new", event())
    assert home.global_events_file.read_text() == '{"e": {"cond": '


def test_file_edits_on_disk_take_effect_without_restart(
    make_auto: Make, home: Any, wait_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_mod, "FILE_POLL_S", 0.02)
    write(home.global_events_file, {"e": event(cond="Test.S.latest > 100")})
    logger, auto = make_auto(open=True)
    logger.stream(5.0, "S", dname="Test")
    write(home.global_events_file, {"e": event(cond="Test.S.latest > 1")})
    wait_for(lambda: auto.global_events()["e"]["cond"] == "Test.S.latest > 1", what="the reload")
    logger.stream(6.0, "S", dname="Test")
    wait_for(lambda: [e for e in logger.events.all() if e.id == "bigID"], what="the edited event")
    write(
        home.global_actions_file, {"a": {"listenID": ["bigID"], "script": "stream(1.0, 'acted')"}}
    )
    wait_for(lambda: "a" in auto.global_actions(), what="the actions reload")
    logger.event("again", id="bigID")
    wait_for(lambda: logger.store.get("noDevice.acted") is not None, what="the new action")
