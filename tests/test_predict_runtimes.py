"""predict: the same top-1 for the same image through Keras, LiteRT, the Task Library, MediaPipe
Tasks, the Core ML executor and SavedModel; MediaPipe's scores against LiteRT's; folders,
undecodable images, and bad input."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest

from flowers_mobile.data.sources import load_dataset
from flowers_mobile.images import load_image
from flowers_mobile.predict import predict_images
from flowers_mobile.runtimes.base import runtime_available
from tests.runtime_fixtures import cli_exit as _cli


@pytest.mark.slow
def test_same_top1_through_every_runtime(trained_and_exported, synth_data_dir, capsys):
    run, export = trained_and_exported
    test_images = [s.path for s in load_dataset(synth_data_dir).test]
    keras_result = predict_images(test_images, run / "model.keras", top_k=1)
    # The images Keras is surest of: a near tie may flip under int8 without anything being wrong.
    sure = sorted(keras_result.predictions, key=lambda p: -p.probability)[:3]
    images = [p.path for p in sure]
    expected = [p.label for p in sure]
    mlpackage = next(export.glob("*.mlpackage"))
    runs = [(run / "model.keras", "keras"), (export / "flowers.tflite", "litert"),
            (export / "flowers.tflite", "task_library"), (export / "flowers.tflite", "mediapipe"), (mlpackage, "coreml_executor"),
            (export / "saved_model", "saved_model")]
    runs = [(m, r) for m, r in runs if runtime_available(r)]  # the Task Library is an extra (Python <= 3.11)
    for model, runtime in runs:
        assert _cli(["predict", *images, "--model", str(model), "--runtime", runtime, "--json", "--top-k", "2"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["runtime"] == runtime
        got = [p["label"] for p in out["predictions"]]
        assert got == expected, f"{runtime} on {model.name}: {got} != Keras {expected}"
        assert all(len(p["top"]) == 2 and p["top"][0]["probability"] >= p["top"][1]["probability"]
                   for p in out["predictions"])


@pytest.mark.slow
def test_mediapipe_answers_like_litert_with_our_label_names(trained_and_exported, synth_data_dir):
    """The Android app's classifier on the Android default model: every category named from the
    metadata with our labels, and the scores LiteRT gives for the same pixels (MediaPipe adds no
    resize or crop at the input size), to the output's quantization step."""
    from flowers_mobile.runtimes.litert import LiteRTPredictor
    from flowers_mobile.runtimes.mediapipe import MediaPipePredictor

    _, export = trained_and_exported
    model = export / "flowers.tflite"
    with LiteRTPredictor(model) as litert, MediaPipePredictor(model) as mediapipe:
        h, w = litert.input_size
        images = np.stack([load_image(s.path, (w, h)) for s in load_dataset(synth_data_dir).test[:24]])
        by_name = mediapipe.classify_by_name(images)
        assert all(sorted(scores) == sorted(litert.labels) for scores in by_name)
        got, expected = mediapipe.predict(images), litert.predict(images)
    assert got.dtype == np.float32 and got.shape == expected.shape
    step = litert.output_details["quantization"][0]
    assert 0 < step <= 1 / 255 and np.abs(got - expected).max() <= step + 1e-6
    assert (got.argmax(1) == expected.argmax(1)).all()


@pytest.mark.slow
def test_folder_expands_and_undecodable_images_are_skipped(trained_and_exported, synth_data_dir, tmp_path, capsys):
    run, export = trained_and_exported
    folder = tmp_path / "photos"
    folder.mkdir()
    for src in sorted((synth_data_dir / "test" / "daisy").iterdir())[:3]:
        shutil.copy(src, folder / src.name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "notes.txt").write_text("not an image: ignored in a folder")
    assert _cli(["predict", str(folder), "--model", str(export / "flowers.tflite")]) == 0
    out = capsys.readouterr()
    assert out.out.count("daisy_") == 3  # three rows, one per image
    assert "skipped" in out.err and "broken.jpg" in out.err and "notes.txt" not in out.out + out.err


@pytest.mark.slow
def test_no_decodable_image_is_exit_2(trained_and_exported, tmp_path, capsys):
    _, export = trained_and_exported
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert _cli(["predict", str(bad), "--model", str(export / "flowers_float32.tflite")]) == 2
    assert "could be decoded" in capsys.readouterr().err


def test_bad_arguments_are_exit_2(tmp_path, capsys):
    image = tmp_path / "a.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(image)
    assert _cli(["predict", str(tmp_path / "missing.png"), "--model", str(image)]) == 2
    assert "image not found" in capsys.readouterr().err
    assert _cli(["predict", str(image), "--model", str(tmp_path / "nope.tflite")]) == 2
    assert "model not found" in capsys.readouterr().err
    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    assert _cli(["predict", str(image), "--model", str(model), "--runtime", "keras"]) == 2
    assert "does not open tflite" in capsys.readouterr().err
    assert _cli(["predict", str(image), "--model", str(model), "--runtime", "onnx"]) == 2
    assert "unknown runtime" in capsys.readouterr().err
    assert _cli(["predict", str(image), "--model", str(model), "--runtime", "mediapipe"]) == 2
    assert "not a TFLite model" in capsys.readouterr().err


def test_mediapipe_missing_here_is_exit_2(tmp_path, capsys, monkeypatch):
    from PIL import Image

    image, model = tmp_path / "a.png", tmp_path / "m.tflite"
    Image.new("RGB", (8, 8)).save(image)
    model.write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # what a platform without its wheel looks like
    assert _cli(["predict", str(image), "--model", str(model), "--runtime", "mediapipe"]) == 2
    err = capsys.readouterr().err
    assert "mediapipe is not installed (pip install mediapipe==1.2.2)" in err and len(err.strip().splitlines()) == 1
