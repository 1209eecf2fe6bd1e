"""The SavedModel runtime: what a server (TF Serving) runs, through its `serving_default` signature.

The signature takes raw float32 pixels (N, H, W, 3) and returns "probabilities" (N, classes).
Labels: `labels.txt` in the export folder (the SavedModel folder's parent), else
`assets/labels.txt` inside the SavedModel when the exporter packed one there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.errors import UserError, first_line
from flowers_mobile.labels import read_labels
from flowers_mobile.runtimes.base import LoadedPredictor, register_runtime
from flowers_mobile.runtimes.keras_runtime import MAX_CHUNK, set_tf_threads

SIGNATURE = "serving_default"
OUTPUT_KEY = "probabilities"


def find_labels_file(saved_model_dir: Path) -> Path:
    """labels.txt beside the SavedModel folder, else inside its assets; UserError when neither."""
    for candidate in (saved_model_dir.parent / "labels.txt", saved_model_dir / "assets" / "labels.txt"):
        if candidate.is_file():
            return candidate
    raise UserError(f"no labels for {saved_model_dir}: looked for {saved_model_dir.parent / 'labels.txt'} "
                    f"and {saved_model_dir / 'assets' / 'labels.txt'}",
                    hint="keep the SavedModel inside its export folder, beside labels.txt")


@register_runtime("saved_model")
class SavedModelPredictor(LoadedPredictor):
    """A SavedModel classifier called through its serving signature."""

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        super().__init__(path, threads=threads)
        self._threads_used = set_tf_threads(threads)
        import tensorflow as tf

        try:
            self._loaded = tf.saved_model.load(os.fspath(self.path))
        except Exception as exc:  # corrupt protobuf, missing variables, ...
            detail = first_line(exc)
            raise UserError(f"{self.path}: cannot load the SavedModel ({detail[:200]})",
                            hint="re-run `flowers-mobile convert --target saved_model`") from exc
        signatures = self._loaded.signatures
        if SIGNATURE not in signatures:
            raise UserError(f"{self.path}: no {SIGNATURE!r} signature (it has: {', '.join(signatures) or 'none'})")
        self._fn = signatures[SIGNATURE]
        _, kwargs = self._fn.structured_input_signature
        if len(kwargs) != 1:
            raise UserError(f"{self.path}: the {SIGNATURE} signature takes {len(kwargs)} inputs; expected one image input")
        (self._input_name, spec), = kwargs.items()
        shape = spec.shape
        if shape.rank != 4 or shape[-1] != 3 or shape[1] is None or shape[2] is None:
            raise UserError(f"{self.path}: signature input {self._input_name!r} has shape {shape}; expected (N, H, W, 3)")
        self._size = (int(shape[1]), int(shape[2]))
        self._dtype = spec.dtype
        outputs = self._fn.structured_outputs
        self._output_key = OUTPUT_KEY if OUTPUT_KEY in outputs else (next(iter(outputs)) if len(outputs) == 1 else None)
        if self._output_key is None:
            raise UserError(f"{self.path}: the {SIGNATURE} signature has outputs {', '.join(outputs)}; "
                            f"expected {OUTPUT_KEY!r}")
        classes = outputs[self._output_key].shape[-1]
        self._labels = read_labels(find_labels_file(self.path))
        if classes is not None and classes != len(self._labels):
            raise UserError(f"{self.path}: {classes} outputs but {len(self._labels)} labels")

    def predict(self, images: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        images = self.check_batch(images, self._size)
        outs = []
        for i in range(0, len(images), MAX_CHUNK):
            batch = tf.constant(images[i:i + MAX_CHUNK], dtype=self._dtype)
            outs.append(np.asarray(self._fn(**{self._input_name: batch})[self._output_key], dtype=np.float32))
        return np.concatenate(outs) if outs else np.zeros((0, len(self._labels)), np.float32)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "precision": "float32", "threads": self._threads_used,
                "signature": SIGNATURE, "input": self._input_name}

    def close(self) -> None:
        self._fn = None
        self._loaded = None
