"""SignalStore (RTOC stream/plot semantics) and the event list."""

from __future__ import annotations

import numpy as np
import pytest

from rtoc_tui.core import ingest
from rtoc_tui.core.events import EventLog
from rtoc_tui.core.store import SignalStore


def test_plot_hold_modes() -> None:
    s = SignalStore(100)
    s.plot([1, 2, 3], [10, 20, 30], "XY", "Dev", "V")
    s.plot([4, 5], [40, 50], "XY", "Dev", hold="on")
    assert s.get("Dev.XY").copy()[0].tolist() == [1, 2, 3, 4, 5]
    s.plot([5, 6], [99, 60], "XY", "Dev", hold="mergeX")  # x=5 exists: only x=6 added
    assert s.get("Dev.XY").copy()[0].tolist() == [1, 2, 3, 4, 5, 6]
    s.plot([7, 8], [60, 70], "XY", "Dev", hold="mergeY")  # y=60 exists: only (8, 70) added
    x, y = s.get("Dev.XY").copy()
    assert x.tolist()[-1] == 8 and y.tolist()[-1] == 70 and len(x) == 7
    s.plot([0], [0], "XY", "Dev", hold="off")
    assert s.get("Dev.XY").copy()[0].tolist() == [0]
    with pytest.raises(ValueError, match="hold"):
        s.plot([1], [1], "XY", "Dev", hold="sideways")
    with pytest.raises(ValueError, match="length"):
        s.plot([1, 2], [1], "XY", "Dev")


def test_stream_forms() -> None:
    s = SignalStore(100)
    ingest.stream(s, "Dev", [1.0, 2.0], ["A", "B"], ["V", "A"])
    ingest.stream(s, "Dev", slist=[[3.0, "C", "W"]])
    ingest.stream(s, "Other", sdict={"Freezer": {"Temp": [-18.0, "°C"]}})
    ingest.stream(s, "Dev", 5.0, "A", "V", x=123.0)
    ingest.stream(s, "Dev", [[1.0, 2.0, 3.0]], ["Batch"], "V", x=[[1.0, 2.0, 3.0]])
    assert sorted(s.names()) == ["Dev.A", "Dev.B", "Dev.Batch", "Dev.C", "Freezer.Temp"]
    assert s.get("Dev.A").latest() == (123.0, 5.0)
    assert s.get("Dev.B").unit == "A"
    assert s.get("Freezer.Temp").unit == "°C"
    assert s.get("Dev.Batch").copy()[1].tolist() == [1, 2, 3]
    with pytest.raises(ValueError):
        ingest.stream(s, "Dev", [1.0, 2.0], ["OnlyOne"])
    with pytest.raises(ValueError):
        ingest.stream(s, "Dev", slist=[[1.0, "no unit"]])


def test_clear_remove_resize_and_listeners() -> None:
    s = SignalStore(10)
    seen: list[tuple[str, int]] = []
    s.add_listener(lambda buf, n: seen.append((buf.name, n)))
    s.append("D", "A", np.arange(5.0), np.arange(5.0))
    s.append_one("D", "B", 1.0, 1.0)
    assert seen == [("D.A", 5), ("D.B", 1)]
    s.clear(["D.A"])
    assert len(s.get("D.A")) == 0 and len(s.get("D.B")) == 1
    v = s.version
    s.remove(["D.B"])
    assert s.get("D.B") is None and s.version > v
    s.append("D", "A", np.arange(10.0), np.arange(10.0))
    s.resize(3)
    assert s.get("D.A").copy()[0].tolist() == [7, 8, 9]
    s.clear()
    assert s.total_samples() == 0


def test_failing_listener_does_not_break_stream() -> None:
    s = SignalStore(10)
    s.add_listener(lambda buf, n: 1 / 0)
    s.append_one("D", "A", 1.0, 2.0)
    assert s.get("D.A").latest() == (1.0, 2.0)


def test_event_log_cursor_cap_and_listeners() -> None:
    log = EventLog(max_events=3)
    got = []
    log.add_listener(got.append)
    for i in range(5):
        log.add(f"e{i}", dname="D", sname="S", priority=7, id="x", x=float(i))
    assert [e.text for e in log.all()] == ["e2", "e3", "e4"]
    assert all(e.priority == 2 for e in log.all())  # clamped to 0..2
    assert [e.text for e in log.since(4)] == ["e4"]
    assert len(got) == 5
    assert log.all()[0].to_rtoc() == [2.0, "e2", 2, None, "x"]
    log.clear()
    assert log.since(0) == []


def test_watch_calls_back_only_for_watched_signals_including_future_ones() -> None:
    s = SignalStore(10)
    seen: list[str] = []

    def fn(buf, n):
        seen.append(f"{buf.name}:{n}")

    s.append_one("D", "A", 1.0, 1.0)
    s.watch(fn, {("D", "A"), ("D", "Later")})
    s.append_one("D", "A", 2.0, 2.0)
    s.append_one("D", "B", 2.0, 2.0)  # not watched: no call, and no cost on the hot path
    s.append("D", "Later", [1.0, 2.0], [1.0, 2.0])  # created after watch() was set up
    assert seen == ["D.A:1", "D.Later:2"]
    assert s.get("D.B").watchers == ()
    s.watch(fn, ())
    s.append_one("D", "A", 3.0, 3.0)
    assert seen == ["D.A:1", "D.Later:2"]
