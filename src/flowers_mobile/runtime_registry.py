"""The runtime registry: every fact about a runtime that code outside its own module relies on.

One `RuntimeSpec` row per runtime, in `RUNTIMES`: which formats it opens and where it stands in
each format's order of preference, whether it is chosen for its formats at all when no runtime
is named, how it takes a thread count, whether it runs the model in a separate process, whether
it reads a `.tflite`'s metadata as the Android app does, and the platforms it can run on.
`runtimes/base.py` (loading and availability), `variants.py` (the runtime rule),
`benchmark.py` (processes per thread count, IPC) and `export/coreml_fidelity.py` read it; none
of them keeps a list of runtime names of its own (tests/test_runtime_registry.py).

The table's order is the order of preference: for a format, the first runtime in it that opens
the format, is chosen by default and is available here is the one used.

This module imports nothing from the package: `variants` (and through it `config`) reads it,
and importing it never imports TensorFlow, LiteRT or coremltools.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

#: How a runtime takes a thread count.
#: - "instance": an option of each loaded model (LiteRT and Task Library options, the Core ML
#:   executor's OpenBLAS setter): one process can measure every count;
#: - "process": fixed for the whole process when it starts (TensorFlow's pools): one process per
#:   count;
#: - "own": none taken, the runtime picks its own (MediaPipe Tasks' CPU path): one process, and
#:   every count measures the same setting.
THREAD_TRAITS = ("instance", "process", "own")
#: `sys.platform` values as the user knows them, for availability messages.
PLATFORM_NAMES = {"darwin": "macOS", "linux": "Linux", "win32": "Windows"}


@dataclass(frozen=True)
class RuntimeSpec:
    """One runtime: its name (as `--runtime` takes it) and its traits."""

    name: str
    #: The module whose Predictor registers under `name`; imported only when the runtime is used
    #: (TensorFlow, LiteRT and coremltools are heavy).
    module: str
    #: Model formats it opens (`runtimes.base.model_format`).
    formats: tuple[str, ...]
    #: Chosen for its formats when no runtime is named (else only by name, or as a metadata runtime).
    default: bool
    threads: str
    #: Runs the model in a subprocess of its own, so its latency includes inter-process
    #: communication: the Task Library, which must never share a process with TensorFlow.
    ipc: bool = False
    #: Reads a `.tflite`'s metadata (labels, normalization) as the Android app does: it also runs
    #: the Android default, and its categories must carry the export's label names.
    reads_metadata: bool = False
    #: `sys.platform` values it can run on; None: any.
    platforms: tuple[str, ...] | None = None
    #: How availability messages name it.
    title: str = ""

    def __post_init__(self) -> None:
        if self.threads not in THREAD_TRAITS:
            raise ValueError(f"runtime {self.name!r}: threads must be one of {THREAD_TRAITS}, not {self.threads!r}")


_PKG = "flowers_mobile.runtimes"

RUNTIMES: tuple[RuntimeSpec, ...] = (
    RuntimeSpec("keras", f"{_PKG}.keras_runtime", ("keras", "h5"), default=True, threads="process", title="Keras"),
    RuntimeSpec("saved_model", f"{_PKG}.saved_model", ("saved_model",), default=True, threads="process",
                title="TensorFlow SavedModel"),
    RuntimeSpec("litert", f"{_PKG}.litert", ("tflite",), default=True, threads="instance", title="LiteRT"),
    RuntimeSpec("task_library", f"{_PKG}.task_library", ("tflite",), default=False, threads="instance", ipc=True,
                reads_metadata=True, title="Task Library"),
    RuntimeSpec("mediapipe", f"{_PKG}.mediapipe", ("tflite",), default=False, threads="own", reads_metadata=True,
                title="MediaPipe Tasks"),
    RuntimeSpec("coreml", f"{_PKG}.coreml", ("mlpackage",), default=True, threads="process", platforms=("darwin",),
                title="Core ML runtime"),
    RuntimeSpec("coreml_executor", f"{_PKG}.coreml_executor", ("mlpackage",), default=True, threads="instance",
                title="Core ML executor"),
)

BY_NAME: dict[str, RuntimeSpec] = {spec.name: spec for spec in RUNTIMES}


def names() -> list[str]:
    """Every runtime name, in preference order."""
    return [spec.name for spec in RUNTIMES]


def formats() -> list[str]:
    """Every format some runtime opens, in the order the table first names them."""
    return list(dict.fromkeys(fmt for spec in RUNTIMES for fmt in spec.formats))


def preference(fmt: str) -> list[str]:
    """The runtimes chosen for `fmt` when none is named, in order of preference."""
    return [spec.name for spec in RUNTIMES if fmt in spec.formats and spec.default]


def metadata_runtimes() -> tuple[str, ...]:
    """The runtimes that read a `.tflite`'s metadata, as the Android app does."""
    return tuple(spec.name for spec in RUNTIMES if spec.reads_metadata)


def platform_reason(name: str, platform: str | None = None) -> str | None:
    """Why runtime `name` cannot run on `platform` (default: this one), naming the runtime of the same
    formats that can; None when it can (or `name` is unknown: the loader says so)."""
    spec = BY_NAME.get(name)
    platform = sys.platform if platform is None else platform
    if spec is None or spec.platforms is None or platform in spec.platforms:
        return None
    needs = " or ".join(PLATFORM_NAMES.get(p, p) for p in spec.platforms)
    instead = next((other.name for other in RUNTIMES if other is not spec and other.default
                    and set(other.formats) & set(spec.formats)
                    and (other.platforms is None or platform in other.platforms)), None)
    return f"{spec.title} needs {needs}" + (f"; use --runtime {instead}" if instead else "")
