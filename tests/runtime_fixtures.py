"""Builders for the parity / predict / benchmark tests: a tiny trained model and its export.

Stand-ins until tests/conftest.py provides the shared session fixtures (`trained_run_dir`,
`export_dir`). Each builder writes into a fixed folder under the session's base temp folder and
returns at once when that folder is complete, so several test modules share one build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

INPUT_SIZE = 48


def build_tiny_run(out: Path, data_dir: Path) -> Path:
    """model.keras + labels.txt: MobileNetV2 alpha 0.35 at 48 px on the synthetic data, made fast.

    No gradient steps (compiling MobileNetV2's training step alone takes tens of seconds on
    2 cores): one training-mode pass with BatchNorm momentum 0 sets the backbone's statistics
    from the data, then the softmax head is set in closed form to a nearest-class-mean
    classifier on the pooled features. A real, if weak, classifier whose outputs vary per image.
    """
    if (out / "model.keras").is_file():
        return out
    import keras

    from flowers_mobile.config import ModelConfig
    from flowers_mobile.data.pipeline import load_arrays
    from flowers_mobile.data.sources import load_dataset
    from flowers_mobile.labels import write_labels
    from flowers_mobile.model import build_classifier

    dataset = load_dataset(data_dir)
    x, y = load_arrays(dataset.train, INPUT_SIZE)
    x = x.astype(np.float32)
    keras.utils.set_random_seed(0)
    model = build_classifier(ModelConfig(input_size=INPUT_SIZE, alpha=0.35, weights="none", dropout=0.0),
                             len(dataset.classes))
    bn_layers = [sub for layer in model.layers for sub in getattr(layer, "layers", [])
                 if isinstance(sub, keras.layers.BatchNormalization)]
    for layer in bn_layers:
        layer.momentum = 0.0
    model(x, training=True)  # moving statistics := this batch's statistics
    for layer in bn_layers:
        layer.momentum = 0.99
    features = keras.Model(model.input, model.get_layer("pool").output).predict(x, verbose=0, batch_size=64)
    mean, std = features.mean(0), features.std(0) + 1e-6
    z = (features - mean) / std
    centres = np.stack([z[y == c].mean(0) for c in range(len(dataset.classes))])
    # logits_c = s * (z . mu_c - |mu_c|^2 / 2), with z = (f - mean) / std folded into W and b.
    scale = 4.0 / np.sqrt(z.shape[1])
    kernel = (centres / std[None, :]).T * scale
    bias = scale * (-(centres * (mean / std)[None, :]).sum(1) - 0.5 * (centres ** 2).sum(1))
    model.get_layer("probabilities").set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save(tmp / "model.keras")
    write_labels(tmp / "labels.txt", dataset.classes)
    tmp.rename(out)
    return out


def build_saved_model_export(out: Path, run_dir: Path) -> Path:
    """An export folder with a SavedModel (raw pixels in, "probabilities" out) and its manifest."""
    if (out / "manifest.json").is_file():
        return out
    import keras
    import tensorflow as tf

    from flowers_mobile.export.manifest import describe_artifact, new_manifest, write_manifest
    from flowers_mobile.labels import read_labels, write_labels

    model = keras.saving.load_model(run_dir / "model.keras", compile=False)
    h, w = model.input_shape[1:3]
    module = tf.Module()
    module.model = model

    @tf.function(input_signature=[tf.TensorSpec((None, h, w, 3), tf.float32, name="image")])
    def serve(image):
        return {"probabilities": model(image, training=False)}

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tf.saved_model.save(module, str(tmp / "saved_model"), signatures={"serving_default": serve})
    labels = read_labels(run_dir / "labels.txt")
    write_labels(tmp / "labels.txt", labels)
    art = describe_artifact(tmp, "saved_model", format="saved_model", precision="float32",
                            input_shape=[1, h, w, 3], input_dtype="float32", num_labels=len(labels))
    write_manifest(tmp, new_manifest(model_name="Flowers", source_model=run_dir / "model.keras",
                                     labels_file=tmp / "labels.txt", labels=labels, artifacts=[art]))
    tmp.rename(out)
    return out


def copy_export(src: Path, dst: Path) -> Path:
    """A private copy of an export folder, for tests that damage it."""
    shutil.copytree(src, dst)
    return dst
