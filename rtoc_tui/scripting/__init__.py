"""RTOC scripting: the script language, script runs, global events and global actions.

`attach_automation(logger)` creates the service, sets `logger.automation` and registers it with
the logger's lifecycle. See docs/scripting.md for the language.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .engine import Automation, AutomationService, ScriptingError
from .runtime import ScriptStopped, SignalRef
from .translator import Translation, TranslationError, translate

if TYPE_CHECKING:
    from ..core.logger import Logger

__all__ = [
    "Automation",
    "AutomationService",
    "ScriptStopped",
    "ScriptingError",
    "SignalRef",
    "Translation",
    "TranslationError",
    "attach_automation",
    "translate",
]


def attach_automation(logger: Logger) -> Automation:
    """Create the automation service for `logger` (once), as `logger.automation`."""
    if logger.automation is not None:
        return logger.automation
    automation = Automation(logger)
    logger.automation = automation
    logger.add_service(automation.service)
    return automation
