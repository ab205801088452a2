"""Nothing acknowledged is lost (issue 14): a ring never overwrites samples that are not stored,
senders faster than storage are pushed back before they are acknowledged, and poison input,
resizing, plotting, clearing and store faults cost no acknowledged data."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest
from helpers import wait_until

from rtoc_tui import wire
from rtoc_tui.core.logger import Logger
from rtoc_tui.core.plugin import LoggerPlugin
from rtoc_tui.server.tcp import TcpServer
from rtoc_tui.storage import StorageService

from .conftest import PgServer, StartFn, flush


async def read_frames(reader: asyncio.StreamReader, n: int, timeout: float = 60.0) -> list[Any]:
    out = []
    for _ in range(n):
        header = await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
        length, taglen, noncelen = wire.parse_header(header[:-1], 1 << 30)
        body = await asyncio.wait_for(reader.readexactly(taglen + noncelen + length), timeout)
        out.append(json.loads(body))
    return out


def stored_x(svc: StorageService, name: str) -> np.ndarray:
    chunks = [x for x, _ in svc.iter_samples(name)]
    return np.sort(np.concatenate(chunks)) if chunks else np.empty(0)


async def burst(port: int, requests: int, per: int, signals: int = 1) -> list[float]:
    """Pipeline `requests` data requests of `per` samples (spread over `signals` signals) on one
    connection as fast as the socket takes them; returns the x values acknowledged."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    frames = []
    for r in range(requests):
        xs = [float(r * per + i) for i in range(per)]
        names = [f"s{i % signals}" for i in range(per)]
        frames.append({"y": xs, "x": xs, "sname": names, "dname": "Burst", "unit": ["V"] * per})
    writer.write(b"".join(wire.pack(json.dumps(f).encode()) for f in frames))
    replies = await read_frames(reader, requests)
    writer.close()
    await writer.wait_closed()
    acked: list[float] = []
    for f, rep in zip(frames, replies, strict=True):
        if rep.get("sent") is True:
            acked += f["x"]
        else:
            assert rep["error"] is True and "not stored" in rep["errorText"]
    return acked


async def tcp_burst_is_stored_exactly(lg: Logger, svc: StorageService) -> None:
    srv = TcpServer(lg, port=0)
    await srv.start()
    try:
        acked = await burst(srv.port, requests=100, per=1000, signals=2)
    finally:
        await srv.stop()
    assert len(acked) == 100_000  # the client waited instead of being refused
    assert await flush(svc)
    got = np.sort(np.concatenate([stored_x(svc, "Burst.s0"), stored_x(svc, "Burst.s1")]))
    assert np.array_equal(got, np.sort(np.asarray(acked)))
    assert svc.samples_lost == 0
    assert not [e for e in lg.events.all() if e.id == "storageLost"]


async def test_a_tcp_burst_bigger_than_the_ring_is_stored_exactly(start_logger: StartFn) -> None:
    # 100,000 samples in well under a flush interval into rings of 1,000: before, all but the
    # last ring-full of each flush interval was acknowledged and then overwritten
    lg, svc = await start_logger({"global": {"recordLength": 1000}, "backup": {"intervall": 1.0}})
    await tcp_burst_is_stored_exactly(lg, svc)


async def test_clear_after_flush_keeps_the_guarantee(start_logger: StartFn) -> None:
    lg, svc = await start_logger(
        {"global": {"recordLength": 1000}, "backup": {"intervall": 1.0, "clear": True}}
    )
    await tcp_burst_is_stored_exactly(lg, svc)


async def test_a_tcp_burst_into_postgresql_is_stored_exactly(
    pg: PgServer, start_logger: StartFn
) -> None:
    lg, svc = await start_logger(
        {"postgresql": pg.config, "global": {"recordLength": 1000}, "backup": {"intervall": 1.0}}
    )
    await tcp_burst_is_stored_exactly(lg, svc)


async def test_a_driver_streaming_faster_than_the_ring_blocks_and_loses_nothing(
    start_logger: StartFn,
) -> None:
    lg, svc = await start_logger({"global": {"recordLength": 500}, "backup": {"intervall": 1.0}})
    plugin = LoggerPlugin(lg)
    plugin.setDeviceName("Fast")

    def run() -> list[bool]:
        out = [plugin.stream(float(i), "s", x=float(i)) for i in range(20_000)]
        out.append(
            plugin.stream(
                [list(map(float, range(20_000, 22_000)))],
                ["s"],
                x=[list(map(float, range(20_000, 22_000)))],
            )
        )  # one batch of four rings
        return out

    results = await asyncio.to_thread(run)
    assert all(results)
    assert await flush(svc)
    assert np.array_equal(stored_x(svc, "Fast.s"), np.arange(22_000.0))


async def test_overflow_during_an_outage_is_refused_and_reported_once(
    start_logger: StartFn, home: Any
) -> None:
    import sqlite3

    lg, svc = await start_logger({"global": {"recordLength": 100}})
    plugin = LoggerPlugin(lg)
    plugin.setDeviceName("Dev")
    srv = TcpServer(lg, port=0)
    await srv.start()
    locker = sqlite3.connect(home.data_dir / "rtoc.sqlite", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        assert plugin.stream(0.0, "s", x=0.0)
        await wait_until(lambda: svc.error is not None, what="the lock to be reported")
        results = await asyncio.to_thread(
            lambda: [plugin.stream(float(i), "s", x=float(i)) for i in range(1, 300)]
        )
        results.insert(0, True)
        assert results[:100] == [True] * 100 and not any(results[100:])
        overflow = [e for e in lg.events.all() if e.id == "storageOverflow"]
        assert len(overflow) == 1 and overflow[0].priority == 2
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(wire.pack(json.dumps({"y": [1.0], "sname": ["s"], "dname": "Dev"}).encode()))
        (reply,) = await read_frames(reader, 1)
        writer.close()
        assert reply["error"] is True and "storage is failing" in reply["errorText"]
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        await srv.stop()
    assert await flush(svc)
    assert np.array_equal(stored_x(svc, "Dev.s"), np.arange(100.0))
    assert plugin.stream(1000.0, "s", x=1000.0)  # stored again once storage caught up


@pytest.mark.parametrize("n", [1001])
async def test_a_request_larger_than_the_ring_is_refused_with_advice(
    start_logger: StartFn, n: int
) -> None:
    lg, svc = await start_logger({"global": {"recordLength": 1000}})
    srv = TcpServer(lg, port=0)
    await srv.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        xs = [float(i) for i in range(n)]
        msg = {"y": xs, "x": xs, "sname": ["s"] * n, "dname": "Big"}
        writer.write(wire.pack(json.dumps(msg).encode()))
        (reply,) = await read_frames(reader, 1)
        writer.close()
    finally:
        await srv.stop()
    assert reply["error"] is True and "at most that many" in reply["errorText"]
    assert lg.store.get("Big.s") is None or lg.store.get("Big.s").written == 0


# -- poison input (item 2) ------------------------------------------------------------------
async def ask_raw(port: int, msg: Any) -> Any:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    # ensure_ascii: "\ud800" goes as an escape; a str is sent as it is
    writer.write(wire.pack(msg.encode() if isinstance(msg, str) else json.dumps(msg).encode()))
    (reply,) = await read_frames(reader, 1)
    writer.close()
    await writer.wait_closed()
    return reply


@pytest.mark.parametrize("postgres", [False, True])
async def test_poison_input_is_refused_at_admission_and_storage_keeps_working(
    start_logger: StartFn, pg: PgServer, postgres: bool
) -> None:
    cfg: dict[str, Any] = {"postgresql": pg.config} if postgres else {}
    lg, svc = await start_logger(cfg)
    srv = TcpServer(lg, port=0)
    await srv.start()
    deep = '{"event": ["text", "s", "P", null, 0, "id", ' + "[" * 1000 + "1" + "]" * 1000 + "]}"
    try:
        bad = [
            ({"y": [1.0], "sname": ["lone\ud800"], "dname": "P"}, "signal name"),
            ({"y": [1.0], "sname": ["nul\x00"], "dname": "P"}, "NUL"),
            ({"y": [1.0] * 40, "sname": ["ok"] * 39 + ["x" * 500], "dname": "P"}, "at most"),
            ({"y": [1.0], "sname": ["s"], "dname": "P", "unit": ["V\ud800"]}, "unit"),
            (deep, "nested"),
            ({"event": {"text": "bad\ud800"}}, "event text"),
            ({"y": "an event\x00", "dname": "P"}, "NUL"),
        ]
        for msg, words in bad:
            reply = await ask_raw(srv.port, msg)
            assert reply["error"] is True and words in reply["errorText"], (msg, reply)
        assert lg.store.get("P.ok") is None  # all or nothing: the good names were not stored
        good = await ask_raw(
            srv.port, {"y": [1.0, 2.0], "x": [1.0, 2.0], "sname": ["a"] * 2, "dname": "P"}
        )
        assert good["sent"] is True
        assert await ask_raw(srv.port, {"event": ["fine", "a", "P"]})
    finally:
        await srv.stop()
    assert await flush(svc) and svc.error is None
    assert np.array_equal(stored_x(svc, "P.a"), [1.0, 2.0])
    assert any(e.text == "fine" for e in svc.events())


async def test_a_row_the_store_refuses_quarantines_only_its_signal(
    start_logger: StartFn,
) -> None:
    from rtoc_tui.core.buffer import SignalBuffer

    lg, svc = await start_logger()
    # a name that got past admission (e.g. a plugin writing the buffers itself)
    poison = SignalBuffer(999, "Dev", "lone\ud800", "", 100)
    poison.append(np.arange(3.0), np.arange(3.0))
    lg.store._signals[("Dev", "lone\ud800")] = poison
    lg.store.append("Dev", "good", np.arange(5.0), np.arange(5.0))
    lg.events.add("still stored", dname="Dev", sname="good")
    assert await flush(svc)
    await wait_until(lambda: svc.pending_samples() <= 3, what="the good signal to be stored")
    assert np.array_equal(stored_x(svc, "Dev.good"), np.arange(5.0))
    q = [e for e in lg.events.all() if e.id == "storageQuarantine"]
    assert len(q) == 1 and q[0].priority == 2 and "Dev.lone" in q[0].text
    assert svc.error is None
    lg.store.append("Dev", "good", np.arange(5.0, 8.0), np.zeros(3))
    poison.append(np.arange(3.0, 500.0), np.zeros(497))  # memory only now: the ring may wrap
    assert await flush(svc)
    assert np.array_equal(stored_x(svc, "Dev.good"), np.arange(8.0))
    assert any(e.text == "still stored" for e in svc.events())


# -- requests that destroyed data (item 3) and clear/delete (item 9) -------------------------
async def test_resize_right_after_a_big_batch_stores_the_batch_first(
    start_logger: StartFn,
) -> None:
    lg, svc = await start_logger(
        {"global": {"recordLength": 100_000}, "backup": {"intervall": 1.0}}
    )
    srv = TcpServer(lg, port=0)
    await srv.start()
    try:
        xs = list(map(float, range(50_000)))
        reply = await ask_raw(srv.port, {"y": xs, "x": xs, "sname": ["s"] * 50_000, "dname": "R"})
        assert reply["sent"] is True
        reply = await ask_raw(srv.port, {"logger": {"resize": 1}, "auth": lg.home.auth_token()})
        assert reply["logger"]["resize"] is True
    finally:
        await srv.stop()
    assert len(lg.store.get("R.s")) == 1
    assert await flush(svc)
    assert np.array_equal(stored_x(svc, "R.s"), np.arange(50_000.0))


async def test_plot_hold_off_replaces_memory_and_keeps_stored_history(
    start_logger: StartFn,
) -> None:
    lg, svc = await start_logger()
    srv = TcpServer(lg, port=0)
    await srv.start()
    try:
        xs = list(map(float, range(1000)))
        assert (await ask_raw(srv.port, {"y": xs, "x": xs, "sname": ["c"] * 1000, "dname": "P"}))[
            "sent"
        ]
        assert await flush(svc)
        curve = {
            "auth": lg.home.auth_token(),  # replacing recorded samples is a privileged request
            "plot": True,
            "x": [0.5, 1.5],
            "y": [7.0, 8.0],
            "sname": ["c"],
            "dname": "P",
            "hold": "off",
        }
        assert (await ask_raw(srv.port, curve))["sent"] is True
        shown = await ask_raw(srv.port, {"getSignal": {"dname": "P", "sname": "c"}})
        assert shown["signals"]["P.c"][0] == [0.5, 1.5]  # what is on screen: the new curve
    finally:
        await srv.stop()
    assert lg.store.get("P.c").copy()[1].tolist() == [7.0, 8.0]
    assert await flush(svc)
    stored = stored_x(svc, "P.c")
    assert len(stored) == 1002 and {0.5, 1.5} <= set(stored.tolist())


async def test_clear_and_delete_mean_the_same_in_memory_and_in_the_store(
    start_logger: StartFn, home: Any
) -> None:
    from rtoc_tui.client.local import LocalClient

    from .conftest import stop

    lg, svc = await start_logger()
    for name in ("keep", "cleared", "deleted"):
        lg.store.append("D", name, np.arange(10.0), np.ones(10))
    assert await flush(svc)
    client = LocalClient(lg)
    await client.clear_signals(["D.cleared"])
    srv = TcpServer(lg, port=0)
    await srv.start()
    try:
        reply = await ask_raw(
            srv.port, {"logger": {"clear": ["D.deleted"]}, "auth": lg.home.auth_token()}
        )
        assert reply["logger"]["clear"] == [True]
    finally:
        await srv.stop()
    lg.store.append("D", "cleared", np.arange(20.0, 22.0), np.ones(2))
    assert await flush(svc)
    assert np.array_equal(stored_x(svc, "D.cleared"), [20.0, 21.0])  # export sees the same
    assert "D.deleted" not in [s.name for s in svc.signals()]
    assert svc.samples_lost == 0 and not [e for e in lg.events.all() if e.id == "storageLost"]
    await stop(lg)
    lg2, _ = await start_logger()  # restart: the deleted signal does not come back
    assert lg2.store.get("D.deleted") is None
    assert lg2.store.get("D.cleared").copy()[0].tolist() == [20.0, 21.0]
    assert len(lg2.store.get("D.keep")) == 10


async def test_binary_append_bigger_than_the_ring_waits_piece_by_piece(
    start_logger: StartFn,
) -> None:
    lg, svc = await start_logger({"global": {"recordLength": 1000}, "backup": {"intervall": 1.0}})
    srv = TcpServer(lg, port=0)
    x = np.arange(20_000.0)
    for k in range(3):  # 60,000 samples through rings of 1,000 within about a flush interval
        xs = x + k * 20_000
        n = await srv.ops.op_append(None, "Bin.s", wire.encode_array(xs), wire.encode_array(xs))
        assert n == 20_000
    assert await flush(svc)
    assert np.array_equal(np.sort(stored_x(svc, "Bin.s")), np.arange(60_000.0))
