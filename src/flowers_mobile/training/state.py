"""Resumable phase state: Keras `BackupAndRestore`, made atomic and with early stopping inside.

`BackupAndRestore` writes its weights file and its epoch counter one after the other, in
place: a kill between the two (or during the first) leaves a state that is corrupt or one
epoch off, and `EarlyStopping` / `History` forget everything when the process dies. Here one
folder per phase holds all of it and is replaced as a whole after every epoch
(`fsutil.atomic_dir`):

    <backup>/<phase>/latest.weights.h5   model and optimizer variables after the last epoch
    <backup>/<phase>/best.weights.h5     the best epoch's (early stopping restores these)
    <backup>/<phase>/state.json          epochs done, per-epoch history, best epoch, stopped

A killed run therefore resumes at the first epoch it had not finished, with the optimizer's
moments, the history and the early-stopping count as they were.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

from flowers_mobile.fsutil import atomic_dir

LATEST = "latest.weights.h5"
BEST = "best.weights.h5"
STATE = "state.json"


class PhaseState:
    """Progress of one training phase, saved after every epoch.

    Args:
        folder: this phase's backup folder (created on the first save).
        epochs: epochs the phase runs at most.
        patience: stop after this many epochs without improvement; 0 never stops early.
        monitor: the metric to maximise ("val_accuracy"); ties are broken by a lower "val_loss".
    """

    def __init__(self, folder: Path, epochs: int, patience: int, monitor: str = "val_accuracy") -> None:
        self.folder = Path(folder)
        self.epochs = epochs
        self.patience = patience
        self.monitor = monitor
        self.epoch = 0  # epochs completed
        self.history: dict[str, list[float]] = {}
        self.best_epoch: int | None = None  # 0-based
        self.stopped = False
        self.resumed_at: int | None = None

    # -- persistence ---------------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.folder / STATE).is_file()

    def restore(self, model) -> bool:
        """Load the saved weights, optimizer variables and counters into `model` (compiled).

        Returns:
            True when there was a state to restore.
        """
        if not self.exists():
            return False
        state = json.loads((self.folder / STATE).read_text(encoding="utf-8"))
        self.epoch = int(state["epoch"])
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.best_epoch = state["best_epoch"]
        self.stopped = bool(state["stopped"])
        if model.optimizer is not None and not model.optimizer.built:
            # The optimizer's slots must exist before their saved values can be loaded.
            model.optimizer.build(model.trainable_variables)
        model.load_weights(self.folder / LATEST)
        self.resumed_at = self.epoch
        return True

    def restore_best(self, model) -> bool:
        """Put the best epoch's weights into `model` (early stopping's restore_best_weights)."""
        path = self.folder / BEST
        if not path.is_file():
            return False
        model.load_weights(path)
        return True

    def save(self, model, improved: bool) -> None:
        """Write the whole state as one folder that replaces the previous one atomically."""
        old_best = self.folder / BEST
        with atomic_dir(self.folder) as tmp:
            model.save_weights(tmp / LATEST)
            if improved:
                model.save_weights(tmp / BEST)
            elif old_best.is_file():
                _link_or_copy(old_best, tmp / BEST)
            state = {"epoch": self.epoch, "epochs": self.epochs, "history": self.history,
                     "best_epoch": self.best_epoch, "stopped": self.stopped, "monitor": self.monitor}
            (tmp / STATE).write_text(json.dumps(state, indent=1), encoding="utf-8")

    # -- bookkeeping ---------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.stopped or self.epoch >= self.epochs

    def best_value(self) -> float | None:
        if self.best_epoch is None:
            return None
        return self.history[self.monitor][self.best_epoch]

    def _is_better(self, logs: dict[str, float]) -> bool:
        value = logs.get(self.monitor)
        if value is None or math.isnan(value):
            return False
        if self.best_epoch is None:
            return True
        best = self.history[self.monitor][self.best_epoch]
        if value != best:
            return value > best
        loss_key = self.monitor.replace("accuracy", "loss")
        losses = self.history.get(loss_key)
        new_loss = logs.get(loss_key)
        return losses is not None and new_loss is not None and new_loss < losses[self.best_epoch]

    def record(self, epoch: int, logs: dict[str, Any], model) -> None:
        """Called at the end of epoch `epoch` (0-based): history, best epoch, stop decision, save."""
        logs = {k: float(v) for k, v in (logs or {}).items() if _is_number(v)}
        improved = self._is_better(logs)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        self.epoch = epoch + 1
        if improved:
            self.best_epoch = epoch
        if self.patience > 0 and self.best_epoch is not None and epoch - self.best_epoch >= self.patience:
            self.stopped = True
        self.save(model, improved)


def save_weights_atomic(model, path: Path) -> Path:
    """`model.save_weights` through a temporary name (Keras insists on a `.weights.h5` ending)."""
    path = Path(path)
    tmp = path.parent / f".{path.name.removesuffix('.weights.h5')}.{os.getpid()}.tmp.weights.h5"
    try:
        model.save_weights(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _link_or_copy(src: Path, dst: Path) -> None:
    """A hard link costs nothing and survives the old folder's removal; copy where links fail."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def checkpoint_callback(state: PhaseState):
    """A Keras callback that records every epoch in `state` and stops when it says so."""
    import keras

    class _Checkpoint(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            logs["epoch_seconds"] = round(time.perf_counter() - self.started, 3)
            state.record(epoch, logs, self.model)
            if state.stopped:
                self.model.stop_training = True

    return _Checkpoint()
