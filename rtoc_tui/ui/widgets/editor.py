"""A Python code editor: Textual's TextArea with Python highlighting.

Textual highlights with tree-sitter, which is an optional extra (`textual[syntax]`) that we
do not depend on (it needs compiled wheels, which a Raspberry Pi may lack). Pygments comes with
Rich anyway, so when tree-sitter is missing the highlight map is built from Pygments tokens,
with the capture names the TextArea themes already know.
"""

from __future__ import annotations

import bisect
from typing import Any

from pygments.lexers.python import PythonLexer
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    String,
    _TokenType,
)
from textual.widgets import TextArea

MAX_HIGHLIGHT_CHARS = 300_000  # larger documents stay plain (lexing would lag typing)

_TOKEN_NAMES: tuple[tuple[_TokenType, str], ...] = (
    (Keyword.Constant, "boolean"),
    (Keyword.Namespace, "include"),
    (Keyword, "keyword"),
    (Name.Builtin.Pseudo, "variable.builtin"),
    (Name.Builtin, "type.builtin"),
    (Name.Function, "function"),
    (Name.Class, "class"),
    (Name.Decorator, "function"),
    (String.Doc, "string.documentation"),
    (String, "string"),
    (Number, "number"),
    (Comment, "comment"),
    (Operator.Word, "keyword.operator"),
    (Operator, "operator"),
)


def _capture_name(token: _TokenType) -> str | None:
    for ttype, name in _TOKEN_NAMES:
        if token in ttype:
            return name
    return None


def python_highlights(text: str) -> dict[int, list[tuple[int, int | None, str]]]:
    """Highlight ranges per line (byte columns, as TextArea expects) from Pygments tokens."""
    out: dict[int, list[tuple[int, int | None, str]]] = {}
    if len(text) > MAX_HIGHLIGHT_CHARS:
        return out
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    ascii_lines = [line.isascii() for line in lines]

    def byte_col(row: int, col: int) -> int:
        if ascii_lines[row]:
            return col
        return len(lines[row][:col].encode("utf-8"))

    for index, token, value in PythonLexer().get_tokens_unprocessed(text):
        name = _capture_name(token)
        if name is None or not value.strip():
            continue
        row = bisect.bisect_right(starts, index) - 1
        col = index - starts[row]
        for k, piece in enumerate(value.split("\n")):
            r = row + k
            if r >= len(lines):
                break
            c0 = col if k == 0 else 0
            if piece:
                out.setdefault(r, []).append((byte_col(r, c0), byte_col(r, c0 + len(piece)), name))
    return out


class PythonEditor(TextArea):
    """TextArea for Python scripts with line numbers and highlighting."""

    def __init__(self, text: str = "", **kwargs: Any) -> None:
        super().__init__(
            text,
            show_line_numbers=True,
            tab_behavior="indent",
            soft_wrap=False,
            **kwargs,
        )
        self.indent_width = 4

    def _build_highlight_map(self) -> None:
        if self._highlight_query is not None:  # tree-sitter is installed and in charge
            super()._build_highlight_map()
            return
        self._line_cache.clear()
        self._highlights.clear()
        self._highlights.update(python_highlights(self.text))

    def select_line_number(self, line_no: int) -> None:
        """Put the cursor on a (1-based) line and select it, e.g. where an error happened."""
        row = max(0, min(line_no - 1, self.document.line_count - 1))
        end = len(self.document.get_line(row))
        self.selection = self.selection.__class__((row, 0), (row, end))
        self.scroll_cursor_visible(center=True)
