"""The `.mlpackage` on disk: its manifest, the Core ML spec, where the weights are, and editing
one top-level field of the spec without re-encoding the rest.

A package is a folder:

    X.mlpackage/Manifest.json                       which item is the root model
    X.mlpackage/Data/com.apple.CoreML/model.mlmodel the spec (protobuf)
    X.mlpackage/Data/com.apple.CoreML/weights/weight.bin   ML Program weight blobs

Everything that can be wrong with such a folder (missing, not a folder, no manifest, a manifest
that names no model, a spec that does not parse, a model that is not an ML Program) is a
`UserError` naming the package.

The exporter rewrites a package's `description` (metadata, feature texts) after coremltools
saved it: `MLModel.save` would re-encode the whole spec (seconds for a MobileNetV2 program under
protobuf's pure-Python implementation, which some installs still get), while the description is
one top-level length-delimited field, so `edit_description` splices only that field's bytes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowers_mobile.errors import UserError

PACKAGE_MANIFEST = "Manifest.json"
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
    manifest_file = path / PACKAGE_MANIFEST
    if not manifest_file.is_file():
        raise UserError(f"{path} has no {PACKAGE_MANIFEST}: not a Core ML package, or an incomplete copy",
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


def edit_description(package: str | os.PathLike[str], edit: Callable[[Any], None]) -> None:
    """Rewrite the spec's `description` (a `ModelDescription` proto) in place: parse it, let `edit`
    change it, splice it back. The other fields (the ML Program) are kept byte for byte."""
    from coremltools.proto import Model_pb2

    spec_file = read_root_model_file(package)
    data = spec_file.read_bytes()
    number = Model_pb2.Model.DESCRIPTION_FIELD_NUMBER
    description = Model_pb2.ModelDescription()
    description.ParseFromString(wire_field(data, number))
    edit(description)
    spec_file.write_bytes(replace_wire_field(data, number, description.SerializeToString()))


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _top_level_fields(message: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start, end) of each top-level field of a serialized message;
    for length-delimited fields the payload is message[end - length:end]."""
    pos = 0
    while pos < len(message):
        start = pos
        key, pos = _varint(message, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, pos = _varint(message, pos)
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(message, pos)
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, start, pos


def wire_field(message: bytes, number: int) -> bytes:
    """The payload of the (last) length-delimited top-level field `number`, b"" when absent."""
    payload = b""
    for field_number, wire, start, end in _top_level_fields(message):
        if field_number == number and wire == 2:
            _, body = _varint(message, start)
            _, body = _varint(message, body)
            payload = message[body:end]
    return payload


def replace_wire_field(message: bytes, number: int, payload: bytes) -> bytes:
    """`message` with length-delimited top-level field `number` set to `payload` (others kept as bytes)."""
    out = bytearray()
    encoded = _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload
    for field_number, wire, start, end in _top_level_fields(message):
        if field_number == number and wire == 2:
            if encoded:
                out += encoded
                encoded = b""
        else:
            out += message[start:end]
    return bytes(out + encoded)
