"""Linear algebra: matmul, linear, batch_norm."""

from __future__ import annotations

from typing import Any

import numpy as np

from flowers_mobile.coreml_exec.ops.common import f32
from flowers_mobile.coreml_exec.registry import ROW_WISE, BatchQuery, register_op


def _matmul_batch(q: BatchQuery) -> bool:
    x_stacked, y_stacked = q.is_stacked(q.args.get("x")), q.is_stacked(q.args.get("y"))
    if x_stacked and not y_stacked:
        return q.rank("x") >= 2 and not bool(q.args.get("transpose_x", False))
    return x_stacked and y_stacked and q.rank("x") >= 3 and q.rank("y") >= 3


@register_op("matmul", batch=_matmul_batch)
def matmul(x: np.ndarray, y: np.ndarray, transpose_x: Any = False, transpose_y: Any = False) -> np.ndarray:
    if bool(transpose_x) and x.ndim >= 2:
        x = np.swapaxes(x, -1, -2)
    if bool(transpose_y) and y.ndim >= 2:
        y = np.swapaxes(y, -1, -2)
    return np.matmul(x, y)


def constant_weight(q: BatchQuery) -> bool:
    """Row-wise as long as the weight is a constant, not another image's tensor."""
    return not q.is_runtime("weight")


@register_op("linear", batch=constant_weight)
def linear(x: np.ndarray, weight: np.ndarray, bias: Any = None) -> np.ndarray:
    """x @ weight.T + bias, weight (D_out, D_in)."""
    out = np.matmul(x, weight.T)
    return out if bias is None else out + bias


@register_op("batch_norm", batch=ROW_WISE)
def batch_norm(x: np.ndarray, mean: np.ndarray, variance: np.ndarray, gamma: Any = None, beta: Any = None,
               epsilon: Any = 1e-5) -> np.ndarray:
    """Inference batch norm over the channel axis 1 (per image: the statistics are constants)."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    scale = 1 / np.sqrt(variance.astype(np.float32) + f32(epsilon))
    if gamma is not None:
        scale = scale * gamma
    out = (x - mean.reshape(shape)) * scale.reshape(shape)
    return out if beta is None else out + np.reshape(beta, shape)
