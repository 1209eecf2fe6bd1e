"""TFLite model metadata: what the Android Task Library reads to run the model with no extra code.

Written with tflite-support's metadata writers: name, description, version, author, license,
the input as an RGB image with normalization mean 0 / std 1 (the model takes raw pixels, float
or uint8), and `labels.txt` packed into the model as the output's axis labels.

Import rules (docs/stack.md): never `import tflite_support`; the writers are imported from
`tensorflow_lite_support.metadata.python...` directly. Reading labels and tensor facts without
the writers (what runtimes need) is `flowers_mobile.formats.tflite`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowers_mobile.config import ExportConfig
from flowers_mobile.formats.tflite import LABELS_FILE, split_labels

INPUT_DESCRIPTION = ("RGB image, raw pixel values 0..255 (scale 1, offset 0), resized to the input size by "
                     "bilinear stretch; the model normalizes inside its graph.")
OUTPUT_DESCRIPTION = "Probability of each flower label, in the order of the packed labels.txt."


class MetadataError(RuntimeError):
    """Metadata read back from a model does not say what was written (a bug, not bad input)."""


def add_metadata(flatbuffer: bytes, labels: Sequence[str], export_cfg: ExportConfig, *,
                 precision: str) -> bytes:
    """Return `flatbuffer` with image-classifier metadata and the labels file packed in.

    Args:
        flatbuffer: a TFLite model without metadata (input (1, H, W, 3) float32 or uint8).
        labels: class names in output order (already validated).
        export_cfg: name, description, version, author, license.
        precision: written into the description, so a model file says what it is.
    """
    from tensorflow_lite_support.metadata import metadata_schema_py_generated as md_fb
    from tensorflow_lite_support.metadata.python.metadata_writers import (
        image_classifier,
        metadata_info,
        writer_utils,
    )

    general = metadata_info.GeneralMd(
        name=export_cfg.model_name,
        version=export_cfg.version,
        description=f"{export_cfg.description} Precision: {precision}.",
        author=export_cfg.author,
        licenses=export_cfg.license,
    )
    with tempfile.TemporaryDirectory(prefix="flowers-labels-") as tmp:
        # The writer names the packed file after the path's basename: it must be labels.txt.
        labels_path = Path(tmp) / LABELS_FILE
        labels_path.write_text("\n".join(labels) + "\n", encoding="utf-8")
        input_md = metadata_info.InputImageTensorMd(
            name="image",
            description=INPUT_DESCRIPTION,
            norm_mean=[0.0],
            norm_std=[1.0],
            color_space_type=md_fb.ColorSpaceType.RGB,
            tensor_type=writer_utils.get_input_tensor_types(flatbuffer)[0],
        )
        output_md = metadata_info.ClassificationTensorMd(
            name="probabilities",
            description=OUTPUT_DESCRIPTION,
            label_files=[metadata_info.LabelFileMd(file_path=str(labels_path))],
            tensor_type=writer_utils.get_output_tensor_types(flatbuffer)[0],
        )
        writer = image_classifier.MetadataWriter.create_from_metadata_info(
            bytearray(flatbuffer), general_md=general, input_md=input_md, output_md=output_md)
        return bytes(writer.populate())


def read_metadata(flatbuffer: bytes) -> dict[str, Any]:
    """The metadata as tflite-support's MetadataDisplayer shows it, plus the packed files.

    Returns:
        {"json": the metadata as a dict, "files": packed file names, "labels": labels.txt's lines}
    """
    from tensorflow_lite_support.metadata.python import metadata as md

    displayer = md.MetadataDisplayer.with_model_buffer(bytearray(flatbuffer))
    files = list(displayer.get_packed_associated_file_list())
    labels = None
    if LABELS_FILE in files:
        labels = split_labels(displayer.get_associated_file_buffer(LABELS_FILE))
    return {"json": json.loads(displayer.get_metadata_json()), "files": files, "labels": labels}


def verify_metadata(flatbuffer: bytes, labels: Sequence[str], export_cfg: ExportConfig) -> dict[str, Any]:
    """Read the metadata back and check it says what `add_metadata` wrote.

    Raises:
        MetadataError: a missing labels file, other labels, a wrong label count, other general info.
    """
    info = read_metadata(flatbuffer)
    meta = info["json"]
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
