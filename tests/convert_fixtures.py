"""Builders for the convert / TFLite tests: a small trained classifier and its export, built once.

Each builder writes into a fixed folder under the session's base temp folder and returns at
once when that folder is complete, so test modules share one build per session.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

INPUT_SIZE = 48
EPOCHS = 16


def build_trained_run(out: Path, data_dir: Path) -> Path:
    """model.keras + labels.txt: MobileNetV2 alpha 0.35 at 48 px (weights none), trained with `keras fit`.

    The classifier has the project's shape (raw pixels -> Rescaling -> MobileNetV2 "backbone" ->
    "pool" -> softmax "probabilities"), but its BatchNorm layers train (from scratch they must;
    momentum 0.9 so the moving statistics settle in the ~200 steps this takes). Most of the cost
    (about a minute on 2 cores) is compiling the training step, so 16 epochs cost little more
    than 4; the result fits the training images well and agrees with its int8 export on most
    test images, which an untrained or closed-form model does not.
    """
    if (out / "model.keras").is_file():
        return out
    import keras

    from flowers_mobile.data.pipeline import load_arrays
    from flowers_mobile.data.sources import load_dataset
    from flowers_mobile.labels import write_labels

    dataset = load_dataset(data_dir)
    x, y = load_arrays(dataset.train, INPUT_SIZE)
    keras.utils.set_random_seed(0)
    shape = (INPUT_SIZE, INPUT_SIZE, 3)
    inputs = keras.Input(shape=shape, dtype="float32", name="image")
    h = keras.layers.Rescaling(1.0 / 127.5, -1.0, name="to_minus1_1")(inputs)
    backbone = keras.applications.MobileNetV2(input_shape=shape, alpha=0.35, include_top=False, weights=None,
                                              name="backbone")
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    h = keras.layers.GlobalAveragePooling2D(name="pool")(backbone(h))
    outputs = keras.layers.Dense(len(dataset.classes), activation="softmax", name="probabilities")(h)
    model = keras.Model(inputs, outputs, name="flowers_classifier")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  jit_compile=False)
    model.fit(x.astype(np.float32), y, epochs=EPOCHS, batch_size=16, shuffle=True, verbose=0)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save(tmp / "model.keras")
    write_labels(tmp / "labels.txt", dataset.classes)
    tmp.rename(out)
    return out


def build_export(out: Path, run_dir: Path, data_dir: Path) -> Path:
    """The export the TFLite tests read: all four precisions and a SavedModel, via `convert` (once)."""
    if (out / "manifest.json").is_file():
        return out
    from flowers_mobile.config import Config
    from flowers_mobile.export.convert import convert

    convert(run_dir / "model.keras", out, Config(), targets=("tflite", "saved_model"), data_dir=data_dir,
            progress=False)
    return out


def sample_test_images(data_dir: Path, count: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Up to `count` test-split images (uint8, INPUT_SIZE) and their labels, spread over the classes."""
    from flowers_mobile.data.pipeline import load_arrays
    from flowers_mobile.data.sources import load_dataset, stratified_sample

    dataset = load_dataset(data_dir)
    return load_arrays(stratified_sample(dataset.test, count, seed=1), INPUT_SIZE)


def shared_or_built_run(request, tmp_path_factory, data_dir: Path) -> Path:
    """The suite's shared trained model (conftest `trained_model_dir`) when there is one trained on
    `data_dir`'s classes, else `build_trained_run` (built once per session)."""
    import pytest

    from flowers_mobile.data.sources import load_dataset
    from flowers_mobile.labels import read_labels

    try:
        shared = Path(request.getfixturevalue("trained_model_dir"))
        if (shared / "model.keras").is_file() and \
                read_labels(shared / "labels.txt") == load_dataset(data_dir).classes:
            return shared
    except pytest.FixtureLookupError:
        pass
    return build_trained_run(tmp_path_factory.getbasetemp() / "convert_run", data_dir)


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
