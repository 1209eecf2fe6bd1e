"""Facts read from a .tflite file without an interpreter: its image input and output tensors
(shape, dtype, quantization) and the labels packed into its metadata.

Only generated flatbuffer schemas (pure Python: ai-edge-litert's for the model, MediaPipe's for
the metadata) and `zipfile` are used (never TensorFlow, never tflite-support), so light runtimes
and the Task Library's parent process can call these. Writing metadata is the exporter's job
(`flowers_mobile.export.metadata`).
"""

from __future__ import annotations

import functools
import importlib.util
import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from flowers_mobile.errors import UserError

LABELS_FILE = "labels.txt"
#: The model's `metadata` entry whose buffer holds the ModelMetadata flatbuffer.
METADATA_NAME = b"TFLITE_METADATA"
#: TFLite's TensorType enum values -> numpy dtype names (the ones a classifier's ends use).
_DTYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 9: "int8"}


@functools.cache
def model_schema() -> ModuleType:
    """The TFLite model schema (`Model`, `ModelT`, `TensorType`, ...): the flatc-generated module
    ai-edge-litert ships (pure Python; importing it loads no interpreter)."""
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


@functools.cache
def metadata_schema() -> ModuleType:
    """The TFLite metadata schema (`ModelMetadata`, `ModelMetadataT`, ...): the flatc-generated
    module MediaPipe ships, loaded from its file.

    `import mediapipe.tasks.metadata...` would run `mediapipe/__init__`, which imports MediaPipe
    Tasks, OpenCV and TensorFlow (about 10 s, and TensorFlow must stay out of light processes);
    the generated module itself needs only `flatbuffers`.
    """
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or spec.origin is None:
        raise UserError("mediapipe is not installed; its TFLite metadata schema is needed",
                        hint="pip install mediapipe (a dependency of flowers-mobile)")
    path = Path(spec.origin).parent / "tasks" / "metadata" / "metadata_schema_py_generated.py"
    module_spec = importlib.util.spec_from_file_location("flowers_mobile._tflite_metadata_schema", path)
    if module_spec is None or module_spec.loader is None or not path.is_file():
        raise UserError(f"mediapipe's TFLite metadata schema is missing ({path})",
                        hint="reinstall mediapipe: pip install -c constraints.txt mediapipe")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class TensorInfo:
    """One input or output tensor of a .tflite's first subgraph."""

    shape: tuple[int, ...]
    dtype: str
    #: {"scale": float, "zero_point": int} for a per-tensor quantized tensor, else None.
    quantization: dict[str, float] | None


def split_labels(raw: bytes) -> list[str]:
    """The lines of a packed labels file (a final newline ends the last line; CRLF accepted)."""
    lines = raw.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    return [line.rstrip("\r") for line in lines]


def tensor_info(flatbuffer: bytes, path: str | os.PathLike[str], *, output: bool = False) -> TensorInfo:
    """The first input (or output) tensor, read from the flatbuffer.

    Raises:
        UserError: the bytes are not a TFLite model.
    """
    schema = model_schema()
    try:
        graph = schema.Model.GetRootAsModel(flatbuffer, 0).Subgraphs(0)
        tensor = graph.Tensors(graph.Outputs(0) if output else graph.Inputs(0))
        shape = tuple(int(d) for d in tensor.ShapeAsNumpy())
        kind = tensor.Type()
        quant = tensor.Quantization()
        scales = quant.ScaleAsNumpy() if quant is not None and quant.ScaleLength() else None
        zeros = quant.ZeroPointAsNumpy() if quant is not None and quant.ZeroPointLength() else None
    except Exception as exc:  # a file that is not a flatbuffer fails in many ways
        raise UserError(f"{path}: not a TFLite model ({type(exc).__name__})") from exc
    dtype = _DTYPES.get(kind, f"type{kind}")
    quantization = None
    # As LiteRT reports it: a float tensor or a zero scale is not quantized.
    if scales is not None and len(scales) == 1 and scales[0] != 0 and not dtype.startswith("float"):
        quantization = {"scale": float(scales[0]), "zero_point": int(zeros[0]) if zeros is not None else 0}
    return TensorInfo(shape=shape, dtype=dtype, quantization=quantization)


def tflite_input_size(flatbuffer: bytes, path: str | os.PathLike[str]) -> tuple[int, int]:
    """(height, width) of a .tflite's one image input, read from the flatbuffer (no interpreter).

    Raises:
        UserError: the bytes are not a TFLite model, or its input is not (1, H, W, 3).
    """
    shape = tensor_info(flatbuffer, path).shape
    if len(shape) != 4 or shape[-1] != 3:
        raise UserError(f"{path}: input shape {list(shape)} is not (1, H, W, 3)")
    return int(shape[1]), int(shape[2])


def embedded_labels(flatbuffer: bytes) -> list[str] | None:
    """Labels packed into a .tflite as its output's TENSOR_AXIS_LABELS file, or None.

    Parses the metadata flatbuffer and the model's zip tail directly (no TensorFlow import).
    """
    md_fb, schema = metadata_schema(), model_schema()
    try:
        model = schema.Model.GetRootAsModel(flatbuffer, 0)
        meta_buffer = None
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            if entry.Name() == METADATA_NAME:
                meta_buffer = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
        if meta_buffer is None:
            return None
        meta = md_fb.ModelMetadata.GetRootAsModelMetadata(meta_buffer, 0)
        if meta.SubgraphMetadataLength() == 0:
            return None
        graph = meta.SubgraphMetadata(0)
        if graph.OutputTensorMetadataLength() == 0:
            return None
        output = graph.OutputTensorMetadata(0)
        name = None
        for j in range(output.AssociatedFilesLength()):
            assoc = output.AssociatedFiles(j)
            if assoc.Type() == md_fb.AssociatedFileType.TENSOR_AXIS_LABELS:
                name = assoc.Name().decode("utf-8")
                break
        if name is None:
            return None
        with zipfile.ZipFile(io.BytesIO(flatbuffer)) as zf:
            return split_labels(zf.read(name))
    except (zipfile.BadZipFile, KeyError, IndexError, ValueError, UnicodeDecodeError, TypeError):
        return None


def labels_for_tflite(path: str | os.PathLike[str]) -> list[str]:
    """A .tflite's labels: from its metadata, else labels.txt beside it; UserError when neither exists."""
    from flowers_mobile.labels import read_labels

    path = Path(path)
    labels = embedded_labels(path.read_bytes())
    if labels:
        return labels
    beside = path.with_name(LABELS_FILE)
    if beside.is_file():
        return read_labels(beside)
    raise UserError(f"{path} has no labels in its metadata and no {LABELS_FILE} beside it",
                    hint="convert it with `flowers-mobile convert`, or put labels.txt next to it")
