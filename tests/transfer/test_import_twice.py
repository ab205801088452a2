"""Importing the same file twice does not store its samples twice (issues 13 item 5, 16 item 13)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtoc_tui.storage import SqliteEngine, attach_storage
from rtoc_tui.storage.sqlite import sqlite_path
from rtoc_tui.transfer.imported import import_into_engine, import_into_logger
from rtoc_tui.transfer.model import Imported, ImportedSignal


def data(y_last: float = 4.0) -> Imported:
    x = np.array([1.0, 2.0, 3.0])
    return Imported([ImportedSignal("Lab", "T", "°C", x, np.array([2.0, 3.0, y_last]))])


def test_into_the_store_twice(tmp_path: Path) -> None:
    engine = SqliteEngine(sqlite_path(tmp_path))
    engine.open()
    try:
        first = import_into_engine(engine, data())
        again = import_into_engine(engine, data())
        assert first.samples == 3 and again.samples == 0
        changed = import_into_engine(engine, data(y_last=5.0))  # a new value at x=3 is kept
        assert changed.samples == 1
        sig = engine.find("Lab.T")
        assert sig is not None
        x, y = engine.query(sig.id, None, None, None)
        assert sorted(zip(x.tolist(), y.tolist(), strict=True)) == [
            (1.0, 2.0), (2.0, 3.0), (3.0, 4.0), (3.0, 5.0)
        ]  # fmt: skip
    finally:
        engine.close()


async def test_into_a_logger_twice_with_and_without_storage(make_logger) -> None:  # type: ignore[no-untyped-def]
    logger = make_logger()
    assert import_into_logger(logger, data()).samples == 3
    assert import_into_logger(logger, data()).samples == 0
    assert len(logger.store.get("Lab.T")) == 3
    stored = make_logger({"backup": {"active": True}})
    svc = attach_storage(stored)
    assert svc is not None
    await stored.start(autorun=False)
    try:
        assert import_into_logger(stored, data()).samples == 3
        svc.flush_now()
        assert import_into_logger(stored, data()).samples == 0
    finally:
        await stored.stop()
