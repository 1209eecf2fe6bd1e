"""The contract between the Python side and the iOS app, checked from Python:

- FlowersCore's fixture export (used by its XCTest suite) is what the Python manifest code
  writes, so the Swift tests that verify it prove the Swift SHA-256 folder digest equals
  `fsutil.sha256_path`;
- `flowers-mobile bundle --platform ios` puts the files where the app looks;
- tools/test_swift.sh skips without a toolchain, fails under CI, and reports counts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from flowers_mobile.errors import UserError
from flowers_mobile.export.bundle import bundle
from flowers_mobile.formats.manifest import read_manifest, verify_manifest
from flowers_mobile.fsutil import sha256_path

ROOT = Path(__file__).resolve().parents[1]
CORE_TESTS = ROOT / "ios_app" / "FlowersCore" / "Tests" / "FlowersCoreTests"
FIXTURE = CORE_TESTS / "Fixtures" / "export"
SCRIPT = ROOT / "tools" / "test_swift.sh"


def test_fixture_export_verifies_with_the_python_manifest_code():
    manifest = verify_manifest(FIXTURE)
    assert manifest.labels.count == 5
    assert manifest.artifact("Flowers.mlpackage").default_for == ["ios"]


def test_digests_hard_coded_in_the_swift_tests_are_pythons():
    swift = (CORE_TESTS / "ContentDigestTests.swift").read_text(encoding="utf-8")
    assert f'"{sha256_path(FIXTURE / "Flowers.mlpackage")}"' in swift


def test_symlink_digest_in_the_swift_tests_is_pythons(tmp_path):
    """ContentDigestTests.testSymlinksFollowPythonRules builds this layout and expects this digest."""
    package = tmp_path / "pkg"
    (package / "real").mkdir(parents=True)
    (package / "real" / "f.txt").write_text("hi\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "o.txt").write_text("out\n")
    os.symlink("../outside", package / "linkdir")
    os.symlink("real/f.txt", package / "linkfile")
    swift = (CORE_TESTS / "ContentDigestTests.swift").read_text(encoding="utf-8")
    test_body = swift[swift.index("func testSymlinksFollowPythonRules"):]
    expected = re.search(r'"([0-9a-f]{64})"', test_body).group(1)
    assert sha256_path(package) == expected


def test_fixture_has_names_that_pin_the_sort_order():
    """'Data/…' sorts before 'Data.txt' by path components but after it as a string; the fixture
    needs both for the Swift digest test to mean something."""
    names = sorted(p.relative_to(FIXTURE / "Flowers.mlpackage").as_posix()
                   for p in (FIXTURE / "Flowers.mlpackage").rglob("*") if p.is_file())
    assert "Data.txt" in names and any(n.startswith("Data/") for n in names)


@pytest.fixture()
def ios_app(tmp_path) -> Path:
    app = tmp_path / "ios_app"
    (app / "Flowers" / "Model").mkdir(parents=True)
    shutil.copy(ROOT / "ios_app" / "project.yml", app / "project.yml")
    return app


def test_bundle_places_what_the_app_loads(tmp_path, ios_app):
    export = tmp_path / "export"
    shutil.copytree(FIXTURE, export)
    bundle(export, "ios", ios_dir=ios_app)
    model = ios_app / "Flowers" / "Model"
    assert sorted(p.name for p in model.iterdir()) == ["Flowers.mlpackage", "labels.txt", "manifest.json"]
    manifest = read_manifest(model)
    assert sha256_path(model / "Flowers.mlpackage") == manifest.artifact("Flowers.mlpackage").sha256
    assert verify_manifest(model, replace(manifest, artifacts=[manifest.artifact("Flowers.mlpackage")]))


def test_bundle_refuses_a_tampered_package(tmp_path, ios_app):
    export = tmp_path / "export"
    shutil.copytree(FIXTURE, export)
    (export / "Flowers.mlpackage" / "notes.txt").write_text("tampered\n")
    with pytest.raises(UserError, match="sha256"):
        bundle(export, "ios", ios_dir=ios_app)
    assert list((ios_app / "Flowers" / "Model").iterdir()) == []


# --- tools/test_swift.sh, with a stand-in `swift` so the script's own logic is what is tested ---

FAKE_SWIFT = """#!/bin/bash
case "$1" in
  --version) echo "Swift version 0.0-fake" ;;
  build) [ "${FAKE_BUILD_FAILS:-0}" = 1 ] && { echo "error: fake build failure" >&2; exit 1; }; exit 0 ;;
  test) printf '%b\\n' "$FAKE_TEST_OUTPUT"; exit "${FAKE_TEST_RC:-0}" ;;
esac
"""


def run_script(tmp_path: Path, *, with_swift: bool, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("dirname", "grep", "sed", "tail", "tee", "mktemp", "rm", "head", "cat"):
        found = shutil.which(tool)
        if found and not (bin_dir / tool).exists():
            os.symlink(found, bin_dir / tool)
    if with_swift:
        (bin_dir / "swift").write_text(FAKE_SWIFT)
        (bin_dir / "swift").chmod(0o755)
    full_env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "TMPDIR": str(tmp_path),
                "SWIFT_SCRATCH": str(tmp_path / "scratch"), **(env or {})}
    return subprocess.run([shutil.which("bash"), str(SCRIPT)], env=full_env, capture_output=True, text=True)


def test_script_skips_without_swift(tmp_path):
    result = run_script(tmp_path, with_swift=False)
    assert result.returncode == 0
    assert result.stdout.strip() == "swift: skipped (no Swift toolchain)"


def test_script_fails_without_swift_under_ci(tmp_path):
    result = run_script(tmp_path, with_swift=False, env={"CI": "true"})
    assert result.returncode == 1
    assert "CI=true requires one" in result.stderr


def test_script_reports_passes(tmp_path):
    output = ("Test Suite 'All tests' passed at 2026-01-01\\n"
              "\\t Executed 12 tests, with 0 failures (0 unexpected) in 0.5 (0.5) seconds")
    result = run_script(tmp_path, with_swift=True, env={"FAKE_TEST_OUTPUT": output})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Executed 12 tests, with 0 failures" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "swift: 12 passed, 0 failed"


def test_script_reports_failures_and_skips(tmp_path):
    output = ("\\t Executed 3 tests, with 1 failure (0 unexpected) in 0.1 (0.1) seconds\\n"
              "\\t Executed 9 tests, with 1 test skipped and 2 failures (0 unexpected) in 0.5 (0.5) seconds")
    result = run_script(tmp_path, with_swift=True, env={"FAKE_TEST_OUTPUT": output, "FAKE_TEST_RC": "1"})
    assert result.returncode == 1
    assert result.stdout.strip().splitlines()[-1] == "swift: 6 passed, 2 failed"
    assert "swift: 1 skipped" in result.stdout


def test_script_reports_a_build_failure(tmp_path):
    result = run_script(tmp_path, with_swift=True, env={"FAKE_BUILD_FAILS": "1"})
    assert result.returncode == 1
    assert result.stdout.strip().splitlines()[-1] == "swift: 0 passed, 1 failed"


def test_script_counts_a_crash_without_a_summary_as_a_failure(tmp_path):
    result = run_script(tmp_path, with_swift=True, env={"FAKE_TEST_OUTPUT": "Fatal error: boom", "FAKE_TEST_RC": "132"})
    assert result.returncode == 1
    assert result.stdout.strip().splitlines()[-1] == "swift: 0 passed, 1 failed"
