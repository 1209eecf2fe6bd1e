"""formats.manifest: the typed manifest reads what it writes, keeps keys it does not know, and
refuses a broken manifest with one line naming the file."""

from __future__ import annotations

import json

import pytest

from flowers_mobile.errors import UserError
from flowers_mobile.formats.manifest import (
    MANIFEST_NAME,
    build_manifest,
    describe_artifact,
    read_manifest,
    record_parity,
    verify_manifest,
    write_manifest,
)


@pytest.fixture
def export(tmp_path):
    (tmp_path / "model.keras").write_bytes(b"keras")
    (tmp_path / "labels.txt").write_text("daisy\nrose\n")
    (tmp_path / "flowers_int8.tflite").write_bytes(b"int8 model")
    art = describe_artifact(tmp_path, "flowers_int8.tflite", format="tflite", precision="int8",
                            input_shape=[1, 32, 32, 3], input_dtype="uint8", num_labels=2,
                            input_quantization={"scale": 1.0, "zero_point": 0}, default_for=["android"])
    write_manifest(tmp_path, build_manifest(model_name="m", source_model=tmp_path / "model.keras",
                                            labels_file=tmp_path / "labels.txt", labels=["daisy", "rose"],
                                            artifacts=[art], config={"tflite_precisions": ["int8"]}))
    return tmp_path


def test_what_is_written_reads_back_typed_and_verifies(export):
    manifest = verify_manifest(export)
    assert manifest.labels.count == 2 and manifest.source_model.file == "model.keras"
    art = manifest.artifact("flowers_int8.tflite")
    assert (art.bytes, art.input_quantization, art.default_for) == (10, {"scale": 1.0, "zero_point": 0}, ["android"])
    on_disk = json.loads((export / MANIFEST_NAME).read_text())
    assert on_disk["schema_version"] == 1 and manifest.to_dict() == on_disk
    with pytest.raises(UserError, match="lists no artifact 'x.tflite'"):
        manifest.artifact("x.tflite")


def test_unknown_keys_survive_a_rewrite(export):
    path = export / MANIFEST_NAME
    data = json.loads(path.read_text())
    data["future_top"] = {"a": 1}
    data["artifacts"][0]["future_field"] = [1, 2]
    path.write_text(json.dumps(data))
    record_parity(export, {"passed": True})
    again = json.loads(path.read_text())
    assert again["future_top"] == {"a": 1} and again["artifacts"][0]["future_field"] == [1, 2]
    assert again["parity"] == {"passed": True}
    assert {k: v for k, v in again.items() if k != "parity"} == {k: v for k, v in data.items() if k != "parity"}


@pytest.mark.parametrize(("edit", "message"), [
    (lambda m: m.update(schema_version=2), "not a flowers-mobile manifest"),
    (lambda m: m.pop("labels"), 'no valid "labels" entry'),
    (lambda m: m["labels"].update(count="2"), "labels entry 'labels.txt' has no valid 'count'"),
    (lambda m: m["artifacts"][0].pop("sha256"), "artifact 'flowers_int8.tflite' has no valid 'sha256'"),
    (lambda m: m["artifacts"][0].update(bytes=True), "has no valid 'bytes'"),
    (lambda m: m["artifacts"].append("x"), "an artifact entry is not an object"),
    (lambda m: m.update(source_model="model.keras"), '"source_model" is not an object'),
])
def test_a_broken_manifest_is_one_line_naming_the_file(export, edit, message):
    path = export / MANIFEST_NAME
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match=message) as exc:
        read_manifest(export)
    assert str(path) in exc.value.one_line() and "\n" not in exc.value.one_line()


def test_a_changed_artifact_fails_verification(export):
    (export / "flowers_int8.tflite").write_bytes(b"int8 modeL")
    with pytest.raises(UserError, match="does not match the manifest"):
        verify_manifest(export)
    (export / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(UserError, match="is not valid JSON"):
        read_manifest(export)
