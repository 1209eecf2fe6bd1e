"""Training on several workers: tf.distribute's MultiWorkerMirroredStrategy over ``TF_CONFIG``.

Every worker runs the same `train` with the same config on its own copy of the data; gradients
and metrics are all-reduced, so every worker holds the same weights after every step. What
differs from one process:

- The chief (task ``chief``, else ``worker`` 0) owns the run folder. The others write their
  backups to a temporary folder they remove, and print one line with their weights' sha256 at
  the end (the chief's is in metrics.json: equal digests prove the workers stayed in sync).
- The chief's config, resume flag and (on ``--resume``) its whole backup folder are broadcast
  to every worker first (`MultiWorker.join`), so every worker restores the same state and takes
  the same branches: a worker that took another branch would wait in a collective for ever.
- Phase-1 features are extracted by each worker for its share of the images and gathered.
- Phases train through `training.loop` (Keras 3's ``fit`` fails under this strategy).
- Collectives time out (``training.collective_timeout``); a worker that dies surfaces on the
  others as one line (`WorkerLost`, exit 3) naming what to do, not as a hang.

Broadcast and gather are all-reduce sums in which only the sender (or each row's owner) gives
non-zero values: adding zeros is exact, so the received bytes and floats are the sent ones.
"""

from __future__ import annotations

import hashlib
import io
import json
import signal
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.config import Config
from flowers_mobile.data.sources import Dataset
from flowers_mobile.errors import UserError
from flowers_mobile.training.cluster import (
    TF_CONFIG,
    WorkerLost,
    collective_errors,
    is_chief_task,
    make_multi_worker_strategy,
    read_tf_config,
)

__all__ = ["TF_CONFIG", "MultiWorker", "WorkerLost", "collective_errors", "is_chief_task",
           "make_multi_worker_strategy", "read_tf_config"]
#: Seconds the other workers wait at the end for the chief's evaluation and writing.
END_BARRIER_TIMEOUT = 6 * 3600


class MultiWorker:
    """This process's place in the cluster and the collectives `train` needs beyond the steps."""

    def __init__(self, strategy) -> None:
        self.strategy = strategy
        tf_config = read_tf_config()
        self.chief = is_chief_task(tf_config)
        cluster, task = tf_config["cluster"], tf_config["task"]
        # Workers in input-pipeline order (the chief first): how images are shared out.
        order = [(kind, i) for kind in ("chief", "worker") for i in range(len(cluster.get(kind, [])))]
        self.num_workers = len(order)
        self.index = order.index((task["type"], int(task["index"])))
        self.local_replicas = len(strategy.extended.worker_devices)
        self.replicas = int(strategy.num_replicas_in_sync)
        self._tmp: tempfile.TemporaryDirectory | None = None
        if threading_main():
            # The launcher stops workers with SIGTERM: exit through Python so temporary folders go.
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    @property
    def name(self) -> str:
        return f"worker {self.index} of {self.num_workers}"

    def scope(self):
        return self.strategy.scope()

    # -- collectives on numpy values -----------------------------------------------------------

    def all_reduce_sum(self, array: np.ndarray) -> np.ndarray:
        """The element-wise sum of `array` over workers (each worker's value counted once)."""
        import tensorflow as tf

        value = tf.constant(array)
        zeros = tf.zeros_like(value)
        per_replica = self.strategy.experimental_distribute_values_from_function(
            lambda ctx: value if ctx.replica_id_in_sync_group % self.local_replicas == 0 else zeros)
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None).numpy()

    def broadcast_bytes(self, data: bytes | None) -> bytes:
        """The chief's `data` on every worker (others pass None)."""
        mine = data if self.chief else b""
        n = int(self.all_reduce_sum(np.array([len(mine)], np.int64))[0])
        padded = mine + b"\0" * (-len(mine) % 4) if self.chief else b"\0" * (n + (-n % 4))
        words = self.all_reduce_sum(np.frombuffer(padded, dtype=np.int32).copy())
        return words.tobytes()[:n]

    def broadcast_weights(self, model) -> None:
        """Give every worker the chief's weights (identical start whatever each process did before)."""
        weights = model.get_weights()
        flat = np.concatenate([np.ravel(w).astype(np.float32) for w in weights]) if weights else np.zeros(0)
        got = self.all_reduce_sum(flat if self.chief else np.zeros_like(flat))
        out, at = [], 0
        for w in weights:
            out.append(got[at:at + w.size].reshape(w.shape).astype(w.dtype))
            at += w.size
        model.set_weights(out)

    def any_worker(self, flag: bool) -> int:
        """How many workers raise `flag`: every worker learns it, so all can stop together."""
        return int(self.all_reduce_sum(np.array([1 if flag else 0], np.int64))[0])

    # -- the run ---------------------------------------------------------------------------------

    def join(self, cfg: Config, dataset: Dataset, out_dir: Path, resume: bool, backup_name: str
             ) -> tuple[Config, Path, bool]:
        """Agree on the chief's config and resume flag, check the data, share the chief's backup.

        Returns:
            (the chief's config, the folder this worker writes to, resume): the run folder on the
            chief, a temporary folder elsewhere.
        """
        sizes = [len(dataset.train), len(dataset.val), len(dataset.test)]
        hello = json.dumps({"config": cfg.to_dict(), "classes": dataset.classes, "sizes": sizes, "resume": resume})
        chief = json.loads(self.broadcast_bytes(hello.encode("utf-8") if self.chief else None))
        differs = chief["classes"] != dataset.classes or chief["sizes"] != sizes
        bad = self.any_worker(differs)
        if bad:
            mine = (f"{self.name} has {len(dataset.classes)} classes and {sizes[0]}/{sizes[1]}/{sizes[2]} "
                    f"train/val/test images where the chief has {len(chief['classes'])} and "
                    f"{'/'.join(map(str, chief['sizes']))}") if differs else f"{bad} worker(s) see other data"
            raise UserError(f"the workers' data folders differ: {mine}",
                            hint="give every worker a copy of the same data folder")
        cfg = Config.from_dict(chief["config"], where="the chief's config")
        replicas = self.replicas
        if cfg.training.batch_size % replicas:
            raise UserError(f"training.batch_size = {cfg.training.batch_size} does not split evenly over "
                            f"{replicas} replicas", hint=f"give a multiple of {replicas}")
        resume = bool(chief["resume"])
        if not self.chief:
            self._tmp = tempfile.TemporaryDirectory(prefix="flowers-worker-")
            out_dir = Path(self._tmp.name)
        if resume:
            archive = _pack(out_dir / backup_name) if self.chief else None
            received = self.broadcast_bytes(archive)
            if not self.chief:
                _unpack(received, out_dir)
        return cfg, out_dir, resume

    def extract_features(self, model, dataset: Dataset, cfg: Config, rep) -> dict[str, np.ndarray]:
        """Phase-1 features: each worker runs the backbone over its share, then all are gathered."""
        from flowers_mobile.training.features import extract_features

        tc = cfg.training
        dim = int(model.get_layer("pool").output.shape[-1])
        out: dict[str, np.ndarray] = {}
        for split, copies in (("train", tc.feature_cache_copies), ("val", 0)):
            samples = dataset.split(split)
            mine = np.arange(len(samples))[self.index::self.num_workers]
            task = rep.task(f"features {split} (x{1 + copies})", total=len(mine))
            feats, _ = extract_features(model, [samples[i] for i in mine], cfg, copies=copies, seed=tc.seed,
                                        on_batch=lambda n, t=task: rep.update(t, completed=n))
            full = np.zeros((1 + copies, len(samples), dim), np.float32)
            full[:, mine] = feats.reshape(1 + copies, len(mine), dim)
            labels = np.array([s.label for s in samples], dtype=np.int32)
            out[f"x_{split}"] = self.all_reduce_sum(full).reshape(-1, dim)
            out[f"y_{split}"] = np.tile(labels, 1 + copies)
        return out

    def phase(self, name: str, epochs: int, steps: int, num_classes: int, cfg: Config,
              class_weight: dict[int, float] | None, log_dir: Path):
        """A `loop.Phase` with the config's batch and loss settings; TensorBoard on the chief only."""
        from flowers_mobile.training.loop import Phase

        tc = cfg.training
        return Phase(name=name, epochs=epochs, steps=steps, global_batch=tc.batch_size, num_classes=num_classes,
                     label_smoothing=tc.label_smoothing, class_weight=class_weight, seed=tc.seed,
                     log_dir=log_dir if self.chief else None)

    def fit_head(self, head, feats: dict[str, np.ndarray], phase, state, rep) -> None:
        """Phase 1 through the custom loop: every epoch the features are shuffled (the same order
        on every worker) and each worker takes its share of them."""
        import tensorflow as tf

        from flowers_mobile.training import loop

        x, y = feats["x_train"], _one_hot(feats["y_train"], phase.num_classes)

        def train_fn(ctx):
            per_replica = ctx.get_per_replica_batch_size(phase.global_batch)
            local = self.replicas // ctx.num_input_pipelines
            ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=phase.seed,
                                                                 reshuffle_each_iteration=True)
            return ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id).batch(
                per_replica, drop_remainder=True).take(phase.steps * local)

        x_val = feats["x_val"][self.index::self.num_workers]
        y_val = _one_hot(feats["y_val"], phase.num_classes)[self.index::self.num_workers]
        batches = [(x_val[i:i + 256], y_val[i:i + 256]) for i in range(0, len(x_val), 256)]
        loop.fit(self.strategy, head, phase, state, train_fn, lambda: batches, self.all_reduce_sum, rep)

    def fit_finetune(self, model, dataset: Dataset, cfg: Config, phase, state, rep) -> None:
        """Phase 2 through the custom loop: each worker decodes, caches and augments only its
        share of the training images (a fixed 1/N of every class: the split is class-sorted)."""
        import tensorflow as tf

        from flowers_mobile.data.pipeline import make_tf_dataset
        from flowers_mobile.training import loop

        size, tc, num_classes = cfg.model.input_size, cfg.training, phase.num_classes

        def one_hot(x, y):
            return x, tf.one_hot(y, num_classes)

        def train_fn(ctx):
            mine = dataset.train[ctx.input_pipeline_id::ctx.num_input_pipelines]
            per_replica = ctx.get_per_replica_batch_size(phase.global_batch)
            local = self.replicas // ctx.num_input_pipelines
            ds = make_tf_dataset(mine, size, per_replica, training=True, data_cfg=cfg.data, seed=tc.seed,
                                 drop_remainder=True)
            return ds.map(one_hot).take(phase.steps * local)

        val_samples = dataset.val[self.index::self.num_workers]
        val_ds = make_tf_dataset(val_samples, size, max(tc.batch_size, 64), training=False,
                                 data_cfg=cfg.data).map(one_hot) if val_samples else []
        loop.fit(self.strategy, model, phase, state, train_fn, lambda: val_ds, self.all_reduce_sum, rep,
                 epoch_end=lambda: self.average_moving_statistics(model))

    def average_moving_statistics(self, model) -> None:
        """Average the trained BatchNorm layers' moving mean and variance over the workers.

        In training mode each worker normalises with its own batch's statistics (as PyTorch's
        DistributedDataParallel does by default) and so updates its own moving statistics; the
        weights that train are all-reduced and stay equal. Averaged at every epoch end, before
        validation and the backup, the moving statistics are equal too: every worker validates
        and saves the same model. (The average of the workers' moving means is the moving mean of
        the global batch.) Keras' synchronized BatchNorm would reproduce one process exactly, but
        its three all-reduces per layer per step made TensorFlow start about 4,900 threads per
        worker on CPU for MobileNetV2 trained in full, and thread creation failed on a busy
        2-core machine.
        """
        from flowers_mobile.model import get_backbone, is_batchnorm

        stats = [v for layer in get_backbone(model).layers if is_batchnorm(layer) and layer.trainable
                 for v in (layer.moving_mean, layer.moving_variance)]
        if not stats:
            return
        values = [np.asarray(v.numpy(), np.float32) for v in stats]
        total = self.all_reduce_sum(np.concatenate([np.ravel(v) for v in values]))
        mean, at = total / np.float32(self.num_workers), 0
        for var, value in zip(stats, values, strict=True):
            var.assign(mean[at:at + value.size].reshape(value.shape))
            at += value.size

    def finish(self, model) -> dict[str, Any]:
        """The end of training: what metrics.json records; a non-chief prints its digest, cleans
        up and waits for the chief to have written the run folder (`wait_for_chief`)."""
        digest = weights_digest(model)
        if not self.chief:
            print(f"{self.name} finished: weights sha256 {digest}", flush=True)
            self.cleanup()
            self.wait_for_chief()
        return {"workers": self.num_workers, "weights_sha256": digest}

    def wait_for_chief(self) -> None:
        """Every worker meets here once the chief has written its outputs, so all exit together.

        A worker that exits alone stops its heartbeats, and the coordination service (on the
        chief) then reports it as crashed while the chief is still evaluating. The barrier is the
        coordination service's own; it fails at once if a worker dies meanwhile.
        """
        from tensorflow.python.eager import context

        context.context().wait_at_barrier("flowers-mobile-train-end", int(END_BARRIER_TIMEOUT * 1000))

    def cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def weights_digest(model) -> str:
    """sha256 over every weight array's bytes in order: equal on workers that ended in sync."""
    digest = hashlib.sha256()
    for w in model.get_weights():
        digest.update(np.ascontiguousarray(w).tobytes())
    return digest.hexdigest()


def _one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[y]


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _pack(folder: Path) -> bytes:
    """The backup folder as an in-memory tar (empty when there is none)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        if folder.is_dir():
            tar.add(folder, arcname=folder.name)
    return buf.getvalue()


def _unpack(data: bytes, into: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(into, filter="data")
