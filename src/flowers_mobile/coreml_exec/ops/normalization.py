"""Normalizations with statistics of the input itself: layer_norm, instance_norm, l2_norm
(batch_norm, whose statistics are constants, lives with the linear ops).

Semantics from coremltools' iOS15 `normalization` definitions:
- layer_norm: over `axes` (all axes when absent), variance the biased mean of squares,
  gamma / beta shaped like x's normalized axes, epsilon 1e-5 by default;
- instance_norm: per image and channel over the spatial axes of (N, C, *D), gamma / beta (C,);
- l2_norm: x / sqrt(sum of squares + epsilon) over the last three axes, the axes before them
  (from 0 to -4) each a batch; epsilon 1e-6 by default.
Statistics are computed in float64 from float32 values, so the result does not depend on how
many values are summed (float32 sums drift by ~1e-6 over a 96x96 map).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flowers_mobile.coreml_exec.ops.common import axis_of, f32, ints
from flowers_mobile.coreml_exec.registry import ROW_WISE, BatchQuery, register_op


def _normalize(x: np.ndarray, axes: tuple[int, ...], epsilon: Any) -> np.ndarray:
    wide = np.asarray(x, dtype=np.float64)
    centred = wide - wide.mean(axis=axes, keepdims=True)
    variance = np.mean(np.square(centred), axis=axes, keepdims=True)
    return (centred / np.sqrt(variance + float(np.asarray(epsilon)))).astype(np.float32)


def _layer_norm_batch(q: BatchQuery) -> bool:
    axes = q.axes("axes")
    return axes is not None and 0 not in axes


@register_op("layer_norm", batch=_layer_norm_batch)
def layer_norm(x: np.ndarray, axes: Any = None, gamma: Any = None, beta: Any = None, epsilon: Any = 1e-5) -> np.ndarray:
    rank = x.ndim
    axes_ = tuple(range(rank)) if axes is None else tuple(sorted(axis_of(a, rank) for a in ints(axes, ())))
    out = _normalize(x, axes_, epsilon)
    shape = [x.shape[i] if i in axes_ else 1 for i in range(rank)]  # gamma is x.shape[axes]
    if gamma is not None:
        out = out * f32(gamma).reshape(shape)
    if beta is not None:
        out = out + f32(beta).reshape(shape)
    return out.astype(np.float32, copy=False)


@register_op("instance_norm", batch=ROW_WISE)
def instance_norm(x: np.ndarray, gamma: Any = None, beta: Any = None, epsilon: Any = 1e-5) -> np.ndarray:
    if x.ndim < 3:
        raise ValueError(f"instance_norm needs x of rank 3 or 4 (N, C, *spatial), got rank {x.ndim}")
    out = _normalize(x, tuple(range(2, x.ndim)), epsilon)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if gamma is not None:
        out = out * f32(gamma).reshape(shape)
    if beta is not None:
        out = out + f32(beta).reshape(shape)
    return out.astype(np.float32, copy=False)


def _l2_norm_batch(q: BatchQuery) -> bool:
    # Rank 3: the whole tensor is one group, so stacked images would share one norm.
    return q.rank("x") >= 4


@register_op("l2_norm", batch=_l2_norm_batch)
def l2_norm(x: np.ndarray, epsilon: Any = 1e-6) -> np.ndarray:
    if x.ndim < 3:
        raise ValueError(f"l2_norm needs x of rank 3 or more, got rank {x.ndim}")
    wide = np.asarray(x, dtype=np.float64)
    sums = np.sum(np.square(wide), axis=(-3, -2, -1), keepdims=True)
    return (wide / np.sqrt(sums + float(np.asarray(epsilon)))).astype(np.float32)
