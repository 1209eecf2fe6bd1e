"""Activations: relu, relu6, clip, sigmoid, tanh, softmax."""

from __future__ import annotations

from typing import Any

import numpy as np

from flowers_mobile.coreml_exec.ops.common import axis_of, f32
from flowers_mobile.coreml_exec.registry import ROW_WISE, BatchQuery, register_op


@register_op("relu", batch=ROW_WISE, fp16_exact=True)
def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, np.float32(0))


@register_op("relu6", batch=ROW_WISE, fp16_exact=True)
def relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, np.float32(0), np.float32(6))


@register_op("clip", batch=ROW_WISE, fp16_exact=True)
def clip(x: np.ndarray, alpha: Any, beta: Any) -> np.ndarray:
    """min(max(x, alpha), beta)."""
    return np.minimum(np.maximum(x, f32(alpha)), f32(beta))


@register_op("sigmoid", batch=ROW_WISE)
def sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of -|x| never overflows; both branches of the usual formula from it.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


@register_op("tanh", batch=ROW_WISE)
def tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


def _softmax_batch(q: BatchQuery) -> bool:
    return q.axes("axis", default=-1) != [0]


@register_op("softmax", batch=_softmax_batch)
def softmax(x: np.ndarray, axis: Any = -1) -> np.ndarray:
    axis = axis_of(axis, x.ndim)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
