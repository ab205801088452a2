"""SignalBuffer: ring semantics, cursors, windows, decimation and statistics."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rtoc_tui.core.buffer import SignalBuffer


def make(cap: int = 10) -> SignalBuffer:
    return SignalBuffer(1, "Dev", "Sig", "V", cap)


def test_append_one_keeps_order_and_drops_oldest_when_full() -> None:
    b = make(5)
    for i in range(12):
        b.append_one(float(i), float(i * 10))
    x, y = b.copy()
    assert x.tolist() == [7, 8, 9, 10, 11]
    assert y.tolist() == [70, 80, 90, 100, 110]
    assert b.written == 12
    assert b.latest() == (11.0, 110.0)


def test_full_store_keeps_accepting_without_hang_or_loss_of_newest() -> None:
    # RTOC 3.0 deadlocks when a signal reaches recordLength; we keep the newest samples.
    b = make(1000)
    xs = np.arange(100_000, dtype=float)
    for start in range(0, len(xs), 333):
        chunk = xs[start : start + 333]
        b.append(chunk, chunk * 2)
    x, y = b.copy()
    assert len(x) == 1000
    assert x[0] == 99_000 and x[-1] == 99_999
    assert np.array_equal(y, x * 2)


def test_batch_larger_than_capacity_keeps_its_tail() -> None:
    b = make(4)
    b.append(np.arange(10.0), np.arange(10.0))
    assert b.copy()[0].tolist() == [6, 7, 8, 9]


def test_batch_wraps_around_the_ring() -> None:
    b = make(8)
    b.append(np.arange(6.0), np.arange(6.0))
    b.append(np.arange(6.0, 11.0), np.arange(6.0, 11.0))
    assert b.copy()[0].tolist() == [3, 4, 5, 6, 7, 8, 9, 10]


def test_growth_is_lazy_up_to_capacity() -> None:
    b = make(500_000)
    b.append_one(1.0, 1.0)
    assert b.nbytes <= 2 * 8 * 256
    b.append(np.arange(300_000.0), np.zeros(300_000))
    assert b.nbytes <= 16 * 500_000


def test_read_since_cursor_is_incremental_and_reports_missed() -> None:
    b = make(5)
    r = b.read_since(0)
    assert len(r.x) == 0 and r.cursor == 0
    b.append(np.arange(3.0), np.arange(3.0))
    r = b.read_since(0)
    assert r.x.tolist() == [0, 1, 2] and r.cursor == 3 and r.missed == 0
    b.append(np.arange(3.0, 10.0), np.arange(3.0, 10.0))
    r2 = b.read_since(r.cursor)
    assert r2.x.tolist() == [5, 6, 7, 8, 9]
    assert r2.missed == 2  # 3 and 4 dropped out of the ring before this reader saw them
    assert b.read_since(r2.cursor).x.size == 0


def test_read_since_returns_copies() -> None:
    b = make(5)
    b.append(np.arange(3.0), np.arange(3.0))
    r = b.read_since(0)
    r.y[:] = -1
    assert b.copy()[1].tolist() == [0, 1, 2]


def test_replace_and_clear_change_epoch() -> None:
    b = make(5)
    b.append(np.arange(3.0), np.arange(3.0))
    e0 = b.epoch
    b.replace(np.array([10.0, 11.0]), np.array([1.0, 2.0]))
    assert b.epoch == e0 + 1 and b.copy()[0].tolist() == [10, 11]
    b.clear()
    assert len(b) == 0 and b.epoch == e0 + 2


def test_resize_keeps_newest() -> None:
    b = make(10)
    b.append(np.arange(10.0), np.arange(10.0))
    b.resize(4)
    assert b.copy()[0].tolist() == [6, 7, 8, 9]
    b.resize(8)
    b.append(np.arange(10.0, 14.0), np.arange(10.0, 14.0))
    assert b.copy()[0].tolist() == [6, 7, 8, 9, 10, 11, 12, 13]


def test_window_clips_by_x_across_the_wrap() -> None:
    b = make(10)
    b.append(np.arange(15.0), np.arange(15.0) * 2)  # wrapped: holds 5..14
    x, y = b.window(7.0, 11.5)
    assert x.tolist() == [7, 8, 9, 10, 11]
    assert y.tolist() == [14, 16, 18, 20, 22]


def test_decimated_window_keeps_peaks() -> None:
    b = make(100_000)
    x = np.arange(100_000, dtype=float)
    y = np.zeros_like(x)
    y[12_345] = 99.0
    y[54_321] = -42.0
    b.append(x, y)
    dx, dy = b.window(None, None, n_points=400)
    assert len(dx) <= 400
    assert dy.max() == 99.0 and dy.min() == -42.0
    assert np.all(np.diff(dx) >= 0)


def test_decimation_across_wrap_matches_linear_data() -> None:
    b = make(50_000)
    rng = np.random.default_rng(3)
    x = np.arange(80_000, dtype=float)
    y = rng.normal(size=80_000)
    for s in range(0, 80_000, 7_000):
        b.append(x[s : s + 7_000], y[s : s + 7_000])
    dx, dy = b.window(None, None, 200)
    keep_y = y[-50_000:]
    assert dy.max() == keep_y.max() and dy.min() == keep_y.min()


def test_unsorted_xy_data_is_windowed_by_x() -> None:
    b = make(10)
    b.replace(np.array([3.0, 1.0, 2.0]), np.array([30.0, 10.0, 20.0]))
    x, y = b.window(1.5, 3.0)
    assert x.tolist() == [2, 3] and y.tolist() == [20, 30]


def test_stats_integral_is_energy_for_power() -> None:
    b = SignalBuffer(1, "Otii", "Power", "W", 1000)
    t = np.linspace(0.0, 10.0, 1001)[:1000]
    b.append(t, np.full(len(t), 2.0))  # 2 W for ~10 s
    st = b.stats(0.0, 5.0)
    assert st is not None
    assert st.count == 501
    assert st.mean == pytest.approx(2.0)
    assert st.integral == pytest.approx(10.0)  # J
    assert st.min == st.max == 2.0
    assert b.stats(100.0, 200.0) is None


def test_concurrent_writers_lose_nothing() -> None:
    b = make(1_000_000)

    def writer(k: int) -> None:
        for i in range(20_000):
            b.append_one(float(k * 100_000 + i), 1.0)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(b) == 80_000 == b.written
    assert b.copy()[1].sum() == 80_000


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        make(0)
