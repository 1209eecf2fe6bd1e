"""Benchmark `flowers-mobile convert` on the production-size model: MobileNetV2 1.0 / 224, 17 classes.

One run: builds the model (weights none: random initialisation weighs as much as trained
weights), writes drawn flower images as 17 class folders to calibrate int8 on, times
`flowers-mobile convert --target all` as a user runs it (a fresh process, TensorFlow import
included) pinned to `--cores` CPUs, and prints the size of each precision, the int8/float32
size ratio and the wall time against the project's goals.

    .venv/bin/python tools/bench_convert.py            # all targets (Core ML when available)
    .venv/bin/python tools/bench_convert.py --target tflite,saved_model
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_RATIO = 0.31
GOAL_SECONDS = 30.0


def make_data(root: Path, classes: int, per_class: int, size: int) -> list[str]:
    """`root/<class>/*.png`: drawn flowers, cycling over the synthetic kinds for more than 12 classes."""
    import numpy as np

    from flowers_mobile.data.synth import KINDS, draw_flower

    names = [f"{KINDS[i % len(KINDS)].name}_{i:02d}" for i in range(classes)]
    for ci, name in enumerate(names):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            draw_flower(KINDS[ci % len(KINDS)], np.random.default_rng([ci, i]), size).save(root / name / f"{i:03d}.png")
    return names


def make_model(path: Path, classes: int, input_size: int, alpha: float) -> None:
    from flowers_mobile.config import ModelConfig
    from flowers_mobile.model import build_classifier

    build_classifier(ModelConfig(input_size=input_size, alpha=alpha, weights="none"), classes).save(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--classes", type=int, default=17)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--target", default=None, help="default: all (tflite,saved_model when Core ML is absent)")
    parser.add_argument("--cores", type=int, default=2, help="CPUs the convert process may use")
    parser.add_argument("--keep", type=Path, default=None, help="keep the export in this folder")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    has_coreml = importlib.util.find_spec("flowers_mobile.export.coreml") is not None
    target = args.target or ("all" if has_coreml else "tflite,saved_model")
    from flowers_mobile.config import ExportConfig

    representative = ExportConfig().representative_size
    # Enough images that the 70 % training split holds the full representative set.
    per_class = math.ceil(representative / args.classes / 0.7) + 2
    work = Path(tempfile.mkdtemp(prefix="bench-convert-"))
    try:
        print(f"building MobileNetV2 {args.alpha} / {args.input_size}, {args.classes} classes, "
              f"{per_class} images per class ...", flush=True)
        labels = make_data(work / "data", args.classes, per_class, 128)
        make_model(work / "model.keras", args.classes, args.input_size, args.alpha)
        (work / "labels.txt").write_text("\n".join(sorted(labels)) + "\n")
        out = work / "export"
        cpus = sorted(os.sched_getaffinity(0))[: args.cores] if hasattr(os, "sched_getaffinity") else None
        cmd = [sys.executable, "-m", "flowers_mobile.cli", "convert", "--model", str(work / "model.keras"),
               "--data", str(work / "data"), "--target", target, "--out", str(out), "--progress"]
        load_before = os.getloadavg()[0]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"},
                              preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            print(proc.stdout + proc.stderr)
            return proc.returncode
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print("\nconvert steps (from its progress display):")
        for line in proc.stderr.splitlines():
            if "✓" in line:
                print("  " + line.strip())
        manifest = json.loads((out / "manifest.json").read_text())
        print_table(manifest, wall, cpu, len(cpus or []) or os.cpu_count(), load_before, target)
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.copytree(out, args.keep)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def print_table(manifest: dict, wall: float, cpu: float, cores: int, load: float, target: str) -> None:
    from rich.console import Console
    from rich.table import Table

    arts = {a["file"]: a for a in manifest["artifacts"]}
    f32 = arts["flowers_float32.tflite"]["bytes"]
    table = Table(title=f"convert --target {target}: MobileNetV2, input {arts['flowers.tflite']['input_shape'][1]}, "
                        f"{manifest['labels']['count']} classes")
    for col in ("artifact", "precision", "MB", "/ float32"):
        table.add_column(col, justify="left" if col in ("artifact", "precision") else "right")
    for name, art in arts.items():
        if name == "flowers.tflite":
            continue
        ratio = f"{art['bytes'] / f32:.3f}" if art["format"] == "tflite" else ""
        table.add_row(name, art["precision"], f"{art['bytes'] / 1e6:.2f}", ratio)
    console = Console()
    console.print(table)
    ratio = arts["flowers_int8.tflite"]["bytes"] / f32
    ok = "[green]ok[/]"
    miss = "[red]MISSED[/]"
    console.print(f"int8 / float32 size: {ratio:.3f} (goal <= {GOAL_RATIO}) {ok if ratio <= GOAL_RATIO else miss}")
    console.print(f"convert wall time: {wall:.1f} s on {cores} cores (goal < {GOAL_SECONDS:.0f} s) "
                  f"{ok if wall < GOAL_SECONDS else miss}; CPU time {cpu:.1f} s; "
                  f"load average before: {load:.2f} (other work on the machine slows the run)")


if __name__ == "__main__":
    sys.exit(main())
