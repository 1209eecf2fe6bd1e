"""The backbones `model.backbone` chooses from, and every fact about each in one place.

Like MediaPipe Model Maker's model_spec: per backbone, its keras.applications constructor, the
preprocessing it expects, its natural input size (the default when `model.input_size` is not
set), the smallest input it accepts, and whether it has a width multiplier (`model.alpha`).

Preprocessing always lives inside the graph, so every export takes raw RGB 0..255 (the
project's raw-pixel contract, docs/artifact-contract.md). Three kinds (docs/backbones.md):

- ``tf``: x / 127.5 - 1, one `Rescaling` layer in front of the backbone (MobileNetV2, Xception).
- ``caffe``: RGB -> BGR, then the ImageNet mean subtracted per channel, no scaling (VGG). Both
  are one fixed, non-trainable 1x1 convolution (a permutation kernel and a bias of minus the
  mean): a Conv2D is an op every exporter and runtime has (TFLite, Core ML, the project's Core
  ML executor), where a channel gather or a reversed slice is not.
- ``builtin``: the keras.applications model starts with its own `Rescaling` (MobileNetV3:
  to [-1, 1]; EfficientNet and EfficientNetV2: to [0, 1] then a per-channel `Normalization`), so
  it takes 0..255 as it is and nothing goes in front.

This module imports no TensorFlow at import time (config.py reads `names()`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from flowers_mobile.errors import UserError

DEFAULT = "mobilenet_v2"

Preprocessing = Literal["tf", "caffe", "builtin"]

#: caffe mode's per-channel ImageNet mean, in BGR order (keras.applications.imagenet_utils).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

#: Layer names in front of the backbone, per preprocessing kind. `to_minus1_1` is the name every
#: MobileNetV2 model of this project already has (its saved models and artifacts stay the same).
PREPROCESS_LAYER = {"tf": "to_minus1_1", "caffe": "to_bgr_minus_mean"}


@dataclass(frozen=True)
class Backbone:
    """One entry of the catalogue."""

    name: str  # the value of model.backbone
    keras_constructor: str  # keras.applications.<this>
    preprocess_module: str  # keras.applications.<this>.preprocess_input is the reference
    preprocessing: Preprocessing
    natural_size: int  # the ImageNet training size: the default model.input_size
    min_size: int  # keras.applications refuses smaller inputs (or the feature map vanishes)
    width_multiplier: bool  # takes model.alpha
    #: Activations and blocks that matter for int8 (docs/backbones.md says what is known).
    activations: str

    def constructor(self) -> Any:
        import keras

        return getattr(keras.applications, self.keras_constructor)


CATALOGUE: dict[str, Backbone] = {b.name: b for b in (
    Backbone("mobilenet_v2", "MobileNetV2", "mobilenet_v2", "tf", 224, 32, True, "ReLU6"),
    Backbone("mobilenet_v3_small", "MobileNetV3Small", "mobilenet_v3", "builtin", 224, 32, True,
             "hard-swish, ReLU, squeeze-excite (hard-sigmoid gate)"),
    Backbone("mobilenet_v3_large", "MobileNetV3Large", "mobilenet_v3", "builtin", 224, 32, True,
             "hard-swish, ReLU, squeeze-excite (hard-sigmoid gate)"),
    Backbone("efficientnet_b0", "EfficientNetB0", "efficientnet", "builtin", 224, 32, False,
             "swish (SiLU), squeeze-excite (sigmoid gate)"),
    Backbone("efficientnet_v2_b0", "EfficientNetV2B0", "efficientnet_v2", "builtin", 224, 32, False,
             "swish (SiLU); fused-MBConv early, squeeze-excite (sigmoid gate) late"),
    Backbone("vgg16", "VGG16", "vgg16", "caffe", 224, 32, False, "ReLU, max-pooling"),
    Backbone("vgg19", "VGG19", "vgg19", "caffe", 224, 32, False, "ReLU, max-pooling"),
    Backbone("xception", "Xception", "xception", "tf", 299, 71, False, "ReLU, separable convs, max-pooling"),
)}


def names() -> list[str]:
    return list(CATALOGUE)


def get(name: str) -> Backbone:
    """The catalogue entry for `name`; an unknown name is a one-line `UserError` listing the known ones."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise UserError(f"model.backbone = {name!r} is unknown; known: {', '.join(CATALOGUE)}",
                        hint="e.g. --set model.backbone=mobilenet_v3_small") from None


def description(name: str) -> str:
    """The export description of a model with backbone `name` (TFLite metadata, Core ML
    shortDescription), e.g. "EfficientNetB0 flower classifier (transfer learning), by flowers-mobile."."""
    return f"{get(name).keras_constructor} flower classifier (transfer learning), by flowers-mobile."


#: Per backbone: layer names keras.applications gives it (present) and those of its larger
#: siblings (absent: EfficientNetB1 has block6e and block7b, EfficientNetV2B1 block6i,
#: MobileNetV3Large expanded_conv_11 and up). Names, not counts, so they hold at any input size
#: and alpha; tests/test_backbones.py checks each against a built model.
_SIGNATURES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "mobilenet_v2": (("block_16_project", "out_relu"), ("block_17_project",)),
    "mobilenet_v3_small": (("expanded_conv_10_project",), ("expanded_conv_11_project",)),
    "mobilenet_v3_large": (("expanded_conv_14_project",), ("expanded_conv_15_project",)),
    "efficientnet_b0": (("block6d_project_conv", "block7a_project_conv"),
                        ("block6e_project_conv", "block7b_project_conv")),
    "efficientnet_v2_b0": (("block6h_project_conv",), ("block6i_project_conv", "block7a_project_conv")),
    "vgg16": (("block5_conv3",), ("block5_conv4",)),
    "vgg19": (("block5_conv4",), ()),
    "xception": (("block14_sepconv2",), ()),
}


def identify(model: Any) -> str | None:
    """The catalogue backbone inside a Keras model (nested or not), from its layer names; None
    when none or more than one matches (a model made elsewhere of another architecture)."""
    names: set[str] = set()
    stack = [model]
    while stack:
        layer = stack.pop()
        names.add(layer.name)
        stack.extend(getattr(layer, "layers", ()))
    found = [name for name, (present, absent) in _SIGNATURES.items()
             if all(n in names for n in present) and not any(n in names for n in absent)]
    return found[0] if len(found) == 1 else None


def check(name: str, input_size: int, alpha: float) -> None:
    """Refuse a size or a width multiplier this backbone cannot take (one line each)."""
    spec = get(name)
    if input_size < spec.min_size:
        raise UserError(f"model.input_size = {input_size} is below {name}'s minimum of {spec.min_size} px",
                        hint=f"give --set model.input_size={spec.min_size} or more (its natural size is "
                             f"{spec.natural_size})")
    if alpha != 1.0 and not spec.width_multiplier:
        raise UserError(f"model.alpha = {alpha:g}, but {name} has no width multiplier (only the "
                        f"mobilenet_* backbones do)", hint="set model.alpha=1.0")


def preprocessing_layers(spec: Backbone) -> list[Any]:
    """Fresh layers that take raw 0..255 RGB to what `spec`'s backbone expects (none for ``builtin``).

    The caffe convolution is built and filled here, and frozen: it is preprocessing, not a
    parameter, so no phase trains it and the fine-tune fraction does not count it.
    """
    import keras
    import numpy as np

    if spec.preprocessing == "builtin":
        return []
    if spec.preprocessing == "tf":
        return [keras.layers.Rescaling(scale=1.0 / 127.5, offset=-1.0, name=PREPROCESS_LAYER["tf"])]
    conv = keras.layers.Conv2D(3, 1, use_bias=True, trainable=False, name=PREPROCESS_LAYER["caffe"])
    conv.build((None, None, None, 3))
    kernel = np.zeros((1, 1, 3, 3), np.float32)
    for out_channel in range(3):  # output channel j (B, G, R) is input channel 2 - j (R, G, B)
        kernel[0, 0, 2 - out_channel, out_channel] = 1.0
    conv.set_weights([kernel, -np.asarray(CAFFE_MEAN_BGR, np.float32)])
    return [conv]


def reference_preprocess(spec: Backbone, images: Any) -> Any:
    """keras.applications' own `preprocess_input` for `spec` (identity for ``builtin``): what the
    in-graph preprocessing must equal (tests/test_backbones.py)."""
    import importlib

    module = importlib.import_module(f"keras.applications.{spec.preprocess_module}")
    return module.preprocess_input(images.copy())


def build(spec: Backbone, input_size: int, alpha: float, weights: str | None) -> Any:
    """`spec`'s keras.applications model without its top, named "backbone", taking what
    `preprocessing_layers` produce (0..255 for ``builtin``). Raises what keras raises."""
    import keras

    kwargs: dict[str, Any] = {"input_shape": (input_size, input_size, 3), "include_top": False,
                              "weights": weights, "pooling": None}
    if spec.width_multiplier:
        kwargs["alpha"] = alpha
    if spec.preprocess_module == "efficientnet_v2":
        # EfficientNetV2 looks its block table up by `name`: build it under its own name, then
        # give the same layers the stable name in a functional wrapper.
        model = spec.constructor()(**kwargs)
        return keras.Model(model.input, model.output, name="backbone")
    return spec.constructor()(**kwargs, name="backbone")


def finetune_layers(backbone: Any) -> list[Any]:
    """The backbone layers `training.finetune_fraction` counts: those with weights, less the
    backbone's own preprocessing (EfficientNet's `Normalization` holds statistics, no parameter)."""
    import keras

    return [layer for layer in backbone.layers
            if layer.weights and not isinstance(layer, keras.layers.Normalization)]
