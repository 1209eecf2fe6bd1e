"""Core ML's classifier op: the top label and a {label: probability} dict per row."""

from __future__ import annotations

from typing import Any

import numpy as np

from flowers_mobile.coreml_exec.registry import ROW_WISE, register_op


@register_op("classify", batch=ROW_WISE)
def classify(probabilities: np.ndarray, classes: Any) -> tuple[np.ndarray, list[dict[Any, float]]]:
    """The top label per row and a {label: probability} dict per row."""
    classes = [c.item() if isinstance(c, np.ndarray) else c for c in classes]
    probs = np.asarray(probabilities, dtype=np.float32)
    if probs.shape[-1] != len(classes):
        raise ValueError(f"classify: {len(classes)} classes for {probs.shape[-1]} probabilities")
    rows = probs.reshape(-1, len(classes))
    labels = np.array([classes[i] for i in rows.argmax(axis=1)], dtype=object)
    dicts = [{cls: float(p) for cls, p in zip(classes, row, strict=True)} for row in rows]
    return labels, dicts
