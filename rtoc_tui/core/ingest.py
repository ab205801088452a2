"""RTOC's stream() argument forms, shared by the plugin API and the TCP server.

- y + snames (+ unit, x): parallel lists, or scalars for a single signal; each y may itself be a
  list of samples for its signal (then x, if given, is a matching list per signal);
- slist: [[y, sname, unit], ...] for the device dname;
- sdict: {dname: {sname: [y, unit], ...}, ...}.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .store import Append, SignalStore


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    if isinstance(v, (str, bytes)) or not isinstance(v, (Sequence, np.ndarray)):
        return [v]
    return list(v)


def stream(
    store: SignalStore,
    dname: str,
    y: Any = None,
    snames: Any = None,
    unit: Any = None,
    x: Any = None,
    slist: Any = None,
    sdict: Any = None,
    wait: float | None = None,
) -> int:
    """Store samples given in any of RTOC's stream() forms; returns the number stored.

    All or nothing: BufferFull (nothing stored) when storage cannot make room within wait."""
    return store.apply(plan(dname, y, snames, unit, x, slist, sdict), wait)


def plan(
    dname: str,
    y: Any = None,
    snames: Any = None,
    unit: Any = None,
    x: Any = None,
    slist: Any = None,
    sdict: Any = None,
) -> list[Append]:
    """The appends one stream() call asks for, checked (TypeError/ValueError) and not applied."""
    now = time.time()
    out: list[Append] = []
    if sdict is not None:
        if not isinstance(sdict, dict):
            raise TypeError("sdict must be {dname: {sname: [y, unit]}}")
        for dev, sigs in sdict.items():
            if not isinstance(sigs, dict):
                raise TypeError(f"sdict[{dev!r}] must be a dict {{sname: [y, unit]}}")
            for sname, pair in sigs.items():
                if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                    raise ValueError(f"signal {dev}.{sname} is not in the form [y, unit]")
                out.append((str(dev), str(sname), now, float(pair[0]), str(pair[1])))
        return out
    if slist is not None:
        for item in slist:
            if not isinstance(item, (list, tuple)) or len(item) != 3:
                raise ValueError(f"slist entries must be [y, sname, unit], got {item!r}")
            out.append((dname, str(item[1]), now, float(item[0]), str(item[2])))
        return out
    ys = _as_list(y)
    names = _as_list(snames)
    if not names:
        raise ValueError("stream needs signal names (snames)")
    if len(names) < len(ys):
        raise ValueError(f"{len(ys)} values but only {len(names)} signal names")
    units = _as_list(unit)
    xs = _as_list(x)
    for i, yv in enumerate(ys):
        u = (
            units[i]
            if i < len(units)
            else (units[0] if len(units) == 1 and isinstance(unit, str) else None)
        )
        u = None if u is None else str(u)
        xv = xs[i] if i < len(xs) else None
        if isinstance(yv, (list, tuple, np.ndarray)):
            ya = np.asarray(yv, dtype=float)
            if xv is None:
                xa = np.full(len(ya), now)
            else:
                xa = np.asarray(xv, dtype=float).reshape(-1)
                if len(xa) != len(ya):
                    raise ValueError(
                        f"signal {names[i]}: {len(ya)} y values but {len(xa)} x values"
                    )
            out.append((dname, str(names[i]), xa, ya.reshape(-1), u))
        else:
            out.append((dname, str(names[i]), now if xv is None else float(xv), float(yv), u))
    return out
