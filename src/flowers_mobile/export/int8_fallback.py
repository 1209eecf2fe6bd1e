"""int8 with float fallback: the few layers that quantize worst stay in float, the rest is int8.

Post-training int8 of a pretrained MobileNetV2 can lose a quarter of its answers while the same
architecture trained from scratch loses none: a handful of layers (often the first depthwise
convolution, whose channels span very different ranges) carry most of the error. Which layers
is measured, not listed: TFLite's `QuantizationDebugger` runs the calibrated model with every
quantized op checked against its float result on the calibration images and reports, per
layer, the root-mean-square error in units of that layer's quantization step (RMSE / scale; 0.3
is what rounding alone gives). The worst layers are then kept in float one at a time, most
sensitive first, for as long as

- the model agrees with the float model on the calibration images less than its row of
  `parity.limits` asks (agreement with near-ties apart, as the judge counts it; a point estimate
  here, because this steers a search: the held-out images that judge the result, with intervals,
  are never used to steer it), and
- the file stays within `budget` times the plain int8 size (a float layer keeps float32 weights:
  a late 1x1 convolution can cost a megabyte, so a layer that would overrun the budget is
  skipped and the next one tried).

The result takes float32 raw pixels (like the float16 and dynamic models); its other layers are
int8 with per-channel weights, as plain int8.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: File-size budget over plain int8.
DEFAULT_BUDGET = 1.25
#: At most this many layers are tried (each try is one quantization pass).
MAX_TRIES = 12


@dataclass
class FallbackResult:
    flatbuffer: bytes
    float_layers: list[str]
    plain_bytes: int
    steps: list[dict[str, Any]] = field(default_factory=list)
    #: Layers by RMSE / scale, worst first (op type, name, value), as measured.
    sensitivity: list[dict[str, Any]] = field(default_factory=list)


def _dataset(images: np.ndarray):
    samples = np.asarray(images, dtype=np.float32)

    def gen() -> Iterator[list[np.ndarray]]:
        for image in samples:
            yield [image[None]]

    return gen


def predict(flatbuffer: bytes, images: np.ndarray) -> np.ndarray:
    """Probabilities of a TFLite model on raw-pixel images (LiteRT); a uint8 input takes the pixels
    as they are (its scale is pinned to 1, see `tflite.pin_raw_pixel_input`)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    probs = []
    for image in np.asarray(images, np.float32):
        interpreter.set_tensor(inp["index"], image[None].astype(inp["dtype"]))
        interpreter.invoke()
        raw = interpreter.get_tensor(out["index"]).astype(np.float32)
        if np.dtype(out["dtype"]).kind != "f":
            scale, zero_point = out["quantization"]
            raw = (raw - zero_point) * scale
        probs.append(raw[0])
    return np.stack(probs)


def layer_sensitivity(debugger: Any) -> list[dict[str, Any]]:
    """Run the debugger; its layers by RMSE / scale, worst first."""
    debugger.run()
    dump = io.StringIO()
    debugger.layer_statistics_dump(dump)
    dump.seek(0)
    rows = []
    for row in csv.DictReader(dump):
        scale = float(row["scale"])
        if scale > 0:
            rows.append({"op": row["op_name"], "tensor": row["tensor_name"],
                         "rmse_over_scale": float(np.sqrt(float(row["mean_squared_error"])) / scale)})
    return sorted(rows, key=lambda r: -r["rmse_over_scale"])


def convert_with_fallback(function: Any, representative: np.ndarray, limits: Any, *,
                          budget: float = DEFAULT_BUDGET, max_tries: int = MAX_TRIES) -> FallbackResult:
    """int8 of the frozen `function` with its most sensitive layers in float (see the module docstring).

    Args:
        function: the frozen classifier (`tflite.frozen_function`).
        representative: raw-pixel calibration images (N, H, W, 3); also the images that steer the choice.
        limits: the int8_fallback row of `parity.limits` (`VariantLimits`): stop once the calibration
            images agree with the float model at `min_agreement`, near-ties (`near_tie_margin`) apart.
        budget: largest file size allowed, as a multiple of the plain int8 size.
        max_tries: layers tried at most.
    """
    import tensorflow as tf

    from flowers_mobile.judge.figures import compare
    from flowers_mobile.tf_quiet import quiet_tf

    gen = _dataset(representative)
    with quiet_tf():
        float_model = tf.lite.TFLiteConverter.from_concrete_functions([function]).convert()
        converter = tf.lite.TFLiteConverter.from_concrete_functions([function])
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = gen
        debugger = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=gen)
        ranked = layer_sensitivity(debugger)
        plain = debugger.get_nondebug_quantized_model()
    reference = predict(float_model, representative)
    names = [f"calibration_{i}" for i in range(len(representative))]
    classes = [str(c) for c in range(reference.shape[1])]

    def figures(flatbuffer: bytes) -> dict[str, Any]:
        out = compare(reference, predict(flatbuffer, representative), None, classes, names, worst=0,
                      near_tie_margin=limits.near_tie_margin)
        return {k: out[k] for k in ("agreement", "top1_agreement", "max_abs_diff", "mean_tv")}

    def good(f: dict[str, Any]) -> bool:
        return f["agreement"] is None or f["agreement"] >= limits.min_agreement

    best, best_figures, chosen = plain, figures(plain), []
    result = FallbackResult(plain, [], len(plain), sensitivity=ranked)
    result.steps.append({"float_layers": 0, "bytes": len(plain), **_rounded(best_figures)})
    for row in ranked[:max_tries]:
        if good(best_figures):
            break
        trial = [*chosen, row["tensor"]]
        with quiet_tf():
            debugger.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=trial)
            candidate = debugger.get_nondebug_quantized_model()
        step = {"layer": _short(row["tensor"]), "op": row["op"], "rmse_over_scale": round(row["rmse_over_scale"], 3),
                "bytes": len(candidate)}
        if len(candidate) > budget * len(plain):
            result.steps.append({**step, "skipped": "over the size budget"})
            continue
        chosen = trial
        step_figures = figures(candidate)
        result.steps.append({**step, "float_layers": len(chosen), **_rounded(step_figures)})
        if step_figures["top1_agreement"] >= best_figures["top1_agreement"]:
            best, best_figures, result.float_layers = candidate, step_figures, list(chosen)
    result.flatbuffer = best
    result.float_layers = [_short(t) for t in result.float_layers]
    return result


def _rounded(f: dict[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in f.items()}


def _short(tensor: str) -> str:
    """A fused op's tensor name lists every TF op folded into it; the first names the layer."""
    return tensor.split(";")[0]
