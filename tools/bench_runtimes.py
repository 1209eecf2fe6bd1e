"""Benchmark every runtime on MobileNetV2 1.0 / 224 with 17 classes, in one run on this machine.

    .venv/bin/python tools/bench_runtimes.py [--work DIR] [--images 20] [--threads 1,2] [--targets all]

Builds the classifier offline (weights none: size and speed do not depend on the weights),
draws a 17-class calibration set, converts it with the convert library (every TFLite
precision, Core ML, SavedModel), then runs the benchmark library (each runtime in its own
process, Keras float32 as the reference) and prints the table and the README's figures:
int8 / float32 TFLite size (goal <= 0.31), each artifact's p50 latency as a ratio to Keras
single-image latency, and the achieved GFLOP/s of float32 LiteRT (MobileNetV2 1.0 / 224 is
about 0.6 GFLOP per image).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

NUM_CLASSES = 17
INPUT_SIZE = 224
IMAGES_PER_CLASS = 6
INT8_SIZE_GOAL = 0.31


def make_calibration_data(root: Path, classes: int, per_class: int, size: int) -> None:
    """`classes` folders of drawn flowers (the synthetic kinds, cycled) for int8 calibration."""
    import numpy as np

    from flowers_mobile.data.synth import KINDS, draw_flower

    for c in range(classes):
        folder = root / f"class_{c:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            draw_flower(KINDS[c % len(KINDS)], np.random.default_rng([7, c, i]), size).save(folder / f"{i:03d}.png")


def build_model(run: Path, labels: list[str]) -> Path:
    """MobileNetV2 1.0 / 224, 17-class head, random weights, saved as run/model.keras + labels.txt."""
    from flowers_mobile.config import ModelConfig
    from flowers_mobile.labels import write_labels
    from flowers_mobile.model import build_classifier

    run.mkdir(parents=True, exist_ok=True)
    model = build_classifier(ModelConfig(input_size=INPUT_SIZE, alpha=1.0, weights="none"), len(labels))
    model.save(run / "model.keras")
    write_labels(run / "labels.txt", labels)
    return run / "model.keras"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument("--images", type=int, default=20, help="timed single-image predictions per thread count")
    parser.add_argument("--batch", type=int, default=16, help="batch size for throughput")
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated")
    parser.add_argument("--targets", default="all", help="convert targets (tflite, coreml, saved_model, all)")
    args = parser.parse_args(argv)

    from rich.console import Console

    from flowers_mobile.benchmark import run_benchmark
    from flowers_mobile.commands.benchmark import render_table
    from flowers_mobile.config import Config
    from flowers_mobile.export.convert import convert

    console = Console(width=200, highlight=False)
    with tempfile.TemporaryDirectory(prefix="bench-runtimes-") as tmp:
        work = args.work or Path(tmp)
        data, run, export = work / "data", work / "run", work / "export"
        labels = [f"class_{c:02d}" for c in range(NUM_CLASSES)]
        t = time.perf_counter()
        make_calibration_data(data, NUM_CLASSES, IMAGES_PER_CLASS, INPUT_SIZE)
        model = build_model(run, labels)
        console.print(f"built MobileNetV2 1.0/{INPUT_SIZE}, {NUM_CLASSES} classes ({time.perf_counter() - t:.1f} s)")
        t = time.perf_counter()
        cfg = Config().with_overrides([f"export.representative_size={NUM_CLASSES * IMAGES_PER_CLASS}"])
        convert(model, export, cfg, targets=tuple(args.targets.split(",")), data_dir=data, progress=False)
        console.print(f"convert --target {args.targets}: {time.perf_counter() - t:.1f} s")
        report = run_benchmark(export, model, images=args.images, batch=args.batch,
                               threads=[int(x) for x in args.threads.split(",")],
                               progress=lambda msg: console.print(f"  {msg}", style="dim", markup=False))
        console.print(render_table(report))

        ok = True
        ratio = report.int8_size_ratio()
        if ratio is not None:
            good = ratio <= INT8_SIZE_GOAL
            ok &= good
            console.print(f"int8 / float32 TFLite size: {ratio:.3f} (goal <= {INT8_SIZE_GOAL}: "
                          f"{'met' if good else 'NOT met'})")
        ref = report.reference()
        if ref is not None:
            keras_p50 = ", ".join(f"{m['p50_ms']:.1f} ms at {t} thread(s)" for t, m in ref.by_threads.items())
            console.print(f"p50 latency as a ratio to Keras single-image latency (Keras: {keras_p50}):")
            for e in report.entries:
                if e.reference or e.error:
                    continue
                ratios = ", ".join(f"{e.ratios.get(f'p50_ms@{t}', float('nan')):.2f}x at {t}" for t in e.by_threads)
                console.print(f"  {e.name:42s} {ratios}" + ("  (includes IPC)" if e.ipc else ""), markup=False)
        f32 = report.find(precision="float32", runtime="litert")
        if f32 is not None and report.flops:
            console.print(f"float32 LiteRT: {report.flops / 1e9:.3f} GFLOP per image; achieved "
                          + ", ".join(f"{g:.1f} GFLOP/s at {t} thread(s)" for t, g in f32.gflops_per_s.items()))
        errors = [f"{e.name}: {e.error}" for e in report.entries if e.error]
        for line in errors:
            console.print(f"error {line}", style="red", markup=False)
        console.print(f"machine: {report.machine}; benchmark {report.seconds:.0f} s")
        return 0 if ok and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
