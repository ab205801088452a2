"""rtoc_tui.core.scriptlib: RTOC's scriptLibrary in numpy."""

from __future__ import annotations

import numpy as np
import pytest

from rtoc_tui.core import scriptlib as rtoc


def test_lsfit_linear_and_quad_give_rtoc_parameter_order() -> None:
    x = np.linspace(0, 10, 50)
    xs, ys, params = rtoc.lsfit(x, 3 + 2 * x)
    assert params == pytest.approx([3, 2])
    assert len(xs) == 50 and ys[-1] == pytest.approx(23)
    _, _, params = rtoc.lsfit(x, 1 - x + 0.5 * x * x, func="quad", n=10)
    assert params == pytest.approx([1, -1, 0.5], abs=1e-9)


def test_lsfit_custom_function_levenberg_marquardt() -> None:
    x = np.linspace(0, 5, 200)
    y = 4.0 * np.exp(-x / 1.5) + 0.5

    def model(t, a, tau, c):
        return a * np.exp(-t / tau) + c

    _, fit, params = rtoc.lsfit(x, y, func=model, x0=[1.0, 1.0, 0.0])
    assert params == pytest.approx([4.0, 1.5, 0.5], rel=1e-5)
    assert fit == pytest.approx(y, abs=1e-5)


def test_rtoc_self_argument_is_accepted() -> None:
    class FakePlugin:
        pass

    x, y = np.arange(5.0), np.arange(5.0) * 2
    assert rtoc.resample(FakePlugin(), x, y, 9)[1][-1] == pytest.approx(8)
    assert rtoc.resample(None, x, y, n=3)[0].tolist() == [0, 2, 4]
    assert rtoc.lsfit(None, x, y)[2] == pytest.approx([0, 2], abs=1e-12)


def test_resample_and_fourier() -> None:
    x = np.arange(64.0)
    y = np.sin(2 * np.pi * x / 16)
    xs, ys = rtoc.resample(x, y, n=127)
    assert (
        xs[0] == 0 and xs[-1] == 63 and ys[2] == pytest.approx(np.sin(2 * np.pi * 1 / 16), abs=1e-2)
    )
    xf, yf = rtoc.resampleFourier(x, y, 128)
    assert len(yf) == 128
    assert yf == pytest.approx(np.sin(2 * np.pi * xf / 16), abs=1e-9)  # band-limited: exact


def test_combine_both_forms_and_overlap() -> None:
    a = (np.array([0.0, 10.0]), np.array([0.0, 10.0]))
    b = (np.array([5.0, 15.0]), np.array([1.0, 1.0]))
    x, (ya, yb) = rtoc.combine([a, b], n=6)
    assert x.tolist() == [5, 6, 7, 8, 9, 10]
    assert ya.tolist() == [5, 6, 7, 8, 9, 10] and yb.tolist() == [1] * 6
    x2, ys2 = rtoc.combine([a[0], a[1], b[0], b[1]], n=6)  # RTOC's flat form
    assert x2.tolist() == x.tolist() and ys2[0].tolist() == ya.tolist()
    with pytest.raises(ValueError, match="overlap"):
        rtoc.combine([a, (np.array([20.0, 30.0]), np.array([1.0, 1.0]))])


def test_running_mean_mean_and_derivatives() -> None:
    x = np.arange(10.0)
    y = x * 3
    rx, ry = rtoc.runningMean(x, y, n=3)
    assert ry.tolist() == pytest.approx((y[1:-1]).tolist())
    assert rx.tolist() == x[1:-1].tolist()
    assert rtoc.mean(x, y) == pytest.approx(13.5)
    assert rtoc.mean(x, y, n=2) == pytest.approx((24 + 27) / 2)
    assert rtoc.d(x, y) == pytest.approx(3)
    assert rtoc.d([0, 0], [1, 2]) == float("-inf")
    assert rtoc.d([1], [1]) == 0
    dx, dy = rtoc.diff(x, y)
    assert len(dx) == 9 and dy == pytest.approx([3] * 9)


def test_pid_and_norm_and_correlate() -> None:
    x, y = [0.0, 1.0], [1.0, 2.0]
    assert rtoc.PID(x, y, 5, kp=2) == pytest.approx(-6)
    control, i = rtoc.PID(x, y, 5, kp=1, ki=0.5, kd=0, initI=1.0)
    assert i == pytest.approx(-2) and control == pytest.approx(-3 + 0.5 * -2)
    _, n = rtoc.norm([0, 1, 2], [2.0, 4.0, 6.0], max=10, min=-10)
    assert n.tolist() == [-10, 0, 10]
    t = np.arange(100.0)
    s = np.sin(t / 5)
    lags, corr = rtoc.correlate(t, s, t, s, mode="full")
    assert len(corr) == 199 and lags[np.argmax(corr)] == pytest.approx(0)


def test_forward_euler_and_predict() -> None:
    t, u = rtoc.forwardEuler(None, None, lambda u, t: -u, 1.0, 1000, 1.0)
    assert u[-1] == pytest.approx(np.exp(-1), rel=1e-3) and t[-1] == pytest.approx(1.0)
    assert rtoc.predict([1.0, 2.0, 3.0], [10.0, 20.0]) == pytest.approx(1 + 2 * 20 + 3 * 10)
