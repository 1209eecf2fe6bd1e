"""The custom training loop that runs a phase under MultiWorkerMirroredStrategy.

Keras 3's ``fit`` fails under that strategy (its first-batch build and its metric reductions
use collectives the strategy rejects), so multi-worker phases train here with tf.distribute's
own pieces: ``strategy.run`` on a ``tf.function`` step, ``tf.nn.compute_average_loss`` over the
global batch, ``optimizer.apply_gradients`` (which all-reduces the gradients) and
``strategy.reduce`` for the metrics. ``fit`` stays for one worker and ``mirrored``: it is the
path every other Keras user takes and needs none of this.

The semantics are fit's: per-sample class weights and label smoothing in the loss, the
model's own optimizer (its learning-rate schedule counts the same steps), loss / accuracy /
top-k over the epoch and on the validation split (no class weights there, as in fit), one
`PhaseState.record` per epoch (history, early stopping on validation accuracy, atomic backup)
and TensorBoard scalars on the chief. All metrics are sums reduced over every worker, so every
worker sees the same numbers and takes the same early-stopping decision.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.progress import Reporter
from flowers_mobile.training.progress import _fmt
from flowers_mobile.training.state import PhaseState

#: The per-batch sums every step and evaluation returns, in this order.
SUMS = ("loss", "count", "accuracy", "top5")


@dataclass
class Phase:
    """One phase as the loop runs it.

    Args:
        name: shown on the progress bar ("phase 2: fine-tune").
        epochs: epochs at most.
        steps: global steps per epoch (every worker's dataset yields exactly this many batches).
        global_batch: the batch over all replicas (training.batch_size).
        num_classes: for top-k (k = min(5, classes)).
        label_smoothing: as in fit's loss.
        class_weight: class -> weight, or None.
        seed: the shuffle seed (the same on every worker).
        log_dir: TensorBoard folder (``<run>/logs/<phase>``) on the chief; None elsewhere.
    """

    name: str
    epochs: int
    steps: int
    global_batch: int
    num_classes: int
    label_smoothing: float = 0.0
    class_weight: dict[int, float] | None = None
    seed: int = 0
    log_dir: Path | None = None


def fit(strategy, model, phase: Phase, state: PhaseState, train_fn: Callable[[Any], Any],
        val_batches: Callable[[], Iterable[tuple[Any, Any]]], reduce_sum: Callable[[np.ndarray], np.ndarray],
        rep: Reporter, epoch_end: Callable[[], None] | None = None) -> None:
    """Train `model` (built and compiled in the strategy's scope) from ``state.epoch`` on.

    Args:
        train_fn: ``tf.distribute.InputContext -> tf.data.Dataset`` of (images or features,
            one-hot labels), batched per replica, ``phase.steps`` batches per replica.
        val_batches: this worker's share of the validation split, as (x, one-hot y) batches.
        reduce_sum: sums a numpy vector over the workers (`MultiWorker.all_reduce_sum`).
        epoch_end: called after each epoch's steps, before validation and the backup.
    """
    import tensorflow as tf

    train_data = strategy.distribute_datasets_from_function(train_fn)
    step = _train_step(strategy, model, phase)
    evaluate = _evaluator(model, phase)
    writers = _writers(phase.log_dir)
    epoch_task = rep.task(phase.name, total=phase.epochs, completed=state.epoch)
    batch_task = rep.task("  batches", total=phase.steps)
    for epoch in range(state.epoch, phase.epochs):
        started = time.perf_counter()
        totals = np.zeros(len(SUMS))
        rep.update(batch_task, completed=0, info="")
        for b, (x, y) in enumerate(train_data):
            totals += step(x, y).numpy()
            rep.update(batch_task, completed=b + 1, info=_fmt(_logs(totals)))
        if epoch_end is not None:
            epoch_end()
        val = np.zeros(len(SUMS))
        for x, y in val_batches():
            val += evaluate(tf.convert_to_tensor(x), tf.convert_to_tensor(y)).numpy()
        logs = {**_logs(totals), **{f"val_{k}": v for k, v in _logs(reduce_sum(val)).items()}}
        logs["epoch_seconds"] = round(time.perf_counter() - started, 3)
        state.record(epoch, logs, model)
        _write_scalars(writers, epoch, logs, model)
        rep.update(epoch_task, completed=epoch + 1, info=f"epoch {epoch + 1}: {_fmt(logs)}")
        if state.stopped:
            break
    rep.remove(batch_task)
    for writer in writers.values():
        writer.close()


def _train_step(strategy, model, phase: Phase):
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.CategoricalCrossentropy(label_smoothing=phase.label_smoothing, reduction=None)
    weights = [phase.class_weight.get(c, 1.0) for c in range(phase.num_classes)] if phase.class_weight else \
        [1.0] * phase.num_classes
    class_weight = tf.constant(weights, tf.float32)
    optimizer = model.optimizer
    k = min(5, phase.num_classes)

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            probs = model(x, training=True)
            per_sample = loss_fn(y, probs) * tf.gather(class_weight, tf.argmax(y, axis=-1))
            loss = tf.nn.compute_average_loss(per_sample, global_batch_size=phase.global_batch)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled = optimizer.scale_loss(loss)  # mixed precision: the loss-scale optimizer's scaling
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return _sums(per_sample, y, probs, k)

    @tf.function
    def step(x, y):
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(replica_step, args=(x, y)), axis=None)

    return step


def _evaluator(model, phase: Phase):
    """Sums over one validation batch on this worker's copy of the model (no class weights)."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.CategoricalCrossentropy(label_smoothing=phase.label_smoothing, reduction=None)
    k = min(5, phase.num_classes)

    @tf.function(reduce_retracing=True)
    def evaluate(x, y):
        probs = model(x, training=False)
        return _sums(loss_fn(y, probs), y, probs, k)

    return evaluate


def _sums(per_sample, y, probs, k: int):
    import tensorflow as tf

    labels = tf.argmax(y, axis=-1)
    probs = tf.cast(probs, tf.float32)
    correct = tf.cast(tf.equal(tf.argmax(probs, axis=-1), labels), tf.float32)
    top_k = tf.cast(tf.math.in_top_k(tf.cast(labels, tf.int32), probs, k), tf.float32)
    return tf.stack([tf.reduce_sum(tf.cast(per_sample, tf.float32)), tf.cast(tf.shape(labels)[0], tf.float32),
                     tf.reduce_sum(correct), tf.reduce_sum(top_k)])


def _logs(sums: np.ndarray) -> dict[str, float]:
    n = max(float(sums[1]), 1.0)
    return {"loss": float(sums[0]) / n, "accuracy": float(sums[2]) / n, "top5": float(sums[3]) / n}


def _writers(log_dir: Path | None) -> dict[str, Any]:
    """TensorBoard writers laid out as Keras' callback lays them out (train/, validation/)."""
    import tensorflow as tf

    if log_dir is None:
        return {}
    return {"train": tf.summary.create_file_writer(str(log_dir / "train")),
            "validation": tf.summary.create_file_writer(str(log_dir / "validation"))}


def _write_scalars(writers: dict[str, Any], epoch: int, logs: dict[str, float], model) -> None:
    import tensorflow as tf

    if not writers:
        return
    with writers["train"].as_default():
        for key in ("loss", "accuracy", "top5"):
            tf.summary.scalar(f"epoch_{key}", logs[key], step=epoch)
        tf.summary.scalar("epoch_learning_rate", float(np.asarray(model.optimizer.learning_rate)), step=epoch)
    with writers["validation"].as_default():
        for key in ("loss", "accuracy", "top5"):
            tf.summary.scalar(f"epoch_{key}", logs[f"val_{key}"], step=epoch)
    for writer in writers.values():
        writer.flush()
