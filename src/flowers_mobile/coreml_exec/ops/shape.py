"""Shape ops: transpose, reshape, squeeze, expand_dims, concat, pad.

Their batch rules are where batching is decided: each is batch-safe only while axis 0 stays
the images' axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flowers_mobile.coreml_exec.ops.common import axis_of, ints
from flowers_mobile.coreml_exec.registry import BatchQuery, Ref, register_op


def _transpose_batch(q: BatchQuery) -> bool:
    return (q.axes("perm") or [0])[0] == 0


@register_op("transpose", batch=_transpose_batch, fp16_exact=True)
def transpose(x: np.ndarray, perm: Any) -> np.ndarray:
    return np.transpose(x, ints(perm, ()))


def _reshape_batch(q: BatchQuery) -> bool:
    shape = q.args["shape"]
    return not isinstance(shape, Ref) and int(np.asarray(shape).reshape(-1)[0]) == 1 and q.rank("x") > 0


def _reshape_batch_args(args: dict[str, Any], batch: int) -> dict[str, Any]:
    """A batch-1 reshape target for `batch` stacked images: the leading 1 becomes `batch`."""
    shape = np.array(np.asarray(args["shape"]).reshape(-1), dtype=np.int64)
    if shape.size and shape[0] == 1:
        shape[0] = batch
    return dict(args, shape=shape)


@register_op("reshape", batch=_reshape_batch, batch_args=_reshape_batch_args, fp16_exact=True)
def reshape(x: np.ndarray, shape: Any) -> np.ndarray:
    """MIL reshape: -1 infers one dimension; 0 copies x's dimension when ranks match."""
    shape = list(ints(shape, ()))
    if len(shape) == x.ndim:
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return np.reshape(x, shape)


def _squeeze_batch(q: BatchQuery) -> bool:
    axes = q.axes("axes")
    return axes is not None and 0 not in axes


@register_op("squeeze", batch=_squeeze_batch, fp16_exact=True)
def squeeze(x: np.ndarray, axes: Any = None) -> np.ndarray:
    if axes is None:
        return np.squeeze(x)
    return np.squeeze(x, axis=tuple(axis_of(a, x.ndim) for a in ints(axes, ())))


def _expand_dims_batch(q: BatchQuery) -> bool:
    count = len(np.asarray(q.args["axes"]).reshape(-1))
    return 0 not in (q.axes("axes", q.rank("x") + count) or [0])


@register_op("expand_dims", batch=_expand_dims_batch, fp16_exact=True)
def expand_dims(x: np.ndarray, axes: Any) -> np.ndarray:
    rank = x.ndim + len(ints(axes, ()))
    return np.expand_dims(x, tuple(axis_of(a, rank) for a in ints(axes, ())))


def _concat_batch(q: BatchQuery) -> bool:
    values = q.args["values"]
    first = values[0]
    if not isinstance(first, Ref) or not all(q.is_stacked(v) for v in values):
        return False
    return q.axes("axis", q.ranks.get(first.name, 0)) != [0]


@register_op("concat", batch=_concat_batch, variadic=("values",), fp16_exact=True)
def concat(values: list[np.ndarray], axis: Any, interleave: Any = False) -> np.ndarray:
    if bool(interleave):
        # Interleave equal-sized chunks along `axis`: [a0, b0, a1, b1, ...].
        axis = axis_of(axis, values[0].ndim)
        stacked = np.stack(values, axis=axis + 1)
        shape = list(values[0].shape)
        shape[axis] = -1
        return stacked.reshape(shape)
    return np.concatenate(values, axis=int(axis))


def _pad_batch(q: BatchQuery) -> bool:
    amounts = np.asarray(q.args["pad"]).reshape(-1)
    return len(amounts) // 2 < q.rank("x") or (amounts[0] == 0 and amounts[1] == 0)


@register_op("pad", batch=_pad_batch, fp16_exact=True)
def pad(x: np.ndarray, pad: Any, mode: str = "constant", constant_val: Any = 0.0) -> np.ndarray:
    """Pad the last len(pad)/2 dimensions by (begin, end) pairs, constant / reflect / replicate."""
    amounts = ints(pad, ())
    if len(amounts) % 2 or len(amounts) // 2 > x.ndim:
        raise ValueError(f"pad has {len(amounts)} values for a rank-{x.ndim} tensor")
    if min(amounts, default=0) < 0:
        raise ValueError("negative padding is not supported")
    k = len(amounts) // 2
    widths = [(0, 0)] * (x.ndim - k) + [(amounts[2 * i], amounts[2 * i + 1]) for i in range(k)]
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=np.asarray(constant_val).item())
    if mode == "reflect":
        return np.pad(x, widths, mode="reflect")
    if mode == "replicate":
        return np.pad(x, widths, mode="edge")
    raise ValueError(f"unknown pad mode {mode!r}")
