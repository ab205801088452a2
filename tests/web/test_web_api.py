"""The web view's JSON API and its security, through aiohttp's test client (on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp.test_utils import TestClient

from rtoc_tui import runtime
from rtoc_tui.client.local import LocalClient
from rtoc_tui.config.home import Home
from rtoc_tui.core.logger import Logger
from rtoc_tui.web.app import MAX_NAMES, MAX_POINTS, make_app
from rtoc_tui.web.security import WebConfigError, WebOptions

T0 = 1_800_000_000.0


def decode(series: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    xi = np.asarray(series["xi"], dtype=float)
    y = np.asarray([np.nan if v is None else v for v in series["y"]], dtype=float)
    return series["x0"] + xi * series["q"], y


def feed(logger: Logger, n: int = 20_000, rate_hz: float = 100.0) -> None:
    """Two signals in V and one in A, 100 Hz from T0, with one sharp peak in Volt.A."""
    x = T0 + np.arange(n) / rate_hz
    a = np.sin(np.arange(n) / 50.0)
    if n > 12_345:
        a[12_345] = 50.0  # a one-sample peak that decimation must keep
    logger.store.append("Volt", "A", x, a, unit="V")
    logger.store.append("Volt", "B", x, a * 2, unit="V")
    logger.store.append("Volt", "I", x, a / 10, unit="A")


@pytest.fixture
async def client(aiohttp_client: Any, logger: Logger) -> TestClient:
    feed(logger)
    return await aiohttp_client(make_app(LocalClient(logger)))


async def get_json(client: TestClient, path: str, status: int = 200) -> Any:
    resp = await client.get(path)
    assert resp.status == status, await resp.text()
    return await resp.json()


async def test_status_and_signals(client: TestClient, logger: Logger) -> None:
    st = await get_json(client, "/api/status")
    assert st["name"] == logger.config.global_.name
    assert st["signals"] == 3 and st["mode"] == "live" and st["tls"] is False
    sigs = await get_json(client, "/api/signals")
    by = {s["name"]: s for s in sigs["signals"]}
    assert set(by) == {"Volt.A", "Volt.B", "Volt.I"}
    assert by["Volt.I"]["unit"] == "A" and by["Volt.A"]["count"] == 20_000
    assert by["Volt.A"]["latest"][0] == pytest.approx(T0 + 19_999 / 100)


async def test_zoomed_range_is_decimated_and_matches_the_store(
    client: TestClient, logger: Logger
) -> None:
    xmin, xmax = T0 + 100.0, T0 + 150.0  # holds the peak at sample 12345
    j = await get_json(client, f"/api/data?s=Volt.A&s=Volt.I&xmin={xmin}&xmax={xmax}&n=200")
    assert j["xmin"] == xmin and j["xmax"] == xmax and j["unknown"] == []
    x, y = decode(j["series"]["Volt.A"])
    assert 100 <= len(x) <= 200  # min/max pairs, never the 5000 samples of the range
    assert x.min() >= xmin - 1e-3 and x.max() <= xmax + 1e-3
    assert y.max() == pytest.approx(50.0)  # the one-sample peak survived
    ref_x, ref_y = logger.store.get("Volt.A").window(xmin, xmax, 200)
    np.testing.assert_allclose(x, ref_x, atol=(xmax - xmin) / 1e6)
    np.testing.assert_allclose(y, ref_y, rtol=1e-6, atol=1e-6)
    assert j["series"]["Volt.I"]["unit"] == "A"


async def test_span_latest_n_and_live_append(client: TestClient, logger: Logger) -> None:
    newest = T0 + 19_999 / 100
    # span: the newest 10 s before now; the data is in the future (T0 > now)... so use last/after
    j = await get_json(client, "/api/data?s=Volt.A&last=500&n=100")
    x, _ = decode(j["series"]["Volt.A"])
    assert j["xmin"] == pytest.approx(T0 + 19_500 / 100)
    assert j["xmax"] == pytest.approx(newest)
    assert x[0] == pytest.approx(T0 + 19_500 / 100, abs=1e-3) and len(x) <= 100
    # following: only what is newer than the browser's newest point
    logger.stream([7.0], ["A"], dname="Volt", unit=["V"], x=[newest + 1])
    j = await get_json(client, f"/api/data?s=Volt.A&after={newest + 0.5}&n=100")
    x, y = decode(j["series"]["Volt.A"])
    assert list(y) == [7.0] and x[0] == pytest.approx(newest + 1)
    # everything
    j = await get_json(client, "/api/data?s=Volt.B&n=64")
    x, y = decode(j["series"]["Volt.B"])
    assert len(x) <= 64 and x[0] == pytest.approx(T0) and y.max() == pytest.approx(100.0)


async def test_span_is_measured_back_from_now(aiohttp_client: Any, logger: Logger) -> None:
    now = time.time()
    for i in range(100):
        logger.stream([float(i)], ["S"], dname="Now", x=[now - 99 + i])
    client = await aiohttp_client(make_app(LocalClient(logger)))
    j = await get_json(client, "/api/data?s=Now.S&span=10&n=100")
    x, y = decode(j["series"]["Now.S"])
    assert j["xmax"] >= now and j["xmax"] - j["xmin"] == pytest.approx(10)
    assert 9 <= len(x) <= 11 and y[-1] == 99.0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "name at least one signal"),
        ("s=Volt.A&n=abc", "not a whole number"),
        (f"s=Volt.A&n={MAX_POINTS + 1}", "must be between"),
        ("s=Volt.A&xmin=5&xmax=1", "xmax must not be below xmin"),
        ("s=Volt.A&xmin=nan", "finite"),
        ("s=Volt.A&span=-1", "span must be"),
        ("&".join(f"s=D.S{i}" for i in range(MAX_NAMES + 1)), f"at most {MAX_NAMES} signals"),
    ],
)
async def test_bad_data_requests_say_what_is_wrong(
    client: TestClient, query: str, message: str
) -> None:
    j = await get_json(client, f"/api/data?{query}", status=400)
    assert message in j["error"]


async def test_unknown_signals_are_named(client: TestClient) -> None:
    j = await get_json(client, "/api/data?s=Volt.A&s=No.Such&n=16")
    assert j["unknown"] == ["No.Such"] and "Volt.A" in j["series"]


async def test_events_newest_first_filtered_and_incremental(
    client: TestClient, logger: Logger
) -> None:
    logger.event("pump started", dname="Pump", sname="Run", priority=0, id="start", x=T0 + 1)
    logger.event(
        "pressure high", dname="Pump", sname="P", priority=1, id="pHigh", value=4.2, x=T0 + 2
    )
    logger.event("motor fault", dname="Motor", sname="M", priority=2, id="fault", x=T0 + 3)
    j = await get_json(client, "/api/events")
    assert [e["text"] for e in j["events"]] == ["motor fault", "pressure high", "pump started"]
    assert j["events"][1]["value"] == 4.2 and j["events"][1]["id"] == "pHigh"
    cursor = j["cursor"]
    assert [e["text"] for e in (await get_json(client, "/api/events?q=PUMP"))["events"]] == [
        "pressure high",
        "pump started",
    ]
    assert [e["text"] for e in (await get_json(client, "/api/events?q=fault"))["events"]] == [
        "motor fault"
    ]
    only = await get_json(client, "/api/events?prio=1,2")
    assert [e["priority"] for e in only["events"]] == [2, 1] and only["matched"] == 2
    assert (await get_json(client, "/api/events?limit=1"))["events"][0]["text"] == "motor fault"
    assert (await get_json(client, f"/api/events?since={cursor}"))["events"] == []
    logger.event("pump stopped", dname="Pump", priority=0, x=T0 + 4)
    new = await get_json(client, f"/api/events?since={cursor}")
    assert [e["text"] for e in new["events"]] == ["pump stopped"] and new["cursor"] > cursor
    ranged = await get_json(client, f"/api/events?xmin={T0 + 1.5}&xmax={T0 + 3.5}")
    assert [e["text"] for e in ranged["events"]] == ["motor fault", "pressure high"]
    assert "priorities" in (await get_json(client, "/api/events?prio=x", status=400))["error"]


async def test_page_and_vendored_chart_library_are_served(client: TestClient) -> None:
    resp = await client.get("/")
    html = await resp.text()
    assert resp.status == 200 and "/static/uPlot.iife.min.js" in html
    assert "http://" not in html and "https://" not in html  # nothing from a CDN
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    js = await client.get("/static/uPlot.iife.min.js")
    assert js.status == 200 and "uPlot" in await js.text()
    for name in ("app.js", "app.css", "uPlot.min.css", "uPlot.LICENSE"):
        assert (await client.get(f"/static/{name}")).status == 200
    assert (await client.get("/static/../app.py")).status in (403, 404)


async def test_read_only_and_loopback_host_check(client: TestClient) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        resp = await client.request(method, "/api/status")
        assert resp.status == 405, method
    # DNS rebinding: a page from elsewhere that resolves to 127.0.0.1 is refused
    resp = await client.get("/api/status", headers={"Host": "attacker.example:8050"})
    assert resp.status == 421
    for host in ("localhost:8050", "127.0.0.1", "[::1]:9000"):
        assert (await client.get("/api/status", headers={"Host": host})).status == 200, host


SECRETS = {
    "tcp": {"password": "tcp-secret-1"},
    "postgresql": {"password": "pg-secret-2"},
    "telegram": {"token": "tg-secret-3"},
    "web": {"password": "web-secret-4"},
}


async def test_password_basic_auth_token_link_and_no_secret_in_any_reply(
    aiohttp_client: Any, home: Home
) -> None:
    home.config_file.write_text(json.dumps(SECRETS), encoding="utf-8")
    logger = Logger.from_home(home)
    feed(logger, n=2000)
    logger.event("hello", dname="Volt", x=T0)
    options = WebOptions.from_config(logger.config)
    client = await aiohttp_client(make_app(LocalClient(logger), options))

    resp = await client.get("/api/status")
    assert resp.status == 401 and resp.headers["WWW-Authenticate"].startswith("Basic")
    bad = base64.b64encode(b"anyone:wrong").decode()
    assert (await client.get("/", headers={"Authorization": f"Basic {bad}"})).status == 401
    good = {"Authorization": "Basic " + base64.b64encode(b"anyone:web-secret-4").decode()}
    bodies = []
    for path in (
        "/",
        "/static/app.js",
        "/api/status",
        "/api/signals",
        "/api/data?s=Volt.A&s=Volt.I",
        "/api/events",
    ):
        resp = await client.get(path, headers=good)
        assert resp.status == 200, path
        bodies.append(await resp.text())
    for body in bodies:
        for section in SECRETS.values():
            for secret in section.values():
                assert secret not in body

    # the token link: sets a cookie and leaves the token out of the address
    assert options.token() not in "web-secret-4" and "web-secret-4" not in options.token()
    resp = await client.get(f"/?token={options.token()}", allow_redirects=False)
    assert resp.status == 302 and "token" not in resp.headers["Location"]
    cookie = resp.cookies["rtoc_web"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert (await client.get("/api/status")).status == 200  # the cookie jar now holds it
    assert (await client.get("/?token=wrong", allow_redirects=False)).status == 200  # cookie still


def test_options_refuse_unsafe_settings(tmp_path: Path) -> None:
    with pytest.raises(WebConfigError, match="web.password"):
        WebOptions(host="0.0.0.0").check()
    WebOptions(host="0.0.0.0", password="pw").check()
    WebOptions(host="localhost").check()
    with pytest.raises(WebConfigError, match="together"):
        WebOptions(tls_cert="c.pem").check()
    with pytest.raises(WebConfigError, match="no such file"):
        WebOptions(tls_cert=str(tmp_path / "c.pem"), tls_key=str(tmp_path / "k.pem")).check()
    loud = WebOptions(host="0.0.0.0", password="pw").warnings()
    assert loud and "PLAIN HTTP" in loud[0]
    assert WebOptions(host="127.0.0.1").warnings() == []


def _self_signed(tmp_path: Path) -> tuple[str, str]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


def _web_config(home: Home, **web: Any) -> None:
    home.config_file.write_text(
        json.dumps(
            {
                "global": {"webserver_port": 0},
                "web": {"active": True, **web},
                "backup": {"active": False},
            }
        ),
        encoding="utf-8",
    )


async def test_logger_serves_the_view_on_its_loop_and_tells_the_header(home: Home) -> None:
    _web_config(home)
    logger = runtime.build_logger(home)
    await logger.start(autorun=False)
    try:
        url = logger.web.url
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0/")
        assert LocalClient(logger).info.extra["web"] == url
        logger.stream([1.5], ["X"], dname="Dev", x=[T0])
        async with aiohttp.ClientSession() as s, s.get(url + "api/signals") as r:
            assert r.status == 200
            assert [x["name"] for x in (await r.json())["signals"]] == ["Dev.X"]
    finally:
        await logger.stop()
    assert not logger.web.running
    assert "web" not in LocalClient(logger).info.extra


async def test_unsafe_web_settings_do_not_stop_the_logger(home: Home) -> None:
    _web_config(home, host="0.0.0.0")  # no password
    logger = runtime.build_logger(home)
    await logger.start(autorun=False)
    try:
        assert not logger.web.running
        errors = [e for e in logger.events.all() if e.id == "webError"]
        assert errors and "web.password" in errors[0].text
        logger.stream([1.0], ["X"], dname="Dev")  # still logging
        assert logger.store.get("Dev.X") is not None
    finally:
        await logger.stop()


async def test_https_with_tls_cert_and_key(home: Home, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    _web_config(home, tls_cert=cert, tls_key=key, host="0.0.0.0", password="pw")
    logger = runtime.build_logger(home)
    await logger.start(autorun=False)
    try:
        assert logger.web.url.startswith("https://")
        assert logger.web.options.warnings() == []  # TLS: no plain-HTTP warning
        port = logger.web.port
        auth = {"Authorization": "Basic " + base64.b64encode(b"u:pw").decode()}
        async with aiohttp.ClientSession() as s:
            async with s.get(f"https://127.0.0.1:{port}/api/status", ssl=False, headers=auth) as r:
                assert r.status == 200 and (await r.json())["tls"] is True
            with pytest.raises(aiohttp.ClientError):
                async with s.get(f"http://127.0.0.1:{port}/api/status") as r:
                    await r.read()
    finally:
        await logger.stop()


async def test_a_stuck_browser_does_not_slow_the_logger(home: Home) -> None:
    """A client that requests big replies and never reads them costs its own socket only."""
    _web_config(home)
    logger = runtime.build_logger(home)
    await logger.start(autorun=False)
    try:
        x = T0 + np.arange(20_000) / 100
        for i in range(32):  # 32 signals x 20k samples: replies of ~1 MB
            logger.store.append("Big", f"S{i}", x, np.sin(x / 10 + i))
        port = logger.web.port
        names = "&".join(f"s=Big.S{i}" for i in range(32))
        request = f"GET /api/data?{names}&n=4000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        stuck: list[asyncio.StreamWriter] = []
        for _ in range(4):
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request * 50)  # pipelined, never read
            stuck.append(writer)
        await asyncio.sleep(0.5)
        started = time.perf_counter()
        async with aiohttp.ClientSession() as s:
            for _ in range(10):
                async with s.get(f"http://127.0.0.1:{port}/api/status") as r:
                    assert r.status == 200
        took = time.perf_counter() - started
        assert took < 5.0, f"10 status requests took {took:.2f} s beside stuck clients"
        # the loop is free: a timer fires on time
        t = time.perf_counter()
        await asyncio.sleep(0.05)
        assert time.perf_counter() - t < 0.5
        for w in stuck:
            w.close()
    finally:
        await logger.stop()


async def test_tui_header_shows_the_web_view(home: Home) -> None:
    from rtoc_tui.ui.app import build_app
    from rtoc_tui.ui.widgets.status import StatusBar

    _web_config(home)
    logger = runtime.build_logger(home)
    await logger.start(autorun=False)
    try:
        app = build_app(LocalClient(logger), logger.config)
        async with app.run_test(size=(220, 30)) as pilot:
            header = ""
            for _ in range(50):
                await pilot.pause(0.1)
                header = str(app.screen.query_one(StatusBar).render())
                if "web " in header:
                    break
            assert f"web {logger.web.url}" in header
    finally:
        await logger.stop()
