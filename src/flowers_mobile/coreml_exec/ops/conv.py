"""Convolution (MIL `conv`, 1-D and 2-D, with groups, strides, dilations and pad types).

Three paths by shape, each vectorized over the batch:
- pointwise (1x1, one group): one matrix product per image, (C_out, C) x (C, H*W);
- depthwise (one input channel per group, MobileNet's 3x3): kH*kW shifted multiply-adds, each
  tap one contiguous slice of a stride phase of the input (see `_depthwise`), in blocks of
  channels small enough to stay in the CPU's L2 cache while every tap re-reads them (strided
  taps over whole (N, C, H, W) tensors were 1.5-4x slower at 224 px);
- anything else: im2col per group and one product.
Every path adds the products in the same order (tap by tap, then the bias), so a batch gives
each image what it gets alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flowers_mobile.coreml_exec.ops.common import ints
from flowers_mobile.coreml_exec.registry import BatchQuery, register_op

#: Bytes of input and buffers per depthwise block: read kH*kW times, it should stay in L2.
DEPTHWISE_BLOCK_BYTES = 1 << 19


def conv_pads(pad_type: str, pad: Any, in_sizes: tuple[int, ...], kernel: tuple[int, ...],
              strides: tuple[int, ...], dilations: tuple[int, ...]) -> list[tuple[int, int]]:
    """(begin, end) padding per spatial dimension for MIL's pad types.

    "same" makes out = ceil(in / stride) and puts the odd pixel at the end (TensorFlow's rule);
    "same_lower" puts it at the beginning; "custom" reads `pad` = [begin0, end0, begin1, ...].
    """
    if pad_type == "valid":
        return [(0, 0)] * len(in_sizes)
    if pad_type == "custom":
        amounts = ints(pad, (0,) * (2 * len(in_sizes)))
        return [(amounts[2 * i], amounts[2 * i + 1]) for i in range(len(in_sizes))]
    if pad_type in ("same", "same_lower"):
        out = []
        for size, k, s, d in zip(in_sizes, kernel, strides, dilations, strict=True):
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small, large = total // 2, total - total // 2
            out.append((small, large) if pad_type == "same" else (large, small))
        return out
    raise ValueError(f"unknown pad_type {pad_type!r}")


def _conv_batch(q: BatchQuery) -> bool:
    return not q.is_runtime("weight")


@register_op("conv", batch=_conv_batch)
def conv(x: np.ndarray, weight: np.ndarray, bias: Any = None, strides: Any = None, pad_type: str = "valid",
         pad: Any = None, dilations: Any = None, groups: Any = 1) -> np.ndarray:
    """MIL conv: x (N, C, W) or (N, C, H, W), weight (C_out, C / groups, [kH,] kW)."""
    if x.ndim == 3:
        return _conv1d(x, weight, bias, strides, pad_type, pad, dilations, groups)
    if x.ndim != 4:
        raise ValueError(f"conv supports 1-D and 2-D inputs, got rank {x.ndim}")
    return _conv2d(x, weight, bias, _ints2(strides), pad_type, pad, _ints2(dilations), int(groups))


def _ints2(value: Any) -> tuple[int, int]:
    a, b = ints(value, (1, 1))
    return a, b


def _conv1d(x: np.ndarray, weight: np.ndarray, bias: Any, strides: Any, pad_type: str, pad: Any,
            dilations: Any, groups: Any) -> np.ndarray:
    """A 1-D conv as a 2-D one of height 1."""
    out = _conv2d(x[:, :, None, :], weight[:, :, None, :], bias, (1, *ints(strides, (1,))), pad_type,
                  None if pad is None else (0, 0, *ints(pad, ())), (1, *ints(dilations, (1,))), int(groups))
    return out[:, :, 0, :]


def _conv2d(x: np.ndarray, weight: np.ndarray, bias: Any, strides: tuple[int, int], pad_type: str, pad: Any,
            dilations: tuple[int, int], groups: int) -> np.ndarray:
    n, c, h, w = x.shape
    c_out, c_per_group, kh, kw = weight.shape
    if c != c_per_group * groups or c_out % groups:
        raise ValueError(f"conv: input has {c} channels, weight {tuple(weight.shape)} with {groups} groups")
    pads = conv_pads(pad_type, pad, (h, w), (kh, kw), strides, dilations)
    (sh, sw), (dh, dw) = strides, dilations
    ho = (h + sum(pads[0]) - (kh - 1) * dh - 1) // sh + 1
    wo = (w + sum(pads[1]) - (kw - 1) * dw - 1) // sw + 1
    bias = None if bias is None else np.asarray(bias, dtype=np.float32)
    if c_per_group == 1 and not (kh == kw == 1 and groups == 1):
        multiplier = c_out // groups
        src = x if multiplier == 1 else np.repeat(x, multiplier, axis=1)
        return _depthwise(src, weight, bias, pads, strides, dilations, (ho, wo))
    (pt, pb), (pl, pr) = pads
    if pt or pb or pl or pr:
        x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))

    def tap(a: int, b: int) -> np.ndarray:  # the pixels kernel tap (a, b) sees
        return x[..., a * dh: a * dh + (ho - 1) * sh + 1: sh, b * dw: b * dw + (wo - 1) * sw + 1: sw]

    if kh == kw == 1 and groups == 1:
        cols = tap(0, 0).reshape(n, c, ho * wo)
        out = np.matmul(weight.reshape(c_out, c), cols).reshape(n, c_out, ho, wo)
    else:
        # im2col: rows ordered (channel, tap) to match weight.reshape(c_out, c_per_group * kh * kw).
        cols = np.stack([tap(a, b) for a in range(kh) for b in range(kw)], axis=2)  # n, c, taps, ho, wo
        cols = cols.reshape(n, groups, c_per_group * kh * kw, ho * wo)
        w2 = weight.reshape(groups, c_out // groups, c_per_group * kh * kw)
        out = np.matmul(w2[None], cols).reshape(n, c_out, ho, wo)
    out = out.astype(np.float32, copy=False)
    if bias is not None:
        out += bias.reshape(1, c_out, 1, 1)
    return out


def _depthwise(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, pads: list[tuple[int, int]],
               strides: tuple[int, int], dilations: tuple[int, int], out_size: tuple[int, int]) -> np.ndarray:
    """One filter per channel: the sum over taps of the shifted input times the tap's weight, + bias.

    The input is split into stride phases (rows p, p + sh, ...; columns likewise), padded, so that
    every tap reads one phase at a fixed offset. Flattened per channel, a tap is then one
    contiguous slice: each output row is computed `wq - wo` columns too wide, and the extra
    columns are dropped at the end. That keeps numpy on long contiguous loops.
    """
    n, c = x.shape[:2]
    kh, kw = weight.shape[2:]
    ho, wo = out_size
    taps = [_tap_geometry(a, b, strides, dilations) for a in range(kh) for b in range(kw)]
    wq = wo + max(t[3] for t in taps)
    hq = ho + max(t[2] for t in taps) + 1  # one spare row: the last tap's too-wide row stays inside
    phases = {key: _phase(x, key, pads, strides, (hq, wq)) for key in sorted({(t[0], t[1]) for t in taps})}
    length = ho * wq
    out = np.empty((n, c, ho, wo), dtype=np.float32)
    block = max(1, min(c, DEPTHWISE_BLOCK_BYTES // ((len(phases) * hq * wq + 2 * length) * 4)))
    acc = np.empty((block, length), dtype=np.float32)
    product = np.empty_like(acc)  # one buffer: no allocation per tap
    w = weight[:, 0].reshape(c, kh * kw).astype(np.float32, copy=False)
    for i in range(n):
        for c0 in range(0, c, block):
            c1 = min(c, c0 + block)
            dst, prod = acc[: c1 - c0], product[: c1 - c0]
            for t, (p, q, ra, rb) in enumerate(taps):
                start = ra * wq + rb
                part = phases[(p, q)][i, c0:c1, start:start + length]
                if t == 0:
                    np.multiply(part, w[c0:c1, t, None], out=dst)
                else:
                    np.multiply(part, w[c0:c1, t, None], out=prod)
                    dst += prod
            if bias is not None:
                dst += bias[c0:c1, None]
            out[i, c0:c1] = dst.reshape(c1 - c0, ho, wq)[:, :, :wo]
    return out


def _tap_geometry(a: int, b: int, strides: tuple[int, int], dilations: tuple[int, int]) -> tuple[int, int, int, int]:
    """(row phase, column phase, row offset, column offset) of kernel tap (a, b)."""
    (sh, sw), (dh, dw) = strides, dilations
    return (a * dh) % sh, (b * dw) % sw, (a * dh) // sh, (b * dw) // sw


def _phase(x: np.ndarray, key: tuple[int, int], pads: list[tuple[int, int]], strides: tuple[int, int],
           size: tuple[int, int]) -> np.ndarray:
    """Padded-input rows p, p + sh, ... and columns q, q + sw, ... as (N, C, hq * wq), zeros outside x."""
    n, c, h, w = x.shape
    buf = np.zeros((n, c, *size), dtype=np.float32)
    spans = []
    for first_pad, stride, extent, phase, limit in ((pads[0][0], strides[0], h, key[0], size[0]),
                                                    (pads[1][0], strides[1], w, key[1], size[1])):
        r0 = max(0, -(-(first_pad - phase) // stride))  # first phase row inside x
        x0 = r0 * stride + phase - first_pad
        count = max(0, min(limit - r0, -(-(extent - x0) // stride)))
        spans.append((r0, x0, count))
    (r0, x0, rows), (s0, y0, cols) = spans
    if rows and cols:
        buf[:, :, r0:r0 + rows, s0:s0 + cols] = x[:, :, x0::strides[0], y0::strides[1]][:, :, :rows, :cols]
    return buf.reshape(n, c, size[0] * size[1])
