"""Keras classifier -> TFLite flatbuffers: float32, float16, dynamic range and full int8.

The conversion goes through one frozen `tf.function` of the model (input "image", float32
(1, H, W, 3) raw pixels). With TF 2.19 and Keras 3 that path is both the one that works
(`from_keras_model` exports a SavedModel first) and about six times faster than converting a
SavedModel, because freezing a concrete function skips the SavedModel save/load round trip.

Full int8 has uint8 input and output. The input is pinned to scale 1, zero point 0: the model
takes raw 0..255 pixels, so an app hands it camera bytes as they are. Calibration uses real
training images (stratified over the classes), never random noise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.config import DataConfig
from flowers_mobile.errors import UserError

#: Precisions in the order `--quantize` lists them.
PRECISIONS = ("int8", "float16", "dynamic", "float32")
#: What users may type for each precision (CLI names and the config's names).
PRECISION_ALIASES = {
    "int8": "int8", "fp16": "float16", "float16": "float16", "dynamic": "dynamic",
    "none": "float32", "fp32": "float32", "float32": "float32",
}
DEFAULT_TFLITE = "flowers.tflite"
INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"


def precision_name(name: str) -> str:
    """Canonical precision for a user-given name (int8, fp16/float16, dynamic, none/float32)."""
    key = name.strip().lower()
    if key not in PRECISION_ALIASES:
        raise UserError(f"unknown precision {name!r}", hint="use int8, fp16, dynamic or none (float32)")
    return PRECISION_ALIASES[key]


def tflite_file_name(precision: str) -> str:
    """flowers_int8.tflite, flowers_float16.tflite, flowers_dynamic.tflite, flowers_float32.tflite."""
    return f"flowers_{precision_name(precision)}.tflite"


@contextlib.contextmanager
def _quiet_converter() -> Iterator[None]:
    """Hide the converter's Python-side chatter (deprecation notes, calibration warnings)."""
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        absl_logger.setLevel(level)


def frozen_function(model: Any, input_size: tuple[int, int]) -> Any:
    """The model as a frozen concrete function: input "image" (1, H, W, 3) float32, output "probabilities".

    Freeze once, convert many times: every precision starts from the same graph.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    h, w = input_size

    @tf.function(input_signature=[tf.TensorSpec((1, h, w, 3), tf.float32, name=INPUT_NAME)])
    def serve(image):
        return {OUTPUT_NAME: model(image, training=False)}

    with _quiet_converter():
        return convert_variables_to_constants_v2(serve.get_concrete_function())


def convert_tflite(function: Any, precision: str, representative: np.ndarray | None = None) -> bytes:
    """Convert a frozen function (see `frozen_function`) to a TFLite flatbuffer.

    Args:
        function: frozen concrete function of the classifier.
        precision: int8 | float16 | dynamic | float32 (aliases accepted).
        representative: uint8 or float32 images (N, H, W, 3), raw 0..255, for int8 calibration.
    Returns:
        The flatbuffer bytes, without metadata.
    """
    import tensorflow as tf

    precision = precision_name(precision)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function])
    if precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif precision == "int8":
        if representative is None or len(representative) == 0:
            raise UserError("int8 needs representative images to calibrate on",
                            hint="pass --data DIR (the training images), or choose --quantize fp16|dynamic|none")
        samples = np.asarray(representative, dtype=np.float32)

        def calibration_data() -> Iterator[list[np.ndarray]]:
            for image in samples:
                yield [image[None]]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = calibration_data
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    with _quiet_converter():
        flatbuffer = converter.convert()
    if precision == "int8":
        flatbuffer = pin_raw_pixel_input(flatbuffer)
    return bytes(flatbuffer)


def pin_raw_pixel_input(flatbuffer: bytes) -> bytes:
    """Set the uint8 input tensor's quantization to scale 1, zero point 0 (raw pixels).

    Calibration picks the input's scale from the pixel range it saw: 255/255 = 1 when the
    images reach 0 and 255, slightly less otherwise. The converter puts a QUANTIZE op after
    the uint8 input that requantizes into the int8 graph's calibrated scale; pinning the input
    to (1, 0) keeps that op exact, so every model takes camera bytes unchanged. The floats are
    edited in place in the flatbuffer: nothing else moves.
    """
    from tensorflow_lite_support.metadata import schema_py_generated as schema

    buf = bytearray(flatbuffer)
    model = schema.Model.GetRootAsModel(buf, 0)
    graph = model.Subgraphs(0)
    for k in range(graph.InputsLength()):
        tensor = graph.Tensors(graph.Inputs(k))
        quant = tensor.Quantization()
        if tensor.Type() != schema.TensorType.UINT8 or quant is None or quant.ScaleLength() != 1:
            raise RuntimeError("int8 conversion did not give a per-tensor quantized uint8 input")
        scale = quant.ScaleAsNumpy()  # views into `buf`: writing them edits the model
        zero_point = quant.ZeroPointAsNumpy()
        scale[0] = 1.0
        zero_point[0] = 0
    return bytes(buf)


def tensor_facts(flatbuffer: bytes) -> dict[str, Any]:
    """Input/output shape, dtype and quantization of a TFLite model, as LiteRT reports them."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    return {
        "input_shape": [int(d) for d in inp["shape"]],
        "input_dtype": np.dtype(inp["dtype"]).name,
        "input_quantization": _quantization(inp),
        "output_shape": [int(d) for d in out["shape"]],
        "output_dtype": np.dtype(out["dtype"]).name,
        "output_quantization": _quantization(out),
    }


def _quantization(detail: dict[str, Any]) -> dict[str, float] | None:
    scale, zero_point = detail["quantization"]
    if np.dtype(detail["dtype"]).kind == "f" or scale == 0:
        return None
    return {"scale": float(scale), "zero_point": int(zero_point)}


def representative_images(data_dir: str | os.PathLike[str], data_cfg: DataConfig, input_size: tuple[int, int],
                          count: int, *, classes: Sequence[str] | None = None) -> np.ndarray:
    """Up to `count` training images, stratified over the classes, as uint8 (N, H, W, 3).

    Args:
        data_dir: the data folder (class sub-folders, or train/val/test).
        data_cfg: split fractions and seed: the same training split training used.
        input_size: (height, width) of the model.
        count: how many images (all training images when there are fewer).
        classes: when given, the folder's classes must be these labels.
    """
    from flowers_mobile.data.sources import load_dataset, stratified_sample
    from flowers_mobile.images import load_image

    dataset = load_dataset(Path(data_dir), data_cfg)
    if classes is not None:
        check_data_classes(dataset.classes, list(classes), str(data_dir))
    picked = stratified_sample(dataset.train, count, data_cfg.seed)
    if not picked:
        raise UserError(f"{data_dir}: no training images to calibrate int8 on")
    h, w = input_size
    return np.stack([load_image(s.path, (w, h)) for s in picked])


def check_data_classes(data_classes: list[str], labels: list[str], where: str) -> None:
    """The data folder's classes must be the model's labels (as sets: folders are sorted by name)."""
    missing = [c for c in labels if c not in set(data_classes)]
    extra = [c for c in data_classes if c not in set(labels)]
    if missing or extra:
        parts = []
        if extra:
            parts.append(f"classes not in the labels: {', '.join(extra[:5])}")
        if missing:
            parts.append(f"labels without a class folder: {', '.join(missing[:5])}")
        raise UserError(f"--data {where} does not match the labels ({'; '.join(parts)})",
                        hint="pass the data folder the model was trained on")
