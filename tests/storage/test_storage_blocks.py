"""Block encoding, summaries, range reduction, resampling and compaction (real SQLite files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rtoc_tui.decimate import decimate_minmax
from rtoc_tui.storage import SignalWrite, SqliteEngine, WriteBatch
from rtoc_tui.storage import blocks as B


def test_encode_roundtrip_and_summary() -> None:
    x = np.arange(1000, dtype=float)
    y = np.sin(x)
    blk = B.encode_block(x, y)
    assert np.array_equal(B.decode(blk.x), x) and np.array_equal(B.decode(blk.y), y)
    assert (blk.xmin, blk.xmax, blk.n) == (0.0, 999.0, 1000)
    summ = B.decode_summaries([blk.summary])
    assert summ.shape == (-(-1000 // B.SUMMARY_CHUNK), 4)
    assert summ[0, 0] == 0.0 and summ[-1, 1] == 999.0
    assert summ[:, 2].min() == y.min() and summ[:, 3].max() == y.max()


def test_summary_ignores_nan_and_sorts_xy_data() -> None:
    x = np.array([3.0, 1.0, 2.0])
    y = np.array([np.nan, 5.0, -1.0])
    blk = B.encode_block(x, y)
    assert np.array_equal(B.decode(blk.x), x)  # stored in the order given
    assert (blk.xmin, blk.xmax, blk.ymin, blk.ymax) == (1.0, 3.0, -1.0, 5.0)


def test_reduce_range_raw_path_equals_memory_decimation() -> None:
    rng = np.random.default_rng(1)
    x = np.arange(20_000, dtype=float)
    y = rng.normal(size=len(x))
    blocks = [B.encode_block(x[i : i + 3000], y[i : i + 3000]) for i in range(0, len(x), 3000)]
    rows = [
        B.BlockRow(i, b.xmin, b.xmax, b.n, b.ymin, b.ymax, b.summary) for i, b in enumerate(blocks)
    ]
    data = {i: (B.decode(b.x), B.decode(b.y)) for i, b in enumerate(blocks)}
    rx, ry = B.reduce_range(rows, lambda ids: [data[i] for i in ids], [], 100.0, 15_000.0, 400)
    ex, ey = decimate_minmax([(x[100:15001], y[100:15001])], 400)
    assert np.array_equal(rx, ex) and np.array_equal(ry, ey)


def test_reduce_range_summary_path_keeps_extremes() -> None:
    n = 2_000_000
    x = np.arange(n, dtype=float)
    y = np.zeros(n)
    y[123_457] = 9.0  # one-sample peaks must survive a 1,000-point view
    y[1_777_777] = -7.0
    blocks = [B.encode_block(x[i : i + 10_000], y[i : i + 10_000]) for i in range(0, n, 10_000)]
    rows = [
        B.BlockRow(i, b.xmin, b.xmax, b.n, b.ymin, b.ymax, b.summary) for i, b in enumerate(blocks)
    ]
    fetched: list[int] = []

    def fetch(ids: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        fetched.extend(ids)
        return [(B.decode(blocks[i].x), B.decode(blocks[i].y)) for i in ids]

    tail = (np.arange(n, n + 500, dtype=float), np.full(500, 3.0))  # unflushed memory
    rx, ry = B.reduce_range(rows, fetch, [tail], 50_000.5, float(n + 1000), 1000)
    assert len(rx) <= 1000
    assert ry.max() == 9.0 and ry.min() == -7.0 and 3.0 in ry
    assert rx.min() >= 50_000.5 and rx.max() == n + 499
    assert fetched == [5]  # only the block cut by the range start is read sample by sample
    peak_x = rx[np.argmax(ry)]
    assert abs(peak_x - 123_457) <= 2 * (n / 500)  # within a bucket of the true position


def test_resample_continues_across_chunks() -> None:
    x = np.linspace(0.05, 2.95, 30)
    y = 2 * x
    a, b, prev = B.resample(x[:13], y[:13], 10.0, None)
    c, d, _ = B.resample(x[13:], y[13:], 10.0, prev)
    xs = np.concatenate([a, c])
    assert np.allclose(np.diff(xs), 0.1)  # one grid, no gap or duplicate at the chunk border
    assert np.allclose(np.concatenate([b, d]), 2 * xs)
    xy = np.array([2.0, 1.0])
    assert B.resample(xy, xy, 10.0, None)[0] is xy  # XY data is stored as it is


def test_compaction_merges_small_blocks(tmp_path: Path) -> None:
    eng = SqliteEngine(tmp_path / "c.sqlite")
    eng.open()
    for i in range(40):  # a slow signal: one sample per flush
        eng.write(
            WriteBatch(
                signals=[SignalWrite("D", "slow", "", np.array([float(i)]), np.array([float(i)]))]
            )
        )
    before = eng._read("SELECT COUNT(*) FROM rtoc_blocks")[0][0]
    removed = eng.compact("D", "slow")
    after = eng._read("SELECT COUNT(*), SUM(n), MAX(level) FROM rtoc_blocks")[0]
    assert (before, removed) == (40, 30)
    assert after == (10, 40, 1)  # two level-1 blocks of 16 plus 8 single ones
    sig = eng.find("D.slow")
    assert sig is not None
    x, y = eng.query(sig.id, None, None, None)
    assert np.array_equal(x, np.arange(40.0)) and np.array_equal(y, x)
    assert np.array_equal(eng.tail(sig.id, 5)[0], np.arange(35.0, 40.0))
    eng.close()


def test_bytes_per_sample_on_disk(tmp_path: Path) -> None:
    eng = SqliteEngine(tmp_path / "b.sqlite")
    eng.open()
    x0 = 1.7e9
    for k in range(30):  # 30 flushes of 20 signals x 5,000 samples
        batch = WriteBatch()
        for s in range(20):
            x = x0 + (k * 5000 + np.arange(5000)) * 1e-3
            batch.signals.append(SignalWrite("D", f"s{s}", "V", x, np.cos(x)))
        eng.write(batch)
    eng._w.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = eng.size_bytes()
    eng.close()
    assert size is not None and size / 3_000_000 <= 20.0
