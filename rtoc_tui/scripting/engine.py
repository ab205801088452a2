"""The automation service: script runs, saved scripts, global events and global actions.

`logger.automation` is an `Automation`. Its public methods (run, list, stop, output, saved, load,
save, global_events, set_global_event, global_actions, set_global_action) take and return
plain values, so LocalClient and the TCP server call them the same way. They are quick and
thread-safe; `stop` waits at most STOP_WAIT_S for the script's thread.

Threads: each script run has its own; one `rtoc-automation` worker evaluates global-event
conditions and watches the two JSON files. The store listener (writer's thread) only marks
signals dirty and wakes whoever waits on them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..api import ScriptInfo, ScriptOutput
from ..atomic import atomic_write_text
from ..core.buffer import SignalBuffer
from ..core.events import Event
from . import translator as tr
from .automation import (
    CompiledAction,
    CompiledEvent,
    SpecError,
    SpecFile,
    compile_action,
    compile_event,
    normalise_action,
    normalise_event,
)
from .runtime import Runtime, ScriptState, ScriptStopped, call_quietly, describe_error
from .worker import MAX_RATE_HZ, MODES, ScriptRun

if TYPE_CHECKING:
    from ..core.logger import Logger

log = logging.getLogger("rtoc.automation")

FILE_POLL_S = 1.0  # how often globalEvents.json / globalActions.json are checked for edits
STOP_WAIT_S = 0.25
MAX_KEPT_RUNS = 50  # finished runs kept for list()/output()
_SCRIPT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9 _.\-]{0,99}$")


class ScriptingError(ValueError):
    """A scripting request was refused; the message says why."""


def _signal_key(name: Any) -> tuple[str, str]:
    if not isinstance(name, str):
        raise ScriptingError(f"trigger signals are names like 'Device.Signal', not {name!r}")
    dname, dot, sname = name.partition(".")
    if not dot or not dname or not sname:
        raise ScriptingError(f"trigger signal {name!r} is not of the form 'Device.Signal'")
    return dname, sname


class AutomationService:
    """The logger service around an Automation (its own `stop(id)` stops a script run)."""

    name = "automation"

    def __init__(self, automation: Automation) -> None:
        self.automation = automation

    async def start(self) -> None:
        self.automation.open()

    async def stop(self) -> None:
        await asyncio.to_thread(self.automation.close)


class Automation:
    """Scripts, global events and global actions of one logger."""

    def __init__(self, logger: Logger) -> None:
        self.logger = logger
        self.runtime = Runtime(logger)
        self.scripts_dir = Path(logger.home.scripts_dir)
        self._lock = threading.RLock()
        self._runs: dict[str, ScriptRun] = {}
        self._states: dict[str, ScriptState] = {}
        self._next_id = 1
        self._trigger_index: dict[tuple[str, str], tuple[ScriptRun, ...]] = {}
        self._action_runs: dict[str, ScriptRun] = {}
        known = self.runtime.known
        self.events_file = SpecFile(
            logger.home.global_events_file,
            "global event",
            lambda n, raw: compile_event(n, normalise_event(raw), known),
        )
        self.actions_file = SpecFile(
            logger.home.global_actions_file,
            "global action",
            lambda n, raw: compile_action(n, normalise_action(raw), known),
        )
        self._events: dict[str, CompiledEvent] = {}
        self._event_index: dict[tuple[str, str], tuple[CompiledEvent, ...]] = {}
        self._action_index: dict[str, tuple[str, ...]] = {}
        self._cond_ns = self.runtime.condition_namespace()
        self._dirty: set[tuple[str, str]] = set()
        self._wake = threading.Event()
        self._halt = threading.Event()
        self._worker: threading.Thread | None = None
        self._listening = False
        self._listen()
        self.service = AutomationService(self)

    # -- lifecycle (AutomationService calls these) -----------------------------------------------
    def open(self) -> None:
        """Load the global event/action files, listen to data and events, start the worker."""
        self._listen()
        self._ensure_loaded()
        if self._worker is None or not self._worker.is_alive():
            self._halt.clear()
            self._cond_ns[tr.STOP] = False
            self._worker = threading.Thread(target=self._work, name="rtoc-automation", daemon=True)
            self._worker.start()

    def close(self, timeout: float = 2.0) -> None:
        """Stop every script run and the worker; nothing of ours keeps running afterwards."""
        self._halt.set()
        self._cond_ns[tr.STOP] = True  # ends a runaway comprehension in a condition
        self._wake.set()
        runs = list(self._runs.values())
        for run in runs:
            run.request_stop()
        deadline = time.monotonic() + timeout
        for run in runs:
            if not run.join(max(0.0, deadline - time.monotonic())):
                log.warning(
                    "script %s (%s) did not stop within %.1f s (blocked in a call)",
                    run.id,
                    run.name,
                    timeout,
                )
        if self._worker is not None:
            self._worker.join(max(0.1, deadline - time.monotonic()))
            self._worker = None
        self._unlisten()

    def _listen(self) -> None:
        if not self._listening:
            self._listening = True
            self._sync_watch()
            self.logger.events.add_listener(self._on_event)

    def _unlisten(self) -> None:
        if self._listening:
            self._listening = False
            self.logger.store.watch(self._on_data, ())
            self.logger.events.remove_listener(self._on_event)

    def _sync_watch(self) -> None:
        """Only the signals conditions or triggered scripts use pay for a data callback."""
        if self._listening:
            self.logger.store.watch(self._on_data, {*self._event_index, *self._trigger_index})

    # -- hot paths (other threads) ----------------------------------------------------------------
    def _on_data(self, buf: SignalBuffer, n: int) -> None:
        """Store listener, in the writer's thread: mark and wake, never evaluate here."""
        key = (buf.dname, buf.sname)
        if key in self._event_index:
            self._dirty.add(key)
            if not self._wake.is_set():
                self._wake.set()
        runs = self._trigger_index.get(key)
        if runs is not None:
            for run in runs:
                run.notify()

    def _on_event(self, ev: Event) -> None:
        """Event listener: run the active actions listening to this event's id."""
        if not ev.id:
            return
        names = self._action_index.get(ev.id)
        if names is None or not self.logger.config.global_.globalActionsActivated:
            return
        for name in names:
            self._run_action(name)

    # -- scripts ----------------------------------------------------------------------------------
    def run(
        self,
        source: str,
        name: str = "script",
        mode: str = "once",
        samplerate: float | None = None,
        triggers: Sequence[str] | None = None,
    ) -> ScriptInfo:
        """Start a script once, repeated at samplerate (Hz), or on new data of `triggers`.

        A script that does not compile comes back in state "error" (line and reason in
        `error`, the output and an event), like one that fails while running.
        """
        if not isinstance(source, str):
            raise ScriptingError("the script source must be text")
        name = str(name or "script")
        if len(name) > 100:
            raise ScriptingError("script names are at most 100 characters")
        if mode not in MODES:
            raise ScriptingError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        rate = None
        if mode == "repeat":
            try:
                rate = float(samplerate)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ScriptingError("a repeated script needs a samplerate in Hz") from None
            if not (math.isfinite(rate) and 0 < rate <= MAX_RATE_HZ):
                raise ScriptingError(
                    f"samplerate must be > 0 and <= {MAX_RATE_HZ:g} Hz, not {samplerate!r}"
                )
        names: tuple[str, ...] = ()
        if mode == "trigger":
            items = [triggers] if isinstance(triggers, str) else list(triggers or [])
            if not items:
                raise ScriptingError(
                    "a triggered script needs at least one trigger signal ('Device.Signal')"
                )
            for item in items:
                _signal_key(item)
            names = tuple(items)
        try:
            translation: tr.Translation | None = tr.translate(
                source, name, known=self.runtime.known
            )
        except tr.TranslationError as exc:
            run = self._new_run(name, mode, None, source, rate, names, name)
            run.fail(exc.lineno, exc.message)
            return run.info()
        run = self._new_run(name, mode, translation, source, rate, names, name)
        if mode == "trigger":
            self._subscribe(run)
        run.start()
        return run.info()

    def list(self) -> list[ScriptInfo]:
        """All runs we still know about, oldest first."""
        with self._lock:
            return [r.info() for r in self._runs.values()]

    def stop(self, script_id: str) -> None:
        """Stop a run (an endless loop included); waits at most STOP_WAIT_S for it to end."""
        run = self._get(script_id)
        run.request_stop()
        run.join(STOP_WAIT_S)

    def output(self, script_id: str, cursor: int = 0) -> ScriptOutput:
        """A run's output lines after `cursor` (0: from the start), its state and error."""
        try:
            cursor = int(cursor)
        except (TypeError, ValueError):
            raise ScriptingError(f"cursor must be an integer, not {cursor!r}") from None
        return self._get(script_id).read_output(cursor)

    def _get(self, script_id: str) -> ScriptRun:
        run = self._runs.get(str(script_id))
        if run is None:
            raise ScriptingError(f"no script run with id {script_id!r}")
        return run

    def _new_run(
        self,
        name: str,
        mode: str,
        translation: tr.Translation | None,
        source: str,
        rate: float | None,
        triggers: tuple[str, ...],
        state_key: str,
    ) -> ScriptRun:
        with self._lock:
            run_id = str(self._next_id)
            self._next_id += 1
            state = self._states.setdefault(state_key, ScriptState())
            run = ScriptRun(
                run_id,
                name,
                mode,
                translation,
                self.runtime,
                state,
                self._report_run_error,
                samplerate=rate,
                triggers=triggers,
                source=source,
                on_done=self._run_done,
            )
            self._runs[run_id] = run
            finished = [k for k, r in self._runs.items() if r.state != "running" and not r.alive]
            for k in finished[: max(0, len(self._runs) - MAX_KEPT_RUNS)]:
                del self._runs[k]
            return run

    def _subscribe(self, run: ScriptRun) -> None:
        with self._lock:
            index = {k: list(v) for k, v in self._trigger_index.items()}
            for name in run.triggers:
                index.setdefault(_signal_key(name), []).append(run)
            self._trigger_index = {k: tuple(v) for k, v in index.items()}  # swapped, never mutated
            self._sync_watch()

    def _run_done(self, run: ScriptRun) -> None:
        if run.mode != "trigger":
            return
        with self._lock:
            index = {k: tuple(r for r in v if r is not run) for k, v in self._trigger_index.items()}
            self._trigger_index = {k: v for k, v in index.items() if v}
            self._sync_watch()

    def _report_run_error(self, run: ScriptRun, lineno: int | None, message: str) -> None:
        where = f"line {lineno}: " if lineno else ""
        run.output.line(f"Error in {where}{message}")
        text = run.line_text(lineno)
        if text:
            run.output.line(f"    {text}")
        log.error("script %s: %s%s", run.name, where, message)
        call_quietly(
            lambda: self.logger.events.add(
                f"Script {run.name}: {where}{message}",
                dname="Script",
                sname=run.name,
                priority=2,
                id="scriptError",
            )
        )

    # -- saved scripts ------------------------------------------------------------------------------
    def _script_path(self, name: str) -> Path:
        if not isinstance(name, str):
            raise ScriptingError("script names are text")
        if name.endswith(".py"):
            name = name[:-3]
        if not _SCRIPT_NAME.match(name) or ".." in name:
            raise ScriptingError(
                f"invalid script name {name!r}: use letters, digits, space, '_', '-' and '.', at most 100, no '..'"
            )
        path = self.scripts_dir / f"{name}.py"
        if path.resolve().parent != self.scripts_dir.resolve():
            raise ScriptingError(f"invalid script name {name!r}")
        return path

    def saved(self) -> list[str]:
        """Names of the scripts in the user folder's scripts/ (without .py)."""
        if not self.scripts_dir.is_dir():
            return []
        return sorted(p.stem for p in self.scripts_dir.glob("*.py") if p.is_file())

    def load(self, name: str) -> str:
        path = self._script_path(name)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScriptingError(f"no saved script named {name!r}") from None

    def save(self, name: str, source: str) -> None:
        if not isinstance(source, str):
            raise ScriptingError("the script source must be text")
        atomic_write_text(self._script_path(name), source)

    # -- global events and actions ----------------------------------------------------------------
    def global_events(self) -> dict[str, dict[str, Any]]:
        """globalEvents.json's entries (plus `errors`/`error` saying whether each is valid)."""
        self._ensure_loaded()
        with self._lock:
            return self.events_file.view()

    def set_global_event(self, name: str, spec: dict[str, Any] | None) -> None:
        """Add or replace (spec) or delete (None) a global event; saved and active at once."""
        self._ensure_loaded()
        with self._lock:
            try:
                self.events_file.set(name, spec)
            except SpecError as exc:
                raise ScriptingError(f"global event {name!r}: {exc}") from None
            self._rebuild_events()

    def global_actions(self) -> dict[str, dict[str, Any]]:
        """globalActions.json's entries (plus `errors`/`error`)."""
        self._ensure_loaded()
        with self._lock:
            return self.actions_file.view()

    def set_global_action(self, name: str, spec: dict[str, Any] | None) -> None:
        """Add or replace (spec) or delete (None) a global action; saved and active at once."""
        self._ensure_loaded()
        with self._lock:
            try:
                self.actions_file.set(name, spec)
            except SpecError as exc:
                raise ScriptingError(f"global action {name!r}: {exc}") from None
            self._rebuild_actions()

    def reload(self) -> None:
        """Read both files again now (the worker also does this when they change on disk)."""
        with self._lock:
            self._load(self.events_file)
            self._load(self.actions_file)

    def _ensure_loaded(self) -> None:
        with self._lock:
            if not self.events_file.loaded:
                self._load(self.events_file)
            if not self.actions_file.loaded:
                self._load(self.actions_file)

    def _load(self, spec_file: SpecFile) -> None:
        problems = spec_file.load()
        if spec_file is self.events_file:
            self._rebuild_events()
        else:
            self._rebuild_actions()
        sname = "globalEvents" if spec_file is self.events_file else "globalActions"
        for text in problems:
            self._problem(text, sname)

    def _problem(self, text: str, sname: str) -> None:
        log.error("%s", text)
        call_quietly(
            lambda: self.logger.events.add(
                text, dname="RTOC", sname=sname, priority=2, id=f"{sname}Error"
            )
        )

    def _rebuild_events(self) -> None:
        old = self._events
        events: dict[str, CompiledEvent] = {}
        index: dict[tuple[str, str], list[CompiledEvent]] = {}
        for name, ce in self.events_file.compiled.items():
            prev = old.get(name)
            if prev is not None and prev.spec == ce.spec:
                ce.latest = prev.latest  # an unchanged event keeps its trigger state
            events[name] = ce
            if ce.spec["active"]:
                for key in ce.keys:
                    index.setdefault(key, []).append(ce)
        self._events = events
        self._event_index = {k: tuple(v) for k, v in index.items()}
        self._sync_watch()

    def _rebuild_actions(self) -> None:
        index: dict[str, list[str]] = {}
        for name, ca in self.actions_file.compiled.items():
            if ca.spec["active"]:
                for event_id in ca.spec["listenID"]:
                    index.setdefault(event_id, []).append(name)
        self._action_index = {k: tuple(v) for k, v in index.items()}

    def _run_action(self, name: str) -> None:
        ca: CompiledAction | None = self.actions_file.compiled.get(name)
        if ca is None:
            return
        with self._lock:
            prev = self._action_runs.get(name)
            if prev is not None and prev.alive:
                log.warning("global action %s is still running; this trigger is skipped", name)
                return
            label = f"action:{name}"
            run = self._new_run(label, "once", ca.translation, ca.spec["script"], None, (), label)
            self._action_runs[name] = run
        run.start()

    # -- the worker -------------------------------------------------------------------------------
    def _work(self) -> None:
        next_poll = time.monotonic() + FILE_POLL_S
        while not self._halt.is_set():
            try:
                if self._wake.wait(max(0.0, next_poll - time.monotonic())):
                    if self._halt.is_set():
                        return
                    self._wake.clear()
                    self.evaluate_dirty()
                if time.monotonic() >= next_poll:
                    self._poll_files()
                    next_poll = time.monotonic() + FILE_POLL_S
            except ScriptStopped:
                return
            except Exception:
                log.exception("automation worker failed; continuing")

    def _poll_files(self) -> None:
        for spec_file in (self.events_file, self.actions_file):
            if spec_file.changed_on_disk():
                log.info("%s changed on disk; reloading", spec_file.path.name)
                with self._lock:
                    self._load(spec_file)

    def evaluate_dirty(self) -> int:
        """Evaluate the conditions of every signal marked since the last call; returns how many."""
        dirty = self._dirty
        keys = []
        while dirty:  # this worker is the only consumer, so pop cannot fail; writers may add
            keys.append(dirty.pop())
        if not keys or not self.logger.config.global_.globalEventsActivated:
            return 0
        index = self._event_index
        if len(keys) == 1:  # the common case: no de-duplication needed
            key = keys[0]
            todo = index.get(key, ())
            for ce in todo:
                self._evaluate(ce, key)
            return len(todo)
        seen: dict[int, tuple[CompiledEvent, tuple[str, str]]] = {}
        for key in keys:
            for ce in index.get(key, ()):
                seen.setdefault(id(ce), (ce, key))
        for ce, key in seen.values():
            self._evaluate(ce, key)
        return len(seen)

    def _evaluate(self, ce: CompiledEvent, key: tuple[str, str]) -> None:
        try:
            value = bool(eval(ce.translation.code, self._cond_ns))
        except ScriptStopped:
            raise
        except Exception as exc:
            _lineno, message = describe_error(exc, ce.translation.filename)
            if message != ce.last_error:  # once per distinct error, not per sample
                ce.last_error = message
                self._problem(
                    f"global event {ce.name!r}: condition {ce.spec['cond']!r} failed: {message}",
                    "globalEvents",
                )
            return
        ce.last_error = None
        if not ce.fires(value):
            return
        spec = ce.spec
        dname, sname = spec["dname"], spec["sname"]
        if not dname and not sname:  # RTOC left them empty; the triggering signal is more useful
            dname, sname = key
        ret = spec["return"]
        self.logger.events.add(
            spec["text"] or ce.name,
            dname=dname,
            sname=sname,
            priority=spec["priority"],
            id=spec["id"],
            value=ret if isinstance(ret, str) and ret.strip() else None,
        )
