"""Shutdown with a hung driver (issue 14, item 4): stop accepting first, abandon the hung driver,
run the final flush with its own budget: everything acknowledged is stored."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time

import numpy as np

from rtoc_tui import wire
from rtoc_tui.config.home import Home
from rtoc_tui.core.logger import Logger
from rtoc_tui.runtime import stop_logger
from rtoc_tui.server.tcp import TcpServer
from rtoc_tui.storage import attach_storage

from .conftest import write_cfg

HUNG = """
import threading
from rtoc_tui.core.plugin import LoggerPlugin

RELEASE = threading.Event()


class Plugin(LoggerPlugin):
    def __init__(self, logger=None):
        super().__init__(logger)
        self.setDeviceName("Hung")
        self.setPerpetualTimer(self.tick, samplerate=50)
        self.start()

    def tick(self):
        self.stream(1.0, "alive")
        RELEASE.wait(60)  # a device that stopped answering: the timer never returns
"""


async def test_sigterm_with_a_hung_driver_still_stores_everything_acknowledged(
    home: Home,
) -> None:
    write_cfg(home, {"backup": {"intervall": 1.0}, "global": {"recordLength": 100_000}})
    (home.devices_dir / "Hung.py").write_text(HUNG, encoding="utf-8")
    lg = Logger.from_home(home)
    svc = attach_storage(lg)
    assert svc is not None
    srv = TcpServer(lg, port=0)
    lg.add_service(srv)
    await lg.start(autorun=False)
    await asyncio.to_thread(lg.devices.start, "Hung")
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    acked: list[float] = []
    last_ack = [0.0]

    async def send() -> None:
        i = 0
        try:
            while True:
                xs = [float(i + k) for k in range(250)]
                msg = {"y": xs, "x": xs, "sname": ["s"] * 250, "dname": "T"}
                writer.write(wire.pack(json.dumps(msg).encode()))
                header = await reader.readuntil(b"\n")
                length, tl, nl = wire.parse_header(header[:-1], 1 << 30)
                reply = json.loads(await reader.readexactly(tl + nl + length))
                if reply.get("sent") is True:
                    acked.extend(xs)
                    last_ack[0] = time.time()
                i += 250
        except (asyncio.IncompleteReadError, ConnectionError):
            return

    sender = asyncio.create_task(send())
    await asyncio.sleep(0.5)
    t0 = time.monotonic()
    ok = await stop_logger(lg, timeout_s=1.0)
    took = time.monotonic() - t0
    await asyncio.wait_for(sender, 5)
    writer.close()
    assert ok and took < 10
    assert len(acked) > 1000
    abandoned = [e for e in lg.events.all() if e.id == "deviceAbandoned"]
    assert len(abandoned) == 1 and "Hung" in abandoned[0].text
    assert last_ack[0] < abandoned[0].x  # the server stopped acknowledging before the drivers
    # a fresh logger on the same folder finds every acknowledged sample
    lg2 = Logger.from_home(home)
    svc2 = attach_storage(lg2)
    assert svc2 is not None
    await svc2.start()
    try:
        stored = np.concatenate([x for x, _ in svc2.iter_samples("T.s")])
        assert np.array_equal(np.sort(stored), np.asarray(acked))
    finally:
        await svc2.stop()
    for mod in list(sys.modules.values()):  # the abandoned daemon thread: release it anyway
        ev = getattr(mod, "RELEASE", None)
        if isinstance(ev, threading.Event):
            ev.set()
