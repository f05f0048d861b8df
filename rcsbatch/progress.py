"""A progress bar with rate and ETA on stderr, shown only when stderr is a terminal."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

from rcsbatch.state.journal import Outcome


class Progress:
    """Counts outcomes as they come; does nothing when disabled (not a terminal, or -q)."""

    def __init__(self, console: Console, *, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        self._console = console

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def start(self, total: int) -> None:
        """Show the bar for `total` messages."""
        if not self.enabled or total == 0:
            return
        self._bar = RichProgress(
            TextColumn("sending"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>7.0f}/s"),
            TimeRemainingColumn(),
            console=self._console,
            transient=True,
        )
        self._task = self._bar.add_task("send", total=total, rate=0.0)
        self._bar.start()

    def advance(self, outcome: Outcome) -> None:
        """Count one finished row."""
        if self._bar is None or self._task is None:
            return
        self._bar.advance(self._task)
        task = self._bar.tasks[0]
        self._bar.update(self._task, rate=task.speed or 0.0)
