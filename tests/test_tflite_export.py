"""A real trained classifier converted to every TFLite precision, checked with LiteRT, the Task
Library (subprocess, no TensorFlow) and TensorFlow's SavedModel loader."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from flowers_mobile.config import ExportConfig
from flowers_mobile.formats.manifest import verify_manifest
from flowers_mobile.fsutil import sha256_file
from flowers_mobile.labels import read_labels
from flowers_mobile.runtimes.base import runtime_available

pytestmark = pytest.mark.slow

PRECISIONS = ("int8", "float16", "dynamic", "float32")


@pytest.fixture(scope="module")
def run_dir(trained_run_dir):
    """The suite's trained model; `export_dir` (conftest) is its `convert --target all`."""
    return trained_run_dir


@pytest.fixture(scope="module")
def labels(run_dir):
    return read_labels(run_dir / "labels.txt")


@pytest.fixture(scope="module")
def images_and_reference(run_dir, synth_data_dir):
    """Test-split images at the model's size and the Keras model's probabilities for them."""
    import keras

    from flowers_mobile.data.pipeline import load_arrays
    from flowers_mobile.data.sources import load_dataset, stratified_sample

    model = keras.saving.load_model(run_dir / "model.keras", compile=False)
    size = model.inputs[0].shape[1]
    images, _ = load_arrays(stratified_sample(load_dataset(synth_data_dir).test, 40, seed=1), size)
    return images, np.asarray(model(images.astype(np.float32), training=False))


@pytest.fixture(scope="module")
def litert_outputs(export_dir, images_and_reference):
    from flowers_mobile.runtimes.litert import LiteRTPredictor

    images, _ = images_and_reference
    out = {}
    for precision in PRECISIONS:
        with LiteRTPredictor(export_dir / f"flowers_{precision}.tflite", threads=2) as predictor:
            out[precision] = predictor.predict(images)
    return out


def _details(path):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    return interpreter.get_input_details()[0], interpreter.get_output_details()[0]


@pytest.mark.parametrize("precision", PRECISIONS)
def test_each_precision_has_the_raw_pixel_input_and_a_probability_output(export_dir, labels,
                                                                          images_and_reference, precision):
    size = images_and_reference[0].shape[1]
    inp, out = _details(export_dir / f"flowers_{precision}.tflite")
    assert list(inp["shape"]) == [1, size, size, 3]
    assert list(out["shape"]) == [1, len(labels)]
    if precision == "int8":
        assert inp["dtype"] == np.uint8 and out["dtype"] == np.uint8
        assert inp["quantization"] == (1.0, 0)  # raw camera bytes, unchanged
        assert out["quantization"] == (1 / 256, 0)
    else:
        assert inp["dtype"] == np.float32 and out["dtype"] == np.float32
        assert inp["quantization"] == (0.0, 0)


def test_float32_matches_keras_within_1e_4(litert_outputs, images_and_reference):
    _, reference = images_and_reference
    assert np.abs(litert_outputs["float32"] - reference).max() < 1e-4


@pytest.mark.parametrize("precision,min_agreement,max_mean_abs", [
    ("float16", 0.95, 0.01), ("dynamic", 0.9, 0.02), ("int8", 0.85, 0.06)])
def test_quantized_precisions_agree_with_keras(litert_outputs, images_and_reference, precision, min_agreement,
                                               max_mean_abs):
    _, reference = images_and_reference
    out = litert_outputs[precision]
    assert np.allclose(out.sum(1), 1.0, atol=0.05)
    agreement = (out.argmax(1) == reference.argmax(1)).mean()
    assert agreement >= min_agreement, f"{precision}: top-1 agreement {agreement:.3f}"
    assert np.abs(out - reference).mean() <= max_mean_abs


def test_sizes_shrink_with_precision(export_dir):
    size = {p: (export_dir / f"flowers_{p}.tflite").stat().st_size for p in PRECISIONS}
    assert size["int8"] < 0.45 * size["float32"]  # metadata and small layers weigh more on a tiny model
    assert size["dynamic"] < 0.45 * size["float32"]
    assert size["float16"] < 0.6 * size["float32"]


def test_flowers_tflite_is_the_int8_model_for_android(export_dir):
    assert (export_dir / "flowers.tflite").read_bytes() == (export_dir / "flowers_int8.tflite").read_bytes()
    manifest = json.loads((export_dir / "manifest.json").read_text())
    default = [a for a in manifest["artifacts"] if a["default_for"] == ["android"]]
    assert [a["file"] for a in default] == ["flowers.tflite"]
    assert default[0]["precision"] == "int8"
    # Chosen, not assumed: judged on held-out images and first in preference order not shown unfit.
    choice = manifest["export_config"]["default_tflite"]
    assert choice["precision"] == "int8" and choice["measured"] and not choice["forced"]
    first = choice["candidates"][0]
    assert first["precision"] == "int8" and first["faithful"] == "pass"
    assert first["as_shipped"] == "pass" or (first["as_shipped"] == "inconclusive" and first["leans_pass"])


@pytest.mark.parametrize("precision", ["int8", "float32"])
def test_metadata_reads_back_with_the_displayer(export_dir, labels, precision):
    from flowers_mobile.export.metadata import read_metadata

    info = read_metadata((export_dir / f"flowers_{precision}.tflite").read_bytes())
    meta = info["json"]
    cfg = ExportConfig()
    assert (meta["name"], meta["version"], meta["author"], meta["license"]) == \
        (cfg.model_name, cfg.version, cfg.author, cfg.license)
    assert precision in meta["description"]
    graph = meta["subgraph_metadata"][0]
    norm = graph["input_tensor_metadata"][0]["process_units"][0]["options"]
    assert norm == {"mean": [0.0], "std": [1.0]}
    files = graph["output_tensor_metadata"][0]["associated_files"]
    assert [(f["name"], f["type"]) for f in files] == [("labels.txt", "TENSOR_AXIS_LABELS")]
    assert info["files"] == ["labels.txt"]
    assert info["labels"] == labels and len(info["labels"]) == len(labels)


def test_labels_are_a_zip_member_any_reader_can_open(export_dir, labels):
    from flowers_mobile.formats.tflite import embedded_labels

    data = (export_dir / "flowers.tflite").read_bytes()
    with zipfile.ZipFile(export_dir / "flowers.tflite") as zf:
        assert zf.read("labels.txt").decode().splitlines() == labels
    assert embedded_labels(data) == labels


@pytest.mark.skipif(not runtime_available("task_library"), reason="the Task Library is an extra (Python <= 3.11)")
@pytest.mark.parametrize("precision", ["int8", "float32"])
def test_task_library_classifies_with_our_labels_like_litert(export_dir, labels, images_and_reference,
                                                              litert_outputs, precision):
    from flowers_mobile.runtimes.task_library import TaskLibraryPredictor

    images, _ = images_and_reference
    with TaskLibraryPredictor(export_dir / f"flowers_{precision}.tflite") as predictor:
        by_name = predictor.classify_by_name(images[:12])
        probs = predictor.predict(images[:12])
    assert all(set(scores) == set(labels) for scores in by_name)  # names come from the packed labels.txt
    litert = litert_outputs[precision][:12]
    assert (probs.argmax(1) == litert.argmax(1)).all()
    # Same interpreter underneath: uint8 scores match to the last step, floats to rounding.
    assert np.abs(probs - litert).max() <= (1 / 256 + 1e-6 if precision == "int8" else 1e-5)


def test_saved_model_serves_raw_pixels_under_serving_default(export_dir, labels, images_and_reference):
    import tensorflow as tf

    from flowers_mobile.export.saved_model import signature_facts

    images, reference = images_and_reference
    size = images.shape[1]
    loaded = tf.saved_model.load(str(export_dir / "saved_model"))
    facts = signature_facts(loaded)
    assert facts == {"inputs": {"image": {"shape": [-1, size, size, 3], "dtype": "float32"}},
                     "outputs": {"probabilities": {"shape": [-1, len(labels)], "dtype": "float32"}}}
    serve = loaded.signatures["serving_default"]
    out = serve(image=tf.constant(images[:5].astype(np.float32)))["probabilities"].numpy()
    assert np.abs(out - reference[:5]).max() < 1e-5


def test_manifest_describes_every_file_with_its_sha256(export_dir, run_dir, labels):
    manifest = verify_manifest(export_dir).to_dict()  # raises on any missing or changed file
    files = {a["file"]: a for a in manifest["artifacts"]}
    tflite_and_tf = {"flowers.tflite", *(f"flowers_{p}.tflite" for p in PRECISIONS), "saved_model"}
    assert tflite_and_tf <= set(files)
    assert all(name in tflite_and_tf or name.endswith(".mlpackage") for name in files)  # --target all
    assert sorted(p.name for p in export_dir.iterdir()) == sorted([*files, "labels.txt", "manifest.json"])
    for name, art in files.items():
        if name.endswith(".tflite"):
            assert art["sha256"] == sha256_file(export_dir / name)
            assert art["bytes"] == (export_dir / name).stat().st_size
        assert art["num_labels"] == len(labels)
    assert files["flowers_int8.tflite"]["input_quantization"] == {"scale": 1.0, "zero_point": 0}
    assert files["flowers_int8.tflite"]["output_quantization"] == {"scale": 1 / 256, "zero_point": 0}
    assert files["flowers_int8.tflite"]["extra"]["representative_images"] > 0
    assert files["flowers_float16.tflite"]["input_quantization"] is None
    assert files["saved_model"]["format"] == "saved_model"
    assert manifest["source_model"] == {"file": "model.keras", "sha256": sha256_file(run_dir / "model.keras")}
    assert manifest["labels"] == {"file": "labels.txt", "sha256": sha256_file(export_dir / "labels.txt"),
                                  "count": len(labels)}
    assert read_labels(export_dir / "labels.txt") == labels
    assert manifest["export_config"]["tflite_precisions"] == list(PRECISIONS)
    assert "tensorflow-cpu" in manifest["tools"] or "tensorflow" in manifest["tools"]
    assert "timings_s" not in manifest  # run facts are returned, not written into the contract
