"""The Core ML executor on the keras.applications classifiers users bring: does it run them, how
close is it to Keras, how fast beside Keras, in one run.

    python tools/bench_executor_coverage.py                       # all nine at 80 px, 32 images each
    python tools/bench_executor_coverage.py --models VGG16,ConvNeXtTiny --size 96 --images 64

Per model: the backbone (random weights, `weights=None`) with its own preprocessing inside the
graph (raw RGB 0..255 in, as every flowers-mobile export takes), global average pooling and a
3-class Dense softmax head, exported with the project's exporter (`export_coreml`, both compute
precisions) and run by the executor (default backend) on the same random uint8 images as Keras.

Keeping the comparison meaningful on random weights:
- BatchNorm keeps its initial statistics (mean 0, variance 1) unless --calibrate-batchnorm sets
  them from the images (one training-mode pass with momentum 0, as `model.calibrate_batchnorm`
  does for MobileNetV2). Calibrated random statistics give BatchNorm gains up to ~25, and
  coremltools folds a BatchNorm it cannot fuse into new batch_norm constants computed in
  float32: ResNet50V2's first one, evaluated exactly in float64 from the package's constants,
  is already 3.4e-5 off Keras's, and ResNet50V2 / DenseNet121 end ~1e-3 off (a property of the
  package: the executor's batch_norm gives those constants' value within 1e-6);
- the head is scaled so its logits spread by about 2 over the images: a head reading huge raw
  features gives one-hot probabilities, whose differences say nothing. The table's `top p`
  column is the mean largest probability (1/3 would be uniform, 1.0 one-hot). Where the
  random network's features barely differ between images (MobileNetV3, EfficientNet without
  --calibrate-batchnorm), that head also amplifies float16's rounding: read their float16
  column with docs/coreml_executor.md's notes.

ConvNeXtTiny: Keras 3 runs a grouped Conv2D through an XLA-compiled function and writes exact
GELU with erfc; coremltools 9.0's TensorFlow frontend converts neither (StatefulPartitionedCall,
Erfc), so the exporter cannot convert it as built. Here it is rebuilt first with each
depthwise-grouped Conv2D as a DepthwiseConv2D and GELU as 0.5 x (1 + erf(x / sqrt 2)), the
same function (the rebuilt model is checked against the original), and compared with the
original model.

Columns: max |dp| of the float32 package against Keras (must be <= 1e-4), of the float16
package (its parity limit is the p99 bound of `parity.limits.coreml_float16`), and images/s of
Keras and the executor on the float32 package, taking turns for --rounds rounds (medians).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_coreml_executor import BATCH, cpu_line, images_per_second  # noqa: E402

MODELS = ("VGG16", "VGG19", "Xception", "ResNet50V2", "DenseNet121", "ConvNeXtTiny", "EfficientNetB0",
          "MobileNetV3Small", "MobileNetV3Large")
#: keras.applications module whose preprocess_input a model needs; None: inside the model already.
PREPROCESS = {"VGG16": "vgg16", "VGG19": "vgg19", "Xception": "xception", "ResNet50V2": "resnet_v2",
              "DenseNet121": "densenet"}
FLOAT32_LIMIT = 1e-4


def test_images(count: int, size: int, seed: int = 0) -> np.ndarray:
    """uint8 images that differ from each other as photos do: smooth colour fields (a 4x4 grid of
    random colours, resized) plus a little pixel noise. White-noise images all give a random
    network nearly the same pooled features, and a head that spreads those apart amplifies
    float32 rounding instead of measuring the executor."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (count, 4, 4, 3)).astype(np.float32)
    smooth = tf.image.resize(coarse, (size, size), method="bicubic").numpy()
    noisy = smooth + rng.normal(0, 8, smooth.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def build(name: str, size: int, images: np.ndarray, calibrate: bool = False) -> Any:
    """The classifier around keras.applications `name`, the head scaled (BatchNorm set from
    `images` when `calibrate`)."""
    import keras

    app = getattr(keras.applications, name)
    kwargs = {"include_preprocessing": True} if name.startswith(("MobileNetV3", "ConvNeXt")) else {}
    backbone = app(include_top=False, weights=None, input_shape=(size, size, 3), **kwargs)
    inputs = keras.Input((size, size, 3), name="image")
    x = inputs
    if name in PREPROCESS:
        preprocess = getattr(keras.applications, PREPROCESS[name]).preprocess_input
        x = keras.layers.Lambda(preprocess, name="preprocess")(x)
    features_model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(backbone(x)))
    if calibrate:
        _calibrate_batchnorm(backbone, keras.Model(inputs, x), images)
    features = features_model.predict(images, verbose=0).astype(np.float64)
    head = keras.layers.Dense(3, activation="softmax", name="probabilities")
    model = keras.Model(inputs, head(features_model.output), name=name.lower())
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(features.shape[1], 3))
    logits = (features - features.mean(0)) @ kernel
    kernel *= 2.0 / max(float(logits.std()), 1e-12)
    head.set_weights([kernel.astype(np.float32), (-features.mean(0) @ kernel).astype(np.float32)])
    return model


def _calibrate_batchnorm(backbone: Any, preprocess: Any, images: np.ndarray) -> None:
    import keras

    layers = [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        return
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    backbone(preprocess(images), training=True)
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum


def convertible(model: Any, images: np.ndarray) -> Any:
    """`model` with the layers coremltools 9.0's TF frontend cannot convert rewritten (see above)."""
    import keras

    def rewrite(layer: Any) -> Any:
        config = layer.get_config()
        if isinstance(layer, keras.layers.Conv2D) and layer.groups > 1 and layer.groups == layer.filters:
            return keras.layers.DepthwiseConv2D(layer.kernel_size, strides=layer.strides, padding=layer.padding,
                                                dilation_rate=layer.dilation_rate, use_bias=layer.use_bias,
                                                name=layer.name)
        if isinstance(layer, keras.layers.Activation) and config.get("activation") == "gelu":
            return keras.layers.Lambda(lambda t: 0.5 * t * (1.0 + keras.ops.erf(t * 0.7071067811865476)),
                                       name=layer.name)
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, clone_function=rewrite)
        return layer.__class__.from_config(config)

    rebuilt = keras.models.clone_model(model, clone_function=rewrite)
    _copy_weights(model, rebuilt)
    gap = float(np.abs(model.predict(images, verbose=0) - rebuilt.predict(images, verbose=0)).max())
    if gap > 1e-5:
        raise RuntimeError(f"{model.name}: the rewritten model differs from the original by {gap:.2e}")
    return rebuilt


def _copy_weights(source: Any, target: Any) -> None:
    import keras

    for old, new in zip(source.layers, target.layers, strict=True):
        if isinstance(old, keras.Model):
            _copy_weights(old, new)
            continue
        weights = old.get_weights()
        if isinstance(new, keras.layers.DepthwiseConv2D) and not isinstance(old, keras.layers.DepthwiseConv2D):
            weights[0] = np.transpose(weights[0], (0, 1, 3, 2))  # (kh, kw, 1, C) -> (kh, kw, C, 1)
        new.set_weights(weights)


def measure(name: str, size: int, count: int, rounds: int, backend: str, calibrate: bool = False) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    from flowers_mobile.config import ExportConfig
    from flowers_mobile.coreml_exec import CoreMLExecutor
    from flowers_mobile.export.coreml import export_coreml

    keras.utils.set_random_seed(0)
    images = test_images(count, size)
    pixels = images.astype(np.float32)
    model = build(name, size, pixels, calibrate)
    exported = convertible(model, pixels) if name.startswith("ConvNeXt") else model
    row: dict[str, Any] = {"model": name}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        artifacts = export_coreml(exported, ["a", "b", "c"], Path(tmp), ExportConfig(coreml_precision="float32"),
                                  source_model_sha256="-", labels_sha256="-", precision="float16")
        row["export_s"] = time.perf_counter() - start
        files = {a.precision: Path(tmp) / a.file for a in artifacts}
        forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        want = np.concatenate([forward(tf.constant(pixels[i:i + BATCH])).numpy() for i in range(0, count, BATCH)])
        row["top_p"] = float(want.max(axis=1).mean())
        executors = {p: CoreMLExecutor(files[p], backend=backend) for p in ("float32", "float16")}
        for precision, executor in executors.items():
            got = executor.predict(images).array
            row[f"{precision}_dp"] = float(np.abs(got - want).max())
        row["ops"] = executors["float32"].describe()["ops"]
        runtimes = {"keras": lambda x: forward(tf.constant(x, tf.float32)).numpy(),
                    "executor": lambda x: executors["float32"].predict(x).array}
        measured: dict[str, list[float]] = {k: [] for k in runtimes}
        for _ in range(max(1, rounds)):
            for key, fn in runtimes.items():
                measured[key].append(images_per_second(fn, images))
    row["keras_ips"] = statistics.median(measured["keras"])
    row["executor_ips"] = statistics.median(measured["executor"])
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated keras.applications names")
    parser.add_argument("--size", type=int, default=80, help="input size (Xception needs 71 or more)")
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calibrate-batchnorm", action="store_true",
                        help="set BatchNorm statistics from the images (see the module doc)")
    parser.add_argument("--backend", default="auto", choices=("auto", "tensorflow", "numpy"))
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")

    from flowers_mobile.config import ParityLimits

    fp16_limit = ParityLimits().coreml_float16.max_p99_abs_diff
    rows = []
    for name in names:
        row = measure(name, args.size, args.images, args.rounds, args.backend, args.calibrate_batchnorm)
        rows.append(row)
        print(f"{name}: exported in {row['export_s']:.0f} s; ops {', '.join(f'{k} {v}' for k, v in row['ops'].items())}",
              flush=True)
    print(f"\n{args.images} images at {args.size} px per model, random weights "
          f"({'BatchNorm calibrated' if args.calibrate_batchnorm else 'initial BatchNorm statistics'}), batch {BATCH}, "
          f"{args.rounds} rounds, executor backend {args.backend}")
    print(f"cpu: {cpu_line()}")
    header = (f"{'model':17s} {'top p':>6s} {'fp32 max|dp|':>13s} {'fp16 max|dp|':>13s} "
              f"{'keras img/s':>12s} {'exec img/s':>11s} {'exec/keras':>10s}")
    print(header)
    failed = []
    for row in rows:
        ok32 = row["float32_dp"] <= FLOAT32_LIMIT
        ok16 = row["float16_dp"] <= fp16_limit
        if not ok32:
            failed.append(row["model"])
        print(f"{row['model']:17s} {row['top_p']:6.3f} {row['float32_dp']:11.1e}{' ' if ok32 else '!'} "
              f"{row['float16_dp']:11.1e}{' ' if ok16 else '*'} {row['keras_ips']:12.1f} {row['executor_ips']:11.1f} "
              f"{row['executor_ips'] / row['keras_ips']:10.2f}")
    print(f"float32 limit {FLOAT32_LIMIT:g} (! above it); float16: * above {fp16_limit:g}, parity's p99 bound")
    if failed:
        print(f"float32 package off Keras by more than {FLOAT32_LIMIT:g}: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
