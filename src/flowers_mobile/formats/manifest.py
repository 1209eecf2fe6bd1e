"""manifest.json: the artifact contract between exports, apps and checks (docs/artifact-contract.md).

An export folder holds every artifact and a manifest listing, for each: file name, format,
precision, bytes, sha256, input shape / dtype / quantization, label count, and which platform
takes it as its default; plus the labels file's and the source model's sha256, the tool
versions, and the last parity result. Apps and `bundle` trust a file only when its sha256
matches the manifest.

In Python the manifest is a `Manifest` (typed fields, `Artifact` rows); on disk it stays the
JSON of schema version 1, read by the Swift and Kotlin apps too, so `to_dict` writes exactly
the keys `from_dict` reads, and keys this version does not know are kept as they were.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
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
_REEXPORT = "re-run `flowers-mobile convert`"


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
    #: Keys this version does not know, written back unchanged.
    other: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        other = out.pop("other")
        return {**out, **other}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Artifact:
        """An artifact row of manifest.json; UserError naming `where` when a field is missing or mistyped."""
        if not isinstance(data, dict):
            raise UserError(f"{where}: an artifact entry is not an object", hint=_REEXPORT)
        _require(data, where, "artifact", file=str, format=str, precision=str, bytes=int, sha256=str,
                 input_shape=list, input_dtype=str, num_labels=int)
        known = {f.name for f in fields(cls)} - {"other"}
        row = {k: v for k, v in data.items() if k in known}
        row["default_for"] = list(data.get("default_for") or [])
        row["extra"] = dict(data.get("extra") or {})
        return cls(**row, other={k: v for k, v in data.items() if k not in known})


@dataclass
class FileEntry:
    """A file the export refers to by name and sha256 (the labels, the source model)."""

    file: str
    sha256: str


@dataclass
class LabelsEntry(FileEntry):
    count: int = 0


@dataclass
class Manifest:
    model_name: str
    labels: LabelsEntry
    artifacts: list[Artifact]
    source_model: FileEntry | None = None
    created: str = ""
    tools: dict[str, str] = field(default_factory=dict)
    export_config: dict[str, Any] = field(default_factory=dict)
    #: The last parity result (`ParityReport.summary()`), None before any parity run.
    parity: dict[str, Any] | None = None
    #: ARM instructions per image of each TFLite file (`convert --arm-cost`, docs/arm_cost.md), with the
    #: QEMU, LiteRT and CPU profiles they were counted on; None (and no key on disk) when not counted.
    arm_cost: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION
    #: Top-level keys this version does not know, written back unchanged.
    other: dict[str, Any] = field(default_factory=dict)

    def artifact(self, file: str) -> Artifact:
        """The artifact named `file`; UserError listing the others when there is none."""
        for art in self.artifacts:
            if art.file == file:
                return art
        raise UserError(f"the manifest lists no artifact {file!r}",
                        hint=f"it lists: {', '.join(a.file for a in self.artifacts) or 'nothing'}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON written to manifest.json (schema version 1 key order)."""
        return {
            "schema_version": self.schema_version,
            "created": self.created,
            "model_name": self.model_name,
            "source_model": asdict(self.source_model) if self.source_model else None,
            "labels": asdict(self.labels),
            "tools": dict(self.tools),
            "artifacts": [a.to_dict() for a in self.artifacts],
            "export_config": self.export_config,
            "parity": self.parity,
            # Optional and written only when counted: manifests without it stay byte-for-byte as before.
            **({"arm_cost": self.arm_cost} if self.arm_cost is not None else {}),
            **self.other,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Manifest:
        """Validate the JSON of a manifest; UserError naming `where` (the file) when it is not one."""
        if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION or \
                not isinstance(data.get("artifacts"), list):
            raise UserError(f"{where}: not a flowers-mobile manifest (schema_version {SCHEMA_VERSION} expected)")
        labels = data.get("labels")
        if not isinstance(labels, dict) or not {"file", "sha256", "count"} <= labels.keys():
            raise UserError(f"{where} has no valid \"labels\" entry (file, sha256, count)", hint=_REEXPORT)
        _require(labels, where, "labels entry", file=str, sha256=str, count=int)
        source = data.get("source_model")
        if source is not None:
            if not isinstance(source, dict):
                raise UserError(f"{where}: \"source_model\" is not an object", hint=_REEXPORT)
            _require(source, where, "source_model", file=str, sha256=str)
        known = {f.name for f in fields(cls)} - {"other"}
        return cls(
            schema_version=SCHEMA_VERSION,
            created=str(data.get("created") or ""),
            model_name=str(data.get("model_name") or ""),
            source_model=FileEntry(source["file"], source["sha256"]) if source else None,
            labels=LabelsEntry(labels["file"], labels["sha256"], labels["count"]),
            tools=dict(data.get("tools") or {}),
            artifacts=[Artifact.from_dict(a, where) for a in data["artifacts"]],
            export_config=dict(data.get("export_config") or {}),
            parity=data.get("parity"),
            arm_cost=data.get("arm_cost") if isinstance(data.get("arm_cost"), dict) else None,
            other={k: v for k, v in data.items() if k not in known},
        )


def _require(data: dict[str, Any], where: str, what: str, **types: type) -> None:
    for key, kind in types.items():
        value = data.get(key)
        # bool is an int to isinstance; a count of True is still a broken manifest.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            name = f" {data['file']!r}" if isinstance(data.get("file"), str) and key != "file" else ""
            raise UserError(f"{where}: {what}{name} has no valid {key!r} ({kind.__name__} expected)", hint=_REEXPORT)


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


def build_manifest(*, model_name: str, source_model: str | os.PathLike[str], labels_file: str | os.PathLike[str],
                   labels: list[str], artifacts: list[Artifact], config: dict[str, Any] | None = None) -> Manifest:
    """The manifest of a new export folder (created now, tool versions of this install)."""
    return Manifest(
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        model_name=model_name,
        source_model=FileEntry(Path(source_model).name, sha256_path(source_model)),
        labels=LabelsEntry(LABELS_NAME, sha256_path(labels_file), len(labels)),
        tools=tool_versions(),
        artifacts=list(artifacts),
        export_config=config or {},
    )


def write_manifest(export_dir: str | os.PathLike[str], manifest: Manifest | dict[str, Any]) -> Path:
    """Write `export_dir/manifest.json` atomically (temp file + rename); a dict is validated first."""
    path = Path(export_dir) / MANIFEST_NAME
    if not isinstance(manifest, Manifest):
        manifest = Manifest.from_dict(manifest, str(path))
    return atomic_write_json(path, manifest.to_dict())


def read_manifest(export_dir: str | os.PathLike[str]) -> Manifest:
    """Read `export_dir/manifest.json`; UserError when missing or malformed."""
    export_dir = Path(export_dir)
    if not export_dir.is_dir():
        raise UserError(f"export folder not found: {export_dir}", hint="run `flowers-mobile convert` first")
    path = export_dir / MANIFEST_NAME
    if not path.is_file():
        raise UserError(f"{export_dir} has no {MANIFEST_NAME}",
                        hint="it is not an export folder; run `flowers-mobile convert --out` to make one")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not valid JSON ({exc})") from exc
    return Manifest.from_dict(data, str(path))


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


def verify_manifest(export_dir: str | os.PathLike[str], manifest: Manifest | None = None) -> Manifest:
    """Check every artifact and the labels file against the manifest; return the manifest."""
    manifest = manifest if manifest is not None else read_manifest(export_dir)
    verify_file(export_dir, manifest.labels.file, manifest.labels.sha256)
    for art in manifest.artifacts:
        verify_file(export_dir, art.file, art.sha256)
    return manifest


def record_arm_cost(export_dir: str | os.PathLike[str], result: dict[str, Any]) -> Path:
    """Store the ARM cost counts in the manifest (rewritten atomically)."""
    return write_manifest(export_dir, replace(read_manifest(export_dir), arm_cost=result))


def record_parity(export_dir: str | os.PathLike[str], result: dict[str, Any]) -> Path:
    """Store the last parity result in the manifest (rewritten atomically)."""
    return write_manifest(export_dir, replace(read_manifest(export_dir), parity=result))
