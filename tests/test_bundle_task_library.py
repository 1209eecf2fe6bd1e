"""The bundled Android asset is a model MediaPipe Tasks (the Android app's classifier) and the
Task Library classify with our labels.

A tiny classifier with the project's preprocessing-in-the-graph (raw 0..255 pixels in, a
`Rescaling` layer to [-1, 1], softmax out; a few convolutions instead of MobileNetV2 because
full-int8 conversion of even the smallest MobileNetV2 takes about a minute on 2 cores) is
converted to full-int8 TFLite with classifier metadata (export/metadata.py), exactly the contract the app relies on (uint8 input, scale 1, zero point 0,
labels in the metadata), put into an export folder with `build_manifest`, bundled into a copy of
the Android app, and the file in the app's assets is loaded by the TFLite Task Library's C++
`ImageClassifier` in a subprocess without TensorFlow (where that extra is installed: Python
<= 3.11) and by MediaPipe Tasks' `ImageClassifier`
(the one the Android app runs), and both are compared with the LiteRT interpreter on the same
pixels.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from flowers_mobile.export.bundle import bundle
from flowers_mobile.formats.manifest import build_manifest, describe_artifact, write_manifest
from flowers_mobile.labels import write_labels
from flowers_mobile.runtimes.base import runtime_available

REPO = Path(__file__).resolve().parents[1]
LABELS = ["daisy", "rose", "sweet_pea", "tulip"]
SIZE = 64

@pytest.fixture(scope="module")
def int8_export(tmp_path_factory):
    import keras
    import tensorflow as tf

    from flowers_mobile.config import ExportConfig
    from flowers_mobile.export.metadata import add_metadata

    root = tmp_path_factory.mktemp("tl_export")
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(SIZE, SIZE, 3), dtype="float32", name="image")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu6")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu6")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(len(LABELS), activation="softmax", name="probabilities")(x)
    keras_model = keras.Model(inputs, outputs)
    keras_path = root / "model.keras"
    keras_model.save(keras_path)
    saved = root / "saved_model"
    keras_model.export(str(saved), verbose=False)

    rng = np.random.default_rng(0)

    def representative():
        for _ in range(8):
            img = rng.integers(0, 256, size=(1, SIZE, SIZE, 3)).astype(np.float32)
            img[0, 0, 0] = [0, 0, 0]
            img[0, -1, -1] = [255, 255, 255]  # the full 0..255 range: uint8 scale 1, zero point 0
            yield [img]

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8
    export = root / "export"
    export.mkdir()
    write_labels(export / "labels.txt", LABELS)
    (export / "flowers.tflite").write_bytes(add_metadata(converter.convert(), LABELS, ExportConfig(), precision="int8"))
    shutil.copy(keras_path, export / "model.keras")

    art = describe_artifact(export, "flowers.tflite", format="tflite", precision="int8",
                            input_shape=[1, SIZE, SIZE, 3], input_dtype="uint8", num_labels=len(LABELS),
                            input_quantization={"scale": 1.0, "zero_point": 0}, default_for=["android"])
    write_manifest(export, build_manifest(model_name="tiny", source_model=export / "model.keras",
                                          labels_file=export / "labels.txt", labels=LABELS, artifacts=[art]))
    return export


@pytest.mark.slow
@pytest.mark.skipif(not runtime_available("task_library"), reason="the Task Library is an extra (Python <= 3.11)")
def test_bundled_asset_classifies_with_the_task_library(int8_export, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from flowers_mobile.runtimes.task_library import TaskLibraryPredictor

    android = tmp_path / "android_app"
    shutil.copytree(REPO / "android_app", android, ignore=shutil.ignore_patterns("build", ".gradle", "assets"))
    (tmp_path / "ios_app").mkdir()
    placed = bundle(int8_export, "android", android, tmp_path / "ios_app")
    asset = android / "app/src/main/assets/flowers.tflite"
    assert asset in [p.dest for p in placed]

    pixels = np.random.default_rng(1).integers(0, 256, size=(4, SIZE, SIZE, 3), dtype=np.uint8)
    # The runtime's worker: a subprocess without TensorFlow, pure-Python protobuf (runtimes/task_library.py).
    with TaskLibraryPredictor(asset) as predictor:
        by_name = predictor.classify_by_name(pixels)
        got = predictor.predict(pixels)
    expected, scale = _litert_scores(asset, pixels)
    inp = Interpreter(model_path=str(asset)).get_input_details()[0]
    assert inp["dtype"] == np.uint8 and tuple(inp["quantization"]) == (1.0, 0)  # camera bytes as they are
    # Every class comes back, named from the metadata with our labels, with LiteRT's score.
    assert all(sorted(scores) == sorted(LABELS) for scores in by_name)
    np.testing.assert_allclose(got, expected, atol=scale + 1e-6)


def _litert_scores(model: Path, pixels: np.ndarray) -> tuple[np.ndarray, float]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    scale, zero = out["quantization"]
    rows = []
    for img in pixels:
        interpreter.set_tensor(inp["index"], img[None])
        interpreter.invoke()
        rows.append((interpreter.get_tensor(out["index"])[0].astype(np.float32) - zero) * scale)
    return np.stack(rows), scale


@pytest.mark.slow
def test_bundled_asset_classifies_with_mediapipe(int8_export, tmp_path):
    """MediaPipe Tasks' ImageClassifier reads the labels from the asset's metadata: every
    category carries our name at our index, with LiteRT's score for the same pixels."""
    from flowers_mobile.runtimes.mediapipe import MediaPipePredictor

    android = tmp_path / "android_app"
    shutil.copytree(REPO / "android_app", android, ignore=shutil.ignore_patterns("build", ".gradle", "assets"))
    (tmp_path / "ios_app").mkdir()
    bundle(int8_export, "android", android, tmp_path / "ios_app")
    asset = android / "app/src/main/assets/flowers.tflite"
    pixels = np.random.default_rng(2).integers(0, 256, size=(6, SIZE, SIZE, 3), dtype=np.uint8)
    expected, scale = _litert_scores(asset, pixels)
    with MediaPipePredictor(asset) as predictor:
        assert predictor.labels == LABELS and predictor.input_size == (SIZE, SIZE)
        by_name = predictor.classify_by_name(pixels)  # also checks each name sits at its label's index
        got = predictor.predict(pixels)
    assert all(sorted(scores) == sorted(LABELS) for scores in by_name)
    np.testing.assert_allclose(got, expected, atol=scale + 1e-6)
