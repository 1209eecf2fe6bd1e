"""Open a saved `.mlpackage` on disk: its manifest, the Core ML spec, and where the weights are.

A package is a folder:

    X.mlpackage/Manifest.json                       which item is the root model
    X.mlpackage/Data/com.apple.CoreML/model.mlmodel the spec (protobuf)
    X.mlpackage/Data/com.apple.CoreML/weights/weight.bin   ML Program weight blobs

Everything that can be wrong with such a folder (missing, not a folder, no manifest, a manifest
that names no model, a spec that does not parse, a model that is not an ML Program) is a
`UserError` naming the package.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowers_mobile.errors import UserError

MANIFEST_NAME = "Manifest.json"
#: The spec field (`Model.Type` oneof) of an ML Program.
ML_PROGRAM = "mlProgram"
#: Every hint for a broken package says the same thing: make it again.
REEXPORT_HINT = "re-export it with `flowers-mobile convert --target coreml`"


@dataclass
class Package:
    """A parsed package: the spec and the folder its weight paths are relative to."""

    path: Path
    model_file: Path
    spec: Any  # coremltools.proto.Model_pb2.Model

    @property
    def model_dir(self) -> Path:
        """What `@model_path` in a weight's file name stands for."""
        return self.model_file.parent

    def resolve_blob_path(self, file_name: str) -> Path:
        """The file a `BlobFileValue.fileName` ("@model_path/weights/weight.bin") points at."""
        prefix = "@model_path/"
        if not file_name.startswith(prefix):
            raise UserError(f"{self.path}: weight file {file_name!r} is not under @model_path",
                            hint=REEXPORT_HINT)
        relative = Path(file_name[len(prefix):])
        if relative.is_absolute() or ".." in relative.parts:
            raise UserError(f"{self.path}: weight file {file_name!r} points outside the package")
        return self.model_dir / relative


def read_package(path: str | os.PathLike[str]) -> Package:
    """Parse the package at `path`; UserError when it is missing, corrupt or not an ML Program."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"Core ML package not found: {path}")
    if not path.is_dir():
        raise UserError(f"{path} is a file, not an .mlpackage folder",
                        hint="the executor runs ML Program packages (.mlpackage folders)")
    model_file = _root_model_file(path)
    spec = _parse_spec(path, model_file)
    kind = spec.WhichOneof("Type")
    if kind != ML_PROGRAM:
        raise UserError(f"{path} holds a Core ML {kind or 'empty'} model, not an ML Program",
                        hint="the executor runs ML Programs only (ct.convert(..., convert_to='mlprogram'))")
    return Package(path=path, model_file=model_file, spec=spec)


def read_root_model_file(path: str | os.PathLike[str]) -> Path:
    """The root model file (`Data/.../model.mlmodel`) a package's manifest names; UserError if broken."""
    return _root_model_file(Path(path))


def _root_model_file(path: Path) -> Path:
    manifest_file = path / MANIFEST_NAME
    if not manifest_file.is_file():
        raise UserError(f"{path} has no {MANIFEST_NAME}: not a Core ML package, or an incomplete copy",
                        hint=REEXPORT_HINT)
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        root_id = manifest["rootModelIdentifier"]
        relative = manifest["itemInfoEntries"][root_id]["path"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise UserError(f"{manifest_file} is corrupt ({type(exc).__name__}: {exc})", hint=REEXPORT_HINT) from exc
    model_file = path / "Data" / relative
    if not model_file.is_file():
        raise UserError(f"{path}: the manifest's root model Data/{relative} is missing", hint=REEXPORT_HINT)
    return model_file


def _parse_spec(path: Path, model_file: Path) -> Any:
    from coremltools.proto import Model_pb2
    from google.protobuf.message import DecodeError

    spec = Model_pb2.Model()
    try:
        spec.ParseFromString(model_file.read_bytes())
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise UserError(f"{path}: {model_file.name} is not a valid Core ML spec ({exc})", hint=REEXPORT_HINT) from exc
    if spec.specificationVersion == 0 and spec.WhichOneof("Type") is None:
        raise UserError(f"{path}: {model_file.name} is empty or not a Core ML spec", hint=REEXPORT_HINT)
    return spec


def classifier_labels(package: Package) -> list[str] | None:
    """The class labels of the package's classify op (its classifier config), None if it has none."""
    from flowers_mobile.coreml_exec.values import BlobReader, decode_value

    functions = package.spec.mlProgram.functions
    if "main" not in functions:
        return None
    fn = functions["main"]
    block = fn.block_specializations.get(fn.opset) if fn.opset in fn.block_specializations else None
    if block is None:
        return None
    blobs = BlobReader(package.resolve_blob_path, str(package.path))
    for op in block.operations:
        if op.type == "classify" and "classes" in op.inputs:
            arguments = op.inputs["classes"].arguments
            if len(arguments) != 1 or arguments[0].WhichOneof("binding") != "value":
                raise UserError(f"{package.path}: the classify op's labels are not a constant")
            classes = decode_value(arguments[0].value, blobs, str(package.path))
            items = classes.reshape(-1).tolist() if hasattr(classes, "reshape") else list(classes)
            return [str(c.item() if hasattr(c, "item") else c) for c in items]
    return None
