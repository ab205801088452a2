"""Running client calls off the UI's way: in workers, with failures shown as notifications."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.dom import DOMNode
from textual.worker import Worker

from ..client.api import ClientError, Disconnected

if TYPE_CHECKING:
    from .app import RtocApp

log = logging.getLogger("rtoc.ui")

T = TypeVar("T")


def rtoc_app(node: DOMNode) -> RtocApp:
    """The running RtocApp (panes reach the client through it, never through each other)."""
    return node.app  # type: ignore[return-value]


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
    exclusive: bool = False,
) -> Worker[None]:
    """Run `await make()` in a worker; on success call done(result), on failure notify.

    A ClientError (including Disconnected) becomes an error notification (and `failed(text)`
    when given); any other exception is logged and notified too, never raised into the app.
    """

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

    return node.run_worker(job(), group=group, exclusive=exclusive, exit_on_error=False)
