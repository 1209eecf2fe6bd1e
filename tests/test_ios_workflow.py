"""`.github/workflows/ios.yml` (its schema is checked by test_workflows.py) runs what the iOS
side needs on macOS (swift test, the native Core ML parity check, bundle, xcodegen, xcodebuild)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "ios.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return YAML(typ="safe").load(WORKFLOW.read_text(encoding="utf-8"))


def run_lines(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_jobs_run_on_macos(workflow):
    for name, job in workflow["jobs"].items():
        assert job["runs-on"] in ("macos-14", "macos-15"), name


def test_core_job_runs_swift_test_and_requires_swift(workflow):
    job = workflow["jobs"]["core"]
    assert "bash tools/test_swift.sh" in run_lines(job)
    step = next(s for s in job["steps"] if "test_swift.sh" in s.get("run", ""))
    assert step["env"]["CI"] == "true"  # a missing toolchain fails instead of skipping


def test_coreml_job_checks_the_real_runtime_then_bundles(workflow):
    lines = run_lines(workflow["jobs"]["coreml"])
    parity = ("tools/coreml_native_parity.py --model models/demo/model.keras "
              "--package models/demo/export/Flowers.mlpackage --data data/synth")
    bundle = "flowers-mobile bundle --exports models/demo/export --platform ios"
    assert parity in lines
    assert bundle in lines
    assert lines.index(parity) < lines.index(bundle)
    assert "--target coreml" in lines


def test_app_is_generated_and_built_for_the_simulator_after_bundling(workflow):
    job = workflow["jobs"]["app"]
    assert "coreml" in job["needs"]
    lines = run_lines(job)
    assert "brew install xcodegen" in lines
    assert "xcodegen generate" in lines
    assert "xcodebuild build" in lines
    assert "'generic/platform=iOS Simulator'" in lines
    assert "CODE_SIGNING_ALLOWED=NO" in lines
    download = next(i for i, s in enumerate(job["steps"]) if s.get("uses", "").startswith("actions/download-artifact"))
    build = next(i for i, s in enumerate(job["steps"]) if "xcodebuild build" in s.get("run", ""))
    assert download < build
    assert job["steps"][download]["with"]["path"] == "ios_app/Flowers/Model"
