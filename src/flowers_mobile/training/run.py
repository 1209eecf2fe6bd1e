"""`train`: a folder of flower photos in, a run folder with a MobileNetV2 classifier out.

Two phases, as transfer learning is done:

1. Head only, backbone frozen, on cached features (`training.features`): the backbone runs
   once over the training images (plus K augmented copies), the Dropout -> Dense head trains
   on the stored features, and its weights go into the full model.
2. Fine-tune: the top `finetune_fraction` of backbone layers unfreeze, the learning rate is
   `finetune_lr_factor` times the head's, the images go through the full augmentation.

Both phases: early stopping on validation accuracy with the best weights restored, class
weights from the training split's class frequencies, optional label smoothing, fixed seeds.

BatchNorm (`training.batchnorm`): with pretrained weights it stays in inference mode and frozen
through fine-tuning (small batches would overwrite the ImageNet statistics: the classic
fine-tuning trap). With ``model.weights=none`` there are no statistics worth keeping: BatchNorm
is first calibrated on training images (so phase 1's random features are not near-constant),
then trains with batch statistics and a momentum of 0.9 in phase 2, where the demo config
unfreezes every layer at the head's learning rate: from scratch, "fine-tuning" is training.

Resume: every epoch of either phase is saved atomically in ``<run>/backup/`` (`state.PhaseState`),
as are the cached features and the model after phase 1; ``resume=True`` picks up at the first
unfinished epoch. Final outputs are written atomically at the end and the backup is removed.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.config import Config
from flowers_mobile.data.sources import Dataset, load_dataset
from flowers_mobile.errors import UserError
from flowers_mobile.evaluation import (
    evaluate_samples,
    format_report,
    plot_confusion_matrix,
    plot_training_curves,
)
from flowers_mobile.fsutil import atomic_dir, atomic_path, atomic_write_json, atomic_write_text
from flowers_mobile.labels import read_labels, write_labels
from flowers_mobile.model import (
    SCRATCH_BATCHNORM_MOMENTUM,
    batchnorm_mode,
    build_classifier,
    calibrate_batchnorm,
    freeze_backbone,
    set_batchnorm_momentum,
    unfreeze_top,
)
from flowers_mobile.training.determinism import op_determinism, seed_everything
from flowers_mobile.training.features import build_head, copy_head, extract_features, load_cache
from flowers_mobile.training.multiworker import (
    MultiWorker,
    collective_errors,
    is_chief_task,
    read_tf_config,
)
from flowers_mobile.training.progress import Reporter
from flowers_mobile.training.state import PhaseState, checkpoint_callback, save_weights_atomic
from flowers_mobile.training.strategy import make_strategy, replicas, use_mixed_precision

BACKUP = "backup"
META = "meta.json"
HEAD_DONE = "head_done.weights.h5"
#: Training images used to calibrate a random backbone's BatchNorm statistics (one batch).
CALIBRATION_IMAGES = 128
#: A validation split up to this size is evaluated as one batch (one trace of the test step).
VAL_SINGLE_BATCH = 256


@dataclass
class TrainResult:
    """What a finished run produced (all paths inside `out_dir`)."""

    out_dir: Path
    model_path: Path
    labels_path: Path
    metrics: dict[str, Any]
    history: dict[str, Any]
    classes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    resumed: bool = False


def compute_class_weights(labels: np.ndarray | list[int], num_classes: int) -> dict[int, float]:
    """Weights N / (C * n_c): every class contributes as much loss as a balanced split would.

    A class absent from `labels` gets 1.0 (it never occurs, so its weight is never used).
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    n = counts.sum()
    present = int((counts > 0).sum())
    return {c: float(n / (present * counts[c])) if counts[c] else 1.0 for c in range(num_classes)}


def train(data_dir: Path, out_dir: Path, cfg: Config, *, resume: bool = False, progress: bool = True) -> TrainResult:
    """Train a classifier on `data_dir` and write the run folder `out_dir`.

    Args:
        data_dir: class folders, or train/val[/test] folders of class folders.
        out_dir: the run folder (``models/<run>``); an existing finished run there is replaced.
        cfg: the effective config (``Config``); on resume the interrupted run's own config is used.
        resume: continue the interrupted run in `out_dir` from its last finished epoch.
        progress: show notes and progress bars (rich, on stderr).
    Returns:
        TrainResult with the paths of model.keras and labels.txt, the metrics (validation and
        test reports, timings) and the per-phase history.
    Raises:
        UserError: bad config or data, or nothing to resume; raised before anything is written.
    """
    started = time.perf_counter()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    cfg = Config.from_dict(cfg.to_dict(), where="config")  # re-validates every range
    dataset = load_dataset(data_dir, cfg.data)
    backup = out_dir / BACKUP
    multi = cfg.training.distribute == "multi_worker"
    chief = not multi or is_chief_task(read_tf_config())
    with Reporter(progress and chief) as rep:
        if chief:  # the other workers get the chief's run state when they join it (MultiWorker.join)
            cfg = _prepare_run_folder(dataset, data_dir, out_dir, cfg, resume, rep)
        _check_dataset(dataset, cfg, data_dir)
        with op_determinism(cfg.training.deterministic), \
                (collective_errors(cfg.training.collective_timeout) if multi else contextlib.nullcontext()):
            return _train(dataset, out_dir, backup, cfg, resume, rep, started)


# ---------------------------------------------------------------------------------------------
# Checks before anything is written


def _check_dataset(dataset: Dataset, cfg: Config, data_dir: Path) -> None:
    bs = cfg.training.batch_size
    if len(dataset.train) < bs:
        raise UserError(f"{data_dir}: the training split has {len(dataset.train)} images, fewer than "
                        f"training.batch_size = {bs}",
                        hint=f"add images or lower the batch size, e.g. --set training.batch_size="
                             f"{2 ** int(math.log2(max(1, len(dataset.train))))}")
    if not dataset.val:
        raise UserError(f"{data_dir}: the validation split is empty (early stopping needs it)",
                        hint="give every class at least 3 images, or a val/ folder")


def _prepare_run_folder(dataset: Dataset, data_dir: Path, out_dir: Path, cfg: Config, resume: bool,
                        rep: Reporter) -> Config:
    """Validate a resume (or clear a stale backup) and return the config the run uses."""
    import json

    backup = out_dir / BACKUP
    meta_path = backup / META
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir} exists and is not a folder", hint="choose another --out")
    if not resume:
        return cfg
    if not meta_path.is_file():
        if (out_dir / "model.keras").is_file():
            raise UserError(f"{out_dir} holds a finished run; there is nothing to resume",
                            hint="drop --resume to train again (that replaces the run), or choose another --out")
        raise UserError(f"nothing to resume in {out_dir}: no {BACKUP}/ folder from an interrupted run",
                        hint="drop --resume to start a new run")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    labels = meta["labels"]
    if labels != dataset.classes:
        missing = sorted(set(labels) - set(dataset.classes))
        extra = sorted(set(dataset.classes) - set(labels))
        detail = "; ".join(part for part in (
            f"missing {', '.join(missing[:5])}" if missing else "",
            f"new {', '.join(extra[:5])}" if extra else "",
            "same names in another order" if not missing and not extra else "") if part)
        raise UserError(f"{data_dir} has classes that differ from the labels of the run being resumed in "
                        f"{out_dir} ({detail})",
                        hint="resume with the data folder the run started on, or drop --resume to start over")
    saved = Config.from_dict(meta["config"], where=str(meta_path))
    if saved.to_dict() != cfg.to_dict():
        rep.note("resume: using the interrupted run's own config (the one given now differs)")
    return saved


# ---------------------------------------------------------------------------------------------
# The run


def _train(dataset: Dataset, out_dir: Path, backup: Path, cfg: Config, resume: bool, rep: Reporter,
           started: float) -> TrainResult:
    classes = dataset.classes
    num_classes = len(classes)
    # First: MultiWorkerMirroredStrategy wants no TF ops before it.
    strategy = make_strategy(cfg.training.distribute, cfg.training.collective_timeout)
    mw = MultiWorker(strategy) if cfg.training.distribute == "multi_worker" else None
    if mw:  # the chief's config and backup; the other workers keep their files to a temporary folder
        cfg, out_dir, resume = mw.join(cfg, dataset, out_dir, resume, BACKUP)
        backup = out_dir / BACKUP
    tc = cfg.training
    if not resume and backup.exists():
        rep.note(f"starting over: removing the interrupted run's state in {backup} (use --resume to continue it)")
        shutil.rmtree(backup)
    if not resume and (out_dir / "logs").is_dir():
        shutil.rmtree(out_dir / "logs")  # a new run's curves, not mixed with an old run's
    backup.mkdir(parents=True, exist_ok=True)
    atomic_write_json(backup / META, {"labels": classes, "config": cfg.to_dict(), "data": str(dataset.root)})

    seed_everything(tc.seed)
    mixed = use_mixed_precision(tc.mixed_precision)
    bn = batchnorm_mode(cfg.model, tc.batchnorm)
    scratch = cfg.model.weights.lower() == "none"
    n_rep = replicas(strategy)
    rep.note(f"data: {num_classes} classes; {len(dataset.train)} train, {len(dataset.val)} val, "
             f"{len(dataset.test)} test images")
    rep.note(f"model: MobileNetV2 alpha {cfg.model.alpha} at {cfg.model.input_size} px, weights "
             f"{cfg.model.weights}; BatchNorm {bn}; {n_rep} replica(s) ({tc.distribute})"
             f"{'; mixed float16' if mixed else ''}")

    y_train = np.array([s.label for s in dataset.train], dtype=np.int32)
    class_weight = compute_class_weights(y_train, num_classes) if tc.class_weights else None
    seconds: dict[str, float] = {}
    resumed: dict[str, int] = {}

    # The float32, uncompiled model that phase 1 fills in and that is saved at the end.
    model = build_classifier(cfg.model, num_classes, batchnorm_inference=bn == "frozen")
    freeze_backbone(model)

    # ---- phase 1: head on cached features ---------------------------------------------------
    head_state = PhaseState(backup / "head", tc.head_epochs, tc.early_stopping_patience)
    head_done = backup / HEAD_DONE
    if head_done.is_file():
        model.load_weights(head_done)
        _load_state_history(head_state)  # for history.json; the weights are in head_done
        rep.note("resume: phase 1 already done")
    else:
        t = time.perf_counter()
        feats = _features(model, dataset, cfg, backup, scratch and bn == "train", rep, mw)
        seconds["features"] = time.perf_counter() - t
        if tc.head_epochs > 0:
            t = time.perf_counter()
            # fit keeps the last partial batch; the custom loop needs equal batches on every worker.
            steps = len(feats["x_train"]) // tc.batch_size if mw else math.ceil(len(feats["x_train"]) / tc.batch_size)
            with mw.scope() if mw else contextlib.nullcontext():
                head = build_head(feats["x_train"].shape[1], num_classes, cfg.model.dropout)
                head.compile(optimizer=_optimizer(tc.head_learning_rate, tc.lr_schedule, steps * tc.head_epochs),
                             loss=_loss(tc.label_smoothing), metrics=_metrics(num_classes))
                if mw:  # its slots in the strategy's scope, before a resume loads them
                    head.optimizer.build(head.trainable_variables)
            if head_state.restore(head):
                resumed["head"] = head_state.epoch
                rep.note(f"resume: phase 1 from epoch {head_state.epoch + 1}/{tc.head_epochs}")
            if not head_state.done and mw:  # Keras 3's fit fails under MultiWorkerMirroredStrategy
                mw.fit_head(head, feats, mw.phase("phase 1: head", tc.head_epochs, steps, num_classes, cfg,
                                                  class_weight, out_dir / "logs" / "head"), head_state, rep)
            elif not head_state.done:
                head.fit(feats["x_train"], _one_hot(feats["y_train"], num_classes), batch_size=tc.batch_size,
                         epochs=tc.head_epochs, initial_epoch=head_state.epoch, shuffle=True, verbose=0,
                         validation_data=(feats["x_val"], _one_hot(feats["y_val"], num_classes)),
                         class_weight=class_weight,
                         callbacks=[checkpoint_callback(head_state),
                                    rep.keras_callback("phase 1: head", tc.head_epochs, head_state.epoch, steps),
                                    _tensorboard(out_dir / "logs" / "head")])
            head_state.restore_best(head)
            copy_head(head, model)
            seconds["head"] = time.perf_counter() - t
        save_weights_atomic(model, head_done)

    # ---- phase 2: fine-tune -----------------------------------------------------------------
    ft_state = PhaseState(backup / "finetune", tc.finetune_epochs, tc.early_stopping_patience)
    trainable_layers: list[str] = []
    if tc.finetune_epochs > 0:
        t = time.perf_counter()
        ft_model, trainable_layers = _finetune_model(model, cfg, num_classes, bn, scratch, mixed, strategy,
                                                     len(dataset.train) // tc.batch_size, build=mw is not None)
        if ft_state.restore(ft_model):
            resumed["finetune"] = ft_state.epoch
            rep.note(f"resume: phase 2 from epoch {ft_state.epoch + 1}/{tc.finetune_epochs}")
        if not ft_state.done and mw:
            mw.fit_finetune(ft_model, dataset, cfg, mw.phase("phase 2: fine-tune", tc.finetune_epochs,
                                                             len(dataset.train) // tc.batch_size, num_classes, cfg,
                                                             class_weight, out_dir / "logs" / "finetune"),
                            ft_state, rep)
        elif not ft_state.done:
            train_ds, val_ds, steps = _image_datasets(dataset, cfg, num_classes, n_rep)
            ft_model.fit(train_ds, validation_data=val_ds, epochs=tc.finetune_epochs,
                         initial_epoch=ft_state.epoch, verbose=0, class_weight=class_weight,
                         shuffle=False,  # the dataset reshuffles itself every epoch
                         callbacks=[checkpoint_callback(ft_state),
                                    rep.keras_callback("phase 2: fine-tune", tc.finetune_epochs, ft_state.epoch,
                                                       steps),
                                    _tensorboard(out_dir / "logs" / "finetune")])
        ft_state.restore_best(ft_model)
        model.set_weights(ft_model.get_weights())  # back into the float32, uncompiled model
        seconds["finetune"] = time.perf_counter() - t

    cluster = mw.finish(model) if mw else {}
    if mw and not mw.chief:  # the chief evaluates and writes; this worker's folder is gone
        return TrainResult(out_dir=out_dir, model_path=out_dir / "model.keras", labels_path=out_dir / "labels.txt",
                           metrics={"run": {"chief": False, **cluster}}, history=_history(head_state, ft_state),
                           classes=classes, resumed=bool(resumed))

    # ---- evaluate and write -----------------------------------------------------------------
    t = time.perf_counter()
    eval_bs = max(tc.batch_size, 64)
    val_report = evaluate_samples(model, dataset.val, classes, cfg.data, batch_size=eval_bs)
    test_report = evaluate_samples(model, dataset.test, classes, cfg.data, batch_size=eval_bs) if dataset.test else None
    seconds["evaluate"] = time.perf_counter() - t
    history = _history(head_state, ft_state)
    seconds["total"] = time.perf_counter() - started
    metrics = {
        "val": {"split": "val", **val_report},
        "test": {"split": "test", **test_report} if test_report else None,
        "val_accuracy": val_report["accuracy"],
        "test_accuracy": test_report["accuracy"] if test_report else None,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "run": {
            "classes": num_classes,
            "images": {name: len(dataset.split(name)) for name in ("train", "val", "test")},
            "batchnorm": bn,
            "mixed_precision": mixed,
            "distribute": tc.distribute,
            "deterministic": tc.deterministic,
            "replicas": n_rep,
            "class_weights": class_weight,
            "feature_cache_copies": tc.feature_cache_copies,
            "trainable_backbone_layers": len(trainable_layers),
            "resumed": resumed,
            **cluster,
        },
    }
    history["resumed"] = resumed
    _write_outputs(out_dir, model, cfg, classes, history, metrics, val_report, test_report)
    if mw:
        mw.wait_for_chief()
    shutil.rmtree(backup, ignore_errors=True)
    return TrainResult(out_dir=out_dir, model_path=out_dir / "model.keras", labels_path=out_dir / "labels.txt",
                       metrics=metrics, history=history, classes=classes, seconds=metrics["seconds"],
                       resumed=bool(resumed))


def _features(model, dataset: Dataset, cfg: Config, backup: Path, calibrate: bool,
              rep: Reporter, mw: MultiWorker | None = None) -> dict[str, np.ndarray]:
    """Calibrate (from scratch) and extract phase-1 features, or load them from the backup."""
    from flowers_mobile.data.pipeline import load_arrays

    folder = backup / "features"
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


def _finetune_model(model, cfg: Config, num_classes: int, bn: str, scratch: bool, mixed: bool, strategy,
                    steps_per_epoch: int, build: bool = False):
    """The phase-2 model, built in the strategy's scope (and mixed precision), weights from `model`;
    with `build` its optimizer's slots too (the custom loop's resume loads them before any step)."""
    import keras

    tc = cfg.training
    with strategy.scope():
        if mixed:
            keras.mixed_precision.set_dtype_policy("mixed_float16")
        try:
            ft = build_classifier(cfg.model, num_classes, batchnorm_inference=bn == "frozen")
        finally:
            keras.mixed_precision.set_dtype_policy("float32")
        ft.set_weights(model.get_weights())
        names = unfreeze_top(ft, tc.finetune_fraction, freeze_batchnorm=bn == "frozen")
        if bn == "train" and scratch:
            set_batchnorm_momentum(ft, SCRATCH_BATCHNORM_MOMENTUM)
        ft.compile(optimizer=_optimizer(tc.head_learning_rate * tc.finetune_lr_factor, tc.lr_schedule,
                                        steps_per_epoch * tc.finetune_epochs),
                   loss=_loss(tc.label_smoothing), metrics=_metrics(num_classes))
        if build:
            ft.optimizer.build(ft.trainable_variables)
    return ft, names


def _image_datasets(dataset: Dataset, cfg: Config, num_classes: int, n_replicas: int):
    import tensorflow as tf

    from flowers_mobile.data.pipeline import make_tf_dataset

    tc = cfg.training
    size = cfg.model.input_size

    def one_hot(x, y):
        return x, tf.one_hot(y, num_classes)

    # Every training batch full: one trace of the train step instead of two (a trace of
    # MobileNetV2's train step costs tens of seconds with the pure-Python protobuf this stack
    # has), and equal batches on every replica. The split is reshuffled each epoch, so the few
    # images left over are different ones each time.
    train_ds = make_tf_dataset(dataset.train, size, tc.batch_size, training=True, data_cfg=cfg.data,
                               seed=tc.seed, drop_remainder=True, deterministic=tc.deterministic).map(one_hot)
    # The validation split in one batch when it is small: one trace of the test step too.
    n_val = len(dataset.val)
    val_bs = n_val if n_val <= VAL_SINGLE_BATCH else max(tc.batch_size, 64)
    val_ds = make_tf_dataset(dataset.val, size, val_bs, training=False, data_cfg=cfg.data).map(one_hot)
    return train_ds, val_ds, len(dataset.train) // tc.batch_size


def _optimizer(learning_rate: float, schedule: str, total_steps: int):
    """Adam; with "cosine" the rate decays to 0 over the phase's planned steps (resumes with the
    optimizer's saved step count, so a resumed run follows the same curve)."""
    import keras

    if schedule == "cosine" and total_steps > 0:
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total_steps)
    return keras.optimizers.Adam(learning_rate)


def _loss(label_smoothing: float):
    import keras

    return keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)


def _metrics(num_classes: int):
    import keras

    return [keras.metrics.CategoricalAccuracy(name="accuracy"),
            keras.metrics.TopKCategoricalAccuracy(k=min(5, num_classes), name="top5")]


def _one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[y]


def _tensorboard(log_dir: Path):
    import keras

    # Event files are append-only record streams; TensorBoard reads a cut-off last record fine.
    return keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False, profile_batch=0)


def _load_state_history(state: PhaseState) -> None:
    """Read a finished phase's counters (no weights) so history.json covers it after a resume."""
    import json

    path = state.folder / "state.json"
    if path.is_file():
        saved = json.loads(path.read_text(encoding="utf-8"))
        state.epoch, state.history = saved["epoch"], saved["history"]
        state.best_epoch, state.stopped = saved["best_epoch"], saved["stopped"]


def _history(*states: PhaseState) -> dict[str, Any]:
    names = {"head": "phase 1: head", "finetune": "phase 2: fine-tune"}
    phases = []
    for state in states:
        if not state.history:
            continue
        phases.append({"name": names.get(state.folder.name, state.folder.name), "key": state.folder.name,
                       "epochs": state.epoch, "best_epoch": state.best_epoch,
                       "stopped_early": state.stopped, "history": state.history})
    boundary = phases[0]["epochs"] if len(phases) > 1 else None
    return {"phases": phases, "phase_boundary": boundary}


def _write_outputs(out_dir: Path, model, cfg: Config, classes: list[str], history: dict[str, Any],
                   metrics: dict[str, Any], val_report: dict[str, Any], test_report: dict[str, Any] | None) -> None:
    """Every output through a temporary name and a rename: a kill leaves old files or none."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "model.keras") as tmp:
        model.save(tmp)
    write_labels(out_dir / "labels.txt", classes)
    atomic_write_json(out_dir / "config.json", cfg.to_dict())
    atomic_write_json(out_dir / "history.json", history)
    atomic_write_json(out_dir / "metrics.json", metrics)
    report = format_report(val_report, "validation split")
    if test_report:
        report += "\n" + format_report(test_report, "test split")
    atomic_write_text(out_dir / "classification_report.txt", report)
    plot_training_curves(history, out_dir / "training_curves.png")
    shown, name = (test_report, "test split") if test_report else (val_report, "validation split")
    plot_confusion_matrix(shown, out_dir / "confusion_matrix.png", f"Confusion matrix, {name}")
    read_labels(out_dir / "labels.txt")  # what was written reads back
