"""Every backbone of the catalogue through the whole chain, as a user runs it: `data synth`,
`train --set model.backbone=NAME` (from scratch, small input, 1 epoch per phase), `convert
--target all`, `parity`. Prints per backbone: exit codes, wall seconds, the measured default,
and each artifact's parity verdict (or the error that stopped it), and the CPU it ran on.

The two cheapest backbones besides MobileNetV2 run in `make test` (tests/test_backbones.py);
this covers the rest. For the accuracy/size/speed table, use `flowers-mobile compare`.

    .venv/bin/python tools/bench_backbones.py                       # all backbones, 72 px
    .venv/bin/python tools/bench_backbones.py --backbones vgg19,xception --size 96
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path) -> tuple[int, float, str]:
    """Run `flowers-mobile ARGS` in a fresh process; (exit code, seconds, last stderr line)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "flowers_mobile.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    lines = [line for line in (proc.stderr or "").splitlines() if line.strip()]
    return proc.returncode, time.perf_counter() - start, lines[-1][:200] if lines else ""


def main() -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from flowers_mobile import backbones
    from flowers_mobile.benchmark import machine_info

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", default=",".join(backbones.names()))
    ap.add_argument("--size", type=int, default=72, help="input side (xception needs 71 or more)")
    ap.add_argument("--per-class", type=int, default=16)
    args = ap.parse_args()
    names = [n for n in args.backbones.split(",") if n]
    print(f"machine: {json.dumps(machine_info())}")
    with tempfile.TemporaryDirectory(prefix="bench-backbones-") as tmp:
        work = Path(tmp)
        code, _, err = cli("data", "synth", "flowers", "--classes", "3", "--per-class", str(args.per_class),
                           "--test-per-class", "8", "--size", "64", cwd=work)
        if code:
            print(f"data synth failed: {err}")
            return 1
        failed = 0
        for name in names:
            sets = [f"model.backbone={name}", f"model.input_size={args.size}", "model.weights=none",
                    "training.batch_size=8", "training.head_epochs=1", "training.finetune_epochs=1",
                    "export.representative_size=16", "parity.max_images=24"]
            flags = [arg for s in sets for arg in ("--set", s)]
            run, exp = work / name / "run", work / name / "export"
            steps = [("train", ["train", "--data", "flowers", "--out", str(run), "--no-progress", *flags]),
                     ("convert", ["convert", "--model", str(run / "model.keras"), "--data", "flowers", "--out",
                                  str(exp), "--target", "all", "--no-progress"]),
                     ("parity", ["parity", "--model", str(run / "model.keras"), "--exports", str(exp),
                                 "--data", "flowers"])]
            print(f"\n== {name} at {args.size} px")
            for step, argv in steps:
                code, seconds, err = cli(*argv, cwd=work)
                print(f"  {step:8s} exit {code} in {seconds:6.1f} s" + (f": {err}" if code else ""))
                if code and step != "parity":  # parity's own exit code is its verdict; read the report
                    failed += 1
                    break
            manifest = exp / "manifest.json"
            if manifest.is_file():
                arts = json.loads(manifest.read_text())["artifacts"]
                default = next(a for a in arts if a["file"] == "flowers.tflite")
                print(f"  default flowers.tflite = {default['precision']}: "
                      f"{default['extra'].get('default_choice', {}).get('reason', '')}")
            report = exp / "parity.json"
            if report.is_file():
                for e in json.loads(report.read_text())["exports"]:
                    agree = "" if e.get("agreement") is None else f" agreement {e['agreement']:.1%}"
                    print(f"  parity {e['file']:32s} {e['runtime']:16s} {e['verdict']:12s}{agree}"
                          + (f" error: {e['error'][:120]}" if e.get("error") else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
