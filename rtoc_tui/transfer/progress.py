"""Progress reporting for long imports and exports: a tiny protocol, a silent and a rich one."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)


class ProgressSink(Protocol):
    """Receives progress of one task at a time."""

    def start(self, description: str, total: float | None) -> None: ...

    def advance(self, amount: float) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    """Progress that goes nowhere (tests, the UI when it shows its own)."""

    def __init__(self) -> None:
        self.done = 0.0
        self.tasks: list[str] = []

    def start(self, description: str, total: float | None) -> None:
        self.tasks.append(description)

    def advance(self, amount: float) -> None:
        self.done += amount

    def finish(self) -> None:
        return None


class RichProgress:
    """A rich progress bar on stderr (use as a context manager)."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def start(self, description: str, total: float | None) -> None:
        self.finish()
        self._task = self._progress.add_task(description, total=total)

    def advance(self, amount: float) -> None:
        if self._task is not None:
            self._progress.advance(self._task, amount)

    def finish(self) -> None:
        if self._task is not None:
            task = self._progress.tasks[-1]
            if task.total is not None:
                self._progress.update(self._task, completed=task.total)
            self._task = None
