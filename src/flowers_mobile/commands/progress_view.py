"""The terminal side of progress: rich bars and step lines for the library's `ProgressEvent`s.

The only place besides the command modules that imports rich for progress. A view starts its
rich display at the first event, so a run that reports nothing (a non-chief training worker)
draws nothing.

Written to a file or a pipe (a log, CI), live frames would be cut at a guessed width and
repeated; there the view writes plain lines instead: one per finished step, one per epoch (a
task's update that carries a status), one when a counted task completes. Sub-tasks (their
descriptions start with a space: the batches of an epoch) are left out of the lines.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Literal

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
            # sys.stderr's own descriptor: 2 itself may be the native-log filter's pipe (tf_quiet.py).
            # Under a test runner sys.stderr is an in-memory stream without one: descriptor 2 then.
            try:
                fd = sys.stderr.fileno()
            except (AttributeError, OSError, ValueError):
                fd = 2
            self._stream = os.fdopen(os.dup(fd), "w", encoding="utf-8", errors="replace")
            self.console = Console(file=self._stream)
        else:
            self.console = Console(stderr=True, highlight=False)
        self._progress: Progress | None = None
        self._tasks: dict[int, object] = {}
        #: Plain lines instead of a live display: stderr is not a terminal.
        self.lines = not self.console.is_terminal
        self._plain: dict[int, dict[str, Any]] = {}

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

    def _line(self, text: str) -> None:
        # soft_wrap: a log line is never cut or folded at the width rich guesses for a file.
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        self.console.file.flush()

    def _plain_event(self, event: ProgressEvent) -> None:
        """One readable line per step, epoch or finished count (see the module docstring)."""
        now = time.monotonic()
        if event.kind == "note":
            self._line(event.text)
            return
        if event.kind == "start":
            self._plain[event.task] = {"text": event.text, "total": event.total, "completed": event.completed or 0,
                                       "info": "", "since": now, "begun": now, "done": False}
            return
        task = self._plain.get(event.task)
        if task is None:
            return
        sub = task["text"][:1].isspace()
        if event.kind == "update":
            changed = event.completed is not None and event.completed != task["completed"]
            if event.completed is not None:
                task["completed"] = event.completed
            said = event.info is not None and event.info != task["info"] and event.info != ""
            if event.info is not None:
                task["info"] = event.info
            if sub or self.style == "steps":
                return
            count = f" {task['completed']}/{task['total']}" if task["total"] else ""
            if said and changed:  # an epoch ended: its figures, and how long it took
                self._line(f"{task['text']}{count}: {task['info']} ({now - task['since']:.1f} s)")
                task["since"] = now
                task["done"] = task["total"] is not None and task["completed"] >= task["total"]
            elif changed and task["total"] is not None and task["completed"] >= task["total"] and not task["done"]:
                self._line(f"{task['text']}{count} done ({now - task['begun']:.1f} s)")
                task["done"] = True
        elif event.kind == "stop":
            if self.style == "steps" and not sub:
                self._line(f"✓ {task['text']} ({now - task['begun']:.1f} s)")
        elif event.kind == "remove":
            self._plain.pop(event.task, None)

    def __call__(self, event: ProgressEvent) -> None:
        if self.lines:
            self._plain_event(event)
            return
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
