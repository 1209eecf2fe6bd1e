"""Keras, the real Core ML runtime and the numpy Core ML executor on the same images.

For the macOS CI job: proves the package computes what the Keras model computes on Apple's own
runtime, and that the numpy executor (what Linux CI trusts) answers like that runtime.

    python tools/coreml_native_parity.py --model model.keras --package Flowers.mlpackage --data DIR
        [--max-images 200] [--executor-only] [--compute-units ALL]

Prints top-1 agreement and max abs probability difference for each pair and checks them
against the package variant's row of config.parity.limits (float32 by max abs diff, float16 by
top-1 agreement and max abs diff, each compressed variant by its own top-1 agreement limit).
Exit 0 when every pair is within limits, 1 when one is not, 2 for bad input or when the
native runtime is unavailable (anything but macOS) and --executor-only was not given.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from flowers_mobile import variants  # noqa: E402
from flowers_mobile.config import ParityConfig  # noqa: E402
from flowers_mobile.errors import UserError  # noqa: E402
from flowers_mobile.images import IMAGE_SUFFIXES, load_image  # noqa: E402


def limits(precision: str, pc: ParityConfig) -> dict[str, tuple[str, float]]:
    """metric -> (op, limit) for a package of `precision`, from its variant's `parity.limits` row
    (flowers_mobile/variants.py): top-1 agreement where the row holds one, and for compute
    precisions the max abs difference bounded by the row's p99 bound (stricter: every image)."""
    variant = variants.variant_of("mlpackage", precision)
    if variant is None:
        raise UserError(f"the package's precision {precision!r} is no Core ML variant",
                        hint=f"known: {', '.join(v.precision for v in variants.CATALOGUE if v.format == 'mlpackage')}")
    row = pc.limits.variants()[variant.limits]
    rules: dict[str, tuple[str, float]] = {}
    if row.min_agreement > 0:
        rules["top1_agreement"] = (">=", row.min_agreement)
    if variant.kind == "coreml_precision":
        rules["max_abs_diff"] = ("<=", row.max_p99_abs_diff)
    return rules


def compare(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    return {"top1_agreement": float(np.mean(a.argmax(1) == b.argmax(1))),
            "max_abs_diff": float(np.max(np.abs(a - b)))}


def find_images(folder: Path, max_images: int) -> list[Path]:
    """Image files anywhere under `folder` (class folders or flat), sorted, spread over sub-folders."""
    if not folder.is_dir():
        raise UserError(f"--data {folder} is not a folder")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"no images under {folder}", hint=f"expected files ending in {', '.join(IMAGE_SUFFIXES)}")
    by_folder: dict[Path, list[Path]] = {}
    for f in files:
        by_folder.setdefault(f.parent, []).append(f)
    # Round-robin over folders so a cut at --max-images keeps every class.
    picked: list[Path] = []
    queues = list(by_folder.values())
    while len(picked) < max_images and any(queues):
        for queue in queues:
            if queue and len(picked) < max_images:
                picked.append(queue.pop(0))
    return picked


def run(args: argparse.Namespace) -> int:
    from flowers_mobile.runtimes.base import load_predictor
    from flowers_mobile.runtimes.coreml import coreml_available

    reason = coreml_available()
    if reason is not None and not args.executor_only:
        print(f"native Core ML runtime unavailable: {reason}")
        return 2
    package = Path(args.package)
    executor = load_predictor(package, runtime="coreml_executor")
    size = executor.input_size
    images = np.stack([load_image(p, (size[1], size[0])) for p in find_images(Path(args.data), args.max_images)])

    import keras

    model = keras.saving.load_model(os.fspath(args.model), compile=False)
    if model.output_shape[-1] != len(executor.labels):
        raise UserError(f"{args.model} has {model.output_shape[-1]} outputs; {package} has {len(executor.labels)} labels")
    results = {"keras": model.predict(images.astype(np.float32), batch_size=32, verbose=0),
               "executor": executor.predict(images)}
    if reason is None:
        from flowers_mobile.runtimes.coreml import CoreMLPredictor

        results["coreml"] = CoreMLPredictor(package, compute_units=args.compute_units).predict(images)

    precision = executor.describe().get("precision", "float16")
    rules = limits(precision, ParityConfig())
    pairs = [("executor", "keras")] + ([("coreml", "keras"), ("coreml", "executor")] if "coreml" in results else [])
    print(f"{package} ({precision}), {len(images)} images at {size[1]}x{size[0]}, labels {len(executor.labels)}")
    print(f"{'pair':22s} {'top-1 agreement':>16s} {'max abs diff':>13s}  result")
    failed = False
    for a, b in pairs:
        stats = compare(results[a], results[b])
        ok = all(stats[m] >= lim if op == ">=" else stats[m] <= lim for m, (op, lim) in rules.items())
        failed |= not ok
        print(f"{a + ' vs ' + b:22s} {stats['top1_agreement']:16.4f} {stats['max_abs_diff']:13.2e}  "
              f"{'ok' if ok else 'FAIL'}")
    print("limits: " + ", ".join(f"{m} {op} {lim:g}" for m, (op, lim) in rules.items()))
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the Keras model the package was converted from")
    parser.add_argument("--package", required=True, help="the .mlpackage")
    parser.add_argument("--data", required=True, help="folder of images (class sub-folders or flat)")
    parser.add_argument("--max-images", type=int, default=200)
    parser.add_argument("--executor-only", action="store_true",
                        help="compare only the numpy executor with Keras (any OS)")
    parser.add_argument("--compute-units", default="ALL", choices=["ALL", "CPU_ONLY", "CPU_AND_GPU", "CPU_AND_NE"])
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UserError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
