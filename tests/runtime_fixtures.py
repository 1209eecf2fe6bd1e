"""Helpers of the parity / predict / benchmark tests, which work on conftest's
`trained_and_exported` (the suite's trained model and its `convert --target all`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


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


def cli_exit(argv: list[str]) -> int:
    """Run the CLI in this process; its exit code."""
    from flowers_mobile.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code
