"""The web view: plots, events and status of a logger in any browser (aiohttp, `web` extra).

The package reaches a logger only through the `LoggerClient` interface (rtoc_tui.api): the
runtime hands it a LocalClient, `rtoc web` a StoreClient over a stored history. This module
stays light (no aiohttp import) so that a build without the extra can still say what is
missing. See docs/web.md.
"""

from __future__ import annotations

MISSING_EXTRA = "the web view needs aiohttp: pip install 'rtoc-tui[web]'"
