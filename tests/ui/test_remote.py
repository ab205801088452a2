"""The same UI attached to a logger over TCP: header, data, actions, disconnect, reconnect;
and a slow client that must not freeze the UI or pile up requests."""

from __future__ import annotations

import asyncio
import time

import pytest

from rtoc_tui.client.remote import RemoteClient
from rtoc_tui.config.home import update_config_file
from rtoc_tui.server.tcp import TcpServer
from rtoc_tui.ui.app import build_app
from rtoc_tui.ui.panes.devices import DevicesPane
from rtoc_tui.ui.panes.plot import PlotPane
from rtoc_tui.ui.panes.signals import SignalsPane
from rtoc_tui.ui.widgets.plot import PlotextPlot
from rtoc_tui.ui.widgets.status import StatusBar

from .conftest import StableClient, settle, wait_for


@pytest.fixture
async def served(ui_logger):
    """The deterministic logger behind a TCP server on a free loopback port."""
    update_config_file(ui_logger.home.config_file, {"tui.plot_hz": 7.0})
    ui_logger.config.tui.plot_hz = 7.0
    srv = TcpServer(ui_logger, port=0)
    await srv.start()
    yield ui_logger, srv
    await srv.stop()


def header(app) -> str:
    return str(app.screen.query_one(StatusBar).render())


async def test_attached_ui_shows_the_remote_logger(served):
    logger, srv = served
    client = RemoteClient("127.0.0.1", srv.port, backoff_max_s=0.2, token=logger.home.auth_token())
    app = build_app(client, None, clock=logger.clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert f"@ 127.0.0.1:{srv.port}" in header(app) and "● connected" in header(app)
        assert "3 signals" in header(app)
        await wait_for(pilot, lambda: app.tui.plot_hz == 7.0, what="remote tui settings")
        signals = app.screen.query_one(SignalsPane)
        assert signals.plotted == {"Generator.Sinus", "Bench.Voltage", "Bench.Current"}
        plot = app.screen.query_one(PlotPane)
        await wait_for(pilot, lambda: len(plot.query(PlotextPlot)) == 3)
        assert 0 < len(plot.series["Bench.Voltage"].x) <= 2 * plot.plot_width()
        # an action goes through to the remote logger
        pane = app.screen.query_one(DevicesPane)
        pane.toggle_device("Generator", start=True)
        await wait_for(pilot, lambda: logger.devices.get("Generator") is not None)
        await wait_for(pilot, lambda: pane.devices["Generator"].state == "running")
        pane.toggle_device("Generator", start=False)
        await wait_for(pilot, lambda: logger.devices.get("Generator") is None)
        await pilot.press("q")
    await client.close()


async def test_link_drops_then_comes_back(served):
    logger, srv = served
    port = srv.port
    client = RemoteClient("127.0.0.1", port, backoff_max_s=0.2, connect_timeout_s=1.0)
    app = build_app(client, None, clock=logger.clock, refresh_hz=10)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "● connected" in header(app)
        await srv.stop()
        await wait_for(pilot, lambda: "disconnected" in header(app), timeout=10)
        assert any("lost the connection" in n.message for n in app._notifications)
        # still responsive while disconnected
        await pilot.press("w")
        assert app.screen.query_one(PlotPane).span == 300
        again = TcpServer(logger, port=port)
        await again.start()
        try:
            await wait_for(pilot, lambda: "● connected" in header(app), timeout=10)
            polls = app.state.polls
            await wait_for(pilot, lambda: app.state.polls > polls + 1)
        finally:
            await pilot.press("q")
            await again.stop()
    await client.close()


async def test_connecting_to_nothing_shows_disconnected(unused_tcp_port, ui_logger):
    client = RemoteClient("127.0.0.1", unused_tcp_port, backoff_max_s=0.2, connect_timeout_s=0.5)
    app = build_app(client, None, clock=ui_logger.clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: "disconnected" in header(app) or "connecting" in header(app))
        await wait_for(pilot, lambda: "refused" in header(app), timeout=10)
        await pilot.press("q")
    await client.close()


class SlowClient(StableClient):
    """Every call takes `delay` seconds, like a logger behind a bad link."""

    def __init__(self, logger, delay: float) -> None:
        super().__init__(logger)
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0

    async def _slow(self) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1

    async def status(self):  # type: ignore[no-untyped-def]
        await self._slow()
        return await super().status()

    async def window(self, names, xmin, xmax, n_points):  # type: ignore[no-untyped-def]
        await self._slow()
        return await super().window(names, xmin, xmax, n_points)


async def test_a_slow_link_does_not_block_keys_or_pile_up_requests(ui_logger, clock):
    client = SlowClient(ui_logger, delay=0.6)
    app = build_app(client, ui_logger.config, clock=clock, refresh_hz=20, plot_hz=20)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        plot = app.screen.query_one(PlotPane)
        for key, span in (("w", 300), ("w", 900), ("W", 300)):
            t0 = time.monotonic()
            await pilot.press(key)
            assert plot.span == span
            assert time.monotonic() - t0 < 0.5  # the key is handled while requests wait
        await wait_for(pilot, lambda: client.in_flight >= 1)
        await pilot.pause(1.5)
        # one poll and one plot fetch at a time, not one per tick
        assert client.max_in_flight <= 2
        await pilot.press("q")


async def test_a_window_fetched_for_an_old_view_is_dropped(ui_logger, clock):
    client = SlowClient(ui_logger, delay=0.4)
    app = build_app(client, ui_logger.config, clock=clock, plot_hz=20)
    async with app.run_test(size=(120, 40)) as pilot:
        plot = app.screen.query_one(PlotPane)
        await wait_for(pilot, lambda: plot._fetching, what="the first window request")
        await pilot.press("w")  # 5 minutes, while the 1 minute window is on its way
        await wait_for(pilot, lambda: "Bench.Voltage" in plot.series and not plot._fetching)
        await app.workers.wait_for_complete()
        # the history goes back 120 s: all of it belongs in a 5 minute window
        assert plot.series["Bench.Voltage"].x[0] < clock() - 100
        await pilot.press("q")
