"""ARM cost of an untrained MobileNetV2 classifier's TFLite exports, counted twice (docs/arm_cost.md).

Builds MobileNetV2 (weights none, `--alpha`, `--size`, `--classes` outputs) with the project's
model builder, converts it with the project's converter to float32, float16, dynamic and int8
(int8 calibrated on drawn images), counts the instructions per image of every file on each CPU
profile in two separate QEMU runs, and prints the table, the ratio to float32, the spread between
the runs, and the reference figures of issue 23 for 1.0 / 224 / 17 classes on the Cortex-A76.

    PYTHONPATH=src .venv/bin/python tools/bench_arm_cost.py [--alpha 1.0 --size 224 --classes 17]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

#: Issue 23's measurement (QEMU 7.2, LiteRT 2.3.0, cortex-a76, 1 thread), MobileNetV2 1.0 / 224, 17 classes.
REFERENCE_1_0_224 = {"float32": 120_190_088, "float16": 120_190_126, "dynamic": 94_125_200, "int8": 49_485_036}
PRECISIONS = ("float32", "float16", "dynamic", "int8")


def build_export(work: Path, alpha: float, size: int, classes: int) -> Path:
    from flowers_mobile.config import Config, ModelConfig
    from flowers_mobile.data.synth import generate_dataset
    from flowers_mobile.export.convert import convert
    from flowers_mobile.model import build_classifier

    labels = [f"class_{i}" for i in range(classes)]
    model = build_classifier(ModelConfig(input_size=size, alpha=alpha, weights="none"), classes)
    model.save(work / "model.keras")
    (work / "labels.txt").write_text("\n".join(labels) + "\n", encoding="utf-8")
    # Calibration images only: a flat folder of drawn flowers (any images will do for a count).
    generate_dataset(work / "calib", 4, 8, size, seed=3)
    flat = work / "calib_flat"
    flat.mkdir()
    for i, png in enumerate(sorted((work / "calib").rglob("*.png"))):
        png.rename(flat / f"{i}.png")
    cfg = Config().with_overrides(["export.representative_size=32"])
    convert(work / "model.keras", work / "export", cfg, targets=("tflite",), precisions=["none", "fp16", "dynamic",
            "int8"], data_dir=flat, progress=None, default="none")
    return work / "export"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=17)
    parser.add_argument("--profiles", default="cortex-a76,cortex-a55")
    args = parser.parse_args(argv)
    from flowers_mobile.armcost import find_root, measure_files

    root = find_root()
    with tempfile.TemporaryDirectory(prefix="bench-arm-") as tmp:
        start = time.perf_counter()
        export = build_export(Path(tmp), args.alpha, args.size, args.classes)
        convert_s = time.perf_counter() - start
        files = [export / f"flowers_{p}.tflite" for p in PRECISIONS]
        profiles = args.profiles.split(",")
        runs = [measure_files(files, profiles, root=root) for _ in range(2)]
    first, second = runs
    print(f"MobileNetV2 {args.alpha} / {args.size} px, {args.classes} classes, untrained; converted in "
          f"{convert_s:.0f} s; counted twice in {first.seconds:.0f} s and {second.seconds:.0f} s")
    print(first.environment())
    reference = REFERENCE_1_0_224 if (args.alpha, args.size, args.classes) == (1.0, 224, 17) else {}
    for profile in profiles:
        f32 = first.get("flowers_float32.tflite", profile).instructions
        print(f"\n{first.profiles[profile]['label']} (QEMU -cpu {first.profiles[profile]['qemu_cpu']})")
        print(f"{'precision':10} {'instructions/img':>17} {'x float32':>10} {'run 2 - run 1':>14}"
              + (f" {'issue 23':>13} {'diff':>8}" if reference and profile == "cortex-a76" else ""))
        for precision in PRECISIONS:
            name = f"flowers_{precision}.tflite"
            a, b = first.get(name, profile).instructions, second.get(name, profile).instructions
            line = f"{precision:10} {a:>17,} {a / f32:>10.3f} {b - a:>14,}"
            if reference and profile == "cortex-a76":
                ref = reference[precision]
                line += f" {ref:>13,} {100 * (a - ref) / ref:>+7.3f}%"
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
