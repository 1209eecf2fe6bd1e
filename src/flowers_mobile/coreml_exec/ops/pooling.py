"""Pooling: max_pool, avg_pool, l2_pool over 1, 2 or 3 spatial axes (x is (N, C, *D)).

MIL's geometry (coremltools' `Pooling` op definition, iOS15 on):
- pad_type "valid" / "custom" (`pad` = [begin0, end0, begin1, ...]) / "same" (out = ceil(in /
  stride), the odd pixel of padding at the end, as for conv) / "same_lower" (at the beginning).
- ceil_mode: out = floor((in + pads - k + stride - 1) / stride) + 1, less one when the last
  window would start inside the end padding (and there is padding); windows may then run past
  the padded input, and the part beyond it counts for nothing (as PyTorch does).
- max_pool never takes a padded value (the padding is -inf); avg_pool divides by the window's
  input pixels when `exclude_padding_from_average` (TensorFlow's rule, what the TF frontend
  writes for "SAME"), else by the window's pixels inside the padded input; l2_pool is the
  square root of the sum of squares (padding adds zeros).

Each image is pooled on its own: every pool is batch-safe.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from flowers_mobile.coreml_exec.ops.common import ints
from flowers_mobile.coreml_exec.ops.conv import conv_pads
from flowers_mobile.coreml_exec.registry import ROW_WISE, register_op


def pool_geometry(in_sizes: tuple[int, ...], kernel: tuple[int, ...], strides: tuple[int, ...], pad_type: str,
                  pad: Any, ceil_mode: bool) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """(begin, end) padding, output size and the overhang past the padded end, per spatial axis."""
    if not len(in_sizes) == len(kernel) == len(strides):
        raise ValueError(f"pool: {len(in_sizes)} spatial axes but kernel_sizes {kernel} and strides {strides}")
    if pad_type not in ("valid", "custom", "same", "same_lower"):
        raise ValueError(f"unknown pad_type {pad_type!r}")
    if ceil_mode and pad_type in ("same", "same_lower"):
        raise ValueError("ceil_mode needs pad_type valid or custom")
    pads = conv_pads(pad_type, pad, in_sizes, kernel, strides, (1,) * len(in_sizes))
    outs, overhang = [], []
    for size, (begin, end), k, s in zip(in_sizes, pads, kernel, strides, strict=True):
        span = size + begin + end
        if ceil_mode:
            out = (span - k + s - 1) // s + 1
            if (out - 1) * s >= size + begin and (begin or end):
                out -= 1  # a window that starts in the end padding is dropped
        else:
            out = (span - k) // s + 1
        if out < 1:
            raise ValueError(f"pool: kernel {k} does not fit an axis of {size} with padding ({begin}, {end})")
        outs.append(out)
        overhang.append(max(0, (out - 1) * s + k - span))
    return pads, outs, overhang


def _window_sum(x: np.ndarray, kernel: tuple[int, ...], strides: tuple[int, ...], outs: list[int],
                combine: Callable[..., np.ndarray]) -> np.ndarray:
    """combine() of the kernel's strided taps over the (already padded) trailing axes of x."""
    lead = (slice(None),) * (x.ndim - len(kernel))
    result = None
    for offsets in itertools.product(*(range(k) for k in kernel)):
        tap = x[lead + tuple(slice(o, o + (n - 1) * s + 1, s) for o, n, s in zip(offsets, outs, strides, strict=True))]
        result = tap.copy() if result is None else combine(result, tap, out=result)
    assert result is not None
    return result


def _prepare(x: np.ndarray, kernel_sizes: Any, strides: Any, pad_type: str, pad: Any, ceil_mode: Any,
             fill: float) -> tuple[np.ndarray, tuple[int, ...], tuple[int, ...], list[tuple[int, int]], list[int], list[int]]:
    spatial = x.ndim - 2
    if spatial not in (1, 2, 3):
        raise ValueError(f"pool needs x of rank 3 to 5 (N, C, *spatial), got rank {x.ndim}")
    kernel = ints(kernel_sizes, ())
    strides_ = ints(strides, (1,) * spatial)
    pads, outs, overhang = pool_geometry(tuple(x.shape[2:]), kernel, strides_, str(pad_type), pad, bool(ceil_mode))
    widths = [(0, 0), (0, 0)] + [(b, e + o) for (b, e), o in zip(pads, overhang, strict=True)]
    x = np.asarray(x, dtype=np.float32)
    if any(b or e for b, e in widths):
        x = np.pad(x, widths, mode="constant", constant_values=np.float32(fill))
    return x, kernel, strides_, pads, outs, overhang


def window_counts(in_sizes: tuple[int, ...], kernel: tuple[int, ...], strides: tuple[int, ...],
                  pads: list[tuple[int, int]], outs: list[int], exclude_padding: bool) -> np.ndarray:
    """Pixels each window averages over, shape `outs`: input pixels only (exclude_padding), or
    those inside the padded input; never the ceil-mode overhang. Separable: a product per axis."""
    count = np.ones((), dtype=np.float32)
    for axis, (size, k, s, (begin, end), n) in enumerate(zip(in_sizes, kernel, strides, pads, outs, strict=True)):
        starts = np.arange(n) * s - begin  # window start in input coordinates
        low, high = (0, size) if exclude_padding else (-begin, size + end)
        per_axis = (np.minimum(starts + k, high) - np.maximum(starts, low)).astype(np.float32)
        shape = [1] * len(outs)
        shape[axis] = n
        count = count * per_axis.reshape(shape)
    return count


@register_op("max_pool", batch=ROW_WISE, fp16_exact=True)
def max_pool(x: np.ndarray, kernel_sizes: Any, pad_type: str, strides: Any = None, pad: Any = None,
             ceil_mode: Any = False) -> np.ndarray:
    """The largest input pixel of each window (the result is one of x's values: fp16-exact)."""
    x, kernel, strides_, _, outs, _ = _prepare(x, kernel_sizes, strides, pad_type, pad, ceil_mode, -np.inf)
    return _window_sum(x, kernel, strides_, outs, np.maximum)


@register_op("avg_pool", batch=ROW_WISE)
def avg_pool(x: np.ndarray, kernel_sizes: Any, pad_type: str, strides: Any = None, pad: Any = None,
             exclude_padding_from_average: Any = False, ceil_mode: Any = False) -> np.ndarray:
    in_sizes = tuple(x.shape[2:])
    x, kernel, strides_, pads, outs, _ = _prepare(x, kernel_sizes, strides, pad_type, pad, ceil_mode, 0.0)
    total = _window_sum(x, kernel, strides_, outs, np.add)
    return total / window_counts(in_sizes, kernel, strides_, pads, outs, bool(exclude_padding_from_average))


@register_op("l2_pool", batch=ROW_WISE)
def l2_pool(x: np.ndarray, kernel_sizes: Any, pad_type: str, strides: Any = None, pad: Any = None,
            ceil_mode: Any = False) -> np.ndarray:
    x, kernel, strides_, _, outs, _ = _prepare(np.square(np.asarray(x, np.float32)), kernel_sizes, strides,
                                               pad_type, pad, ceil_mode, 0.0)
    return np.sqrt(_window_sum(x, kernel, strides_, outs, np.add))
