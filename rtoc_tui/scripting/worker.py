"""One script run in a thread of its own: once, repeated at a samplerate, or on new signal data.

A thread cannot be killed, so stopping is cooperative but needs nothing from the user: the
translator puts a checkpoint (`if __rtoc_stop__: __rtoc_halt__()`) at the top of every loop
body, function body, except handler and comprehension, and `request_stop` flips that flag in
the run's namespace. A checkpoint costs ~7 ns a loop pass; a sys.settrace line tracer cost
~180 ns a pass of a two-line loop (bench/bench_scripting.py), and CPython drops a tracer for good
once it raises, so a script that catches the stop could then never be stopped.
Blocking C calls (time.sleep, a device function waiting on I/O) finish before the stop takes
effect; scripts should use the interruptible `sleep()`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..api import ScriptInfo, ScriptOutput
from . import translator as tr
from .runtime import Output, Runtime, ScriptState, ScriptStopped, describe_error

MODES = ("once", "repeat", "trigger")
MAX_RATE_HZ = 1000.0

# reporter(run, lineno, message): called in the run's thread when the script raised
Reporter = Callable[["ScriptRun", "int | None", str], None]


class _Failed(Exception):
    """The script raised; already reported."""


class ScriptRun:
    """A script started once, repeated at `samplerate`, or run on new data of `triggers`."""

    def __init__(
        self,
        run_id: str,
        name: str,
        mode: str,
        translation: tr.Translation | None,
        runtime: Runtime,
        state: ScriptState,
        reporter: Reporter,
        samplerate: float | None = None,
        triggers: tuple[str, ...] = (),
        source: str = "",
        on_done: Callable[[ScriptRun], None] | None = None,
    ) -> None:
        self.id = run_id
        self.name = name
        self.mode = mode
        self.translation = translation
        self.samplerate = samplerate
        self.triggers = triggers
        self.source = source
        self.output = Output(name)
        self.state = "running"
        self.error = ""
        self.runs = 0
        self.started = time.time()
        self._runtime = runtime
        self._script_state = state
        self._reporter = reporter
        self._on_done = on_done
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._ns: dict[str, Any] | None = None
        self._thread: threading.Thread | None = None

    # -- control ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._main, name=f"rtoc-script-{self.id}", daemon=True
        )
        self._thread.start()

    def line_text(self, lineno: int | None) -> str:
        """The user's text of a line of this script (empty when out of range)."""
        lines = self.source.splitlines()
        if lineno is None or not 1 <= lineno <= len(lines):
            return ""
        return lines[lineno - 1].strip()

    def fail(self, lineno: int | None, message: str) -> None:
        """Mark a run that could not start (it did not compile)."""
        self._reporter(self, lineno, message)
        self.error = message if lineno is None else f"line {lineno}: {message}"
        self.state = "error"

    def request_stop(self) -> None:
        """Ask the script to stop at its next checkpoint (returns at once)."""
        self._stop.set()
        self._wake.set()
        ns = self._ns
        if ns is not None:
            ns[tr.STOP] = True

    def notify(self) -> None:
        """New data on a trigger signal (called in the writer's thread: keep it cheap)."""
        if not self._wake.is_set():
            self._wake.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has."""
        t = self._thread
        if t is None:
            return True
        t.join(timeout)
        return not t.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def info(self) -> ScriptInfo:
        return ScriptInfo(self.id, self.name, self.mode, self.state, self.error, self.runs)

    def read_output(self, cursor: int = 0) -> ScriptOutput:
        lines, new_cursor = self.output.since(cursor)
        return ScriptOutput(lines, new_cursor, self.state, self.error)

    # -- the thread ---------------------------------------------------------------------------
    def _main(self) -> None:
        final = "finished"
        try:
            if self.mode == "once":
                self._execute()
            elif self.mode == "repeat":
                self._repeat()
            else:
                self._triggered()
            if self._stop.is_set():
                final = "stopped"
        except ScriptStopped:
            final = "stopped"
        except _Failed:
            final = "error"
        except Exception as exc:  # a bug of ours: report it rather than die silently
            self._reporter(self, None, f"internal error: {type(exc).__name__}: {exc}")
            final = "error"
        finally:
            self.output.flush()
            self.state = final
            self._ns = None
            if self._on_done is not None:
                self._on_done(self)

    def _repeat(self) -> None:
        assert self.samplerate is not None
        period = 1.0 / self.samplerate
        next_t = time.monotonic()
        while not self._stop.is_set():
            self._execute()
            next_t += period
            now = time.monotonic()
            if next_t < now:  # overran: skip the missed ticks rather than run back to back
                next_t = now + period - ((now - next_t) % period)
            if self._stop.wait(max(0.0, next_t - time.monotonic())):
                return

    def _triggered(self) -> None:
        while True:
            self._wake.wait()
            if self._stop.is_set():
                return
            self._wake.clear()  # data arriving while the script runs wakes it once more
            self._execute()

    def _execute(self) -> None:
        translation = self.translation
        assert translation is not None
        state = self._script_state
        ns = self._runtime.namespace(state, self.output, self._stop)
        self._ns = ns
        if self._stop.is_set():  # a stop that raced with the namespace swap
            raise ScriptStopped
        try:
            exec(translation.code, ns)
        except ScriptStopped:
            raise
        except SystemExit:
            pass  # sys.exit() ends this run quietly, as it would end a program
        except BaseException as exc:
            lineno, message = describe_error(exc, translation.filename)
            self.error = message if lineno is None else f"line {lineno}: {message}"
            self._reporter(self, lineno, message)
            raise _Failed from exc
        finally:
            self.runs += 1
            for name in translation.globals:
                if name in ns:
                    state.globals[name] = ns[name]
