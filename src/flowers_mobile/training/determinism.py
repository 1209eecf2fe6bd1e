"""Reproducible training: the same seed, machine and data give the same weights and metrics.

What varies between two runs of the same config, and what removes it:

- Random draws (weight initialisation, dropout masks, shuffling, augmentation): Python, NumPy
  and TensorFlow are seeded from ``training.seed`` before the first layer is built, so every
  seed generator Keras creates draws the same values in the same order.
- tf.data: the decode map delivers images in whatever order its threads finish, and a parallel
  augmentation map advances the augmentation layers' seed state in whatever order its calls run.
  With ``deterministic`` the decode map keeps the input order and the augmentation map runs
  serially (`pipeline_options`).
- Kernels: TensorFlow's op determinism makes every op give the same output for the same input
  (on a CPU most already do; it also forces tf.data into input order).

Thread counts are left alone: on the same machine TensorFlow sizes its pools the same way every
run, and the CPU kernels split their work by the pool size, not by timing.

``training.deterministic = false`` gives back the input pipeline's parallelism (measured cost in
docs/reproducibility.md); the seeds are set either way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PipelineOptions:
    """How `make_tf_dataset` builds a training pipeline."""

    #: Keep the decode map's input order.
    ordered: bool
    #: Parallel calls of the augmentation map (None: one call at a time, in order).
    augment_parallel_calls: int | None


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and TensorFlow; turn TensorFlow's op determinism on or off.

    Op determinism is process-wide, so it is set both ways: a run with ``deterministic=False``
    after one with ``True`` in the same process really runs without it.
    """
    import keras
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    elif tf_config.is_op_determinism_enabled():
        tf_config.disable_op_determinism()


def pipeline_options(deterministic: bool) -> PipelineOptions:
    """The tf.data settings for a deterministic (or a fast) training pipeline."""
    import tensorflow as tf

    if deterministic:
        return PipelineOptions(ordered=True, augment_parallel_calls=None)
    return PipelineOptions(ordered=False, augment_parallel_calls=tf.data.AUTOTUNE)

