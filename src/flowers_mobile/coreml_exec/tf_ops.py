"""TensorFlow forms of the executor's ops, for the fast path (`tf_program`).

Each form takes the same MIL arguments as the op's numpy function, with the runtime tensors as
`Val`s (a TensorFlow tensor and its layout), and returns a `Val`. Core ML's image tensors are
NCHW; TensorFlow's CPU convolutions want NHWC (its NCHW depthwise convolution transposes
internally and was 2x slower), so a rank-4 tensor produced by a convolution stays NHWC while it
only passes through layout-free ops (activations, element-wise arithmetic, pad, mean), and is
transposed back to NCHW only for an op that cares (`nchw`). Programs are traced at concrete
shapes, so every padding and reshape target is computed in Python from the static shapes.

`TF_FORMS` maps an op name to (form, supports): `supports(step, ranks)` says at load time
whether the form handles that use of the op (constant weights, 2-D convolution, ...); a step it
does not is run by numpy between TensorFlow segments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from flowers_mobile.coreml_exec.ops.common import ints
from flowers_mobile.coreml_exec.ops.conv import conv_pads
from flowers_mobile.coreml_exec.ops.pooling import pool_geometry, window_counts
from flowers_mobile.coreml_exec.registry import Ref

TO_NHWC = (0, 2, 3, 1)
TO_NCHW = (0, 3, 1, 2)


@dataclass(frozen=True)
class Val:
    """A traced tensor; `nhwc`: a rank-4 tensor held as NHWC, its MIL (NCHW) value transposed."""

    t: tf.Tensor
    nhwc: bool = False


def nchw(v: Val) -> tf.Tensor:
    return tf.transpose(v.t, TO_NCHW) if v.nhwc else v.t


def nhwc(v: Val) -> tf.Tensor:
    return v.t if v.nhwc else tf.transpose(v.t, TO_NHWC)


Supports = Callable[[Any, dict[str, int]], bool]
TF_FORMS: dict[str, tuple[Callable[..., Val], Supports]] = {}


def _always(step: Any, ranks: dict[str, int]) -> bool:
    return True


def tf_form(name: str, supports: Supports = _always) -> Callable[[Callable[..., Val]], Callable[..., Val]]:
    def wrap(fn: Callable[..., Val]) -> Callable[..., Val]:
        TF_FORMS[name] = (fn, supports)
        return fn

    return wrap


def _conv_supported(step: Any, ranks: dict[str, int]) -> bool:
    x, weight = step.args.get("x"), step.args.get("weight")
    if not isinstance(x, Ref) or isinstance(weight, Ref) or ranks.get(x.name) != 4:
        return False
    groups, c_per_group = int(step.args.get("groups", 1) or 1), weight.shape[1]
    strides, dilations = ints(step.args.get("strides"), (1, 1)), ints(step.args.get("dilations"), (1, 1))
    # TensorFlow's depthwise convolution takes strides or dilations, not both.
    return not (groups > 1 and c_per_group == 1 and max(strides) > 1 and max(dilations) > 1)


@tf_form("conv", _conv_supported)
def conv(x: Val, weight: np.ndarray, bias: Any = None, strides: Any = None, pad_type: str = "valid",
         pad: Any = None, dilations: Any = None, groups: Any = 1, epilogue: str | None = None) -> Val:
    """MIL conv on an NHWC tensor, MIL's padding as (begin, end) amounts applied first."""
    t = nhwc(x)
    c_out, c_per_group, kh, kw = weight.shape
    strides, dilations, groups = ints(strides, (1, 1)), ints(dilations, (1, 1)), int(groups)
    pads = conv_pads(pad_type, pad, tuple(t.shape[1:3]), (kh, kw), strides, dilations)
    if any(pads[0]) or any(pads[1]):  # tf.pad, then "VALID": explicit padding lists crashed
        t = tf.pad(t, [[0, 0], list(pads[0]), list(pads[1]), [0, 0]])  # depthwise kernels here
    padding = "VALID"
    if groups == 1:
        y = tf.nn.conv2d(t, np.transpose(weight, (2, 3, 1, 0)), [1, *strides, 1], padding,
                         dilations=[1, *dilations, 1])
    elif c_per_group == 1:  # depthwise: output channel c * multiplier + m reads input channel c
        multiplier = c_out // groups
        filt = np.transpose(weight.reshape(groups, multiplier, kh, kw), (2, 3, 0, 1))
        y = tf.nn.depthwise_conv2d(t, filt, [1, *strides, 1], padding, dilations=dilations)
    else:  # grouped: one convolution per group, concatenated in channel order
        per_out = c_out // groups
        parts = tf.split(t, groups, axis=3)
        y = tf.concat([tf.nn.conv2d(p, np.transpose(weight[g * per_out:(g + 1) * per_out], (2, 3, 1, 0)),
                                    [1, *strides, 1], padding, dilations=[1, *dilations, 1])
                       for g, p in enumerate(parts)], axis=3)
    bias = np.zeros(c_out, np.float32) if bias is None else np.asarray(bias, dtype=np.float32)
    if epilogue is not None:  # bias, float16 rounding and activation in one pass
        return Val(EPILOGUES[epilogue](y, bias), True)
    return Val(tf.nn.bias_add(y, bias), True)


# Activations compiled by XLA as well: TensorFlow's own element-wise kernels were ~2x slower.
_relu = tf.function(tf.nn.relu, jit_compile=True, autograph=False)
_relu6 = tf.function(tf.nn.relu6, jit_compile=True, autograph=False)


@tf_form("relu")
def relu(x: Val) -> Val:
    return Val(_relu(x.t), x.nhwc)


@tf_form("relu6")
def relu6(x: Val) -> Val:
    return Val(_relu6(x.t), x.nhwc)


@tf_form("clip")
def clip(x: Val, alpha: Any, beta: Any) -> Val:
    return Val(tf.minimum(tf.maximum(x.t, np.float32(alpha)), np.float32(beta)), x.nhwc)


def _unary(fn: Callable[[tf.Tensor], tf.Tensor]) -> Callable[..., Val]:
    """An element-wise op of one tensor: any layout goes."""

    def form(x: Val) -> Val:
        return Val(fn(x.t), x.nhwc)

    return form


def _gelu_exact(t: tf.Tensor) -> tf.Tensor:
    return 0.5 * t * (1 + tf.math.erf(t * np.float32(1 / np.sqrt(2))))


for _name, _fn in (("sigmoid", tf.math.sigmoid), ("tanh", tf.math.tanh), ("silu", tf.nn.silu),
                   ("square", tf.math.square), ("sqrt", tf.math.sqrt), ("exp", tf.math.exp),
                   ("erf", tf.math.erf)):
    tf_form(_name)(_unary(_fn))


@tf_form("gelu", lambda step, ranks: step.args.get("mode", "EXACT") in ("EXACT", "TANH_APPROXIMATION"))
def gelu(x: Val, mode: str = "EXACT") -> Val:
    if mode == "EXACT":
        return Val(_gelu_exact(x.t), x.nhwc)
    return Val(tf.nn.gelu(x.t, approximate=True), x.nhwc)


@tf_form("rsqrt")
def rsqrt(x: Val, epsilon: Any = 1e-12) -> Val:
    return Val(tf.math.rsqrt(x.t + np.float32(epsilon)), x.nhwc)


def _pool_supported(step: Any, ranks: dict[str, int]) -> bool:
    x = step.args.get("x")
    return isinstance(x, Ref) and ranks.get(x.name) == 4


def _pool_padded(x: Val, kernel_sizes: Any, strides: Any, pad_type: str, pad: Any, ceil_mode: Any,
                 fill: float) -> tuple[tf.Tensor, tuple[int, ...], tuple[int, ...], Any, list[int]]:
    """The NHWC input padded for MIL's geometry (`pooling.pool_geometry`), to be pooled "VALID"."""
    t = nhwc(x)
    kernel, strides_ = ints(kernel_sizes, ()), ints(strides, (1, 1))
    pads, outs, overhang = pool_geometry(tuple(t.shape[1:3]), kernel, strides_, pad_type, pad, bool(ceil_mode))
    widths = [[0, 0]] + [[b, e + o] for (b, e), o in zip(pads, overhang, strict=True)] + [[0, 0]]
    if any(any(w) for w in widths):
        t = tf.pad(t, widths, constant_values=fill)
    return t, kernel, strides_, pads, outs


@tf_form("max_pool", _pool_supported)
def max_pool(x: Val, kernel_sizes: Any, pad_type: str, strides: Any = None, pad: Any = None,
             ceil_mode: Any = False) -> Val:
    t, kernel, strides_, _, _ = _pool_padded(x, kernel_sizes, strides, pad_type, pad, ceil_mode, -np.inf)
    return Val(tf.nn.max_pool2d(t, kernel, strides_, "VALID"), True)


@tf_form("avg_pool", _pool_supported)
def avg_pool(x: Val, kernel_sizes: Any, pad_type: str, strides: Any = None, pad: Any = None,
             exclude_padding_from_average: Any = False, ceil_mode: Any = False) -> Val:
    """The window sums (a VALID mean times the window size) over MIL's own pixel counts."""
    in_sizes = tuple(nhwc(x).shape[1:3])
    t, kernel, strides_, pads, outs = _pool_padded(x, kernel_sizes, strides, pad_type, pad, ceil_mode, 0.0)
    counts = window_counts(in_sizes, kernel, strides_, pads, outs, bool(exclude_padding_from_average))
    sums = tf.nn.avg_pool2d(t, kernel, strides_, "VALID") * np.float32(kernel[0] * kernel[1])
    return Val(sums / counts.reshape(1, *outs, 1), True)


@tf_form("batch_norm", lambda step, ranks: isinstance(step.args.get("x"), Ref)
         and not any(isinstance(step.args.get(k), Ref) for k in ("mean", "variance", "gamma", "beta")))
def batch_norm(x: Val, mean: np.ndarray, variance: np.ndarray, gamma: Any = None, beta: Any = None,
               epsilon: Any = 1e-5) -> Val:
    """(x - mean) * scale + beta per channel (axis 1, or last when held NHWC), as numpy's form computes it."""
    scale = 1 / np.sqrt(np.asarray(variance, np.float32) + np.float32(epsilon))
    if gamma is not None:
        scale = scale * np.asarray(gamma, np.float32)
    rank = len(x.t.shape)
    shape = (-1,) if x.nhwc else (1, -1) + (1,) * (rank - 2)
    out = (x.t - np.asarray(mean, np.float32).reshape(shape)) * scale.astype(np.float32).reshape(shape)
    return Val(out if beta is None else out + np.asarray(beta, np.float32).reshape(shape), x.nhwc)


def _concat_supported(step: Any, ranks: dict[str, int]) -> bool:
    values = step.args.get("values") or []
    return bool(values) and all(isinstance(v, Ref) for v in values) and not bool(step.args.get("interleave", False))


@tf_form("concat", _concat_supported)
def concat(values: list[Val], axis: Any, interleave: Any = False) -> Val:
    """Concatenation; NHWC tensors stay NHWC (DenseNet's growing feature maps)."""
    rank = len(values[0].t.shape)
    axis = int(axis) + rank if int(axis) < 0 else int(axis)
    if rank == 4 and all(v.nhwc for v in values):
        return Val(tf.concat([v.t for v in values], axis=TO_NHWC.index(axis)), True)
    return Val(tf.concat([nchw(v) for v in values], axis=axis))


@tf_form("layer_norm")
def layer_norm(x: Val, axes: Any = None, gamma: Any = None, beta: Any = None, epsilon: Any = 1e-5) -> Val:
    t = nchw(x)
    rank = len(t.shape)
    axes_ = sorted(range(rank)) if axes is None else sorted(a + rank if a < 0 else a for a in ints(axes, ()))
    mean, variance = tf.nn.moments(t, axes_, keepdims=True)
    out = (t - mean) * tf.math.rsqrt(variance + np.float32(epsilon))
    shape = [t.shape[i] if i in axes_ else 1 for i in range(rank)]
    if gamma is not None:
        out = out * np.asarray(gamma, np.float32).reshape(shape)
    if beta is not None:
        out = out + np.asarray(beta, np.float32).reshape(shape)
    return Val(out)


def _float_binary(step: Any, ranks: dict[str, int]) -> bool:
    return all(dtype in ("FLOAT16", "FLOAT32") for _, dtype in step.outputs)


def _binary(fn: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]) -> Callable[..., Val]:
    """An element-wise op on two operands in one layout (a constant is transposed to the tensor's)."""

    def form(x: Any, y: Any) -> Val:
        vals = [v for v in (x, y) if isinstance(v, Val)]
        layout = all(v.nhwc for v in vals)
        a, b = (_in_layout(v, layout) for v in (x, y))
        return Val(fn(a, b), layout)

    return form


def _in_layout(v: Any, to_nhwc: bool) -> Any:
    if isinstance(v, Val):
        return nhwc(v) if to_nhwc else nchw(v)
    v = np.asarray(v)
    v = v.astype(np.float32) if v.dtype.kind == "f" else v.astype(np.float32)
    if to_nhwc and v.ndim >= 1:  # broadcasting aligns trailing axes: make it rank 4, then NHWC
        v = np.transpose(v.reshape((1,) * (4 - v.ndim) + v.shape), TO_NHWC)
    return v


def _epilogue(activation: Callable[[tf.Tensor], tf.Tensor] | None) -> Any:
    def run(y: tf.Tensor, bias: tf.Tensor) -> tf.Tensor:
        out = _round_float16(y + bias)  # the convolution's float16 result, then the exact activation
        return out if activation is None else activation(out)

    return tf.function(run, jit_compile=True, autograph=False)


def _rounded(fn: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]) -> Any:
    return tf.function(lambda a, b: _round_float16(fn(a, b)), jit_compile=True, autograph=False)


#: A float16 convolution's epilogue by the activation that follows it ("" for none).
EPILOGUES: dict[str, Any] = {"": _epilogue(None), "relu": _epilogue(tf.nn.relu), "relu6": _epilogue(tf.nn.relu6)}
#: Element-wise ops with their float16 rounding compiled in.
ROUNDED_FORMS: dict[str, Callable[..., Val]] = {}

for _name, _fn in (("add", tf.add), ("sub", tf.subtract), ("mul", tf.multiply), ("real_div", tf.divide),
                   ("maximum", tf.maximum), ("minimum", tf.minimum)):
    tf_form(_name, _float_binary)(_binary(_fn))
    ROUNDED_FORMS[_name] = _binary(_rounded(_fn))


def _constant_pad(step: Any, ranks: dict[str, int]) -> bool:
    return step.args.get("mode", "constant") == "constant" and not isinstance(step.args.get("pad"), Ref)


@tf_form("pad", _constant_pad)
def pad(x: Val, pad: Any, mode: str = "constant", constant_val: Any = 0.0) -> Val:
    amounts, rank = ints(pad, ()), len(x.t.shape)
    k = len(amounts) // 2
    widths = [[0, 0]] * (rank - k) + [[amounts[2 * i], amounts[2 * i + 1]] for i in range(k)]
    if x.nhwc:
        widths = [widths[a] for a in TO_NHWC]
    return Val(tf.pad(x.t, widths, constant_values=float(np.asarray(constant_val).item())), x.nhwc)


@tf_form("reduce_mean")
def reduce_mean(x: Val, axes: Any = None, keep_dims: Any = False) -> Val:
    rank = len(x.t.shape)
    axes_ = list(range(rank)) if axes is None else [a + rank if a < 0 else a for a in ints(axes, ())]
    keep = bool(keep_dims)
    if x.nhwc:
        mapped = [TO_NCHW[a] for a in axes_]
        kept = [TO_NHWC[j] for j in range(4) if j not in mapped]
        if keep or kept == sorted(kept):  # what is left is in MIL's order already
            return Val(tf.reduce_mean(x.t, axis=mapped, keepdims=keep), x.nhwc and keep)
    return Val(tf.reduce_mean(nchw(x), axis=axes_, keepdims=keep))


@tf_form("linear", lambda step, ranks: not isinstance(step.args.get("weight"), Ref))
def linear(x: Val, weight: np.ndarray, bias: Any = None) -> Val:
    y = tf.matmul(nchw(x), np.ascontiguousarray(weight.T))
    return Val(y if bias is None else y + np.asarray(bias, dtype=np.float32))


@tf_form("matmul", lambda step, ranks: isinstance(step.args.get("x"), Ref)
         and not isinstance(step.args.get("y"), Ref) and np.ndim(step.args.get("y")) >= 2)
def matmul(x: Val, y: np.ndarray, transpose_x: Any = False, transpose_y: Any = False) -> Val:
    """A tensor times a constant matrix (ConvNeXt's pointwise Dense layers; batch dimensions broadcast)."""
    return Val(tf.linalg.matmul(nchw(x), np.asarray(y, np.float32), transpose_a=bool(transpose_x),
                                transpose_b=bool(transpose_y)))


@tf_form("softmax")
def softmax(x: Val, axis: Any = -1) -> Val:
    return Val(tf.nn.softmax(nchw(x), axis=int(axis)))


@tf_form("transpose")
def transpose(x: Val, perm: Any) -> Val:
    return Val(tf.transpose(nchw(x), ints(perm, ())))


@tf_form("reshape", lambda step, ranks: not isinstance(step.args.get("shape"), Ref))
def reshape(x: Val, shape: Any) -> Val:
    return Val(tf.reshape(nchw(x), ints(shape, ())))


@tf_form("cast", lambda step, ranks: step.args.get("dtype") in ("fp16", "fp32"))
def cast(x: Val, dtype: str) -> Val:
    """Casts between floating types: to fp16 rounds (handed on as float32, as numpy's form does)."""
    t = tf.cast(x.t, tf.float32)
    return Val(round_float16(t) if dtype == "fp16" else t, x.nhwc)


def _round_float16(t: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.cast(t, tf.float16), tf.float32)


#: float32 values rounded to the nearest float16 (ties to even, subnormals, infinities), still
#: float32. Compiled by XLA: one vectorized pass, 3x faster than TensorFlow's two cast kernels.
round_float16 = tf.function(_round_float16, jit_compile=True, autograph=False)
