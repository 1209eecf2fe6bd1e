"""The run folder and export folder the parity / predict / benchmark tests work on.

`run_and_export` returns conftest's shared session fixtures (`trained_run_dir`,
`export_dir`) when they exist. Until then it uses stand-ins: the convert tests' small trained
model (tests/convert_fixtures.py) and `convert --target all` of it, written into fixed folders
under the session's base temp folder and reused when complete, so the test modules share one
build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def build_full_export(out: Path, run_dir: Path, data_dir: Path) -> Path:
    """`convert --target all` of `run_dir/model.keras`: every TFLite precision, Core ML (float16 and
    the three weight-compressed variants), SavedModel."""
    if (out / "manifest.json").is_file():
        return out
    from flowers_mobile.config import Config
    from flowers_mobile.export.convert import convert

    cfg = Config().with_overrides(["export.representative_size=100",
                                   'export.coreml_compression=["linear8", "palette6", "palette4"]'])
    convert(run_dir / "model.keras", out, cfg, targets=("all",), data_dir=data_dir, progress=False)
    return out


def sub_export(src: Path, dst: Path, files: list[str]) -> Path:
    """A valid export folder holding only `files` of `src` (copied; manifest trimmed, sha256 kept)."""
    import json

    manifest = json.loads((src / "manifest.json").read_text())
    manifest["artifacts"] = [a for a in manifest["artifacts"] if a["file"] in files]
    dst.mkdir(parents=True)
    for name in [*files, manifest["labels"]["file"]]:
        (shutil.copytree if (src / name).is_dir() else shutil.copy2)(src / name, dst / name)
    (dst / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return dst


def run_and_export(request, tmp_path_factory, synth_data_dir: Path) -> tuple[Path, Path]:
    """(run folder with model.keras + labels.txt, its `convert --target all` export folder)."""
    try:
        return request.getfixturevalue("trained_run_dir"), request.getfixturevalue("export_dir")
    except pytest.FixtureLookupError:
        from tests.convert_fixtures import build_trained_run

        base = tmp_path_factory.getbasetemp()
        run = build_trained_run(base / "convert_run", synth_data_dir)  # the convert tests' run, shared
        return run, build_full_export(base / "runtime_full_export", run, synth_data_dir)
