"""tf.data input pipeline: parallel decode and resize, cache, shuffle, augment, batch, prefetch.

Yields (images, labels): images float32 (B, H, W, 3) as raw RGB 0..255 (the model rescales
inside, docs/artifact-contract.md), labels int32 (B,). Augmentation runs on the training split only.
Decoding goes through PIL (`flowers_mobile.images`) so that every format PIL reads, EXIF
orientation, palette/CMYK/16-bit images and the resize rule are exactly what the runtimes and
the apps see; it runs in parallel inside tf.data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flowers_mobile.config import DataConfig
from flowers_mobile.data.sources import Sample
from flowers_mobile.images import load_image


@dataclass(frozen=True)
class PipelineOptions:
    """How `make_tf_dataset` builds a pipeline."""

    #: Keep the decode map's input order.
    ordered: bool
    #: Parallel calls of the decode map (None: serial). Under op determinism TensorFlow runs a map
    #: holding a Python function serially anyway, and its rewrite of a parallel one logs a
    #: spurious error ("use_unbounded_threadpool"), so it is asked for serially then.
    decode_parallel_calls: int | None
    #: Parallel calls of the augmentation map (None: one call at a time, in order).
    augment_parallel_calls: int | None


def pipeline_options(deterministic: bool) -> PipelineOptions:
    """The tf.data settings for a deterministic (or a fast) pipeline."""
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    decode = None if tf_config.is_op_determinism_enabled() else tf.data.AUTOTUNE
    if deterministic:
        return PipelineOptions(ordered=True, decode_parallel_calls=decode, augment_parallel_calls=None)
    return PipelineOptions(ordered=False, decode_parallel_calls=decode, augment_parallel_calls=tf.data.AUTOTUNE)


def augmentation_layers(data_cfg: DataConfig, seed: int):
    """Random flip, rotation, zoom and contrast as a Keras model (applied to raw 0..255 pixels)."""
    import keras

    layers = []
    if data_cfg.augment_flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if data_cfg.augment_rotation > 0:
        layers.append(keras.layers.RandomRotation(data_cfg.augment_rotation, fill_mode="reflect", seed=seed + 1))
    if data_cfg.augment_zoom > 0:
        layers.append(keras.layers.RandomZoom((-data_cfg.augment_zoom, data_cfg.augment_zoom),
                                              fill_mode="reflect", seed=seed + 2))
    if data_cfg.augment_contrast > 0:
        # value_range: our pixels are 0..255, not 0..1.
        layers.append(keras.layers.RandomContrast(data_cfg.augment_contrast, value_range=(0, 255), seed=seed + 3))
    return keras.Sequential(layers, name="augment")


def make_tf_dataset(samples: Sequence[Sample], image_size: int, batch_size: int, *, training: bool,
                    data_cfg: DataConfig | None = None, seed: int = 42, cache: bool | None = None,
                    drop_remainder: bool = False, deterministic: bool = True):
    """A batched, prefetched tf.data.Dataset over `samples`.

    Args:
        samples: images and labels (from `load_dataset`).
        image_size: the model's input side; images are stretched to it (the one resize rule).
        batch_size: batch size.
        training: shuffle each epoch and augment; else keep order, no augmentation.
        data_cfg: augmentation settings and the cache default.
        seed: shuffle and augmentation seed.
        cache: keep decoded images in memory after the first epoch (default: data_cfg.cache).
        drop_remainder: drop the last partial batch (tf.distribute likes equal batches).
        deterministic: the same seed gives the same batches (``training.deterministic``); False lets
            the training split's decode and augmentation run out of order, in parallel.
    Returns:
        tf.data.Dataset of (float32 (B, S, S, 3) in 0..255, int32 (B,)).
    """
    import tensorflow as tf

    opts = pipeline_options(deterministic or not training)
    cfg = data_cfg or DataConfig()
    cache = cfg.cache if cache is None else cache
    paths = np.array([str(s.path) for s in samples])
    labels = np.array([s.label for s in samples], dtype=np.int32)

    def _decode(path: tf.Tensor) -> np.ndarray:
        return load_image(path.numpy().decode("utf-8"), image_size).astype(np.float32)

    def _load(path, label):
        image = tf.py_function(_decode, [path], tf.float32)
        image.set_shape((image_size, image_size, 3))
        return image, label

    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    if training:
        # Shuffle paths (cheap) before decoding; reshuffled every epoch.
        ds = ds.shuffle(len(samples), seed=seed, reshuffle_each_iteration=True)
    if opts.decode_parallel_calls is None:
        ds = ds.map(_load)  # serial: in order by construction
    else:
        ds = ds.map(_load, num_parallel_calls=opts.decode_parallel_calls, deterministic=opts.ordered)
    if cache:
        ds = ds.cache()
        if training:
            ds = ds.shuffle(min(len(samples), 2048), seed=seed + 7, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if training:
        augment = augmentation_layers(cfg, seed)
        if augment.layers:
            # Serial when deterministic: each call advances the layers' seed state, so parallel
            # calls would hand out the random draws in whatever order they run.
            ds = ds.map(lambda x, y: (augment(x, training=True), y), num_parallel_calls=opts.augment_parallel_calls)
    return ds.prefetch(tf.data.AUTOTUNE)


def load_arrays(samples: Sequence[Sample], image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """All images as one uint8 array (N, S, S, 3) and labels (N,): for parity and evaluation."""
    images = np.stack([load_image(s.path, image_size) for s in samples]) if samples else \
        np.zeros((0, image_size, image_size, 3), np.uint8)
    return images, np.array([s.label for s in samples], dtype=np.int32)
