"""Images per second of the numpy Core ML executor beside Keras, same model, same images, one run.

    python tools/bench_coreml_executor.py                      # MobileNetV2 alpha 0.35 at 96 px, exported here
    python tools/bench_coreml_executor.py --model M.keras --package Flowers.mlpackage [--images 256]

Without --model a MobileNetV2 (alpha 0.35, 96 px, weights none, 5 classes) is built; without
--package the model is exported with `export_coreml` (float16, the iOS default) into a
temporary folder first (that conversion is not timed). Both runtimes get the same uint8 images
in batches of 32 after one warm-up batch; Keras runs through one `tf.function`, as the Keras
runtime does. For information only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BATCH = 32


def images_per_second(fn, images: np.ndarray) -> float:
    fn(images[:BATCH])  # warm-up: tracing, first-call allocations
    start = time.perf_counter()
    for i in range(0, len(images), BATCH):
        fn(images[i:i + BATCH])
    return len(images) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="Keras model (default: MobileNetV2 alpha 0.35, 96 px, built here)")
    parser.add_argument("--package", help=".mlpackage of that model (default: exported here, float16)")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for the executor")
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
        model = build_classifier(ModelConfig(input_size=96, alpha=0.35, weights="none"), 5)
    labels = [f"class_{i}" for i in range(model.output_shape[-1])]
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(args.package) if args.package else None
        if package is None:
            start = time.perf_counter()
            export_coreml(model, labels, Path(tmp), ExportConfig(), source_model_sha256="-", labels_sha256="-")
            package = Path(tmp) / DEFAULT_PACKAGE
            print(f"exported {package.name} in {time.perf_counter() - start:.1f} s (not timed below)")
        executor = CoreMLExecutor(package, threads=args.threads, fp16_rounding=not args.no_fp16_rounding)
        height, width = executor.input_shape[2:]
        images = np.random.default_rng(0).integers(0, 256, (args.images, height, width, 3), dtype=np.uint8)

        forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        keras_ips = images_per_second(lambda x: forward(tf.constant(x, tf.float32)).numpy(), images)
        executor_ips = images_per_second(lambda x: executor.predict(x).array, images)
        info = executor.describe()

    print(f"model: {model.name}, input {height}x{width}, {len(images)} images, batch {BATCH}")
    print(f"package: {package.name}, opset {info['opset']}, float16 {info['float16']}, "
          f"rounding {info['fp16_rounding']}, batched {info['batched']}, BLAS threads {args.threads}")
    print(f"{'runtime':10s} {'images/s':>10s}")
    print(f"{'keras':10s} {keras_ips:10.1f}")
    print(f"{'executor':10s} {executor_ips:10.1f}")
    print(f"executor / keras: {executor_ips / keras_ips:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
