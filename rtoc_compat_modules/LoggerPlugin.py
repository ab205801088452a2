"""RTOC's `LoggerPlugin` module under its own top-level name (`from LoggerPlugin import
LoggerPlugin`), for plugins and TCP client code written for RTOC and run outside the logger.

Inside the logger, plugins get the same module (and `RTOC.LoggerPlugin`) from
rtoc_tui.core.compat; a top-level `RTOC` package is not installed, so an RTOC installation
beside rtoc-tui keeps working.
"""

from rtoc_tui.core.plugin import *  # noqa: F401, F403 - re-exported API
from rtoc_tui.core.plugin import LoggerPlugin, __mro_entries__  # noqa: F401
