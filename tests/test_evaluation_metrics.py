"""Metrics, the text report and the plots, on predictions whose answers are worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flowers_mobile.errors import UserError
from flowers_mobile.evaluation import (
    classification_metrics,
    format_report,
    pad_to_batches,
    plot_confusion_matrix,
    plot_training_curves,
    write_report,
)

LABELS = ["daisy", "rose", "tulip"]


def _probs(pred: list[int], n_classes: int = 3, second: list[int] | None = None) -> np.ndarray:
    """One-hot-ish probabilities: 0.6 on `pred`, 0.3 on `second` (or the next class), 0.1 elsewhere."""
    out = np.full((len(pred), n_classes), 0.1 / max(1, n_classes - 2))
    for i, p in enumerate(pred):
        s = second[i] if second else (p + 1) % n_classes
        out[i] = 0.0
        out[i, p] = 0.6
        out[i, s] = 0.3
        rest = [c for c in range(n_classes) if c not in (p, s)]
        out[i, rest] = 0.1 / len(rest)
    return out


def test_per_class_precision_recall_f1_and_confusion_matrix_match_hand_counts():
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    y_pred = [0, 0, 0, 1, 1, 2, 2, 2]
    m = classification_metrics(y_true, _probs(y_pred), LABELS)
    assert m["confusion_matrix"] == [[3, 1, 0], [0, 1, 1], [0, 0, 2]]
    assert m["accuracy"] == pytest.approx(6 / 8)
    daisy, rose, tulip = (m["per_class"][c] for c in LABELS)
    assert (daisy["precision"], daisy["recall"], daisy["support"]) == (pytest.approx(1.0), pytest.approx(0.75), 4)
    assert (rose["precision"], rose["recall"], rose["support"]) == (pytest.approx(0.5), pytest.approx(0.5), 2)
    assert (tulip["precision"], tulip["recall"]) == (pytest.approx(2 / 3), pytest.approx(1.0))
    assert daisy["f1"] == pytest.approx(2 * 1.0 * 0.75 / 1.75)
    assert tulip["f1"] == pytest.approx(0.8)
    assert m["macro_f1"] == pytest.approx((6 / 7 + 0.5 + 0.8) / 3)
    assert m["weighted_f1"] == pytest.approx((4 * 6 / 7 + 2 * 0.5 + 2 * 0.8) / 8)
    assert m["labels"] == LABELS and m["num_images"] == 8
    json.dumps(m)  # JSON-ready


def test_top_k_counts_the_true_class_among_the_k_most_probable():
    y_true = np.array([0, 1, 2, 3])
    probs = np.array([
        [0.7, 0.1, 0.1, 0.1],   # right at top-1
        [0.5, 0.3, 0.1, 0.1],   # second
        [0.4, 0.3, 0.2, 0.1],   # third
        [0.4, 0.3, 0.2, 0.1],   # last
    ])
    labels = ["a", "b", "c", "d"]
    assert classification_metrics(y_true, probs, labels, top_k=2)["top5_accuracy"] == pytest.approx(0.5)
    assert classification_metrics(y_true, probs, labels, top_k=3)["top5_accuracy"] == pytest.approx(0.75)
    capped = classification_metrics(y_true, probs, labels)  # k=5 capped at 4 classes
    assert capped["top_k"] == 4 and capped["top5_accuracy"] == 1.0


def test_loss_is_mean_negative_log_probability_of_the_true_class():
    probs = np.array([[0.8, 0.2], [0.25, 0.75]])
    m = classification_metrics(np.array([0, 0]), probs, ["x", "y"])
    assert m["loss"] == pytest.approx(-(np.log(0.8) + np.log(0.25)) / 2)


def test_macro_averages_skip_classes_absent_from_the_folder():
    # Evaluating a folder that holds only two of the model's three classes.
    y_true = np.array([0, 0, 2, 2])
    m = classification_metrics(y_true, _probs([0, 0, 2, 2]), LABELS)
    assert m["per_class"]["rose"]["support"] == 0
    assert m["macro_f1"] == pytest.approx(1.0)


def test_no_images_is_a_user_error():
    with pytest.raises(UserError, match="no images"):
        classification_metrics(np.zeros(0, int), np.zeros((0, 3)), LABELS)


def test_report_lists_every_class_and_the_averages():
    m = classification_metrics(np.array([0, 1, 2]), _probs([0, 1, 1]), LABELS)
    text = format_report(m, "val")
    for word in [*LABELS, "accuracy", "top-3 accuracy", "macro avg", "weighted avg", "precision"]:
        assert word in text
    assert text.splitlines()[0] == "val"


def test_pad_to_batches_repeats_the_last_sample_up_to_a_full_batch():
    assert pad_to_batches([1, 2, 3, 4, 5], 4) == [1, 2, 3, 4, 5, 5, 5, 5]
    assert pad_to_batches([1, 2], 2) == [1, 2]
    assert pad_to_batches([], 8) == []


def _is_png(path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_and_report_are_written_whole(tmp_path):
    m = classification_metrics(np.array([0, 1, 2, 2]), _probs([0, 1, 2, 0]), LABELS)
    files = write_report(m, tmp_path / "report", "test split")
    assert _is_png(files["confusion_matrix"])
    assert json.loads(files["metrics"].read_text())["accuracy"] == pytest.approx(0.75)
    assert "tulip" in files["report"].read_text()
    history = {"phases": [
        {"name": "phase 1: head", "history": {"loss": [1.2, 0.9], "val_loss": [1.1, 1.0],
                                              "accuracy": [0.4, 0.6], "val_accuracy": [0.5, 0.55]}},
        {"name": "phase 2: fine-tune", "history": {"loss": [0.7, 0.4, 0.3], "val_loss": [0.8, 0.5, 0.45],
                                                   "accuracy": [0.7, 0.85, 0.9], "val_accuracy": [0.7, 0.8, 0.9]}},
    ]}
    curves = plot_training_curves(history, tmp_path / "report" / "training_curves.png")
    assert _is_png(curves)
    many = classification_metrics(np.arange(40) % 30, np.eye(30)[np.arange(40) % 30], [f"c{i}" for i in range(30)])
    assert _is_png(plot_confusion_matrix(many, tmp_path / "big.png"))
    leftovers = [p.name for p in tmp_path.rglob("*") if ".tmp" in p.name]
    assert leftovers == []
