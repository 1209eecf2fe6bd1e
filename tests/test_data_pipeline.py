"""The tf.data pipeline: raw 0..255 float32 pixels, labels in order, augmentation on training only."""

from __future__ import annotations

import numpy as np
import pytest

from flowers_mobile.config import DataConfig
from flowers_mobile.data.pipeline import load_arrays, make_tf_dataset
from flowers_mobile.data.sources import load_dataset
from flowers_mobile.data.synth import generate_dataset


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipe")
    generate_dataset(root, 3, 12, 72, seed=5)
    return load_dataset(root, DataConfig(seed=1))


def test_eval_pipeline_matches_the_runtime_loader_exactly(small_dataset):
    samples = small_dataset.val
    ds = make_tf_dataset(samples, 64, 4, training=False)
    images = np.concatenate([x.numpy() for x, _ in ds])
    labels = np.concatenate([y.numpy() for _, y in ds])
    ref_images, ref_labels = load_arrays(samples, 64)
    assert images.dtype == np.float32 and images.shape == (len(samples), 64, 64, 3)
    assert images.min() >= 0 and images.max() <= 255 and images.max() > 1  # raw pixels, not scaled
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_array_equal(images, ref_images.astype(np.float32))  # the one resize rule


def test_training_pipeline_augments_and_shuffles(small_dataset):
    samples = small_dataset.train
    plain = np.concatenate([x.numpy() for x, _ in make_tf_dataset(samples, 64, 8, training=False)])
    ds = make_tf_dataset(samples, 64, 8, training=True, seed=3)
    epoch1 = [(x.numpy(), y.numpy()) for x, y in ds]
    epoch2 = [(x.numpy(), y.numpy()) for x, y in ds]
    labels1 = np.concatenate([y for _, y in epoch1])
    assert sorted(labels1.tolist()) == sorted(s.label for s in samples)  # every image once per epoch
    assert not np.array_equal(labels1, np.concatenate([y for _, y in epoch2]))  # reshuffled
    aug = np.concatenate([x for x, _ in epoch1])
    assert aug.dtype == np.float32 and aug.shape == plain.shape
    # No augmented image equals its plain version: flips, rotation, zoom and contrast were applied.
    assert not any(np.array_equal(a, p) for a in aug for p in plain[:4])


def test_no_augmentation_when_disabled(small_dataset):
    cfg = DataConfig(augment_flip=False, augment_rotation=0, augment_zoom=0, augment_contrast=0)
    samples = small_dataset.train[:6]
    plain = {tuple(x.ravel()[:50]) for x, _ in make_tf_dataset(samples, 32, 1, training=False).unbatch()
             .as_numpy_iterator()}
    shuffled = {tuple(x.ravel()[:50]) for x, _ in make_tf_dataset(samples, 32, 1, training=True, data_cfg=cfg)
                .unbatch().as_numpy_iterator()}
    assert plain == shuffled
