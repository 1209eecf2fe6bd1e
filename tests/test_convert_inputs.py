"""Foreign classifiers and edge cases: .h5 input, --normalize wrapping, softmax detection, the pinned
raw-pixel int8 input, targets, and runtimes on models without metadata."""

from __future__ import annotations

import numpy as np
import pytest

from flowers_mobile.config import Config
from flowers_mobile.errors import UserError
from flowers_mobile.export import keras_io
from flowers_mobile.export.convert import convert, resolve_precisions, resolve_targets
from tests.convert_fixtures import TINY_LABELS, TINY_SIZE, draw_shapes, tiny_classifier


def _pixels(n: int, lo: int = 0, hi: int = 256, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(lo, hi, (n, TINY_SIZE, TINY_SIZE, 3)).astype(np.uint8)


def test_targets_and_precisions_resolve():
    assert resolve_targets(["all"]) == ["tflite", "coreml", "saved_model"]
    assert resolve_targets(["saved_model,tflite"]) == ["tflite", "saved_model"]
    assert resolve_precisions(["fp16", "none", "int8", "float16"]) == ["float16", "float32", "int8"]
    with pytest.raises(UserError, match="unknown target"):
        resolve_targets(["tfjs"])


def test_normalize_specs():
    imagenet = keras_io.parse_normalize("imagenet")
    assert imagenet.scale[0] == pytest.approx(1 / (255 * 0.229)) and imagenet.offset[2] == pytest.approx(-0.406 / 0.225)
    assert keras_io.parse_normalize("mobilenet").offset == (-1.0, -1.0, -1.0)
    assert keras_io.parse_normalize("0.5,-3").scale == (0.5, 0.5, 0.5)
    assert keras_io.parse_normalize("none") is None
    for bad in ("0,1", "a,b", "1,2,3", "nan,0"):
        with pytest.raises(UserError):
            keras_io.parse_normalize(bad)


def test_imagenet_wrapping_feeds_the_model_mean_std_normalized_pixels():
    import keras

    inner = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Softmax()])
    wrapped = keras_io.wrap_normalization(inner, keras_io.parse_normalize("imagenet"))
    x = _pixels(2)[:, :4, :4].astype(np.float32)
    expected = (x / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(np.asarray(wrapped(x)), np.asarray(inner(expected.astype(np.float32))), atol=1e-6)


def test_softmax_is_recognised_by_activation_or_by_outputs():
    import keras

    assert keras_io.validate_classifier(tiny_classifier()).softmax_check == "activation"
    inputs = keras.Input((TINY_SIZE, TINY_SIZE, 3))
    logits = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(inputs))
    op_softmax = keras.Model(inputs, keras.ops.softmax(logits))  # no Softmax layer, no activation
    info = keras_io.validate_classifier(op_softmax)
    assert (info.softmax_check, info.num_classes, info.input_size) == ("outputs sum to 1", 3, (32, 32))
    with pytest.raises(UserError, match="do not look like probabilities"):
        keras_io.validate_classifier(keras.Model(inputs, logits))


@pytest.mark.slow
def test_h5_model_expecting_unit_pixels_is_wrapped_to_raw_pixels(tmp_path):
    """A foreign .h5 model trained on x / 255: --normalize puts the scaling in front, so the
    export takes raw pixels and matches the model on x / 255."""
    from flowers_mobile.runtimes.litert import LiteRTPredictor

    model = tiny_classifier(normalized_input=True)
    model.save(tmp_path / "foreign.h5")
    (tmp_path / "labels.txt").write_text("\n".join(TINY_LABELS) + "\n")
    manifest = convert(tmp_path / "foreign.h5", tmp_path / "export", Config(), precisions=["none"],
                       normalize=f"{1 / 255!r},0", progress=False)
    assert manifest["export_config"]["normalize"].startswith("custom: x * 0.00392157 + 0")
    x = _pixels(6)
    with LiteRTPredictor(tmp_path / "export" / "flowers.tflite") as predictor:
        assert predictor.labels == TINY_LABELS
        out = predictor.predict(x)
    reference = np.asarray(model(x.astype(np.float32) / 255.0))
    assert np.abs(out - reference).max() < 1e-5


@pytest.mark.slow
def test_int8_input_is_pinned_to_raw_pixels_when_calibration_sees_a_narrow_range(tmp_path):
    """Calibration images spanning 60..180 would give the uint8 input a scale of 180/255; the
    export pins it to (1, 0) and requantizes inside, so raw pixels still give the right answer."""
    from ai_edge_litert.interpreter import Interpreter

    from flowers_mobile.export.tflite import convert_tflite, frozen_function

    model = tiny_classifier()
    function = frozen_function(model, (TINY_SIZE, TINY_SIZE))
    narrow = _pixels(40, 60, 181)
    data = convert_tflite(function, "int8", narrow)
    interpreter = Interpreter(model_content=data)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert inp["dtype"] == np.uint8 and inp["quantization"] == (1.0, 0)
    first = interpreter._get_ops_details()[0]
    assert first["op_name"] == "QUANTIZE"
    inner_scale = interpreter.get_tensor_details()[first["outputs"][0]]["quantization"][0]
    assert inner_scale == pytest.approx(180 / 255, rel=0.02)  # the calibrated range lives inside
    test = _pixels(20, 60, 181, seed=1)
    reference = np.asarray(model(test.astype(np.float32)))
    got = []
    for image in test:
        interpreter.set_tensor(inp["index"], image[None])
        interpreter.invoke()
        scale, zero = out["quantization"]
        got.append((interpreter.get_tensor(out["index"])[0].astype(np.float32) - zero) * scale)
    assert np.abs(np.stack(got) - reference).max() < 0.03


@pytest.mark.slow
def test_runtimes_on_a_model_without_metadata(tmp_path):
    from flowers_mobile.export.tflite import convert_tflite, frozen_function
    from flowers_mobile.formats.tflite import embedded_labels
    from flowers_mobile.runtimes.litert import LiteRTPredictor
    from flowers_mobile.runtimes.mediapipe import MediaPipePredictor
    from flowers_mobile.runtimes.task_library import TaskLibraryPredictor

    data = convert_tflite(frozen_function(tiny_classifier(), (TINY_SIZE, TINY_SIZE)), "float32")
    assert embedded_labels(data) is None
    path = tmp_path / "bare.tflite"
    path.write_bytes(data)
    with pytest.raises(UserError, match="no labels in its metadata and no labels.txt"):
        LiteRTPredictor(path)
    with pytest.raises(UserError, match="the Task Library needs them"):
        TaskLibraryPredictor(path)
    with pytest.raises(UserError, match="MediaPipe Tasks needs them"):
        MediaPipePredictor(path)
    (tmp_path / "labels.txt").write_text("\n".join(TINY_LABELS) + "\n")
    with LiteRTPredictor(path) as predictor:
        assert predictor.labels == TINY_LABELS
        assert predictor.predict(_pixels(2)).shape == (2, 3)


def test_representative_images_come_from_the_training_split_of_every_class(tmp_path):
    from flowers_mobile.data.sources import load_dataset
    from flowers_mobile.export.tflite import representative_images
    from flowers_mobile.images import load_image

    dataset = load_dataset(draw_shapes(tmp_path / "data", per_class=10))
    images = representative_images(dataset, 6, seed=3, input_size=(20, 24))
    assert images.shape == (6, 20, 24, 3) and images.dtype == np.uint8
    train = {s.path: (load_image(s.path, (24, 20)), s.label) for s in dataset.train}
    labels = []
    for image in images:
        matches = [label for pixels, label in train.values() if np.array_equal(pixels, image)]
        assert matches, "a calibration image is not a training image"
        labels.append(matches[0])
    assert sorted(labels) == [0, 0, 1, 1, 2, 2]  # stratified: two of each class
