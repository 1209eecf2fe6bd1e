"""The `Predictor` interface and the registry that picks a runtime for a model file.

Every runtime takes raw RGB pixels, 0..255, shape (N, H, W, 3) (uint8 or float32), and
returns probabilities, float32 (N, classes), in label order. Preprocessing lives inside the
models (docs/artifact-contract.md), so no runtime normalizes anything.

Runtimes register their Predictor class by name, with the check that says whether it can run
here:

    @register_runtime("litert", available=requires_module("ai_edge_litert", "ai-edge-litert==2.3.0"))
    class LiteRTPredictor(Predictor): ...

Everything else about a runtime (its module, the formats it opens, its place in each format's
order of preference, the platforms it runs on) is its row in `flowers_mobile.runtime_registry`.
`load_predictor(path)` picks the first available runtime the registry prefers for the file's
format; `runtime=` forces one by name.
"""

from __future__ import annotations

import abc
import importlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile import runtime_registry
from flowers_mobile.errors import UserError


class RuntimeUnavailable(UserError):
    """The runtime cannot run on this platform or is not installed (exit 2)."""


class Predictor(abc.ABC):
    """A loaded model that classifies batches of raw RGB images."""

    #: Registry name of the runtime ("keras", "litert", "task_library", "mediapipe", "coreml", ...).
    runtime: str = ""

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        self.path = Path(path)
        self.threads = threads

    @property
    @abc.abstractmethod
    def labels(self) -> list[str]:
        """Class names in output-index order."""

    @property
    @abc.abstractmethod
    def input_size(self) -> tuple[int, int]:
        """(height, width) the model takes."""

    @abc.abstractmethod
    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, classes) float32 for raw RGB images (N, H, W, 3) in 0..255."""

    def describe(self) -> dict[str, Any]:
        """Facts for tables and reports: runtime, file, format, precision."""
        return {"runtime": self.runtime, "path": str(self.path), "format": model_format(self.path)}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release native resources (subprocesses, interpreters)."""

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def check_batch(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or tuple(images.shape[1:3]) != tuple(size):
            raise UserError(f"expected images of shape (N, {size[0]}, {size[1]}, 3), got {images.shape}")
        return images


class LoadedPredictor(Predictor):
    """A predictor that learns its labels and input size while loading: it sets `self._labels`
    (output-index order) and `self._size` ((height, width)) in `__init__`."""

    _labels: list[str]
    _size: tuple[int, int]

    @property
    def labels(self) -> list[str]:
        return self._labels

    @property
    def input_size(self) -> tuple[int, int]:
        return self._size


def pixel_bytes(images: np.ndarray) -> np.ndarray:
    """Images as uint8, the way the metadata runtimes take them (camera bytes): floats are rounded
    to the nearest value and clipped to 0..255; uint8 stays as it is."""
    images = np.asarray(images)
    return images if images.dtype == np.uint8 else np.clip(np.round(images), 0, 255).astype(np.uint8)


# name -> {"cls": the Predictor class, "available": its check}, filled as runtime modules are
# imported. Runtimes live in modules imported only when needed (the registry's `module`):
# TensorFlow, LiteRT and coremltools are heavy, and the Task Library must never share a process
# with TensorFlow (docs/stack.md).
_CLASSES: dict[str, dict[str, Any]] = {}


def register_runtime(name: str, available: Callable[[], str | None] | None = None) -> Callable[[type], type]:
    """Class decorator: register a Predictor under `name`, a row of `runtime_registry.RUNTIMES`.

    Args:
        name: the runtime's name, as `--runtime` takes it.
        available: returns None when usable here, else a reason it is not (shown to the user). The
            registry's platforms are checked before it.
    """
    spec = runtime_registry.BY_NAME.get(name)
    if spec is None:
        raise ValueError(f"runtime {name!r} has no row in flowers_mobile.runtime_registry.RUNTIMES")

    def wrap(cls: type) -> type:
        if cls.__module__ != spec.module:
            raise ValueError(f"runtime {name!r} is registered in {cls.__module__}, the registry says {spec.module}")
        cls.runtime = name
        _CLASSES[name] = {"cls": cls, "available": available or (lambda: None)}
        return cls

    return wrap


def requires_module(module: str, install: str) -> Callable[[], str | None]:
    """An `available` check for `register_runtime`: None when `module` is importable, else the
    pip line that installs it."""

    def available() -> str | None:
        if importlib.util.find_spec(module) is None:
            return f"{install.split('==')[0]} is not installed (pip install {install})"
        return None

    return available


def runtime_names() -> list[str]:
    return runtime_registry.names()


def model_format(path: str | os.PathLike[str]) -> str:
    """'keras', 'h5', 'tflite', 'mlpackage' or 'saved_model', from the path; else UserError."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("keras", "h5", "tflite", "mlpackage"):
        return suffix
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return "saved_model"
    raise UserError(f"{path}: unknown model format",
                    hint="expected .keras, .h5, .tflite, .mlpackage or a SavedModel folder")


def _resolve(name: str) -> dict[str, Any]:
    spec = runtime_registry.BY_NAME.get(name)
    if spec is None:
        raise UserError(f"unknown runtime {name!r}", hint=f"known: {', '.join(runtime_registry.names())}")
    if name not in _CLASSES:
        importlib.import_module(spec.module)
    if name not in _CLASSES:
        raise RuntimeUnavailable(f"runtime {name!r} did not register itself")
    return _CLASSES[name]


def unavailable_reason(name: str) -> str | None:
    """Why runtime `name` cannot run here (wrong platform, not installed), or None when it can:
    the registry's platforms, then the runtime's own check. UserError for an unknown name."""
    entry = _resolve(name)
    return runtime_registry.platform_reason(name) or entry["available"]()


def runtime_available(name: str) -> bool:
    """Whether runtime `name` can run here (`unavailable_reason` is None): the native Core ML
    runtime needs macOS and coremltools' native binding. UserError for a name no runtime registers."""
    return unavailable_reason(name) is None


def load_predictor(path: str | os.PathLike[str], runtime: str | None = None, *,
                   threads: int | None = None) -> Predictor:
    """Open `path` with `runtime`, or with the first runtime available for its format."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"model not found: {path}")
    fmt = model_format(path)
    candidates = [runtime] if runtime else runtime_registry.preference(fmt)
    reasons = []
    for name in candidates:
        entry = _resolve(name)
        opens = runtime_registry.BY_NAME[name].formats
        if fmt not in opens:
            raise UserError(f"runtime {name!r} does not open {fmt} files ({path})", hint=f"it opens: {', '.join(opens)}")
        reason = unavailable_reason(name)
        if reason is None:
            return entry["cls"](path, threads=threads)
        reasons.append(f"{name}: {reason}")
    raise RuntimeUnavailable(f"no runtime available here for {path}: {'; '.join(reasons)}")
