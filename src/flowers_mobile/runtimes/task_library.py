"""The Task Library runtime: tflite-support's ImageClassifier, the C++ classifier the Android app runs.

It reads the labels and the input normalization from the model's metadata, so running it
proves the metadata is right. Its pybind types clash with TensorFlow's (docs/stack.md), so it runs
in a worker subprocess (`_task_worker.py`) where TensorFlow is never imported; this process
sends image batches as .npy files and gets back a score per label name. The predictor maps the
names back to label order: a model whose metadata carries other labels fails loudly.

tflite-support is optional (the `task-library` extra): its last release (0.4.4, 2023) has wheels
for Python <= 3.11 only. Where it is absent, `available()` says so in one line and `parity` and
`benchmark` go on with the other runtimes; MediaPipe Tasks reads the same metadata everywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.errors import UserError
from flowers_mobile.runtimes.base import (
    LoadedPredictor,
    RuntimeUnavailable,
    pixel_bytes,
    register_runtime,
)

WORKER = Path(__file__).with_name("_task_worker.py")
#: Seconds to wait for the worker to build the classifier, and per image for a reply.
START_TIMEOUT = 120.0


def task_library_available() -> str | None:
    """None when tflite-support's Task Library can run here, else one line saying why and what to do."""
    import importlib.util

    if sys.version_info >= (3, 12):
        return (f"the Task Library is not installed: tflite-support 0.4.4 (its last release) has no wheel for "
                f"Python {sys.version_info[0]}.{sys.version_info[1]}; use --runtime mediapipe, which reads "
                f"the same metadata, or Python 3.10/3.11 with `TASK_LIBRARY=1 bash tools/setup.sh`")
    if importlib.util.find_spec("tensorflow_lite_support") is None:
        return ("the Task Library is not installed (optional): `TASK_LIBRARY=1 bash tools/setup.sh`, or "
                "pip install .[task-library] && pip install --no-deps tflite-support==0.4.4")
    return None


@register_runtime("task_library", available=task_library_available)
class TaskLibraryPredictor(LoadedPredictor):
    """Runs a .tflite with metadata through the Task Library's ImageClassifier in a subprocess."""

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        super().__init__(path, threads=threads)
        from flowers_mobile.formats.tflite import embedded_labels, tflite_input_size

        if not self.path.is_file():
            raise UserError(f"model not found: {self.path}")
        data = self.path.read_bytes()
        labels = embedded_labels(data)
        if not labels:
            raise UserError(f"{self.path} has no labels in its metadata; the Task Library needs them",
                            hint="convert it with `flowers-mobile convert` (writes metadata)")
        self._labels = labels
        self._size = tflite_input_size(data, self.path)
        self._tmp = tempfile.TemporaryDirectory(prefix="flowers-task-")
        self._proc: subprocess.Popen[str] | None = None
        self._start()

    def _start(self) -> None:
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # tflite-support 0.4.4's generated _pb2 modules predate protobuf 4 and cannot be built by
        # the compiled (upb) protobuf this project runs on ("Descriptors cannot be created
        # directly"). The worker never imports TensorFlow, so the slow pure-Python parser costs
        # nothing there: select it for this subprocess only.
        env["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"
        # stderr goes to a file: the native code's chatter must never fill a pipe nobody reads.
        self._stderr_path = Path(self._tmp.name) / "stderr.txt"
        with open(self._stderr_path, "w") as stderr:
            self._proc = subprocess.Popen(
                [sys.executable, str(WORKER), str(self.path), str(self.threads or -1), str(len(self._labels))],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
        reply = self._read_reply()
        if not reply.get("ready"):
            self.close()
            raise RuntimeUnavailable(f"{self.path}: the Task Library could not load it ({reply.get('error')})")

    def _read_reply(self) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self._proc.wait()
            err = self._stderr_path.read_text(errors="replace")
            tail = " | ".join(err.strip().splitlines()[-3:])
            raise RuntimeError(f"Task Library worker exited (code {self._proc.poll()}): {tail}")
        return json.loads(line)

    def classify_by_name(self, images: np.ndarray) -> list[dict[str, float]]:
        """The Task Library's own answer: {category name: score} per image, every category."""
        images = self.check_batch(images, self._size)
        images = pixel_bytes(images)
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError("the Task Library worker is not running")
        batch = Path(self._tmp.name) / "batch.npy"
        np.save(batch, np.ascontiguousarray(images))
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"npy": str(batch)}) + "\n")
        self._proc.stdin.flush()
        reply = self._read_reply()
        if "error" in reply:
            raise RuntimeError(f"Task Library failed on a batch: {reply['error']}")
        return reply["scores"]

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities in label order (the Task Library takes uint8 pixels: floats are rounded)."""
        by_name = self.classify_by_name(images)
        out = np.zeros((len(by_name), len(self._labels)), np.float32)
        index = {name: i for i, name in enumerate(self._labels)}
        for row, scores in enumerate(by_name):
            unknown = sorted(set(scores) - set(index))
            if unknown:
                raise RuntimeError(f"the Task Library returned categories not in the labels: {unknown[:5]}")
            for name, score in scores.items():
                out[row, index[name]] = score
        return out

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "threads": self.threads, "process": "subprocess (no TensorFlow)"}

    def close(self) -> None:
        proc, self._proc = getattr(self, "_proc", None), None
        if proc is not None:
            try:
                if proc.stdin:
                    proc.stdin.close()
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            tmp.cleanup()
            self._tmp = None

    def __del__(self) -> None:
        self.close()

