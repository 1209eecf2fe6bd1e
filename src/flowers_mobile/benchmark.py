"""Benchmark: size, load time, latency, throughput and memory of every artifact, next to Keras.

Each (artifact, runtime) is measured in a fresh Python process (`python -m
flowers_mobile.benchmark WORKER_SPEC`): peak memory (VmHWM / ru_maxrss) then belongs to that
runtime alone, and TensorFlow's thread pools, fixed when its context starts, really have the
thread count asked for. Runtimes whose thread count is a per-instance option (LiteRT, the Task
Library, the Core ML executor) measure every thread count in one process; TensorFlow-based
ones get one process per thread count.

In each process: import the runtime, note the resident memory, time the model's load, warm
up, time single-image predictions (p50 / p90), time batches (throughput, median of repeats),
then read the peak resident memory. The Keras float32 model is the reference; every figure is
also given as a ratio to Keras's figure from the same run. The Keras worker also counts the
model's FLOPs (2 x the MACs of its conv and dense layers) so achieved GFLOP/s can be set
against the machine's peak.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.errors import UserError, first_line
from flowers_mobile.export.manifest import DEFAULT_ARTIFACTS, load_manifest, verify_manifest
from flowers_mobile.fsutil import atomic_path, atomic_write_json, path_bytes, sha256_path

BENCHMARK_JSON = "benchmark.json"
BENCHMARK_PNG = "benchmark.png"
#: Runtimes that take the thread count per model instance (LiteRT and the Task Library options,
#: the Core ML executor's OpenBLAS setter) or take none at all (MediaPipe Tasks picks its own):
#: all counts run in one process.
PER_INSTANCE_THREADS = {"litert", "task_library", "mediapipe", "coreml_executor"}
#: Runtimes whose latency includes inter-process communication (a subprocess per model).
IPC_RUNTIMES = {"task_library"}
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")


@dataclass
class BenchEntry:
    """Measurements of one artifact through one runtime."""

    file: str
    runtime: str
    format: str
    precision: str
    bytes: int
    reference: bool = False
    #: Latency includes inter-process communication (Task Library runs in a subprocess).
    ipc: bool = False
    load_s: float | None = None
    #: threads -> {"p50_ms", "p90_ms", "throughput_ips"}
    by_threads: dict[str, dict[str, float]] = field(default_factory=dict)
    #: Peak resident memory (MB) of the measuring process, plus its runtime subprocess for IPC runtimes.
    peak_rss_mb: float | None = None
    #: Peak resident memory minus the memory after importing the runtime: the model's share.
    model_rss_mb: float | None = None
    ratios: dict[str, float | None] = field(default_factory=dict)
    gflops_per_s: dict[str, float] = field(default_factory=dict)
    describe: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.file} [{self.runtime}]"


@dataclass
class BenchmarkReport:
    export_dir: str
    model: str | None
    threads: list[int]
    images: int
    batch: int
    entries: list[BenchEntry]
    #: FLOPs per image, counted from the Keras model (None without one).
    flops: int | None
    machine: dict[str, Any]
    notes: list[str]
    seconds: float = 0.0

    def reference(self) -> BenchEntry | None:
        return next((e for e in self.entries if e.reference and not e.error), None)

    def find(self, *, precision: str, runtime: str, fmt: str = "tflite") -> BenchEntry | None:
        return next((e for e in self.entries if e.precision == precision and e.runtime == runtime
                     and e.format == fmt and not e.error), None)

    def int8_size_ratio(self) -> float | None:
        """int8 / float32 TFLite bytes (the size figure the README quotes), when both are in the export."""
        int8 = self.find(precision="int8", runtime="litert")
        f32 = self.find(precision="float32", runtime="litert")
        return int8.bytes / f32.bytes if int8 and f32 else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for e, d in zip(self.entries, out["entries"], strict=True):
            d["name"] = e.name
        out["int8_float32_tflite_size_ratio"] = self.int8_size_ratio()
        return out


# --------------------------------------------------------------------------------------------
# Worker side: runs in its own process.


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


# --------------------------------------------------------------------------------------------
# Parent side.


def _run_worker(spec: dict[str, Any], threads_env: int | None, timeout: float) -> dict[str, Any]:
    """Run `measure(spec)` in a fresh interpreter; its result, or {"error": ...}."""
    with tempfile.TemporaryDirectory(prefix="fm-bench-") as tmp:
        spec = {**spec, "out": str(Path(tmp) / "out.json")}
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
        if threads_env:
            env.update({k: str(threads_env) for k in _THREAD_ENV})
        try:
            proc = subprocess.run([sys.executable, "-m", "flowers_mobile.benchmark", str(spec_path)],
                                  env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s"}
        out_path = Path(spec["out"])
        if not out_path.is_file():
            tail = (proc.stderr or "").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
            return {"error": f"worker died: {tail[0][:300]}"}
        return json.loads(out_path.read_text(encoding="utf-8"))


def plan_entries(manifest: dict[str, Any], export_dir: Path, model: Path | None,
                 task_library: bool = True, mediapipe: bool = True) -> list[tuple[BenchEntry, Path]]:
    """What to measure: Keras (reference), each artifact through its default runtime, and the
    Android default `flowers.tflite` also through the Task Library and MediaPipe Tasks."""
    plan: list[tuple[BenchEntry, Path]] = []
    if model is not None:
        plan.append((BenchEntry(file=model.name, runtime="keras", format=model.suffix.lstrip("."),
                                precision="float32", bytes=path_bytes(model), reference=True), model))
    seen: set[tuple[str, str]] = set()
    # Named precision files first, so the copy (flowers.tflite) is the one left out.
    for art in sorted(manifest["artifacts"], key=lambda a: a["file"] in DEFAULT_ARTIFACTS.values()):
        fmt = art["format"]
        runtimes = {"tflite": ["litert"], "mlpackage": ["coreml" if sys.platform == "darwin" else "coreml_executor"],
                    "saved_model": ["saved_model"]}.get(fmt, [])
        if fmt == "tflite" and (
                art["file"] == DEFAULT_ARTIFACTS["android"] or "android" in (art.get("default_for") or [])):
            runtimes += [name for name, wanted in (("task_library", task_library), ("mediapipe", mediapipe)) if wanted]
        for runtime in runtimes:
            if (art["sha256"], runtime) in seen:  # flowers.tflite is a copy of a precision file
                continue
            seen.add((art["sha256"], runtime))
            plan.append((BenchEntry(file=art["file"], runtime=runtime, format=fmt, precision=art["precision"],
                                    bytes=int(art["bytes"]), ipc=runtime in IPC_RUNTIMES), export_dir / art["file"]))
    return plan


def find_source_model(export_dir: Path, manifest: dict[str, Any]) -> Path | None:
    """The Keras model the export came from, looked for beside the export folder (sha256 checked)."""
    source = manifest.get("source_model") or {}
    name = source.get("file")
    if not name:
        return None
    for candidate in (export_dir.parent / name, export_dir / name):
        if candidate.is_file() and sha256_path(candidate) == source.get("sha256"):
            return candidate
    return None


def _ratio(value: float | None, ref: float | None) -> float | None:
    return None if value is None or not ref else value / ref


def _fill_ratios(entries: list[BenchEntry], flops: int | None) -> None:
    ref = next((e for e in entries if e.reference and not e.error), None)
    for e in entries:
        if e.error:
            continue
        if flops:
            e.gflops_per_s = {t: flops / (m["p50_ms"] / 1e3) / 1e9 for t, m in e.by_threads.items()}
        if ref is None:
            continue
        r: dict[str, float | None] = {"bytes": _ratio(e.bytes, ref.bytes), "load_s": _ratio(e.load_s, ref.load_s),
                                      "peak_rss_mb": _ratio(e.peak_rss_mb, ref.peak_rss_mb)}
        for t, m in e.by_threads.items():
            rm = ref.by_threads.get(t, {})
            r[f"p50_ms@{t}"] = _ratio(m["p50_ms"], rm.get("p50_ms"))
            r[f"p90_ms@{t}"] = _ratio(m["p90_ms"], rm.get("p90_ms"))
            r[f"throughput_ips@{t}"] = _ratio(m["throughput_ips"], rm.get("throughput_ips"))
        e.ratios = r


def run_benchmark(export_dir: Path, model: Path | None = None, *, images: int = 20, threads: Sequence[int] = (1, 2),
                  batch: int = 16, batch_repeats: int = 3, warmup: int = 3, task_library: bool = True,
                  mediapipe: bool = True,
                  budget_s: float = 10.0, timeout: float = 300.0, progress: Callable[[str], None] | None = None,
                  write: bool = True) -> BenchmarkReport:
    """Measure every artifact of `export_dir` (and the Keras model) in fresh processes.

    Args:
        export_dir: a `convert` output folder; its manifest is verified first.
        model: the Keras model (reference); default: the manifest's source model when found
            beside the export folder.
        images: timed single-image predictions per thread count (after `warmup` untimed ones).
        threads: thread counts to measure.
        batch: images per batch for throughput; `batch_repeats` batches, median time.
        task_library: also measure `flowers.tflite` through the Task Library (latency includes IPC).
        mediapipe: also measure `flowers.tflite` through MediaPipe Tasks (in process).
        budget_s: seconds each timing loop may take before it stops early (after 3 single-image
            calls, 1 batch): keeps slow runtimes from dominating the run; samples are recorded.
        timeout: seconds allowed per worker process.
        progress: called with a short line per worker (for the CLI's status).
        write: write benchmark.json and benchmark.png into the export folder.
    Returns:
        The report; a runtime that fails is an entry with `error`, not an exception.
    """
    say = progress or (lambda _msg: None)
    start = time.perf_counter()
    export_dir = Path(export_dir)
    threads = sorted({int(t) for t in threads})
    if not threads or threads[0] < 1:
        raise UserError(f"--threads must be positive integers, got {threads}")
    if images < 1 or batch < 1 or batch_repeats < 1:
        raise UserError("--images, batch and repeats must be at least 1")
    manifest = load_manifest(export_dir)
    verify_manifest(export_dir, manifest)
    notes: list[str] = []
    if model is None:
        model = find_source_model(export_dir, manifest)
        if model is None:
            notes.append("no Keras model given or found beside the export: no ratios to Keras")
    elif not Path(model).is_file():
        raise UserError(f"model not found: {model}")
    plan = plan_entries(manifest, export_dir, Path(model) if model else None, task_library, mediapipe)
    flops = None
    for entry, path in plan:
        base = {"path": str(path), "runtime": entry.runtime, "images": images, "batch": batch,
                "batch_repeats": batch_repeats, "warmup": warmup, "count_flops": entry.reference,
                "budget_s": budget_s}
        groups = [list(threads)] if entry.runtime in PER_INSTANCE_THREADS else [[t] for t in threads]
        for group in groups:
            say(f"{entry.name} at {','.join(map(str, group))} thread(s)")
            res = _run_worker({**base, "threads": group}, group[0] if len(group) == 1 else None, timeout)
            if "error" in res:
                entry.error = res["error"]
                break
            entry.by_threads.update(res["by_threads"])
            if entry.load_s is None:  # memory and load time from the first (fewest threads) process
                entry.load_s, entry.peak_rss_mb = res["load_s"], res["peak_rss_mb"]
                if entry.ipc:  # the worker process plus the runtime's own subprocess
                    entry.peak_rss_mb += res.get("child_peak_rss_mb") or 0.0
                entry.model_rss_mb, entry.describe = res.get("model_rss_mb"), res.get("describe", {})
            flops = flops or res.get("flops")
    entries = [e for e, _ in plan]
    _fill_ratios(entries, flops)
    report = BenchmarkReport(export_dir=str(export_dir), model=str(model) if model else None, threads=threads,
                             images=images, batch=batch, entries=entries, flops=flops, machine=machine_info(),
                             notes=notes, seconds=time.perf_counter() - start)
    if any(e.ipc for e in entries):
        report.notes.append("task_library latency includes IPC: the Task Library runs in a subprocess "
                            "(it cannot share a process with TensorFlow)")
    if any(e.runtime == "mediapipe" for e in entries):
        report.notes.append("mediapipe takes no thread count (its CPU path picks its own): "
                            "its columns at each thread count measure the same setting")
    if write:
        atomic_write_json(export_dir / BENCHMARK_JSON, report.to_dict())
        plot_benchmark(report, export_dir / BENCHMARK_PNG)
    return report


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    flags: list[str] = []
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                have = set(line.split(":", 1)[1].split())
                flags = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni") if f in have]
    return {"cpu": cpu, "cpu_flags": flags, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version()}


def plot_benchmark(report: BenchmarkReport, path: Path) -> Path:
    """A 2x2 bar chart: size, p50 latency per thread count, throughput, peak memory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [e for e in report.entries if not e.error]
    names = [e.name + (" *" if e.ipc else "") for e in ok]
    y = np.arange(len(ok))
    fig, axes = plt.subplots(2, 2, figsize=(13, max(4.5, 0.5 * len(ok) + 3)), constrained_layout=True)
    panels = [
        (axes[0, 0], "size (MB)", [[e.bytes / 1e6 for e in ok]], [""]),
        (axes[0, 1], "single-image latency p50 (ms)",
         [[e.by_threads.get(str(t), {}).get("p50_ms", 0.0) for e in ok] for t in report.threads],
         [f"{t} thread(s)" for t in report.threads]),
        (axes[1, 0], f"batch throughput (img/s, batch {report.batch})",
         [[e.by_threads.get(str(t), {}).get("throughput_ips", 0.0) for e in ok] for t in report.threads],
         [f"{t} thread(s)" for t in report.threads]),
        (axes[1, 1], "peak memory (MB, own process)", [[e.peak_rss_mb or 0.0 for e in ok]], [""]),
    ]
    for ax, title, series, legends in panels:
        height = 0.8 / len(series)
        for i, (values, legend) in enumerate(zip(series, legends, strict=True)):
            ax.barh(y + i * height - 0.4 + height / 2, values, height=height, label=legend or None)
        positive = [v for values in series for v in values if v > 0]
        if positive and max(positive) / min(positive) > 30:
            ax.set_xscale("log")  # the numpy Core ML executor would flatten every other bar
            title += ", log scale"
        ax.set_yticks(y, names if ax in (axes[0, 0], axes[1, 0]) else [""] * len(ok))
        ax.invert_yaxis()
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
        if any(legends):
            ax.legend(loc="best", fontsize=8)
    fig.suptitle(f"benchmark of {Path(report.export_dir).name} on {report.machine.get('cpu', '?')} "
                 f"({report.machine.get('cores')} cores)" + ("; * latency includes IPC" if any(e.ipc for e in ok) else ""),
                 fontsize=10)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
