"""What the logger accepts: names, texts and event values that every store can hold.

Valid JSON can still carry data no database takes: a lone surrogate ("\\ud800") cannot be
encoded as UTF-8, PostgreSQL text cannot hold NUL, and a value nested 1,000 levels deep breaks
JSON encoding and decoding. One such row used to fail every later flush for every signal. So
input is checked where it enters (TCP, plugins, scripts) and refused with a message that says
what to change; internal texts (error messages with odd file names) are made safe instead.
"""

from __future__ import annotations

import json
from typing import Any

MAX_NAME = 200  # characters in a device or signal name
MAX_UNIT = 100
MAX_TEXT = 10_000  # characters in an event text
MAX_DEPTH = 32  # nesting of an event value
MAX_VALUE_BYTES = 65_536  # an event value as JSON


class InvalidInput(ValueError):
    """Input the logger cannot store; the message says what is wrong and what to send instead."""


def _problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"is not valid Unicode (a lone surrogate {text[exc.start]!r} at {exc.start})"
    return None


def check_text(what: str, text: Any, limit: int) -> str:
    """text as str if a store can hold it, else InvalidInput naming `what`."""
    if not isinstance(text, str):
        text = str(text)
    problem = _problem(text)
    if problem is not None:
        raise InvalidInput(f"{what} {problem}; send UTF-8 text without NUL characters")
    if len(text) > limit:
        raise InvalidInput(f"{what} is {len(text)} characters long; at most {limit} are allowed")
    return text


def check_name(what: str, name: Any) -> str:
    """A device or signal name (non-empty text, at most MAX_NAME characters)."""
    return check_text(what, name, MAX_NAME)


def check_value(value: Any) -> None:
    """An event value: JSON-able data at most MAX_DEPTH deep and MAX_VALUE_BYTES as JSON."""
    if value is None or isinstance(value, (bool, int, float)):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:  # iterative: a deep value must not exhaust the recursion limit here either
        v, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidInput(
                f"event value is nested more than {MAX_DEPTH} levels deep; send flatter data"
            )
        if isinstance(v, str):
            check_text("text in the event value", v, MAX_VALUE_BYTES)
        elif isinstance(v, dict):
            for k, item in v.items():
                check_text("a key in the event value", k, MAX_NAME)
                stack.append((item, depth + 1))
        elif isinstance(v, (list, tuple)):
            stack.extend((item, depth + 1) for item in v)
    size = len(json.dumps(value, default=str))
    if size > MAX_VALUE_BYTES:
        raise InvalidInput(
            f"event value is {size} bytes as JSON; at most {MAX_VALUE_BYTES} are allowed"
        )


def safe_text(text: Any, limit: int = MAX_TEXT) -> str:
    """text made storable: NULs dropped, lone surrogates replaced, cut to limit characters."""
    s = text if isinstance(text, str) else str(text)
    if _problem(s) is not None:
        s = s.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return s[:limit]


def safe_value(value: Any) -> Any:
    """An event value made storable: a value check_value refuses becomes its short repr."""
    try:
        check_value(value)
    except (InvalidInput, TypeError, ValueError, RecursionError):
        try:
            return safe_text(repr(value)[:200])
        except RecursionError:
            return f"<{type(value).__name__} too deeply nested to store>"
    return value
