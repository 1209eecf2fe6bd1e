"""Small stand-ins for the convert tests' bad-input and CLI cases: drawn shapes and a tiny
untrained classifier (the really trained model and its export are conftest's session fixtures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TINY_LABELS = ["red", "green", "blue"]
TINY_SIZE = 32


def draw_shapes(root: Path, per_class: int = 6, size: int = TINY_SIZE) -> Path:
    """root/<red|green|blue>/*.png: a filled shape of the class colour on a grey background."""
    from PIL import Image, ImageDraw

    colours = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}
    for ci, (name, colour) in enumerate(colours.items()):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            rng = np.random.default_rng([ci, i])
            img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(90, 160, 3)))
            x0, y0 = rng.integers(0, size // 2, 2)
            ImageDraw.Draw(img).ellipse([int(x0), int(y0), int(x0) + size // 2, int(y0) + size // 2], fill=colour)
            img.save(folder / f"{name}_{i}.png")
    return root


def tiny_classifier(*, softmax: bool = True, normalized_input: bool = False, classes: int = 3):
    """A small conv classifier (not MobileNetV2) as another project might ship one.

    Args:
        softmax: end in a softmax (else a linear Dense: logits, not a classifier for export).
        normalized_input: the model expects pixels / 255 (no Rescaling inside).
    """
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((TINY_SIZE, TINY_SIZE, 3))
    x = inputs if normalized_input else keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes, activation="softmax" if softmax else None)(x)
    return keras.Model(inputs, outputs)
