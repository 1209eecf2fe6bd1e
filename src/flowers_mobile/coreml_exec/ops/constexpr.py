"""Constants and compressed weights: `const` and the `constexpr_*` ops, folded at load time.

Compressed forms changed between opsets, and each form is its own registration: iOS16 has
`constexpr_lut_to_dense` with one bit-packed LUT and `constexpr_affine_dequantize`; iOS18
replaced the LUT op by a block-wise one and added `constexpr_blockwise_shift_scale`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flowers_mobile.coreml_exec.ops.common import axis_of, ints
from flowers_mobile.coreml_exec.ops.elementwise import cast
from flowers_mobile.coreml_exec.registry import FOLDED, register_op
from flowers_mobile.coreml_exec.values import unpack_bits


@register_op("const", batch=FOLDED, const=True)
def const(val: Any) -> Any:
    """The value itself."""
    return val


@register_op("constexpr_cast", opset="iOS16", batch=FOLDED, const=True)
def constexpr_cast(source_val: np.ndarray, output_dtype: str) -> np.ndarray:
    return cast(source_val, output_dtype)


@register_op("constexpr_affine_dequantize", opset="iOS16", batch=FOLDED, const=True)
def constexpr_affine_dequantize(quantized_data: np.ndarray, zero_point: Any, scale: Any, axis: Any) -> np.ndarray:
    """iOS16 linear quantization: (q - zero_point) * scale, per tensor or per slice along `axis`."""
    q = quantized_data.astype(np.float32)
    axis = axis_of(axis, q.ndim)

    def along_axis(v: Any) -> np.ndarray:
        v = np.asarray(v).astype(np.float32)
        if v.ndim == 0 or v.size == 1:
            return v.reshape(())
        shape = [1] * q.ndim
        shape[axis] = -1
        return v.reshape(shape)

    return (q - along_axis(zero_point)) * along_axis(scale)


def _expand_blocks(v: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Repeat each entry of `v` over its block so it has `shape` (block = shape / v.shape per axis)."""
    for axis, (full, part) in enumerate(zip(shape, v.shape, strict=True)):
        if full % part:
            raise ValueError(f"block size along axis {axis}: {full} is not a multiple of {part}")
        if full != part:
            v = np.repeat(v, full // part, axis=axis)
    return v


@register_op("constexpr_blockwise_shift_scale", opset="iOS18", batch=FOLDED, const=True)
def constexpr_blockwise_shift_scale(data: np.ndarray, scale: np.ndarray, offset: Any = None) -> np.ndarray:
    """iOS18 (block-wise) linear quantization: scale * (data - offset), scale/offset per block."""
    values = data.astype(np.float32)
    if offset is not None:
        values = values - _expand_blocks(np.asarray(offset).astype(np.float32), values.shape)
    return values * _expand_blocks(scale.astype(np.float32), values.shape)


@register_op("constexpr_lut_to_dense", opset="iOS16", batch=FOLDED, const=True)
def lut_to_dense_ios16(indices: np.ndarray, lut: np.ndarray, shape: Any) -> np.ndarray:
    """iOS16 palettized weights: one LUT of 2**n entries, indices bit-packed LSB-first in bytes."""
    out_shape = ints(shape, ())
    nbits = int(np.log2(lut.size))
    idx = unpack_bits(indices.astype(np.uint8).tobytes(), nbits, int(np.prod(out_shape)))
    return lut.reshape(-1)[idx].reshape(out_shape)


@register_op("constexpr_lut_to_dense", opset="iOS18", batch=FOLDED, const=True)
def lut_to_dense_ios18(indices: np.ndarray, lut: np.ndarray, vector_axis: Any = None) -> np.ndarray:
    """iOS18 palettized weights: one LUT per block.

    `indices` come unpacked with the output's shape (divided by VECTOR_SIZE along
    `vector_axis`), `lut` is shaped (*groups, NUM_PALETTES, VECTOR_SIZE).
    """
    rank = indices.ndim
    palettes, vector = lut.shape[-2], lut.shape[-1]
    groups = lut.shape[:rank]
    # Flat number of each element's LUT (its block), built per axis and broadcast.
    group_id = np.zeros((1,) * rank, dtype=np.int64)
    for axis, (size, count) in enumerate(zip(indices.shape, groups, strict=True)):
        if size % count:
            raise ValueError(f"lut blocks along axis {axis}: {size} is not a multiple of {count}")
        coord = (np.arange(size) // (size // count)).reshape([-1 if i == axis else 1 for i in range(rank)])
        group_id = group_id * count + coord
    entry = group_id * palettes + indices.astype(np.int64)  # row of the (groups * palettes, vector) table
    picked = lut.reshape(-1, vector)[entry]  # indices.shape + (vector,)
    if vector == 1:
        return picked[..., 0]
    axis = axis_of(vector_axis, rank)
    # Each vector's elements follow one another along `axis`: move them next to it, then merge.
    picked = np.moveaxis(picked, -1, axis + 1)
    out_shape = list(indices.shape)
    out_shape[axis] *= vector
    return picked.reshape(out_shape)


@register_op("constexpr_sparse_to_dense", opset="iOS16", batch=FOLDED, const=True)
def constexpr_sparse_to_dense(nonzero_data: np.ndarray, mask: np.ndarray, shape: Any) -> np.ndarray:
    """iOS16 pruned weights: a bit mask (LSB-first) of non-zero positions and their values."""
    out_shape = ints(shape, ())
    count = int(np.prod(out_shape))
    bits = np.unpackbits(mask.astype(np.uint8), bitorder="little")[:count].astype(bool)
    out = np.zeros(count, dtype=nonzero_data.dtype)
    out[bits] = nonzero_data.reshape(-1)[: int(bits.sum())]
    return out.reshape(out_shape)
