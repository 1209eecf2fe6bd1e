"""The figures an artifact is judged by, from its probabilities and the Keras model's: the same
for `convert` (while choosing what ships) and for `parity`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.judge.stats import robust_percentile

#: How many of the most-disagreeing images each export lists.
WORST_IMAGES = 5
#: How many near-tie images each export lists (all are counted).
NEAR_TIE_IMAGES = 10
#: Top-k for the "top-5 agreement": Keras's top-1 class is among the export's top k.
TOP_K = 5


def top2_margin(probs: np.ndarray) -> np.ndarray:
    """Per image: top-1 probability minus top-2 probability, in float64 (1 with a single class).
    The one definition of Keras's "margin": near-ties and confident images both use it."""
    if probs.shape[1] < 2:
        return np.ones(len(probs))
    top = -np.sort(-probs.astype(np.float64), axis=1)[:, :2]
    return top[:, 0] - top[:, 1]


def distance(reference: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    """(mean total-variation distance, robust p99 of per-image max |Δp|) of `probs` to `reference`:
    the two figures faithfulness is judged by, and what a derived bound is a multiple of."""
    diff = np.abs(probs.astype(np.float64) - reference.astype(np.float64))
    return float(0.5 * diff.sum(axis=1).mean()), robust_percentile(diff.max(axis=1), 0.99)


def compare(reference: np.ndarray, probs: np.ndarray, true: np.ndarray | None, labels: list[str],
            paths: list[Path], worst: int = WORST_IMAGES, near_tie_margin: float = 0.0,
            p99_limit: float | None = None) -> dict[str, Any]:
    """Agreement, differences, near-ties and accuracy of `probs` against the Keras `reference`.

    Args:
        reference, probs: (N, C) probabilities of Keras and of the export on the same images.
        true: true label indices (N,), or None without labels.
        labels, paths: names for the listed images.
        worst: how many of the most-disagreeing images to list.
        near_tie_margin: images whose Keras top-2 margin is below this are near-ties: counted
            and listed apart, and left out of `agreement` (which is over the other images).
        p99_limit: the variant's bound on the p99 of per-image max |Δp|: the images above it
            are counted (`over_p99_limit`), the evidence a p99 above the bound is judged by.
    Returns:
        Keys named like `ExportParity`'s fields.
    """
    ref_top1 = reference.argmax(axis=1)
    top1 = probs.argmax(axis=1)
    k = min(TOP_K, probs.shape[1])
    topk = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    diff = np.abs(probs.astype(np.float64) - reference.astype(np.float64))
    per_image = diff.max(axis=1)
    agree = top1 == ref_top1
    margin = top2_margin(reference)
    near = margin < near_tie_margin
    out: dict[str, Any] = {
        "top1_agreement": float(np.mean(agree)),
        "top5_agreement": float(np.mean((topk == ref_top1[:, None]).any(axis=1))),
        "max_abs_diff": float(diff.max()),
        "p99_abs_diff": robust_percentile(per_image, 0.99),
        "mean_abs_diff": float(diff.mean()),
        "mean_tv": float(0.5 * diff.sum(axis=1).mean()),
        "over_p99_limit": None if p99_limit is None else int((per_image > p99_limit).sum()),
        "near_ties": int(near.sum()),
        "near_tie_flips": int((near & ~agree).sum()),
        "decided": int((~near).sum()),
        "agreements": int((agree & ~near).sum()),
    }
    out["agreement"] = out["agreements"] / out["decided"] if out["decided"] else None

    def entry(i: int) -> dict[str, Any]:
        return {"path": str(paths[i]), "true": labels[true[i]] if true is not None else None,
                "keras": labels[ref_top1[i]], "keras_prob": float(reference[i, ref_top1[i]]),
                "keras_margin": float(margin[i]), "export": labels[top1[i]],
                "export_prob": float(probs[i, top1[i]]), "max_abs_diff": float(per_image[i]),
                "near_tie": bool(near[i])}

    # Disagreements on decided images first, then near-tie flips, then by the largest difference.
    order = np.lexsort((-per_image, agree, ~(~agree & ~near)))
    out["worst"] = [entry(i) for i in order[:worst] if per_image[i] > 0]
    near_order = np.flatnonzero(near)[np.argsort(margin[near], kind="stable")]
    out["near_tie_images"] = [entry(i) for i in near_order[:NEAR_TIE_IMAGES]]
    if true is not None:
        keras_right, export_right = ref_top1 == true, top1 == true
        out["accuracy"] = float(np.mean(export_right))
        out["accuracy_change"] = out["accuracy"] - float(np.mean(keras_right))
        out["keras_right_export_wrong"] = int((keras_right & ~export_right).sum())
        out["keras_wrong_export_right"] = int((~keras_right & export_right).sum())
        out["per_class_accuracy_change"] = {
            labels[c]: float(np.mean(top1[true == c] == c) - np.mean(ref_top1[true == c] == c))
            for c in np.unique(true)}
    return out
