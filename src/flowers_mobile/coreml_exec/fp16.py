"""float16 storage emulated on float32 tensors: round each value to the nearest float16.

`round_to_float16(x)` gives exactly x.astype(float16).astype(float32) (ties to even, float16
subnormals, overflow to infinity, the sign of zero), about 3-4x faster than numpy's casts,
which take ~9 ns a value here. It runs after most ops of a float16 program, over ~7 million
values an image for MobileNetV2 at 224 px, so it is the executor's largest single cost.

The rounding is float32 arithmetic: for |x| in [2**k, 2**(k+1)), s = sign(x) * 2**(k+13) has a
float32 spacing of 2**(k-10), float16's spacing there, so (x + s) - s rounds x onto float16's
grid with the hardware's ties-to-even. Below 2**-14 (float16 subnormals) the spacing stays
2**-24, so s stays 2**-1. The work goes in blocks that stay in the CPU cache across its
passes; a block with a value from 2**15 up (which may round to infinity), an infinity or a NaN
takes numpy's cast instead.
"""

from __future__ import annotations

import numpy as np

_EXPONENT = np.uint32(0x7F800000)
_SIGN = np.uint32(0x80000000)
_SUBNORMAL = np.uint32(113 << 23)  # 2**-14, float16's smallest normal
_LARGEST = np.uint32(142 << 23)  # 2**15, float16's top binade: left to numpy's cast
_SHIFT = np.uint32(13 << 23)  # * 2**13: float32's 23 mantissa bits down to float16's 10
_BLOCK = 1 << 16  # values per block (256 KB a buffer; three buffers stay in L2)


def round_to_float16(x: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """float32 values rounded to the nearest float16 (ties to even), still as float32.

    Args:
        x: values (any float dtype; copied to float32 unless `in_place`).
        in_place: overwrite `x` (a writable C-contiguous float32 array) with the result.
    """
    if in_place and not (x.dtype == np.float32 and x.flags.c_contiguous and x.flags.writeable):
        in_place = False
    x = np.ascontiguousarray(x, dtype=np.float32)
    flat = x.reshape(-1)
    result = flat if in_place else np.empty_like(flat)
    scratch = np.empty(min(_BLOCK, max(flat.size, 1)), dtype=np.uint32)
    for start in range(0, flat.size, _BLOCK):
        _round_block(flat[start:start + _BLOCK], result[start:start + _BLOCK], scratch)
    return result.reshape(x.shape)


def _round_block(src: np.ndarray, dst: np.ndarray, scratch: np.ndarray) -> None:
    """dst = src rounded to float16 (dst may be src); scratch: a uint32 buffer at least as long."""
    s = scratch[: src.size]
    np.bitwise_and(src.view(np.uint32), _EXPONENT, out=s)
    if s.max() >= _LARGEST:  # |x| >= 2**15 somewhere (or inf, NaN): may round to infinity
        with np.errstate(over="ignore", invalid="ignore"):
            dst[...] = src.astype(np.float16).astype(np.float32)
        return
    np.maximum(s, _SUBNORMAL, out=s)
    s += _SHIFT
    shift = s.view(np.float32)
    np.copysign(shift, src, out=shift)
    np.add(src, shift, out=dst)
    dst -= shift
    # (x + s) - s is +0.0 where x rounds to a zero of either sign; s carries x's sign back.
    np.bitwise_and(s, _SIGN, out=s)
    dst.view(np.uint32)[...] |= s
