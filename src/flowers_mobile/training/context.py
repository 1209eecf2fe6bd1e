"""What both training phases share: the run's settings in one object, and the Keras pieces
(optimizer, loss, metrics, TensorBoard) each phase compiles with."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.config import Config
from flowers_mobile.data.sources import Dataset
from flowers_mobile.progress import Reporter
from flowers_mobile.training.multiworker import MultiWorker


@dataclass
class RunContext:
    """One run's inputs and the choices made from them before phase 1, plus what the phases record."""

    dataset: Dataset
    cfg: Config
    out_dir: Path
    backup: Path
    rep: Reporter
    strategy: Any
    mw: MultiWorker | None
    mixed: bool
    bn: str  # batchnorm mode: "frozen" or "train"
    scratch: bool  # model.weights=none
    n_replicas: int
    class_weight: dict[int, float] | None
    seconds: dict[str, float] = field(default_factory=dict)
    resumed: dict[str, int] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.dataset.classes)


def optimizer(learning_rate: float, schedule: str, total_steps: int):
    """Adam; with "cosine" the rate decays to 0 over the phase's planned steps (resumes with the
    optimizer's saved step count, so a resumed run follows the same curve)."""
    import keras

    if schedule == "cosine" and total_steps > 0:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total_steps)
    return keras.optimizers.Adam(learning_rate)


def loss(label_smoothing: float):
    import keras

    return keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)


def metrics(num_classes: int):
    import keras

    return [keras.metrics.CategoricalAccuracy(name="accuracy"),
            keras.metrics.TopKCategoricalAccuracy(k=min(5, num_classes), name="top5")]


def one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[y]


def tensorboard(log_dir: Path):
    import keras

    # Event files are append-only record streams; TensorBoard reads a cut-off last record fine.
    return keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False, profile_batch=0)
