"""Limits derived from the model: how far a precision's own rounding moves *this* model's outputs.

A faithful export differs from Keras only by its precision's rounding, and how much that rounding
moves the probabilities depends on the model: a saturated toy classifier barely moves, a real
pretrained one moves 10-100x more. So each variant's faithfulness bound is measured, on the very
images being judged, from a *reference*: the Keras model itself with that precision's rounding
applied (nothing converted, nothing from the artifact):

=================  ==============================================================================
scheme             what is rounded in the Keras model (weights shared, graph unchanged)
=================  ==============================================================================
float16_weights    every weight rounded to float16 (TFLite float16 stores exactly that)
float16_compute    float16 weights and every layer's output rounded to float16 (Core ML float16)
int8_weights       conv / dense kernels per output channel to symmetric int8 (dynamic's weights)
int8_dynamic       int8_weights and every layer's output to 8 bits over that image's own range
                   (TFLite dynamic range quantizes activations per image at run time)
int8_static        int8_weights and every layer's output to uint8 over the range it spans on
                   the judged images (post-training int8 with its calibrated ranges); the
                   model's output on TFLite's fixed softmax grid (1/256 from 0, at most 255/256)
linear8            coreml_int8_weights and float16 compute (Core ML linear 8-bit weights)
paletteN           each kernel to 2**N levels at its quantiles, float16 compute
                   (coreml_int8_weights and paletteN leave kernels of fewer than 2048 elements
                   as they are: coremltools compresses only weights of 2048 elements or more)
=================  ==============================================================================

float32 (TFLite float32, SavedModel, Core ML float32) has no coarser rounding to emulate: its
difference is float32's own (folded batch norms, other summation orders). Its reference is the
float16_weights distance scaled by the ratio of the two unit roundoffs, 2**-24 / 2**-11: to first
order an output moves linearly with a small relative perturbation of the weights.

The bound on each faithfulness figure (mean total-variation distance, p99 of per-image max |Δp|)
is `parity.faithful_multiple` times the reference's distance to Keras, and never below the floors
`parity.min_mean_tv` / `parity.min_p99_abs_diff` (where a reference rounds to nothing, e.g. a
saturated model in float32, float32's output resolution is what is left). The reference emulates
more roundings than the converter applies (every layer's output, where TFLite fuses conv, batch
norm and activation into one op): an overestimate, by at most about sqrt(3) in the distance;
the multiple covers the rest, a different draw of the same rounding. docs/parity.md has the
figures of a real model and of the demo side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from flowers_mobile.judge.figures import distance

#: Unit roundoff of float32 over float16's: the float32 reference's scale on float16_weights.
FLOAT32_OVER_FLOAT16 = 2.0 ** -13
#: The scheme each `parity.limits` row is held to, and its one-line description.
SCHEMES: dict[str, str] = {
    "float32": "float32_scaled", "coreml_float32": "float32_scaled", "float16": "float16_weights",
    "coreml_float16": "float16_compute", "dynamic": "int8_dynamic", "int8": "int8_static",
    "int8_fallback": "int8_static", "linear8": "linear8", "palette6": "palette6", "palette4": "palette4",
}
#: coremltools' default weight_threshold: `linear_quantize_weights` and `palettize_weights` leave
#: smaller weights uncompressed (depthwise and squeeze-excite kernels, often). A reference that
#: compressed them too moved a 3-epoch MobileNetV3Small by mean TV 0.96 where its real linear8
#: package moved it by 0.013: a bound of 2.9, above any TV, that no defect could exceed.
COREML_MIN_WEIGHT_ELEMENTS = 2048
#: Batch through the model at once, at most: the models are called eagerly, each call costing a
#: Python dispatch per layer, so small images go in larger batches (`chunk_size`).
CHUNK = 32


def chunk_size(inputs: np.ndarray) -> int:
    """Images per eager call: about 2**19 input pixels (128 at 64 px, 56 at 96 px, CHUNK from
    128 px up). At 64 px, 128 per call judges twice as fast as 32; at 160 px, 128 per call
    nearly tripled the peak memory of a MobileNetV2 1.0 (3 -> 8.7 GB) for a small gain."""
    pixels = int(np.prod(inputs.shape[1:3])) if inputs.ndim == 4 else 1
    return int(min(4 * CHUNK, max(CHUNK, 2 ** 19 // max(pixels, 1))))


def predict_eagerly(model: Any, inputs: np.ndarray) -> np.ndarray:
    """The model's float32 outputs on `inputs`, called eagerly in batches of `chunk_size`."""
    step = chunk_size(inputs)
    return np.concatenate([np.asarray(model(inputs[i:i + step], training=False), np.float32)
                           for i in range(0, len(inputs), step)])


@dataclass(frozen=True)
class Bounds:
    """A variant's faithfulness bounds and where they come from."""

    variant: str
    scheme: str
    #: The reference's distance to Keras on the judged images.
    reference_mean_tv: float
    reference_p99: float
    multiple: float
    mean_tv: float
    p99_abs_diff: float
    #: Which bounds a floor set ("mean_tv", "p99_abs_diff").
    floored: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """As JSON holds it (the floors as a list), so a manifest read back compares equal."""
        return {**asdict(self), "floored": list(self.floored)}


def normalize_pixels(images: np.ndarray, scale: tuple[float, ...] | None,
                     offset: tuple[float, ...] | None) -> np.ndarray:
    """Raw 0..255 pixels as the Keras model takes them (x * scale + offset per channel), float32."""
    x = np.asarray(images, np.float32)
    if scale is None:
        return x
    return x * np.asarray(scale, np.float32) + np.asarray(offset, np.float32)


def _kernels(model: Any) -> list[tuple[Any, tuple[int, ...]]]:
    """(kernel variable, axes reduced per output channel) of every conv / dense layer, nested
    models included: the weights int8 stores per output channel."""
    import keras

    out = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            out.append((layer.kernel, (0, 1)))  # (kh, kw, in, multiplier): one scale per in*multiplier
        elif isinstance(layer, keras.layers.SeparableConv2D):
            out += [(layer.depthwise_kernel, (0, 1)), (layer.pointwise_kernel, (0, 1, 2))]
        elif isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.Dense)):
            out.append((layer.kernel, tuple(range(len(layer.kernel.shape) - 1))))
    return out


def _round_int8(w: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    scale = np.abs(w).max(axis=axes, keepdims=True) / 127.0
    scale = np.where(scale == 0, 1.0, scale)
    return (np.clip(np.round(w / scale), -127, 127) * scale).astype(w.dtype)


def _palettize(w: np.ndarray, bits: int) -> np.ndarray:
    """Each value to the nearest of 2**bits levels set at the tensor's quantiles (k-means' usual start)."""
    k = 2 ** bits
    levels = np.unique(np.quantile(w, (np.arange(k) + 0.5) / k))
    if levels.size < 2:
        return w
    edges = (levels[1:] + levels[:-1]) / 2
    return levels[np.searchsorted(edges, w)].astype(w.dtype)


class References:
    """The Keras model with each precision's rounding applied, run on the judged images (lazily,
    once per scheme), and the derived bounds of each variant.

    Args:
        load_model: returns the Keras model, called once, when a scheme first needs it and no
            `model` was given (each scheme rounds its weights in place; they are restored from a
            copy before the next).
        inputs: the judged images as the model takes them (`normalize_pixels`), float32.
        reference: Keras's probabilities on them.
    """

    def __init__(self, load_model: Callable[[], Any], inputs: np.ndarray, reference: np.ndarray,
                 model: Any = None, distances: dict[str, tuple[float, float]] | None = None) -> None:
        self._load, self.inputs, self.reference = load_model, inputs, reference
        #: scheme -> (mean TV, p99 max |Δp|) measured so far (given: shared with an earlier judge
        #: of the same model on the same images).
        self.distances: dict[str, tuple[float, float]] = {} if distances is None else distances
        self._loaded, self._weights = model, None

    def _fresh_model(self) -> Any:
        """The Keras model with its own weights: loaded once (about 1.7 s a load), then its weights
        restored from a copy before each scheme rounds them in place."""
        if self._loaded is None:
            self._loaded = self._load()
        if self._weights is None:
            self._weights = [np.array(var.numpy(), copy=True) for var in self._loaded.weights]
        else:
            for var, value in zip(self._loaded.weights, self._weights, strict=True):
                var.assign(value)
        return self._loaded

    def bounds(self, variant: str, multiple: float, min_mean_tv: float, min_p99: float) -> Bounds:
        """The faithfulness bounds of a `parity.limits` row (`SCHEMES`)."""
        scheme = SCHEMES.get(variant, "float32_scaled")
        tv, p99 = self.distance(scheme)
        floored = []
        mean_bound, p99_bound = multiple * tv, multiple * p99
        if mean_bound < min_mean_tv:
            mean_bound = min_mean_tv
            floored.append("mean_tv")
        if p99_bound < min_p99:
            p99_bound = min_p99
            floored.append("p99_abs_diff")
        return Bounds(variant, scheme, tv, p99, multiple, mean_bound, p99_bound, tuple(floored))

    def distance(self, scheme: str) -> tuple[float, float]:
        """(mean TV, p99 max |Δp|) of the scheme's reference to Keras."""
        if scheme == "float32_scaled":
            tv, p99 = self.distance("float16_weights")
            return tv * FLOAT32_OVER_FLOAT16, p99 * FLOAT32_OVER_FLOAT16
        if scheme == "linear8":  # int8 weights and float16 compute: the two roundings' distances add
            a, b = self.distance("coreml_int8_weights"), self.distance("float16_compute")
            return a[0] + b[0], a[1] + b[1]
        if scheme not in self.distances:
            self.distances[scheme] = distance(self.reference, self._run(scheme))
        return self.distances[scheme]

    def _run(self, scheme: str) -> np.ndarray:
        model = self._fresh_model()
        if scheme.startswith("float16") or scheme.startswith("palette"):
            for var in model.weights:
                value = np.asarray(var.numpy())
                if (scheme.startswith("palette") and value.size >= COREML_MIN_WEIGHT_ELEMENTS
                        and any(var is k for k, _ in _kernels(model))):
                    value = _palettize(value, int(scheme[len("palette"):]))
                var.assign(value.astype(np.float16).astype(value.dtype))
        if scheme.startswith("int8") or scheme == "coreml_int8_weights":
            for var, axes in _kernels(model):
                value = np.asarray(var.numpy())
                if scheme.startswith("int8") or value.size >= COREML_MIN_WEIGHT_ELEMENTS:
                    var.assign(_round_int8(value, axes))
        if scheme in ("float16_weights", "int8_weights", "coreml_int8_weights"):
            return self._predict(model)
        if scheme in ("float16_compute",) or scheme.startswith("palette"):
            return self._predict(_wrapped(model, _to_float16))
        if scheme == "int8_dynamic":
            return self._predict(_wrapped(model, _per_image_uint8))
        ranges = self._ranges(model)  # int8_static
        output = model.layers[-1].name

        def static(name: str, y: Any) -> Any:
            if name == output:  # an int8 softmax output is fixed: steps of 1/256 from 0, at most 255/256
                return _uint8(y, 0.0, 255.0 / 256.0)
            return _fixed_uint8(y, *ranges.get(name, (None, None)))

        return self._predict(_wrapped(model, static))

    def _ranges(self, model: Any) -> dict[str, tuple[float, float]]:
        """Each layer output's (min, max) over the judged images: the ranges int8 calibrates."""
        ranges: dict[str, tuple[float, float]] = {}

        def record(name: str, y: Any) -> Any:
            value = np.asarray(y)
            lo, hi = ranges.get(name, (np.inf, -np.inf))
            ranges[name] = (min(lo, float(value.min())), max(hi, float(value.max())))
            return y

        self._predict(_wrapped(model, record))
        return ranges

    def _predict(self, model: Any) -> np.ndarray:
        return predict_eagerly(model, self.inputs)


#: Layers a converter fuses into the op before them (conv + batch norm + activation is one op):
#: the output of a layer whose consumers are all of these is never stored, so never rounded.
_FUSED = ("BatchNormalization", "ReLU", "Activation", "LeakyReLU", "PReLU", "ELU")


def _quantizable(layer: Any, y: Any) -> bool:
    """A layer whose output a converter stores in the precision: not the input, not a nested model
    (its own layers are), not dropout (gone at inference), not one fused into its consumers, and
    only float tensors."""
    import keras

    if isinstance(layer, (keras.layers.InputLayer, keras.layers.Dropout, keras.Model)):
        return False
    # The model is wrapped once per scheme with its layers shared, so a layer's outbound nodes
    # also hold the rounding layers of earlier wraps: those are not the model's consumers.
    consumers = [type(node.operation).__name__ for node in getattr(layer, "_outbound_nodes", [])
                 if not getattr(node.operation, "is_reference_rounding", False)]
    if consumers and all(name in _FUSED for name in consumers):
        return False
    return not isinstance(y, (list, tuple, dict)) and "float" in str(getattr(y, "dtype", ""))


def _wrapped(model: Any, rounding: Callable[[str, Any], Any]) -> Any:
    """The model with `rounding(layer name, output)` applied to every quantizable layer's output.

    The rounding runs in a layer of its own, called eagerly (the model is called, never traced),
    so that it may also record what it sees (`References._ranges`)."""
    import keras

    class Rounding(keras.layers.Layer):
        is_reference_rounding = True

        def __init__(self, key: str) -> None:
            super().__init__(name=f"{key}_rounding")
            self.key = key

        def call(self, y: Any) -> Any:
            return rounding(self.key, y)

        def compute_output_shape(self, shape: Any) -> Any:
            return shape

    def call(layer: Any, *args: Any, **kwargs: Any) -> Any:
        y = layer(*args, **kwargs)
        return Rounding(layer.name)(y) if _quantizable(layer, y) else y

    return keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call, recursive=True)


def _to_float16(_name: str, y: Any) -> Any:
    from keras import ops

    return ops.cast(ops.cast(y, "float16"), y.dtype)


def _uint8(y: Any, lo: Any, hi: Any) -> Any:
    """y rounded to 256 levels over [lo, hi] (widened to hold 0, as TFLite's zero point needs)."""
    from keras import ops

    lo, hi = ops.minimum(lo, 0.0), ops.maximum(hi, 0.0)
    scale = ops.maximum((hi - lo) / 255.0, 1e-12)
    return ops.clip(ops.round((y - lo) / scale), 0.0, 255.0) * scale + lo


def _per_image_uint8(_name: str, y: Any) -> Any:
    from keras import ops

    axes = tuple(range(1, len(y.shape)))
    return _uint8(y, ops.min(y, axis=axes, keepdims=True), ops.max(y, axis=axes, keepdims=True))


def _fixed_uint8(y: Any, lo: float | None, hi: float | None) -> Any:
    return y if lo is None or hi is None else _uint8(y, lo, hi)
