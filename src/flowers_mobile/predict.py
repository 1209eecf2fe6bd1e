"""Classify image files with any model format through the one `Predictor` interface.

Images are loaded the way the apps hand them to a model (`flowers_mobile.images.load_image`:
decoded, EXIF-rotated, RGB, stretched to the input size). A folder stands for every image
under it, at any depth (hidden files and folders aside), sorted. Undecodable images are skipped
and reported; only when none can be read is it an error.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.data.sources import find_images
from flowers_mobile.errors import UserError
from flowers_mobile.images import IMAGE_SUFFIXES, ImageLoadError, load_image
from flowers_mobile.parity.plan import default_runtime
from flowers_mobile.runtimes.base import load_predictor

#: Images per `predict` call: bounds memory for large folders.
BATCH = 32


@dataclass
class Prediction:
    path: str
    #: (label, probability), best first.
    top: list[tuple[str, float]]

    @property
    def label(self) -> str:
        return self.top[0][0]

    @property
    def probability(self) -> float:
        return self.top[0][1]


@dataclass
class PredictResult:
    model: str
    runtime: str
    describe: dict[str, Any]
    predictions: list[Prediction] = field(default_factory=list)
    #: {"path": ..., "error": ...} for inputs that could not be decoded.
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["predictions"] = [{"path": p.path, "label": p.label, "probability": p.probability,
                               "top": [{"label": lab, "probability": prob} for lab, prob in p.top]}
                              for p in self.predictions]
        return out


def expand_inputs(inputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Files as given, folders as the image files under them (any depth); UserError for a missing path."""
    if not inputs:
        raise UserError("no images given", hint="pass image files or folders of images")
    out: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = find_images(path)
            if not found:
                raise UserError(f"{path} has no images ({', '.join(IMAGE_SUFFIXES[:4])}, ...)",
                                hint="give image files or a folder that holds them")
            out += found
        elif path.is_file():
            out.append(path)  # named explicitly: try to decode whatever its suffix
        else:
            raise UserError(f"image not found: {path}")
    return out


def predict_images(inputs: Sequence[str | os.PathLike[str]], model: str | os.PathLike[str], *,
                   runtime: str | None = None, top_k: int = 3, threads: int | None = None) -> PredictResult:
    """Classify `inputs` (files and folders) with `model`.

    Args:
        inputs: image files and folders of images (read recursively).
        model: any format `load_predictor` opens (.keras, .h5, .tflite, .mlpackage, SavedModel folder).
        runtime: force a runtime by name (keras, litert, task_library, mediapipe, coreml, coreml_executor, saved_model).
        top_k: classes listed per image (capped at the number of labels).
        threads: CPU threads for runtimes that take a count.
    Returns:
        Predictions in input order, and the inputs skipped as undecodable.
    Raises:
        UserError: a missing input or model, an unavailable runtime, or no image decodable.
    """
    if top_k < 1:
        raise UserError(f"--top-k must be at least 1, got {top_k}")
    paths = expand_inputs(inputs)
    predictor = load_predictor(model, runtime or default_runtime(model), threads=threads)
    try:
        result = PredictResult(model=str(model), runtime=predictor.runtime, describe=predictor.describe())
        h, w = predictor.input_size
        loaded: list[tuple[Path, np.ndarray]] = []
        for path in paths:
            try:
                loaded.append((path, load_image(path, (w, h))))
            except ImageLoadError as exc:
                result.skipped.append({"path": str(path), "error": exc.message})
        if not loaded:
            raise UserError(f"none of the {len(paths)} image(s) could be decoded "
                            f"({result.skipped[0]['error']})", hint="give JPEG, PNG, ... images PIL can read")
        labels = predictor.labels
        k = min(top_k, len(labels))
        for start in range(0, len(loaded), BATCH):
            chunk = loaded[start:start + BATCH]
            probs = predictor.predict(np.stack([img for _, img in chunk]))
            for (path, _), row in zip(chunk, probs, strict=True):
                best = np.argsort(-row, kind="stable")[:k]
                result.predictions.append(Prediction(str(path), [(labels[i], float(row[i])) for i in best]))
    finally:
        predictor.close()
    return result
