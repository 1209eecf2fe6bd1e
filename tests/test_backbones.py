"""model.backbone: the catalogue's preprocessing equals keras.applications' own, an unknown name
is one line, and two backbones besides MobileNetV2 really train and convert (tiny, from scratch).

Costs on the 2-core CI machine: the preprocessing checks about 1 s each (build a backbone at its
minimum size, no training), the error tests under 1 s; train + convert (one process, user
CPU) about 20 s for VGG16 and 30 s for MobileNetV3Small at 32 px.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flowers_mobile import backbones
from flowers_mobile.cli import main
from flowers_mobile.config import Config, ModelConfig, load_config
from flowers_mobile.data.synth import generate_dataset
from flowers_mobile.errors import UserError


def _run(capsys, *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    return int(exc.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize("name", backbones.names())
def test_in_graph_preprocessing_equals_keras_preprocess_input(name):
    """The layers in front of the backbone, then the backbone's own leading preprocessing layers,
    on random raw pixels, equal keras.applications' `preprocess_input` followed by the same
    backbone layers: whatever the backbone expects, the model takes 0..255."""
    import keras

    from flowers_mobile.model import build_classifier, get_backbone, preprocess

    spec = backbones.get(name)
    model = build_classifier(ModelConfig(backbone=name, input_size=spec.min_size, weights="none"), 2)
    assert backbones.identify(model) == name  # what names it in the exports' description
    pixels = np.random.default_rng(3).uniform(0, 255, (4, spec.min_size, spec.min_size, 3)).astype(np.float32)
    ours = np.asarray(preprocess(model, pixels))
    reference = np.asarray(backbones.reference_preprocess(spec, pixels))
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-4)
    own = [layer for layer in get_backbone(model).layers[1:3]
           if isinstance(layer, (keras.layers.Rescaling, keras.layers.Normalization))]
    if spec.preprocessing == "builtin":
        # keras' preprocess_input is the identity for these: the backbone itself must start by
        # scaling 0..255, or the raw-pixel contract would silently break.
        np.testing.assert_array_equal(reference, pixels)
        assert own and isinstance(own[0], keras.layers.Rescaling), [la.name for la in get_backbone(model).layers[:3]]
    else:
        assert not own, f"{name}'s backbone scales its input itself: it would be done twice"
    if spec.preprocessing == "caffe":  # preprocessing, not a parameter: never trained
        layer = model.get_layer(backbones.PREPROCESS_LAYER["caffe"])
        assert not layer.trainable and not layer.trainable_weights


def test_caffe_preprocessing_is_bgr_minus_mean():
    """Pixel values where a swapped channel or a sign would show: R=10, G=20, B=30."""
    from flowers_mobile.model import build_classifier, preprocess

    model = build_classifier(ModelConfig(backbone="vgg16", input_size=32, weights="none"), 2)
    pixels = np.zeros((1, 32, 32, 3), np.float32) + np.array([10, 20, 30], np.float32)
    out = np.asarray(preprocess(model, pixels))[0, 0, 0]
    np.testing.assert_allclose(out, [30 - 103.939, 20 - 116.779, 10 - 123.68], atol=1e-4)


def test_input_size_not_set_is_the_backbones_natural_size(tmp_path):
    assert Config().model.input_size is None
    assert load_config(None, []).model.input_size == 224  # mobilenet_v2, as before
    assert load_config(None, ["model.backbone=xception"]).model.input_size == 299
    assert load_config(None, ["model.backbone=xception", "model.input_size=96"]).model.input_size == 96
    # An existing config file that gives the size keeps it, whatever the backbone.
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"model": {"input_size": 160}}))
    assert load_config(path, ["model.backbone=efficientnet_b0"]).model.input_size == 160


@pytest.mark.parametrize("override, words", [
    ("model.backbone=resnet50", ["model.backbone = 'resnet50' is unknown", "mobilenet_v2", "xception"]),
    ("model.input_size=64", ["xception's minimum of 71"]),
])
def test_bad_backbone_settings_are_one_line(capsys, tmp_path, override, words):
    code, err = _run(capsys, "train", "--data", tmp_path, "--out", tmp_path / "run", "--no-progress",
                     "--set", "model.backbone=xception", "--set", override)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    for word in words:
        assert word in lines[0], lines[0]
    assert not (tmp_path / "run").exists()


def test_default_description_is_neutral_and_each_backbone_has_its_own():
    import keras

    assert "MobileNet" not in Config().export.description
    assert backbones.identify(keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3)])) is None
    texts = {backbones.description(name) for name in backbones.names()}
    assert len(texts) == len(backbones.names())
    assert backbones.description("efficientnet_b0").startswith("EfficientNetB0 flower classifier")


def test_alpha_on_a_backbone_without_width_multiplier_is_refused():
    with pytest.raises(UserError, match="vgg16 has no width multiplier"):
        load_config(None, ["model.backbone=vgg16", "model.alpha=0.5"])


@pytest.fixture(scope="module")
def tiny_flowers(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bb") / "flowers"
    generate_dataset(root, num_classes=3, per_class=16, image_size=48, seed=5)
    return root


#: VGG16 (caffe preprocessing: the 1x1 convolution in front) and MobileNetV3Small (its own
#: Rescaling inside the backbone, hard-swish, squeeze-excite): the two cheapest to trace that
#: cover both kinds other than MobileNetV2's. The other backbones: tools/bench_backbones.py.
@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v3_small", "vgg16"])
def test_backbone_trains_and_converts(capsys, tiny_flowers, tmp_path, name):
    """`train --set model.backbone=NAME` (from scratch, 1 epoch per phase) then `convert --target
    tflite` (int8 and float32, the precisions the run's config names, set at train time): both
    are written and measured, the TFLite float32 file gives the Keras model's
    probabilities on raw pixels (the preprocessing went with the graph), and the run records the
    backbone and the natural-size rule's result."""
    import keras

    from flowers_mobile.runtimes import load_predictor

    run = tmp_path / "run"
    settings = [f"model.backbone={name}", "model.input_size=32", "model.weights=none", "training.batch_size=8",
                "training.head_epochs=1", "training.finetune_epochs=1", "training.finetune_fraction=1.0",
                "export.representative_size=8", "parity.max_images=16", "export.int8_fallback_budget=0",
                'export.tflite_precisions=["int8","float32"]']
    sets = [arg for s in settings for arg in ("--set", s)]
    assert _run(capsys, "train", "--data", tiny_flowers, "--out", run, "--no-progress", *sets)[0] == 0
    recorded = json.loads((run / "config.json").read_text())["model"]
    assert recorded["backbone"] == name and recorded["input_size"] == 32
    out = tmp_path / "export"
    assert _run(capsys, "convert", "--model", run / "model.keras", "--data", tiny_flowers, "--out", out,
                "--target", "tflite", "--no-progress")[0] == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert backbones.description(name) in json.dumps(manifest)  # convert named the backbone it found
    assert (out / "flowers.tflite").is_file()
    for precision in ("int8", "float32"):
        assert (out / f"flowers_{precision}.tflite").is_file(), manifest
    pixels = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype(np.float32)
    want = keras.models.load_model(run / "model.keras").predict(pixels, verbose=0)
    got = load_predictor(out / "flowers_float32.tflite").predict(pixels)
    np.testing.assert_allclose(got, want, atol=1e-4)
