"""Metrics, the classification report, and plots for a trained classifier.

`evaluate` is the library side of `flowers-mobile evaluate`: it loads a `.keras` model and
its `labels.txt`, predicts a split (or a whole folder) and returns the metrics dict: accuracy,
top-5 accuracy, macro/weighted F1, per-class precision/recall/F1/support and the confusion
matrix. `training.train` writes the same report for its validation and test splits.
Plots use matplotlib's Agg backend (no display needed) and are written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.config import Config, DataConfig
from flowers_mobile.errors import UserError
from flowers_mobile.fsutil import atomic_path, atomic_write_json, atomic_write_text
from flowers_mobile.keras_file import check_keras_file, load_keras_model
from flowers_mobile.labels import read_labels

SPLIT_CHOICES = ("test", "val", "train", "all")


# ---------------------------------------------------------------------------------------------
# Metrics (numpy only: testable without TensorFlow)


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, labels: Sequence[str],
                           top_k: int = 5) -> dict[str, Any]:
    """Accuracy, top-k, precision/recall/F1 per class and averaged, loss, confusion matrix.

    Args:
        y_true: int labels (N,), indices into `labels`.
        probs: predicted probabilities (N, C), C = len(labels).
        labels: class names in output-index order.
        top_k: k of the top-k accuracy (capped at the number of classes).
    Returns:
        A JSON-ready dict. Precision of a class never predicted is 0 (as F1 is), and macro
        averages run over the classes that have support in `y_true`, so evaluating a folder
        with a few of the model's classes is not dragged down by absent ones.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    n, c = probs.shape if probs.ndim == 2 else (0, len(labels))
    if c != len(labels):
        raise ValueError(f"probabilities have {c} columns but there are {len(labels)} labels")
    if n == 0:
        raise UserError("no images to evaluate", hint="pick a split or folder that has images")
    k = max(1, min(top_k, c))
    y_pred = probs.argmax(axis=1)
    matrix = np.zeros((c, c), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    tp = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    precision = np.divide(tp, predicted, out=np.zeros(c), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(c), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(c), where=denom > 0)
    present = support > 0
    topk = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    in_topk = (topk == y_true[:, None]).any(axis=1)
    p_true = np.clip(probs[np.arange(n), y_true], 1e-7, 1.0)
    return {
        "num_images": int(n),
        "num_classes": int(c),
        "accuracy": float((y_pred == y_true).mean()),
        "top_k": int(k),
        "top5_accuracy": float(in_topk.mean()),
        "loss": float(-np.log(p_true).mean()),
        "macro_precision": float(precision[present].mean()),
        "macro_recall": float(recall[present].mean()),
        "macro_f1": float(f1[present].mean()),
        "weighted_f1": float((f1 * support).sum() / support.sum()),
        "per_class": {
            label: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                    "support": int(support[i])}
            for i, label in enumerate(labels)
        },
        "labels": list(labels),
        "confusion_matrix": matrix.tolist(),
    }


def format_report(metrics: dict[str, Any], title: str = "") -> str:
    """The classification report as text: one row per class, then the averages."""
    labels = metrics["labels"]
    width = max(12, *(len(label) for label in labels))
    lines = [title] if title else []
    lines.append(f"{'':>{width}}  precision    recall  f1-score   support")
    lines.append("")
    for label in labels:
        row = metrics["per_class"][label]
        lines.append(f"{label:>{width}}  {row['precision']:9.3f} {row['recall']:9.3f} {row['f1']:9.3f} "
                     f"{row['support']:9d}")
    n = metrics["num_images"]
    lines.append("")
    lines.append(f"{'accuracy':>{width}}  {'':9} {'':9} {metrics['accuracy']:9.3f} {n:9d}")
    topk_name = f"top-{metrics['top_k']} accuracy"
    lines.append(f"{topk_name:>{width}}  {'':9} {'':9} {metrics['top5_accuracy']:9.3f} {n:9d}")
    lines.append(f"{'macro avg':>{width}}  {metrics['macro_precision']:9.3f} {metrics['macro_recall']:9.3f} "
                 f"{metrics['macro_f1']:9.3f} {n:9d}")
    lines.append(f"{'weighted avg':>{width}}  {'':9} {'':9} {metrics['weighted_f1']:9.3f} {n:9d}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Plots


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt

    return plt


def plot_confusion_matrix(metrics: dict[str, Any], path: str | Path, title: str = "Confusion matrix") -> Path:
    """Row-normalised confusion matrix (colour = recall share), counts written in small matrices."""
    plt = _pyplot()
    labels = metrics["labels"]
    matrix = np.asarray(metrics["confusion_matrix"], dtype=np.float64)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    c = len(labels)
    side = min(4 + 0.45 * c, 40)
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    ticks = np.arange(c)
    font = max(4, 10 - c // 10)
    ax.set_xticks(ticks, labels, rotation=90 if c > 6 else 45, ha="right" if c <= 6 else "center", fontsize=font)
    ax.set_yticks(ticks, labels, fontsize=font)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title} (accuracy {metrics['accuracy']:.1%}, n={metrics['num_images']})")
    if c <= 25:
        for i in range(c):
            for j in range(c):
                if matrix[i, j]:
                    ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=font,
                            color="white" if share[i, j] > 0.5 else "black")
    fig.tight_layout()
    return _save(fig, path)


def plot_training_curves(history: dict[str, Any], path: str | Path) -> Path:
    """Loss and accuracy over both phases on one epoch axis, the phase boundary marked.

    Args:
        history: {"phases": [{"name", "history": {"loss": [...], "val_loss": [...], ...}}, ...]}
            as `training.train` writes it to history.json.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    start = 0
    colours = {"": "tab:blue", "val_": "tab:orange"}
    for p, phase in enumerate(history.get("phases", [])):
        hist = phase["history"]
        n = len(hist.get("loss", []))
        epochs = np.arange(start + 1, start + n + 1)
        for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
            for prefix, colour in colours.items():
                values = hist.get(prefix + metric)
                if values:
                    ax.plot(epochs, values, color=colour, marker="o", markersize=3,
                            label=("validation" if prefix else "training") if p == 0 else None)
        if p > 0 and n:
            for ax in axes:
                ax.axvline(start + 0.5, color="grey", linestyle="--", linewidth=1)
        if n:
            # Above the plot, from the phase's first epoch: a two-epoch head phase leaves a label
            # no room inside the axes before the next phase's label ("phasphase 2"), so neighbouring
            # phases take alternate rows, and nothing is drawn over the curves.
            for ax in axes:
                ax.text(start + 0.5, 1.02 + 0.07 * (p % 2), phase["name"], transform=ax.get_xaxis_transform(),
                        va="bottom", ha="left", fontsize=8, color="dimgrey", clip_on=False)
        start += n
    for ax, metric in zip(axes, ("loss", "accuracy"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    axes[1].set_ylim(0, 1.02)
    fig.suptitle("Training (dashed line: phase boundary)")
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    plt = _pyplot()
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return path


# ---------------------------------------------------------------------------------------------
# Models and data


def pad_to_batches(samples: Sequence, batch_size: int) -> list:
    """`samples` plus copies of the last one up to a multiple of `batch_size`.

    Every batch then has the same shape, so TensorFlow traces the predict function once: each
    extra trace of MobileNetV2 costs seconds.
    """
    samples = list(samples)
    return samples + samples[-1:] * ((-len(samples)) % batch_size) if samples else samples


def predict_samples(model, samples, image_size: int, batch_size: int, data_cfg: DataConfig) -> np.ndarray:
    """Probabilities (N, C) for `samples`, in order, through the same tf.data pipeline as training."""
    from flowers_mobile.data.pipeline import make_tf_dataset

    if not samples:
        return np.zeros((0, int(model.output_shape[-1])), np.float32)
    ds = make_tf_dataset(pad_to_batches(samples, batch_size), image_size, batch_size, training=False,
                         data_cfg=data_cfg, cache=False)
    return np.asarray(model.predict(ds, verbose=0), dtype=np.float32)[:len(samples)]


def evaluate_samples(model, samples, labels: Sequence[str], data_cfg: DataConfig, batch_size: int = 32,
                     image_size: int | None = None) -> dict[str, Any]:
    """Metrics of an in-memory model on `samples` (whose labels index `labels`)."""
    size = image_size or int(model.input_shape[1])
    probs = predict_samples(model, samples, size, batch_size, data_cfg)
    y = np.array([s.label for s in samples], dtype=np.int64)
    return classification_metrics(y, probs, labels)


def write_report(metrics: dict[str, Any], out_dir: str | Path, title: str) -> dict[str, Path]:
    """metrics.json, classification_report.txt and confusion_matrix.png in `out_dir` (atomically)."""
    out_dir = Path(out_dir)
    return {
        "metrics": atomic_write_json(out_dir / "metrics.json", metrics),
        "report": atomic_write_text(out_dir / "classification_report.txt", format_report(metrics, title)),
        "confusion_matrix": plot_confusion_matrix(metrics, out_dir / "confusion_matrix.png", title),
    }


def evaluate(model_path: Path, data_dir: Path, cfg: Config, *, split: str = "test",
             out_dir: Path | None = None) -> dict[str, Any]:
    """Evaluate a trained model on one split of a data folder (or all of it).

    Args:
        model_path: a `model.keras`; its `labels.txt` must be beside it.
        data_dir: class folders, or train/val/test folders; its classes must be among the model's
            labels (a folder with only some of them is fine; one class is fine).
        cfg: the config (split fractions and seed, so "test" is the split training held out).
        split: "test", "val", "train" or "all" (every image in the folder).
        out_dir: where to write metrics.json, classification_report.txt, confusion_matrix.png;
            None writes nothing.
    Returns:
        The metrics dict (see `classification_metrics`) plus "split", "model" and "data".
    """
    from flowers_mobile.data.sources import load_dataset

    if split not in SPLIT_CHOICES:
        raise UserError(f"unknown split {split!r}", hint=f"use one of {', '.join(SPLIT_CHOICES)}")
    model_path = check_keras_file(model_path)
    labels = read_labels(model_path.parent / "labels.txt")
    dataset = load_dataset(data_dir, cfg.data, min_classes=1)
    model = load_keras_model(model_path)
    outputs = int(model.output_shape[-1])
    if outputs != len(labels):
        raise UserError(f"{model_path} has {outputs} outputs but {model_path.parent / 'labels.txt'} has "
                        f"{len(labels)} labels", hint="keep the labels.txt written with the model beside it")
    unknown = [c for c in dataset.classes if c not in labels]
    if unknown:
        raise UserError(f"{data_dir} has classes the model does not know: {', '.join(unknown[:5])}",
                        hint=f"the model's classes are in {model_path.parent / 'labels.txt'}")
    samples = dataset.split(split)
    if not samples:
        raise UserError(f"the {split} split of {data_dir} has no images",
                        hint="use --split all to evaluate every image in the folder, or --split val")
    index = {c: labels.index(c) for c in dataset.classes}
    remapped = [type(s)(s.path, index[dataset.classes[s.label]]) for s in samples]
    metrics = evaluate_samples(model, remapped, labels, cfg.data, batch_size=cfg.training.batch_size)
    metrics = {"split": split, "model": str(model_path), "data": str(data_dir), **metrics}
    if out_dir is not None:
        write_report(metrics, out_dir, title=f"{model_path.parent.name} on {Path(data_dir).name} ({split})")
    return metrics
