"""The Keras runtime: a `.keras` / `.h5` classifier, the reference every export is held against.

Labels come from `labels.txt` beside the model; the input size from the model itself. The
forward pass runs through one `tf.function` traced for any batch size, which is what a server
would do and is many times faster per call than `model.predict` for single images.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from flowers_mobile.errors import UserError
from flowers_mobile.keras_file import load_keras_model
from flowers_mobile.labels import read_labels
from flowers_mobile.runtimes.base import LoadedPredictor, model_format, register_runtime

#: Largest batch pushed through the model at once (bounds memory on big parity sets).
MAX_CHUNK = 64


def set_tf_threads(threads: int | None) -> int | None:
    """Ask TensorFlow for `threads` intra-op threads; returns what TF will use (None: its default).

    TF fixes its thread pools when its context starts, so this only takes effect in a process
    that has not run an op yet (the benchmark gives each runtime a fresh process for that reason).
    """
    import tensorflow as tf

    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1 if threads == 1 else 2)
        except RuntimeError:
            pass  # context already initialised: keep what it has
    return tf.config.threading.get_intra_op_parallelism_threads() or None


def check_classifier_shapes(model: Any, path: str | os.PathLike[str]) -> tuple[tuple[int, int], int]:
    """((H, W), classes) of an image classifier; UserError for any other input/output shape."""
    in_shape = tuple(model.input_shape) if not isinstance(model.input_shape, list) else None
    out_shape = tuple(model.output_shape) if not isinstance(model.output_shape, list) else None
    if in_shape is None or len(in_shape) != 4 or in_shape[-1] != 3 or None in in_shape[1:3]:
        raise UserError(f"{path}: expected one image input (N, H, W, 3), got {model.input_shape}")
    if out_shape is None or len(out_shape) != 2 or not out_shape[-1]:
        raise UserError(f"{path}: expected one output (N, classes), got {model.output_shape}")
    return (int(in_shape[1]), int(in_shape[2])), int(out_shape[-1])


@register_runtime("keras")
class KerasPredictor(LoadedPredictor):
    """A Keras classifier that takes raw RGB 0..255 and returns probabilities."""

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None,
                 labels_path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(path, threads=threads)
        self._threads_used = set_tf_threads(threads)
        import tensorflow as tf

        self.model = load_keras_model(self.path)
        self._size, classes = check_classifier_shapes(self.model, self.path)
        self._labels = read_labels(labels_path or self.path.parent / "labels.txt")
        if len(self._labels) != classes:
            raise UserError(f"{self.path}: the model has {classes} outputs but its labels file has "
                            f"{len(self._labels)} labels", hint="give the labels.txt written with this model")
        model = self.model
        self._forward = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec((None, *self._size, 3), tf.float32)],
            reduce_retracing=True)

    def predict(self, images: np.ndarray) -> np.ndarray:
        images = self.check_batch(images, self._size).astype(np.float32, copy=False)
        outs = [np.asarray(self._forward(images[i:i + MAX_CHUNK]), dtype=np.float32)
                for i in range(0, len(images), MAX_CHUNK)]
        return np.concatenate(outs) if outs else np.zeros((0, len(self._labels)), np.float32)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "format": model_format(self.path), "precision": "float32",
                "threads": self._threads_used}

    def close(self) -> None:
        self.model = None
        self._forward = None
