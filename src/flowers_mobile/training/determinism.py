"""Reproducible training: the same seed, machine and data give the same weights and metrics.

What varies between two runs of the same config, and what removes it:

- Random draws (weight initialisation, dropout masks, shuffling, augmentation): Python, NumPy
  and TensorFlow are seeded from ``training.seed`` before the first layer is built, so every
  seed generator Keras creates draws the same values in the same order.
- tf.data: the decode map delivers images in whatever order its threads finish, and a parallel
  augmentation map advances the augmentation layers' seed state in whatever order its calls run.
  With ``deterministic`` the decode map keeps the input order and the augmentation map runs
  serially (`data.pipeline.pipeline_options`: tf.data's settings live with the pipeline, below
  training).
- Kernels: TensorFlow's op determinism makes every op give the same output for the same input
  (on a CPU most already do; on a GPU many do not). It is on for the training run only
  (`op_determinism`), and it also keeps every tf.data pipeline of the run in input order.

Thread counts are left alone: on the same machine TensorFlow sizes its pools the same way every
run, and the CPU kernels split their work by the pool size, not by timing.

``training.deterministic = false`` gives back the input pipeline's parallelism and the kernels'
freedom (measured cost in docs/reproducibility.md); the seeds are set either way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (and with them every seed generator Keras creates)."""
    import keras

    keras.utils.set_random_seed(seed)


@contextlib.contextmanager
def op_determinism(enabled: bool) -> Iterator[None]:
    """TensorFlow's op determinism on (or off) inside the block, as it was after it.

    The switch is process-wide: restoring it keeps a training run from slowing the tf.data
    pipelines of whatever the process does next (evaluation, parity, other tests).
    """
    from tensorflow.python.framework import config as tf_config

    before = tf_config.is_op_determinism_enabled()
    _set_op_determinism(enabled)
    try:
        yield
    finally:
        _set_op_determinism(before)


def _set_op_determinism(enabled: bool) -> None:
    from tensorflow.python.framework import config as tf_config

    if enabled:
        tf_config.enable_op_determinism()
    else:
        tf_config.disable_op_determinism()
