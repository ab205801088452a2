"""A locked, corrupt or full SQLite store: reported (priority 2 + log), the logger keeps running
in memory, and writing resumes without loss once the store is back."""

from __future__ import annotations

import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import wait_until

from rtoc_tui.config.home import Home
from rtoc_tui.core.buffer import BufferFull
from rtoc_tui.core.logger import Logger
from rtoc_tui.storage import StorageService

from .conftest import StartFn


def errors(lg: Logger) -> list[str]:
    return [e.text for e in lg.events.all() if e.priority == 2 and e.id == "storageError"]


def resumed(lg: Logger) -> bool:
    return any(e.id == "storageResumed" for e in lg.events.all())


def stored(svc: StorageService, name: str) -> np.ndarray:
    return svc.query(name, None, None, None)[0]


async def feed(lg: Logger, start: int, n: int) -> None:
    lg.store.append("Dev", "U", np.arange(start, start + n, dtype=float), np.ones(n), "V")


async def test_locked_database_is_reported_and_resumes(
    start_logger: StartFn, home: Home, caplog
) -> None:
    lg, svc = await start_logger()
    await feed(lg, 0, 100)
    await wait_until(lambda: svc.pending_samples() == 0, what="first flush")
    locker = sqlite3.connect(home.data_dir / "rtoc.sqlite", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        await feed(lg, 100, 100)
        await wait_until(lambda: errors(lg), what="the lock to be reported")
        assert "locked" in errors(lg)[0]
        assert "locked" in lg.status().storage and "ERROR" in lg.status().storage
        assert any("locked" in r.message and r.levelname == "ERROR" for r in caplog.records)
        await feed(lg, 200, 100)  # the logger keeps taking data
        assert len(lg.store.get("Dev.U")) == 300
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    svc.flush_now()  # skip the back-off wait
    await wait_until(
        lambda: svc.error is None and svc.pending_samples() == 0, what="writing to resume"
    )
    assert resumed(lg)
    assert np.array_equal(stored(svc, "Dev.U"), np.arange(300.0))
    assert len(errors(lg)) == 1  # reported once, not on every retry


async def test_a_corrupt_file_is_moved_aside_and_a_new_database_started(
    start_logger: StartFn, home: Home
) -> None:
    db = home.data_dir / "rtoc.sqlite"
    db.parent.mkdir(parents=True, exist_ok=True)
    garbage = b"this is not an SQLite database, just garbage " * 200
    db.write_bytes(garbage)
    lg, svc = await start_logger()  # starting must not fail
    corrupt = [e for e in lg.events.all() if e.id == "storageCorrupt"]
    assert len(corrupt) == 1 and corrupt[0].priority == 2 and "corrupt" in corrupt[0].text
    (aside,) = home.data_dir.glob("rtoc.sqlite.corrupt-*")
    assert aside.read_bytes() == garbage  # kept for the user, untouched
    assert str(aside) in corrupt[0].text
    await feed(lg, 0, 500)
    await wait_until(
        lambda: svc.error is None and svc.pending_samples() == 0, 60, "writing to resume"
    )
    assert np.array_equal(stored(svc, "Dev.U"), np.arange(500.0))


async def test_a_deleted_database_file_is_noticed_and_memory_stored_again(
    start_logger: StartFn, home: Home
) -> None:
    from .conftest import stop

    lg, svc = await start_logger()
    await feed(lg, 0, 100)
    await wait_until(lambda: svc.pending_samples() == 0, what="first flush")
    for suffix in ("", "-wal", "-shm"):
        (home.data_dir / f"rtoc.sqlite{suffix}").unlink(missing_ok=True)
    await feed(lg, 100, 50)
    await wait_until(
        lambda: any(e.id == "storageReplaced" for e in lg.events.all()), what="the event"
    )
    await wait_until(lambda: svc.pending_samples() == 0, what="the new file to be written")
    assert (home.data_dir / "rtoc.sqlite").exists()
    await stop(lg)
    lg2, svc2 = await start_logger()  # after a restart everything in memory then is there
    assert np.array_equal(stored(svc2, "Dev.U"), np.arange(150.0))
    assert any(e.id == "storageReplaced" for e in svc2.events())


def _mount_tmpfs(path: Path, size: str) -> bool:
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    return r.returncode == 0


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[tuple[Path, bool]]:
    """(folder, is a real 1 MB tmpfs). Without mount rights the test caps SQLite's page count instead."""
    d = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    d.mkdir()
    real = _mount_tmpfs(d, "1m")
    try:
        yield d, real
    finally:
        if real:
            subprocess.run(["umount", "-l", str(d)], check=False)


async def test_full_disk_is_reported_and_resumes_when_space_returns(
    start_logger: StartFn, tiny_disk: tuple[Path, bool]
) -> None:
    folder, real = tiny_disk
    lg, svc = await start_logger(
        {"backup": {"path": str(folder)}, "global": {"recordLength": 2_000_000}}
    )
    if not real:
        svc.engine.pragmas["max_page_count"] = 64  # type: ignore[attr-defined]  # 1 MB at 16 KB pages
        svc.engine.reset()
    total = 0
    while not errors(lg):  # fill the store until it fails
        await feed(lg, total, 20_000)
        total += 20_000
        await wait_until(
            lambda: svc.pending_samples() == 0 or bool(errors(lg)), what="flush or failure"
        )
        assert total < 2_000_000, "the store never filled up"
    assert "disk full" in errors(lg)[0]
    await feed(lg, total, 1000)  # still ingesting in memory
    total += 1000
    assert lg.store.get("Dev.U").written == total
    if real:
        subprocess.run(["mount", "-o", "remount,size=256m", str(folder)], check=True)
    else:
        svc.engine.pragmas.pop("max_page_count")  # type: ignore[attr-defined]
    svc.flush_now()
    await wait_until(
        lambda: svc.error is None and svc.pending_samples() == 0, 60, "writing to resume"
    )
    assert np.array_equal(stored(svc, "Dev.U"), np.arange(float(total)))
    assert svc.samples_lost == 0


async def test_an_outage_refuses_new_samples_instead_of_dropping_stored_ones(
    start_logger: StartFn, home: Home
) -> None:
    lg, svc = await start_logger({"global": {"recordLength": 100}})
    await feed(lg, 0, 50)
    await wait_until(lambda: svc.pending_samples() == 0, what="first flush")
    locker = sqlite3.connect(home.data_dir / "rtoc.sqlite", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        await feed(lg, 50, 100)  # fills the ring with unstored samples (50 stored ones go)
        await wait_until(lambda: errors(lg), what="the lock to be reported")
        with pytest.raises(BufferFull, match="waiting to be stored"):
            await feed(lg, 150, 1)  # would overwrite an unstored sample: refused, not dropped
        assert lg.store.get("Dev.U").written == 150
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    svc.flush_now()
    await wait_until(
        lambda: svc.error is None and svc.pending_samples() == 0, what="writing to resume"
    )
    assert not [e for e in lg.events.all() if e.id == "storageLost"]
    assert svc.samples_lost == 0
    assert np.array_equal(stored(svc, "Dev.U"), np.arange(150.0))
    await feed(lg, 150, 100)  # room again once stored
