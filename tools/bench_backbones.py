"""Every backbone of the catalogue through the whole chain, as a user runs it: `data synth`,
`train --set model.backbone=NAME` (from scratch, small input, 1 epoch per phase), `convert
--target all`, `parity`. The done-when of issue 22: each must pass.

Prints one row per backbone: train and convert wall seconds (exit codes when non-zero), the
measured default `flowers.tflite`, parity's exit code, its verdict counts over every artifact
and runtime (pass / fail / inconclusive / error) and the reasons of the errors and failures;
then the CPU it ran on and the whole wall time. One backbone at a time, each step a fresh
process, as a user runs them.

MobileNetV2, MobileNetV3Small and VGG16 also train in `make test` (tests/test_backbones.py);
this covers every one. For the accuracy/size/speed table, use `flowers-mobile compare`.

    .venv/bin/python tools/bench_backbones.py                       # all backbones, 48 px
    .venv/bin/python tools/bench_backbones.py --backbones vgg19,xception --json out.json
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
VERDICTS = ("pass", "fail", "inconclusive", "error")


def cli(*args: str, cwd: Path) -> tuple[int, float, str]:
    """Run `flowers-mobile ARGS` in a fresh process; (exit code, seconds, last stderr line)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "flowers_mobile.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    lines = [line for line in (proc.stderr or "").splitlines() if line.strip()]
    return proc.returncode, time.perf_counter() - start, lines[-1][:200] if lines else ""


def one_backbone(name: str, size: int, work: Path, max_images: int) -> dict:
    """train -> convert --target all -> parity for `name`; what each step gave."""
    sets = [f"model.backbone={name}", f"model.input_size={size}", "model.weights=none",
            "training.batch_size=8", "training.head_epochs=1", "training.finetune_epochs=1",
            "export.representative_size=16", f"parity.max_images={max_images}"]
    flags = [arg for s in sets for arg in ("--set", s)]
    run, exp = work / name / "run", work / name / "export"
    row: dict = {"backbone": name, "size": size}
    steps = [("train", ["train", "--data", "flowers", "--out", str(run), "--no-progress", *flags]),
             ("convert", ["convert", "--model", str(run / "model.keras"), "--data", "flowers", "--out",
                          str(exp), "--target", "all", "--no-progress"]),
             ("parity", ["parity", "--model", str(run / "model.keras"), "--exports", str(exp),
                         "--data", "flowers"])]
    for step, argv in steps:
        code, seconds, err = cli(*argv, cwd=work)
        row[step] = {"exit": code, "seconds": round(seconds, 1), **({"error": err} if code else {})}
        if code and step != "parity":  # parity's exit code is its verdict; its report says why
            return row
    manifest = exp / "manifest.json"
    if manifest.is_file():
        arts = json.loads(manifest.read_text())["artifacts"]
        default = next(a for a in arts if a["file"] == "flowers.tflite")
        row["default"] = default["precision"]
    report = exp / "parity.json"
    if report.is_file():
        exports = json.loads(report.read_text())["exports"]
        row["verdicts"] = {v: sum(e["verdict"] == v for e in exports) for v in VERDICTS}
        row["images"] = max((e.get("images") or 0 for e in exports), default=0)
        row["problems"] = [f"{e['file']} ({e['runtime']}): {e['verdict']}"
                           + (f": {e['error'][:160]}" if e.get("error") else "")
                           for e in exports if e["verdict"] in ("fail", "error")]
        row["inconclusive"] = [f"{e['file']} ({e['runtime']})" for e in exports if e["verdict"] == "inconclusive"]
        row["runtimes"] = sorted({e["runtime"] for e in exports})
    return row


def row_text(r: dict) -> str:
    def step(s: str) -> str:
        if s not in r:
            return "-"
        return f"{r[s]['seconds']:.0f}" + ("" if not r[s]["exit"] else f" (exit {r[s]['exit']})")

    counts = r.get("verdicts")
    verdicts = "/".join(str(counts[v]) for v in VERDICTS) if counts else "-"
    parity = str(r["parity"]["exit"]) if "parity" in r else "-"
    errors = [r[s]["error"] for s in ("train", "convert") if s in r and r[s]["exit"]] + r.get("problems", [])
    return (f"| {r['backbone']} | {r['size']} | {step('train')} | {step('convert')} | {r.get('default', '-')} "
            f"| {parity} | {verdicts} | {', '.join(r.get('inconclusive', [])) or '-'} | {'; '.join(errors) or '-'} |")


def main() -> int:
    sys.path.insert(0, str(ROOT / "src"))
    from flowers_mobile import backbones
    from flowers_mobile.benchmark import machine_info

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", default=",".join(backbones.names()))
    ap.add_argument("--size", type=int, default=48,
                    help="input side; a backbone whose minimum is larger gets its minimum (xception: 71)")
    ap.add_argument("--per-class", type=int, default=16, help="training images per class (3 classes)")
    ap.add_argument("--max-images", type=int, default=60, help="parity.max_images (the test split has 20 per class)")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args()
    names = [n for n in args.backbones.split(",") if n]
    for name in names:
        backbones.get(name)
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-backbones-") as tmp:
        work = Path(tmp)
        code, _, err = cli("data", "synth", "flowers", "--classes", "3", "--per-class", str(args.per_class),
                           "--test-per-class", "20", "--size", "64", cwd=work)
        if code:
            print(f"data synth failed: {err}")
            return 1
        print("| backbone | px | train s | convert s | default | parity exit | pass/fail/inconclusive/error "
              "| inconclusive | errors and failures |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
              flush=True)
        for name in names:
            rows.append(one_backbone(name, max(args.size, backbones.get(name).min_size), work, args.max_images))
            print(row_text(rows[-1]), flush=True)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=1))
    info = machine_info()
    runtimes = sorted({rt for r in rows for rt in r.get("runtimes", [])})
    print(f"\nparity runtimes: {', '.join(runtimes)}")
    print(f"{info.get('cpu', '?')}, {os.cpu_count()} cores; wall {time.perf_counter() - started:.0f} s")
    ok = all(r.get("parity", {}).get("exit") == 0 and not r.get("problems") for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
