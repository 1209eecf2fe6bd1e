"""One `convert` as the data its targets share, in its own module so that `convert.py` (which
makes it) and the targets it hands it to (`tflite_target.py`) both import it without importing
each other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowers_mobile.config import Config


@dataclass(frozen=True)
class Job:
    """One convert, checked before TensorFlow loads: what to read, what to write, with which config."""

    cfg: Config
    model_path: Path
    labels_file: Path
    labels: list[str]
    targets: list[str]
    precisions: list[str]
    forced: str | None
    norm: Any
    data_path: Path | None
    calibration: list[Path] | None
    dataset: Any | None
    out_dir: Path
    #: The judge's held-out images and Keras reference (`fidelity.judged_images`), made once the
    #: model is loaded and shared by the TFLite choice and the Core ML measurement.
    held: Any = None
