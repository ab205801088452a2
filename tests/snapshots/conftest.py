"""The UI snapshot tests share the UI tests' fixtures (fake clock, UTC, StableClient)."""

from __future__ import annotations

from ..ui.conftest import _no_gc_freeze, _utc, clock  # noqa: F401  (fixtures, registered by import)
