"""The classifier: raw RGB 0..255 in, a backbone (MobileNetV2 by default), pooling, dropout, softmax out.

Preprocessing lives in the graph (for MobileNetV2 a `Rescaling` layer to [-1, 1]; each
backbone's own in backbones.py), so every export takes raw pixels and no app re-implements
normalization (docs/artifact-contract.md, docs/backbones.md).
"""

from __future__ import annotations

import os
from pathlib import Path

from flowers_mobile import backbones
from flowers_mobile.config import ModelConfig
from flowers_mobile.errors import UserError, first_line

BACKBONE_NAME = "backbone"


def _imagenet_hint(keras_name: str) -> str:
    return ("use --set model.weights=none (train from scratch) or "
            f"--set model.weights=PATH (a local {keras_name} no-top weights file)")


def resolve_weights(weights: str, keras_name: str = "MobileNetV2") -> str | None:
    """Map the config's weights choice to what keras.applications takes ("imagenet", None, a path)."""
    if weights == "imagenet":
        return "imagenet"
    if weights.lower() == "none":
        return None
    path = Path(weights).expanduser()
    if not path.is_file():
        raise UserError(f"model.weights: weights file not found: {path}",
                        hint=f"give 'imagenet', 'none' or the path of a {keras_name} no-top weights file")
    return os.fspath(path)


def build_backbone(cfg: ModelConfig):
    """`cfg.backbone` without its top, for (input_size, input_size, 3) inputs preprocessed as it expects."""
    spec = backbones.get(cfg.backbone)
    size = cfg.size
    backbones.check(spec.name, size, cfg.alpha)
    weights = resolve_weights(cfg.weights, spec.keras_constructor)
    hint = _imagenet_hint(spec.keras_constructor)
    try:
        backbone = backbones.build(spec, size, cfg.alpha, weights)
    except ValueError as exc:  # keras rejects alpha/size combinations it has no ImageNet weights for
        raise UserError(f"model: {first_line(exc, 'no detail')}",
                        hint=hint if weights == "imagenet" else None) from exc
    except Exception as exc:
        if weights == "imagenet":
            raise UserError(f"could not download the ImageNet weights for {spec.keras_constructor} "
                            f"({type(exc).__name__}: {first_line(exc, 'no detail')}); this machine looks offline",
                            hint=hint) from exc
        raise UserError(f"model.weights: cannot load {weights}: {first_line(exc, 'no detail')}") from exc
    # The stable name (given above) is how fine-tuning and tests find it: `get_backbone`.
    return backbone


def build_classifier(cfg: ModelConfig, num_classes: int, backbone=None, *,
                     batchnorm_inference: bool | None = None):
    """The full model: Input(uint8-range float32) -> preprocessing -> backbone -> GAP -> Dropout -> Dense softmax.

    The preprocessing layers are the backbone's (backbones.py): MobileNetV2's is a `Rescaling`
    to [-1, 1] named "to_minus1_1", as it always was.

    Args:
        cfg: model section of the config (backbone, input size, alpha, weights, dropout).
        num_classes: size of the softmax head.
        backbone: an already-built backbone to reuse (e.g. the one whose features were cached).
        batchnorm_inference: call the backbone with ``training=False`` so that its BatchNorm layers
            always use their moving statistics (the fine-tuning rule for pretrained weights). None:
            True unless ``cfg.weights`` is "none" (see `batchnorm_mode`).
    Returns:
        An uncompiled `keras.Model` named "flowers_classifier".
    """
    import keras

    if num_classes < 2:
        raise UserError(f"a classifier needs at least 2 classes, got {num_classes}")
    if batchnorm_inference is None:
        batchnorm_inference = batchnorm_mode(cfg) == "frozen"
    backbone = backbone if backbone is not None else build_backbone(cfg)
    size = cfg.size
    inputs = keras.Input(shape=(size, size, 3), dtype="float32", name="image")
    x = inputs
    for layer in backbones.preprocessing_layers(backbones.get(cfg.backbone)):
        x = layer(x)
    # Pretrained: BatchNorm stays in inference mode, also when fine-tuning (small batches would
    # otherwise overwrite ImageNet statistics). From scratch the flag is left to fit/predict.
    x = backbone(x, training=False) if batchnorm_inference else backbone(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(cfg.dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="flowers_classifier")


#: BatchNorm momentum while training from scratch. MobileNetV2's own 0.999 needs thousands of
#: steps before the moving statistics describe the data; a small demo takes a few hundred, and
#: with 0.999 the validation accuracy stays at chance while the training accuracy climbs.
SCRATCH_BATCHNORM_MOMENTUM = 0.9


def batchnorm_mode(cfg: ModelConfig, requested: str = "auto") -> str:
    """Resolve ``training.batchnorm``: "frozen" (inference mode, statistics fixed) or "train".

    "auto" is "frozen" for pretrained weights (ImageNet or a file): their statistics are good
    and the classic fine-tuning trap is letting small batches overwrite them. It is "train" for
    ``weights=none``: a random backbone's statistics are the initial mean 0 / variance 1, which
    describe nothing, so freezing them would leave a 50-layer network without normalization.
    """
    if requested != "auto":
        return requested
    return "train" if cfg.weights.lower() == "none" else "frozen"


def get_backbone(model):
    """The backbone inside a classifier built by `build_classifier`."""
    return model.get_layer(BACKBONE_NAME)


def preprocess(model, images):
    """`images` (raw 0..255) through the classifier's layers in front of its backbone."""
    backbone = get_backbone(model)
    x = images
    for layer in model.layers:
        if layer is backbone:
            return x
        if not isinstance(layer, _input_layer_type()):
            x = layer(x)
    raise ValueError("the model has no layer named 'backbone'")


def _input_layer_type():
    import keras

    return keras.layers.InputLayer


def is_batchnorm(layer) -> bool:
    import keras

    return isinstance(layer, keras.layers.BatchNormalization)


def freeze_backbone(model) -> None:
    """Phase 1: nothing in the backbone trains (Keras runs frozen BatchNorm in inference mode)."""
    backbone = get_backbone(model)
    backbone.trainable = False


def unfreeze_top(model, fraction: float, *, freeze_batchnorm: bool = True) -> list[str]:
    """Phase 2: make the top `fraction` of the backbone's layers trainable, the rest frozen.

    Args:
        model: a classifier from `build_classifier`.
        fraction: 0..1 of the backbone's layers with weights (counted from the output end; the
            backbone's own preprocessing is not counted: `backbones.finetune_layers`) to train.
        freeze_batchnorm: keep BatchNorm layers frozen even inside the unfrozen part (their
            gamma/beta and moving statistics stay as they are); with pretrained weights this
            is the rule, from scratch they must learn.
    Returns:
        The names of the backbone layers that now have trainable weights.
    """
    if not 0.0 <= fraction <= 1.0:
        raise UserError(f"training.finetune_fraction = {fraction!r} is outside 0..1",
                        hint="give the fraction of backbone layers to fine-tune, e.g. 0.3")
    backbone = get_backbone(model)
    backbone.trainable = True
    layers = backbones.finetune_layers(backbone)
    n_train = int(round(fraction * len(layers)))
    first = len(layers) - n_train
    names = []
    for i, layer in enumerate(layers):
        layer.trainable = i >= first and not (freeze_batchnorm and is_batchnorm(layer))
        if layer.trainable:
            names.append(layer.name)
    return names


def set_batchnorm_momentum(model, momentum: float) -> None:
    for layer in get_backbone(model).layers:
        if is_batchnorm(layer):
            layer.momentum = momentum


def calibrate_batchnorm(model, images) -> None:
    """Set every backbone BatchNorm's moving statistics to those of `images` (one forward pass).

    For a random backbone (``weights=none``) the initial statistics (0 / 1) let activations
    fade layer after layer, so cached features are almost constant. One training-mode pass with
    momentum 0 makes each layer's statistics describe the data (a data-dependent init); only
    the moving statistics change, no weight does.

    Args:
        model: a classifier from `build_classifier`.
        images: float32 (N, H, W, 3) raw 0..255; a few hundred training images are enough.
    """
    backbone = get_backbone(model)
    # Setting `trainable` on a model cascades to its layers: remember every layer's own flag.
    trainable = [(layer, layer.trainable) for layer in [backbone, *backbone.layers]]
    momenta = [(layer, layer.momentum) for layer in backbone.layers if is_batchnorm(layer)]
    backbone.trainable = True  # a BatchNorm updates its statistics only when trainable
    for layer, _ in momenta:
        layer.momentum = 0.0
    try:
        backbone(preprocess(model, images), training=True)
    finally:
        for layer, momentum in momenta:
            layer.momentum = momentum
        for layer, flag in trainable:
            layer.trainable = flag
