"""One numpy function per MIL op, in a registry keyed by the op's name (`OPS`).

Each function takes the op's inputs as keyword arguments, named as in the MIL spec (`x`,
`weight`, `pad_type`, ...), with constants already decoded (numpy arrays, 0-d arrays for
scalars, `str` for strings), and returns the op's output (a tuple when it has several).
Floating tensors arrive and leave as float32: the executor rounds an op's result to float16
when the program declares that output float16, so these functions never need to know.

Layouts are MIL's: images NCHW, conv weights (C_out, C_in / groups, kH, kW).
Semantics follow the MIL op reference of coremltools (iOS15..iOS18 opsets); the tests hold each
function against TensorFlow or a plain numpy reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

OPS: dict[str, Callable[..., Any]] = {}

# MIL dtype strings (cast, constexpr_cast) -> numpy. Floats compute in float32 (see module doc).
CAST_DTYPES: dict[str, Any] = {
    "fp16": np.float16, "fp32": np.float32, "fp64": np.float64, "bool": np.bool_,
    "int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
    "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32,
}


def register(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: add the function to `OPS` under each of `names`."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        for name in names:
            OPS[name] = fn
        return fn

    return wrap


def _f32(x: Any) -> np.ndarray:
    """A float32 array (ints and bools are left alone)."""
    x = np.asarray(x)
    return x.astype(np.float32) if x.dtype.kind == "f" and x.dtype != np.float32 else x


def _ints(value: Any, default: tuple[int, ...]) -> tuple[int, ...]:
    if value is None:
        return default
    return tuple(int(v) for v in np.asarray(value).reshape(-1))


def _axis(axis: Any, rank: int) -> int:
    axis = int(axis)
    return axis + rank if axis < 0 else axis


# --------------------------------------------------------------------------- constants


@register("const")
def const(val: Any) -> Any:
    """The value itself (the executor folds consts at load time; kept for completeness)."""
    return val


# --------------------------------------------------------------------------- activations


@register("relu")
def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, np.float32(0))


@register("relu6")
def relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, np.float32(0), np.float32(6))


@register("clip")
def clip(x: np.ndarray, alpha: Any, beta: Any) -> np.ndarray:
    """min(max(x, alpha), beta)."""
    return np.minimum(np.maximum(x, _f32(alpha)), _f32(beta))


@register("sigmoid")
def sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of -|x| never overflows; both branches of the usual formula from it.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


@register("tanh")
def tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


@register("softmax")
def softmax(x: np.ndarray, axis: Any = -1) -> np.ndarray:
    axis = _axis(axis, x.ndim)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


# --------------------------------------------------------------------------- elementwise


@register("add")
def add(x: Any, y: Any) -> np.ndarray:
    return np.add(x, y)


@register("sub")
def sub(x: Any, y: Any) -> np.ndarray:
    return np.subtract(x, y)


@register("mul")
def mul(x: Any, y: Any) -> np.ndarray:
    return np.multiply(x, y)


@register("real_div")
def real_div(x: Any, y: Any) -> np.ndarray:
    return np.true_divide(_f32(x), _f32(y)).astype(np.float32)


@register("maximum")
def maximum(x: Any, y: Any) -> np.ndarray:
    return np.maximum(x, y)


@register("minimum")
def minimum(x: Any, y: Any) -> np.ndarray:
    return np.minimum(x, y)


@register("sqrt")
def sqrt(x: np.ndarray) -> np.ndarray:
    return np.sqrt(x)


@register("rsqrt")
def rsqrt(x: np.ndarray, epsilon: Any = 1e-12) -> np.ndarray:
    return (1 / np.sqrt(x + _f32(epsilon))).astype(np.float32)


@register("exp")
def exp(x: np.ndarray) -> np.ndarray:
    return np.exp(x)


@register("cast")
def cast(x: Any, dtype: str) -> np.ndarray:
    """Cast to a MIL dtype ("fp16", "fp32", "int32", "bool", ...).

    Casting to fp16 rounds to float16 here as well, so the function is right on its own; the
    result is handed on as float32 like every floating tensor.
    """
    if dtype not in CAST_DTYPES:
        raise ValueError(f"cast to unknown dtype {dtype!r}")
    target = CAST_DTYPES[dtype]
    out = np.asarray(x).astype(target)
    return out.astype(np.float32) if out.dtype.kind == "f" else out


# --------------------------------------------------------------------------- shape


@register("transpose")
def transpose(x: np.ndarray, perm: Any) -> np.ndarray:
    return np.transpose(x, _ints(perm, ()))


@register("reshape")
def reshape(x: np.ndarray, shape: Any) -> np.ndarray:
    """MIL reshape: -1 infers one dimension; 0 copies x's dimension when ranks match."""
    shape = list(_ints(shape, ()))
    if len(shape) == x.ndim:
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return np.reshape(x, shape)


@register("squeeze")
def squeeze(x: np.ndarray, axes: Any = None) -> np.ndarray:
    if axes is None:
        return np.squeeze(x)
    return np.squeeze(x, axis=tuple(_axis(a, x.ndim) for a in _ints(axes, ())))


@register("expand_dims")
def expand_dims(x: np.ndarray, axes: Any) -> np.ndarray:
    rank = x.ndim + len(_ints(axes, ()))
    return np.expand_dims(x, tuple(_axis(a, rank) for a in _ints(axes, ())))


@register("concat")
def concat(values: list[np.ndarray], axis: Any, interleave: Any = False) -> np.ndarray:
    if bool(interleave):
        # Interleave equal-sized chunks along `axis`: [a0, b0, a1, b1, ...].
        axis = _axis(axis, values[0].ndim)
        stacked = np.stack(values, axis=axis + 1)
        shape = list(values[0].shape)
        shape[axis] = -1
        return stacked.reshape(shape)
    return np.concatenate(values, axis=int(axis))


@register("pad")
def pad(x: np.ndarray, pad: Any, mode: str = "constant", constant_val: Any = 0.0) -> np.ndarray:
    """Pad the last len(pad)/2 dimensions by (begin, end) pairs, constant / reflect / replicate."""
    amounts = _ints(pad, ())
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


# --------------------------------------------------------------------------- reductions


def _reduce(fn: Callable[..., np.ndarray], x: np.ndarray, axes: Any, keep_dims: Any) -> np.ndarray:
    axis = None if axes is None else tuple(_axis(a, x.ndim) for a in _ints(axes, ()))
    return fn(x, axis=axis, keepdims=bool(keep_dims))


@register("reduce_mean")
def reduce_mean(x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> np.ndarray:
    return _reduce(np.mean, x, axes, keep_dims)


@register("reduce_sum")
def reduce_sum(x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> np.ndarray:
    return _reduce(np.sum, x, axes, keep_dims)


@register("reduce_max")
def reduce_max(x: np.ndarray, axes: Any = None, keep_dims: Any = False) -> np.ndarray:
    return _reduce(np.max, x, axes, keep_dims)


# --------------------------------------------------------------------------- linear algebra


@register("matmul")
def matmul(x: np.ndarray, y: np.ndarray, transpose_x: Any = False, transpose_y: Any = False) -> np.ndarray:
    if bool(transpose_x) and x.ndim >= 2:
        x = np.swapaxes(x, -1, -2)
    if bool(transpose_y) and y.ndim >= 2:
        y = np.swapaxes(y, -1, -2)
    return np.matmul(x, y)


@register("linear")
def linear(x: np.ndarray, weight: np.ndarray, bias: Any = None) -> np.ndarray:
    """x @ weight.T + bias, weight (D_out, D_in)."""
    out = np.matmul(x, weight.T)
    return out if bias is None else out + bias


@register("batch_norm")
def batch_norm(x: np.ndarray, mean: np.ndarray, variance: np.ndarray, gamma: Any = None, beta: Any = None,
               epsilon: Any = 1e-5) -> np.ndarray:
    """Inference batch norm over the channel axis 1."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    scale = 1 / np.sqrt(variance.astype(np.float32) + _f32(epsilon))
    if gamma is not None:
        scale = scale * gamma
    out = (x - mean.reshape(shape)) * scale.reshape(shape)
    return out if beta is None else out + np.reshape(beta, shape)


# --------------------------------------------------------------------------- convolution


def conv_pads(pad_type: str, pad: Any, in_sizes: tuple[int, ...], kernel: tuple[int, ...],
              strides: tuple[int, ...], dilations: tuple[int, ...]) -> list[tuple[int, int]]:
    """(begin, end) padding per spatial dimension for MIL's pad types.

    "same" makes out = ceil(in / stride) and puts the odd pixel at the end (TensorFlow's rule);
    "same_lower" puts it at the beginning; "custom" reads `pad` = [begin0, end0, begin1, ...].
    """
    if pad_type == "valid":
        return [(0, 0)] * len(in_sizes)
    if pad_type == "custom":
        amounts = _ints(pad, (0,) * (2 * len(in_sizes)))
        return [(amounts[2 * i], amounts[2 * i + 1]) for i in range(len(in_sizes))]
    if pad_type in ("same", "same_lower"):
        out = []
        for size, k, s, d in zip(in_sizes, kernel, strides, dilations, strict=True):
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small, large = total // 2, total - total // 2
            out.append((small, large) if pad_type == "same" else (large, small))
        return out
    raise ValueError(f"unknown pad_type {pad_type!r}")


@register("conv")
def conv(x: np.ndarray, weight: np.ndarray, bias: Any = None, strides: Any = None, pad_type: str = "valid",
         pad: Any = None, dilations: Any = None, groups: Any = 1) -> np.ndarray:
    """1-D or 2-D convolution with groups, strides, dilations and MIL pad types.

    Paths by shape, all vectorized over the batch: a pointwise (1x1) conv is one matmul per
    image; a depthwise conv (one input channel per group) is kH*kW shifted multiply-adds over
    the whole batch; anything else is im2col per group and one matmul.
    """
    if x.ndim == 3:  # 1-D: treat as 2-D with height 1
        out = conv(x[:, :, None, :], weight[:, :, None, :], bias, (1, *_ints(strides, (1,))), pad_type,
                   None if pad is None else (0, 0, *_ints(pad, ())), (1, *_ints(dilations, (1,))), groups)
        return out[:, :, 0, :]
    if x.ndim != 4:
        raise ValueError(f"conv supports 1-D and 2-D inputs, got rank {x.ndim}")
    groups = int(groups)
    n, c, h, w = x.shape
    c_out, c_per_group, kh, kw = weight.shape
    sh, sw = _ints(strides, (1, 1))
    dh, dw = _ints(dilations, (1, 1))
    if c != c_per_group * groups or c_out % groups:
        raise ValueError(f"conv: input has {c} channels, weight {tuple(weight.shape)} with {groups} groups")
    (pt, pb), (pl, pr) = conv_pads(pad_type, pad, (h, w), (kh, kw), (sh, sw), (dh, dw))
    if pt or pb or pl or pr:
        x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    hp, wp = x.shape[2:]
    ho = (hp - (kh - 1) * dh - 1) // sh + 1
    wo = (wp - (kw - 1) * dw - 1) // sw + 1

    def tap(a: int, b: int) -> np.ndarray:  # the input pixels that kernel tap (a, b) sees
        return x[:, :, a * dh: a * dh + (ho - 1) * sh + 1: sh, b * dw: b * dw + (wo - 1) * sw + 1: sw]

    if kh == kw == 1 and groups == 1:
        cols = tap(0, 0).reshape(n, c, ho * wo)
        out = np.matmul(weight.reshape(c_out, c), cols).reshape(n, c_out, ho, wo)
    elif c_per_group == 1:
        multiplier = c_out // groups
        src = x if multiplier == 1 else np.repeat(x, multiplier, axis=1)

        def tap_src(a: int, b: int) -> np.ndarray:
            return src[:, :, a * dh: a * dh + (ho - 1) * sh + 1: sh, b * dw: b * dw + (wo - 1) * sw + 1: sw]

        # One buffer for the products: no allocation per tap (this loop is the executor's hot spot).
        out = np.empty((n, c_out, ho, wo), dtype=np.float32)
        product = np.empty_like(out)
        for i, (a, b) in enumerate((a, b) for a in range(kh) for b in range(kw)):
            w_tap = weight[:, 0, a, b].reshape(1, c_out, 1, 1)
            if i == 0:
                np.multiply(tap_src(a, b), w_tap, out=out)
            else:
                np.multiply(tap_src(a, b), w_tap, out=product)
                out += product
    else:
        # im2col: rows ordered (channel, tap) to match weight.reshape(c_out, c_per_group * kh * kw).
        cols = np.stack([tap(a, b) for a in range(kh) for b in range(kw)], axis=2)  # n, c, taps, ho, wo
        cols = cols.reshape(n, groups, c_per_group * kh * kw, ho * wo)
        w2 = weight.reshape(groups, c_out // groups, c_per_group * kh * kw)
        out = np.matmul(w2[None], cols).reshape(n, c_out, ho, wo)
    if bias is not None:
        out = out + np.asarray(bias).reshape(1, c_out, 1, 1)
    return out.astype(np.float32, copy=False)


# --------------------------------------------------------------------------- classifier


@register("classify")
def classify(probabilities: np.ndarray, classes: Any) -> tuple[np.ndarray, list[dict[Any, float]]]:
    """Core ML's classifier output: the top label per row and a {label: probability} dict per row."""
    classes = [c.item() if isinstance(c, np.ndarray) else c for c in classes]
    probs = np.asarray(probabilities, dtype=np.float32)
    if probs.shape[-1] != len(classes):
        raise ValueError(f"classify: {len(classes)} classes for {probs.shape[-1]} probabilities")
    rows = probs.reshape(-1, len(classes))
    labels = np.array([classes[i] for i in rows.argmax(axis=1)], dtype=object)
    dicts = [{cls: float(p) for cls, p in zip(classes, row, strict=True)} for row in rows]
    return labels, dicts


# --------------------------------------------------------------------------- compressed weights


@register("constexpr_cast")
def constexpr_cast(source_val: np.ndarray, output_dtype: str) -> np.ndarray:
    return cast(source_val, output_dtype)


@register("constexpr_affine_dequantize")
def constexpr_affine_dequantize(quantized_data: np.ndarray, zero_point: Any, scale: Any, axis: Any) -> np.ndarray:
    """iOS16 linear quantization: (q - zero_point) * scale, per tensor or per slice along `axis`."""
    q = quantized_data.astype(np.float32)
    axis = _axis(axis, q.ndim)

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


@register("constexpr_blockwise_shift_scale")
def constexpr_blockwise_shift_scale(data: np.ndarray, scale: np.ndarray, offset: Any = None) -> np.ndarray:
    """iOS18 (block-wise) linear quantization: scale * (data - offset), scale/offset per block."""
    values = data.astype(np.float32)
    if offset is not None:
        values = values - _expand_blocks(np.asarray(offset).astype(np.float32), values.shape)
    return values * _expand_blocks(scale.astype(np.float32), values.shape)


@register("constexpr_lut_to_dense")
def constexpr_lut_to_dense(indices: np.ndarray, lut: np.ndarray, shape: Any = None, vector_axis: Any = None) -> np.ndarray:
    """Palettized weights: look each index up in its lookup table.

    iOS16 form (`shape` given): one LUT of 2**n entries, indices bit-packed LSB-first in bytes.
    iOS18 form: indices unpacked with the output's shape (divided by VECTOR_SIZE along
    `vector_axis`), `lut` shaped (*groups, NUM_PALETTES, VECTOR_SIZE), one LUT per block.
    """
    from flowers_mobile.coreml_exec.values import unpack_bits

    if shape is not None:
        out_shape = _ints(shape, ())
        nbits = int(np.log2(lut.size))
        idx = unpack_bits(indices.astype(np.uint8).tobytes(), nbits, int(np.prod(out_shape)))
        return lut.reshape(-1)[idx].reshape(out_shape)
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
    axis = _axis(vector_axis, rank)
    # Each vector's elements follow one another along `axis`: move them next to it, then merge.
    picked = np.moveaxis(picked, -1, axis + 1)
    out_shape = list(indices.shape)
    out_shape[axis] *= vector
    return picked.reshape(out_shape)


@register("constexpr_sparse_to_dense")
def constexpr_sparse_to_dense(nonzero_data: np.ndarray, mask: np.ndarray, shape: Any) -> np.ndarray:
    """iOS16 pruned weights: a bit mask (LSB-first) of non-zero positions and their values."""
    out_shape = _ints(shape, ())
    count = int(np.prod(out_shape))
    bits = np.unpackbits(mask.astype(np.uint8), bitorder="little")[:count].astype(bool)
    out = np.zeros(count, dtype=nonzero_data.dtype)
    out[bits] = nonzero_data.reshape(-1)[: int(bits.sum())]
    return out.reshape(out_shape)
