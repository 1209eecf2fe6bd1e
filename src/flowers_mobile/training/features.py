"""Phase 1 on cached features: run the frozen backbone once, train the head many times.

With the backbone frozen, every epoch would push the same images through the same network
and get the same pooled features (up to augmentation). So the features are computed once,
optionally for K augmented copies of each training image as well, and the head
(Dropout -> Dense softmax, the same layers as the full model's) trains on them in a fraction
of a second per epoch. Its weights are then copied into the full model's head.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from flowers_mobile.config import Config
from flowers_mobile.data.sources import Sample
from flowers_mobile.fsutil import atomic_path

HEAD_LAYER = "probabilities"


def feature_model(model):
    """The full model cut after global pooling: raw images in, pooled backbone features out."""
    import keras

    return keras.Model(model.input, model.get_layer("pool").output, name="features")


def extract_features(model, samples: Sequence[Sample], cfg: Config, *, copies: int = 0, seed: int = 0,
                     on_batch: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pooled backbone features of `samples`, plus `copies` augmented versions of each.

    Images are decoded once; each batch goes through the backbone 1 + `copies` times (as it is,
    then through the training augmentation). Runs with BatchNorm in inference mode.

    Args:
        model: the full classifier (only its layers up to pooling run).
        samples: images and labels.
        cfg: image size, batch size, augmentation settings.
        copies: augmented copies per image (training.feature_cache_copies).
        seed: augmentation seed.
        on_batch: called with the number of images done after every batch (progress).
    Returns:
        float32 features ((1 + copies) * N, D) and int32 labels ((1 + copies) * N,).
    """
    from flowers_mobile.data.pipeline import augmentation_layers, make_tf_dataset
    from flowers_mobile.evaluation import pad_to_batches

    extractor = feature_model(model)
    dim = int(extractor.output_shape[-1])
    n = len(samples)
    if not n:
        return np.zeros((0, dim), np.float32), np.zeros((0,), np.int32)
    augment = augmentation_layers(cfg.data, seed) if copies else None
    bs = cfg.training.batch_size
    # Equal batches (the last one padded): one trace of the extractor, not two.
    ds = make_tf_dataset(pad_to_batches(samples, bs), cfg.model.input_size, bs, training=False,
                         data_cfg=cfg.data, cache=False)
    views: list[list[np.ndarray]] = [[] for _ in range(1 + copies)]
    done = 0
    for images in ds.map(lambda x, y: x):
        batches = [images]
        if augment is not None:
            batches += [augment(images, training=True) for _ in range(copies)]
        for out, batch in zip(views, batches, strict=True):
            out.append(np.asarray(extractor.predict_on_batch(batch), dtype=np.float32))
        done = min(n, done + int(images.shape[0]))
        if on_batch:
            on_batch(done)
    labels = np.array([s.label for s in samples], dtype=np.int32)
    feats = np.concatenate([np.concatenate(v)[:n] for v in views])
    return feats, np.tile(labels, 1 + copies)


def build_head(feature_dim: int, num_classes: int, dropout: float):
    """Dropout -> Dense softmax on pooled features: the full model's head, on its own."""
    import keras

    inputs = keras.Input(shape=(feature_dim,), dtype="float32", name="features")
    x = keras.layers.Dropout(dropout, name="dropout")(inputs)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=HEAD_LAYER, dtype="float32")(x)
    return keras.Model(inputs, outputs, name="head")


def copy_head(head, model) -> None:
    """Put the trained head's Dense weights into the full model's "probabilities" layer."""
    model.get_layer(HEAD_LAYER).set_weights(head.get_layer(HEAD_LAYER).get_weights())


def save_cache(path: Path, **arrays: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)


def load_cache(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}
