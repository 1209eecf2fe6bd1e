#!/usr/bin/env python
"""What reproducible training costs: epoch time with `training.deterministic` true and false.

Trains the same config on the same synthetic data four times in one process, alternating
deterministic and not (so load drifts hit both alike), and prints side by side: the median
seconds of a fine-tuning epoch (the first epoch of each phase is left out: it holds the graph
trace), the phase-1 feature extraction, whole-run wall time, and whether each pair of runs
ended with identical weights.

    python tools/bench_determinism.py                          # configs/demo.json
    python tools/bench_determinism.py --set training.finetune_epochs=6 --set data.synth_per_class=40

A shared machine makes the timings noisy: run it on a quiet one for the figures you keep.
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
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from flowers_mobile.config import load_config  # noqa: E402


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical CPUs)"
    return f"unknown CPU ({os.cpu_count()} logical CPUs)"


def one_run(data: Path, out: Path, cfg) -> dict:
    import keras

    from flowers_mobile.training import train

    start = time.perf_counter()
    result = train(data, out, cfg, progress=False)
    wall = time.perf_counter() - start
    phases = {p["key"]: p["history"]["epoch_seconds"] for p in result.history["phases"]}
    steady = phases.get("finetune", [])[1:]
    weights = keras.saving.load_model(result.model_path, compile=False).get_weights()
    return {"wall": wall, "epoch": statistics.median(steady) if steady else float("nan"),
            "features": result.metrics["seconds"].get("features", float("nan")), "weights": weights,
            "val_accuracy": result.metrics["val_accuracy"]}


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def main() -> int:
    from flowers_mobile.data.synth import generate_dataset

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "demo.json")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    base = load_config(args.config, args.overrides)
    work = Path(tempfile.mkdtemp(prefix="bench-determinism-"))
    d = base.data
    data = work / "data"
    generate_dataset(data, d.synth_classes, d.synth_per_class, d.synth_image_size, d.seed,
                     test_per_class=d.synth_test_per_class, val_share=d.val_fraction / (d.train_fraction + d.val_fraction))
    runs: dict[bool, list[dict]] = {True: [], False: []}
    for i, mode in enumerate((True, False, True, False)):
        cfg = base.with_overrides([f"training.deterministic={str(mode).lower()}"])
        runs[mode].append(one_run(data, work / f"run{i}", cfg))
        r = runs[mode][-1]
        print(f"run {i + 1}: deterministic={mode}: {r['wall']:.1f} s, fine-tune epoch {r['epoch']:.2f} s, "
              f"val accuracy {r['val_accuracy']:.4f}", flush=True)

    def med(mode: bool, key: str) -> float:
        return statistics.median(r[key] for r in runs[mode])

    print(f"\nconfig: {args.config.name} {' '.join(args.overrides)}")
    print(f"{'':<28}{'deterministic':>14}{'not':>10}{'ratio':>8}")
    for key, label in (("epoch", "fine-tune epoch (s)"), ("features", "phase-1 features (s)"), ("wall", "whole run (s)")):
        det, fast = med(True, key), med(False, key)
        print(f"{label:<28}{det:>14.2f}{fast:>10.2f}{det / fast:>8.2f}x")
    print(f"{'two runs, same weights':<28}{str(same(*(r['weights'] for r in runs[True]))):>14}"
          f"{str(same(*(r['weights'] for r in runs[False]))):>10}")
    print(f"CPU: {cpu_name()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
