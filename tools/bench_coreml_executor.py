"""Images per second of the Core ML executor beside Keras: same model, same images, same run.

    python tools/bench_coreml_executor.py                      # MobileNetV2 1.0 at 224 px, exported here
    python tools/bench_coreml_executor.py --alpha 0.35 --size 96
    python tools/bench_coreml_executor.py --model M.keras --package Flowers.mlpackage [--images 128]

Without --model a MobileNetV2 (weights none, 5 classes; alpha 1.0 at 224 px unless told) is
built; without --package it is exported with `export_coreml` (float16, the iOS default) into a
temporary folder first (not timed). Both runtimes get the same uint8 images in batches of 32
after one warm-up batch; Keras runs through one `tf.function`, as the Keras runtime does, with
TensorFlow's own thread pools; the executor with its default backend (TensorFlow graphs where
TensorFlow is installed; --backend numpy: the reference path, one worker thread per CPU or
--threads). The two take turns for --rounds rounds, so load from other processes falls on both;
the table gives each one's median and the ratio of the medians. For information only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BATCH = 32


def images_per_second(fn, images: np.ndarray) -> float:
    start = time.perf_counter()
    for i in range(0, len(images), BATCH):
        fn(images[i:i + BATCH])
    return len(images) / (time.perf_counter() - start)


def cpu_line() -> str:
    """The CPU model, its core count and the load average (the machine may be shared)."""
    name = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{name}, {os.cpu_count()} cores, load average {load:.1f} at the end"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="Keras model (default: MobileNetV2 built here)")
    parser.add_argument("--package", help=".mlpackage of that model (default: exported here, float16)")
    parser.add_argument("--alpha", type=float, default=1.0, help="width of the built MobileNetV2")
    parser.add_argument("--size", type=int, default=224, help="input size of the built MobileNetV2")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="executor worker threads (default: one per CPU)")
    parser.add_argument("--backend", default="auto", choices=("auto", "tensorflow", "numpy"),
                        help="executor backend (default: TensorFlow where installed)")
    parser.add_argument("--no-fp16-rounding", action="store_true", help="executor: float32 throughout")
    args = parser.parse_args(argv)
    if args.package and not args.model:
        parser.error("--package needs the --model it was converted from")

    import keras
    import tensorflow as tf

    from flowers_mobile.config import ExportConfig, ModelConfig
    from flowers_mobile.coreml_exec import CoreMLExecutor
    from flowers_mobile.export.coreml import DEFAULT_PACKAGE, export_coreml
    from flowers_mobile.model import build_classifier

    if args.model:
        model = keras.saving.load_model(args.model, compile=False)
    else:
        keras.utils.set_random_seed(0)
        model = build_classifier(ModelConfig(input_size=args.size, alpha=args.alpha, weights="none"), 5)
    labels = [f"class_{i}" for i in range(model.output_shape[-1])]
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(args.package) if args.package else None
        if package is None:
            start = time.perf_counter()
            export_coreml(model, labels, Path(tmp), ExportConfig(), source_model_sha256="-", labels_sha256="-")
            package = Path(tmp) / DEFAULT_PACKAGE
            print(f"exported {package.name} in {time.perf_counter() - start:.1f} s (not timed below)")
        executor = CoreMLExecutor(package, threads=args.threads, fp16_rounding=not args.no_fp16_rounding,
                                  backend=args.backend)
        height, width = executor.input_shape[2:]
        images = np.random.default_rng(0).integers(0, 256, (args.images, height, width, 3), dtype=np.uint8)

        forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        runtimes = {"keras": lambda x: forward(tf.constant(x, tf.float32)).numpy(),
                    "executor": lambda x: executor.predict(x).array}
        measured: dict[str, list[float]] = {name: [] for name in runtimes}
        for fn in runtimes.values():
            fn(images[:BATCH])  # warm-up: tracing, first-call allocations
        for _ in range(max(1, args.rounds)):
            for name, fn in runtimes.items():
                measured[name].append(images_per_second(fn, images))
        info = executor.describe()

    keras_ips, executor_ips = (statistics.median(measured[k]) for k in ("keras", "executor"))
    print(f"model: {model.name}, input {height}x{width}, {len(images)} images x {args.rounds} rounds, batch {BATCH}")
    print(f"package: {package.name}, opset {info['opset']}, float16 {info['float16']}, "
          f"rounding {info['fp16_rounding']}, batched {info['batched']}, executor backend {info['backend']}, "
          f"threads {info['threads']}")
    print(f"cpu: {cpu_line()}")
    print(f"{'runtime':10s} {'images/s':>10s} {'ms/image':>10s}   rounds (images/s)")
    for name, ips in (("keras", keras_ips), ("executor", executor_ips)):
        rounds = " ".join(f"{v:.1f}" for v in measured[name])
        print(f"{name:10s} {ips:10.1f} {1000 / ips:10.1f}   {rounds}")
    print(f"executor / keras: {executor_ips / keras_ips:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
