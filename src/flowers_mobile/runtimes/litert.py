"""The LiteRT runtime: a `.tflite` model through `ai_edge_litert`'s interpreter (XNNPACK on CPU).

Quantized models take and give uint8: images are quantized with the input tensor's own scale
and zero point (scale 1, zero point 0 for our int8 exports, so camera bytes pass unchanged),
and outputs are dequantized with the output tensor's. Labels come from the model's metadata
(the packed labels.txt), else from labels.txt beside the model. TensorFlow is never imported.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from flowers_mobile.errors import UserError, first_line
from flowers_mobile.runtimes.base import LoadedPredictor, register_runtime, requires_module


@register_runtime("litert", available=requires_module("ai_edge_litert", "ai-edge-litert==2.3.0"))
class LiteRTPredictor(LoadedPredictor):
    """A TFLite classifier: raw RGB 0..255 in, float32 probabilities out."""

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        super().__init__(path, threads=threads)
        from ai_edge_litert.interpreter import Interpreter

        from flowers_mobile.formats.tflite import labels_for_tflite

        if not self.path.is_file():
            raise UserError(f"model not found: {self.path}")
        try:
            self._interpreter = Interpreter(model_path=str(self.path), num_threads=threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise UserError(f"{self.path}: LiteRT cannot load it ({first_line(exc)})",
                            hint="is it a .tflite model file?") from exc
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise UserError(f"{self.path}: expected one input and one output, got {len(inputs)} and {len(outputs)}")
        self._input, self._output = inputs[0], outputs[0]
        shape = self._input["shape"]
        if len(shape) != 4 or shape[-1] != 3:
            raise UserError(f"{self.path}: input shape {list(shape)} is not (1, H, W, 3)")
        self._size = (int(shape[1]), int(shape[2]))
        self._labels = labels_for_tflite(self.path)
        classes = int(self._output["shape"][-1])
        if len(self._labels) != classes:
            raise UserError(f"{self.path}: {classes} outputs but {len(self._labels)} labels",
                            hint="re-export the model with its own labels")
        if int(shape[0]) != 1:  # one image per invoke, as an app runs it
            self._interpreter.resize_tensor_input(self._input["index"], [1, *self._size, 3])
            self._interpreter.allocate_tensors()

    @property
    def input_details(self) -> dict[str, Any]:
        """The interpreter's input tensor details (dtype, shape, quantization)."""
        return dict(self._input)

    @property
    def output_details(self) -> dict[str, Any]:
        return dict(self._output)

    def quantize_input(self, images: np.ndarray) -> np.ndarray:
        """Images as the input tensor takes them: float32, or quantized with its scale/zero point."""
        dtype = np.dtype(self._input["dtype"])
        if dtype.kind == "f":
            return images.astype(dtype, copy=False)
        scale, zero_point = self._input["quantization"]
        info = np.iinfo(dtype)
        if images.dtype == dtype and scale == 1.0 and zero_point == 0:
            return images  # raw pixels already are the quantized values
        q = np.round(images.astype(np.float32) / np.float32(scale)) + zero_point
        return np.clip(q, info.min, info.max).astype(dtype)

    def dequantize_output(self, raw: np.ndarray) -> np.ndarray:
        if np.dtype(self._output["dtype"]).kind == "f":
            return raw.astype(np.float32, copy=False)
        scale, zero_point = self._output["quantization"]
        return ((raw.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)).astype(np.float32)

    def predict(self, images: np.ndarray) -> np.ndarray:
        images = self.check_batch(images, self._size)
        if len(images) == 0:
            return np.zeros((0, len(self._labels)), np.float32)
        x = self.quantize_input(images)
        out = np.empty((len(images), len(self._labels)), np.float32)
        for i in range(len(images)):
            self._interpreter.set_tensor(self._input["index"], x[i:i + 1])
            self._interpreter.invoke()
            out[i] = self.dequantize_output(self._interpreter.get_tensor(self._output["index"]))[0]
        return out

    def describe(self) -> dict[str, Any]:
        in_dtype = np.dtype(self._input["dtype"]).name
        scale, zero_point = self._input["quantization"]
        return {
            **super().describe(),
            "input_dtype": in_dtype,
            "input_quantization": None if in_dtype.startswith("float") else
            {"scale": float(scale), "zero_point": int(zero_point)},
            "output_dtype": np.dtype(self._output["dtype"]).name,
            "threads": self.threads,
        }

    def close(self) -> None:
        self._interpreter = None
