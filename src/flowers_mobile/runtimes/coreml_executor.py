"""The Core ML executor as a runtime: runs a `.mlpackage` on any OS (see `coreml_exec`), with
TensorFlow graphs where TensorFlow is installed, numpy otherwise.

Labels come from the package's classifier config, the input size from its image input, so a
package is checked as the iOS app would see it, with nothing taken from beside it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from flowers_mobile.coreml_exec import CoreMLExecutor
from flowers_mobile.errors import UserError
from flowers_mobile.runtimes.base import Predictor, register_runtime


@register_runtime("coreml_executor")
class CoreMLExecutorPredictor(Predictor):
    """An ML Program package run by the Core ML executor, float16 rounding as on Apple's GPU/ANE.

    Args:
        path: the `.mlpackage` folder.
        threads: worker threads, each running a share of a batch (default: one per CPU).
    """

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        super().__init__(path, threads=threads)
        self.executor = CoreMLExecutor(self.path, threads=threads)
        if self.executor.labels is None:
            raise UserError(f"{self.path} is not a classifier (no classifier config)",
                            hint="export it with `flowers-mobile convert --target coreml`")
        image = self.executor.image_input
        if image is None or image.channels != 3:
            raise UserError(f"{self.path}: expected an RGB image input, got "
                            f"{'a plain tensor' if image is None else image.color_space}")
        self._size = (image.height, image.width)

    @property
    def labels(self) -> list[str]:
        return list(self.executor.labels or [])

    @property
    def input_size(self) -> tuple[int, int]:
        return self._size

    def predict(self, images: np.ndarray) -> np.ndarray:
        images = self.check_batch(images, self._size)
        if images.dtype != np.uint8:
            # Core ML takes 8-bit pixels; float inputs are raw 0..255 values (Predictor contract).
            images = np.clip(np.rint(images), 0, 255).astype(np.uint8)
        return self.executor.predict(images).array

    def describe(self) -> dict[str, Any]:
        user = self.executor.metadata.get("user_defined", {})
        return {**super().describe(), **self.executor.describe(),
                "precision": user.get("com.flowers-mobile.precision", "float16" if self.executor.is_float16 else "float32")}
