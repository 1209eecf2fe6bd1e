"""Phase 1 with cached features vs the backbone run every epoch: seconds per epoch, side by side.

    .venv/bin/python tools/bench_feature_cache.py                       # MobileNetV2 1.0 / 224, 500 images
    .venv/bin/python tools/bench_feature_cache.py --images 100 --input-size 96 --alpha 0.35

Both variants train the same head (Dropout -> Dense) on the same images with the backbone
frozen. "Cached" runs the backbone once (`training.features.extract_features`) and trains the
head on the stored features; "uncached" is the full model with the frozen backbone, images
decoded once and kept in memory, so what each of its epochs pays is the backbone's forward
pass. Per-epoch times leave out each variant's first epoch (graph tracing, decoding). Random
weights (offline); the speed of a forward pass does not depend on the weights' values.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _epoch_timer():
    import keras

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds: list[float] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.t)

    return Timer()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=500, help="training images (default 500)")
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per variant (>= 2; the first is not timed)")
    parser.add_argument("--cached-epochs", type=int, default=20, help="epochs of the cached variant")
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--data", type=Path, help="class folders to use instead of generated flowers")
    args = parser.parse_args(argv)
    if args.epochs < 2 or args.cached_epochs < 2:
        parser.error("--epochs and --cached-epochs must be at least 2")

    import keras

    from flowers_mobile.config import Config
    from flowers_mobile.data.pipeline import make_tf_dataset
    from flowers_mobile.data.sources import load_dataset
    from flowers_mobile.data.synth import generate_dataset
    from flowers_mobile.model import build_classifier, freeze_backbone
    from flowers_mobile.training.features import build_head, extract_features

    cfg = Config()  # frozen: a changed copy
    cfg = replace(cfg, model=replace(cfg.model, input_size=args.input_size, alpha=args.alpha, weights="none"),
                  training=replace(cfg.training, batch_size=args.batch_size))
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "flowers"
            per_class = -(-args.images // args.classes)
            print(f"generating {per_class * args.classes} synthetic images ...", file=sys.stderr)
            generate_dataset(data, args.classes, per_class, image_size=128, seed=1)
        samples = load_dataset(data, cfg.data, min_classes=1).split("all")[: args.images]
        n_classes = 1 + max(s.label for s in samples)
        keras.utils.set_random_seed(0)
        model = build_classifier(cfg.model, max(2, n_classes))
        freeze_backbone(model)

        # Cached: the backbone once, then the head on stored features.
        t = time.perf_counter()
        feats, labels = extract_features(model, samples, cfg)
        extract_s = time.perf_counter() - t
        head = build_head(feats.shape[1], max(2, n_classes), cfg.model.dropout)
        head.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        cached = _epoch_timer()
        head.fit(feats, labels, batch_size=args.batch_size, epochs=args.cached_epochs, verbose=0,
                 callbacks=[cached])

        # Uncached: the full model, frozen backbone, every epoch through the backbone.
        ds = make_tf_dataset(samples, args.input_size, args.batch_size, training=False, data_cfg=cfg.data,
                             cache=True)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        uncached = _epoch_timer()
        model.fit(ds, epochs=args.epochs, verbose=0, callbacks=[uncached])

    c = statistics.median(cached.seconds[1:])
    u = statistics.median(uncached.seconds[1:])
    print(f"MobileNetV2 alpha {args.alpha} at {args.input_size} px, {len(samples)} images, batch {args.batch_size}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"{'phase 1 seconds per epoch':<34}{'cached features':>18}{'backbone every epoch':>24}")
    print(f"{'median (first epoch left out)':<34}{c:>18.4f}{u:>24.3f}")
    print(f"{'first epoch':<34}{cached.seconds[0]:>18.3f}{uncached.seconds[0]:>24.3f}")
    print(f"one-time feature extraction: {extract_s:.2f} s ({len(samples) / extract_s:.1f} img/s)")
    print(f"ratio (backbone every epoch / cached): {u / c:.0f}x")
    print(f"cached phase 1 is ahead after {extract_s / max(u - c, 1e-9):.2f} epochs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
