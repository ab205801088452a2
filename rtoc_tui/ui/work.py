"""Running client calls off the UI's way: in workers, with failures shown as notifications."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.worker import Worker

from ..api import ClientError, Disconnected

if TYPE_CHECKING:
    from .app import RtocApp

log = logging.getLogger("rtoc.ui")

T = TypeVar("T")


def rtoc_app(node: DOMNode) -> RtocApp:
    """The running RtocApp (panes reach the client through it, never through each other)."""
    return node.app  # type: ignore[return-value]


def base_screen_visible(node: DOMNode) -> bool:
    """Whether node's screen is what the user sees: on top, or under modal dialogs only.

    (Screen.is_current is also true for the screen under a full screen, so it cannot tell.)
    """
    try:
        stack = node.app.screen_stack
    except Exception:
        return False
    for screen in reversed(stack):
        if screen is node.screen:
            return True
        if not isinstance(screen, ModalScreen):
            return False
    return False


def describe_error(exc: BaseException) -> str:
    """A one-line text for a failed client call."""
    if isinstance(exc, Disconnected):
        return f"disconnected: {exc}" if str(exc) else "disconnected"
    if isinstance(exc, ClientError):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def client_call(
    node: DOMNode,
    make: Callable[[], Awaitable[T]],
    *,
    group: str,
    done: Callable[[T], Any] | None = None,
    failed: Callable[[str], Any] | None = None,
    success: str | None = None,
    skip_if_busy: bool = False,
) -> Worker[None] | None:
    """Run `await make()` in a worker; on success call done(result), on failure notify.

    A ClientError (including Disconnected) becomes an error notification (and `failed(text)`
    when given); any other exception is logged and notified too, never raised into the app.
    With skip_if_busy, nothing starts while a call of the same group from this node is still
    running (periodic refreshes over a slow link must not pile up).
    """
    if skip_if_busy and busy(node, group):
        return None

    async def job() -> None:
        try:
            result = await make()
        except Exception as exc:
            text = describe_error(exc)
            if not isinstance(exc, ClientError):
                log.exception("client call in %s failed", group)
            severity = "warning" if isinstance(exc, Disconnected) else "error"
            node.app.notify(text, title=group, severity=severity, timeout=6)
            if failed is not None:
                failed(text)
            return
        if done is not None:
            done(result)
        if success:
            node.app.notify(success, title=group, timeout=3)

    return node.run_worker(job(), group=group, description=group, exit_on_error=False)


def busy(node: DOMNode, group: str) -> bool:
    """Whether a worker of this group started by node has not finished yet."""
    return any(w.group == group and w.node is node and not w.is_finished for w in node.app.workers)
