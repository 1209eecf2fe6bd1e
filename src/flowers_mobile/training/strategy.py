"""tf.distribute and mixed precision, chosen from the config.

- ``none``: the default strategy (one device).
- ``mirrored``: synchronous data parallelism over this machine's GPUs, or over its logical CPU
  devices when there is no GPU (that is how the tests run it on 2 cores).
- ``multi_worker``: MultiWorkerMirroredStrategy over the cluster in ``TF_CONFIG``, trained
  through the custom loop of `training.loop` (Keras 3's ``fit`` fails under it,
  keras-team/keras#20585); see `training.multiworker`.

Mixed float16 only pays on a GPU (CPUs compute float16 slower than float32), so "auto" turns it
on only when TensorFlow sees one.
"""

from __future__ import annotations

from flowers_mobile.errors import UserError


def make_strategy(kind: str, collective_timeout: float = 300.0):
    """The tf.distribute strategy for ``training.distribute`` (`collective_timeout`: multi_worker only)."""
    import tensorflow as tf

    if kind == "none":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        # NCCL is GPU-only; on CPUs gradients are summed on one device.
        return tf.distribute.MirroredStrategy(devices=cpus,
                                              cross_device_ops=tf.distribute.ReductionToOneDevice())
    if kind == "multi_worker":
        from flowers_mobile.training.multiworker import make_multi_worker_strategy

        return make_multi_worker_strategy(collective_timeout)
    raise UserError(f"training.distribute = {kind!r} is not one of none, mirrored, multi_worker")


def replicas(strategy) -> int:
    return int(strategy.num_replicas_in_sync)


def use_mixed_precision(setting: str) -> bool:
    """"auto": mixed float16 when a GPU is visible; "off": never."""
    if setting != "auto":
        return False
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))
