"""The script editor (RTOC's script widget): edit, run once, repeated or on a signal trigger,
stop, read output and errors, load and save scripts in the logger's scripts/ folder."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, OptionList, RichLog, Tree
from textual.widgets.option_list import Option

from ...api import ClientError, DeviceDetail, EventInfo, ScriptInfo, ScriptOutput
from ..state import LoggerState
from ..widgets.editor import PythonEditor
from ..widgets.footer import FittingFooter
from ..work import base_screen_visible, client_call, describe_error, rtoc_app
from .base import RtocScreen
from .dialogs import PromptDialog

OUTPUT_POLL_S = 0.5
MAX_OUTPUT_LINES = 2000
ERROR_LINE = re.compile(r"line (\d+)")

EXAMPLE = """\
# RTOC script: signals are Device.Signal, parameters Device.parameter, functions Device.f().
# F5 runs it once, F6 repeatedly, F7 on new data of signals; F8 stops.
value = Generator.Square.latest
print("Square is", value)
if value > 1.5:
    Generator.gen_level = 1
"""


class ScriptListDialog(ModalScreen[str | None]):
    """Pick a saved script."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(self, names: list[str]) -> None:
        super().__init__(classes="dialog")
        self.names = names

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label("Open a script from scripts/", classes="dialog-title")
            yield OptionList(*[Option(n, id=n) for n in self.names], id="script-list")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ScriptScreen(RtocScreen):
    """Edit and run Python scripts on the logger."""

    # priority: TextArea binds f6/f7 (select line/all) itself, and the editor has focus.
    BINDINGS: ClassVar[list[Any]] = [
        Binding("f5,ctrl+r", "run('once')", "Run", id="script.run", priority=True),
        Binding("f6", "run('repeat')", "Repeat", id="script.repeat", priority=True),
        Binding("f7", "run('trigger')", "Trigger", id="script.trigger", priority=True),
        Binding("f8,ctrl+k", "stop", "Stop", id="script.stop", priority=True),
        Binding("ctrl+s", "save", "Save", id="script.save", priority=True),
        Binding("ctrl+o", "open", "Open", id="script.open", priority=True),
        Binding("ctrl+n", "new", "New", id="script.new", show=False),
        Binding("ctrl+g", "focus_help", "Insert", id="script.help"),
        Binding("escape", "back", "Back", id="script.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.script_name = "script"
        self.current: ScriptInfo | None = None
        self.runs: dict[str, ScriptInfo] = {}
        self._cursors: dict[str, int] = {}
        self._final_read: set[str] = set()  # runs whose last output was shown
        self._saved_text = EXAMPLE
        self.output_lines: list[str] = []  # everything written to the output (tests read it)
        self._devices_loaded: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Label("", id="script-title")
        with Horizontal(id="script-body"):
            yield PythonEditor(EXAMPLE, id="script-editor")
            with Vertical(id="script-side"):
                yield RichLog(id="script-output", max_lines=MAX_OUTPUT_LINES, wrap=True)
                runs = DataTable(id="script-runs", cursor_type="row")
                runs.add_column("run", key="id")
                runs.add_column("mode", key="mode")
                runs.add_column("state", key="state")
                runs.add_column("runs", key="runs")
                yield runs
                tree: Tree[str] = Tree("insert", id="script-help")
                tree.show_root = False
                yield tree
        yield FittingFooter()

    def on_mount(self) -> None:
        self.query_one("#script-output").border_title = "Output"
        self.query_one("#script-runs").border_title = "Runs (F8 stops the selected)"
        self.query_one("#script-help").border_title = "Insert (enter)"
        self.query_one(PythonEditor).focus()
        self._update_title()
        self.set_interval(OUTPUT_POLL_S, self._poll_output, name="script-output")
        self._refresh_help()
        self._poll_output(force=True)

    # -- title --------------------------------------------------------------------------------
    @property
    def modified(self) -> bool:
        return self.query_one(PythonEditor).text != self._saved_text

    def _update_title(self) -> None:
        title = Text.assemble(("Script ", "bold"), (f"{self.script_name}.py", "bold"))
        if self.modified:
            title.append(" [modified]", style="yellow")
        if self.current is not None:
            state = self.current.state
            style = {"running": "green", "error": "red"}.get(state, "dim")
            title.append(f"   {self.current.id} {self.current.mode}: {state}", style=style)
        self.query_one("#script-title", Label).update(title, layout=False)  # on every key

    @on(PythonEditor.Changed)
    def _changed(self) -> None:
        self._update_title()

    # -- output -------------------------------------------------------------------------------
    def write_output(self, text: str, style: str = "") -> None:
        """Append a line to the output panel."""
        self.output_lines.append(text)
        self.query_one("#script-output", RichLog).write(Text(text, style=style))

    def _poll_output(self, force: bool = False) -> None:
        if not base_screen_visible(self):
            return
        active = [
            i for i, r in self.runs.items() if r.state == "running" or i not in self._final_read
        ]
        if not active and not force:
            return
        client = rtoc_app(self).client

        async def fetch() -> tuple[list[ScriptInfo], list[tuple[str, ScriptOutput]]]:
            infos = await client.scripts()
            out = []
            for sid in active:
                try:
                    out.append((sid, await client.script_output(sid, self._cursors.get(sid, 0))))
                except ClientError as exc:
                    self.write_output(f"{sid}: {describe_error(exc)}", "red")
                    self._final_read.add(sid)
            return infos, out

        client_call(self, fetch, group="script-output", done=self._show_output, skip_if_busy=True)

    def _show_output(self, result: tuple[list[ScriptInfo], list[tuple[str, ScriptOutput]]]) -> None:
        infos, outputs = result
        for info in infos:
            self.runs[info.id] = info
            if info.state != "running" and info.id not in self._cursors:
                self._final_read.add(info.id)  # finished before we looked: nothing to follow
        for sid, out in outputs:
            self._cursors[sid] = out.cursor
            for line in out.lines:
                self.write_output(line)
            if out.state != "running" and sid not in self._final_read:
                self._final_read.add(sid)
                if out.state == "error" and out.error:
                    self.show_error(out.error)
                else:
                    self.write_output(f"[{sid} {out.state}]", "dim")
            old = self.runs.get(sid)
            if old is not None and old.state != out.state:
                self.runs[sid] = _with_state(old, out.state, out.error)
        self._show_runs()

    def show_error(self, error: str) -> None:
        """Show a script error and put the editor cursor on its line."""
        self.write_output(error, "bold red")
        found = ERROR_LINE.findall(error)
        if found:
            # The last "line N" is the innermost frame: the user's own line.
            self.query_one(PythonEditor).select_line_number(int(found[-1]))

    def _show_runs(self) -> None:
        table = self.query_one("#script-runs", DataTable)
        selected = None
        if table.row_count:
            try:
                selected = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            except Exception:
                selected = None
        table.clear()
        for sid, r in self.runs.items():
            style = {"running": "green", "error": "red"}.get(r.state, "dim")
            table.add_row(
                f"{r.name} {sid}", r.mode, Text(r.state, style=style), str(r.runs), key=sid
            )
        if selected in self.runs:
            table.move_cursor(row=list(self.runs).index(selected), animate=False)
        if self.current is not None and self.current.id in self.runs:
            self.current = self.runs[self.current.id]
        self._update_title()

    # -- running ------------------------------------------------------------------------------
    def action_run(self, mode: str) -> None:
        # The keys are priority bindings, handled as soon as the app reads them, while keys
        # typed just before may still wait in the editor's queue: read the text after those.
        self.query_one(PythonEditor).call_later(self._run, mode)

    def _run(self, mode: str) -> None:
        source = self.query_one(PythonEditor).text
        if mode == "once":
            self._start(source, "once", None, None)
        elif mode == "repeat":

            def check(text: str) -> str | None:
                try:
                    return None if float(text) > 0 else "the rate must be above 0"
                except ValueError:
                    return "a rate in Hz, e.g. 1 or 0.2"

            self.app.push_screen(
                PromptDialog(
                    "Run repeatedly at (Hz)", "1", check=check, help="The script runs at this rate."
                ),
                lambda t: t is not None and self._start(source, "repeat", float(t), None),
            )
        else:
            plotted = sorted(rtoc_app(self).state.signals)

            def check_signals(text: str) -> str | None:
                names = [n.strip() for n in text.split(",") if n.strip()]
                if not names:
                    return "at least one signal, e.g. Generator.Square"
                return None

            self.app.push_screen(
                PromptDialog(
                    "Run on new data of signals",
                    ", ".join(plotted[:1]),
                    help="Comma-separated signal names; the script runs whenever one gets data.",
                    check=check_signals,
                ),
                lambda t: (
                    t is not None
                    and self._start(
                        source, "trigger", None, [n.strip() for n in t.split(",") if n.strip()]
                    )
                ),
            )

    def _start(
        self, source: str, mode: str, samplerate: float | None, triggers: list[str] | None
    ) -> None:
        client = rtoc_app(self).client

        def done(info: ScriptInfo) -> None:
            self.current = info
            self.runs[info.id] = info
            self._cursors[info.id] = 0
            self._final_read.discard(info.id)
            self.write_output(f"[{info.id} started: {mode}]", "dim")
            self._show_runs()
            self._poll_output()

        client_call(
            self,
            lambda: client.run_script(
                source, name=self.script_name, mode=mode, samplerate=samplerate, triggers=triggers
            ),
            group="scripts",
            done=done,
            failed=lambda text: self.write_output(text, "bold red"),
        )

    def _selected_run(self) -> str | None:
        table = self.query_one("#script-runs", DataTable)
        if table.row_count and table.has_focus:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        running = [i for i, r in self.runs.items() if r.state == "running"]
        if self.current is not None and self.current.id in running:
            return self.current.id
        return running[-1] if running else None

    def action_stop(self) -> None:
        sid = self._selected_run()
        if sid is None:
            self.app.notify("no script is running", severity="warning", title="scripts")
            return
        client = rtoc_app(self).client

        def done(_r: object) -> None:
            self.write_output(f"[{sid} stop requested]", "dim")
            self._poll_output()

        client_call(self, lambda: client.stop_script(sid), group="scripts", done=done)

    # -- files --------------------------------------------------------------------------------
    def action_save(self) -> None:
        self.query_one(PythonEditor).call_later(self._save)  # after typed keys (see action_run)

    def _save(self) -> None:
        client = rtoc_app(self).client
        source = self.query_one(PythonEditor).text

        def check(text: str) -> str | None:
            name = text.strip().removesuffix(".py")
            if not name or not re.fullmatch(r"[\w.-]+", name):
                return "letters, digits, _ . - only"
            return None

        def go(text: str | None) -> None:
            if text is None:
                return
            name = text.strip().removesuffix(".py")

            def done(_r: object) -> None:
                self.script_name = name
                self._saved_text = source
                self._update_title()

            client_call(
                self,
                lambda: client.save_script(name, source),
                group="scripts",
                done=done,
                success=f"saved {name}.py",
            )

        self.app.push_screen(
            PromptDialog("Save script as (in scripts/)", self.script_name, check=check), go
        )

    def action_open(self) -> None:
        client = rtoc_app(self).client

        def pick(names: list[str]) -> None:
            if not names:
                self.app.notify("no saved scripts", title="scripts")
                return
            self.app.push_screen(ScriptListDialog(names), load)

        def load(name: str | None) -> None:
            if name is None:
                return
            self.load_named(name)

        client_call(self, client.saved_scripts, group="scripts", done=pick)

    def load_named(self, name: str) -> None:
        """Load a saved script into the editor."""
        client = rtoc_app(self).client

        def done(source: str) -> None:
            self.script_name = name.removesuffix(".py")
            self._saved_text = source
            self.query_one(PythonEditor).load_text(source)
            self._update_title()

        client_call(self, lambda: client.load_script(name), group="scripts", done=done)

    def action_new(self) -> None:
        self.script_name = "script"
        self._saved_text = ""
        self.query_one(PythonEditor).load_text("")
        self._update_title()

    def action_back(self) -> None:
        self.app.pop_screen()

    # -- the insert list ----------------------------------------------------------------------
    def apply_state(self, state: LoggerState, new_events: list[EventInfo]) -> None:
        """Keep the help list in step with signals and running devices."""
        running = {d.name for d in state.devices if d.state == "running"}
        if base_screen_visible(self) and (
            running != self._devices_loaded or self._signals_changed(state)
        ):
            self._refresh_help()

    def _signals_changed(self, state: LoggerState) -> bool:
        tree = self.query_one("#script-help", Tree)
        node = next((n for n in tree.root.children if n.data == "signals"), None)
        return node is None or len(node.children) != len(state.signals)

    def _refresh_help(self) -> None:
        state = rtoc_app(self).state
        running = sorted(d.name for d in state.devices if d.state == "running")
        client = rtoc_app(self).client

        async def fetch() -> list[DeviceDetail]:
            out = []
            for name in running:
                try:
                    out.append(await client.device_detail(name))
                except ClientError:
                    continue
            return out

        def done(details: list[DeviceDetail]) -> None:
            self._devices_loaded = set(running)
            self._fill_help(details)

        client_call(self, fetch, group="script-help", done=done, skip_if_busy=True)

    def _fill_help(self, details: list[DeviceDetail]) -> None:
        state = rtoc_app(self).state
        tree = self.query_one("#script-help", Tree)
        tree.clear()
        signals = tree.root.add("Signals", data="signals", expand=True)
        for name in sorted(state.signals):
            unit = state.signals[name].unit
            signals.add_leaf(f"{name}  [{unit}]" if unit else name, data=f"{name}.latest")
        for d in details:
            dev = tree.root.add(f"{d.devicename or d.name}", data="device", expand=False)
            for p in d.parameters:
                dev.add_leaf(f"{p.name} = {p.value!r}"[:60], data=f"{d.devicename}.{p.name}")
            for f in d.functions:
                dev.add_leaf(f"{f.name}{f.signature}"[:60], data=f"{d.devicename}.{f.name}()")

    @on(Tree.NodeSelected, "#script-help")
    def _insert(self, event: Tree.NodeSelected[str]) -> None:
        data = event.node.data
        if not data or data in ("signals", "device"):
            return
        editor = self.query_one(PythonEditor)
        editor.insert(data)
        editor.focus()

    def action_focus_help(self) -> None:
        self.query_one("#script-help").focus()


def _with_state(info: ScriptInfo, state: str, error: str = "") -> ScriptInfo:
    return ScriptInfo(info.id, info.name, info.mode, state, error or info.error, info.runs)
