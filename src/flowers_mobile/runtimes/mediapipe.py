"""The MediaPipe Tasks runtime: `mediapipe`'s ImageClassifier, the C++ classifier the Android app runs.

Like the Task Library it reads the labels (and, for float inputs, the normalization) from the
model's metadata, so running it proves the metadata is what the app needs. It runs in this
process: unlike the Task Library it has no pybind or protobuf types to clash with TensorFlow's.

Images go in as `mp.Image` SRGB uint8 at the model's input size, so MediaPipe's own
preprocessing (a stretch to the input size, no crop, when the sizes differ) does nothing and
its scores equal the LiteRT interpreter's on the same pixels. Every category is asked for and
mapped back to label order by name; a model whose metadata names other labels fails loudly.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from typing import Any

import numpy as np

from flowers_mobile.errors import UserError, first_line
from flowers_mobile.runtimes.base import (
    LoadedPredictor,
    pixel_bytes,
    register_runtime,
    requires_module,
)


@functools.cache
def _import_mediapipe() -> tuple[Any, Any, Any]:
    """(mediapipe, mediapipe.tasks.python.vision, BaseOptions), without dragging TensorFlow in.

    mediapipe.tasks imports TensorFlow only for its API-documentation decorators and falls back
    to no-ops on ModuleNotFoundError (tasks/python/core/optional_dependencies.py). Loading TF
    for that would add seconds and hundreds of MB to every `--runtime mediapipe` run, so when TF
    is not loaded yet it is hidden for the duration of this import.

    mediapipe's package `__init__`s also import its drawing helpers, which import OpenCV's GUI
    build (`opencv-contrib-python`, which mediapipe requires): on a machine without X11 libraries
    (a bare Debian) that fails with "libxcb.so.1: cannot open shared object file". The classifier
    needs none of it, so then the modules it needs are imported without those `__init__`s.
    Done once per process: after that fallback, `import mediapipe` would find the bare packages.
    """
    hide = "tensorflow" not in sys.modules
    if hide:
        sys.modules["tensorflow"] = None  # type: ignore[assignment]  # import now fails fast
    try:
        try:
            import mediapipe
            from mediapipe.tasks.python import vision
            from mediapipe.tasks.python.core.base_options import BaseOptions
        except ImportError as exc:
            if "cv2" not in str(exc) and ".so" not in str(exc):
                raise
            return _import_without_drawing()
    finally:
        if hide and sys.modules.get("tensorflow", False) is None:
            del sys.modules["tensorflow"]
    return mediapipe, vision, BaseOptions


def _import_without_drawing() -> tuple[Any, Any, Any]:
    """The classifier's modules, with mediapipe's packages registered by path (their `__init__`s,
    which import OpenCV for drawing, are not run). Same classes as the normal import."""
    import importlib
    import importlib.machinery
    import importlib.util
    import types
    from pathlib import Path

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or spec.origin is None:
        raise UserError("mediapipe is not installed", hint="pip install mediapipe==1.2.2")
    root = Path(spec.origin).parent
    for name in ("mediapipe", "mediapipe.tasks", "mediapipe.tasks.python", "mediapipe.tasks.python.vision"):
        if name not in sys.modules:
            folder = str(root.joinpath(*name.split(".")[1:]))
            # A real spec (a package, its folder), so importlib.util.find_spec still answers.
            spec_ = importlib.machinery.ModuleSpec(name, None, is_package=True)
            spec_.submodule_search_locations = [folder]
            package = importlib.util.module_from_spec(spec_)
            package.__path__ = [folder]
            sys.modules[name] = package
    classifier = importlib.import_module("mediapipe.tasks.python.vision.image_classifier")
    running_mode = importlib.import_module("mediapipe.tasks.python.vision.core.vision_task_running_mode")
    image = importlib.import_module("mediapipe.tasks.python.vision.core.image")
    base_options = importlib.import_module("mediapipe.tasks.python.core.base_options")
    vision = types.SimpleNamespace(ImageClassifier=classifier.ImageClassifier,
                                   ImageClassifierOptions=classifier.ImageClassifierOptions,
                                   RunningMode=running_mode.VisionTaskRunningMode)
    mp = types.SimpleNamespace(Image=image.Image, ImageFormat=image.ImageFormat,
                               __version__=_installed_version())
    return mp, vision, base_options.BaseOptions


def _installed_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mediapipe")
    except PackageNotFoundError:
        return None


def mediapipe_available() -> str | None:
    """None when MediaPipe Tasks can run here, else one line saying why and what to do.

    Its native library (`mediapipe/tasks/c/libmediapipe.so`) links the system's libEGL.so.1 and
    libGLESv2.so.2 (for its GPU path, loaded even on CPU): a bare Debian has neither, and the
    classifier then fails to load. Checked by loading them, as the library would. Whether the
    package is importable is asked each time (cheap; a test may hide it), the libraries once.
    """
    installed = requires_module("mediapipe", "mediapipe==1.2.2")()
    if installed is not None:
        return installed
    missing = _missing_native_libs()
    if missing:
        return (f"MediaPipe Tasks' native library needs {' and '.join(missing)}, not on this machine "
                f"(Debian/Ubuntu: apt install libegl1 libgles2)")
    return None


@functools.cache
def _missing_native_libs() -> tuple[str, ...]:
    """The system libraries MediaPipe's native library links that cannot be loaded here (Linux)."""
    if not sys.platform.startswith("linux"):
        return ()
    import ctypes

    missing = []
    for lib in ("libEGL.so.1", "libGLESv2.so.2"):
        try:
            ctypes.CDLL(lib)
        except OSError:
            missing.append(lib)
    return tuple(missing)


@register_runtime("mediapipe", available=mediapipe_available)
class MediaPipePredictor(LoadedPredictor):
    """Runs a .tflite with metadata through MediaPipe Tasks' ImageClassifier (IMAGE mode, CPU)."""

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        super().__init__(path, threads=threads)
        from flowers_mobile.formats.tflite import embedded_labels, tflite_input_size

        self._classifier: Any = None
        if not self.path.is_file():
            raise UserError(f"model not found: {self.path}")
        data = self.path.read_bytes()
        self._size = tflite_input_size(data, self.path)  # first: a file that is no model says so
        labels = embedded_labels(data)
        if not labels:
            raise UserError(f"{self.path} has no labels in its metadata; MediaPipe Tasks needs them",
                            hint="convert it with `flowers-mobile convert` (writes metadata)")
        self._labels = labels
        self._mp, vision, base_options = _import_mediapipe()
        options = vision.ImageClassifierOptions(
            base_options=base_options(model_asset_path=str(self.path)),
            running_mode=vision.RunningMode.IMAGE,
            # Every class, however small its score: the caller gets the full distribution.
            max_results=len(labels), score_threshold=0.0)
        try:
            self._classifier = vision.ImageClassifier.create_from_options(options)
        except (RuntimeError, ValueError, OSError) as exc:  # MediaPipe maps its status codes onto these
            first = first_line(exc)
            raise UserError(f"{self.path}: MediaPipe Tasks cannot load it ({first})",
                            hint="convert it with `flowers-mobile convert` (writes classifier metadata)") from exc

    def classify_by_name(self, images: np.ndarray) -> list[dict[str, float]]:
        """MediaPipe's own answer: {category name: score} per image, every category.

        Raises:
            RuntimeError: a category's name and index disagree with the label order.
        """
        images = self.check_batch(images, self._size)
        images = pixel_bytes(images)  # the classifier takes bytes, as the camera gives them
        if self._classifier is None:
            raise RuntimeError("the MediaPipe classifier is closed")
        index = {name: i for i, name in enumerate(self._labels)}
        out = []
        for image in images:
            frame = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
            categories = self._classifier.classify(frame).classifications[0].categories
            wrong = [(c.index, c.category_name) for c in categories if index.get(c.category_name) != c.index]
            if wrong:
                raise RuntimeError(f"MediaPipe categories do not match the label order: {wrong[:5]}")
            out.append({c.category_name: float(c.score) for c in categories})
        return out

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities in label order (MediaPipe takes uint8 pixels: floats are rounded)."""
        by_name = self.classify_by_name(images)
        out = np.zeros((len(by_name), len(self._labels)), np.float32)
        index = {name: i for i, name in enumerate(self._labels)}
        for row, scores in enumerate(by_name):
            for name, score in scores.items():
                out[row, index[name]] = score
        return out

    def describe(self) -> dict[str, Any]:
        # BaseOptions takes no thread count: MediaPipe's CPU (XNNPACK) path picks its own.
        return {**super().describe(), "threads": "MediaPipe default", "delegate": "CPU",
                "mediapipe": getattr(self._mp, "__version__", None) if hasattr(self, "_mp") else None}

    def close(self) -> None:
        classifier, self._classifier = getattr(self, "_classifier", None), None
        if classifier is not None:
            classifier.close()

    def __del__(self) -> None:
        # At interpreter exit MediaPipe's C bindings may be gone already.
        with contextlib.suppress(Exception):
            self.close()
