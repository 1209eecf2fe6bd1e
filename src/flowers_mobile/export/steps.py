"""Progress for `convert`: one task per step with its time, reported to an optional callback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flowers_mobile.progress import ProgressCallback, Reporter


class Steps:
    """Times every step (`seconds`) and reports each as a task that stops when it is done."""

    def __init__(self, progress: ProgressCallback | None) -> None:
        self.reporter = Reporter(progress)
        self.seconds: dict[str, float] = {}

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def start(self, description: str) -> Any:
        started = time.perf_counter()
        return description, started, self.reporter.task(description, total=1)

    def finish(self, handle: Any) -> None:
        description, started, task = handle
        self.seconds[description] = round(time.perf_counter() - started, 2)
        self.reporter.update(task, completed=1)
        self.reporter.stop(task)

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        handle = self.start(description)
        yield
        self.finish(handle)
