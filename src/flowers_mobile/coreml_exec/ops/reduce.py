"""Reductions: reduce_mean, reduce_sum, reduce_max (batch-safe unless they reduce axis 0)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from flowers_mobile.coreml_exec.ops.common import axis_of, ints
from flowers_mobile.coreml_exec.registry import BatchQuery, register_op


def _keeps_images_apart(q: BatchQuery) -> bool:
    axes = q.axes("axes")
    return axes is not None and 0 not in axes


def _reduce(fn: Callable[..., np.ndarray], x: np.ndarray, axes: Any, keep_dims: Any) -> np.ndarray:
    axis = None if axes is None else tuple(axis_of(a, x.ndim) for a in ints(axes, ()))
    return fn(x, axis=axis, keepdims=bool(keep_dims))


@register_op("reduce_mean", batch=_keeps_images_apart)
def reduce_mean(x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> np.ndarray:
    return _reduce(np.mean, x, axes, keep_dims)


@register_op("reduce_sum", batch=_keeps_images_apart)
def reduce_sum(x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> np.ndarray:
    return _reduce(np.sum, x, axes, keep_dims)


@register_op("reduce_max", batch=_keeps_images_apart, fp16_exact=True)
def reduce_max(x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> np.ndarray:
    return _reduce(np.max, x, axes, keep_dims)
