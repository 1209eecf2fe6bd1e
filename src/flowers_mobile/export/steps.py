"""Progress for `convert`: one Rich line per step with its time, silent when disabled."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Steps:
    """Rich progress, one line per step with its time; silent when `enabled` is False."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.seconds: dict[str, float] = {}
        self._progress = None
        self._stream = None

    def __enter__(self) -> Steps:
        if self.enabled:
            import sys

            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            # A copy of stderr: the converters' native logs are silenced by redirecting
            # descriptor 2 (tflite.quiet_tf), and the progress display must not vanish with them.
            sys.stderr.flush()
            self._stream = os.fdopen(os.dup(2), "w", encoding="utf-8", errors="replace")
            self._progress = Progress(SpinnerColumn(finished_text="[green]✓"), TextColumn("{task.description}"),
                                      TimeElapsedColumn(), console=Console(file=self._stream),
                                      transient=False)
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self._stream is not None:
            self._stream.close()

    def start(self, description: str) -> Any:
        started = time.perf_counter()
        task = self._progress.add_task(description, total=1) if self._progress is not None else None
        return description, started, task

    def finish(self, handle: Any) -> None:
        description, started, task = handle
        self.seconds[description] = round(time.perf_counter() - started, 2)
        if self._progress is not None:
            self._progress.update(task, completed=1)
            self._progress.stop_task(task)

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        handle = self.start(description)
        yield
        self.finish(handle)
