"""tf.distribute and mixed precision, chosen from the config.

- ``none``: the default strategy (one device).
- ``mirrored``: synchronous data parallelism over this machine's GPUs, or over its logical CPU
  devices when there is no GPU (that is how the tests run it on 2 cores).
- ``multi_worker``: MultiWorkerMirroredStrategy over the cluster in ``TF_CONFIG`` is refused
  with a clear error: Keras 3's ``fit`` fails under it (keras-team/keras#20585). ``is_chief``
  keeps the chief-only writing rule for when it can run.

Mixed float16 only pays on a GPU (CPUs compute float16 slower than float32), so "auto" turns it
on only when TensorFlow sees one.
"""

from __future__ import annotations

from flowers_mobile.errors import UserError


def make_strategy(kind: str):
    """The tf.distribute strategy for ``training.distribute``."""
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
        # Tried with two workers on 127.0.0.1 (see tests/test_training_multi_worker.py): Keras 3's
        # fit all-reduces one input batch to build the model, and then its metric reductions, in
        # ways MultiWorkerMirroredStrategy rejects (keras-team/keras#20585, tensorflow#72388). A run
        # that crashes after loading the data helps nobody: refuse before anything is written.
        raise UserError("training.distribute = multi_worker cannot train with Keras 3's model.fit on this stack "
                        "(MultiWorkerMirroredStrategy fails inside fit: keras-team/keras#20585)",
                        hint="use --set training.distribute=mirrored (every GPU or CPU of one machine)")
    raise UserError(f"training.distribute = {kind!r} is not one of none, mirrored, multi_worker")


def is_chief(strategy) -> bool:
    """True where this process should write outputs (always, unless a non-chief worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def replicas(strategy) -> int:
    return int(strategy.num_replicas_in_sync)


def use_mixed_precision(setting: str) -> bool:
    """"auto": mixed float16 when a GPU is visible; "off": never."""
    if setting != "auto":
        return False
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))
