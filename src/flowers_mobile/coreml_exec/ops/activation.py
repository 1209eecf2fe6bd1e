"""Activations: relu, relu6, clip, sigmoid, tanh, softmax, and the smooth and parametric ones of
coremltools' iOS15 `activation` definitions: silu (swish), gelu (its three modes), leaky_relu,
elu, prelu, softplus, sigmoid_hard.

All are element-wise (prelu per channel, axis 1), so each image is computed on its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flowers_mobile.coreml_exec.ops.common import axis_of, f32
from flowers_mobile.coreml_exec.ops.elementwise import erf
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


@register_op("silu", batch=ROW_WISE)
def silu(x: np.ndarray) -> np.ndarray:
    """x * sigmoid(x) (swish; EfficientNet's activation)."""
    return (x * sigmoid(x)).astype(np.float32, copy=False)


_SQRT_2_OVER_PI = np.sqrt(2 / np.pi)


@register_op("gelu", batch=ROW_WISE)
def gelu(x: np.ndarray, mode: str = "EXACT") -> np.ndarray:
    """x * Phi(x) (EXACT, with erf), or its tanh or sigmoid approximation, as MIL's modes say."""
    x = np.asarray(x, dtype=np.float32)
    if mode == "EXACT":
        return (0.5 * x * (1 + erf(x * np.float32(1 / np.sqrt(2))))).astype(np.float32)
    if mode == "TANH_APPROXIMATION":
        inner = np.float32(_SQRT_2_OVER_PI) * (x + np.float32(0.044715) * x * x * x)
        return (0.5 * x * (1 + np.tanh(inner))).astype(np.float32)
    if mode == "SIGMOID_APPROXIMATION":
        return x * sigmoid(np.float32(1.702) * x)
    raise ValueError(f"unknown gelu mode {mode!r}; expected EXACT, TANH_APPROXIMATION or SIGMOID_APPROXIMATION")


@register_op("leaky_relu", batch=ROW_WISE)
def leaky_relu(x: np.ndarray, alpha: Any = 0.01) -> np.ndarray:
    return np.where(x >= 0, x, x * f32(alpha)).astype(np.float32)


@register_op("elu", batch=ROW_WISE)
def elu(x: np.ndarray, alpha: Any = 1.0) -> np.ndarray:
    return np.where(x > 0, x, f32(alpha) * np.expm1(np.minimum(x, 0))).astype(np.float32)


@register_op("prelu", batch=ROW_WISE)
def prelu(x: np.ndarray, alpha: Any) -> np.ndarray:
    """leaky_relu with one slope per channel (axis 1 of a rank 3-5 x)."""
    slopes = np.asarray(alpha, dtype=np.float32).reshape(-1)
    if x.ndim < 3 or slopes.size != x.shape[1]:
        raise ValueError(f"prelu: {slopes.size} slopes for x of shape {tuple(x.shape)} (one per channel, axis 1)")
    slopes = slopes.reshape((1, -1) + (1,) * (x.ndim - 2))
    return np.where(x >= 0, x, x * slopes).astype(np.float32)


@register_op("softplus", batch=ROW_WISE)
def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)), written so that exp never overflows."""
    return (np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)).astype(np.float32)


@register_op("sigmoid_hard", batch=ROW_WISE)
def sigmoid_hard(x: np.ndarray, alpha: Any = 0.2, beta: Any = 0.5) -> np.ndarray:
    """min(max(alpha * x + beta, 0), 1)."""
    return np.clip(f32(alpha) * x + f32(beta), np.float32(0), np.float32(1)).astype(np.float32)
