"""TFLite metadata written without tflite-support (export/metadata.py), read by the runtimes that
ship in apps: MediaPipe Tasks' ImageClassifier must name its categories with our labels and
agree with LiteRT, on every supported Python. Where tflite-support installs (Python <= 3.11),
its own MetadataDisplayer must read our files exactly like files its own writer makes.

A tiny classifier (32 px, 3 classes, the strongest colour channel wins) converted at float32 (float input) and int8
(uint8 input and output): about 6 s in all.
"""

from __future__ import annotations

import importlib.util
import io
import json
import zipfile

import numpy as np
import pytest

from flowers_mobile.config import ExportConfig
from flowers_mobile.export.metadata import add_metadata, read_metadata, verify_metadata
from flowers_mobile.formats.tflite import embedded_labels
from tests.convert_fixtures import TINY_SIZE

PRECISIONS = ("float32", "int8")
#: Not the alphabetical order, so a reader that sorts or invents names fails.
LABELS = ["tulip", "daisy", "rose"]


def colour_classifier():
    """Picks the strongest colour channel: a small conv layer, then a Dense head set by hand, so
    that red, green and blue shapes land in different classes (an untrained head answers one)."""
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((TINY_SIZE, TINY_SIZE, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same", depthwise_initializer="ones")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    head = keras.layers.Dense(3, activation="softmax")
    outputs = head(x)
    head.set_weights([np.eye(3, dtype=np.float32) * 0.8, np.zeros(3, np.float32)])
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def images():
    """Coloured squares on grey (confident answers, each class) and noise (unsure ones)."""
    rng = np.random.default_rng(3)
    out = rng.integers(0, 256, (12, TINY_SIZE, TINY_SIZE, 3)).astype(np.uint8)
    for i, colour in enumerate([(220, 30, 30), (30, 200, 40), (30, 40, 220)] * 2):
        out[i] = 120
        out[i, 6:26, 6:26] = colour
    return out


@pytest.fixture(scope="module")
def plain(images):
    """Flatbuffers straight from the converter (no metadata), per precision."""
    from flowers_mobile.export.tflite import convert_tflite, frozen_function

    function = frozen_function(colour_classifier(), (TINY_SIZE, TINY_SIZE))
    return {p: convert_tflite(function, p, images.astype(np.float32) if p == "int8" else None)
            for p in PRECISIONS}


@pytest.fixture(scope="module")
def with_metadata(plain, tmp_path_factory):
    root = tmp_path_factory.mktemp("metadata")
    paths = {}
    for precision, data in plain.items():
        paths[precision] = root / f"flowers_{precision}.tflite"
        paths[precision].write_bytes(add_metadata(data, LABELS, ExportConfig(), precision=precision))
    return paths


@pytest.mark.parametrize("precision", PRECISIONS)
def test_metadata_says_what_was_written(with_metadata, precision):
    data = with_metadata[precision].read_bytes()
    info = verify_metadata(data, LABELS, ExportConfig())  # raises on any difference
    graph = info["json"]["subgraph_metadata"][0]
    image, scores = graph["input_tensor_metadata"][0], graph["output_tensor_metadata"][0]
    assert image["content"] == {"content_properties_type": "ImageProperties",
                                "content_properties": {"color_space": "RGB"}}
    assert image["process_units"] == [{"options_type": "NormalizationOptions",
                                       "options": {"mean": [0.0], "std": [1.0]}}]
    # Raw pixels either way; a uint8 output's range is its byte range, a float one's is 0..1.
    assert image["stats"] == {"max": [255.0], "min": [0.0]}
    assert scores["stats"] == ({"max": [255.0], "min": [0.0]} if precision == "int8" else {"max": [1.0], "min": [0.0]})
    assert info["json"]["min_parser_version"] == "1.0.0"
    assert precision in info["json"]["description"]
    assert embedded_labels(data) == LABELS
    with zipfile.ZipFile(io.BytesIO(data)) as zf:  # stored, so readers can map it in place
        assert [(i.filename, i.compress_type) for i in zf.infolist()] == [("labels.txt", zipfile.ZIP_STORED)]


def test_writing_again_replaces_the_metadata(with_metadata):
    once = with_metadata["float32"].read_bytes()
    twice = add_metadata(once, LABELS[::-1], ExportConfig(), precision="float32")
    info = read_metadata(twice)
    assert info["files"] == ["labels.txt"] and info["labels"] == LABELS[::-1]
    from flowers_mobile.formats.tflite import METADATA_NAME, model_schema

    model = model_schema().Model.GetRootAsModel(twice, 0)
    names = [model.Metadata(i).Name() for i in range(model.MetadataLength())]
    assert names.count(METADATA_NAME) == 1


@pytest.mark.parametrize("precision", PRECISIONS)
def test_mediapipe_names_categories_with_our_labels_and_agrees_with_litert(with_metadata, images, precision):
    from flowers_mobile.runtimes.litert import LiteRTPredictor
    from flowers_mobile.runtimes.mediapipe import MediaPipePredictor

    path = with_metadata[precision]
    with MediaPipePredictor(path) as mediapipe:
        # classify_by_name checks every category's index against its name's place in LABELS.
        by_name = mediapipe.classify_by_name(images)
        probs = mediapipe.predict(images)
    with LiteRTPredictor(path, threads=1) as litert:
        reference = litert.predict(images)
    assert all(set(scores) == set(LABELS) for scores in by_name)
    assert (probs.argmax(1) == reference.argmax(1)).all()
    assert list(reference.argmax(1)[:6]) == [0, 1, 2] * 2  # the squares land in their colour's class
    assert np.abs(probs - reference).max() <= (1 / 256 + 1e-6 if precision == "int8" else 1e-5)


@pytest.mark.skipif(importlib.util.find_spec("tensorflow_lite_support") is None,
                    reason="tflite-support is an extra for Python <= 3.11 (TASK_LIBRARY=1 bash tools/setup.sh)")
@pytest.mark.parametrize("precision", PRECISIONS)
def test_tflite_supports_displayer_reads_ours_like_its_own_writers_file(plain, with_metadata, tmp_path, precision):
    # Imported module by module, never `import tflite_support` (its Task Library clashes with TF).
    from tensorflow_lite_support.metadata import metadata_schema_py_generated as md_fb
    from tensorflow_lite_support.metadata.python import metadata as md
    from tensorflow_lite_support.metadata.python.metadata_writers import (
        image_classifier,
        metadata_info,
        writer_utils,
    )

    from flowers_mobile.export.metadata import INPUT_DESCRIPTION, OUTPUT_DESCRIPTION

    cfg = ExportConfig()
    flatbuffer = plain[precision]
    labels_path = tmp_path / "labels.txt"
    labels_path.write_text("\n".join(LABELS) + "\n", encoding="utf-8")
    writer = image_classifier.MetadataWriter.create_from_metadata_info(
        bytearray(flatbuffer),
        general_md=metadata_info.GeneralMd(name=cfg.model_name, version=cfg.version, author=cfg.author,
                                           description=f"{cfg.description} Precision: {precision}.",
                                           licenses=cfg.license),
        input_md=metadata_info.InputImageTensorMd(
            name="image", description=INPUT_DESCRIPTION, norm_mean=[0.0], norm_std=[1.0],
            color_space_type=md_fb.ColorSpaceType.RGB,
            tensor_type=writer_utils.get_input_tensor_types(flatbuffer)[0]),
        output_md=metadata_info.ClassificationTensorMd(
            name="probabilities", description=OUTPUT_DESCRIPTION,
            label_files=[metadata_info.LabelFileMd(file_path=str(labels_path))],
            tensor_type=writer_utils.get_output_tensor_types(flatbuffer)[0]))
    theirs = md.MetadataDisplayer.with_model_buffer(writer.populate())
    ours = md.MetadataDisplayer.with_model_buffer(bytearray(with_metadata[precision].read_bytes()))

    assert json.loads(ours.get_metadata_json()) == json.loads(theirs.get_metadata_json())
    assert ours.get_packed_associated_file_list() == theirs.get_packed_associated_file_list() == ["labels.txt"]
    assert ours.get_associated_file_buffer("labels.txt") == theirs.get_associated_file_buffer("labels.txt")
    # Our own reader gives what the displayer gives.
    assert read_metadata(with_metadata[precision].read_bytes())["json"] == json.loads(theirs.get_metadata_json())



NO_OPENCV = """
import json, sys
sys.modules["cv2"] = None  # as on a bare Debian, where OpenCV's GUI build lacks libxcb.so.1
import numpy as np
from flowers_mobile.runtimes.mediapipe import MediaPipePredictor, mediapipe_available
runs = []
for _ in range(2):  # a second classifier in the same process (parity opens one per file)
    with MediaPipePredictor(sys.argv[1]) as predictor:
        runs.append(predictor.predict(np.load(sys.argv[2])).tolist())
assert runs[0] == runs[1]
print(json.dumps({"labels": predictor.labels, "probs": runs[0], "available": mediapipe_available(),
                  "opencv": sys.modules.get("cv2") is not None}))
"""


def test_mediapipe_classifies_where_opencv_cannot_load(with_metadata, images, tmp_path):
    """mediapipe's package imports OpenCV for drawing helpers; without X11 libraries that import
    fails. The runtime then loads only the classifier's modules: same answers."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from flowers_mobile.runtimes.mediapipe import MediaPipePredictor

    np.save(tmp_path / "images.npy", images)
    path = with_metadata["int8"]
    run = subprocess.run([sys.executable, "-c", NO_OPENCV, str(path), str(tmp_path / "images.npy")],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")})
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    with MediaPipePredictor(path) as predictor:
        expected = predictor.predict(images)
    assert out["labels"] == LABELS and not out["opencv"] and out["available"] is None
    assert np.array_equal(np.asarray(out["probs"], np.float32), expected)
