"""tools/setup.sh picks the newest supported Python that really runs, and the CI matrix tests
every Python pyproject.toml supports. Under a second: no virtualenv is made."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SUPPORTED = ["3.10", "3.11", "3.12", "3.13"]


def _which_python(bin_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run setup.sh's Python choice with only `bin_dir` on PATH (bash by absolute path)."""
    for tool in ("dirname",):  # the one external command setup.sh runs before choosing
        (bin_dir / tool).symlink_to(subprocess.check_output(["bash", "-c", f"command -v {tool}"], text=True).strip())
    return subprocess.run(["/bin/bash", str(REPO / "tools/setup.sh"), "--print-python"], capture_output=True,
                          text=True, timeout=60, env={"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/tmp"), **env})


def _shim(path: Path, code: int) -> None:
    """A pyenv-style shim of a version that is not selected: it exists, and fails when run."""
    path.write_text(f"#!/bin/sh\necho 'pyenv: {path.name}: command not found' >&2\nexit {code}\n")
    path.chmod(0o755)


def test_setup_skips_shims_that_fail_and_takes_the_newest_that_runs(tmp_path):
    _shim(tmp_path / "python3.13", 127)
    _shim(tmp_path / "python3.12", 127)
    (tmp_path / "python3.11").symlink_to(sys.executable)  # a real Python 3.10+ (this one)
    (tmp_path / "python3.10").symlink_to(sys.executable)
    run = _which_python(tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "python3.11"


def test_python_chooses_and_one_that_does_not_run_is_a_one_line_error(tmp_path):
    (tmp_path / "python3.13").symlink_to(sys.executable)
    (tmp_path / "mine").symlink_to(sys.executable)
    assert _which_python(tmp_path, PYTHON=str(tmp_path / "mine")).stdout.strip() == str(tmp_path / "mine")
    other = tmp_path / "other"
    other.mkdir()
    _shim(other / "broken", 127)
    run = _which_python(other, PYTHON=str(other / "broken"))
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not run as Python 3.10-3.13" in lines[0] and "PYTHON" in lines[0]


def test_no_python_at_all_says_what_to_install(tmp_path):
    run = _which_python(tmp_path)
    assert run.returncode == 2
    assert "no Python 3.10-3.13 found" in run.stderr and "python3-venv" in run.stderr


def test_ci_tests_every_supported_python():
    from packaging.specifiers import SpecifierSet

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        pytest.skip("tomllib is Python 3.11+")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    spec = SpecifierSet(project["requires-python"])
    assert [v for v in (f"3.{m}" for m in range(8, 16)) if spec.contains(f"{v}.0")] == SUPPORTED
    ci = yaml.safe_load((REPO / ".github/workflows/ci.yml").read_text())
    assert ci["jobs"]["test"]["strategy"]["matrix"]["python-version"] == SUPPORTED
    assert ci["jobs"]["test"]["runs-on"] == "ubuntu-24.04"
