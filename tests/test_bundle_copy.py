"""`flowers-mobile bundle`: checked, atomic copies of an export into tmp copies of the apps."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flowers_mobile.errors import UserError
from flowers_mobile.export import bundle as bundle_mod
from flowers_mobile.export.bundle import bundle
from flowers_mobile.formats.manifest import build_manifest, describe_artifact, write_manifest
from flowers_mobile.fsutil import sha256_path
from flowers_mobile.labels import write_labels

REPO = Path(__file__).resolve().parents[1]
LABELS = ["daisy", "dandelion", "rose", "sunflower", "tulip"]


def _make_export(root: Path, *, with_ios: bool = True) -> Path:
    """An export folder with real files: a TFLite-headed model file, an .mlpackage folder, a
    Keras source file, labels.txt and the manifest that `build_manifest` writes for them."""
    export = root / "export"
    export.mkdir(parents=True)
    # "TFL3" at offset 4 is the FlatBuffer identifier every .tflite file carries.
    (export / "flowers.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(range(256)) * 40)
    (export / "model.keras").write_bytes(b"PK\x03\x04 keras zip stand-in")
    write_labels(export / "labels.txt", LABELS)
    common = dict(input_shape=[1, 96, 96, 3], num_labels=len(LABELS))
    arts = [describe_artifact(export, "flowers.tflite", format="tflite", precision="int8", input_dtype="uint8",
                              input_quantization={"scale": 1.0, "zero_point": 0}, default_for=["android"], **common)]
    if with_ios:
        pkg = export / "Flowers.mlpackage"
        (pkg / "Data/com.apple.CoreML/weights").mkdir(parents=True)
        (pkg / "Manifest.json").write_text('{"fileFormatVersion": "1.0.0"}')
        (pkg / "Data/com.apple.CoreML/model.mlmodel").write_bytes(b"\x08\x07" + b"spec" * 100)
        (pkg / "Data/com.apple.CoreML/weights/weight.bin").write_bytes(bytes(range(256)) * 64)
        arts.append(describe_artifact(export, "Flowers.mlpackage", format="mlpackage", precision="float16",
                                      input_dtype="float32", default_for=["ios"], **common))
    manifest = build_manifest(model_name="flowers-test", source_model=export / "model.keras",
                              labels_file=export / "labels.txt", labels=LABELS, artifacts=arts)
    write_manifest(export, manifest)
    return export


@pytest.fixture
def apps(tmp_path):
    """Copies of the real app folders (build outputs left out), as bundle would find them."""
    android = tmp_path / "android_app"
    shutil.copytree(REPO / "android_app", android, ignore=shutil.ignore_patterns("build", ".gradle", "assets"))
    ios = tmp_path / "ios_app"
    shutil.copytree(REPO / "ios_app", ios, ignore=shutil.ignore_patterns(".build", "Flowers.mlpackage"))
    if not (ios / "project.yml").exists() and not (ios / "Flowers").exists():
        (ios / "Flowers").mkdir()  # the iOS app's sources folder, present once its app lands
    return android, ios


@pytest.fixture
def export(tmp_path):
    return _make_export(tmp_path / "models")


def _files_under(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha256_path(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_android_gets_model_labels_and_manifest(export, apps):
    android, ios = apps
    ios_before = _files_under(ios)
    placed = bundle(export, "android", android, ios)
    assets = android / "app/src/main/assets"
    assert [p.dest for p in placed] == [assets / "flowers.tflite", assets / "labels.txt", assets / "manifest.json"]
    for p in placed:
        assert p.dest.read_bytes() == p.source.read_bytes()
        assert p.sha256 == sha256_path(p.dest) and p.bytes == p.dest.stat().st_size
    manifest = json.loads((assets / "manifest.json").read_text())
    assert manifest["artifacts"][0]["sha256"] == sha256_path(assets / "flowers.tflite")
    assert sorted(f.name for f in assets.iterdir()) == ["flowers.tflite", "labels.txt", "manifest.json"]
    assert _files_under(ios) == ios_before


def test_ios_package_is_copied_as_a_folder_and_replaces_the_old_one(export, apps):
    android, ios = apps
    android_before = _files_under(android)
    old = ios / "Flowers/Model/Flowers.mlpackage"
    (old / "Data").mkdir(parents=True)
    (old / "Data/stale.bin").write_bytes(b"from an older export")
    placed = bundle(export, "ios", android, ios)
    pkg = next(p for p in placed if p.dest.name == "Flowers.mlpackage")
    assert pkg.dest.is_dir()
    assert _files_under(pkg.dest) == _files_under(export / "Flowers.mlpackage")
    assert not (pkg.dest / "Data/stale.bin").exists()
    assert pkg.sha256 == sha256_path(export / "Flowers.mlpackage")
    model_dir = ios / "Flowers/Model"
    assert {"Flowers.mlpackage", "labels.txt", "manifest.json"} <= {f.name for f in model_dir.iterdir()}
    assert _files_under(android) == android_before


def test_all_places_both_and_leaves_no_temporaries(export, apps):
    android, ios = apps
    placed = bundle(export, "all", android, ios)
    assert {p.platform for p in placed} == {"android", "ios"} and len(placed) == 6
    for folder in (android / "app/src/main/assets", ios / "Flowers/Model"):
        leftovers = [p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".old")) or ".tmp." in p.name]
        assert not leftovers, f"temporary files left behind: {leftovers}"


def test_tampered_artifact_is_refused_and_nothing_written(export, apps):
    android, ios = apps
    model = export / "flowers.tflite"
    model.write_bytes(model.read_bytes()[:-1] + b"\x00")
    with pytest.raises(UserError, match=r"flowers\.tflite: sha256 .* does not match the manifest"):
        bundle(export, "android", android, ios)
    assert not (android / "app/src/main/assets").exists()


def test_tampered_package_keeps_the_previous_bundle(export, apps):
    android, ios = apps
    bundle(export, "all", android, ios)
    before = {**_files_under(android / "app/src/main/assets"), **_files_under(ios / "Flowers/Model")}
    (export / "Flowers.mlpackage/Data/com.apple.CoreML/weights/weight.bin").write_bytes(b"tampered")
    with pytest.raises(UserError, match="Flowers.mlpackage: sha256"):
        bundle(export, "all", android, ios)
    after = {**_files_under(android / "app/src/main/assets"), **_files_under(ios / "Flowers/Model")}
    assert after == before


def test_edited_labels_are_refused(export, apps):
    android, ios = apps
    (export / "labels.txt").write_text("daisy\ndandelion\nrose\nsunflower\ntulips\n")
    with pytest.raises(UserError, match=r"labels\.txt: sha256"):
        bundle(export, "android", android, ios)
    assert not (android / "app/src/main/assets").exists()


def test_missing_default_artifact_writes_nothing_for_any_platform(tmp_path, apps):
    android, ios = apps
    export = _make_export(tmp_path / "models", with_ios=False)
    with pytest.raises(UserError, match="lists no Flowers.mlpackage"):
        bundle(export, "all", android, ios)
    assert not (android / "app/src/main/assets").exists()
    assert bundle(export, "android", android, ios)  # android alone still works


def test_artifact_listed_but_deleted_is_refused(export, apps):
    android, ios = apps
    (export / "flowers.tflite").unlink()
    with pytest.raises(UserError, match="listed in the manifest but missing"):
        bundle(export, "android", android, ios)


def test_missing_manifest_and_unknown_platform_and_wrong_app_dir(export, apps, tmp_path):
    android, ios = apps
    with pytest.raises(UserError, match="unknown platform 'windows'"):
        bundle(export, "windows", android, ios)
    with pytest.raises(UserError, match="android app folder not found"):
        bundle(export, "android", tmp_path / "nope", ios)
    with pytest.raises(UserError, match="does not look like the android app"):
        bundle(export, "android", ios, ios)
    (export / "manifest.json").unlink()
    with pytest.raises(UserError, match="has no manifest.json"):
        bundle(export, "android", android, ios)
    assert not (android / "app/src/main/assets").exists()


def test_failure_while_staging_renames_nothing(export, apps, monkeypatch):
    """Every copy is staged before any rename: a failure on the last one leaves all apps as they were."""
    android, ios = apps
    before = {**_files_under(android), **_files_under(ios)}
    real_copy = bundle_mod._copy_file

    def copy_then_fail_on_ios_weights(src, dst):
        if Path(src).name == "weight.bin":
            raise OSError("disk full (simulated)")
        return real_copy(src, dst)

    monkeypatch.setattr(bundle_mod, "_copy_file", copy_then_fail_on_ios_weights)
    with pytest.raises(OSError, match="disk full"):
        bundle(export, "all", android, ios)
    # Same files before and after, hidden ones included: no stage was renamed, none left behind.
    assert {**_files_under(android), **_files_under(ios)} == before


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowers_mobile.cli", "bundle", *args],
                          capture_output=True, text=True, timeout=120)


def test_cli_prints_a_table_and_maps_errors_to_exit_2(export, apps):
    android, ios = apps
    ok = _cli("--exports", str(export), "--platform", "android", "--android-dir", str(android), "--ios-dir", str(ios))
    assert ok.returncode == 0, ok.stderr
    assert "flowers.tflite" in ok.stdout and sha256_path(export / "flowers.tflite")[:12] in ok.stdout

    (export / "flowers.tflite").write_bytes(b"tampered")
    bad = _cli("--exports", str(export), "--platform", "android", "--android-dir", str(android), "--ios-dir", str(ios))
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("error:") and len(bad.stderr.strip().splitlines()) == 1
    assert "does not match the manifest" in bad.stderr

    unknown = _cli("--exports", str(export), "--platform", "symbian")
    assert unknown.returncode == 2 and "unknown platform" in unknown.stderr
