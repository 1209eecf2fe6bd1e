"""What a training run shows while it runs: notes and rich progress bars (or nothing)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

_SHOWN = ("loss", "accuracy", "val_loss", "val_accuracy")


def _fmt(logs: dict[str, Any] | None) -> str:
    logs = logs or {}
    return "  ".join(f"{k} {float(logs[k]):.3f}" for k in _SHOWN if k in logs)


class Reporter:
    """Progress display for `train`: a rich Progress when enabled, silent otherwise."""

    def __init__(self, enabled: bool = True, console: Console | None = None) -> None:
        self.enabled = enabled
        self.console = console or Console(stderr=True, highlight=False)
        self.progress: Progress | None = None

    def __enter__(self) -> Reporter:
        if self.enabled:
            self.progress = Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TextColumn("{task.fields[info]}"),
                                     console=self.console, transient=False)
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def note(self, message: str) -> None:
        if self.enabled:
            (self.progress.console if self.progress else self.console).print(message)

    def task(self, description: str, total: int | None, completed: int = 0) -> int | None:
        if self.progress is None:
            return None
        return self.progress.add_task(description, total=total, completed=completed, info="")

    def update(self, task: int | None, **kwargs: Any) -> None:
        if self.progress is not None and task is not None:
            self.progress.update(task, **kwargs)

    def remove(self, task: int | None) -> None:
        if self.progress is not None and task is not None:
            self.progress.remove_task(task)

    def keras_callback(self, phase: str, epochs: int, initial_epoch: int, steps: int | None):
        """A Keras callback that drives one bar per phase (epochs) and one per epoch (batches)."""
        import keras

        reporter = self

        class _Bars(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.epoch_task = reporter.task(phase, total=epochs, completed=initial_epoch)
                self.batch_task = reporter.task("  batches", total=steps)

            def on_epoch_begin(self, epoch, logs=None):
                reporter.update(self.batch_task, completed=0, info="")

            def on_train_batch_end(self, batch, logs=None):
                reporter.update(self.batch_task, completed=batch + 1, info=_fmt(logs))

            def on_epoch_end(self, epoch, logs=None):
                reporter.update(self.epoch_task, completed=epoch + 1, info=f"epoch {epoch + 1}: {_fmt(logs)}")

            def on_train_end(self, logs=None):
                reporter.remove(self.batch_task)

        return _Bars()
