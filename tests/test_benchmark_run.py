"""benchmark: every artifact measured in its own process, figures as ratios to Keras, JSON and PNG
written; a tampered artifact or a missing manifest is exit 2."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from flowers_mobile.benchmark_worker import count_flops
from flowers_mobile.runtimes.base import runtime_available
from tests.runtime_fixtures import cli_exit as _cli
from tests.runtime_fixtures import sub_export


@pytest.mark.slow
def test_flops_of_mobilenetv2_match_the_published_count():
    """MobileNetV2 1.0 / 224 is 300 M multiply-adds (Sandler et al. 2018): 0.6 GFLOP."""
    from flowers_mobile.config import ModelConfig
    from flowers_mobile.model import build_classifier

    model = build_classifier(ModelConfig(input_size=224, alpha=1.0, weights="none"), 17)
    assert count_flops(model) == pytest.approx(0.6e9, rel=0.02)


@pytest.mark.slow
def test_benchmark_writes_json_and_chart_with_ratios_to_keras(trained_and_exported, tmp_path, capsys):
    run, export = trained_and_exported
    # The Android default (LiteRT, the Task Library and MediaPipe) and float32 (GFLOP/s): the other artifacts
    # run through the same code and only cost CI time.
    export = sub_export(export, tmp_path / "export", ["flowers.tflite", "flowers_float32.tflite"])
    code = _cli(["benchmark", "--exports", str(export), "--model", str(run / "model.keras"),
                 "--images", "5", "--batch", "4", "--threads", "1,2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "ratios to Keras" in out and "GFLOP/s" in out
    report = json.loads((export / "benchmark.json").read_text())
    png = export / "benchmark.png"
    with Image.open(png) as img:
        assert img.format == "PNG" and img.width > 800
    entries = {e["name"]: e for e in report["entries"]}
    task_library = runtime_available("task_library")  # an extra, Python <= 3.11
    assert set(entries) == {"model.keras [keras]", "flowers.tflite [litert]", "flowers.tflite [mediapipe]",
                            "flowers_float32.tflite [litert]", *(["flowers.tflite [task_library]"] if task_library else [])}
    assert not [e["error"] for e in entries.values() if e["error"]]
    keras = entries["model.keras [keras]"]
    assert keras["reference"]  # every ratio below is to this entry
    assert not task_library or entries["flowers.tflite [task_library]"]["ipc"] is True
    assert entries["flowers.tflite [mediapipe]"]["ipc"] is False  # in process, no worker
    for e in entries.values():
        assert e["load_s"] > 0 and e["peak_rss_mb"] > 0
        for t in ("1", "2"):
            m = e["by_threads"][t]
            assert 0 < m["p50_ms"] <= m["p90_ms"] and m["throughput_ips"] > 0
            assert e["ratios"][f"p50_ms@{t}"] == pytest.approx(m["p50_ms"] / keras["by_threads"][t]["p50_ms"])
        assert e["ratios"]["bytes"] == pytest.approx(e["bytes"] / keras["bytes"])
    # LiteRT loads a flatbuffer without TensorFlow: far less memory than Keras in its own process.
    assert entries["flowers_float32.tflite [litert]"]["peak_rss_mb"] < keras["peak_rss_mb"]
    assert report["flops"] > 0 and entries["flowers_float32.tflite [litert]"]["gflops_per_s"]["2"] > 0
    # flowers.tflite is the int8 model: the README's size figure, int8 over float32.
    assert report["int8_float32_tflite_size_ratio"] == pytest.approx(
        entries["flowers.tflite [litert]"]["bytes"] / entries["flowers_float32.tflite [litert]"]["bytes"])
    assert report["int8_float32_tflite_size_ratio"] < 0.5
    assert json.loads((export / "manifest.json").read_text())["artifacts"]  # manifest untouched


def test_benchmark_refuses_a_tampered_artifact_or_a_missing_manifest(tmp_path, capsys):
    export = tmp_path / "export"
    export.mkdir()
    assert _cli(["benchmark", "--exports", str(export)]) == 2
    assert "manifest.json" in capsys.readouterr().err
    (export / "labels.txt").write_text("a\nb\n")
    (export / "m.tflite").write_bytes(b"model bytes")
    from flowers_mobile.formats.manifest import build_manifest, describe_artifact, write_manifest

    art = describe_artifact(export, "m.tflite", format="tflite", precision="float32", input_shape=[1, 8, 8, 3],
                            input_dtype="float32", num_labels=2)
    write_manifest(export, build_manifest(model_name="m", source_model=export / "m.tflite",
                                          labels_file=export / "labels.txt", labels=["a", "b"], artifacts=[art]))
    (export / "m.tflite").write_bytes(b"model bytes, changed")
    assert _cli(["benchmark", "--exports", str(export)]) == 2
    assert "tampered or truncated" in capsys.readouterr().err
    assert not (export / "benchmark.json").exists()
    assert _cli(["benchmark", "--exports", str(export), "--threads", "0"]) == 2
