"""How closely each TFLite export answers like the Keras model, measured while converting.

The images are the data folder's validation and test splits: never the training split that
int8 calibrates on, so an export is judged on pictures its quantization ranges were not fitted
to. Each export runs through LiteRT exactly as `parity` runs it, and is compared with the Keras
model's probabilities on the same images:

- ``top1_agreement``: share of images where the export's top class is Keras's;
- ``confident_agreement``: the same over the images where Keras is sure of itself (its top-2
  probability margin exceeds ``parity.confident_margin``): a disagreement there is a real error,
  where one on a near-tie is a coin flip either way;
- ``max_abs_diff`` / ``mean_abs_diff`` of the probabilities, and the accuracy change when the
  data's classes are the labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Held-out splits, in the order images are drawn from them.
HELD_OUT_SPLITS = ("val", "test")


@dataclass
class FidelitySet:
    """Held-out images with the Keras model's answers on them."""

    images: np.ndarray  # uint8 (N, H, W, 3), raw pixels
    reference: np.ndarray  # float32 (N, C): Keras probabilities
    true: np.ndarray | None  # label indices, or None when the data's classes are not the labels
    splits: list[str]
    margin: float

    @property
    def confident(self) -> np.ndarray:
        """Mask of the images where Keras's top-2 probability margin exceeds `margin`."""
        return top2_margin(self.reference) > self.margin

    def describe(self) -> dict[str, Any]:
        return {"images": int(len(self.images)), "splits": self.splits, "confident_margin": self.margin,
                "confident_images": int(self.confident.sum())}


def top2_margin(probs: np.ndarray) -> np.ndarray:
    """Per image: top-1 probability minus top-2 probability, in float64 (1 with a single class).
    The one definition of Keras's "margin": convert's confident images and parity's near-ties."""
    if probs.shape[1] < 2:
        return np.ones(len(probs))
    top = -np.sort(-probs.astype(np.float64), axis=1)[:, :2]
    return top[:, 0] - top[:, 1]


def held_out_images(dataset: Any, labels: list[str], input_size: tuple[int, int], max_images: int,
                    seed: int) -> tuple[np.ndarray, np.ndarray | None, list[str]] | None:
    """Up to `max_images` of the validation and test splits (stratified), uint8; None if they are empty.

    Returns:
        (images, true label indices into `labels` or None, the splits used).
    """
    from flowers_mobile.data.sources import stratified_sample
    from flowers_mobile.images import load_decodable

    splits = [name for name in HELD_OUT_SPLITS if dataset.split(name)]
    samples = [s for name in splits for s in dataset.split(name)]
    if not samples:
        return None
    samples = stratified_sample(samples, max_images, seed)
    index = {name: i for i, name in enumerate(labels)}
    known = all(c in index for c in dataset.classes)
    h, w = input_size
    # An undecodable file is left out: `data check` reports it; it must not stop a conversion.
    images, kept, _ = load_decodable([s.path for s in samples], (w, h))
    if images is None:
        return None
    truth = [index.get(dataset.classes[samples[i].label], -1) for i in kept]
    return images, np.array(truth, np.int64) if known else None, splits


def fidelity_set(model: Any, dataset: Any, labels: list[str], input_size: tuple[int, int], max_images: int,
                 seed: int, margin: float) -> FidelitySet | None:
    """The held-out images and Keras's probabilities on them; None when there are no held-out images."""
    held = held_out_images(dataset, labels, input_size, max_images, seed)
    if held is None:
        return None
    images, true, splits = held
    reference = np.asarray(model.predict(images.astype(np.float32), batch_size=32, verbose=0), np.float32)
    return FidelitySet(images=images, reference=reference, true=true, splits=splits, margin=margin)


def measure_probs(probs: np.ndarray, held: FidelitySet) -> dict[str, Any]:
    """Agreement and probability differences of `probs` (N, C) against Keras on `held`."""
    ref_top1 = held.reference.argmax(axis=1)
    agree = probs.argmax(axis=1) == ref_top1
    confident = held.confident
    diff = np.abs(probs.astype(np.float64) - held.reference.astype(np.float64))
    out: dict[str, Any] = {
        "top1_agreement": float(agree.mean()),
        "confident_agreement": float(agree[confident].mean()) if confident.any() else None,
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
    }
    if held.true is not None:
        out["accuracy_change"] = float(np.mean(probs.argmax(axis=1) == held.true) - np.mean(ref_top1 == held.true))
    return out


def measure_tflite(path: str | Path, held: FidelitySet) -> dict[str, Any]:
    """Run the .tflite file through LiteRT on the held-out images; `measure_probs` of its answers."""
    from flowers_mobile.runtimes.litert import LiteRTPredictor

    with LiteRTPredictor(path) as predictor:
        probs = predictor.predict(held.images)
    return measure_probs(probs, held)
