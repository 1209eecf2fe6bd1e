"""Fine-tuning changes only the unfrozen layers; BatchNorm statistics stay fixed with pretrained-style
training and learn from scratch; calibration and the head copy do what they say."""

from __future__ import annotations

import numpy as np
import pytest

from flowers_mobile.config import ModelConfig
from flowers_mobile.errors import UserError
from flowers_mobile.model import (
    batchnorm_mode,
    build_classifier,
    calibrate_batchnorm,
    get_backbone,
    is_batchnorm,
    unfreeze_top,
)

CFG = ModelConfig(input_size=32, alpha=0.35, weights="none", dropout=0.0)


def _data(n: int = 16, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (n, 32, 32, 3)).astype("float32"), rng.integers(0, classes, n)


def _snapshot(model) -> dict[str, list[np.ndarray]]:
    return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in get_backbone(model).layers}


def _changed(before: list[np.ndarray], after: list[np.ndarray]) -> list[bool]:
    return [not np.array_equal(b, a) for b, a in zip(before, after, strict=True)]


def _fit(model, x, y, lr: float = 0.05) -> None:
    """Two steps of `fit`. Eagerly: the same layers, flags and optimizer as a traced fit, without
    the tens of seconds TensorFlow takes to trace MobileNetV2's train step."""
    import keras

    model.compile(optimizer=keras.optimizers.SGD(lr), loss="sparse_categorical_crossentropy", run_eagerly=True)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)


@pytest.mark.slow
def test_finetune_changes_only_unfrozen_layers_and_keeps_batchnorm_statistics():
    x, y = _data()
    model = build_classifier(CFG, 3, batchnorm_inference=True)
    calibrate_batchnorm(model, x)  # statistics that are not the initial 0/1, so "kept" means something
    before = _snapshot(model)
    head_before = model.get_layer("probabilities").get_weights()[0].copy()
    names = unfreeze_top(model, 0.1, freeze_batchnorm=True)
    with_weights = [layer.name for layer in get_backbone(model).layers if layer.weights]
    assert names and set(names) <= set(with_weights[-round(0.1 * len(with_weights)):])
    _fit(model, x, y)
    after = _snapshot(model)
    for layer in get_backbone(model).layers:
        changed = _changed(before[layer.name], after[layer.name])
        if is_batchnorm(layer):
            assert not any(changed), f"BatchNorm {layer.name} changed (gamma/beta/moving statistics)"
        elif layer.name in names:
            assert changed[0], f"unfrozen {layer.name} did not train"
        else:
            assert not any(changed), f"frozen {layer.name} changed"
    assert not np.array_equal(head_before, model.get_layer("probabilities").get_weights()[0])


@pytest.mark.slow
def test_from_scratch_batchnorm_learns_statistics_in_the_unfrozen_part_only():
    x, y = _data()
    model = build_classifier(CFG, 3, batchnorm_inference=False)
    before = _snapshot(model)
    names = unfreeze_top(model, 0.1, freeze_batchnorm=False)
    bn_names = [n for n in names if is_batchnorm(get_backbone(model).get_layer(n))]
    assert bn_names
    _fit(model, x, y)
    after = _snapshot(model)
    for layer in get_backbone(model).layers:
        changed = _changed(before[layer.name], after[layer.name])
        if layer.name in bn_names:
            # [gamma, beta, moving mean, moving variance]: the statistics follow the batches.
            # (A gamma can stay put where the next layer renormalizes; its gradient is ~0 there.)
            assert changed[2] and changed[3], f"BatchNorm {layer.name} statistics did not move: {changed}"
            assert changed[1], f"BatchNorm {layer.name} beta did not train"
        elif layer.name not in names:
            assert not any(changed), f"frozen {layer.name} changed"


def test_unfreeze_top_counts_layers_from_the_output_end():
    model = build_classifier(CFG, 3)
    layers = [layer.name for layer in get_backbone(model).layers if layer.weights]
    assert unfreeze_top(model, 0.0) == []
    everything = unfreeze_top(model, 1.0, freeze_batchnorm=False)
    assert everything == layers
    no_bn = unfreeze_top(model, 1.0, freeze_batchnorm=True)
    assert no_bn and not any("bn" in n.lower() for n in no_bn)
    half = unfreeze_top(model, 0.5, freeze_batchnorm=False)
    assert half == layers[len(layers) - round(0.5 * len(layers)):]
    for bad in (-0.1, 1.5):
        with pytest.raises(UserError, match="finetune_fraction"):
            unfreeze_top(model, bad)


def test_calibration_sets_moving_statistics_from_the_images_and_nothing_else():
    x, _ = _data(32)
    model = build_classifier(CFG, 3)
    backbone = get_backbone(model)
    bn = next(layer for layer in backbone.layers if is_batchnorm(layer))
    weights_before = {layer.name: layer.get_weights() for layer in backbone.layers if not is_batchnorm(layer)}
    flags_before = [layer.trainable for layer in backbone.layers]
    calibrate_batchnorm(model, x)
    # The first BatchNorm's statistics are those of the first convolution's output on x.
    import keras

    conv_out = keras.Model(backbone.input, backbone.get_layer("Conv1").output)(
        model.get_layer("to_minus1_1")(x))
    conv_out = np.asarray(conv_out)
    np.testing.assert_allclose(bn.moving_mean.numpy(), conv_out.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), conv_out.var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-5)
    for layer in backbone.layers:
        if not is_batchnorm(layer):
            for a, b in zip(weights_before[layer.name], layer.get_weights(), strict=True):
                np.testing.assert_array_equal(a, b)
    assert [layer.trainable for layer in backbone.layers] == flags_before
    assert all(layer.momentum == 0.999 for layer in backbone.layers if is_batchnorm(layer))


def test_batchnorm_auto_is_frozen_for_pretrained_and_trains_from_scratch():
    assert batchnorm_mode(ModelConfig(weights="imagenet")) == "frozen"
    assert batchnorm_mode(ModelConfig(weights="/some/weights.h5")) == "frozen"
    assert batchnorm_mode(ModelConfig(weights="none")) == "train"
    assert batchnorm_mode(ModelConfig(weights="none"), "frozen") == "frozen"
