"""Run a saved ML Program (`.mlpackage`) with numpy or TensorFlow, the way Core ML would, on any OS.

    executor = CoreMLExecutor("Flowers.mlpackage")
    result = executor.predict(pixels)            # uint8 (N, H, W, 3)
    result.labels[0], result.probabilities[0]    # classLabel, classLabel_probs
    result.array                                 # float32 (N, classes), label order

The work is split where it happens: `program` loads the spec and weights and folds constants
(an op the registry does not know is a `UserError` naming the op and the model), `batching`
decides whether images may share a pass, `runner` runs them with float16 storage emulated
(`fp16`), and each op with its properties lives in `ops/` (see `registry`). This class is the
classifier API around them: pixels or PIL images in, Core ML's classifier outputs back. Where
TensorFlow is installed, `tf_program` runs the same steps as TensorFlow graphs (5-7x faster on
MobileNetV2, same float16 rounding after each op); `backend="numpy"` is the reference.

Precision: a float16 program's float16 tensors are rounded to float16 after each op, as Core ML
stores them on the GPU and Neural Engine; `fp16_rounding=False` gives the CPU path's float32
reading. float32 programs run in float32 throughout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.coreml_exec.batching import plan_batching
from flowers_mobile.coreml_exec.fp16 import round_to_float16
from flowers_mobile.coreml_exec.image import (
    ImageInput,
    fit_image,
    image_input_from_spec,
    pixels_to_tensor,
)
from flowers_mobile.coreml_exec.program import load_program
from flowers_mobile.coreml_exec.runner import run_program
from flowers_mobile.coreml_exec.tf_program import (
    compile_segments,
    plan_segments,
    tensorflow_available,
)
from flowers_mobile.coreml_exec.values import BlobReader
from flowers_mobile.errors import UserError
from flowers_mobile.formats.mlpackage import read_package

__all__ = ["DEFAULT_CHUNK", "CoreMLExecutor", "Prediction", "round_to_float16"]

#: Images per pass through the program (bounds memory on large batches).
DEFAULT_CHUNK = 32


@dataclass
class Prediction:
    """What Core ML returns for a classifier, per image, plus the array form for parity checks."""

    labels: list[str]  # classLabel
    probabilities: list[dict[str, float]]  # classLabel_probs
    array: np.ndarray  # float32 (N, classes) in label order
    notes: list[list[str]] = field(default_factory=list)  # per image: conversions, resizes


def default_workers() -> int:
    """One worker thread per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS
        return max(1, os.cpu_count() or 1)


class CoreMLExecutor:
    """A loaded ML Program, ready to run batches.

    Args:
        path: the `.mlpackage` folder.
        fp16_rounding: round float16-declared tensors to float16 after each op (see module doc).
        chunk: images per pass through the program.
        threads: worker threads, each running a share of the images (None: one per CPU); the
            TensorFlow path runs one chunk at a time with TensorFlow's own thread pools.
        backend: "auto" (TensorFlow where it is installed, else numpy), "tensorflow" or "numpy"
            (the reference); see `tf_program`. Both round float16 tensors the same way.
    Raises:
        UserError: missing / corrupt package, not an ML Program, missing or damaged weights, an op
            the executor does not support, a classifier whose labels do not match its outputs.
    """

    def __init__(self, path: str | os.PathLike[str], *, fp16_rounding: bool = True,
                 chunk: int = DEFAULT_CHUNK, threads: int | None = None, backend: str = "auto") -> None:
        self.path = Path(path)
        self.threads = max(1, int(threads)) if threads else default_workers()
        self.fp16_rounding = fp16_rounding
        self.chunk = max(1, int(chunk))
        self.package = read_package(self.path)
        spec = self.package.spec
        self.spec_version = int(spec.specificationVersion)
        self.image_input: ImageInput | None = image_input_from_spec(spec, str(self.path))
        blobs = BlobReader(self.package.resolve_blob_path, str(self.path))
        self.program = load_program(spec.mlProgram, blobs, str(self.path))
        self.batchable = plan_batching(self.program)
        self.backend = _backend(backend)
        self.segments = None
        if self.backend == "tensorflow":
            self.segments = plan_segments(self.program)
            compile_segments(self.program, self.segments, fp16_rounding)
        self.metadata = _metadata(spec)

    # The program's facts, under the names callers have used.
    opset = property(lambda self: self.program.opset)
    input_name = property(lambda self: self.program.input_name)
    input_dtype = property(lambda self: self.program.input_dtype)
    input_shape = property(lambda self: self.program.input_shape)
    outputs = property(lambda self: self.program.outputs)
    constants = property(lambda self: self.program.constants)
    op_counts = property(lambda self: self.program.op_counts)
    labels = property(lambda self: self.program.labels)
    probabilities_var = property(lambda self: self.program.probabilities_var)
    is_float16 = property(lambda self: self.program.is_float16)

    def run(self, x: np.ndarray) -> dict[str, Any]:
        """Run the program on the input tensor (N, C, H, W); returns every program output by name.

        Also returns the classifier's probabilities array under `probabilities_var` when the
        program is a classifier.
        """
        x = np.asarray(x, dtype=np.float32)
        expected = tuple(self.input_shape[1:])
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise UserError(f"{self.path}: input tensor shape {x.shape}; the program takes (N, {', '.join(map(str, expected))})")
        return run_program(self.program, x, batchable=self.batchable, chunk=self.chunk, workers=self.threads,
                           fp16_rounding=self.fp16_rounding, where=str(self.path), segments=self.segments)

    def predict(self, pixels: np.ndarray) -> Prediction:
        """Classify raw pixels (N, H, W, C) 0..255 at the model's size (uint8 or float)."""
        program = self.program
        if program.labels is None:
            raise UserError(f"{self.path} is not a classifier (no classify op)")
        pixels = np.asarray(pixels)
        channels = self.image_input.channels if self.image_input else self.input_shape[1]
        size = (self.input_shape[2], self.input_shape[3])
        if pixels.ndim != 4 or tuple(pixels.shape[1:]) != (*size, channels):
            raise UserError(f"expected pixels of shape (N, {size[0]}, {size[1]}, {channels}), got {pixels.shape}",
                            hint="resize with flowers_mobile.images.load_image or use predict_images")
        outputs = self.run(pixels_to_tensor(pixels, self.image_input))
        array = np.asarray(outputs[program.probabilities_var], dtype=np.float32).reshape(len(pixels), -1)
        labels = [str(v) for v in np.asarray(outputs[program.class_label_name], dtype=object).reshape(-1)]
        probs = outputs.get(program.probabilities_name) or \
            [dict(zip(program.labels, map(float, row), strict=True)) for row in array]
        return Prediction(labels=labels, probabilities=probs, array=array, notes=[[] for _ in labels])

    def predict_images(self, images: Any, resize: str = "stretch") -> Prediction:
        """Classify PIL images: converted to the model's color space and size as Core ML would.

        Args:
            images: one PIL image or a sequence of them.
            resize: "stretch" (the project's rule, the iOS app's `.scaleFill`) or "center_crop"
                (Vision's default) for images not at the model's size; each resize is noted.
        """
        from PIL import Image

        if isinstance(images, Image.Image):
            images = [images]
        if self.image_input is None:
            raise UserError(f"{self.path}: the model input is a plain tensor, not an image")
        fitted = [fit_image(img, self.image_input, resize) for img in images]
        if not fitted:
            raise UserError("no images given")
        result = self.predict(np.stack([pixels for pixels, _ in fitted]))
        result.notes = [notes for _, notes in fitted]
        return result

    def describe(self) -> dict[str, Any]:
        """Facts for reports: opset, spec version, precision, op counts, batching."""
        return {"opset": self.opset, "specification_version": self.spec_version,
                "float16": self.is_float16, "fp16_rounding": self.fp16_rounding,
                "batched": self.batchable, "threads": self.threads, "backend": self.backend, "ops": dict(sorted(self.op_counts.items()))}


def _backend(name: str) -> str:
    if name == "auto":
        return "tensorflow" if tensorflow_available() else "numpy"
    if name not in ("tensorflow", "numpy"):
        raise UserError(f"unknown executor backend {name!r}; expected auto, tensorflow or numpy")
    if name == "tensorflow" and not tensorflow_available():
        raise UserError("executor backend 'tensorflow' asked for, but TensorFlow is not installed",
                        hint="pip install tensorflow-cpu, or use backend='numpy'")
    return name


def _metadata(spec: Any) -> dict[str, Any]:
    meta = spec.description.metadata
    return {"author": meta.author, "license": meta.license, "version": meta.versionString,
            "short_description": meta.shortDescription, "user_defined": dict(meta.userDefined)}
