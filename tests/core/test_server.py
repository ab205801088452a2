"""The TCP server answers RTOC's request keys as RTOC 3.0 does, over real loopback sockets.

Requests go through `rtoc_jsonsocket`, which frames exactly as RTOC's jsonsocket client (one
request per connection); pipelining tests use raw asyncio streams.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from rtoc_tui import wire
from rtoc_tui.client.rtoc_jsonsocket import request
from rtoc_tui.core.logger import Logger
from rtoc_tui.server.tcp import TcpServer, attach_tcp
from rtoc_tui.server.transport import AsyncioServer

Ask = Callable[..., Awaitable[Any]]


@pytest.fixture
async def server(logger: Logger) -> AsyncIterator[TcpServer]:
    srv = TcpServer(logger, port=0)
    await srv.start()
    yield srv
    await srv.stop()
    await asyncio.to_thread(logger.devices.stop_all)


@pytest.fixture
def ask(server: TcpServer) -> Ask:
    """One RTOC-style request (own connection, blocking client in a thread)."""

    async def _ask(data: Any, privileged: bool = False, **kw: Any) -> Any:
        if privileged:  # the per-install token, as rtoc's own local clients send it
            data = {**data, "auth": server.logger.home.auth_token()}
        return await asyncio.to_thread(request, "127.0.0.1", server.port, data, **kw)

    return _ask


async def test_data_is_stored_and_the_request_echoed(ask: Ask, logger: Logger) -> None:
    msg = {
        "y": [1, 2.5],
        "sname": ["a", "b"],
        "dname": "D",
        "unit": ["V"],
        "x": [10.0, 11.0],
        "note": "kept",
    }
    assert await ask(msg) == {"error": False, "sent": True, **msg}
    a, b = logger.store.get("D.a"), logger.store.get("D.b")
    assert a is not None and b is not None
    assert a.latest() == (10.0, 1.0) and a.unit == "V"
    assert b.latest() == (11.0, 2.5) and b.unit == ""  # RTOC pads missing units with ''


async def test_many_values_in_one_request_keep_their_order(ask: Ask, logger: Logger) -> None:
    n = 300
    names = [f"s{i % 3}" for i in range(n)]
    reply = await ask(
        {
            "y": list(range(n)),
            "x": [float(i) for i in range(n)],
            "sname": names,
            "dname": "M",
            "unit": ["V"] * (n - 1) + ["mV"],
        }
    )
    assert reply["sent"] is True
    for k in range(3):
        buf = logger.store.get(f"M.s{k}")
        assert buf is not None
        x, y = buf.copy()
        assert y.tolist() == [float(v) for v in range(k, n, 3)] and x.tolist() == y.tolist()
    assert logger.store.get("M.s2").unit == "mV" and logger.store.get("M.s0").unit == "V"  # type: ignore[union-attr]
    wide = [f"w{i}" for i in range(100)]  # many names in one request
    assert (await ask({"y": list(range(100)), "sname": wide, "dname": "W"}))["sent"] is True
    assert [logger.store.get(f"W.{n}").latest()[1] for n in wide] == [float(i) for i in range(100)]  # type: ignore[union-attr]


async def test_many_values_with_odd_entries_take_the_general_path(ask: Ask, logger: Logger) -> None:
    """Over 32 values the fast path lets numpy check the types; whatever it cannot take
    must behave exactly as in a short request."""
    n = 40
    names = ["a"] * n
    bad = list(range(n - 1)) + ["not a number"]
    reply = await ask({"y": bad, "sname": names, "dname": "Odd"})
    assert reply["error"] is True and "errorText" in reply
    reply = await ask({"y": [*range(n - 1), None], "sname": names, "dname": "Odd"})
    assert reply["error"] is True
    reply = await ask({"y": [*range(n - 1), 2**70], "sname": names, "dname": "Big"})
    assert reply["sent"] is True  # beyond int64: still a number
    assert logger.store.get("Big.a").latest()[1] == float(2**70)  # type: ignore[union-attr]
    reply = await ask({"y": list(range(n)), "sname": ["a"] * (n - 1) + [7], "dname": "Name"})
    assert reply["sent"] is True  # RTOC: a name that is not text becomes 'noSignal'
    assert logger.store.get("Name.noSignal").latest()[1] == float(n - 1)  # type: ignore[union-attr]
    assert logger.store.get("Name.a").written == n - 1  # type: ignore[union-attr]
    x = [0.5] * (n - 1) + ["t"]
    assert (await ask({"y": list(range(n)), "sname": names, "x": x, "dname": "X"}))["error"]


async def test_data_path_follows_rtoc_quirks(ask: Ask, logger: Logger) -> None:
    await ask({"y": 3, "sname": "single", "dname": None})  # scalar y, text sname, no dname
    assert logger.store.get("noDevice.single") is not None
    await ask({"y": [1, 2, 3], "sname": ["one"], "dname": "Q"})  # extra values are 'Unnamed'
    unnamed = logger.store.get("Q.Unnamed")
    assert unnamed is not None and unnamed.written == 2
    await ask({"y": "a text y is an event", "dname": "Q"})
    assert logger.events.all()[-1].text == "a text y is an event"
    reply = await ask({"y": ["not a number"], "sname": ["s"], "dname": "Q"})
    assert reply["error"] is True and "errorText" in reply


async def test_plot_mode_replaces_and_reads_back(ask: Ask, logger: Logger) -> None:
    reply = await ask(
        {
            "plot": True,
            "x": [1, 2, 3],
            "y": [4, 5, 6],
            "sname": ["P"],
            "dname": "D",
            "unit": ["A", "V"],
        }
    )
    assert reply["sent"] is True
    await ask({"plot": True, "x": [7, 8], "y": [9, 10], "sname": "P", "dname": "D", "unit": "V"})
    got = await ask({"getSignal": ["D.P", "D.missing"]})
    assert got["signals"] == {"D.P": [[7.0, 8.0], [9.0, 10.0], "V"]}
    await ask({"plot": True, "y": [5, 6, 7], "sname": "idx", "dname": "D"})  # y alone: x = indexes
    assert (await ask({"getSignal": ["D.idx"]}))["signals"]["D.idx"][0] == [0.0, 1.0, 2.0]
    bad = await ask({"plot": True, "x": [1, 2], "y": [1], "sname": "P", "dname": "D"})
    assert bad["error"] is True and "differ in length" in bad["errorText"]


async def test_get_latest_true_and_list(ask: Ask, logger: Logger) -> None:
    logger.store.append("D", "a", np.array([1.0, 2.0, 3.0]), np.array([7.0, 8.0, 9.0]), "V")
    logger.store.append_one("D", "b", 5.0, -1.0, "A")
    logger.store.get_or_create("D", "empty")
    everything = (await ask({"getLatest": True}))["latest"]
    a_id = logger.store.get("D.a").id  # type: ignore[union-attr]
    assert everything == {
        "D.a": [3.0, 9.0, "V", a_id, 1.0, 3.0],
        "D.b": [5.0, -1.0, "A", 2, 5.0, 5.0],
    }
    some = (await ask({"getLatest": ["D.b", "D.empty", "nope.x"]}))["latest"]
    assert some == {"D.b": [5.0, -1.0, "A"]}


async def test_signal_lists_and_dict_form_get_signal(ask: Ask, logger: Logger) -> None:
    x = np.arange(1000.0)
    logger.store.append("D", "s", x, np.sin(x), "V")
    logger.store.append_one("E", "t", 1.0, 2.0)
    assert (await ask({"getSignalList": True}))["signalList"] == [["D", "s"], ["E", "t"]]
    everything = (await ask({"getSignal": "all"}))["signals"]
    assert set(everything) == {"D.s", "E.t"} and len(everything["D.s"][0]) == 1000
    part = (
        await ask(
            {"getSignal": {"dname": "D", "sname": "s", "xmin": 100, "xmax": 199.5, "maxN": 20}}
        )
    )["signals"]
    px, py, unit = part["D.s"]
    assert unit == "V" and 0 < len(px) <= 20 and min(px) >= 100 and max(px) <= 199.5
    assert min(py) == pytest.approx(float(np.sin(x[100:200]).min()))  # peaks survive decimation
    assert (await ask({"getSignal": {"dname": "D"}}))[
        "signals"
    ] is False  # RTOC: False without both names


async def test_dict_get_signal_asks_storage_when_there_is_one(ask: Ask, logger: Logger) -> None:
    asked: list[tuple[Any, ...]] = []

    class FakeStorage:
        def query(
            self, name: str, xmin: Any, xmax: Any, max_n: Any
        ) -> tuple[np.ndarray, np.ndarray]:
            asked.append((name, xmin, xmax, max_n))
            return np.array([1.0, 2.0]), np.array([3.0, 4.0])

    logger.storage = FakeStorage()  # type: ignore[attr-defined]
    logger.store.append_one("D", "s", 9.0, 9.0, "V")
    got = await ask({"getSignal": {"dname": "D", "sname": "s", "xmin": 0, "maxN": 50}})
    assert got["signals"] == {"D.s": [[1.0, 2.0], [3.0, 4.0], "V"]}
    assert asked == [("D.s", 0, None, 50)]
    mem = await ask({"getSignal": {"dname": "D", "sname": "s", "database": False}})
    assert mem["signals"]["D.s"][0] == [9.0] and len(asked) == 1


async def test_events_in_every_form(ask: Ask, logger: Logger) -> None:
    await ask(
        {
            "event": {
                "text": "dict form",
                "dname": "D",
                "sname": "s",
                "priority": 2,
                "id": "alarm",
                "x": 5.0,
            }
        }
    )
    await ask({"event": ["list form", "s", "D", 6.0, 1]})
    await ask({"event": "text only"})
    events = logger.events.all()
    assert [(e.text, e.priority, e.x) for e in events[:2]] == [
        ("dict form", 2, 5.0),
        ("list form", 1, 6.0),
    ]
    assert events[1].id == hashlib.sha1(b"sDlist form").hexdigest()  # RTOC's default id
    assert (events[2].dname, events[2].sname) == ("noDevice", "noName")
    listed = (await ask({"getEventList": True}))["events"]
    assert listed["1"] == ["D", "s", 1, "dict form", 5.0, None, 2, "alarm"]
    per_signal = (await ask({"getEvent": ["D.s", "D.none"]}))["events"]
    assert per_signal == {
        "D.s": [[5.0, "dict form", 2, None, "alarm"], [6.0, "list form", 1, None, events[1].id]],
        "D.none": [],
    }


async def test_get_session_matches_rtoc_layout(ask: Ask, logger: Logger) -> None:
    logger.store.append("D", "s", np.array([1.0, 2.0]), np.array([3.0, 4.0]), "V")
    logger.event("ev", dname="E", sname="only-event", x=1.5)
    session = (await ask({"getSession": True}))["session"]
    assert session["maxLength"] == logger.store.record_length
    assert session["devices"] == {"1": "D", "2": "E"}
    assert session["signals"]["1"] == [1, "s", [1.0, 2.0], [3.0, 4.0], "V"]
    (ev,) = session["events"].values()
    dev_id, sig_id = ev[0], ev[1]
    assert (
        session["devices"][str(dev_id)] == "E"
        and session["signals"][str(sig_id)][1] == "only-event"
    )
    assert ev[3:5] == ["ev", 1.5]


async def test_plugin_key_starts_reads_sets_calls_and_stops(ask: Ask, logger: Logger) -> None:
    assert (await ask({"plugin": {"Generator": {"start": True}}}, privileged=True))["plugin"] == {
        "Generator": {"start": [True, ""]}
    }
    plugins = (await ask({"getPluginList": True}))["pluginList"]
    gen = plugins["Generator"]
    assert gen["status"] is True and "setFrequency" in gen["functions"]
    assert ["gen_freq", 1.0] in gen["parameters"]
    assert plugins["VC820"] == {"functions": [], "parameters": [], "status": False}
    reply = await ask(
        {
            "plugin": {
                "Generator": {
                    "gen_freq": "get",
                    "gen_level": 2.5,
                    "get": ["gen_level", "offset"],
                    "setFrequency()": [4.0],
                    "value_at(0.25)": None,
                    "__import__('os')": None,
                    "nope()": [],
                }
            }
        },
        privileged=True,
    )
    got = reply["plugin"]["Generator"]
    assert got["gen_freq"] == 1.0 and got["gen_level"] == 2.5 and got["get"] == [2.5, 1.0]
    assert got["setFrequency()"][0] is True and got["value_at(0.25)"][0] is True
    assert got["__import__('os')"][0] is False and got["nope()"][0] is False
    assert logger.devices.get("Generator").gen_freq == 4.0  # type: ignore[union-attr]
    assert (await ask({"plugin": {"Missing": {"start": True}}}, privileged=True))["plugin"][
        "Missing"
    ]["start"][0] is False
    assert (await ask({"plugin": {"Generator": {"start": False}}}, privileged=True))["plugin"][
        "Generator"
    ]["start"] is True
    assert logger.devices.get("Generator") is None


async def test_logger_key_info_clear_resize_and_no_reboot(ask: Ask, logger: Logger) -> None:
    logger.config.telegram.token = "123:telegram-secret"
    logger.store.append_one("D", "a", 1.0, 1.0)
    logger.store.append_one("D", "b", 1.0, 1.0)
    reply = await ask(
        {"logger": {"info": None, "reboot": None, "resize": 1000, "clear": ["D.a", "D.x"]}},
        privileged=True,
    )
    out = reply["logger"]
    assert out["info"]["telegram_token"] == "********" and out["info"]["signals"] == 2
    assert "telegram-secret" not in json.dumps(reply)
    assert out["reboot"] is False and out["resize"] is True and out["clear"] == [True, False]
    assert logger.store.record_length == 1000 and logger.store.get("D.a") is None
    await ask({"logger": {"clear": "all"}}, privileged=True)
    assert len(logger.store) == 0


async def test_unknown_keys_are_echoed(ask: Ask) -> None:
    assert await ask({"whatever": [1, {"a": None}], "x": 1}) == {
        "error": False,
        "whatever": [1, {"a": None}],
        "x": 1,
    }


async def test_empty_and_non_object_requests_are_errors(ask: Ask) -> None:
    assert (await ask({}))["error"] is True
    assert (await ask([1, 2]))["error"] is True


async def read_frames(reader: asyncio.StreamReader, n: int, timeout: float = 10.0) -> list[Any]:
    out = []
    for _ in range(n):
        header = await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
        length, taglen, noncelen = wire.parse_header(header[:-1], 1 << 30)
        body = await asyncio.wait_for(reader.readexactly(taglen + noncelen + length), timeout)
        out.append(json.loads(body))
    return out


async def test_pipelined_requests_are_answered_in_order(server: TcpServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    frames = [
        {"y": [1.0], "sname": ["s"], "dname": "P"},
        {"plugin": {"Generator": {"start": True}}, "auth": server.logger.home.auth_token()},
        {"getLatest": ["P.s"]},
        {"getPluginList": True},
        {"getSignalList": True},
    ]
    writer.write(b"".join(wire.pack(json.dumps(f).encode()) for f in frames * 3))
    replies = await read_frames(reader, 15)
    expected = ["sent", "plugin", "latest", "pluginList", "signalList"] * 3
    assert [
        next(k for k in r if k in ("sent", "plugin", "latest", "pluginList", "signalList"))
        for r in replies
    ] == expected
    writer.close()
    await writer.wait_closed()


async def test_many_clients_at_once(server: TcpServer, logger: Logger) -> None:
    async def one(i: int) -> Any:
        return await asyncio.to_thread(
            request, "127.0.0.1", server.port, {"y": [i], "sname": [f"c{i}"], "dname": "Many"}
        )

    replies = await asyncio.gather(*(one(i) for i in range(40)))
    assert all(r["sent"] is True for r in replies)
    assert len([b for b in logger.store.buffers() if b.dname == "Many"]) == 40


async def test_client_count_follows_connections(server: TcpServer, logger: Logger) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(wire.pack(b'{"getSignalList": true}'))
    await read_frames(reader, 1)
    assert logger.clients == 1
    writer.close()
    await writer.wait_closed()
    for _ in range(200):
        if logger.clients == 0:
            break
        await asyncio.sleep(0.01)
    assert logger.clients == 0


def test_attach_tcp_follows_config(make_logger: Callable[..., Logger]) -> None:
    assert attach_tcp(make_logger({"tcp": {"active": False}})) is None
    lg = make_logger({"tcp": {"active": True, "port": 5999}})
    srv = attach_tcp(lg)
    assert srv is not None and srv in lg.services and srv.port == 5999


async def test_loops_without_add_reader_use_asyncio_transports(
    logger: Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(*args: Any) -> None:
        raise NotImplementedError  # as on Windows' proactor loop

    monkeypatch.setattr(asyncio.get_running_loop(), "add_reader", unsupported)
    srv = TcpServer(logger, port=0)
    await srv.start()
    try:
        assert isinstance(srv._server, AsyncioServer)
        reply = await asyncio.to_thread(request, "127.0.0.1", srv.port, {"getSignalList": True})
        assert reply == {"error": False, "signalList": [], "getSignalList": True}
    finally:
        await srv.stop()


async def test_a_quick_request_that_waits_after_all_is_still_answered(
    server: TcpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def slow_signals(ctx: Any) -> list[Any]:
        await asyncio.sleep(0.01)  # e.g. a helper that moved to a thread
        return ["waited"]

    monkeypatch.setattr(server.ops, "op_signals", slow_signals)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(wire.pack(b'{"rtoc": {"op": "signals"}}') + wire.pack(b'{"getSignalList": true}'))
    first, second = await read_frames(reader, 2)
    assert first["rtoc"] == {"id": None, "ok": True, "result": ["waited"]}
    assert second["signalList"] == []  # and order was kept
    writer.close()
    await writer.wait_closed()
