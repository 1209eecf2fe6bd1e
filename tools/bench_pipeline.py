"""Input pipeline vs training speed, side by side in one run.

The tf.data pipeline (PIL decode + resize in parallel, augmentation) must deliver at least 3x
the images/s that MobileNetV2 alpha 1.0 at 224 trains at on this machine, or the pipeline, not
the model, is what a training run waits on.

    .venv/bin/python tools/bench_pipeline.py [--images 256] [--size 224] [--alpha 1.0] [--steps 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=256, help="synthetic images to stream")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=4, help="timed training steps (after one warm-up step)")
    args = ap.parse_args()

    import keras
    import numpy as np
    import tensorflow as tf

    from flowers_mobile.config import DataConfig, ModelConfig
    from flowers_mobile.data.pipeline import make_tf_dataset
    from flowers_mobile.data.sources import load_dataset
    from flowers_mobile.data.synth import generate_dataset
    from flowers_mobile.model import build_classifier

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "synth"
        classes = 5
        # Photos are bigger than the model input: generate at 1.5x so resize does real work.
        generate_dataset(root, classes, args.images // classes, int(args.size * 1.5), seed=0)
        cfg = DataConfig(train_fraction=0.98, val_fraction=0.01, test_fraction=0.01)
        samples = load_dataset(root, cfg).train

        def rate(cache: bool, epochs: int) -> list[float]:
            ds = make_tf_dataset(samples, args.size, args.batch, training=True, data_cfg=cfg, cache=cache)
            out = []
            for _ in range(epochs):
                t0, n = time.perf_counter(), 0
                for x, _y in ds:
                    n += int(x.shape[0])
                out.append(n / (time.perf_counter() - t0))
            return out

        cold = rate(cache=False, epochs=1)[0]
        cached = rate(cache=True, epochs=2)[1]

        model = build_classifier(ModelConfig(input_size=args.size, alpha=args.alpha, weights="none"), classes)
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
        x = tf.constant(np.random.default_rng(0).uniform(0, 255, (args.batch, args.size, args.size, 3)), tf.float32)
        y = tf.constant(np.arange(args.batch) % classes, tf.int32)
        model.train_on_batch(x, y)  # warm-up: tracing and allocation
        t0 = time.perf_counter()
        for _ in range(args.steps):
            model.train_on_batch(x, y)
        train_rate = args.steps * args.batch / (time.perf_counter() - t0)

    print(f"MobileNetV2 alpha {args.alpha} at {args.size}, batch {args.batch}, {os.cpu_count()} CPU(s)")
    print(f"  pipeline, decode every epoch : {cold:8.1f} img/s")
    print(f"  pipeline, cached epoch       : {cached:8.1f} img/s")
    print(f"  training (full model)        : {train_rate:8.1f} img/s")
    print(f"  ratio pipeline/training      : {cold / train_rate:8.1f}x uncached, {cached / train_rate:.1f}x cached "
          f"(goal: at least 3x)")


if __name__ == "__main__":
    main()
