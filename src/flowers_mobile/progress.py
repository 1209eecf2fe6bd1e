"""Progress as events: the library reports what it is doing, the command layer decides how it looks.

Library code (training, export) takes one `ProgressCallback` (or None for silence) and calls it
with `ProgressEvent`s through a `Reporter`; it never imports a terminal library. The CLI passes
a rich display (`flowers_mobile.commands.progress_view`); tests and tools pass None.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

#: note: a line of text; start: a new task (a bar or a step line); update: its count or info;
#: stop: the task is done and its line stays; remove: the task is done and its line goes.
EventKind = Literal["note", "start", "update", "stop", "remove"]


@dataclass(frozen=True)
class ProgressEvent:
    """One thing to show. `task` ties start/update/stop/remove of the same task together."""

    kind: EventKind
    task: int = 0
    text: str = ""  # note: the message; start: the task's description
    total: int | None = None
    completed: int | None = None
    info: str | None = None  # a short status after the bar (losses, accuracy)


ProgressCallback = Callable[[ProgressEvent], None]


class Reporter:
    """The library's side of progress: a few calls that become events, nothing when silent."""

    _ids = itertools.count(1)

    def __init__(self, callback: ProgressCallback | None = None) -> None:
        # `or None`: callers that still pass progress=False get silence, as they did.
        self.callback = callback or None

    @property
    def enabled(self) -> bool:
        return self.callback is not None

    def note(self, message: str) -> None:
        if self.callback is not None:
            self.callback(ProgressEvent("note", text=message))

    def task(self, description: str, total: int | None, completed: int = 0) -> int | None:
        """Start a task; returns its id for `update`/`stop`/`remove` (None when silent)."""
        if self.callback is None:
            return None
        task = next(self._ids)
        self.callback(ProgressEvent("start", task, description, total=total, completed=completed))
        return task

    def update(self, task: int | None, *, completed: int | None = None, info: str | None = None) -> None:
        if self.callback is not None and task is not None:
            self.callback(ProgressEvent("update", task, completed=completed, info=info))

    def stop(self, task: int | None) -> None:
        if self.callback is not None and task is not None:
            self.callback(ProgressEvent("stop", task))

    def remove(self, task: int | None) -> None:
        if self.callback is not None and task is not None:
            self.callback(ProgressEvent("remove", task))
