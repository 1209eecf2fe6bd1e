"""CI parity: a model trained on synthetic data, exported to every target and precision, answers
like Keras on held-out images through every runtime; a planted weight change is caught."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flowers_mobile.cli import main
from flowers_mobile.formats.manifest import describe_artifact
from flowers_mobile.runtimes.base import runtime_available
from tests.runtime_fixtures import sub_export

pytestmark = pytest.mark.slow


def test_every_export_passes_parity(trained_and_exported, synth_data_dir, tmp_path, capsys):
    run, export = trained_and_exported
    export = sub_export(export, tmp_path / "export", [a["file"] for a in json.loads(
        (export / "manifest.json").read_text())["artifacts"]])  # private copy: parity writes into it
    with pytest.raises(SystemExit) as exc:
        main(["parity", "--model", str(run / "model.keras"), "--exports", str(export), "--data", str(synth_data_dir)])
    table = capsys.readouterr()
    report = json.loads((export / "parity.json").read_text())
    print(table.out)  # the figures, in the CI log
    checked = {(e["file"], e["runtime"]) for e in report["exports"]}
    # Every target and precision, each through its runtime; flowers.tflite also through the Task
    # Library and MediaPipe Tasks, each of which must carry our label names and LiteRT's top-1.
    for expected in [("flowers_int8.tflite", "litert"), ("flowers_float16.tflite", "litert"),
                     ("flowers_dynamic.tflite", "litert"), ("flowers_float32.tflite", "litert"),
                     ("flowers.tflite", "litert"), ("flowers.tflite", "mediapipe"), ("saved_model", "saved_model"),
                     *([("flowers.tflite", "task_library")] if runtime_available("task_library") else [])]:
        assert expected in checked
    for e in report["exports"]:
        if e["runtime"] in ("task_library", "mediapipe"):
            checks = {c["metric"]: c for c in e["checks"]}
            assert checks["category_names"]["value"] == "same"
            assert checks["top1_agreement_with_litert"]["value"] == 1.0
    assert any(f.endswith(".mlpackage") for f, _ in checked)
    # No faithful export fails. With the suite's 90 held-out images the agreement and accuracy
    # limits of the quantized variants cannot be certified either way: inconclusive passes.
    failures = [f"{e['name']}: {e['error'] or [c for c in e['checks'] if c['verdict'] == 'fail']}"
                for e in report["exports"] if e["verdict"] == "fail" or not e["passed"]]
    assert not failures, "\n".join(failures)
    assert exc.value.code == 0
    assert report["images"] > 0 and report["labels_known"] and report["verdict"] in ("pass", "inconclusive")
    by_name = {e["name"]: e for e in report["exports"]}
    # float32 is judged by its probability differences alone, and those decide on any sample.
    assert by_name["flowers_float32.tflite [litert]"]["verdict"] == "pass"
    for e in report["exports"]:
        assert e["agreement_interval"][0] <= (e["agreement"] or 0) <= e["agreement_interval"][1]
        assert e["decided"] + e["near_ties"] == e["images"]
        assert {c["metric"] for c in e["checks"]} >= {"labels", "p99_abs_diff", "mean_tv"}
        if e["verdict"] == "inconclusive":
            assert e["images_to_decide"] is None or e["images_to_decide"] > e["images"]
    assert "inconclusive" in table.err or report["verdict"] == "pass"  # undecided exports are warned about
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["parity"]["passed"] is True and manifest["parity"]["verdict"] == report["verdict"]
    assert len(manifest["parity"]["exports"]) == len(report["exports"])
    assert all("agreement_interval" in e and "near_ties" in e for e in manifest["parity"]["exports"])


def test_a_planted_weight_change_fails_parity(trained_and_exported, synth_data_dir, tmp_path, capsys):
    """The head's bias inside flowers_float32.tflite is changed and the manifest updated to match:
    every sha256 checks out, only the numbers can tell."""
    import keras

    run, export = trained_and_exported
    export = sub_export(export, tmp_path / "export", ["flowers_float32.tflite"])
    bias = keras.saving.load_model(run / "model.keras", compile=False).get_layer("probabilities").get_weights()[1]
    path = export / "flowers_float32.tflite"
    data = path.read_bytes()
    needle = bias.astype("<f4").tobytes()
    assert data.count(needle) == 1, "the head bias should appear once, verbatim, in a float32 flatbuffer"
    planted = (bias + np.linspace(0.0, 3.0, bias.size, dtype=np.float32)).astype("<f4").tobytes()
    path.write_bytes(data.replace(needle, planted))
    manifest = json.loads((export / "manifest.json").read_text())
    art = manifest["artifacts"][0]
    fresh = describe_artifact(export, art["file"], **{k: v for k, v in art.items() if k not in ("file", "bytes", "sha256")})
    manifest["artifacts"][0] = {**art, "sha256": fresh.sha256, "bytes": fresh.bytes}
    (export / "manifest.json").write_text(json.dumps(manifest))

    with pytest.raises(SystemExit) as exc:
        main(["parity", "--model", str(run / "model.keras"), "--exports", str(export), "--data", str(synth_data_dir)])
    assert exc.value.code == 1
    report = json.loads((export / "parity.json").read_text())
    (result,) = report["exports"]
    assert not report["passed"] and not result["passed"]
    assert report["verdict"] == "fail" and result["verdict"] == "fail"
    assert result["max_abs_diff"] > 1e-2
    # float32 is held by its probability differences: the robust p99 and the artifact's mean TV.
    assert {c["metric"] for c in result["checks"] if c["verdict"] == "fail"} == {"p99_abs_diff", "mean_tv"}
    assert result["worst"] and result["worst"][0]["max_abs_diff"] == pytest.approx(result["max_abs_diff"], rel=1e-6)
    assert json.loads((export / "manifest.json").read_text())["parity"]["verdict"] == "fail"
    assert "mean_tv" in capsys.readouterr().err
