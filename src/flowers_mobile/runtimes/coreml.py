"""The native Core ML runtime (`MLModel.predict`), which exists on macOS only.

Same interface as the numpy executor (`coreml_executor`), so parity on a Mac checks the
package through Apple's own runtime. Elsewhere it reports itself unavailable and the registry
picks the executor. Images are handed over as PIL images, as the package's `ImageType` input
expects; probabilities come back from the `classLabel_probs` dictionary in label order.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from flowers_mobile import runtime_registry
from flowers_mobile._coremltools import quiet_coremltools
from flowers_mobile.errors import UserError
from flowers_mobile.formats.mlpackage import Package
from flowers_mobile.runtimes.base import Predictor, register_runtime

quiet_coremltools()  # coremltools is imported lazily below; its known import noise stays out

#: Images per MLModel.predict call (it takes a list of feature dicts).
BATCH = 32


def coreml_available() -> str | None:
    """None on macOS (the registry's platforms) with coremltools' native binding, else why not."""
    off_platform = runtime_registry.platform_reason("coreml")
    if off_platform is not None:
        return off_platform
    try:
        from coremltools import libcoremlpython  # noqa: F401 - only present where Core ML can run
    except ImportError as exc:
        return f"coremltools has no native Core ML binding here ({exc}); use --runtime coreml_executor"
    return None


@register_runtime("coreml", available=coreml_available)
class CoreMLPredictor(Predictor):
    """A package run by Core ML itself (all compute units, as the app runs it).

    Args:
        path: the `.mlpackage` folder.
        threads: ignored (Core ML schedules its own work).
        compute_units: a `coremltools.ComputeUnit` name: ALL (default), CPU_ONLY, CPU_AND_GPU, CPU_AND_NE.
    """

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None,
                 compute_units: str = "ALL") -> None:
        super().__init__(path, threads=threads)
        reason = coreml_available()
        if reason is not None:
            raise UserError(reason)
        import coremltools as ct

        from flowers_mobile.coreml_exec.image import image_input_from_spec
        from flowers_mobile.formats.mlpackage import read_package

        package = read_package(self.path)
        labels = classifier_labels(package)
        if not labels:
            raise UserError(f"{self.path} is not a classifier (no classifier config)")
        image = image_input_from_spec(package.spec, str(self.path))
        if image is None or image.channels != 3:
            raise UserError(f"{self.path}: expected an RGB image input")
        self._labels = labels
        self._image = image
        self._probs_name = package.spec.description.predictedProbabilitiesName or "classLabel_probs"
        self.compute_units = compute_units
        try:
            self.model = ct.models.MLModel(os.fspath(self.path), compute_units=getattr(ct.ComputeUnit, compute_units))
        except Exception as exc:  # Core ML's compile errors come as several exception types
            raise UserError(f"{self.path}: Core ML cannot load the package ({exc})") from exc

    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    @property
    def input_size(self) -> tuple[int, int]:
        return (self._image.height, self._image.width)

    def predict(self, images: np.ndarray) -> np.ndarray:
        from PIL import Image

        images = self.check_batch(images, self.input_size)
        pixels = images if images.dtype == np.uint8 else np.clip(np.rint(images), 0, 255).astype(np.uint8)
        rows = []
        for start in range(0, len(pixels), BATCH):
            feeds = [{self._image.name: Image.fromarray(p, mode="RGB")} for p in pixels[start:start + BATCH]]
            for out in self.model.predict(feeds):
                probs = out[self._probs_name]
                rows.append([float(probs[label]) for label in self._labels])
        return np.asarray(rows, dtype=np.float32).reshape(len(pixels), len(self._labels))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "compute_units": self.compute_units}


def classifier_labels(package: Package) -> list[str] | None:
    """The class labels of the package's classify op (its classifier config), None if it has none.

    Decoded by the executor's value reader: the labels are a MIL constant like any other.
    """
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
