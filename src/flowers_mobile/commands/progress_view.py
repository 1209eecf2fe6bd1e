"""The terminal side of progress: rich bars and step lines for the library's `ProgressEvent`s.

The only place besides the command modules that imports rich for progress. A view starts its
rich display at the first event, so a run that reports nothing (a non-chief training worker)
draws nothing.
"""

from __future__ import annotations

import os
import sys
from typing import Literal

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from flowers_mobile.progress import ProgressEvent


class RichProgress:
    """A `ProgressCallback` drawing on stderr; use it as a context manager around the library call.

    style "bars": a bar, count, time and status per task (`train`). style "steps": a spinner
    that turns into a check mark and the step's time (`convert`).
    dup_stderr: draw on a copy of descriptor 2, made now: `convert` silences the converters'
    native logs by redirecting descriptor 2, and the display must not vanish with them.
    """

    def __init__(self, style: Literal["bars", "steps"] = "bars", *, dup_stderr: bool = False) -> None:
        self.style = style
        self._stream = None
        if dup_stderr:
            sys.stderr.flush()
            self._stream = os.fdopen(os.dup(2), "w", encoding="utf-8", errors="replace")
            self.console = Console(file=self._stream)
        else:
            self.console = Console(stderr=True, highlight=False)
        self._progress: Progress | None = None
        self._tasks: dict[int, object] = {}

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _display(self) -> Progress:
        if self._progress is None:
            if self.style == "steps":
                columns = (SpinnerColumn(finished_text="[green]✓"), TextColumn("{task.description}"),
                           TimeElapsedColumn())
            else:
                columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), TextColumn("{task.fields[info]}"))
            self._progress = Progress(*columns, console=self.console, transient=False)
            self._progress.start()
        return self._progress

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == "note":
            (self._progress.console if self._progress else self.console).print(event.text)
            return
        progress = self._display()
        if event.kind == "start":
            self._tasks[event.task] = progress.add_task(event.text, total=event.total,
                                                        completed=event.completed or 0, info="")
            return
        task = self._tasks.get(event.task)
        if task is None:
            return
        if event.kind == "update":
            fields = {k: v for k, v in (("completed", event.completed), ("info", event.info)) if v is not None}
            progress.update(task, **fields)
        elif event.kind == "stop":
            progress.stop_task(task)
        elif event.kind == "remove":
            progress.remove_task(task)
            del self._tasks[event.task]
