"""The shared cases in tests/vectors/, from Python's side.

The same files are read by FlowersCore's XCTest suite (tools/test_swift.sh) and the Android
core's JUnit suite (tools/test_kotlin.sh), so the labels reader, the manifest, the smoothing and
the confidence threshold have one set of cases on all three platforms. Here: Python's labels and
manifest readers against the cases, Python's writer against the good manifest, and the smoothing
and threshold expectations against the rule each file states (a typo in a vector fails here).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from flowers_mobile.errors import UserError
from flowers_mobile.export import bundle
from flowers_mobile.formats import manifest as manifest_io
from flowers_mobile.labels import read_labels

VECTORS = Path(__file__).resolve().parent / "vectors"


def _load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [c.get("file") or c["name"] for c in cases]


LABEL_CASES = _load("labels.json")["cases"]
MANIFEST_CASES = _load("manifests.json")["cases"]
SMOOTHING = _load("smoothing.json")
THRESHOLD = _load("threshold.json")


def test_the_vectors_cover_good_and_bad_files():
    assert {"good_bom.txt", "good_crlf.txt", "bad_empty.txt", "bad_duplicate.txt", "bad_blank_line.txt"} <= {
        Path(c["file"]).name for c in LABEL_CASES}
    assert (VECTORS / "labels/good_bom.txt").read_bytes().startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in (VECTORS / "labels/good_crlf.txt").read_bytes()  # not normalised by git
    assert any("model_name" in c for c in MANIFEST_CASES) and any("rejected_by" in c for c in MANIFEST_CASES)


@pytest.mark.parametrize("case", LABEL_CASES, ids=_ids(LABEL_CASES))
def test_labels_file(case):
    path = VECTORS / case["file"]
    if "labels" in case:
        assert read_labels(path) == case["labels"]
    else:
        with pytest.raises(UserError) as info:
            read_labels(path)
        assert case["error_contains"] in str(info.value)


@pytest.mark.parametrize("case", MANIFEST_CASES, ids=_ids(MANIFEST_CASES))
def test_manifest(case, tmp_path):
    shutil.copyfile(VECTORS / case["file"], tmp_path / manifest_io.MANIFEST_NAME)
    if "python" in case.get("rejected_by", []):
        with pytest.raises(UserError) as info:
            manifest_io.read_manifest(tmp_path)
        assert case.get("error_contains_python", case["error_contains"]) in str(info.value)
        return
    loaded = manifest_io.read_manifest(tmp_path).to_dict()
    if "rejected_by" in case:
        return  # a case only the apps reject (they decode every field they use)
    assert loaded["model_name"] == case["model_name"]
    assert loaded["labels"]["count"] == case["labels_count"]
    for platform, file in case["default_for"].items():
        assert [a["file"] for a in loaded["artifacts"] if platform in a["default_for"]] == [file]
    for artifact, want in zip(loaded["artifacts"], case["artifacts"], strict=True):
        assert {k: artifact[k] for k in want} == want


def test_the_good_manifest_has_the_shape_python_writes(tmp_path):
    """If the exporter's manifest gains, loses or renames a key, this vector (and so the apps'
    tests that read it) must follow."""
    (tmp_path / "model.keras").write_bytes(b"k")
    (tmp_path / "labels.txt").write_text("a\nb\n", encoding="utf-8")
    (tmp_path / "flowers.tflite").write_bytes(b"TFL3")
    artifact = manifest_io.describe_artifact(tmp_path, "flowers.tflite", format="tflite", precision="int8",
                                             input_shape=[1, 96, 96, 3], input_dtype="uint8", num_labels=2)
    written = manifest_io.build_manifest(model_name="m", source_model=tmp_path / "model.keras",
                                         labels_file=tmp_path / "labels.txt", labels=["a", "b"],
                                         artifacts=[artifact]).to_dict()
    vector = json.loads((VECTORS / "manifests/good_export.json").read_text(encoding="utf-8"))
    assert set(vector) == set(written)
    assert set(vector["labels"]) == set(written["labels"])
    assert set(vector["source_model"]) == set(written["source_model"])
    for entry in vector["artifacts"]:
        assert set(entry) == set(artifact.to_dict())
    assert vector["schema_version"] == manifest_io.SCHEMA_VERSION


def test_bundle_names_are_the_exporters():
    names = _load("names.json")
    assert names["default_artifact"] == manifest_io.DEFAULT_ARTIFACTS
    assert names["labels"] == manifest_io.LABELS_NAME
    assert names["manifest"] == manifest_io.MANIFEST_NAME
    assert names["model_folder"] == {k: v.as_posix() for k, v in bundle.APP_MODEL_DIRS.items()}


def _smooth(case: dict[str, Any], drop_below: float) -> dict[str, float]:
    """The rule smoothing.json states, written out independently of both apps."""
    state: dict[str, float] = {}
    last = None
    for frame in case["frames"]:
        t, scores = frame["t_ms"], frame["scores"]
        if last is None or t < last or t - last > case["reset_after_ms"]:
            state = dict(scores)
        else:
            hl = case["half_life_ms"]
            alpha = 1.0 if hl == 0 else 1.0 - 0.5 ** ((t - last) / hl)
            state = {k: alpha * scores.get(k, 0.0) + (1 - alpha) * state.get(k, 0.0) for k in {*state, *scores}}
        state = {k: v for k, v in state.items() if v >= drop_below}
        last = t
    return state


@pytest.mark.parametrize("case", SMOOTHING["cases"], ids=_ids(SMOOTHING["cases"]))
def test_smoothing_expectations_follow_the_half_life_rule(case):
    got = _smooth(case, SMOOTHING["defaults"]["drop_below"])
    assert got.keys() == case["expected"].keys()
    for label, value in case["expected"].items():
        assert got[label] == pytest.approx(value, abs=1e-6)


@pytest.mark.parametrize("case", THRESHOLD["cases"], ids=_ids(THRESHOLD["cases"]))
def test_threshold_expectations_follow_the_hysteresis_rule(case):
    shown = None
    for i, step in enumerate(case["steps"]):
        best = max(step["scores"].items(), key=lambda kv: kv[1], default=None)
        if best is None:
            shown = None
        else:
            needed = case["threshold"] - case["hysteresis"] if best[0] == shown else case["threshold"]
            shown = best[0] if best[1] >= needed else None
        assert shown == step["confident"], f"step {i}"
