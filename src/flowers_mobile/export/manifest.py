"""manifest.json: the artifact contract between exports, apps and checks (docs/artifact-contract.md).

An export folder holds every artifact and a manifest listing, for each: file name, format,
precision, bytes, sha256, input shape / dtype / quantization, label count, and which platform
takes it as its default; plus the labels file's and the source model's sha256, the tool
versions, and the last parity result. Apps and `bundle` trust a file only when its sha256
matches the manifest.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import asdict, dataclass, field
from importlib import metadata as _metadata
from pathlib import Path
from typing import Any

from flowers_mobile.errors import UserError
from flowers_mobile.fsutil import atomic_write_json, path_bytes, sha256_path

MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 1
LABELS_NAME = "labels.txt"
#: Default artifact per platform: what `bundle` copies into each app.
DEFAULT_ARTIFACTS = {"android": "flowers.tflite", "ios": "Flowers.mlpackage"}


@dataclass
class Artifact:
    file: str  # relative to the export folder
    format: str  # tflite | mlpackage | saved_model
    precision: str  # float32 | float16 | dynamic | int8 | linear8 | palette6 | palette4
    bytes: int
    sha256: str
    input_shape: list[int]
    input_dtype: str
    num_labels: int
    #: {"scale": float, "zero_point": int} for quantized tensors, else None.
    input_quantization: dict[str, float] | None = None
    output_dtype: str = "float32"
    output_quantization: dict[str, float] | None = None
    #: Platforms that take this file as their default ("android", "ios").
    default_for: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def describe_artifact(export_dir: str | os.PathLike[str], file: str, **fields: Any) -> Artifact:
    """An `Artifact` for `export_dir/file`, with bytes and sha256 measured from disk."""
    path = Path(export_dir) / file
    return Artifact(file=file, bytes=path_bytes(path), sha256=sha256_path(path), **fields)


def tool_versions() -> dict[str, str]:
    out = {}
    for dist in ("flowers-mobile", "tensorflow-cpu", "tensorflow", "keras", "tflite-support",
                 "ai-edge-litert", "coremltools", "numpy", "protobuf"):
        try:
            out[dist] = _metadata.version(dist)
        except _metadata.PackageNotFoundError:
            continue
    return out


def new_manifest(*, model_name: str, source_model: str | os.PathLike[str], labels_file: str | os.PathLike[str],
                 labels: list[str], artifacts: list[Artifact], config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the manifest dict for an export folder."""
    return {
        "schema_version": SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "model_name": model_name,
        "source_model": {"file": Path(source_model).name, "sha256": sha256_path(source_model)},
        "labels": {"file": LABELS_NAME, "sha256": sha256_path(labels_file), "count": len(labels)},
        "tools": tool_versions(),
        "artifacts": [asdict(a) for a in artifacts],
        "export_config": config or {},
        "parity": None,
    }


def write_manifest(export_dir: str | os.PathLike[str], manifest: dict[str, Any]) -> Path:
    return atomic_write_json(Path(export_dir) / MANIFEST_NAME, manifest)


def load_manifest(export_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read `export_dir/manifest.json`; UserError when missing or malformed."""
    export_dir = Path(export_dir)
    if not export_dir.is_dir():
        raise UserError(f"export folder not found: {export_dir}", hint="run `flowers-mobile convert` first")
    path = export_dir / MANIFEST_NAME
    if not path.is_file():
        raise UserError(f"{export_dir} has no {MANIFEST_NAME}",
                        hint="it is not an export folder; run `flowers-mobile convert --out` to make one")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("schema_version") != SCHEMA_VERSION or \
            not isinstance(manifest.get("artifacts"), list):
        raise UserError(f"{path}: not a flowers-mobile manifest (schema_version {SCHEMA_VERSION} expected)")
    return manifest


def verify_file(export_dir: str | os.PathLike[str], file: str, expected_sha256: str) -> Path:
    """Check one file (or package folder) against its manifest sha256; UserError if missing or changed."""
    path = Path(export_dir) / file
    if not path.exists():
        raise UserError(f"{path} is listed in the manifest but missing", hint="re-run `flowers-mobile convert`")
    actual = sha256_path(path)
    if actual != expected_sha256:
        raise UserError(f"{path}: sha256 {actual[:12]}… does not match the manifest's {expected_sha256[:12]}… "
                        "(tampered or truncated artifact)", hint="re-run `flowers-mobile convert`")
    return path


def verify_manifest(export_dir: str | os.PathLike[str], manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check every artifact and the labels file against the manifest; return the manifest."""
    manifest = manifest if manifest is not None else load_manifest(export_dir)
    verify_file(export_dir, manifest["labels"]["file"], manifest["labels"]["sha256"])
    for art in manifest["artifacts"]:
        verify_file(export_dir, art["file"], art["sha256"])
    return manifest


def find_artifact(manifest: dict[str, Any], file: str) -> dict[str, Any]:
    for art in manifest["artifacts"]:
        if art["file"] == file:
            return art
    raise UserError(f"the manifest lists no artifact {file!r}",
                    hint=f"it lists: {', '.join(a['file'] for a in manifest['artifacts']) or 'nothing'}")


def record_parity(export_dir: str | os.PathLike[str], result: dict[str, Any]) -> Path:
    """Store the last parity result in the manifest (rewritten atomically)."""
    manifest = load_manifest(export_dir)
    manifest["parity"] = result
    return write_manifest(export_dir, manifest)
