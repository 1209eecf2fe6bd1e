"""Phase 1: the backbone runs once over the images (features cached in the backup), then the
Dropout -> Dense head trains on the stored features and its weights go into the full model."""

from __future__ import annotations

import contextlib
import math
import time

import numpy as np

from flowers_mobile.model import calibrate_batchnorm
from flowers_mobile.training.context import (
    RunContext,
    loss,
    metrics,
    one_hot,
    optimizer,
    tensorboard,
)
from flowers_mobile.training.features import build_head, copy_head, extract_features, load_cache
from flowers_mobile.training.progress import keras_callback
from flowers_mobile.training.state import PhaseState, checkpoint_callback, save_weights_atomic

HEAD_DONE = "head_done.weights.h5"
#: Training images used to calibrate a random backbone's BatchNorm statistics (one batch).
CALIBRATION_IMAGES = 128


def run_head_phase(ctx: RunContext, model) -> PhaseState:
    """Fill in `model`'s head (or load it from a finished phase 1 in the backup); returns its state."""
    tc = ctx.cfg.training
    head_state = PhaseState(ctx.backup / "head", tc.head_epochs, tc.early_stopping_patience)
    head_done = ctx.backup / HEAD_DONE
    if head_done.is_file():
        model.load_weights(head_done)
        load_state_history(head_state)  # for history.json; the weights are in head_done
        ctx.rep.note("resume: phase 1 already done")
        return head_state
    t = time.perf_counter()
    feats = features(ctx, model, ctx.scratch and ctx.bn == "train")
    ctx.seconds["features"] = time.perf_counter() - t
    if tc.head_epochs > 0:
        t = time.perf_counter()
        head = _fit_head(ctx, feats, head_state)
        copy_head(head, model)
        ctx.seconds["head"] = time.perf_counter() - t
    save_weights_atomic(model, head_done)
    return head_state


def _fit_head(ctx: RunContext, feats: dict[str, np.ndarray], head_state: PhaseState):
    tc, mw, rep, num_classes = ctx.cfg.training, ctx.mw, ctx.rep, ctx.num_classes
    # fit keeps the last partial batch; the custom loop needs equal batches on every worker.
    steps = len(feats["x_train"]) // tc.batch_size if mw else math.ceil(len(feats["x_train"]) / tc.batch_size)
    with mw.scope() if mw else contextlib.nullcontext():
        head = build_head(feats["x_train"].shape[1], num_classes, ctx.cfg.model.dropout)
        head.compile(optimizer=optimizer(tc.head_learning_rate, tc.lr_schedule, steps * tc.head_epochs),
                     loss=loss(tc.label_smoothing), metrics=metrics(num_classes))
        if mw:  # its slots in the strategy's scope, before a resume loads them
            head.optimizer.build(head.trainable_variables)
    if head_state.restore(head):
        ctx.resumed["head"] = head_state.epoch
        rep.note(f"resume: phase 1 from epoch {head_state.epoch + 1}/{tc.head_epochs}")
    if not head_state.done and mw:  # Keras 3's fit fails under MultiWorkerMirroredStrategy
        mw.fit_head(head, feats, mw.phase("phase 1: head", tc.head_epochs, steps, num_classes, ctx.cfg,
                                          ctx.class_weight, ctx.out_dir / "logs" / "head"), head_state, rep)
    elif not head_state.done:
        head.fit(feats["x_train"], one_hot(feats["y_train"], num_classes), batch_size=tc.batch_size,
                 epochs=tc.head_epochs, initial_epoch=head_state.epoch, shuffle=True, verbose=0,
                 validation_data=(feats["x_val"], one_hot(feats["y_val"], num_classes)),
                 class_weight=ctx.class_weight,
                 callbacks=[checkpoint_callback(head_state),
                            keras_callback(rep, "phase 1: head", tc.head_epochs, head_state.epoch, steps),
                            tensorboard(ctx.out_dir / "logs" / "head")])
    head_state.restore_best(head)
    return head


def features(ctx: RunContext, model, calibrate: bool) -> dict[str, np.ndarray]:
    """Calibrate (from scratch) and extract phase-1 features, or load them from the backup."""
    from flowers_mobile.data.pipeline import load_arrays
    from flowers_mobile.fsutil import atomic_dir

    dataset, cfg, rep, mw = ctx.dataset, ctx.cfg, ctx.rep, ctx.mw
    folder = ctx.backup / "features"
    if (folder / "features.npz").is_file():
        model.load_weights(folder / "model.weights.h5")  # the backbone the features came from
        rep.note("resume: cached features loaded")
        return load_cache(folder / "features.npz")
    tc = cfg.training
    if calibrate:
        images, _ = load_arrays(dataset.train[:: max(1, len(dataset.train) // CALIBRATION_IMAGES)]
                                [:CALIBRATION_IMAGES], cfg.model.input_size)
        calibrate_batchnorm(model, images.astype(np.float32))
    if mw:  # the chief's weights (and calibration) on every worker, then each extracts its share
        mw.broadcast_weights(model)
    feats: dict[str, np.ndarray] = {}
    if tc.head_epochs > 0 and mw:
        feats = mw.extract_features(model, dataset, cfg, rep)
    elif tc.head_epochs > 0:
        copies = tc.feature_cache_copies
        total = len(dataset.train) + len(dataset.val)
        task = rep.task(f"features (x{1 + copies} train)", total=total)
        x_tr, y_tr = extract_features(model, dataset.train, cfg, copies=copies, seed=tc.seed,
                                      on_batch=lambda n: rep.update(task, completed=n))
        x_va, y_va = extract_features(model, dataset.val, cfg,
                                      on_batch=lambda n: rep.update(task, completed=len(dataset.train) + n))
        feats = {"x_train": x_tr, "y_train": y_tr, "x_val": x_va, "y_val": y_va}
    with atomic_dir(folder) as tmp:
        model.save_weights(tmp / "model.weights.h5")
        np.savez(tmp / "features.npz", **feats)
    return feats


def load_state_history(state: PhaseState) -> None:
    """Read a finished phase's counters (no weights) so history.json covers it after a resume."""
    import json

    path = state.folder / "state.json"
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        state.epoch, state.history = saved["epoch"], saved["history"]
        state.best_epoch, state.stopped = saved["best_epoch"], saved["stopped"]
