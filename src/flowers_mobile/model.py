"""The classifier: raw RGB 0..255 in, MobileNetV2 backbone, pooling, dropout, softmax out.

Preprocessing lives in the graph (a `Rescaling` layer to MobileNetV2's [-1, 1]), so every
export takes raw pixels and no app re-implements normalization (DESIGN.md).
"""

from __future__ import annotations

import os
from pathlib import Path

from flowers_mobile.config import ModelConfig
from flowers_mobile.errors import UserError

BACKBONE_NAME = "backbone"
IMAGENET_HINT = ("use --set model.weights=none (train from scratch) or "
                 "--set model.weights=PATH (a local MobileNetV2 no-top weights file)")


def resolve_weights(weights: str) -> str | None:
    """Map the config's weights choice to what keras.applications takes ("imagenet", None, a path)."""
    if weights == "imagenet":
        return "imagenet"
    if weights.lower() == "none":
        return None
    path = Path(weights).expanduser()
    if not path.is_file():
        raise UserError(f"model.weights: weights file not found: {path}",
                        hint="give 'imagenet', 'none' or the path of a MobileNetV2 no-top weights file")
    return os.fspath(path)


def build_backbone(cfg: ModelConfig):
    """MobileNetV2 without its top, for (input_size, input_size, 3) inputs in [-1, 1]."""
    import keras

    weights = resolve_weights(cfg.weights)
    shape = (cfg.input_size, cfg.input_size, 3)
    try:
        backbone = keras.applications.MobileNetV2(input_shape=shape, alpha=cfg.alpha, include_top=False,
                                                  weights=weights, pooling=None)
    except ValueError as exc:  # keras rejects alpha/size combinations it has no ImageNet weights for
        raise UserError(f"model: {exc}", hint=IMAGENET_HINT if weights == "imagenet" else None) from exc
    except Exception as exc:
        if weights == "imagenet":
            raise UserError(f"could not download the ImageNet weights for MobileNetV2 ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); this machine looks offline",
                            hint=IMAGENET_HINT) from exc
        raise UserError(f"model.weights: cannot load {weights}: {exc}") from exc
    backbone._name = BACKBONE_NAME  # stable name: fine-tuning and tests find it by name
    return backbone


def build_classifier(cfg: ModelConfig, num_classes: int, backbone=None):
    """The full model: Input(uint8-range float32) -> Rescaling -> backbone -> GAP -> Dropout -> Dense softmax.

    Args:
        cfg: model section of the config (input size, alpha, weights, dropout).
        num_classes: size of the softmax head.
        backbone: an already-built backbone to reuse (e.g. the one whose features were cached).
    Returns:
        An uncompiled `keras.Model` named "flowers_classifier".
    """
    import keras

    if num_classes < 2:
        raise UserError(f"a classifier needs at least 2 classes, got {num_classes}")
    backbone = backbone if backbone is not None else build_backbone(cfg)
    inputs = keras.Input(shape=(cfg.input_size, cfg.input_size, 3), dtype="float32", name="image")
    x = keras.layers.Rescaling(scale=1.0 / 127.5, offset=-1.0, name="to_minus1_1")(inputs)
    x = backbone(x, training=False)  # BatchNorm stays in inference mode, also when fine-tuning
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(cfg.dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="flowers_classifier")
