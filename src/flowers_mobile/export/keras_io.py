"""Load any Keras image classifier for export, check that it is one, and fit it to the raw-pixel contract.

Every export takes raw RGB pixels, 0..255, as float32 (N, H, W, 3) (docs/artifact-contract.md). Our own models
scale inside the graph; a foreign model that expects normalized input is wrapped here with a
`Rescaling` layer in front (`--normalize`), so its exports take raw pixels too.

    model = load_keras_model("model.keras")
    info = validate_classifier(model, where="model.keras")
    model = wrap_normalization(model, parse_normalize("imagenet"))
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from flowers_mobile.errors import UserError
from flowers_mobile.keras_file import load_keras_model

NORMALIZE_NAMES = ("none", "mobilenet", "imagenet")
NORMALIZE_HINT = "use --normalize none|mobilenet|imagenet|SCALE,OFFSET (e.g. 0.00392157,0)"

# ImageNet statistics on the 0..1 scale (torchvision / keras "torch" preprocessing).
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Normalization:
    """y = x * scale + offset, per channel (one value each applies to all three)."""

    name: str
    scale: tuple[float, ...]
    offset: tuple[float, ...]

    def describe(self) -> str:
        def fmt(values: tuple[float, ...]) -> str:
            return f"{values[0]:g}" if len(set(values)) == 1 else "(" + ", ".join(f"{v:g}" for v in values) + ")"

        return f"{self.name}: x * {fmt(self.scale)} + {fmt(self.offset)}"


@dataclass(frozen=True)
class ClassifierInfo:
    """What the exporters need to know about a validated classifier."""

    input_size: tuple[int, int]  # (height, width)
    num_classes: int
    #: How the softmax-like output was recognised: "activation" or "outputs sum to 1".
    softmax_check: str


def parse_normalize(spec: str | None) -> Normalization | None:
    """Parse `--normalize`: none, mobilenet ([-1, 1]), imagenet (per-channel mean/std) or SCALE,OFFSET.

    Returns:
        None for "none" (the model already takes raw pixels), else the affine map to put in front.
    """
    text = (spec or "none").strip().lower()
    if text == "none":
        return None
    if text == "mobilenet":
        return Normalization("mobilenet", (1 / 127.5,) * 3, (-1.0,) * 3)
    if text == "imagenet":
        scale = tuple(1.0 / (255.0 * s) for s in _IMAGENET_STD)
        offset = tuple(-m / s for m, s in zip(_IMAGENET_MEAN, _IMAGENET_STD, strict=True))
        return Normalization("imagenet", scale, offset)
    parts = text.split(",")
    if len(parts) == 2:
        try:
            scale, offset = float(parts[0]), float(parts[1])
        except ValueError:
            pass
        else:
            if not np.isfinite([scale, offset]).all() or scale == 0:
                raise UserError(f"--normalize {spec}: scale must be finite and non-zero, offset finite",
                                hint=NORMALIZE_HINT)
            return Normalization("custom", (scale,) * 3, (offset,) * 3)
    raise UserError(f"--normalize {spec!r} is not understood", hint=NORMALIZE_HINT)


def validate_classifier(model: Any, where: str = "model") -> ClassifierInfo:
    """Check that `model` is an image classifier: one (N, H, W, 3) input, one (N, classes) softmax output.

    Args:
        model: a loaded keras.Model.
        where: name used in error messages (the model's path).
    Returns:
        Its input size and class count.
    Raises:
        UserError: wrong ranks, unknown input size, fewer than 2 classes, or outputs that are
            not probabilities.
    """
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UserError(f"{where}: expected one input and one output, got {len(model.inputs)} input(s) and "
                        f"{len(model.outputs)} output(s)", hint="export a single-input image classifier")
    in_shape = tuple(model.inputs[0].shape)
    out_shape = tuple(model.outputs[0].shape)
    if len(in_shape) != 4 or in_shape[-1] != 3:
        raise UserError(f"{where}: input shape {_shape(in_shape)} is not an RGB image batch (N, H, W, 3)",
                        hint="only image classifiers with 3-channel input can be exported")
    if in_shape[1] is None or in_shape[2] is None:
        raise UserError(f"{where}: input shape {_shape(in_shape)} has no fixed height and width",
                        hint="rebuild the model with keras.Input(shape=(H, W, 3))")
    if len(out_shape) != 2 or out_shape[1] is None:
        raise UserError(f"{where}: output shape {_shape(out_shape)} is not (N, classes)",
                        hint="the model must end in a Dense softmax layer over the classes")
    num_classes = int(out_shape[1])
    if num_classes < 2:
        raise UserError(f"{where}: {num_classes} output(s); a classifier needs at least 2 classes")
    size = (int(in_shape[1]), int(in_shape[2]))
    how = "activation" if _ends_in_softmax(model) else _check_outputs_sum_to_one(model, size, where)
    return ClassifierInfo(input_size=size, num_classes=num_classes, softmax_check=how)


def _shape(shape: tuple) -> str:
    return "(" + ", ".join("N" if i == 0 and d is None else str(d) for i, d in enumerate(shape)) + ")"


def _ends_in_softmax(model: Any) -> bool:
    """True when the layer producing the output applies softmax (looking inside nested models)."""
    import keras

    layer = model.layers[-1] if model.layers else None
    while isinstance(layer, keras.Model) and layer.layers:
        layer = layer.layers[-1]
    if layer is None:
        return False
    if isinstance(layer, keras.layers.Softmax):
        return True
    activation = getattr(layer, "activation", None)
    return activation is keras.activations.softmax or getattr(activation, "__name__", "") == "softmax"


def _check_outputs_sum_to_one(model: Any, size: tuple[int, int], where: str) -> str:
    """Fallback for softmax applied some other way: outputs on a few images must be probabilities."""
    h, w = size
    ramp = np.linspace(0, 255, h * w * 3, dtype=np.float32).reshape(h, w, 3)
    probe = np.stack([np.zeros((h, w, 3), np.float32), np.full((h, w, 3), 255, np.float32), ramp])
    out = np.asarray(model(probe, training=False), dtype=np.float64)
    sums = out.sum(axis=1)
    if not np.isfinite(out).all() or (out < -1e-6).any() or np.abs(sums - 1).max() > 1e-3:
        raise UserError(f"{where}: outputs do not look like probabilities (no softmax activation on the last "
                        f"layer, and rows sum to {', '.join(f'{s:.3g}' for s in sums)})",
                        hint="end the model in Dense(classes, activation='softmax')")
    return "outputs sum to 1"


def wrap_normalization(model: Any, norm: Normalization | None) -> Any:
    """Put `x * scale + offset` in front of `model`, so the result takes raw pixels 0..255.

    Returns `model` itself when `norm` is None.
    """
    if norm is None:
        return model
    import keras

    shape = tuple(model.inputs[0].shape[1:])
    inputs = keras.Input(shape=shape, dtype="float32", name="image")
    scale = norm.scale[0] if len(set(norm.scale)) == 1 else list(norm.scale)
    offset = norm.offset[0] if len(set(norm.offset)) == 1 else list(norm.offset)
    x = keras.layers.Rescaling(scale=scale, offset=offset, name=f"normalize_{norm.name}")(inputs)
    outputs = model(x, training=False)
    return keras.Model(inputs, outputs, name=f"{model.name}_raw_pixels")


def check_labels_match(labels: list[str], num_classes: int, labels_where: str, model_where: str) -> None:
    """Labels and model outputs must line up one to one."""
    if len(labels) != num_classes:
        raise UserError(f"{labels_where} has {len(labels)} labels but {model_where} has {num_classes} outputs",
                        hint="give the labels file the model was trained with (one label per output, in order)")


def load_classifier(path: str | os.PathLike[str], normalize: str | None = "none") -> tuple[Any, ClassifierInfo]:
    """Load, validate and wrap a classifier in one call: the model takes raw pixels afterwards."""
    norm = parse_normalize(normalize)  # parse first: a typo should not wait for TensorFlow
    model = load_keras_model(path)
    info = validate_classifier(model, where=str(path))
    return wrap_normalization(model, norm), info
