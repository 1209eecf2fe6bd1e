"""Parity verdicts on real artifacts (the suite's trained model and its export, conftest):
a folder of unlabelled images, `--strict`, and planted defects that keep the manifest's sha256
valid, one of them invisible to top-1 agreement, caught by the artifact's own bound."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from flowers_mobile.data.sources import load_dataset
from flowers_mobile.formats.manifest import describe_artifact
from tests.runtime_fixtures import cli_exit, sub_export

pytestmark = pytest.mark.slow


def _args(run: Path, export: Path, data: Path, *extra: str) -> list[str]:
    return ["parity", "--model", str(run / "model.keras"), "--exports", str(export), "--data", str(data), *extra]


def _flat_folder(synth_data_dir: Path, root: Path, count: int) -> Path:
    """`count` held-out images with no class folders: half directly inside, half two levels down."""
    nested = root / "2026" / "trip"
    nested.mkdir(parents=True)
    for i, sample in enumerate(load_dataset(synth_data_dir).test[:count]):  # any images will do
        shutil.copy2(sample.path, (root if i % 2 else nested) / f"photo_{i:03d}{sample.path.suffix}")
    return root


def test_parity_on_a_folder_of_unlabelled_images(trained_and_exported, synth_data_dir, tmp_path, capsys):
    run, export = trained_and_exported
    export = sub_export(export, tmp_path / "export", ["flowers_float32.tflite"])
    flat = _flat_folder(synth_data_dir, tmp_path / "photos", 24)
    assert cli_exit(_args(run, export, flat)) == 0
    report = json.loads((export / "parity.json").read_text())
    assert report["split"] == "unlabelled" and report["images"] == 24 and not report["labels_known"]
    assert report["keras_accuracy"] is None
    (f32,) = report["exports"]
    assert f32["accuracy"] is None and f32["keras_right_export_wrong"] is None
    assert "accuracy_drop" not in {c["metric"] for c in f32["checks"]}
    assert f32["verdict"] == "pass"
    assert "agreement only" in capsys.readouterr().err


def test_inconclusive_warns_and_passes_unless_strict(trained_and_exported, synth_data_dir, tmp_path, capsys):
    """The file that ships on 20 images: even with every image agreeing, 20 cannot show it fit to
    ship (agreement >= 98%). The same file not shipped would pass on its faithfulness alone."""
    run, export = trained_and_exported
    export = sub_export(export, tmp_path / "export", ["flowers.tflite"])
    argv = _args(run, export, synth_data_dir, "--max-images", "20", "--runtime", "tflite=litert")
    assert cli_exit(argv) == 0
    err = capsys.readouterr().err
    report = json.loads((export / "parity.json").read_text())
    (shipped,) = report["exports"]
    assert shipped["ships"] and shipped["fit"] == "inconclusive" and shipped["faithful"] != "fail"
    assert shipped["verdict"] == "inconclusive" and shipped["passed"] and report["verdict"] == "inconclusive"
    assert shipped["images_to_decide"] is not None and shipped["images_to_decide"] > 20
    assert "warning" in err and "images would decide it" in err
    assert "inconclusive" in (export / "parity.md").read_text()

    assert cli_exit([*argv, "--strict"]) == 1
    err = capsys.readouterr().err
    report = json.loads((export / "parity.json").read_text())
    assert report["strict"] and not report["passed"] and report["verdict"] == "inconclusive"
    assert "inconclusive (--strict)" in err
    assert json.loads((export / "manifest.json").read_text())["parity"]["passed"] is False


def _defective_model(run: Path, defect: str):
    """The trained model with a planted defect, as another conversion might produce it."""
    import keras

    model = keras.saving.load_model(run / "model.keras", compile=False)
    if defect == "channels_swapped":  # BGR where the model was trained on RGB
        inputs = keras.Input(model.input_shape[1:])
        return keras.Model(inputs, model(keras.layers.Lambda(lambda x: x[..., ::-1])(inputs)))
    head = model.get_layer("probabilities")
    kernel, bias = head.get_weights()
    # Logits halved (a head perturbed by a factor): every top-1 is kept, the confidence is not.
    head.set_weights([kernel * 0.5, bias * 0.5])
    return model


def _replace_artifact(export: Path, file: str, data: bytes) -> None:
    """Write `data` as `file` and update the manifest so every sha256 checks out."""
    (export / file).write_bytes(data)
    manifest = json.loads((export / "manifest.json").read_text())
    i, art = next((i, a) for i, a in enumerate(manifest["artifacts"]) if a["file"] == file)
    fresh = describe_artifact(export, file, **{k: v for k, v in art.items() if k not in ("file", "bytes", "sha256")})
    manifest["artifacts"][i] = {**art, "sha256": fresh.sha256, "bytes": fresh.bytes}
    (export / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("defect", ["logits_scaled", "channels_swapped"])
def test_a_defective_float16_export_fails(trained_and_exported, synth_data_dir, tmp_path, capsys, defect):
    from flowers_mobile.export.tflite import convert_tflite, frozen_function

    run, export = trained_and_exported
    export = sub_export(export, tmp_path / "export", ["flowers_float16.tflite"])
    model = _defective_model(run, defect)
    size = tuple(model.input_shape[1:3])
    _replace_artifact(export, "flowers_float16.tflite", convert_tflite(frozen_function(model, size), "float16"))

    assert cli_exit(_args(run, export, synth_data_dir)) == 1
    report = json.loads((export / "parity.json").read_text())
    (f16,) = report["exports"]
    assert f16["verdict"] == "fail" and report["verdict"] == "fail"
    failed = {c["metric"] for c in f16["checks"] if c["verdict"] == "fail"}
    assert "mean_tv" in failed  # the artifact on its own: far beyond what float16 costs
    if defect == "logits_scaled":
        # Invisible to agreement and accuracy: only the distribution-level bound can tell.
        assert f16["top1_agreement"] == 1.0 and f16["accuracy_change"] == 0.0
        assert failed <= {"mean_tv", "p99_abs_diff"}
    else:
        assert f16["top1_agreement"] < 0.9
    assert "mean_tv" in capsys.readouterr().err


def test_predict_reads_folders_recursively(trained_and_exported, synth_data_dir, tmp_path):
    from flowers_mobile.predict import predict_images

    run, export = trained_and_exported
    flat = _flat_folder(synth_data_dir, tmp_path / "photos", 6)
    (flat / ".hidden").mkdir()
    shutil.copy2(next(flat.glob("*.png")), flat / ".hidden" / "skip.png")
    result = predict_images([flat], export / "flowers_float32.tflite", runtime="litert")
    paths = [Path(p.path) for p in result.predictions]
    assert len(paths) == 6 and sum("trip" in p.parts for p in paths) == 3
    assert all(".hidden" not in p.parts for p in paths)
    truth = {f"photo_{i:03d}": s for i, s in enumerate(load_dataset(synth_data_dir).test[:6])}
    classes = load_dataset(synth_data_dir).classes
    assert np.mean([p.label == classes[truth[Path(p.path).stem].label] for p in result.predictions]) >= 0.8
