"""Reproducible training: the same seed on the same data gives the same weights and history, and
another seed does not (so the comparison can fail)."""

from __future__ import annotations

import numpy as np
import pytest

from flowers_mobile.config import Config
from flowers_mobile.data.synth import generate_dataset

#: Small but complete: both phases, augmentation, dropout, shuffling, BatchNorm calibration; the
#: top fifth of the backbone fine-tuned (a smaller gradient graph: a shorter train-step trace).
OVERRIDES = [
    "model.input_size=32", "model.alpha=0.35", "model.weights=none", "model.dropout=0.2",
    "training.batch_size=8", "training.head_epochs=2", "training.finetune_epochs=2",
    "training.finetune_fraction=0.2", "training.finetune_lr_factor=1.0", "training.head_learning_rate=0.003",
    "training.early_stopping_patience=0", "training.distribute=none",
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("repro") / "flowers"
    generate_dataset(root, 3, 12, 40, seed=3)
    return root


def _train(data, out, seed: int, extra=(), progress=None):
    import keras

    from flowers_mobile.training import train

    cfg = Config().with_overrides([*OVERRIDES, f"training.seed={seed}", "training.deterministic=true", *extra])
    result = train(data, out, cfg, progress=progress)
    weights = keras.saving.load_model(result.model_path, compile=False).get_weights()
    return weights, _history_without_timings(result.history), result.metrics


def _history_without_timings(history):
    return [{k: v for k, v in phase["history"].items() if k != "epoch_seconds"} | {"best": phase["best_epoch"]}
            for phase in history["phases"]]


@pytest.mark.slow
def test_same_seed_same_weights_and_history_other_seed_other_weights(data, tmp_path):
    first, first_history, first_metrics = _train(data, tmp_path / "a", seed=5)
    second, second_history, second_metrics = _train(data, tmp_path / "b", seed=5)
    # Another seed, head phase only (no second fine-tune trace): its weights must differ, so the
    # comparison above can fail. Its progress events are recorded on the way.
    events = []
    other, _, _ = _train(data, tmp_path / "c", seed=6, extra=["training.finetune_epochs=0"], progress=events.append)

    assert len(first) == len(second) == len(other)
    differing = [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if not np.array_equal(a, b)]
    assert not differing, f"{len(differing)} of {len(first)} weight arrays differ between two runs with seed 5"
    assert first_history == second_history
    assert [p.keys() >= {"loss", "val_accuracy"} for p in first_history] == [True, True]
    for split in ("val", "test"):
        assert first_metrics[split]["confusion_matrix"] == second_metrics[split]["confusion_matrix"]
    assert first_metrics["run"]["deterministic"] is True
    assert sum(not np.array_equal(a, b) for a, b in zip(first, other, strict=True)) > len(first) // 2
    _check_progress_events(events)


def _check_progress_events(events):
    """What `train` reports through its one callback: notes, the feature pass, phase 1's epochs
    and batches (24 training images, batch 8: 3 batches an epoch), every task started first."""
    notes = [e.text for e in events if e.kind == "note"]
    assert notes[0].startswith("data: 3 classes") and notes[1].startswith("model: MobileNetV2 alpha 0.35")
    starts = {e.task: e for e in events if e.kind == "start"}
    assert [(e.text, e.total) for e in starts.values()][1:] == [("phase 1: head", 2), ("  batches", 3)]
    assert next(iter(starts.values())).text.startswith("features (x")
    assert all(e.task in starts for e in events if e.kind != "note")
    head_task, batch_task = list(starts)[1:]
    assert [e.completed for e in events if e.kind == "update" and e.task == head_task] == [1, 2]
    assert [e.completed for e in events if e.task == batch_task and e.completed] == [1, 2, 3] * 2
    assert events[-1].kind == "remove" and events[-1].task == batch_task
