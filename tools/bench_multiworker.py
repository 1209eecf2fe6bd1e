"""Training images/s as one process and as N local MultiWorkerMirroredStrategy workers, side by side.

    .venv/bin/python tools/bench_multiworker.py                  # 1 vs 2 workers, alpha 0.35 at 64 px
    .venv/bin/python tools/bench_multiworker.py --workers 4 --input-size 96 --images 400

Both runs are `flowers-mobile train` on the same generated flowers with the same config (from
scratch, every backbone layer and BatchNorm trained: the heaviest step): one with ``training.distribute=none`` (Keras fit), one with ``--workers N``
(the custom loop). Images/s is the fine-tune phase's steady state: its steps x global batch
over the median epoch time, leaving out the first epoch (graph tracing, decoding, cache fill).
On one machine the N workers share its cores, so this measures the cost of the cluster
machinery (collectives over loopback), not the speed-up of a real cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(data: Path, out: Path, settings: list[str], workers: int) -> dict:
    cmd = [sys.executable, "-m", "flowers_mobile.cli", "train", "--data", str(data), "--out", str(out),
           "--no-progress", *[a for s in settings for a in ("--set", s)]]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    wall = time.perf_counter() - started
    if proc.returncode:
        sys.exit(f"train ({workers} worker(s)) failed:\n{proc.stderr[-3000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    history = json.loads((out / "history.json").read_text())
    finetune = next(p for p in history["phases"] if p["key"] == "finetune")
    return {"wall": wall, "epochs": finetune["history"]["epoch_seconds"], "val": metrics["val_accuracy"],
            "train_images": metrics["run"]["images"]["train"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--images", type=int, default=240, help="generated images in all (default 240)")
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--alpha", type=float, default=0.35)
    parser.add_argument("--batch-size", type=int, default=16, help="global batch")
    parser.add_argument("--epochs", type=int, default=4, help="fine-tune epochs (>= 2; the first is not timed)")
    args = parser.parse_args(argv)
    if args.epochs < 2 or args.workers < 2:
        parser.error("--epochs and --workers must be at least 2")

    from flowers_mobile.benchmark import machine_info
    from flowers_mobile.data.synth import generate_dataset

    settings = [f"model.input_size={args.input_size}", f"model.alpha={args.alpha}", "model.weights=none",
                f"training.batch_size={args.batch_size}", "training.head_epochs=1",
                f"training.finetune_epochs={args.epochs}", "training.finetune_fraction=1.0",
                "training.finetune_lr_factor=1.0", "training.early_stopping_patience=0"]
    info = machine_info()
    print(f"CPU: {info['cpu']} ({info['cores']} cores; {', '.join(info['cpu_flags']) or 'no AVX2'}); "
          f"MobileNetV2 alpha {args.alpha} at {args.input_size} px, global batch {args.batch_size}, "
          f"{args.images} images")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "flowers"
        generate_dataset(data, args.classes, -(-args.images // args.classes), image_size=args.input_size, seed=3)
        for workers in (1, args.workers):
            r = _run(data, Path(tmp) / f"run{workers}", settings, workers)
            steady = statistics.median(r["epochs"][1:])
            images = r["train_images"] // args.batch_size * args.batch_size
            rows.append((workers, images / steady, steady, r["epochs"][0], r["wall"], r["val"]))
    base = rows[0][1]
    print(f"{'workers':>7} {'img/s':>8} {'ratio':>6} {'epoch s':>8} {'1st epoch s':>11} {'wall s':>7} {'val acc':>7}")
    for workers, ips, steady, first, wall, val in rows:
        print(f"{workers:>7} {ips:>8.1f} {ips / base:>5.2f}x {steady:>8.2f} {first:>11.1f} {wall:>7.1f} {val:>7.1%}")
    print("(one machine: the workers share its cores; a cluster gives each its own)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
