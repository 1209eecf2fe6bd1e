"""`train`: a folder of flower photos in, a run folder with a classifier (`model.backbone`) out.

This module checks the input, prepares the run folder and calls the phases in order; each job
has its own module: `head_phase`, `finetune_phase`, `outputs` (evaluate and write the run), and
`context` (the settings both phases share). Two phases, as transfer learning is done:

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
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile import backbones
from flowers_mobile.config import Config
from flowers_mobile.data.sources import Dataset, load_dataset
from flowers_mobile.errors import UserError
from flowers_mobile.fsutil import atomic_write_json
from flowers_mobile.model import batchnorm_mode, build_classifier, freeze_backbone
from flowers_mobile.progress import ProgressCallback, Reporter
from flowers_mobile.training.context import RunContext
from flowers_mobile.training.determinism import op_determinism, seed_everything
from flowers_mobile.training.finetune_phase import run_finetune_phase
from flowers_mobile.training.head_phase import run_head_phase
from flowers_mobile.training.multiworker import (
    MultiWorker,
    collective_errors,
    is_chief_task,
    read_tf_config,
)
from flowers_mobile.training.outputs import evaluate_and_write, history
from flowers_mobile.training.strategy import make_strategy, replicas, use_mixed_precision

BACKUP = "backup"
META = "meta.json"


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


def train(data_dir: Path, out_dir: Path, cfg: Config, *, resume: bool = False,
          progress: ProgressCallback | None = None) -> TrainResult:
    """Train a classifier on `data_dir` and write the run folder `out_dir`.

    Args:
        data_dir: class folders, or train/val[/test] folders of class folders.
        out_dir: the run folder (``models/<run>``); an existing finished run there is replaced.
        cfg: the effective config (``Config``); on resume the interrupted run's own config is used.
        resume: continue the interrupted run in `out_dir` from its last finished epoch.
        progress: called with the run's notes and progress events (None: silent; only the
            chief of a multi-worker run reports).
    Returns:
        TrainResult with the paths of model.keras and labels.txt, the metrics (validation and
        test reports, timings) and the per-phase history.
    Raises:
        UserError: bad config or data, or nothing to resume; raised before anything is written.
    """
    started = time.perf_counter()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    # Re-validates every range; an unset input size becomes the backbone's natural one, and an
    # unknown backbone, a size below its minimum or an alpha it lacks stop here, before any write.
    cfg = Config.from_dict(cfg.to_dict(), where="config").resolved()
    backbones.check(cfg.model.backbone, cfg.model.size, cfg.model.alpha)
    dataset = load_dataset(data_dir, cfg.data)
    backup = out_dir / BACKUP
    multi = cfg.training.distribute == "multi_worker"
    chief = not multi or is_chief_task(read_tf_config())
    rep = Reporter(progress if chief else None)
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
    # First: MultiWorkerMirroredStrategy wants no TF ops before it.
    strategy = make_strategy(cfg.training.distribute, cfg.training.collective_timeout)
    mw = MultiWorker(strategy) if cfg.training.distribute == "multi_worker" else None
    if mw:  # the chief's config and backup; the other workers keep their files to a temporary folder
        cfg, out_dir, resume = mw.join(cfg, dataset, out_dir, resume, BACKUP)
        backup = out_dir / BACKUP
    _start_backup(dataset, out_dir, backup, cfg, resume, rep)
    ctx = _context(dataset, out_dir, backup, cfg, rep, strategy, mw)

    # The float32, uncompiled model that phase 1 fills in and that is saved at the end.
    model = build_classifier(cfg.model, ctx.num_classes, batchnorm_inference=ctx.bn == "frozen")
    freeze_backbone(model)
    head_state = run_head_phase(ctx, model)
    ft_state, trainable_layers = run_finetune_phase(ctx, model)

    cluster = mw.finish(model) if mw else {}
    result = partial(TrainResult, out_dir=out_dir, model_path=out_dir / "model.keras",
                     labels_path=out_dir / "labels.txt", classes=dataset.classes, resumed=bool(ctx.resumed))
    if mw and not mw.chief:  # the chief evaluates and writes; this worker's folder is gone
        return result(metrics={"run": {"chief": False, **cluster}}, history=history(head_state, ft_state))
    metrics, hist = evaluate_and_write(ctx, model, (head_state, ft_state), trainable_layers, cluster, started)
    if mw:
        mw.wait_for_chief()
    shutil.rmtree(backup, ignore_errors=True)
    return result(metrics=metrics, history=hist, seconds=metrics["seconds"])


def _start_backup(dataset: Dataset, out_dir: Path, backup: Path, cfg: Config, resume: bool, rep: Reporter) -> None:
    """A new run clears an old run's state and curves; every run records its labels and config."""
    if not resume and backup.exists():
        rep.note(f"starting over: removing the interrupted run's state in {backup} (use --resume to continue it)")
        shutil.rmtree(backup)
    if not resume and (out_dir / "logs").is_dir():
        shutil.rmtree(out_dir / "logs")  # a new run's curves, not mixed with an old run's
    backup.mkdir(parents=True, exist_ok=True)
    atomic_write_json(backup / META, {"labels": dataset.classes, "config": cfg.to_dict(), "data": str(dataset.root)})


def _context(dataset: Dataset, out_dir: Path, backup: Path, cfg: Config, rep: Reporter, strategy,
             mw: MultiWorker | None) -> RunContext:
    """Seeds, precision, BatchNorm mode and class weights, decided once for both phases."""
    tc = cfg.training
    seed_everything(tc.seed)
    mixed = use_mixed_precision(tc.mixed_precision)
    bn = batchnorm_mode(cfg.model, tc.batchnorm)
    n_rep = replicas(strategy)
    num_classes = len(dataset.classes)
    rep.note(f"data: {num_classes} classes; {len(dataset.train)} train, {len(dataset.val)} val, "
             f"{len(dataset.test)} test images")
    spec = backbones.get(cfg.model.backbone)
    width = f" alpha {cfg.model.alpha}" if spec.width_multiplier else ""
    rep.note(f"model: {spec.keras_constructor}{width} at {cfg.model.size} px, weights "
             f"{cfg.model.weights}; BatchNorm {bn}; {n_rep} replica(s) ({tc.distribute})"
             f"{'; mixed float16' if mixed else ''}")
    y_train = np.array([s.label for s in dataset.train], dtype=np.int32)
    class_weight = compute_class_weights(y_train, num_classes) if tc.class_weights else None
    return RunContext(dataset=dataset, cfg=cfg, out_dir=out_dir, backup=backup, rep=rep, strategy=strategy, mw=mw,
                      mixed=mixed, bn=bn, scratch=cfg.model.weights.lower() == "none", n_replicas=n_rep,
                      class_weight=class_weight)
