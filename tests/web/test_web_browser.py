"""The web view in a real browser: headless Chromium (Debian's) driven through chromedriver.

Checks what a user sees: no console errors, charts whose data is the logger's (decimated),
zoom by wheel, drag and pinch, the events table and its filters, live updates, a phone-sized
window. Screenshots of each page land in $RTOC_TEST_ARTEFACTS (or a pytest tmp folder).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from web_support import LoggerThread, wait_for

from rtoc_tui.config.home import Home
from rtoc_tui.core.events import Event
from rtoc_tui.storage import SignalWrite, SqliteEngine, WriteBatch, sqlite_path

SIGNALS = 100  # the picker holds 100 signals in 10 devices
CHARTS_JS = """
return [...window.rtocState.charts.values()].map(c => ({
  names: c.names, xy: c.xy,
  data: c.u.data.map(a => Array.from(a)),
  xmin: c.u.scales.x.min, xmax: c.u.scales.x.max,
}));
"""
SERIES_JS = """
const out = {};
for (const [k, v] of window.rtocState.series) out[k] = {x: v.x.slice(), y: v.y.slice()};
return out;
"""


def console_errors(driver: Any) -> list[dict[str, Any]]:
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


@pytest.fixture(scope="module")
def data(served: LoggerThread) -> dict[str, Any]:
    """10 minutes of 10 Hz data ending now, in 100 signals of 10 devices; units V, A, °C."""
    lg = served.logger
    assert lg is not None
    now = time.time()
    x = now - 600 + np.arange(6000) / 10
    units = ["V", "A", "°C"]
    for i in range(SIGNALS):
        dev, sig = f"Dev{i // 10}", f"S{i % 10}"
        y = np.sin(x / 30 + i) * (i + 1)
        lg.store.append(dev, sig, x, y, unit=units[i % 3])
    lg.event("pump started", dname="Dev0", sname="S0", priority=0, id="start", x=now - 500)
    lg.event(
        "pressure high", dname="Dev1", sname="S1", priority=1, id="pHigh", value=4.2, x=now - 300
    )
    lg.event("motor fault", dname="Dev2", sname="S2", priority=2, id="fault", x=now - 100)
    return {"now": now, "x0": float(x[0]), "x1": float(x[-1])}


@pytest.fixture
def page(browser: Any, served: LoggerThread, data: dict[str, Any]) -> Any:
    browser.set_window_size(1280, 900)
    browser.get("about:blank")
    browser.get_log("browser")  # drop what earlier tests left
    yield browser
    errors = console_errors(browser)
    assert not errors, f"console errors: {errors}"


def open_view(driver: Any, url: str) -> None:
    driver.get(url)
    wait_for(
        lambda: driver.execute_script("return !!window.rtocState && !!window.uPlot"), what="app"
    )


def test_pick_signals_draws_one_chart_per_unit_with_the_loggers_data(
    page: Any, served: LoggerThread, screenshots: Path
) -> None:
    open_view(page, served.url + "#plots")
    wait_for(
        lambda: len(page.find_elements(By.CSS_SELECTOR, "#sig-list input")) == SIGNALS,
        what="picker",
    )
    # search, grouped by device
    search = page.find_element(By.ID, "sig-search")
    search.send_keys("Dev1.")
    wait_for(
        lambda: len(page.find_elements(By.CSS_SELECTOR, "#sig-list input")) == 10, what="search"
    )
    groups = [
        d.get_attribute("data-device")
        for d in page.find_elements(By.CSS_SELECTOR, "#sig-list details")
    ]
    assert groups == ["Dev1"]
    for sig in ("S0", "S1", "S3"):  # units V (S0, S3: i=10, 13 -> 'A'? see below) and others
        page.find_element(By.CSS_SELECTOR, f'#sig-list input[value="Dev1.{sig}"]').click()
    charts = wait_for(
        lambda: (
            (c := page.execute_script(CHARTS_JS)) and sum(len(x["names"]) for x in c) == 3 and c
        ),
        what="charts",
    )
    lg = served.logger
    units = {n: lg.store.get(n).unit for n in ("Dev1.S0", "Dev1.S1", "Dev1.S3")}
    by_unit: dict[str, list[str]] = {}
    for n, u in units.items():
        by_unit.setdefault(u, []).append(n)
    assert sorted(sorted(c["names"]) for c in charts) == sorted(sorted(v) for v in by_unit.values())
    # the charts hold exactly what the logger's decimated window holds for that range and width
    n = page.execute_script("return window.rtocState.lastN")
    series = page.execute_script(SERIES_JS)
    for name in units:
        x, y = np.array(series[name]["x"]), np.array(series[name]["y"], dtype=float)
        assert 10 < len(x) <= n
        ref_x, ref_y = lg.store.get(name).window(x[0] - 1e-3, x[-1] + 1e-3)
        # every value shown is one of the signal's samples (min/max decimation keeps samples)
        assert np.isin(y.astype(np.float32), ref_y.astype(np.float32)).all()
        assert y.min() == pytest.approx(ref_y.min(), rel=1e-6)
        assert y.max() == pytest.approx(ref_y.max(), rel=1e-6)
    for c in charts:  # and uPlot draws those series
        for i, name in enumerate(c["names"], start=1):
            drawn = [v for v in c["data"][i] if v is not None]
            assert len(drawn) == len(series[name]["y"])
    page.save_screenshot(str(screenshots / "plots.png"))


def test_range_from_the_address_matches_the_store_exactly(
    page: Any, served: LoggerThread, data: dict[str, Any]
) -> None:
    xmin, xmax = data["x0"] + 100, data["x0"] + 250
    open_view(page, served.url + f"#plots?s=Dev3.S3,Dev4.S4&xmin={xmin:.3f}&xmax={xmax:.3f}")
    wait_for(lambda: len(page.execute_script(SERIES_JS)) == 2, what="series")
    n = page.execute_script("return window.rtocState.lastN")
    series = page.execute_script(SERIES_JS)
    for name in ("Dev3.S3", "Dev4.S4"):
        ref_x, ref_y = served.logger.store.get(name).window(round(xmin, 3), round(xmax, 3), n)
        np.testing.assert_allclose(series[name]["x"], ref_x, atol=(xmax - xmin) / 1e6 + 1e-6)
        np.testing.assert_allclose(series[name]["y"], ref_y, rtol=1e-6, atol=1e-6)
    assert page.execute_script("return window.rtocState.follow") is False
    charts = page.execute_script(CHARTS_JS)
    assert all(abs(c["xmin"] - xmin) < 1e-2 and abs(c["xmax"] - xmax) < 1e-2 for c in charts)


def test_wheel_and_drag_zoom_fetch_decimated_data_for_the_visible_range(
    page: Any, served: LoggerThread
) -> None:
    open_view(page, served.url + "#plots?s=Dev5.S5&span=600")
    wait_for(lambda: page.execute_script(CHARTS_JS), what="chart")
    over = page.find_element(By.CSS_SELECTOR, ".chart .u-over")
    before = page.execute_script(CHARTS_JS)[0]
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", over)
    page.execute_script(
        "arguments[0].dispatchEvent(new WheelEvent('wheel', {deltaY: -300, clientX: arguments[0].getBoundingClientRect().left + arguments[0].clientWidth / 2, clientY: arguments[0].getBoundingClientRect().top + 20, bubbles: true, cancelable: true}))",
        over,
    )
    after = wait_for(
        lambda: (
            (c := page.execute_script(CHARTS_JS)[0])["xmax"] - c["xmin"]
            < 0.9 * (before["xmax"] - before["xmin"])
            and c
        ),
        what="wheel zoom",
    )
    assert page.execute_script("return window.rtocState.view.mode") == "range"

    # the new range is fetched again (decimated for it): the points lie inside it
    def refetched() -> bool:
        s = page.execute_script(SERIES_JS)["Dev5.S5"]["x"]
        return bool(s) and s[0] >= after["xmin"] - 1 and s[-1] <= after["xmax"] + 1 and len(s) > 50

    wait_for(refetched, what="refetch")
    # drag to zoom into the middle third
    w = over.size["width"]
    ActionChains(page).move_to_element_with_offset(
        over, -w // 6, 0
    ).click_and_hold().move_by_offset(w // 3, 0).release().perform()
    zoomed = wait_for(
        lambda: (
            (c := page.execute_script(CHARTS_JS)[0])["xmax"] - c["xmin"]
            < 0.5 * (after["xmax"] - after["xmin"])
            and c
        ),
        what="drag zoom",
    )
    assert zoomed["xmin"] > after["xmin"]
    # double-click: back to following live data
    ActionChains(page).double_click(over).perform()
    wait_for(lambda: page.execute_script("return window.rtocState.follow"), what="live again")


def test_live_updates_arrive_while_following(page: Any, served: LoggerThread) -> None:
    open_view(page, served.url + "#plots?s=Live.Value&span=60")
    lg = served.logger
    lg.stream([1.0], ["Value"], dname="Live", unit=["W"])
    wait_for(
        lambda: page.execute_script(SERIES_JS).get("Live.Value", {}).get("y"), what="first sample"
    )
    t = time.time()
    for i in range(5):
        lg.stream([100.0 + i], ["Value"], dname="Live", unit=["W"], x=[t + i * 0.01])
    ys = wait_for(
        lambda: (y := page.execute_script(SERIES_JS)["Live.Value"]["y"]) and 104.0 in y and y,
        what="live samples",
    )
    assert ys[-5:] == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert page.execute_script("return window.rtocState.follow") is True


def test_events_table_filters_and_updates_live(
    page: Any, served: LoggerThread, screenshots: Path
) -> None:
    open_view(page, served.url + "#events")

    def rows() -> list[list[str]]:
        return [
            [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in page.find_elements(By.CSS_SELECTOR, "#ev-table tbody tr")
        ]

    got = wait_for(lambda: len(rows()) >= 3 and rows(), what="events")
    texts = [r[4] for r in got]
    assert texts.index("motor fault") < texts.index("pressure high") < texts.index("pump started")
    high = next(r for r in got if r[4] == "pressure high")
    assert high[1:4] == ["warning", "Dev1", "S1"] and high[5:] == ["pHigh", "4.2"]
    page.save_screenshot(str(screenshots / "events.png"))
    page.find_element(By.ID, "ev-search").send_keys("pump")
    wait_for(lambda: [r[4] for r in rows()] == ["pump started"] or None, what="text filter")
    page.find_element(By.ID, "ev-search").clear()
    page.execute_script("document.getElementById('ev-search').dispatchEvent(new Event('input'))")
    page.find_element(By.CSS_SELECTOR, '.ev-prio[value="0"]').click()
    page.find_element(By.CSS_SELECTOR, '.ev-prio[value="1"]').click()
    wait_for(lambda: {r[1] for r in rows()} == {"error"} or None, what="priority filter")
    served.logger.event("live alarm", dname="Dev9", priority=2, id="alarm")
    served.logger.event("quiet note", dname="Dev9", priority=0)
    wait_for(lambda: rows() and rows()[0][4] == "live alarm", what="live event")
    assert "quiet note" not in [r[4] for r in rows()]  # still filtered out


def test_status_page_shows_the_logger(page: Any, served: LoggerThread, screenshots: Path) -> None:
    open_view(page, served.url + "#status")
    name = served.logger.config.global_.name
    wait_for(lambda: name in page.find_element(By.ID, "st-summary").text, what="status")
    assert name in page.find_element(By.ID, "lname").text
    assert "signals" in page.find_element(By.ID, "hstatus").text
    page.save_screenshot(str(screenshots / "status.png"))


def test_phone_sized_window_and_touch_pinch_zoom(
    page: Any, served: LoggerThread, screenshots: Path
) -> None:
    page.set_window_size(390, 844)
    page.execute_cdp_cmd(
        "Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5}
    )
    try:
        open_view(page, served.url + "#plots?s=Dev6.S6,Dev7.S7&span=600")
        wait_for(lambda: len(page.execute_script(CHARTS_JS)) == 2, what="charts")
        width = page.execute_script("return window.innerWidth")
        assert page.execute_script("return document.documentElement.scrollWidth") <= width
        assert page.find_element(By.ID, "picker-toggle").is_displayed()
        assert not page.find_element(By.ID, "picker").is_displayed()  # folded away
        for c in page.find_elements(By.CSS_SELECTOR, ".chart"):
            assert c.size["width"] <= width
        page.save_screenshot(str(screenshots / "phone-plots.png"))
        page.find_element(By.ID, "picker-toggle").click()
        assert page.find_element(By.ID, "picker").is_displayed()
        page.find_element(By.ID, "picker-toggle").click()

        over = page.find_element(By.CSS_SELECTOR, ".chart .u-over")
        page.execute_script("arguments[0].scrollIntoView({block: 'center'})", over)
        r = page.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.width, r.height]",
            over,
        )
        cx, cy = r[0] + r[2] / 2, r[1] + r[3] / 2
        before = page.execute_script(CHARTS_JS)[0]

        def touch(kind: str, pts: list[tuple[float, float]]) -> None:
            page.execute_cdp_cmd(
                "Input.dispatchTouchEvent",
                {
                    "type": kind,
                    "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(pts)],
                },
            )

        touch("touchStart", [(cx - 30, cy), (cx + 30, cy)])
        for d in (45, 60, 80, 100):
            touch("touchMove", [(cx - d, cy), (cx + d, cy)])
        touch("touchEnd", [])
        after = wait_for(
            lambda: (
                (c := page.execute_script(CHARTS_JS)[0])["xmax"] - c["xmin"]
                < 0.6 * (before["xmax"] - before["xmin"])
                and c
            ),
            what="pinch zoom",
        )
        assert page.execute_script("return window.rtocState.view.mode") == "range"
        # one-finger swipe pans
        touch("touchStart", [(cx, cy)])
        for dx in (20, 40, 80):
            touch("touchMove", [(cx + dx, cy)])
        touch("touchEnd", [])
        panned = wait_for(
            lambda: (c := page.execute_script(CHARTS_JS)[0])["xmin"] < after["xmin"] - 1e-3 and c,
            what="touch pan",
        )
        assert panned["xmax"] - panned["xmin"] == pytest.approx(
            after["xmax"] - after["xmin"], rel=1e-3
        )
        open_view(page, served.url + "#events")
        wait_for(lambda: page.find_elements(By.CSS_SELECTOR, "#ev-table tbody tr"), what="events")
        assert page.execute_script("return document.documentElement.scrollWidth") <= width
        page.save_screenshot(str(screenshots / "phone-events.png"))
    finally:
        page.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})


def test_latest_n_samples_and_range_presets(page: Any, served: LoggerThread) -> None:
    open_view(page, served.url + "#plots?s=Dev8.S8&span=600")
    wait_for(lambda: page.execute_script(SERIES_JS).get("Dev8.S8", {}).get("x"), what="series")
    box = page.find_element(By.ID, "last-n")
    box.send_keys("500\n")
    buf = served.logger.store.get("Dev8.S8")
    x_all, _ = buf.window(None, None)
    first = float(x_all[-500])

    def latest_view() -> Any:
        xs = page.execute_script(SERIES_JS)["Dev8.S8"]["x"]
        mode = page.execute_script("return window.rtocState.view.mode")
        return mode == "last" and xs and abs(xs[0] - first) < 0.05 and xs

    xs = wait_for(latest_view, what="latest 500 samples")
    assert len(xs) <= 500 and "last=500" in page.current_url
    assert page.execute_script("return window.rtocState.follow") is True
    page.find_element(By.CSS_SELECTOR, '#presets button[data-span="60"]').click()
    wait_for(
        lambda: (c := page.execute_script(CHARTS_JS)) and abs(c[0]["xmax"] - c[0]["xmin"] - 60) < 1,
        what="1 min preset",
    )
    assert page.find_element(By.ID, "last-n").get_attribute("value") == ""
    assert "span=60" in page.current_url


def test_rtoc_web_shows_a_stored_history_read_only(
    browser: Any, tmp_path: Path, screenshots: Path
) -> None:
    """The standalone command (a real `rtoc web` process) over a SQLite store, in the browser."""
    home = Home(tmp_path / "stored")
    home.ensure()
    engine = SqliteEngine(sqlite_path(home.data_dir))
    engine.open()
    t0 = 1_700_000_000.0
    x = t0 + np.arange(36_000) / 10.0  # one hour at 10 Hz, long ago
    batch = WriteBatch()
    batch.signals.append(SignalWrite("Tank", "Level", "m", x, np.sin(x / 60.0)))
    batch.events.append(Event(0, t0 + 3590, "valve stuck", "Tank", "Level", 2, "valve"))
    engine.write(batch)
    proc = subprocess.Popen(
        [sys.executable, "-m", "rtoc_tui", "web", "--home", str(home.root), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"},
    )
    try:
        assert proc.stdout is not None
        m = re.search(r"(http://127\.0\.0\.1:\d+/)", proc.stdout.readline())
        assert m
        browser.set_window_size(1280, 900)
        browser.get("about:blank")
        browser.get_log("browser")
        open_view(browser, m.group(1) + "#plots?s=Tank.Level&span=600")
        wait_for(
            lambda: "stored history" in browser.find_element(By.ID, "hstatus").text,
            what="store mode in the header",
        )
        newest = float(x[-1])
        charts = wait_for(
            lambda: (
                (c := browser.execute_script(CHARTS_JS)) and abs(c[0]["xmax"] - newest) < 1 and c
            ),
            what="the newest 10 min of the history",
        )
        assert abs(charts[0]["xmin"] - (newest - 600)) < 1
        n = browser.execute_script("return window.rtocState.lastN")
        series = browser.execute_script(SERIES_JS)["Tank.Level"]
        sig = engine.signals()[0]
        ref_x, ref_y = engine.query(sig.id, newest - 600, newest, n)
        np.testing.assert_allclose(series["y"], ref_y, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(series["x"], ref_x, atol=1e-3)
        browser.save_screenshot(str(screenshots / "store-plots.png"))
        open_view(browser, m.group(1) + "#events")
        wait_for(
            lambda: "valve stuck" in browser.find_element(By.ID, "ev-table").text,
            what="stored events",
        )
        assert not console_errors(browser)
    finally:
        proc.terminate()
        proc.wait(10)
        engine.close()
