"""What the logger accepts: names, texts and event values that every store can hold.

Valid JSON can still carry data no database takes: a lone surrogate ("\\ud800") cannot be
encoded as UTF-8, PostgreSQL text cannot hold NUL, and a value nested 1,000 levels deep breaks
JSON encoding and decoding. One such row used to fail every later flush for every signal. So
input is checked where it enters (TCP, plugins, scripts) and refused with a message that says
what to change; internal texts (error messages with odd file names) are made safe instead.
"""

from __future__ import annotations

from typing import Any

# Lengths of names and the size of events are configured limits (global.maxNameLength,
# global.maxEventBytes: core/store.py LimitError, core/events.py); these are the rest.
MAX_NAME = 256  # characters of an event's names and id (they have no configured limit)
MAX_UNIT = 100
MAX_TEXT = 1_000_000  # characters: only a bound for safe_text; maxEventBytes is the real limit
MAX_DEPTH = 32  # nesting of an event value


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
    s = text if isinstance(text, str) else str(text)
    problem = _problem(s)
    if problem is not None:
        raise InvalidInput(f"{what} {problem}; send UTF-8 text without NUL characters")
    if len(s) > limit:
        raise InvalidInput(f"{what} is {len(s)} characters long; at most {limit} are allowed")
    return s


def check_name(what: str, name: Any, limit: int = 0) -> str:
    """A device or signal name: storable text; at most `limit` characters if limit (the
    length of signal names is global.maxNameLength, checked by the store)."""
    return check_text(what, name, limit or MAX_TEXT)


def check_value(value: Any) -> None:
    """An event value: at most MAX_DEPTH deep, its texts storable (its size counts against
    global.maxEventBytes, checked by the event log)."""
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
            check_text("text in the event value", v, MAX_TEXT)
        elif isinstance(v, dict):
            for k, item in v.items():
                check_text("a key in the event value", k, MAX_NAME)
                stack.append((item, depth + 1))
        elif isinstance(v, (list, tuple)):
            stack.extend((item, depth + 1) for item in v)


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
