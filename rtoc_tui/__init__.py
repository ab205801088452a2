"""rtoc-tui: a terminal-first re-implementation of RealTime OpenControl (RTOC)."""

__version__ = "0.1.0"
