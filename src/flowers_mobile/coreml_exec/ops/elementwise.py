"""Elementwise arithmetic (broadcasting like numpy), unary functions (sqrt, rsqrt, exp, square,
abs, erf) and cast."""

from __future__ import annotations

from typing import Any

import numpy as np

from flowers_mobile.coreml_exec.ops.common import CAST_DTYPES, f32
from flowers_mobile.coreml_exec.registry import ROW_WISE, register_op


@register_op("add", batch=ROW_WISE)
def add(x: Any, y: Any) -> np.ndarray:
    return np.add(x, y)


@register_op("sub", batch=ROW_WISE)
def sub(x: Any, y: Any) -> np.ndarray:
    return np.subtract(x, y)


@register_op("mul", batch=ROW_WISE)
def mul(x: Any, y: Any) -> np.ndarray:
    return np.multiply(x, y)


@register_op("real_div", batch=ROW_WISE)
def real_div(x: Any, y: Any) -> np.ndarray:
    return np.true_divide(f32(x), f32(y)).astype(np.float32)


@register_op("maximum", batch=ROW_WISE, fp16_exact=True)
def maximum(x: Any, y: Any) -> np.ndarray:
    return np.maximum(x, y)


@register_op("minimum", batch=ROW_WISE, fp16_exact=True)
def minimum(x: Any, y: Any) -> np.ndarray:
    return np.minimum(x, y)


@register_op("sqrt", batch=ROW_WISE)
def sqrt(x: np.ndarray) -> np.ndarray:
    return np.sqrt(x)


@register_op("rsqrt", batch=ROW_WISE)
def rsqrt(x: np.ndarray, epsilon: Any = 1e-12) -> np.ndarray:
    return (1 / np.sqrt(x + f32(epsilon))).astype(np.float32)


@register_op("exp", batch=ROW_WISE)
def exp(x: np.ndarray) -> np.ndarray:
    return np.exp(x)


@register_op("square", batch=ROW_WISE)
def square(x: np.ndarray) -> np.ndarray:
    return np.square(x)


@register_op("abs", batch=ROW_WISE, fp16_exact=True)
def abs_(x: np.ndarray) -> np.ndarray:
    return np.abs(x)


#: Terms of erf's Maclaurin series summed for |x| < 4 (the last one is below 1e-10 there).
_ERF_TERMS = 64


@register_op("erf", batch=ROW_WISE)
def erf(x: np.ndarray) -> np.ndarray:
    """The error function, to float32 precision without scipy.

    For |x| < 4 its Maclaurin series 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1)) in float64:
    the largest term there is about 1e7, so cancellation costs about 1e-9, far below float32's
    spacing. From 4 on, 1 - erf(x) < 1.6e-8 is below float32's spacing at 1, so erf is +-1.
    """
    x = np.asarray(x)
    t = np.clip(x.astype(np.float64), -4.0, 4.0)
    t2 = -t * t
    term, total = t.copy(), t.copy()
    for n in range(1, _ERF_TERMS):
        term *= t2 / n
        total += term / (2 * n + 1)
    return (total * (2 / np.sqrt(np.pi))).astype(np.float32)


@register_op("cast", batch=ROW_WISE, fp16_exact=True)
def cast(x: Any, dtype: str) -> np.ndarray:
    """Cast to a MIL dtype ("fp16", "fp32", "int32", "bool", ...).

    Casting to fp16 rounds to float16 here as well, so the function is right on its own (and
    declared fp16-exact); the result is handed on as float32 like every floating tensor.
    """
    if dtype not in CAST_DTYPES:
        raise ValueError(f"cast to unknown dtype {dtype!r}")
    out = np.asarray(x).astype(CAST_DTYPES[dtype])
    return out.astype(np.float32) if out.dtype.kind == "f" else out
