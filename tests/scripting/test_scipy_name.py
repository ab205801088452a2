"""`sp` in scripts: scipy when the import extra is installed, else a message naming the extra."""

from __future__ import annotations

import importlib.util

import pytest

from rtoc_tui.core.logger import Logger
from rtoc_tui.scripting import runtime as rt


def test_sp_is_scipy(logger: Logger) -> None:
    ns = rt.Runtime(logger).base
    assert ns["sp"].special.comb(5, 2) == 10.0  # loaded on first use


def test_sp_without_scipy_names_the_extra(logger: Logger, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        rt.importlib.util, "find_spec", lambda name, *a: None if name == "scipy" else real(name, *a)
    )
    sp = rt.Runtime(logger).base["sp"]
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'rtoc-tui\[import\]'"):
        _ = sp.signal
