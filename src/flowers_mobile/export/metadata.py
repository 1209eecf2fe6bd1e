"""TFLite model metadata: what MediaPipe Tasks (and the Task Library) read to run the model with no
extra code.

What is written, as tflite-support's image-classifier writer wrote it (a test on Python <= 3.11
compares the two with tflite-support's own MetadataDisplayer): name, description, version,
author, license, the input as an RGB image with normalization mean 0 / std 1 (the model takes raw
pixels, float or uint8) and its value range, the output as per-label scores, and `labels.txt`
packed into the model as the output's TENSOR_AXIS_LABELS file.

tflite-support (last release 2023, no wheels past Python 3.11) is not needed. Kept libraries do
the format work: the generated flatbuffer schemas (`formats.tflite.model_schema()` /
`metadata_schema()`: ai-edge-litert's and MediaPipe's generated modules), `flatbuffers` to
serialize, `zipfile` to append the labels. Written here is only what no maintained package
offers in pure Python, the writers' glue (the same three steps the TFLite metadata format
defines):

1. a `ModelMetadata` table, serialized with the file identifier "M001";
2. that buffer added to the model's buffers and named by a `TFLITE_METADATA` entry of the
   model's `metadata` list (an existing entry of that name is replaced);
3. associated files appended to the flatbuffer as a zip archive (TFLite ignores trailing
   bytes; readers open the file as a zip).

`min_parser_version` is the oldest metadata parser that understands every field used. The
writers computed it with a C++ extension that MediaPipe's wheel lacks; every field written here
(image properties, normalization, stats, TENSOR_AXIS_LABELS files, author and license) exists
since metadata schema 1.0.0, so the value is that constant.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from typing import Any

from flowers_mobile.config import ExportConfig
from flowers_mobile.formats.tflite import (
    LABELS_FILE,
    METADATA_NAME,
    metadata_schema,
    model_schema,
    split_labels,
)

INPUT_DESCRIPTION = ("RGB image, raw pixel values 0..255 (scale 1, offset 0), resized to the input size by "
                     "bilinear stretch; the model normalizes inside its graph.")
OUTPUT_DESCRIPTION = "Probability of each flower label, in the order of the packed labels.txt."
LABELS_DESCRIPTION = "Labels for categories that the model can recognize."
#: Oldest metadata parser that reads every field written here (see the module docstring).
MIN_PARSER_VERSION = "1.0.0"
#: File identifiers: the metadata flatbuffer's, and the TFLite model's.
METADATA_IDENTIFIER = b"M001"
MODEL_IDENTIFIER = b"TFL3"


class MetadataError(RuntimeError):
    """Metadata read back from a model does not say what was written (a bug, not bad input)."""


def _stats(md: Any, tensor_type: int, float_range: tuple[float, float]) -> Any:
    """The value range readers use to check a tensor: 0..255 for uint8, `float_range` for float32,
    none for other types (the writers' convention)."""
    schema = model_schema()
    if tensor_type == schema.TensorType.UINT8:
        lo, hi = 0.0, 255.0
    elif tensor_type == schema.TensorType.FLOAT32:
        lo, hi = float_range
    else:
        return None
    stats = md.StatsT()
    stats.min, stats.max = [lo], [hi]
    return stats


def build_model_metadata(labels_file: str, export_cfg: ExportConfig, *, precision: str,
                         input_type: int, output_type: int) -> Any:
    """The `ModelMetadataT` of an image classifier with raw-pixel input (mean 0, std 1)."""
    md = metadata_schema()

    image = md.TensorMetadataT()
    image.name, image.description = "image", INPUT_DESCRIPTION
    image.content = md.ContentT()
    image.content.contentPropertiesType = md.ContentProperties.ImageProperties
    image.content.contentProperties = md.ImagePropertiesT()
    image.content.contentProperties.colorSpace = md.ColorSpaceType.RGB
    norm = md.NormalizationOptionsT()
    norm.mean, norm.std = [0.0], [1.0]
    unit = md.ProcessUnitT()
    unit.optionsType, unit.options = md.ProcessUnitOptions.NormalizationOptions, norm
    image.processUnits = [unit]
    # (0 - mean) / std .. (255 - mean) / std: the pixel range itself.
    image.stats = _stats(md, input_type, (0.0, 255.0))

    scores = md.TensorMetadataT()
    scores.name, scores.description = "probabilities", OUTPUT_DESCRIPTION
    scores.content = md.ContentT()
    scores.content.contentPropertiesType = md.ContentProperties.FeatureProperties
    scores.content.contentProperties = md.FeaturePropertiesT()
    scores.stats = _stats(md, output_type, (0.0, 1.0))
    labels = md.AssociatedFileT()
    labels.name, labels.description = labels_file, LABELS_DESCRIPTION
    labels.type = md.AssociatedFileType.TENSOR_AXIS_LABELS
    scores.associatedFiles = [labels]

    graph = md.SubGraphMetadataT()
    graph.inputTensorMetadata, graph.outputTensorMetadata = [image], [scores]

    meta = md.ModelMetadataT()
    meta.name = export_cfg.model_name
    meta.description = f"{export_cfg.description} Precision: {precision}."
    meta.version = export_cfg.version
    meta.author = export_cfg.author
    meta.license = export_cfg.license
    meta.subgraphMetadata = [graph]
    meta.minParserVersion = MIN_PARSER_VERSION
    return meta


def _serialize(table: Any, identifier: bytes) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(0)
    builder.Finish(table.Pack(builder), identifier)
    return bytes(builder.Output())


def add_metadata(flatbuffer: bytes, labels: Sequence[str], export_cfg: ExportConfig, *,
                 precision: str) -> bytes:
    """Return `flatbuffer` with image-classifier metadata and the labels file packed in.

    Args:
        flatbuffer: a TFLite model (input (1, H, W, 3) float32 or uint8). A zip tail it carries
            (earlier associated files) is dropped: the result has exactly labels.txt.
        labels: class names in output order (already validated).
        export_cfg: name, description, version, author, license.
        precision: written into the description, so a model file says what it is.
    """
    schema = model_schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
    graph = model.subgraphs[0]
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise MetadataError(f"an image classifier has one input and one output, this model has "
                            f"{len(graph.inputs)} and {len(graph.outputs)}")
    meta = build_model_metadata(LABELS_FILE, export_cfg, precision=precision,
                                input_type=graph.tensors[graph.inputs[0]].type,
                                output_type=graph.tensors[graph.outputs[0]].type)
    buffer = schema.BufferT()
    buffer.data = _serialize(meta, METADATA_IDENTIFIER)

    model.buffers = model.buffers or []
    model.metadata = model.metadata or []
    entry = next((m for m in model.metadata if m.name in (METADATA_NAME, METADATA_NAME.decode())), None)
    if entry is None:
        entry = schema.MetadataT()
        entry.name = METADATA_NAME
        model.metadata.append(entry)
        model.buffers.append(buffer)
        entry.buffer = len(model.buffers) - 1
    else:
        model.buffers[entry.buffer] = buffer

    out = io.BytesIO(_serialize(model, MODEL_IDENTIFIER))
    out.seek(0, io.SEEK_END)
    # Mode "a" on bytes that are not a zip appends a new archive after them (stored, uncompressed:
    # readers such as MediaPipe memory-map the file and read members in place).
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(LABELS_FILE, "\n".join(labels) + "\n")
    return out.getvalue()


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _enum_name(enum_cls: Any, value: int) -> str | int:
    names = {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}
    return names.get(value, value)


def _as_json(obj: Any, md: Any) -> Any:
    """An object-API table as MetadataDisplayer's JSON shows it: snake_case keys, enum and union
    types by name, absent fields and zero (default) scalars left out."""
    if isinstance(obj, bytes):
        return obj.decode("utf-8")
    if isinstance(obj, (str, float, bool)) or obj is None:
        return obj
    if isinstance(obj, int):
        return obj
    if hasattr(obj, "tolist"):  # numpy vectors from the unpacked buffer
        return obj.tolist()
    if isinstance(obj, list):
        return [_as_json(v, md) for v in obj]
    enums = {"contentPropertiesType": md.ContentProperties, "optionsType": md.ProcessUnitOptions,
             "colorSpace": md.ColorSpaceType, "type": md.AssociatedFileType}
    out: dict[str, Any] = {}
    for key, value in vars(obj).items():
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and value == 0):
            continue
        out[_snake(key)] = _enum_name(enums[key], value) if key in enums else _as_json(value, md)
    return out


def read_metadata(flatbuffer: bytes) -> dict[str, Any]:
    """The metadata as a dict (the keys MetadataDisplayer's JSON uses), plus the packed files.

    Returns:
        {"json": the metadata, or None when the model has none, "files": packed file names,
         "labels": labels.txt's lines or None}
    """
    schema, md = model_schema(), metadata_schema()
    model = schema.Model.GetRootAsModel(flatbuffer, 0)
    meta_json = None
    for i in range(model.MetadataLength()):
        if model.Metadata(i).Name() == METADATA_NAME:
            raw = model.Buffers(model.Metadata(i).Buffer()).DataAsNumpy().tobytes()
            meta = md.ModelMetadataT.InitFromObj(md.ModelMetadata.GetRootAsModelMetadata(raw, 0))
            meta_json = _as_json(meta, md)
    files: list[str] = []
    labels = None
    try:
        with zipfile.ZipFile(io.BytesIO(flatbuffer)) as zf:
            files = zf.namelist()
            if LABELS_FILE in files:
                labels = split_labels(zf.read(LABELS_FILE))
    except zipfile.BadZipFile:
        pass
    return {"json": meta_json, "files": files, "labels": labels}


def verify_metadata(flatbuffer: bytes, labels: Sequence[str], export_cfg: ExportConfig) -> dict[str, Any]:
    """Read the metadata back and check it says what `add_metadata` wrote.

    Raises:
        MetadataError: a missing labels file, other labels, a wrong label count, other general info.
    """
    info = read_metadata(flatbuffer)
    meta = info["json"]
    if meta is None:
        raise MetadataError("the model carries no TFLITE_METADATA")
    if info["files"] != [LABELS_FILE]:
        raise MetadataError(f"packed files are {info['files']}, expected [{LABELS_FILE!r}]")
    if info["labels"] != list(labels):
        got = info["labels"] or []
        raise MetadataError(f"packed labels ({len(got)}) differ from the {len(labels)} labels written")
    try:
        graph = meta["subgraph_metadata"][0]
        output_files = graph["output_tensor_metadata"][0]["associated_files"]
        norm = graph["input_tensor_metadata"][0]["process_units"][0]["options"]
    except (KeyError, IndexError) as exc:
        raise MetadataError(f"metadata lacks {exc}") from exc
    if not any(f.get("name") == LABELS_FILE and f.get("type") == "TENSOR_AXIS_LABELS" for f in output_files):
        raise MetadataError(f"the output's associated files do not list {LABELS_FILE} as TENSOR_AXIS_LABELS")
    if norm.get("mean") != [0.0] or norm.get("std") != [1.0]:
        raise MetadataError(f"input normalization is {norm}, expected mean [0.0], std [1.0]")
    for key, want in (("name", export_cfg.model_name), ("version", export_cfg.version),
                      ("author", export_cfg.author), ("license", export_cfg.license)):
        if meta.get(key) != want:
            raise MetadataError(f"metadata {key} is {meta.get(key)!r}, expected {want!r}")
    return info
