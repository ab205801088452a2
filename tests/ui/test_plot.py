"""The plot pane: decimated fetches, incremental updates, windows, zoom, pan, pause, cursor,
event marks, legend, stacking per unit and redrawing only when needed."""

from __future__ import annotations

import re
import time

import numpy as np

from rtoc_tui.ui.app import build_app
from rtoc_tui.ui.panes.plot import PlotPane, _compact
from rtoc_tui.ui.state import PRIORITY_COLORS
from rtoc_tui.ui.widgets.plot import PlotextPlot

from .conftest import T0, FakeClock, RecordingClient, fill, settle, wait_for


def plot_for(pane: PlotPane, unit: str) -> PlotextPlot:
    for p in pane.query(PlotextPlot):
        if p.spec.footer and p.spec.footer[0].plain.startswith(f"[{unit}]"):
            return p
    raise AssertionError(f"no plot for unit {unit!r}")


async def start(ui_logger, clock, size=(120, 40)):
    client = RecordingClient(ui_logger)
    app = build_app(client, ui_logger.config, clock=clock, plot_hz=20)
    return client, app


async def test_fetches_two_points_per_column_and_draws(ui_logger, clock):
    client, app = await start(ui_logger, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(PlotPane)
        names, xmin, xmax, n = client.windows[0]
        assert sorted(names) == ["Bench.Current", "Bench.Voltage", "Generator.Sinus"]
        assert (xmin, xmax) == (T0 - 60, T0)
        assert n == 2 * pane.plot_width()
        # 600 samples in the minute were decimated by the logger to about n points
        assert 0 < len(pane.series["Bench.Voltage"].x) <= n
        volts = plot_for(pane, "V")
        lines = [volts.render_line(y).text for y in range(volts.size.height)]
        assert any(ch in "".join(lines) for ch in "⠁⠂⠄⡀⠈⠐⠠⢀"), "braille points drawn"
        assert "-30s" in "".join(lines) and "0" in lines[-2]
        assert volts.spec.xlim == (-60.0, 0.0)


async def test_live_updates_fetch_only_new_data(ui_logger, clock):
    client, app = await start(ui_logger, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(PlotPane)
        before = len(client.windows)
        t = np.arange(T0 + 0.1, T0 + 2.05, 0.1)
        ui_logger.store.append("Bench", "Voltage", t, np.full(len(t), 9.0), "V")
        clock.advance(2.0)
        await wait_for(pilot, lambda: len(client.windows) > before, what="an incremental fetch")
        names, xmin, xmax, n = client.windows[-1]
        assert names == ["Bench.Voltage"] and xmax is None
        assert xmin == T0 - 0.1 or xmin >= T0 - 1  # from the newest point it holds
        assert n < 2 * pane.plot_width()  # only the new part's share of the columns
        await wait_for(pilot, lambda: pane.series["Bench.Voltage"].y[-1] == 9.0)
        series = pane.series["Bench.Voltage"]
        assert series.x[-1] == t[-1]
        assert series.x[0] >= clock() - 60 * 1.05  # older points are dropped


async def test_window_presets_and_zoom(ui_logger, clock):
    client, app = await start(ui_logger, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(PlotPane)
        await pilot.press("w")
        assert pane.span == 300
        await wait_for(pilot, lambda: client.windows[-1][1] == T0 - 300)
        await pilot.press("W", "W")
        assert pane.span == 30
        await pilot.press("plus")
        assert pane.span == 15
        await pilot.press("minus", "minus")
        assert pane.span == 60
        pane.set_span(None)  # everything in memory
        await wait_for(pilot, lambda: client.windows[-1][1] is None)
        await wait_for(pilot, lambda: plot_for(pane, "V").spec.xlim[0] <= -119)
        assert "all" in pane.border_subtitle


async def test_pan_pause_and_live(ui_logger, clock):
    client, app = await start(ui_logger, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(PlotPane)
        await pilot.press("less_than_sign")
        assert pane.paused and pane.anchor == T0 - 15
        await wait_for(pilot, lambda: client.windows[-1][1:3] == (T0 - 75, T0 - 15))
        assert "PAUSED" in pane.border_subtitle
        await pilot.press("greater_than_sign")
        assert not pane.paused
        # pause freezes the view while data keeps coming
        await pilot.press("p")
        assert pane.paused
        await app.workers.wait_for_complete()
        fetches = len(client.windows)
        frames = plot_for(pane, "V").frames
        t = np.arange(T0 + 0.1, T0 + 1.05, 0.1)
        ui_logger.store.append("Bench", "Voltage", t, np.full(len(t), 9.0), "V")
        clock.advance(1.0)
        polls = app.state.polls
        await wait_for(pilot, lambda: app.state.polls >= polls + 2)
        assert len(client.windows) == fetches
        assert plot_for(pane, "V").frames == frames
        await pilot.press("p")
        assert not pane.paused
        await wait_for(pilot, lambda: pane.series.get("Bench.Voltage") is not None
                       and pane.series["Bench.Voltage"].y[-1] == 9.0)  # fmt: skip


async def test_time_axis_relative_or_clock(ui_logger, clock):
    client, app = await start(ui_logger, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(PlotPane)
        labels = plot_for(pane, "V").spec.xticks[1]
        assert labels[-1] == "0" and all(lab.startswith("-") for lab in labels[:-1])
        await pilot.press("t")
        await wait_for(pilot, lambda: ":" in plot_for(pane, "V").spec.xticks[1][0])
        positions, labels = plot_for(pane, "V").spec.xticks
        assert "22:13:00" in labels  # round clock times (UTC in the tests)
        assert all(re.fullmatch(r"\d\d:\d\d:\d\d", lab) for lab in labels)
        assert positions[labels.index("22:13:00")] == -20.0
        assert "clock" in pane.border_subtitle


async def test_cursor_reads_every_signal(ui_logger, clock):
    client, app = await start(ui_logger, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(PlotPane)
        await pilot.press("k")
        assert pane.cursor_rel == -30
        await pilot.press("left_square_bracket")  # 1/40 of the window to the left
        assert pane.cursor_rel == -31.5
        await wait_for(pilot, lambda: len(plot_for(pane, "A").spec.footer) == 2)
        values = pane.cursor_values()
        assert values["Bench.Current"] == 0.7  # the square wave is high 30..45 s before T0
        at = T0 - 31.5
        x, y = ui_logger.store.get("Bench.Voltage").copy()
        exact = float(np.interp(at, x, y))
        assert abs(values["Bench.Voltage"] - exact) < 0.15  # decimated: about a column off
        readout = plot_for(pane, "A").spec.footer[1].plain
        assert readout.startswith("cursor -31.5s") and "Current=0.7 A" in readout
        cursor_lines = [v for v in plot_for(pane, "A").spec.vlines if v.color == (255, 255, 255)]
        assert [v.x for v in cursor_lines] == [-31.5]
        await pilot.press("k")
        await wait_for(pilot, lambda: len(plot_for(pane, "A").spec.footer) == 1)


async def test_events_are_drawn_as_marks(ui_logger, clock):
    client, app = await start(ui_logger, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(PlotPane)
        marks_v = [(v.x, v.color) for v in plot_for(pane, "V").spec.vlines]
        marks_a = [(v.x, v.color) for v in plot_for(pane, "A").spec.vlines]
        assert marks_v == [(-30.0, PRIORITY_COLORS[1])]
        assert marks_a == [(-10.0, PRIORITY_COLORS[2])]
        await pilot.press("w")  # 5 minutes: the device-wide event 90 s ago shows in both
        await wait_for(pilot, lambda: len(plot_for(pane, "V").spec.vlines) == 2)
        assert (-90.0, PRIORITY_COLORS[0]) in [
            (v.x, v.color) for v in plot_for(pane, "A").spec.vlines
        ]
        await pilot.press("m")
        await wait_for(pilot, lambda: not plot_for(pane, "V").spec.vlines)
        # a new event shows up without any other change
        await pilot.press("m")
        ui_logger.event("new", sname="Voltage", dname="Bench", priority=2, x=T0 - 5)
        await wait_for(pilot, lambda: any(v.x == -5 for v in plot_for(pane, "V").spec.vlines))


async def test_legend_toggle(ui_logger, clock):
    client, app = await start(ui_logger, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(PlotPane)
        legend = plot_for(pane, "V").spec.footer[0].plain
        assert legend.startswith("[V]") and "Bench.Voltage" in legend
        await pilot.press("l")
        await wait_for(pilot, lambda: all(not p.spec.footer for p in pane.query(PlotextPlot)))


async def test_xy_data_gets_its_own_plot(ui_logger, clock):
    ui_logger.plot([0, 1, 2, 3], [0, 1, 4, 9], sname="Square", dname="Math", unit="V")
    client, app = await start(ui_logger, clock)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(PlotPane)
        await wait_for(pilot, lambda: len(pane.query(PlotextPlot)) == 4)
        xy = [p for p in pane.query(PlotextPlot) if " XY " in p.spec.footer[0].plain]
        assert len(xy) == 1 and xy[0].spec.xlim == (0.0, 3.0)
        assert ["Math.Square"] in [w[0] for w in client.windows if w[1] is None]


async def test_no_fetch_while_hidden_and_no_redraw_without_change(ui_logger, clock):
    client, app = await start(ui_logger, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(PlotPane)
        volts = plot_for(pane, "V")
        renders, frames = pane.renders, volts.frames
        polls = app.state.polls
        await wait_for(pilot, lambda: app.state.polls >= polls + 2)
        assert (pane.renders, volts.frames) == (renders, frames)  # nothing changed
        await pilot.press("E")  # the script editor covers the plot
        await app.workers.wait_for_complete()
        fetches = len(client.windows)
        t = np.arange(T0 + 0.1, T0 + 1.05, 0.1)
        ui_logger.store.append("Bench", "Voltage", t, np.full(len(t), 9.0), "V")
        polls = app.state.polls
        await wait_for(pilot, lambda: app.state.polls >= polls + 2)
        assert len(client.windows) == fetches
        await pilot.press("escape", "escape")  # the first leaves the editor, the second the screen
        await wait_for(pilot, lambda: len(client.windows) > fetches)


async def test_live_signals_are_fetched_every_plot_tick_between_polls(make_logger):
    clock = FakeClock(time.time())  # the buffers stamp appends with the wall clock
    logger = make_logger(clock=clock)
    fill(logger, clock())
    client = RecordingClient(logger)
    app = build_app(client, logger.config, clock=clock, refresh_hz=0.2, plot_hz=20)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(PlotPane)
        polls = app.state.polls
        t = np.arange(clock() + 0.1, clock() + 1.05, 0.1)
        logger.store.append("Bench", "Voltage", t, np.full(len(t), 9.0), "V")
        clock.advance(1.0)
        await wait_for(pilot, lambda: pane.series["Bench.Voltage"].y[-1] == 9.0, timeout=3)
        assert app.state.polls == polls  # the next poll is 5 s away: the plot fetched itself
    logger.devices.stop_all()


def test_compact_keeps_min_max_per_bucket_and_the_newest_bucket() -> None:
    x = np.arange(0.0, 10.0, 0.01)
    y = np.sin(3 * x)
    cx, cy = _compact(x, y, 0.5)
    assert np.all(np.diff(cx) > 0)  # still in time order
    assert len(cx) <= 2 * 19 + 50  # a pair per full bucket, the newest bucket whole
    assert cx[-1] == x[-1] and cy[-1] == y[-1]
    for k in range(19):
        inside = (x >= 0.5 * k) & (x < 0.5 * (k + 1))
        kept = (cx >= 0.5 * k) & (cx < 0.5 * (k + 1))
        assert cy[kept].min() == y[inside].min() and cy[kept].max() == y[inside].max()
    again = _compact(cx, cy, 0.5)
    assert np.array_equal(again[0], cx)  # idempotent: appends can be compacted every time


def test_drop_flat_midpoints_keeps_ends_and_every_row_change() -> None:
    import numpy as np

    from rtoc_tui.ui.widgets.plot import drop_flat_midpoints

    x = np.arange(10.0)
    y = np.array([0.0, 0.01, 0.02, 0.03, 5.0, 5.01, 5.02, 0.0, 0.01, 9.0])
    dx, dy = drop_flat_midpoints(x, y, rows_per_unit=1.0)
    assert dx.tolist() == [0, 3, 4, 6, 7, 8, 9]  # 1, 2 and 5 lie inside flat runs
    assert dy[0] == 0.0 and dy[-1] == 9.0 and 5.0 in dy.tolist()
    same_x, same_y = drop_flat_midpoints(x, x * 10, rows_per_unit=1.0)  # no flat run: unchanged
    assert len(same_x) == 10 and same_y is not None


def _frame_spec(shift: float):
    from rtoc_tui.ui.widgets.plot import PlotSpec, Trace, VLine

    x = np.linspace(-10.0, 0.0, 320)
    traces = tuple(
        Trace(f"s{i}", x, np.sin(2 * np.pi * (x + shift) / 20) + 2 * i, (40 * i, 200, 90))
        for i in range(4)
    )
    return PlotSpec(
        traces=traces, xlim=(-10.0, 0.0), ylim=(-1.2, 8.2), vlines=(VLine(-5.0, (255, 0, 0)),)
    )


def test_fast_frame_lines_draw_what_plotext_draws() -> None:
    """Our _add_line (frame, axes, grid and event lines) against plotext's own, same frames."""
    import importlib.util

    from rtoc_tui.ui.widgets.plot import FigureRenderer, load_plotext

    load_plotext()
    from plotext._primitives import matrix as plotext_matrix

    spec_ = importlib.util.spec_from_file_location("plotext_matrix_orig", plotext_matrix.__file__)
    assert spec_ is not None and spec_.loader is not None
    original = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(original)
    ours = plotext_matrix.matrix._add_line
    assert ours is not original.matrix._add_line  # the patch is in place
    renderer = FigureRenderer()
    frames = [renderer.render(_frame_spec(s), 90, 20) for s in (0.0, 0.7)]
    plotext_matrix.matrix._add_line = original.matrix._add_line
    try:
        theirs = [renderer.render(_frame_spec(s), 90, 20) for s in (0.0, 0.7)]
    finally:
        plotext_matrix.matrix._add_line = ours
    assert frames == theirs and "┼" in frames[0] and "│" in frames[0]


def test_unchanged_frame_lines_are_reused_and_only_changed_rows_repaint() -> None:
    from rich.style import Style

    from rtoc_tui.ui.widgets.plot import AnsiStrips, FigureRenderer, changed_rows

    renderer, ansi = FigureRenderer(), AnsiStrips()
    first = ansi.convert(renderer.render(_frame_spec(0.0), 90, 20), 90, 20, Style())
    second = ansi.convert(renderer.render(_frame_spec(0.5), 90, 20), 90, 20, Style())
    same = [a is b for a, b in zip(first, second, strict=True)]
    assert any(same) and not all(same)  # axes and labels stay, the curves moved
    rows = changed_rows(first, second)
    changed = {y for y0, y1 in rows for y in range(y0, y1)}
    assert changed == {y for y, s in enumerate(same) if not s and first[y] != second[y]}
    assert changed_rows(second, second) == []
    other = ansi.convert(renderer.render(_frame_spec(0.5), 90, 20), 90, 20, Style(bold=True))
    assert not any(a is b for a, b in zip(second, other, strict=True))  # a new style: all new


async def test_plot_draws_its_lines_as_textual_would(ui_logger, clock):
    """PlotextPlot.render_lines skips Textual's per-line restyling; same result, filters too."""
    from textual.filter import Monochrome
    from textual.geometry import Region
    from textual.widget import Widget

    client, app = await start(ui_logger, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        volts = plot_for(app.screen.query_one(PlotPane), "V")
        w, h = volts.size
        for crop in (Region(0, 0, w, h), Region(3, 2, w - 10, h - 4)):
            ours = volts.render_lines(crop)
            volts._styles_cache.clear()
            textual = Widget.render_lines(volts, crop)
            assert [list(s) for s in ours] == [list(s) for s in textual]
        # with a line filter, as on a terminal without colours
        plain = [list(s) for s in volts.render_lines(Region(0, 0, w, h))]
        volts.get_line_filters = lambda: [Monochrome()]  # type: ignore[method-assign]
        ours = volts.render_lines(Region(0, 0, w, h))
        volts._styles_cache.clear()
        textual = Widget.render_lines(volts, Region(0, 0, w, h))
        assert [list(s) for s in ours] == [list(s) for s in textual] != plain


async def test_unchanged_pane_subtitles_do_not_repaint_the_pane(ui_logger, clock):
    client, app = await start(ui_logger, clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one(PlotPane)
        repaints = []
        pane.refresh = lambda *a, **k: repaints.append(a)  # type: ignore[method-assign]
        pane._update_subtitle()
        pane._update_subtitle()
        assert repaints == []  # the same text: nothing to repaint
        pane.paused = True
        pane._update_subtitle()
        assert len(repaints) == 1 and "PAUSED" in str(pane.border_subtitle)


async def test_stacked_plots_that_do_not_fit_keep_to_the_plot_rate(ui_logger, clock, monkeypatch):
    """At 80x24 three stacked plots do not fit the pane (it scrolls): with nothing changing,
    frames must not be rebuilt at all, and never faster than plot_hz (issue 13: 100 % CPU)."""
    calls = 0
    original = PlotPane._build_frames

    def counting(self: PlotPane) -> None:
        nonlocal calls
        calls += 1
        original(self)

    monkeypatch.setattr(PlotPane, "_build_frames", counting)
    t = np.linspace(T0 - 120, T0, 1200)
    for sname, unit in (("Temp", "°C"), ("Power", "W"), ("Flow", "l/min")):
        ui_logger.store.append("Bench", sname, t, np.sin(t), unit=unit)  # 6 plots in all
    client = RecordingClient(ui_logger)
    app = build_app(client, ui_logger.config, clock=clock, plot_hz=5)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(1.0)  # first frames, whatever the layout does
        pane = app.screen.query_one(PlotPane)
        plots = list(pane.query(PlotextPlot))
        view = pane.scrollable_content_region
        assert len(plots) == 6 and not plots[-1].region.intersection(view).area, (
            "a plot must be scrolled out of the pane, or this tests nothing"
        )
        frames = sum(p.frames for p in pane.query(PlotextPlot))
        before = calls
        for _ in range(10):  # 1 s of live data, as a streaming driver brings it
            clock.advance(0.1)
            for name in ui_logger.store.names():
                dname, _, sname = name.partition(".")
                ui_logger.store.append(dname, sname, [clock()], [np.sin(clock())])
            await pilot.pause(0.1)
        assert calls - before <= 5 + 2, f"{calls - before} frame builds in 1 s at plot_hz 5"
        assert sum(p.frames for p in pane.query(PlotextPlot)) - frames <= 5 * 6
