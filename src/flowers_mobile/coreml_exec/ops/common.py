"""Helpers the op families share: argument decoding and MIL's cast dtypes."""

from __future__ import annotations

from typing import Any

import numpy as np

# MIL dtype strings (cast, constexpr_cast) -> numpy. Floats compute in float32.
CAST_DTYPES: dict[str, Any] = {
    "fp16": np.float16, "fp32": np.float32, "fp64": np.float64, "bool": np.bool_,
    "int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
    "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32,
}


def f32(x: Any) -> np.ndarray:
    """A float32 array (ints and bools are left alone)."""
    x = np.asarray(x)
    return x.astype(np.float32) if x.dtype.kind == "f" and x.dtype != np.float32 else x


def ints(value: Any, default: tuple[int, ...]) -> tuple[int, ...]:
    if value is None:
        return default
    return tuple(int(v) for v in np.asarray(value).reshape(-1))


def axis_of(axis: Any, rank: int) -> int:
    axis = int(axis)
    return axis + rank if axis < 0 else axis
