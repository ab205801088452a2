"""Custom main-menu entries from `telegramActions.json` (RTOC's format), run as scripts.

Each entry maps a button label to a script in the logger's script language. Labels starting with
`_` are shown to admins only. As in RTOC the script ends with `return 'text', '...'`,
`return 'picture', PATH` or `return 'document', PATH`. The script runs through the logger's
script engine (`LoggerClient.run_script`), never through `exec` here: it is wrapped in a function
so `return` is legal, its result is printed on a marker line, and the bot reads it from the run's
output. Line numbers in errors are those of the user's text.
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
import re
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..api import ClientError, LoggerClient

log = logging.getLogger("rtoc.telegram")

ACTIONS_FILE = "telegramActions.json"
RESULT_MARK = "\x1etelegram-result:"
ACTION_TIMEOUT_S = 60.0
POLL_S = 0.05
_FUNC = "_telegram_action"
SCRIPT_PREFIX = "telegram:"  # script runs of custom actions are named "telegram:LABEL"


class ActionError(ValueError):
    """The actions file or one action is invalid or failed; the message says why."""


@dataclass(frozen=True)
class ActionResult:
    """What a custom action returned: text, or a picture/document path, plus its output."""

    kind: str  # text | picture | document
    value: str
    output: str = ""


def load_actions(path: Path) -> dict[str, str]:
    """The actions in the file ({} if missing); raises ActionError for a broken file."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ActionError(f"{path.name}: cannot read: {exc}") from exc
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        try:  # RTOC's documentation shows a Python literal with triple-quoted scripts
            data = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise ActionError(
                f"{path.name}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from None
    if not isinstance(data, dict):
        raise ActionError(f"{path.name}: the top level must be an object {{label: script}}")
    out = {}
    for name, script in data.items():
        if not isinstance(name, str) or not name.strip() or not isinstance(script, str):
            raise ActionError(f"{path.name}: entry {name!r} must map a label to a script text")
        out[name] = script
    return out


def is_admin_only(name: str) -> bool:
    return name.startswith("_")


def label(name: str) -> str:
    """The button text of an action (without RTOC's admin marker)."""
    return name[1:] if is_admin_only(name) else name


def wrap(source: str) -> tuple[str, int]:
    """The action as a script, and how many lines it is shifted against the user's text.

    The script becomes a function (so RTOC's top-level `return` works) whose result is printed on
    a marker line. RTOC's actions are triple-quoted and start with a line break: the `def` takes
    that empty first line and every line keeps its number. Otherwise the `def` needs a line of its
    own (it cannot share the first line of a multi-line body) and the numbers shift by one, which
    `fix_lineno` undoes in the messages.
    """
    lines = textwrap.dedent(source.expandtabs(4)).split("\n")
    shift = 1
    if len(lines) > 1 and not lines[0].strip():
        lines, shift = lines[1:], 0
    if not any(line.strip() for line in lines):
        lines = ["pass"]
    body = "\n".join("    " + line if line.strip() else "" for line in lines)
    return f"def {_FUNC}():\n{body}\nprint({RESULT_MARK!r} + repr({_FUNC}()))\n", shift


_LINE = re.compile(r"\bline (\d+)")


def fix_lineno(text: str, shift: int) -> str:
    """Line numbers in an error of the wrapped script -> lines of the user's text."""
    if not shift:
        return text
    return _LINE.sub(lambda m: f"line {max(1, int(m.group(1)) - shift)}", text)


def parse_result(output_lines: list[str]) -> tuple[Any, str]:
    """(returned value or None, other output text) from a run's output lines."""
    value: Any = None
    rest = []
    for line in output_lines:
        if line.startswith(RESULT_MARK):
            try:
                value = ast.literal_eval(line[len(RESULT_MARK) :])
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                value = line[len(RESULT_MARK) :]
        else:
            rest.append(line)
    return value, "\n".join(rest)


def interpret(value: Any, output: str) -> ActionResult:
    """RTOC's return conventions -> an ActionResult (raises ActionError if unusable)."""
    if isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str):
        kind, payload = value[0].lower(), value[1]
        if kind in ("picture", "photo", "image"):
            return ActionResult("picture", str(payload), output)
        if kind in ("document", "file"):
            return ActionResult("document", str(payload), output)
        if kind == "text":
            return ActionResult("text", str(payload), output)
        raise ActionError(
            f"the action returned kind {value[0]!r}; use 'text', 'picture' or 'document'"
        )
    if value is None:
        return ActionResult("text", output or "done", output)
    return ActionResult("text", str(value), output)


async def run_action(
    client: LoggerClient, name: str, source: str, timeout_s: float = ACTION_TIMEOUT_S
) -> ActionResult:
    """Run one action in the script engine and return what it returned."""
    try:
        script, shift = wrap(source)
        info = await client.run_script(script, name=f"{SCRIPT_PREFIX}{label(name)}"[:100])
    except ClientError as exc:
        raise ActionError(str(exc)) from exc
    lines: list[str] = []
    cursor = 0
    deadline = time.monotonic() + timeout_s
    state, error = info.state, info.error
    while True:
        out = await client.script_output(info.id, cursor)
        lines.extend(out.lines)
        cursor, state, error = out.cursor, out.state, out.error
        if state != "running":
            break
        if time.monotonic() > deadline:
            await client.stop_script(info.id)
            raise ActionError(f"the action did not finish within {timeout_s:g} s and was stopped")
        await asyncio.sleep(POLL_S)
    value, output = parse_result(lines)
    if state == "error":
        raise ActionError(fix_lineno(error or output or "the action failed", shift))
    return interpret(value, fix_lineno(output, shift))


def read_result_file(path: str) -> tuple[bytes, str]:
    """The bytes and file name of a picture/document an action returned."""
    p = Path(os.path.expanduser(path))
    try:
        return p.read_bytes(), p.name
    except OSError as exc:
        raise ActionError(f"cannot read {path}: {exc.strerror or exc}") from exc
