"""The end of a run: evaluate the final model, then write the run folder (model, labels, config,
history, metrics, reports, plots), every file through a temporary name and a rename."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flowers_mobile.config import Config
from flowers_mobile.evaluation import (
    evaluate_samples,
    format_report,
    plot_confusion_matrix,
    plot_training_curves,
)
from flowers_mobile.fsutil import atomic_path, atomic_write_json, atomic_write_text
from flowers_mobile.labels import read_labels, write_labels
from flowers_mobile.training.context import RunContext
from flowers_mobile.training.state import PhaseState


def history(*states: PhaseState) -> dict[str, Any]:
    """history.json: each phase that ran, its epochs, best epoch and per-epoch logs."""
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


def evaluate_and_write(ctx: RunContext, model, states: tuple[PhaseState, PhaseState], trainable_layers: list[str],
                       cluster: dict[str, Any], started: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Evaluate on val (and test), write the run folder; returns (metrics, history)."""
    dataset, tc, classes = ctx.dataset, ctx.cfg.training, ctx.dataset.classes
    t = time.perf_counter()
    eval_bs = max(tc.batch_size, 64)
    val_report = evaluate_samples(model, dataset.val, classes, ctx.cfg.data, batch_size=eval_bs)
    test_report = (evaluate_samples(model, dataset.test, classes, ctx.cfg.data, batch_size=eval_bs)
                   if dataset.test else None)
    ctx.seconds["evaluate"] = time.perf_counter() - t
    hist = history(*states)
    ctx.seconds["total"] = time.perf_counter() - started
    metrics = {
        "val": {"split": "val", **val_report},
        "test": {"split": "test", **test_report} if test_report else None,
        "val_accuracy": val_report["accuracy"],
        "test_accuracy": test_report["accuracy"] if test_report else None,
        "seconds": {k: round(v, 2) for k, v in ctx.seconds.items()},
        "run": {
            "classes": ctx.num_classes,
            "images": {name: len(dataset.split(name)) for name in ("train", "val", "test")},
            "batchnorm": ctx.bn,
            "mixed_precision": ctx.mixed,
            "distribute": tc.distribute,
            "deterministic": tc.deterministic,
            "replicas": ctx.n_replicas,
            "class_weights": ctx.class_weight,
            "feature_cache_copies": tc.feature_cache_copies,
            "trainable_backbone_layers": len(trainable_layers),
            "resumed": ctx.resumed,
            **cluster,
        },
    }
    hist["resumed"] = ctx.resumed
    write_outputs(ctx.out_dir, model, ctx.cfg, classes, hist, metrics, val_report, test_report)
    return metrics, hist


def write_outputs(out_dir: Path, model, cfg: Config, classes: list[str], history: dict[str, Any],
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
