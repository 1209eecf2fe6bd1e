"""The judge's entry points: the Keras reference on the judged images, and one artifact's
probabilities -> an `ExportParity` with its figures, bounds and two answers."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.config import ParityConfig
from flowers_mobile.judge.figures import compare
from flowers_mobile.judge.reference import Bounds, References, normalize_pixels, predict_eagerly
from flowers_mobile.judge.result import Check, ExportParity
from flowers_mobile.judge.verdict import judge, limits_for


@dataclass
class Judged:
    """The judged images and what every artifact is held against on them."""

    images: np.ndarray  # uint8 (N, H, W, 3), raw pixels
    reference: np.ndarray  # float32 (N, C): Keras's probabilities
    true: np.ndarray | None  # label indices, or None
    labels: list[str]
    paths: list[Path]
    splits: list[str]
    references: References
    _bounds: dict[str, Bounds] = field(default_factory=dict)

    def bounds(self, variant: str, pc: ParityConfig) -> Bounds:
        """The variant's faithfulness bounds (each reference is run once)."""
        if variant not in self._bounds:
            self._bounds[variant] = self.references.bounds(variant, pc.faithful_multiple, pc.min_mean_tv,
                                                           pc.min_p99_abs_diff)
        return self._bounds[variant]

    def describe(self) -> dict[str, Any]:
        return {"images": int(len(self.images)), "splits": self.splits}


#: (the model file's sha256, scale, offset, digest of the judged images) -> (Keras's probabilities,
#: the references' distances) for the last few models judged in this process: judging the same
#: model on the same images again (a test suite, `convert` then `parity` in one process) does not
#: run the Keras model and its rounded copies again. The distances dict is shared with the
#: `References`, so a scheme measured later is remembered too.
_MEMO: OrderedDict[tuple[Any, ...], tuple[np.ndarray, dict[str, tuple[float, float]]]] = OrderedDict()
_MEMO_SIZE = 4


def judged(load_model: Callable[[], Any], images: np.ndarray, true: np.ndarray | None, labels: list[str],
           paths: list[Path], splits: list[str], scale: tuple[float, ...] | None = None,
           offset: tuple[float, ...] | None = None, model_path: Path | None = None) -> Judged:
    """Run the Keras model (`load_model()`, which takes `x * scale + offset` of raw pixels) on the
    images; its rounded copies run later, when a variant's bounds are first asked for. With
    `model_path` (the file `load_model` reads), what was measured before on the same file and
    images in this process is reused."""
    inputs = normalize_pixels(images, scale, offset)
    key = None
    if model_path is not None:
        from flowers_mobile.fsutil import sha256_path

        key = (sha256_path(model_path), scale, offset, inputs.shape, hashlib.sha256(inputs.tobytes()).hexdigest())
        if key in _MEMO:
            _MEMO.move_to_end(key)
            reference, distances = _MEMO[key]
            return Judged(images, reference, true, labels, paths, splits,
                          References(load_model, inputs, reference, distances=distances))
    model = load_model()
    reference = predict_eagerly(model, inputs)
    references = References(load_model, inputs, reference, model)
    if key is not None:
        _MEMO[key] = (reference, references.distances)
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return Judged(images, reference, true, labels, paths, splits, references)


def assess(result: ExportParity, probs: np.ndarray | None, held: Judged, pc: ParityConfig, strict: bool) -> None:
    """Figures of `probs` against Keras on `held`, then the verdict (`judge.verdict.judge`).

    `result` names the artifact (file, runtime, format, precision, variant, ships) and may carry
    the caller's checks already (labels, input size) or an `error`; `probs` None: nothing ran.
    """
    limits = limits_for(result.variant, pc)
    bounds = None
    if result.error is None and probs is not None:
        if probs.shape != held.reference.shape:
            result.error = f"output shape {probs.shape} differs from the Keras model's {held.reference.shape}"
        else:
            bounds = held.bounds(result.variant, pc)
            figures = compare(held.reference, probs, held.true, held.labels, held.paths,
                              near_tie_margin=limits.near_tie_margin, p99_limit=bounds.p99_abs_diff)
            for key, value in figures.items():
                setattr(result, key, value)
    judge(result, limits, bounds, held.true is not None, strict)


def failed_phrases(result: ExportParity) -> list[str]:
    """One phrase per check that is not a pass ("mean_tv fail (0.012 <= 0.004)")."""
    def phrase(c: Check) -> str:
        if isinstance(c.value, float) and isinstance(c.limit, float):
            return f"{c.metric} {c.verdict} ({c.value:.4g} {c.op} {c.limit:.4g})"
        return f"{c.metric} {c.verdict}"

    out = [phrase(c) for c in result.checks if c.verdict != "pass"]
    return [f"error: {result.error}"] + out if result.error else out
