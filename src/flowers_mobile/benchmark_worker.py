"""The measuring side of `benchmark`: runs in its own process, one per (artifact, runtime) and
thread-count group (`python -m flowers_mobile.benchmark_worker SPEC_JSON`), so that peak memory
belongs to that runtime alone and TensorFlow's thread pools have the count asked for.

It loads the model with each thread count of the spec, warms up, times single images (p50 /
p90) and batches (throughput), reads the resident memory, and writes the figures as JSON to the
spec's `out` file; any failure is written there as {"error": "..."}, never raised.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.errors import UserError, first_line


def _rss_mb(field_name: str) -> float | None:
    """VmRSS / VmHWM from /proc (Linux), else ru_maxrss (peak only)."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024.0
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def count_flops(model: Any) -> int:
    """FLOPs of one forward pass: 2 x the multiply-accumulates of conv, depthwise conv and dense layers.

    Elementwise work (BatchNorm, activations, adds, pooling) is left out, as the usual
    "MobileNetV2 1.0 / 224 = 300 M MACs" figure does.
    """
    import keras

    macs = 0
    stack = list(model.layers)
    while stack:
        layer = stack.pop()
        if hasattr(layer, "layers") and layer.layers:  # nested model (the backbone)
            stack.extend(layer.layers)
            continue
        try:
            out_shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            continue
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            macs += int(np.prod(out_shape[1:])) * kh * kw
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            cin = int(layer.input.shape[-1])
            macs += int(np.prod(out_shape[1:])) * kh * kw * cin // layer.groups
        elif isinstance(layer, keras.layers.Dense):
            macs += int(layer.input.shape[-1]) * int(layer.units) * int(np.prod(out_shape[1:-1] or (1,)))
    return 2 * macs


def _time_calls(fn: Callable[[np.ndarray], Any], arg: np.ndarray, n: int, budget_s: float | None = None,
                at_least: int = 3) -> list[float]:
    """Wall time of up to `n` calls; stops early, after `at_least`, once `budget_s` is spent
    (a slow runtime such as the numpy Core ML executor must not hold the whole run up)."""
    out: list[float] = []
    start = time.perf_counter()
    while len(out) < n:
        t = time.perf_counter()
        fn(arg)
        out.append(time.perf_counter() - t)
        if budget_s is not None and len(out) >= at_least and time.perf_counter() - start > budget_s:
            break
    return out


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Worker body: load the model with each thread count in `spec`, time it, report memory."""
    from flowers_mobile.runtimes.base import _resolve, load_predictor

    _resolve(spec["runtime"])  # import the runtime (TensorFlow, LiteRT, ...) before the baseline
    baseline = _rss_mb("VmRSS")
    result: dict[str, Any] = {"by_threads": {}}
    rng = np.random.default_rng(0)
    for i, threads in enumerate(spec["threads"]):
        t = time.perf_counter()
        predictor = load_predictor(spec["path"], spec["runtime"], threads=threads)
        load_s = time.perf_counter() - t
        try:
            h, w = predictor.input_size
            n, batch = spec["images"], spec["batch"]
            images = rng.integers(0, 256, size=(max(n, batch), h, w, 3), dtype=np.uint8)
            one = images[:1]
            for _ in range(spec["warmup"]):
                predictor.predict(one)
            predictor.predict(images[:batch])
            budget = spec.get("budget_s")
            singles = _time_calls(predictor.predict, one, n, budget)
            batches = _time_calls(predictor.predict, images[:batch], spec["batch_repeats"], budget, at_least=1)
            result["by_threads"][str(threads)] = {
                "p50_ms": 1e3 * float(np.percentile(singles, 50)),
                "p90_ms": 1e3 * float(np.percentile(singles, 90)),
                "throughput_ips": batch / statistics.median(batches),
                "load_s": load_s,
                "samples": len(singles),
                "batches": len(batches),
            }
            if i == 0:
                result["load_s"] = load_s
                result["describe"] = predictor.describe()
                # Memory after the first thread count: later loads would stack on top of it.
                result["peak_rss_mb"] = _rss_mb("VmHWM")
                result["model_rss_mb"] = result["peak_rss_mb"] - baseline if baseline is not None else None
                if spec.get("count_flops") and hasattr(predictor, "model"):
                    result["flops"] = count_flops(predictor.model)
        finally:
            predictor.close()
        if i == 0:
            # A runtime that works through a subprocess (Task Library) has its memory there;
            # close() has waited for it, so the children's peak is now known.
            result["child_peak_rss_mb"] = _children_peak_mb()
    return result


def _children_peak_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _worker_main(argv: Sequence[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        out = measure(spec)
    except UserError as exc:
        out = {"error": exc.one_line()}
    except Exception as exc:  # reported in the table, never a crash of the whole benchmark
        out = {"error": f"{type(exc).__name__}: {first_line(exc, '')}"[:300]}
    Path(spec["out"]).write_text(json.dumps(out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
