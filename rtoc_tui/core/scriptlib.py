"""RTOC's script library (`rtoc` in scripts, `self.rtoc` in plugins), in numpy only.

The functions and argument orders are RTOC's `RTLogger.scriptLibrary`. Differences, on purpose:
- scipy is not a dependency: `lsfit` fits 'linear'/'quad' exactly (np.polyfit) and any other
  function with a small Levenberg-Marquardt solver; `resampleFourier` uses numpy's FFT.
- RTOC passed the logger as a first `self` argument to lsfit, resample, resampleFourier and
  combine (scripts never wrote it). It is accepted and ignored, so plugin calls such as
  `self.rtoc.resample(self, x, y)` keep working. `n=None` means "as many points as the input"
  (RTOC used recordLength, 500000 by default).
- RTOC bugs are not copied: `mean` includes the newest sample, `norm` maps [oldMin, oldMax]
  onto [min, max], `combine` takes [[x, y], ...] as documented (and RTOC's flat [x1, y1, x2,
  y2, ...] form), `correlate` returns lags in x units.
- RTOC's `estimate` used statsmodels' AR model (maxlag 6) and `PT2_estimation` never returned
  its result; both are numpy least squares here and return the n forecast points. `CCN` was a
  keras demo on a fixed toy dataset that ignored its input: it raises and says so.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "CCN",
    "PID",
    "PT2_estimation",
    "combine",
    "correlate",
    "d",
    "diff",
    "estimate",
    "forwardEuler",
    "lsfit",
    "mean",
    "norm",
    "predict",
    "resample",
    "resampleFourier",
    "runningMean",
]

F = TypeVar("F", bound=Callable[..., Any])


def _accepts_rtoc_self(fn: F) -> F:
    """Drop RTOC's leading `self` argument (None or a logger/plugin object) when given."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if len(args) >= 2 and (args[0] is None or not _is_data(args[0])):
            args = args[1:]
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _is_data(value: Any) -> bool:
    return isinstance(value, (np.ndarray, Sequence, range)) or hasattr(value, "__array__")


def _xy(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    xa = np.asarray(x, dtype=float).reshape(-1)
    ya = np.asarray(y, dtype=float).reshape(-1)
    if len(xa) != len(ya):
        raise ValueError(f"x and y differ in length ({len(xa)} != {len(ya)})")
    return xa, ya


def _curve_fit(
    func: Callable[..., Any], x: np.ndarray, y: np.ndarray, p0: np.ndarray, max_iter: int = 200
) -> np.ndarray:
    """Levenberg-Marquardt least squares with a forward-difference Jacobian."""
    p = np.asarray(p0, dtype=float).copy()

    def residual(params: np.ndarray) -> np.ndarray:
        return y - np.asarray(func(x, *params), dtype=float)

    r = residual(p)
    cost = float(r @ r)
    lam = 1e-3
    eps = np.sqrt(np.finfo(float).eps)
    for _ in range(max_iter):
        jac = np.empty((len(x), len(p)))
        f0 = y - r
        for k in range(len(p)):
            h = eps * max(1.0, abs(p[k]))
            pk = p.copy()
            pk[k] += h
            jac[:, k] = (np.asarray(func(x, *pk), dtype=float) - f0) / h
        a = jac.T @ jac
        g = jac.T @ r
        improved = converged = False
        while lam < 1e12:
            damp = np.diag(np.where(np.diag(a) > 0, np.diag(a), 1.0)) * lam
            try:
                step = np.linalg.solve(a + damp, g)
            except np.linalg.LinAlgError:
                lam *= 10
                continue
            r_new = residual(p + step)
            cost_new = float(r_new @ r_new)
            if np.isfinite(cost_new) and cost_new <= cost:
                p = p + step
                converged = cost - cost_new <= 1e-12 * max(cost, 1e-300)
                r, cost = r_new, cost_new
                lam = max(lam / 10, 1e-12)
                improved = True
                break
            lam *= 10
        if not improved or converged:
            break
    return p


@_accepts_rtoc_self
def lsfit(
    x: Any, y: Any, func: str | Callable[..., Any] = "linear", x0: Any = None, n: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares fit of func ('linear': a+b*x, 'quad': a+b*x+c*x², or f(x, *params)).

    Returns (x, y, params): n x values spanning the input, the fitted y values and the params.
    """
    xa, ya = _xy(x, y)
    n = len(xa) if n is None else int(n)
    if isinstance(func, str):
        degree = {"linear": 1, "quad": 2}.get(func)
        if degree is None:
            raise ValueError(f"func must be 'linear', 'quad' or a function, not {func!r}")
        params = np.polyfit(xa, ya, degree)[::-1].copy()  # RTOC's order: a, b(, c)

        def function(xv: Any, *p: float) -> Any:
            return sum(c * xv**i for i, c in enumerate(p))

    else:
        function = func
        if x0 is None:
            count = len(inspect.signature(func).parameters) - 1
            x0 = np.ones(count)
        params = _curve_fit(func, xa, ya, np.asarray(x0, dtype=float))
    xs = np.linspace(xa.min(), xa.max(), n)
    ys = np.asarray(function(xs, *params), dtype=float) * np.ones_like(xs)
    return xs, ys, params


@_accepts_rtoc_self
def resample(x: Any, y: Any, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation onto n evenly spaced x values from x[0] to x[-1]."""
    xa, ya = _xy(x, y)
    n = len(xa) if n is None else int(n)
    order = np.argsort(xa, kind="stable")
    xs = np.linspace(xa[0], xa[-1], n)
    return xs, np.interp(xs, xa[order], ya[order])


@_accepts_rtoc_self
def resampleFourier(x: Any, y: Any, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fourier resampling of evenly sampled data to n samples (like scipy.signal.resample)."""
    xa, ya = _xy(x, y)
    m = len(ya)
    n = m if n is None else int(n)
    if m < 2 or n < 1:
        raise ValueError("resampleFourier needs at least 2 samples and n >= 1")
    spec = np.fft.rfft(ya)
    out = np.zeros(n // 2 + 1, dtype=complex)
    k = min(len(spec), len(out))
    out[:k] = spec[:k]
    ys = np.fft.irfft(out, n) * (n / m)
    dx = (xa[-1] - xa[0]) / (m - 1)
    xs = xa[0] + np.arange(n) * (dx * m / n)
    return xs, ys


def _pairs(signals: Sequence[Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    def is_pair(item: Any) -> bool:
        if isinstance(item, np.ndarray) or not hasattr(item, "__len__") or len(item) != 2:
            return False
        return all(hasattr(v, "__len__") for v in item)

    items = list(signals)
    if items and all(is_pair(s) for s in items):
        return [_xy(s[0], s[1]) for s in items]
    if len(items) % 2:
        raise ValueError("combine takes [[x, y], ...] or [x1, y1, x2, y2, ...]")
    return [_xy(items[i], items[i + 1]) for i in range(0, len(items), 2)]


@_accepts_rtoc_self
def combine(signals: Sequence[Any], n: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Interpolate several signals onto one shared x axis (their overlapping x range).

    Returns (x, [y1, y2, ...]); n defaults to the longest signal's length.
    """
    pairs = _pairs(signals)
    if not pairs:
        raise ValueError("combine needs at least one signal")
    if any(len(px) == 0 for px, _ in pairs):
        raise ValueError("combine: a signal has no samples")
    lo = max(float(px.min()) for px, _ in pairs)
    hi = min(float(px.max()) for px, _ in pairs)
    if lo > hi:
        raise ValueError("combine: the signals' x ranges do not overlap")
    n = max(len(px) for px, _ in pairs) if n is None else int(n)
    xs = np.linspace(lo, hi, n)
    ys = []
    for px, py in pairs:
        order = np.argsort(px, kind="stable")
        ys.append(np.interp(xs, px[order], py[order]))
    return xs, ys


def runningMean(x: Any, y: Any, n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Moving average over n samples (full windows only), x taken at each window's centre."""
    xa, ya = _xy(x, y)
    n = int(n)
    if n < 1:
        raise ValueError("n must be at least 1")
    if len(ya) < n:
        return np.empty(0), np.empty(0)
    means = np.convolve(ya, np.ones(n) / n, mode="valid")
    first = (n - 1) // 2
    return xa[first : first + len(means)], means


def mean(x: Any, y: Any, n: int | None = None) -> float:
    """Mean of the newest n y values (all of them when n is None)."""
    _xa, ya = _xy(x, y)
    if len(ya) == 0:
        raise ValueError("mean of an empty signal")
    if n is not None:
        ya = ya[-int(n) :]
    return float(ya.mean())


def d(x: Any, y: Any) -> float:
    """Derivative dy/dx of the newest two samples (0 with fewer than two; ±inf when dx == 0)."""
    if len(y) < 2:
        return 0.0
    dy = float(y[-2]) - float(y[-1])
    dx = float(x[-2]) - float(x[-1])
    if dx == 0:
        return float("inf") if dy > 0 else float("-inf") if dy < 0 else 0.0
    return dy / dx


def diff(x: Any, y: Any) -> tuple[Any, Any]:
    """Derivative of the whole signal: (x[:-1], dy/dx)."""
    if len(y) < 2 or len(x) != len(y):
        return [0], [0]
    xa, ya = _xy(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        return xa[:-1], np.diff(ya) / np.diff(xa)


def PID(
    x: Any,
    y: Any,
    desvalue: float,
    kp: float = 1,
    ki: float = 0,
    kd: float = 0,
    initI: float | None = None,
) -> Any:
    """RTOC's PID step on the newest value: kp*e + kd*d(x, y) (+ ki*I); e = y[-1] - desvalue.

    With initI (the I value returned by the previous call) returns (control, newI).
    """
    error = float(y[-1]) - desvalue
    control = kp * error + d(x, y) * kd
    if initI is None:
        return control
    new_i = initI + error
    return control + ki * new_i, new_i


def norm(
    x: Any,
    y: Any,
    max: float = 1,
    min: float = 0,
    oldMin: float | None = None,
    oldMax: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Map y from [oldMin, oldMax] (default: its own range) onto [min, max]."""
    xa, ya = _xy(x, y)
    lo = float(ya.min()) if oldMin is None else float(oldMin)
    hi = float(ya.max()) if oldMax is None else float(oldMax)
    span = hi - lo
    if span == 0:
        return xa, np.full_like(ya, float(min))
    return xa, (ya - lo) / span * (max - min) + min


def correlate(
    x1: Any, y1: Any, x2: Any, y2: Any, mode: str = "valid"
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-correlate two signals after putting them on one x axis (numpy.correlate).

    Returns (lags in x units, correlation); mode is 'valid', 'same' or 'full'.
    """
    n = max(len(y1), len(y2))
    xs, (a, b) = combine([[x1, y1], [x2, y2]], n=n)
    corr = np.correlate(a, b, mode)
    dx = (xs[-1] - xs[0]) / (n - 1) if n > 1 else 0.0
    first = {"full": -(n - 1), "same": -(len(corr) // 2), "valid": 0}.get(mode)
    if first is None:
        raise ValueError(f"mode must be 'valid', 'same' or 'full', not {mode!r}")
    return (np.arange(len(corr)) + first) * dx, corr


def forwardEuler(
    x: Any, y: Any, f: Callable[[float, float], float], U_0: float, samplerate: float, T: float
) -> tuple[np.ndarray, np.ndarray]:
    """Integrate du/dt = f(u, t) from u(0) = U_0 for T seconds (RTOC's signature; x, y unused)."""
    dt = 1.0 / samplerate
    steps = int(round(float(T) / dt))
    u = np.zeros(steps + 1)
    t = np.linspace(0, steps * dt, steps + 1)
    u[0] = U_0
    for k in range(steps):
        u[k + 1] = u[k] + dt * f(u[k], t[k])
    return t, u


def predict(coef: Sequence[float], history: Sequence[float]) -> float:
    """One autoregressive prediction: coef[0] + sum(coef[i] * history[-i])."""
    yhat = float(coef[0])
    for i in range(1, len(coef)):
        yhat += float(coef[i]) * float(history[-i])
    return yhat


def estimate(x: Any, y: Any, n: int, lags: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Forecast the next n values with an autoregressive model of order `lags` (RTOC's maxlag).

    The signal is first resampled to even spacing; returns (x, y) of the n forecast points,
    continuing the input's x step.
    """
    xa, ya = resample(x, y, len(np.asarray(x)))
    n = int(n)
    if n < 1:
        raise ValueError("n must be at least 1")
    p = min(int(lags), (len(ya) - 1) // 2)
    if p < 1:
        raise ValueError("estimate needs at least 3 samples")
    rows = np.column_stack([ya[p - i - 1 : len(ya) - i - 1] for i in range(p)])
    design = np.column_stack([np.ones(len(rows)), rows])
    coef = np.linalg.lstsq(design, ya[p:], rcond=None)[0]
    history = list(ya)
    forecast = []
    for _ in range(n):
        yhat = predict(coef, history)
        forecast.append(yhat)
        history.append(yhat)
    dx = xa[1] - xa[0] if len(xa) > 1 else 1.0
    return xa[-1] + dx * np.arange(1, n + 1), np.asarray(forecast)


def _pt2(t: Any, k: float, t1: float, t2: float, t0: float) -> Any:
    """Step response of a second-order lag (PT2): k*(1 - (t1*e^(-t/t1) - t2*e^(-t/t2))/(t1-t2)) + t0."""
    return k * (1 - (1 / (t1 - t2)) * (t1 * np.exp(-t / t1) - t2 * np.exp(-t / t2))) + t0


def PT2_estimation(  # noqa: N802 - RTOC's name
    x: Any,
    y: Any,
    n: int,
    k: float = 100,
    t1: float = 101,
    t2: float = 100,
    t0: float = 25,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit a PT2 step response (initial k, t1, t2, t0) and extrapolate n values.

    Time counts from the first sample (x - x[0]); returns (x, y) of the n points after the
    last sample, at the input's mean x step.
    """
    xa, ya = _xy(x, y)
    if len(xa) < 4:
        raise ValueError("PT2_estimation needs at least 4 samples")
    t = xa - xa[0]
    params = _curve_fit(_pt2, t, ya, np.asarray([k, t1, t2, t0], dtype=float))
    dx = (xa[-1] - xa[0]) / (len(xa) - 1)
    xs = xa[-1] + dx * np.arange(1, int(n) + 1)
    return xs, np.asarray(_pt2(xs - xa[0], *params), dtype=float)


def CCN(*args: Any, **kwargs: Any) -> None:  # noqa: N802 - RTOC's name
    """RTOC's convolutional-network demo; not provided (see the error)."""
    raise NotImplementedError(
        "rtoc.CCN was RTOC's keras demo: it trained on a fixed toy dataset and printed one "
        "prediction, whatever the signal; it is not provided (it needs tensorflow). "
        "rtoc.estimate(x, y, n) forecasts a signal."
    )
