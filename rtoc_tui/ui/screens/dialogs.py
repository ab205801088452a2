"""Small modal dialogs: confirm, prompt for a value, export options, show information."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.console import RenderableType
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static


class ConfirmDialog(ModalScreen[bool]):
    """Yes/no question; y/enter confirm, n/escape cancel."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("y", "answer(True)", "Yes", id="dialog.yes"),
        Binding("n,escape", "answer(False)", "No", id="dialog.no"),
    ]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__(classes="dialog")
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(self.question, classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class PromptDialog(ModalScreen[str | None]):
    """Ask for one value; `check(text)` returns an error text or None (shown under the box)."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(
        self,
        title: str,
        value: str = "",
        *,
        help: str = "",
        placeholder: str = "",
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.value = value
        self.help = help
        self.placeholder = placeholder
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(self.title_text, classes="dialog-title")
            if self.help:
                yield Static(self.help, classes="dialog-help")
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input")
            yield Label("", id="prompt-error", classes="error-text")
            yield Static("enter: OK   escape: cancel", classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def show_error(self, text: str) -> None:
        """Show a validation error under the input (and keep the dialog open)."""
        self.query_one("#prompt-error", Label).update(text)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        if self.check is not None:
            error = self.check(text)
            if error:
                self.show_error(error)
                return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class ExportChoice:
    """What the export dialog returns."""

    path: str
    fmt: str  # csv | json | xlsx | xlsx-table
    visible_only: bool


class ExportDialog(ModalScreen[ExportChoice | None]):
    """Where and how to export signals (the logger writes the file: for a remote logger the
    path is on the logger's machine)."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(self, names: list[str], default_path: str, remote: bool) -> None:
        super().__init__(classes="dialog")
        self.names = names
        self.default_path = default_path
        self.remote = remote

    def compose(self) -> ComposeResult:
        what = self.names[0] if len(self.names) == 1 else f"{len(self.names)} signals"
        with Vertical(classes="dialog-box"):
            yield Label(f"Export {what}", classes="dialog-title")
            where = "on the logger's machine" if self.remote else "a file path"
            yield Static(
                f"Path ({where}); the extension follows the format.", classes="dialog-help"
            )
            yield Input(self.default_path, id="export-path")
            with Horizontal(classes="dialog-row"):
                with RadioSet(id="export-format"):
                    yield RadioButton("CSV", value=True, id="fmt-csv")
                    yield RadioButton("JSON", id="fmt-json")
                    yield RadioButton("XLSX, sheet/signal", id="fmt-xlsx")
                    yield RadioButton("XLSX, one table", id="fmt-xlsx-table")
                with RadioSet(id="export-range"):
                    yield RadioButton("visible window", value=True, id="range-visible")
                    yield RadioButton("everything", id="range-all")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Export", variant="primary", id="export-ok")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    def _fmt(self) -> str:
        pressed = self.query_one("#export-format", RadioSet).pressed_button
        return "csv" if pressed is None or pressed.id is None else pressed.id.removeprefix("fmt-")

    @on(RadioSet.Changed, "#export-format")
    def _format_changed(self) -> None:
        box = self.query_one("#export-path", Input)
        stem, dot, ext = box.value.rpartition(".")
        if dot and ext.lower() in ("csv", "json", "xlsx"):
            box.value = f"{stem}.{self._fmt().removesuffix('-table')}"

    def _result(self) -> ExportChoice | None:
        path = self.query_one("#export-path", Input).value.strip()
        if not path:
            return None
        pressed = self.query_one("#export-range", RadioSet).pressed_button
        visible = pressed is None or pressed.id == "range-visible"
        return ExportChoice(path, self._fmt(), visible)

    @on(Input.Submitted, "#export-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(self._result())

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self._result() if event.button.id == "export-ok" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class InfoDialog(ModalScreen[None]):
    """Shows a renderable; any of escape, enter or q closes it."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape,enter,q", "close", "Close", id="dialog.close"),
    ]

    def __init__(self, title: str, body: RenderableType) -> None:
        super().__init__(classes="dialog")
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.body, id="info-body")
            yield Static("escape / enter: close", classes="dialog-help")

    def action_close(self) -> None:
        self.dismiss(None)
