"""Benchmark: size, load time, latency, throughput and memory of every artifact, next to Keras.

Each (artifact, runtime) is measured in a fresh Python process (`python -m
flowers_mobile.benchmark_worker WORKER_SPEC`, the measuring side): peak memory (VmHWM / ru_maxrss) then belongs to that
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

Every TFLite file also gets its ARM cost (flowers_mobile.armcost, docs/arm_cost.md): guest
instructions per image of LiteRT's aarch64 build on emulated phone CPUs, and the ratio to the
float32 file's; this machine's x86 latencies say little about a phone. Without the arm64 root or
QEMU the report says so in one note and keeps the x86 figures.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile import runtime_registry
from flowers_mobile.errors import UserError
from flowers_mobile.formats.manifest import (
    DEFAULT_ARTIFACTS,
    Manifest,
    read_manifest,
    verify_manifest,
)
from flowers_mobile.fsutil import atomic_path, atomic_write_json, path_bytes, sha256_path

BENCHMARK_JSON = "benchmark.json"
BENCHMARK_PNG = "benchmark.png"
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
    #: TFLite files: CPU profile -> {"instructions": per image, "ratio_float32": x the float32 file}.
    arm: dict[str, dict[str, float | None]] = field(default_factory=dict)

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
    #: What the ARM counts depend on (QEMU, LiteRT, Python versions, profiles), None when not counted.
    arm: dict[str, Any] | None = None

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
            proc = subprocess.run([sys.executable, "-m", "flowers_mobile.benchmark_worker", str(spec_path)],
                                  env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s"}
        out_path = Path(spec["out"])
        if not out_path.is_file():
            tail = (proc.stderr or "").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
            return {"error": f"worker died: {tail[0][:300]}"}
        return json.loads(out_path.read_text(encoding="utf-8"))


def measure_file(path: Path, runtime: str = "litert", *, threads: int = 1, images: int = 20, batch: int = 8,
                 timeout: float = 300.0) -> dict[str, Any]:
    """p50/p90 single-image latency (ms) and batch throughput (images/s) of one model file through
    `runtime` at `threads`, measured as `run_benchmark` measures each entry: in a fresh worker
    process, after warm-up. Returns {"threads", "p50_ms", "p90_ms", "throughput_ips"}, or
    {"error": one line} when the worker could not measure it."""
    spec = {"path": str(path), "runtime": runtime, "images": images, "batch": batch, "batch_repeats": 3,
            "warmup": 3, "count_flops": False, "budget_s": 10.0, "threads": [threads]}
    res = _run_worker(spec, None, timeout=timeout)
    if "error" in res:
        return {"error": res["error"]}
    figures = res["by_threads"][str(threads)]
    return {"threads": threads, **{k: figures[k] for k in ("p50_ms", "p90_ms", "throughput_ips")}}


def plan_entries(manifest: Manifest, export_dir: Path, model: Path | None,
                 task_library: bool = True, mediapipe: bool = True) -> list[tuple[BenchEntry, Path]]:
    """What to measure: Keras (reference), each artifact through its default runtime, and the
    Android default `flowers.tflite` also through the Task Library and MediaPipe Tasks."""
    # Imported here, not at the top: the worker processes import this module and never plan.
    from flowers_mobile.parity.plan import is_android_default
    from flowers_mobile.runtimes.base import runtime_available
    from flowers_mobile.variants import plan_runtimes

    plan: list[tuple[BenchEntry, Path]] = []
    if model is not None:
        plan.append((BenchEntry(file=model.name, runtime="keras", format=model.suffix.lstrip("."),
                                precision="float32", bytes=path_bytes(model), reference=True), model))
    seen: set[tuple[str, str]] = set()
    # Named precision files first, so the copy (flowers.tflite) is the one left out.
    for art in sorted(manifest.artifacts, key=lambda a: a.file in DEFAULT_ARTIFACTS.values()):
        fmt = art.format
        runtimes = plan_runtimes(fmt, available=runtime_available, android_default=is_android_default(art),
                                 metadata_runtimes=[name for name, wanted in (("task_library", task_library),
                                                                              ("mediapipe", mediapipe)) if wanted])
        for runtime in runtimes:
            if (art.sha256, runtime) in seen:  # flowers.tflite is a copy of a precision file
                continue
            seen.add((art.sha256, runtime))
            plan.append((BenchEntry(file=art.file, runtime=runtime, format=fmt, precision=art.precision,
                                    bytes=art.bytes, ipc=runtime_registry.BY_NAME[runtime].ipc), export_dir / art.file))
    return plan


def find_source_model(export_dir: Path, manifest: Manifest) -> Path | None:
    """The Keras model the export came from, looked for beside the export folder (sha256 checked)."""
    source = manifest.source_model
    if source is None or not source.file:
        return None
    for candidate in (export_dir.parent / source.file, export_dir / source.file):
        if candidate.is_file() and sha256_path(candidate) == source.sha256:
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
                  write: bool = True, arm: bool = True,
                  arm_profiles: Sequence[str] | None = None) -> BenchmarkReport:
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
        arm: also count each TFLite file's instructions per image on emulated ARM CPUs
            (`arm_profiles`, default the big and the little phone core); a missing root or QEMU
            is a note, not an error.
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
    manifest = read_manifest(export_dir)
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
        # A count fixed per process (TensorFlow's pools) needs a process per count; a count per model
        # instance, or none taken at all, lets one process measure them all (the registry's trait).
        per_process = runtime_registry.BY_NAME[entry.runtime].threads == "process"
        groups = [[t] for t in threads] if per_process else [list(threads)]
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
    arm_env = add_arm_cost(entries, manifest, export_dir, arm_profiles, notes, say) if arm else None
    report = BenchmarkReport(export_dir=str(export_dir), model=str(model) if model else None, threads=threads,
                             images=images, batch=batch, entries=entries, flops=flops, machine=machine_info(),
                             notes=notes, seconds=time.perf_counter() - start, arm=arm_env)
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


def add_arm_cost(entries: list[BenchEntry], manifest: Manifest, export_dir: Path, profiles: Sequence[str] | None,
                 notes: list[str], say: Callable[[str], None]) -> dict[str, Any] | None:
    """Put each TFLite file's ARM counts on its entries; what the counts depend on, or None with a
    note saying why there are none."""
    from flowers_mobile.armcost.export import count_export

    try:
        counts = count_export(export_dir, manifest, profiles, progress=say)
    except UserError as exc:
        notes.append(f"ARM cost not counted: {exc.one_line()}")
        return None
    if counts is None:
        return None
    for e in entries:
        if e.format == "tflite" and e.file in counts["artifacts"]:
            e.arm = counts["artifacts"][e.file]
    return {k: v for k, v in counts.items() if k != "artifacts"}


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
    """A 2x2 bar chart: size, p50 latency per thread count, throughput, peak memory; with ARM
    counts a third row: instructions per image and ratio to float32 per emulated CPU."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [e for e in report.entries if not e.error]
    names = [e.name + (" *" if e.ipc else "") for e in ok]
    y = np.arange(len(ok))
    arm_profiles = list((report.arm or {}).get("profiles", {}))
    rows = 3 if arm_profiles else 2
    fig, axes = plt.subplots(rows, 2, figsize=(13, max(4.5, 0.5 * len(ok) + 3) * rows / 2), constrained_layout=True)
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
    if arm_profiles:
        labels = [report.arm["profiles"][p]["label"] for p in arm_profiles]
        panels += [
            (axes[2, 0], f"ARM instructions per image (M), 1 thread, QEMU {report.arm['qemu']}, "
                         f"LiteRT {report.arm['litert']}",
             [[(e.arm.get(p, {}).get("instructions") or 0.0) / 1e6 for e in ok] for p in arm_profiles], labels),
            (axes[2, 1], "ARM instructions, x float32 TFLite",
             [[e.arm.get(p, {}).get("ratio_float32") or 0.0 for e in ok] for p in arm_profiles], labels),
        ]
    for ax, title, series, legends in panels:
        height = 0.8 / len(series)
        for i, (values, legend) in enumerate(zip(series, legends, strict=True)):
            ax.barh(y + i * height - 0.4 + height / 2, values, height=height, label=legend or None)
        positive = [v for values in series for v in values if v > 0]
        if positive and max(positive) / min(positive) > 30:
            ax.set_xscale("log")  # the numpy Core ML executor would flatten every other bar
            title += ", log scale"
        ax.set_yticks(y, names if ax in axes[:, 0] else [""] * len(ok))
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

