"""Shape ops: transpose, reshape, squeeze, expand_dims, concat, pad, slice_by_index, slice_by_size,
stack.

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


def _masks(value: Any, rank: int) -> list[bool]:
    return [False] * rank if value is None else [bool(v) for v in np.asarray(value).reshape(-1)]


def _slice_by_index_batch(q: BatchQuery) -> bool:
    """Batch-safe when axis 0 is taken whole (every image, stride 1, not squeezed)."""
    if q.is_runtime("begin") or q.is_runtime("end"):
        return False
    rank = q.rank("x")
    begin, end = ints(q.args["begin"], ()), ints(q.args["end"], ())
    stride = ints(q.args.get("stride"), (1,) * rank)
    begin_mask, end_mask = _masks(q.args.get("begin_mask"), rank), _masks(q.args.get("end_mask"), rank)
    squeeze_mask = _masks(q.args.get("squeeze_mask"), rank)
    if rank == 0 or squeeze_mask[0] or stride[0] != 1:
        return False
    return (begin_mask[0] or begin[0] == 0) and (end_mask[0] or end[0] >= 1 or end[0] == 0 and end_mask[0])


def _slice_by_index_batch_args(args: dict[str, Any], batch: int) -> dict[str, Any]:
    """Axis 0 taken whole for `batch` stacked images (the batch-1 program may say [0:1])."""
    rank = len(ints(args["begin"], ()))
    begin_mask, end_mask = _masks(args.get("begin_mask"), rank), _masks(args.get("end_mask"), rank)
    begin_mask[0] = end_mask[0] = True
    return dict(args, begin_mask=np.array(begin_mask), end_mask=np.array(end_mask))


@register_op("slice_by_index", batch=_slice_by_index_batch, batch_args=_slice_by_index_batch_args, fp16_exact=True)
def slice_by_index(x: np.ndarray, begin: Any, end: Any, stride: Any = None, begin_mask: Any = None,
                   end_mask: Any = None, squeeze_mask: Any = None) -> np.ndarray:
    """x[begin[0]:end[0]:stride[0], ...] as numpy slices it (coremltools' own reference): a masked
    begin / end is left open, a squeezed axis keeps only x[begin[i]] and is dropped."""
    rank = x.ndim
    begin_, end_ = list(ints(begin, ())), list(ints(end, ()))
    stride_ = list(ints(stride, (1,) * rank))
    if not len(begin_) == len(end_) == len(stride_) == rank:
        raise ValueError(f"slice_by_index: begin {begin_}, end {end_}, stride {stride_} for a rank-{rank} tensor")
    begin_mask_, end_mask_ = _masks(begin_mask, rank), _masks(end_mask, rank)
    squeeze = _masks(squeeze_mask, rank)
    index: list[Any] = []
    for i in range(rank):
        if squeeze[i]:
            index.append(begin_[i])
        else:
            index.append(slice(None if begin_mask_[i] else begin_[i], None if end_mask_[i] else end_[i], stride_[i]))
    return np.asarray(x[tuple(index)])


def _slice_by_size_batch(q: BatchQuery) -> bool:
    if q.is_runtime("begin") or q.is_runtime("size"):
        return False
    begin, size = ints(q.args["begin"], ()), ints(q.args["size"], ())
    return q.rank("x") > 0 and begin[0] == 0 and size[0] in (-1, 1)


def _slice_by_size_batch_args(args: dict[str, Any], batch: int) -> dict[str, Any]:
    size = np.array(ints(args["size"], ()), dtype=np.int64)
    size[0] = -1
    return dict(args, size=size)


@register_op("slice_by_size", batch=_slice_by_size_batch, batch_args=_slice_by_size_batch_args, fp16_exact=True)
def slice_by_size(x: np.ndarray, begin: Any, size: Any) -> np.ndarray:
    """x[begin[i]:begin[i] + size[i]] on each axis; a size of -1 runs to the end of the axis."""
    begin_, size_ = ints(begin, ()), ints(size, ())
    if not len(begin_) == len(size_) == x.ndim:
        raise ValueError(f"slice_by_size: begin {begin_}, size {size_} for a rank-{x.ndim} tensor")
    return np.asarray(x[tuple(slice(b, None if n == -1 else b + n) for b, n in zip(begin_, size_, strict=True))])


def _stack_batch(q: BatchQuery) -> bool:
    values = q.args["values"]
    first = values[0]
    if not isinstance(first, Ref) or not all(q.is_stacked(v) for v in values):
        return False
    return q.axes("axis", q.ranks.get(first.name, 0) + 1) != [0]


@register_op("stack", batch=_stack_batch, variadic=("values",), fp16_exact=True)
def stack(values: list[np.ndarray], axis: Any) -> np.ndarray:
    """The tensors (all of one shape) stacked along a new axis `axis` of the result."""
    return np.stack(values, axis=axis_of(axis, np.ndim(values[0]) + 1))
