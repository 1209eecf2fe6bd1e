"""Phase 1 pieces: cached features (with augmented copies), class weights, the head copy, and the
resumable phase state with its early stopping."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from flowers_mobile.config import Config
from flowers_mobile.data.sources import load_dataset
from flowers_mobile.data.synth import generate_dataset
from flowers_mobile.model import build_classifier, calibrate_batchnorm
from flowers_mobile.training import compute_class_weights
from flowers_mobile.training.features import build_head, copy_head, extract_features
from flowers_mobile.training.state import PhaseState


def _cfg(**training) -> Config:
    cfg = Config()
    return replace(cfg, model=replace(cfg.model, input_size=32, alpha=0.35, weights="none"),
                   training=replace(cfg.training, batch_size=4, **training))


def test_features_are_computed_once_per_image_plus_augmented_copies(tmp_path):
    data = tmp_path / "flowers"
    generate_dataset(data, num_classes=2, per_class=5, image_size=48, seed=3)
    cfg = _cfg()
    samples = load_dataset(data, cfg.data).split("all")  # 10 images: batches of 4, 4 and a padded 2
    model = build_classifier(cfg.model, 2)
    from flowers_mobile.data.pipeline import load_arrays

    images, _ = load_arrays(samples, 32)
    calibrate_batchnorm(model, images.astype("float32"))  # as training does: features of a usable scale
    feats, labels = extract_features(model, samples, cfg, copies=2, seed=5)
    n, dim = len(samples), int(model.get_layer("pool").output.shape[-1])
    assert feats.shape == (3 * n, dim) and feats.dtype == np.float32
    np.testing.assert_array_equal(labels, np.tile([s.label for s in samples], 3))
    clean, aug1, aug2 = feats[:n], feats[n:2 * n], feats[2 * n:]
    assert clean.std() > 0.01
    assert not np.allclose(aug1, clean, atol=1e-3) and not np.allclose(aug1, aug2, atol=1e-3)
    # The clean features are what the full model's layers up to pooling compute, image by image
    # (also for the padded last batch).
    import keras

    pooled = keras.Model(model.input, model.get_layer("pool").output).predict(images.astype("float32"), verbose=0)
    np.testing.assert_allclose(clean, pooled, rtol=1e-3, atol=1e-3)


def test_head_weights_land_in_the_full_model():
    cfg = _cfg()
    model = build_classifier(cfg.model, 3)
    head = build_head(int(model.get_layer("pool").output.shape[-1]), 3, 0.2)
    kernel = np.random.default_rng(0).normal(size=head.get_layer("probabilities").get_weights()[0].shape)
    head.get_layer("probabilities").set_weights([kernel.astype("float32"), np.arange(3, dtype="float32")])
    copy_head(head, model)
    got = model.get_layer("probabilities").get_weights()
    np.testing.assert_array_equal(got[0], kernel.astype("float32"))
    np.testing.assert_array_equal(got[1], [0, 1, 2])


def test_class_weights_balance_an_unbalanced_split():
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    w = compute_class_weights(labels, 4)  # class 3 absent
    assert w[0] == pytest.approx(100 / (3 * 60)) and w[2] == pytest.approx(100 / (3 * 10))
    assert w[3] == 1.0
    # Weighted, every present class carries the same total: the loss of a balanced split.
    totals = [w[c] * (labels == c).sum() for c in range(3)]
    assert totals == pytest.approx([100 / 3] * 3)
    assert compute_class_weights(np.array([0, 1, 0, 1]), 2) == {0: 1.0, 1: 1.0}


def test_class_weights_raise_recall_of_a_rare_class():
    """A head trained on overlapping classes, 9:1: unweighted it sacrifices the rare class."""
    import keras

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0.0, 1.0, (450, 8)), rng.normal(0.5, 1.0, (50, 8))]).astype("float32")
    y = np.array([0] * 450 + [1] * 50)
    recalls = []
    for weights in (None, compute_class_weights(y, 2)):
        keras.utils.set_random_seed(1)
        head = build_head(8, 2, 0.0)
        head.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
        head.fit(x, y, epochs=15, batch_size=100, verbose=0, class_weight=weights)
        pred = head.predict(x, verbose=0).argmax(1)
        recalls.append(float((pred[y == 1] == 1).mean()))
    assert recalls[1] > recalls[0] + 0.25, recalls


def _tiny_model():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)  # optimizer has state now
    return model


def test_phase_state_saves_atomically_and_restores_weights_optimizer_and_history(tmp_path):
    model = _tiny_model()
    state = PhaseState(tmp_path / "head", epochs=10, patience=2)
    state.record(0, {"loss": 1.0, "val_accuracy": 0.5, "val_loss": 1.0}, model)
    saved = [np.array(v) for v in model.optimizer.variables]
    weights = model.get_weights()
    state.record(1, {"loss": 0.9, "val_accuracy": 0.5, "val_loss": 0.8}, model)  # tie, lower loss: better
    assert state.best_epoch == 1 and state.epoch == 2
    assert sorted(p.name for p in (tmp_path / "head").iterdir()) == ["best.weights.h5", "latest.weights.h5",
                                                                     "state.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["head"]  # no temporary folders left
    fresh = _tiny_model()
    restored = PhaseState(tmp_path / "head", epochs=10, patience=2)
    assert restored.restore(fresh)
    assert restored.epoch == 2 and restored.history["loss"] == [1.0, 0.9] and restored.resumed_at == 2
    for a, b in zip(fresh.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(fresh.optimizer.iterations) == int(saved[0])


def test_phase_state_stops_after_patience_epochs_without_improvement(tmp_path):
    model = _tiny_model()
    state = PhaseState(tmp_path / "p", epochs=10, patience=2)
    for epoch, acc in enumerate([0.5, 0.7, 0.6, 0.7]):
        state.record(epoch, {"val_accuracy": acc, "val_loss": 1.0}, model)
    assert state.best_epoch == 1 and state.stopped and state.done
    saved = json.loads((tmp_path / "p" / "state.json").read_text())
    assert saved["stopped"] and saved["best_epoch"] == 1 and saved["epoch"] == 4
    never = PhaseState(tmp_path / "q", epochs=10, patience=0)  # 0: no early stopping
    for epoch in range(4):
        never.record(epoch, {"val_accuracy": 0.5}, model)
    assert not never.stopped and never.best_epoch == 0
