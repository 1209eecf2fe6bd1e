"""What a training run shows while it runs: a Keras callback that reports epochs and batches.

The events go to the run's `flowers_mobile.progress.Reporter`; how they look is the caller's
business (the CLI draws rich bars).
"""

from __future__ import annotations

from typing import Any

from flowers_mobile.progress import Reporter

_SHOWN = ("loss", "accuracy", "val_loss", "val_accuracy")


def _fmt(logs: dict[str, Any] | None) -> str:
    logs = logs or {}
    return "  ".join(f"{k} {float(logs[k]):.3f}" for k in _SHOWN if k in logs)


def keras_callback(reporter: Reporter, phase: str, epochs: int, initial_epoch: int, steps: int | None):
    """A Keras callback that drives one task per phase (epochs) and one per epoch (batches)."""
    import keras

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
