"""The import screen: RTOC's import dialog in a terminal (section 5.7.9.2 of its documentation).

Choose a file (typed, or picked from a tree rooted at the user folder or the current
directory), see its first rows, define signals from its columns (name `Device.Signal`, unit,
y column, x column or x from the row index / a sample rate), see per signal whether it can be
imported and why not, and import with a progress bar. Mappings are saved as named profiles
(RTOC's csv_profiles) and offered again for files of the same shape.

The file is read on the machine the UI runs on (attached to a remote logger too) and the data
goes to the logger through `LoggerClient.import_signals`, as one transaction.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    DataTable,
    DirectoryTree,
    Input,
    Label,
    ProgressBar,
    Select,
    Static,
)

from ...api import ClientError, ImportReport, ImportSignal
from ...config.home import resolve_home
from ...transfer.mapping import (
    X_RATE,
    CsvMapping,
    CsvSignal,
    PlannedSignal,
    build,
    plan,
)
from ...transfer.profiles import Profiles
from ...transfer.readers import Source, open_source
from ...transfer.table import ImportFileError, Table
from ..widgets.footer import FittingFooter
from ..work import describe_error, rtoc_app
from .base import RtocScreen

log = logging.getLogger("rtoc.ui")

X_INDEX_CHOICE = "@index"
GUESS = "@guess"
PROGRESS_TICK_S = 0.1


class FilePickerScreen(ModalScreen[Path | None]):
    """A directory tree rooted at the current directory or the user folder; enter picks."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "cancel", "Cancel", id="picker.cancel")]

    def __init__(self, roots: list[tuple[str, Path]]) -> None:
        super().__init__(classes="dialog")
        self.roots = roots

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box", id="picker-box"):
            yield Label("Choose a file to import (enter: pick, escape: cancel)")
            yield Select(
                [(label, str(p)) for label, p in self.roots],
                value=str(self.roots[0][1]),
                allow_blank=False,
                compact=True,
                id="picker-root",
            )
            yield DirectoryTree(self.roots[0][1], id="picker-tree")

    def on_mount(self) -> None:
        self.query_one(DirectoryTree).focus()

    @on(Select.Changed, "#picker-root")
    def _root(self, event: Select.Changed) -> None:
        self.query_one(DirectoryTree).path = Path(str(event.value))

    @on(DirectoryTree.FileSelected)
    def _picked(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(Path(event.path))

    def action_cancel(self) -> None:
        self.dismiss(None)


class _ReadProgress:
    """A transfer ProgressSink feeding the screen's bar from the reading thread (the bar's
    timer picks the numbers up; a tuple assignment is atomic)."""

    def __init__(self, screen: ImportScreen) -> None:
        self.screen = screen
        self.done = 0.0
        self.total = 0.0

    def start(self, description: str, total: float | None) -> None:
        self.done, self.total = 0.0, float(total or 0)
        self.screen._progress = (0, int(self.total))

    def advance(self, amount: float) -> None:
        self.done += amount
        self.screen._progress = (int(self.done), int(self.total))

    def finish(self) -> None:
        self.screen._progress = (int(self.total), int(self.total))


class ImportScreen(RtocScreen):
    """Define signals from a file's columns and import them into the logger."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape", "back", "Back", id="import.back"),
        Binding("ctrl+o", "browse", "Browse", id="import.browse"),
        Binding("ctrl+n", "add_signal", "Add signal", id="import.add"),
        Binding("ctrl+d", "remove_signal", "Remove", id="import.remove"),
        Binding("ctrl+s", "save_profile", "Save profile", id="import.save_profile"),
        Binding("ctrl+r", "import", "Import", id="import.run"),
    ]

    def __init__(self, path: str | None = None, home: Path | None = None) -> None:
        super().__init__()
        self.initial = path
        self.home = home or resolve_home()
        self.profiles = Profiles.in_home(self.home)
        self.source: Source | None = None
        self.table: Table | None = None
        self.mapping = CsvMapping()
        self.planned: list[PlannedSignal] = []
        self.selected = 0
        self._progress = (0, 0)
        self._loading_sheet = False
        self._read_timer: Any = None
        self.last_report: ImportReport | None = None

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(classes="imp-row"):
            yield Label("File ", classes="imp-label")
            yield Input(
                placeholder="path of a CSV, XLSX, ODS, MAT or WAV file", id="imp-path", compact=True
            )
            yield Button("Browse", id="imp-browse", compact=True)
        with Horizontal(classes="imp-row"):
            yield Label("Sheet", classes="imp-label")
            yield Select([], id="imp-sheet", compact=True, prompt="-")
            yield Label(" Profile ", classes="imp-label")
            yield Select([], id="imp-profile", compact=True, prompt="(guess)")
            yield Button("Save", id="imp-save", compact=True)
        yield Static("", id="imp-info")
        yield DataTable(id="imp-preview", zebra_stripes=True, cursor_type="none")
        yield DataTable(id="imp-signals", cursor_type="row")
        with Horizontal(classes="imp-row"):
            yield Label("Y", classes="imp-label")
            yield Select([], id="imp-y", compact=True, prompt="column")
            yield Input(placeholder="Device.Signal", id="imp-name", compact=True)
            yield Input(placeholder="unit", id="imp-unit", compact=True)
        with Horizontal(classes="imp-row"):
            yield Label("X", classes="imp-label")
            yield Select(
                self._x_options(),
                id="imp-x",
                compact=True,
                allow_blank=False,
                value=X_INDEX_CHOICE,
            )
            yield Input(placeholder="rate Hz", id="imp-rate", compact=True)
            yield Button("Apply", id="imp-apply", compact=True)
            yield Button("Add", id="imp-add", compact=True)
            yield Button("Del", id="imp-del", compact=True)
        yield Static("", id="imp-status")
        with Horizontal(classes="imp-row"):
            yield ProgressBar(total=100, show_eta=False, id="imp-progress")
            yield Button("Import", variant="primary", id="imp-run", compact=True)
        yield FittingFooter()

    def on_mount(self) -> None:
        self.query_one("#imp-x", Select).set_options(self._x_options())
        self.query_one("#imp-signals", DataTable).add_columns(
            "", "Signal", "Unit", "X", "Y", "Status"
        )
        if self.initial:
            self.query_one("#imp-path", Input).value = self.initial
            self.load(self.initial)
        else:
            self.query_one("#imp-path", Input).focus()

    # -- loading ----------------------------------------------------------------------------
    @on(Input.Submitted, "#imp-path")
    def _path_entered(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.load(event.value.strip())

    def action_browse(self) -> None:
        roots = [("current directory", Path.cwd()), ("user folder", self.home)]
        roots += [("home", Path.home())] if Path.home() not in (Path.cwd(), self.home) else []
        roots = [(label, p) for label, p in roots if p.is_dir()] or [("/", Path("/"))]

        def picked(path: Path | None) -> None:
            if path is not None:
                self.query_one("#imp-path", Input).value = str(path)
                self.load(str(path))

        self.app.push_screen(FilePickerScreen(roots), picked)

    def load(self, path: str, sheet: str | None = None) -> None:
        """Open the file (and one sheet) in a thread; the bar shows the reading, the screen
        fills when it is read."""
        self._info(f"reading {path} ...")
        self._progress = (0, 0)
        self._read_timer = self.set_interval(PROGRESS_TICK_S, self._tick)
        self._read(str(Path(path).expanduser()), sheet)

    def _read_done(self) -> None:
        timer = getattr(self, "_read_timer", None)
        if timer is not None:
            timer.stop()
            self._read_timer = None
        done, total = self._progress
        if total:
            self._progress = (total, total)
        self._tick()

    @work(thread=True, exclusive=True, group="import-read", exit_on_error=False)
    def _read(self, path: str, sheet: str | None) -> None:
        try:
            src = (
                self.source if self.source and str(self.source.path) == path else open_source(path)
            )
            if src.format == "session":
                raise ImportFileError(
                    f"{path} is a session: load it with `rtoc import {path}` (signals, events, "
                    "scripts and settings)"
                )
            table = src.table(sheet or (src.sheets[0] or None), _ReadProgress(self))
            matching = self.profiles.matching(src.format, table)
            others = [p for p in self.profiles.all() if p not in matching]
        except (ImportFileError, OSError, ValueError) as exc:
            self.app.call_from_thread(self._failed, describe_error(exc))
            return
        except Exception as exc:  # a reader bug: show it rather than hang on "reading"
            log.exception("reading %s failed", path)
            self.app.call_from_thread(self._failed, describe_error(exc))
            return
        self.app.call_from_thread(self._loaded, src, table, sheet, matching, others)

    def _failed(self, text: str) -> None:
        self._read_done()
        self._info(f"[b red]{text}[/]")
        self.app.notify(text, title="import", severity="error", timeout=8)

    def _loaded(
        self, src: Source, table: Table, sheet: str | None, matching: list[Any], others: list[Any]
    ) -> None:
        self._read_done()
        new_file = self.source is None or self.source.path != src.path
        self.source, self.table = src, table
        sel = self.query_one("#imp-sheet", Select)
        if new_file:
            self._loading_sheet = True
            sel.set_options([(s or "(one table)", s) for s in src.sheets])
            sel.value = table.name or src.sheets[0]
            self._loading_sheet = False
        prof = self.query_one("#imp-profile", Select)
        prof.set_options(
            [(f"★ {p.name}", p.name) for p in matching] + [(p.name, p.name) for p in others]
        )
        self._profiles = {p.name: p for p in [*matching, *others]}
        if matching:
            self.mapping = replace(matching[0].mapping, sheet=table.name or None)
            prof.value = matching[0].name
            self.app.notify(
                f"profile {matching[0].name!r} fits this file and is applied", title="import"
            )
        else:
            self.mapping = self._guess(src, table)
        self._fill_preview(table)
        self.query_one("#imp-y", Select).set_options(
            [(c.label, str(i)) for i, c in enumerate(table.columns)]
        )
        self.query_one("#imp-x", Select).set_options(self._x_options())
        rate = self.mapping.rate or table.sample_rate
        self.query_one("#imp-rate", Input).value = f"{rate:g}" if rate else ""
        self.selected = 0
        self._replan()
        self._show_selected()
        self.query_one("#imp-signals", DataTable).focus()  # next: check or edit the signals
        parts = [f"{src.format}: {table.rows:,} rows, {len(table.columns)} columns"]
        parts += [n for n in table.notes if not n.startswith("metadata:")][:2]
        if table.skipped_count:
            parts.append(f"[yellow]{table.skipped_text()}[/]")
        self._info("; ".join(parts))

    def _guess(self, src: Source, table: Table) -> CsvMapping:
        """The guessed mapping made explicit, so every signal can be edited."""
        stem = "".join(c if c.isalnum() or c in "_-" else "_" for c in src.path.stem) or "Import"
        m = CsvMapping(device=stem, sheet=table.name or None, rate=table.sample_rate)
        sigs = []
        for p in plan(table, m):
            if p.y is None:
                continue
            x: Any = p.x if isinstance(p.x, int) or p.x in (None, X_RATE) else None
            sigs.append(CsvSignal(p.y, p.name, p.unit, x))
        m.signals = sigs
        return m

    def _x_options(self) -> list[tuple[str, str]]:
        opts = [("row index", X_INDEX_CHOICE), ("sample rate", X_RATE)]
        if self.table is not None:
            opts += [(c.label, str(i)) for i, c in enumerate(self.table.columns)]
        return opts

    def _fill_preview(self, table: Table) -> None:
        dt = self.query_one("#imp-preview", DataTable)
        dt.clear(columns=True)
        dt.add_columns(*[c.label for c in table.columns])
        width = len(table.columns)
        for row in table.preview:
            cells = [str(c) for c in row[:width]] + [""] * (width - len(row))
            dt.add_row(*cells)

    # -- signals ----------------------------------------------------------------------------
    def _replan(self) -> None:
        if self.table is None:
            return
        self.planned = plan(self.table, self.mapping) if self.mapping.signals else []
        dt = self.query_one("#imp-signals", DataTable)
        dt.clear()
        names = [c.name for c in self.table.columns]
        for p in self.planned:
            x = (
                "index"
                if p.x is None
                else "rate"
                if p.x == X_RATE
                else names[p.x]
                if isinstance(p.x, int)
                else str(p.x)
            )
            y = names[p.y] if p.y is not None else "?"
            status = f"{p.count:,} samples" + (f", {p.skipped} empty" if p.skipped else "")
            dt.add_row("✓" if p.ok else "✗", p.name, p.unit, x, y, status if p.ok else p.problem)
        if self.planned:
            self.selected = min(self.selected, len(self.planned) - 1)
            dt.move_cursor(row=self.selected)
        ok = sum(p.ok for p in self.planned)
        self.query_one("#imp-run", Button).disabled = ok == 0

    def _show_selected(self) -> None:
        if not self.mapping.signals or self.table is None:
            self._status("no signals defined: choose a Y column and a name, then Add")
            return
        s = self.mapping.signals[self.selected]
        p = self.planned[self.selected]
        ysel = self.query_one("#imp-y", Select)
        if p.y is not None:
            ysel.value = str(p.y)
        self.query_one("#imp-name", Input).value = p.name
        self.query_one("#imp-unit", Input).value = p.unit
        x = s.x
        xval = (
            X_INDEX_CHOICE
            if x is None
            else X_RATE
            if x == X_RATE
            else str(p.x)
            if isinstance(p.x, int)
            else X_INDEX_CHOICE
        )
        self.query_one("#imp-x", Select).value = xval
        self._status(
            f"{p.name}: can be imported ({p.count:,} samples)" if p.ok else f"{p.name}: {p.problem}"
        )

    @on(DataTable.RowHighlighted, "#imp-signals")
    def _row(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.mapping.signals):
            self.selected = event.cursor_row
            self._show_selected()

    def _form_signal(self) -> CsvSignal | None:
        if self.table is None:
            return None
        y = self.query_one("#imp-y", Select).value
        if y is Select.BLANK or y is None:
            self._status("[red]choose the Y column first[/]")
            return None
        col = self.table.columns[int(str(y))]
        name = self.query_one("#imp-name", Input).value.strip() or col.name
        unit = self.query_one("#imp-unit", Input).value.strip()
        xv = str(self.query_one("#imp-x", Select).value)
        x: Any = None if xv == X_INDEX_CHOICE else X_RATE if xv == X_RATE else int(xv)
        rate_text = self.query_one("#imp-rate", Input).value.strip()
        if rate_text:
            try:
                rate = float(rate_text.replace(",", "."))
                if rate <= 0:
                    raise ValueError
                self.mapping.rate = rate
            except ValueError:
                self._status(f"[red]the sample rate must be a number above 0, not {rate_text!r}[/]")
                return None
        if "." not in name:
            name = f"{self.mapping.device}.{name}"
        return CsvSignal(int(str(y)), name, unit, x)

    def action_add_signal(self) -> None:
        s = self._form_signal()
        if s is not None:
            self.mapping.signals.append(s)
            self.selected = len(self.mapping.signals) - 1
            self._replan()
            self._show_selected()

    def _apply(self) -> None:
        s = self._form_signal()
        if s is None:
            return
        if not self.mapping.signals:
            self.action_add_signal()
            return
        self.mapping.signals[self.selected] = s
        self._replan()
        self._show_selected()

    def action_remove_signal(self) -> None:
        if self.mapping.signals:
            del self.mapping.signals[self.selected]
            self.selected = max(0, self.selected - 1)
            self._replan()
            self._show_selected()

    @on(Select.Changed, "#imp-sheet")
    def _sheet(self, event: Select.Changed) -> None:
        if self._loading_sheet or self.source is None or event.value is Select.BLANK:
            return
        if self.table is not None and event.value == self.table.name:
            return
        self.load(str(self.source.path), str(event.value))

    @on(Select.Changed, "#imp-profile")
    def _profile(self, event: Select.Changed) -> None:
        if self.table is None or event.value is Select.BLANK:
            return
        prof = getattr(self, "_profiles", {}).get(str(event.value))
        if prof is None or self.mapping == prof.mapping:
            return
        self.mapping = replace(
            prof.mapping, signals=list(prof.mapping.signals), sheet=self.table.name or None
        )
        self.selected = 0
        self._replan()
        self._show_selected()

    def action_save_profile(self) -> None:
        if self.table is None or self.source is None:
            self._status("[red]open a file first[/]")
            return
        from .dialogs import PromptDialog

        def save(name: str | None) -> None:
            if not name or self.table is None or self.source is None:
                return
            try:
                self.profiles.save(name, self.source.format, self.table, self.mapping)
            except ImportFileError as exc:
                self._status(f"[red]{exc}[/]")
                return
            self.app.notify(f"profile {name!r} saved in {self.profiles.path}", title="import")

        self.app.push_screen(
            PromptDialog(
                "Save the mapping as a profile",
                help="Offered again for files with the same columns (csv_profiles.json).",
                placeholder="profile name",
            ),
            save,
        )

    @on(Button.Pressed)
    def _button(self, event: Button.Pressed) -> None:
        actions = {
            "imp-browse": self.action_browse,
            "imp-save": self.action_save_profile,
            "imp-apply": self._apply,
            "imp-add": self.action_add_signal,
            "imp-del": self.action_remove_signal,
            "imp-run": self.action_import,
        }
        fn = actions.get(event.button.id or "")
        if fn is not None:
            event.stop()
            fn()

    # -- importing --------------------------------------------------------------------------
    def action_import(self) -> None:
        if self.table is None:
            self._status("[red]open a file first[/]")
            return
        try:
            data, bad = build(self.table, self.mapping, strict=False)
        except ImportFileError as exc:
            self._status(f"[red]{exc}[/]")
            return
        if not data.signals:
            self._status("[red]no signal can be imported: see the reasons in the list[/]")
            return
        sigs = [ImportSignal(s.name, s.unit, s.x, s.y) for s in data.signals]
        self._progress = (0, data.samples)
        bar = self.query_one("#imp-progress", ProgressBar)
        bar.update(total=max(1, data.samples), progress=0)
        self.query_one("#imp-run", Button).disabled = True
        skipped = [p.name for p in bad]
        self._status(f"importing {data.samples:,} samples of {len(sigs)} signals ...")
        timer = self.set_interval(PROGRESS_TICK_S, self._tick)
        self._send(sigs, skipped, timer)

    def _tick(self) -> None:
        done, total = self._progress
        bar = self.query_one("#imp-progress", ProgressBar)
        if total:
            bar.update(total=total, progress=min(done, total))
        else:
            bar.update(total=None)  # not known yet: the bar pulses

    @work(exclusive=True, group="import", exit_on_error=False)
    async def _send(self, sigs: list[ImportSignal], skipped: list[str], timer: Any) -> None:
        started = time.monotonic()

        def progress(done: int, total: int) -> None:  # maybe called from a thread
            self._progress = (done, total)

        try:
            rep = await rtoc_app(self).client.import_signals(sigs, progress)
        except ClientError as exc:
            timer.stop()
            self.query_one("#imp-run", Button).disabled = False
            self._status(f"[red]{describe_error(exc)}[/]")
            self.app.notify(describe_error(exc), title="import", severity="error", timeout=8)
            return
        timer.stop()
        self.last_report = rep
        self._progress = (rep.samples, max(1, rep.samples))
        self._tick()
        self.query_one("#imp-run", Button).disabled = False
        text = (
            f"imported {rep.samples:,} samples of {rep.signals} signals "
            f"in {time.monotonic() - started:.1f} s"
        )
        if skipped:
            text += f"; not imported: {', '.join(skipped)}"
        if rep.dropped:
            text += f"; {rep.dropped:,} samples beyond recordLength were not kept (no storage)"
        self._status(text)
        self.app.notify(text, title="import", timeout=6)

    # -- helpers ----------------------------------------------------------------------------
    def _info(self, text: str) -> None:
        self.query_one("#imp-info", Static).update(text)

    def _status(self, text: str) -> None:
        self.query_one("#imp-status", Static).update(text)

    def action_back(self) -> None:
        self.app.pop_screen()
