"""Keras, the real Core ML runtime and the numpy Core ML executor on the same images.

For the macOS CI job: proves the package computes what the Keras model computes on Apple's own
runtime, and that the numpy executor (what Linux CI trusts) answers like that runtime.

    python tools/coreml_native_parity.py --model model.keras --package Flowers.mlpackage --data DIR
        [--max-images 200] [--executor-only] [--compute-units ALL]

Each runtime's answers are judged against Keras by the judge `parity` and `convert` use
(flowers_mobile.judge): faithful (within the package precision's own rounding of this model,
bounds derived from the model) and fit to ship (the variant's row of config.parity.limits). The
native runtime is also compared with the executor (top-1 agreement, max |dp|; shown, not judged).
Exit 0 when every run is judged pass or inconclusive, 1 when one fails or cannot run (error), 2
for bad input or when the native runtime is unavailable (anything but macOS) and --executor-only
was not given.
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
    from flowers_mobile.judge import ExportParity, answer_text, assess, judged
    from flowers_mobile.keras_file import load_keras_model
    from flowers_mobile.runtimes.base import load_predictor
    from flowers_mobile.runtimes.coreml import coreml_available

    reason = coreml_available()
    if reason is not None and not args.executor_only:
        print(f"native Core ML runtime unavailable: {reason}")
        return 2
    package = Path(args.package)
    executor = load_predictor(package, runtime="coreml_executor")
    size, labels = executor.input_size, executor.labels
    paths = find_images(Path(args.data), args.max_images)
    images = np.stack([load_image(p, (size[1], size[0])) for p in paths])
    model = load_keras_model(args.model)
    if model.output_shape[-1] != len(labels):
        raise UserError(f"{args.model} has {model.output_shape[-1]} outputs; {package} has {len(labels)} labels")
    held = judged(lambda: load_keras_model(args.model), images, None, labels, paths, ["given"],
                  model_path=Path(args.model))
    results = {"executor": executor.predict(images)}
    if reason is None:
        from flowers_mobile.runtimes.coreml import CoreMLPredictor

        results["coreml"] = CoreMLPredictor(package, compute_units=args.compute_units).predict(images)

    precision = executor.describe().get("precision", "float16")
    variant = variants.variant_of("mlpackage", precision)
    if variant is None:
        raise UserError(f"the package's precision {precision!r} is no Core ML variant",
                        hint=f"known: {', '.join(v.precision for v in variants.CATALOGUE if v.format == 'mlpackage')}")
    pc = ParityConfig()
    print(f"{package} ({precision}), {len(images)} images at {size[1]}x{size[0]}, labels {len(labels)}")
    print(f"{'pair':22s} {'agreement':>10s} {'max |dp|':>9s} {'mean TV':>9s} {'TV bound':>9s}  verdict")
    failed = False
    for name, probs in results.items():
        result = ExportParity(file=package.name, runtime=name, format="mlpackage", precision=precision,
                              variant=variant.limits, images=len(images), ships=True)
        assess(result, probs, held, pc, strict=False)
        failed |= result.verdict in ("fail", "error")
        verdict = "FAIL" if result.verdict == "fail" else result.verdict
        print(f"{name + ' vs keras':22s} {result.top1_agreement:10.4f} {result.max_abs_diff:9.2e} "
              f"{result.mean_tv:9.2e} {result.bounds.get('mean_tv', float('nan')):9.2e}  {verdict}: "
              f"{answer_text(result)}")
    if "coreml" in results:
        stats = compare(results["coreml"], results["executor"])
        print(f"{'coreml vs executor':22s} {stats['top1_agreement']:10.4f} {stats['max_abs_diff']:9.2e}  (shown)")
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
