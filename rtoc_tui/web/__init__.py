"""The web view: plots, events and status of a logger in any browser (aiohttp, `web` extra).

This module stays light (no aiohttp import) so that a logger without the extra still starts:
`attach_web` only loads the server when web.active is true, and says which extra is missing.
See docs/web.md.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("rtoc.web")

MISSING_EXTRA = "the web view needs aiohttp: pip install 'rtoc-tui[web]'"


def attach_web(logger: Any) -> Any:
    """Add the web view to a (not yet started) logger when web.active is true.

    `logger` is a core Logger; the web package never imports core (it reads the logger through
    LocalClient), so the type stays Any here.
    """
    if not logger.config.web.active:
        logger.web = None  # type: ignore[attr-defined]
        return None
    try:
        from .service import add_web_server
    except ModuleNotFoundError as exc:
        if exc.name != "aiohttp":
            raise
        log.error("web.active is set but %s", MISSING_EXTRA)
        logger.web = None  # type: ignore[attr-defined]
        return None
    return add_web_server(logger)
