"""Each op of the numpy Core ML executor against an independent reference: TensorFlow's kernels,
coremltools' own decompression code for the compressed-weight ops, or a plain loop.

MIL layouts are NCHW (weights O, I/groups, kH, kW); TensorFlow's are NHWC (weights kH, kW, I, O),
so inputs are transposed on the way in and out of the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from coremltools.converters.mil.mil.ops.defs.iOS16 import constexpr_ops as ios16
from coremltools.converters.mil.mil.ops.defs.iOS18 import compression as ios18
from coremltools.optimize._utils import pack_elements_into_bits

from flowers_mobile.coreml_exec import OPS
from flowers_mobile.coreml_exec.ops import conv_pads
from flowers_mobile.coreml_exec.registry import lookup
from flowers_mobile.coreml_exec.values import unpack_bits

RNG = np.random.default_rng(0)


def rand(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, shape).astype(np.float32)


def nchw(x_nhwc):
    return np.ascontiguousarray(np.transpose(x_nhwc, (0, 3, 1, 2)))


def tf_conv(x, w, stride, padding, dilation=1):
    """TF conv2d on MIL layouts: x NCHW, w (O, I, kH, kW); padding "SAME"/"VALID" or explicit."""
    out = tf.nn.conv2d(np.transpose(x, (0, 2, 3, 1)), np.transpose(w, (2, 3, 1, 0)), strides=stride,
                       padding=padding, dilations=dilation)
    return nchw(out.numpy())


# ---------------------------------------------------------------------------------------- conv


@pytest.mark.parametrize("n,c,h,w,o,k,stride,pad_type", [
    (2, 3, 17, 17, 8, 3, 2, "same"),
    (1, 3, 16, 16, 4, 3, 2, "valid"),
    (3, 5, 9, 12, 6, 3, 1, "same"),
    (2, 8, 7, 7, 16, 1, 1, "valid"),  # pointwise
    (2, 8, 10, 10, 4, 1, 2, "same"),  # strided pointwise
    (1, 4, 11, 8, 3, 5, 3, "same"),
    (2, 6, 12, 12, 5, 2, 2, "same"),  # even kernel: odd total padding goes at the end
])
def test_conv_matches_tf_conv2d(n, c, h, w, o, k, stride, pad_type):
    x, wt, bias = rand(n, c, h, w), rand(o, c, k, k), rand(o)
    got = OPS["conv"](x=x, weight=wt, bias=bias, strides=np.array([stride, stride]), pad_type=pad_type,
                      pad=np.zeros(4, np.int32), dilations=np.array([1, 1]), groups=np.array(1))
    want = tf_conv(x, wt, stride, pad_type.upper()) + bias.reshape(1, -1, 1, 1)
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("pad_type", ["same", "valid"])
def test_dilated_conv_matches_tf(pad_type):
    x, wt = rand(2, 4, 15, 13), rand(6, 4, 3, 3)
    got = OPS["conv"](x=x, weight=wt, strides=[1, 1], pad_type=pad_type, dilations=[2, 3], groups=1)
    want = tf_conv(x, wt, 1, pad_type.upper(), dilation=[2, 3])
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_custom_padding_matches_tf_explicit_padding():
    x, wt = rand(2, 3, 10, 9), rand(4, 3, 3, 3)
    got = OPS["conv"](x=x, weight=wt, strides=[2, 1], pad_type="custom", pad=[1, 2, 0, 3], groups=1)
    want = tf_conv(x, wt, [2, 1], [[0, 0], [1, 2], [0, 3], [0, 0]])
    np.testing.assert_allclose(got, want, atol=1e-4)


@pytest.mark.parametrize("n,c,size,stride,pad_type,multiplier", [
    (2, 16, 12, 1, "same", 1),
    (2, 16, 12, 2, "same", 1),
    (3, 8, 13, 2, "same", 1),  # odd size, stride 2: the extra pixel of padding goes at the end
    (2, 8, 13, 2, "valid", 1),
    (1, 6, 9, 1, "valid", 2),  # channel multiplier 2
    (4, 32, 3, 1, "same", 1),  # the last blocks' 3x3 maps
])
def test_depthwise_conv_matches_tf_depthwise_conv2d(n, c, size, stride, pad_type, multiplier):
    x, bias = rand(n, c, size, size), rand(c * multiplier)
    dw = rand(3, 3, c, multiplier)  # TF layout
    mil_w = np.transpose(dw, (2, 3, 0, 1)).reshape(c * multiplier, 1, 3, 3)  # out channel = c * m + j
    got = OPS["conv"](x=x, weight=mil_w, bias=bias, strides=[stride, stride], pad_type=pad_type,
                      dilations=[1, 1], groups=c)
    want = tf.nn.depthwise_conv2d(np.transpose(x, (0, 2, 3, 1)), dw, strides=[1, stride, stride, 1],
                                  padding=pad_type.upper()).numpy()
    np.testing.assert_allclose(got, nchw(want) + bias.reshape(1, -1, 1, 1), atol=1e-4)


@pytest.mark.parametrize("stride,dilation,pad", [(1, 2, "same"), (2, 1, (0, 1, 2, 0)), (3, 1, "valid"), (2, 1, (1, 1, 1, 1))])
def test_depthwise_conv_strides_dilations_and_custom_pads_match_tf(stride, dilation, pad):
    x, bias = rand(2, 5, 11, 10), rand(5)
    dw = rand(3, 3, 5, 1)
    mil_w = np.transpose(dw, (2, 3, 0, 1)).reshape(5, 1, 3, 3)
    pad_type, amounts = ("custom", pad) if isinstance(pad, tuple) else (pad, None)
    got = OPS["conv"](x=x, weight=mil_w, bias=bias, strides=[stride, stride], pad_type=pad_type, pad=amounts,
                      dilations=[dilation, dilation], groups=5)
    nhwc = np.transpose(x, (0, 2, 3, 1))
    if amounts is not None:
        nhwc = np.pad(nhwc, ((0, 0), (amounts[0], amounts[1]), (amounts[2], amounts[3]), (0, 0)))
    want = tf.nn.depthwise_conv2d(nhwc, dw, strides=[1, stride, stride, 1], dilations=[dilation, dilation],
                                  padding="VALID" if amounts is not None else pad_type.upper()).numpy()
    np.testing.assert_allclose(got, nchw(want) + bias.reshape(1, -1, 1, 1), atol=1e-4)


def test_grouped_conv_matches_per_group_tf_convs():
    x, wt = rand(2, 6, 8, 8), rand(9, 2, 3, 3)  # 3 groups: 2 in, 3 out channels each
    got = OPS["conv"](x=x, weight=wt, strides=[1, 1], pad_type="same", groups=3)
    want = np.concatenate([tf_conv(x[:, 2 * g:2 * g + 2], wt[3 * g:3 * g + 3], 1, "SAME") for g in range(3)], axis=1)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_conv1d_matches_tf_conv1d():
    x, wt = rand(2, 3, 20), rand(5, 3, 4)
    got = OPS["conv"](x=x, weight=wt, strides=[2], pad_type="same", dilations=[1], groups=1)
    want = tf.nn.conv1d(np.transpose(x, (0, 2, 1)), np.transpose(wt, (2, 1, 0)), stride=2, padding="SAME").numpy()
    np.testing.assert_allclose(got, np.transpose(want, (0, 2, 1)), atol=1e-4)


def test_same_lower_puts_the_odd_pixel_first():
    # total padding 1 on each axis for k=2, stride 1: same -> (0, 1), same_lower -> (1, 0)
    assert conv_pads("same", None, (5, 5), (2, 2), (1, 1), (1, 1)) == [(0, 1), (0, 1)]
    assert conv_pads("same_lower", None, (5, 5), (2, 2), (1, 1), (1, 1)) == [(1, 0), (1, 0)]
    x, wt = rand(1, 2, 5, 5), rand(3, 2, 2, 2)
    got = OPS["conv"](x=x, weight=wt, pad_type="same_lower", groups=1)
    want = tf_conv(x, wt, 1, [[0, 0], [1, 0], [1, 0], [0, 0]])
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_conv_rejects_channel_mismatch():
    with pytest.raises(ValueError, match="channels"):
        OPS["conv"](x=rand(1, 4, 5, 5), weight=rand(2, 3, 3, 3), groups=1)


# ---------------------------------------------------------------------------------- elementwise


UNARY = {
    "relu": tf.nn.relu, "relu6": tf.nn.relu6, "sigmoid": tf.math.sigmoid, "tanh": tf.math.tanh,
    "exp": tf.math.exp,
}


@pytest.mark.parametrize("op", sorted(UNARY))
@pytest.mark.parametrize("shape", [(7,), (2, 3, 4, 5)])
def test_unary_ops_match_tf(op, shape):
    x = rand(*shape, low=-8, high=8)
    np.testing.assert_allclose(OPS[op](x=x), UNARY[op](x).numpy(), rtol=1e-5, atol=1e-6)


def test_sqrt_and_rsqrt_match_tf():
    x = rand(3, 4, low=0.1, high=9)
    np.testing.assert_allclose(OPS["sqrt"](x=x), tf.math.sqrt(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(OPS["rsqrt"](x=x, epsilon=np.float32(0)), tf.math.rsqrt(x).numpy(), rtol=1e-5)


def test_clip_matches_tf_clip_by_value():
    x = rand(4, 5, low=-5, high=5)
    got = OPS["clip"](x=x, alpha=np.float32(-1.5), beta=np.float32(2.0))
    np.testing.assert_array_equal(got, tf.clip_by_value(x, -1.5, 2.0).numpy())


BINARY = {"add": tf.math.add, "sub": tf.math.subtract, "mul": tf.math.multiply, "real_div": tf.math.truediv,
          "maximum": tf.math.maximum, "minimum": tf.math.minimum}


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("x_shape,y_shape", [((2, 3, 4, 4), (2, 3, 4, 4)), ((2, 3, 4, 4), (1, 3, 1, 1)),
                                             ((5, 6), ())])
def test_binary_ops_broadcast_like_tf(op, x_shape, y_shape):
    x, y = rand(*x_shape), rand(*y_shape, low=0.5, high=3)
    np.testing.assert_allclose(OPS[op](x=x, y=y), BINARY[op](x, y).numpy(), rtol=1e-6)


@pytest.mark.parametrize("axis", [-1, 1, 0])
def test_softmax_matches_tf(axis):
    x = rand(3, 7, 4, low=-30, high=30)
    np.testing.assert_allclose(OPS["softmax"](x=x, axis=np.int32(axis)), tf.nn.softmax(x, axis=axis).numpy(),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype,tf_dtype", [("fp16", tf.float16), ("int32", tf.int32), ("fp32", tf.float32)])
def test_cast_matches_tf_cast(dtype, tf_dtype):
    x = rand(50, low=-300, high=300) * np.float32(1.0009765)  # values fp16 cannot hold exactly
    got = OPS["cast"](x=x, dtype=dtype)
    want = tf.cast(x, tf_dtype).numpy()
    np.testing.assert_array_equal(got, want.astype(np.float32) if want.dtype.kind == "f" else want)
    assert got.dtype == (np.float32 if dtype.startswith("fp") else np.int32)


# -------------------------------------------------------------------------------------- shapes


def test_transpose_reshape_squeeze_expand_concat_match_tf():
    x = rand(2, 3, 4, 5)
    np.testing.assert_array_equal(OPS["transpose"](x=x, perm=np.array([0, 2, 3, 1])),
                                  tf.transpose(x, [0, 2, 3, 1]).numpy())
    np.testing.assert_array_equal(OPS["reshape"](x=x, shape=np.array([2, -1])), tf.reshape(x, [2, -1]).numpy())
    # 0 copies the input's dimension when the ranks match
    np.testing.assert_array_equal(OPS["reshape"](x=x, shape=np.array([0, 0, 20, 1])),
                                  tf.reshape(x, [2, 3, 20, 1]).numpy())
    y = rand(2, 1, 4, 1)
    np.testing.assert_array_equal(OPS["squeeze"](x=y, axes=np.array([1])), tf.squeeze(y, [1]).numpy())
    np.testing.assert_array_equal(OPS["squeeze"](x=y), tf.squeeze(y).numpy())
    np.testing.assert_array_equal(OPS["expand_dims"](x=x, axes=np.array([-1])), tf.expand_dims(x, -1).numpy())
    z = rand(2, 2, 4, 5)
    np.testing.assert_array_equal(OPS["concat"](values=[x, z], axis=np.int32(1)), tf.concat([x, z], 1).numpy())


def test_concat_interleave_alternates_inputs():
    a, b = np.arange(6, dtype=np.float32).reshape(1, 3, 2), -np.arange(6, dtype=np.float32).reshape(1, 3, 2)
    got = OPS["concat"](values=[a, b], axis=np.int32(1), interleave=np.bool_(True))
    want = np.stack([a[0, i // 2] if i % 2 == 0 else b[0, i // 2] for i in range(6)])[None]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mode,tf_mode", [("constant", "CONSTANT"), ("reflect", "REFLECT")])
def test_pad_matches_tf_pad(mode, tf_mode):
    x = rand(2, 3, 5, 6)
    got = OPS["pad"](x=x, pad=np.array([1, 2, 0, 3]), mode=mode, constant_val=np.float32(0.5))
    want = tf.pad(x, [[0, 0], [0, 0], [1, 2], [0, 3]], mode=tf_mode, constant_values=0.5).numpy()
    np.testing.assert_array_equal(got, want)


def test_pad_replicate_repeats_edge_pixels():
    x = rand(1, 2, 4, 3)
    got = OPS["pad"](x=x, pad=np.array([2, 1, 1, 2]), mode="replicate")
    rows = np.clip(np.arange(-2, 5), 0, 3)
    cols = np.clip(np.arange(-1, 5), 0, 2)
    np.testing.assert_array_equal(got, x[:, :, rows][:, :, :, cols])


# ---------------------------------------------------------------------------------- reductions


@pytest.mark.parametrize("op,tf_op", [("reduce_mean", tf.reduce_mean), ("reduce_sum", tf.reduce_sum),
                                      ("reduce_max", tf.reduce_max)])
@pytest.mark.parametrize("axes,keep", [([1, 2], False), ([-1], True), (None, False)])
def test_reductions_match_tf(op, tf_op, axes, keep):
    x = rand(2, 5, 6, 3)
    got = OPS[op](x=x, axes=None if axes is None else np.array(axes), keep_dims=np.bool_(keep))
    np.testing.assert_allclose(got, tf_op(x, axis=axes, keepdims=keep).numpy(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ linear algebra


@pytest.mark.parametrize("tx,ty", [(False, False), (True, False), (False, True), (True, True)])
def test_matmul_matches_tf(tx, ty):
    x = rand(2, 4, 3) if tx else rand(2, 3, 4)
    y = rand(5, 4) if ty else rand(4, 5)
    got = OPS["matmul"](x=x, y=y, transpose_x=np.bool_(tx), transpose_y=np.bool_(ty))
    want = tf.linalg.matmul(x, np.broadcast_to(y, (2, *y.shape)), transpose_a=tx, transpose_b=ty).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_linear_matches_tf_dense():
    x, w, b = rand(6, 10), rand(4, 10), rand(4)
    dense = tf.keras.layers.Dense(4)
    dense.build((None, 10))
    dense.set_weights([w.T, b])
    np.testing.assert_allclose(OPS["linear"](x=x, weight=w, bias=b), dense(x).numpy(), rtol=1e-5, atol=1e-5)


def test_batch_norm_matches_tf():
    x = rand(2, 4, 3, 3)
    mean, var, gamma, beta = rand(4), rand(4, low=0.1, high=2), rand(4), rand(4)
    got = OPS["batch_norm"](x=x, mean=mean, variance=var, gamma=gamma, beta=beta, epsilon=np.float32(1e-3))
    shape = (1, 4, 1, 1)
    want = tf.nn.batch_normalization(x, mean.reshape(shape), var.reshape(shape), beta.reshape(shape),
                                     gamma.reshape(shape), 1e-3).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_classify_gives_top_label_and_probability_dict():
    probs = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]], np.float32)
    labels, dicts = OPS["classify"](probabilities=probs, classes=["daisy", "rose", "tulip"])
    assert list(labels) == ["rose", "daisy"]
    assert dicts[1] == pytest.approx({"daisy": 0.5, "rose": 0.2, "tulip": 0.3})
    with pytest.raises(ValueError, match="2 classes for 3"):
        OPS["classify"](probabilities=probs, classes=["a", "b"])


# ------------------------------------------------------------------------- compressed weights


def test_affine_dequantize_matches_coremltools():
    ref = ios16.constexpr_affine_dequantize

    q = RNG.integers(-128, 128, (6, 4, 3, 3)).astype(np.int8)
    scale, zero = rand(6, low=0.01, high=0.1), RNG.integers(-3, 3, 6).astype(np.int8)
    got = OPS["constexpr_affine_dequantize"](quantized_data=q, zero_point=zero, scale=scale, axis=np.int32(0))
    np.testing.assert_allclose(got, ref.decompress(q, zero, scale, 0), rtol=1e-6)
    per_tensor = OPS["constexpr_affine_dequantize"](quantized_data=q, zero_point=np.int8(2), scale=np.float32(0.5),
                                                    axis=np.int32(1))
    np.testing.assert_allclose(per_tensor, (q.astype(np.float32) - 2) * 0.5)


@pytest.mark.parametrize("nbits", [1, 2, 4, 6, 8])
def test_lut_to_dense_ios16_unpacks_like_coremltools(nbits):
    ref = ios16.constexpr_lut_to_dense

    shape = np.array([5, 3, 3, 1], np.uint32)  # 45 elements: the last byte is partly padding
    indices = RNG.integers(0, 1 << nbits, int(shape.prod())).astype(np.uint8)
    lut = rand(1 << nbits)
    packed = pack_elements_into_bits(indices, nbits)
    got = lookup("constexpr_lut_to_dense", "iOS16").fn(indices=packed, lut=lut, shape=shape)
    np.testing.assert_array_equal(got, ref.decompress(lut, packed, shape))
    np.testing.assert_array_equal(unpack_bits(packed.tobytes(), nbits, indices.size), indices)


@pytest.mark.parametrize("groups", [(1, 1, 1, 1), (4, 1, 1, 1), (2, 3, 1, 1)])
def test_lut_to_dense_ios18_blockwise_matches_coremltools(groups):
    ref = ios18.constexpr_lut_to_dense

    indices = RNG.integers(0, 16, (8, 6, 3, 3)).astype(np.uint8)
    lut = rand(*groups, 16, 1)
    got = lookup("constexpr_lut_to_dense", "iOS18").fn(indices=indices, lut=lut)
    np.testing.assert_array_equal(got, ref.decompress(indices, lut, None))


@pytest.mark.parametrize("vector_axis", [0, 1])
def test_lut_to_dense_ios18_vector_palettes_match_coremltools(vector_axis):
    ref = ios18.constexpr_lut_to_dense

    indices = RNG.integers(0, 4, (4, 6) if vector_axis == 0 else (8, 3)).astype(np.uint8)
    lut = rand(1, 1, 4, 2)  # 4 palettes of 2-vectors
    got = lookup("constexpr_lut_to_dense", "iOS18").fn(indices=indices, lut=lut, vector_axis=np.int32(vector_axis))
    np.testing.assert_array_equal(got, ref.decompress(indices, lut, np.int32(vector_axis)))
    assert got.shape == (8, 6)


@pytest.mark.parametrize("with_offset", [False, True])
def test_blockwise_shift_scale_matches_coremltools(with_offset):
    ref = ios18.constexpr_blockwise_shift_scale

    data = RNG.integers(-8, 8, (8, 12, 1, 1)).astype(np.int8)
    scale = rand(8, 3, 1, 1, low=0.01, high=0.2)  # blocks of 4 input channels
    offset = RNG.integers(-2, 2, (8, 3, 1, 1)).astype(np.int8) if with_offset else None
    got = OPS["constexpr_blockwise_shift_scale"](data=data, scale=scale, offset=offset)
    np.testing.assert_allclose(got, ref.decompress(data, scale, offset), rtol=1e-6)


def test_sparse_to_dense_matches_coremltools():
    ref = ios16.constexpr_sparse_to_dense

    dense = rand(4, 5) * (RNG.uniform(size=(4, 5)) > 0.5)
    mask = np.packbits((dense != 0).reshape(-1), bitorder="little")
    nonzero = dense[dense != 0]
    got = OPS["constexpr_sparse_to_dense"](nonzero_data=nonzero, mask=mask, shape=np.array([4, 5], np.uint32))
    np.testing.assert_array_equal(got, ref.decompress(nonzero, mask, (4, 5)))


def test_constexpr_cast_widens_fp16():
    x = rand(10).astype(np.float16)
    got = OPS["constexpr_cast"](source_val=x, output_dtype="fp32")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, x.astype(np.float32))


def test_float16_rounding_matches_numpy_cast_everywhere():
    from flowers_mobile.coreml_exec.fp16 import round_to_float16

    edges = np.float32([0, -0.0, 1e-8, -3e-6, 6.1035156e-05, 6.1035152e-05, 6.0e-5, 1 + 2 ** -11, 1 + 3 * 2 ** -11,
                        2049, 2051, 65504, 65519, 65520, -65520, 1e6, np.inf, -np.inf, np.nan])
    values = np.concatenate([edges, rand(100_000, low=-10, high=10),
                             (RNG.standard_normal(100_000) * np.exp(RNG.uniform(-20, 12, 100_000))).astype(np.float32),
                             RNG.integers(0, 2 ** 32, 100_000, dtype=np.uint64).astype(np.uint32).view(np.float32)])
    with np.errstate(over="ignore", invalid="ignore"):
        want = values.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(round_to_float16(values), want)
    got = values.copy()
    assert round_to_float16(got, in_place=True) is not None
    np.testing.assert_array_equal(got.view(np.uint32)[~np.isnan(want)], want.view(np.uint32)[~np.isnan(want)])


# ------------------------------------------------------------------------------------- pooling


def tf_pool(x, kind, k, stride, padding):
    """TF's 1/2/3-D pooling on MIL layouts (x N, C, *D); padding "SAME"/"VALID"."""
    perm = (0, *range(2, x.ndim), 1)
    pool = tf.nn.max_pool if kind == "MAX" else tf.nn.avg_pool
    out = pool(np.transpose(x, perm), ksize=list(k), strides=list(stride), padding=padding)
    return np.transpose(out.numpy(), (0, x.ndim - 1, *range(1, x.ndim - 1)))


@pytest.mark.parametrize("shape,k,stride,pad_type", [
    ((2, 3, 9, 9), (3, 3), (2, 2), "valid"),  # VGG / ResNet: the odd row left over is dropped
    ((2, 3, 9, 8), (3, 3), (2, 2), "same"),  # Xception: odd padding at the end
    ((1, 4, 10, 7), (2, 3), (2, 1), "same"),
    ((2, 5, 6, 6), (1, 1), (2, 2), "valid"),  # ResNet50V2's 1x1 stride-2 shortcut pool
    ((2, 3, 11), (3,), (2,), "same"),  # 1-D
    ((1, 2, 5, 6, 7), (2, 3, 2), (2, 2, 1), "same"),  # 3-D
])
def test_max_and_avg_pool_match_tf_pool(shape, k, stride, pad_type):
    x = rand(*shape)
    args = {"kernel_sizes": np.array(k), "strides": np.array(stride), "pad_type": pad_type,
            "pad": np.zeros(2 * len(k), np.int32), "ceil_mode": np.array(False)}
    np.testing.assert_array_equal(OPS["max_pool"](x=x, **args), tf_pool(x, "MAX", k, stride, pad_type.upper()))
    # TF's SAME average leaves the padding out of each window's count: exclude_padding_from_average.
    got = OPS["avg_pool"](x=x, exclude_padding_from_average=np.array(True), **args)
    np.testing.assert_allclose(got, tf_pool(x, "AVG", k, stride, pad_type.upper()), rtol=1e-5, atol=1e-6)


def test_avg_pool_counts_padding_unless_excluded_and_custom_pads_are_taken():
    x = rand(2, 3, 7, 8)
    pads = [1, 2, 0, 1]
    explicit = np.pad(x, ((0, 0), (0, 0), (1, 2), (0, 1)))
    args = {"kernel_sizes": [3, 3], "strides": [2, 2], "pad_type": "custom", "pad": pads}
    got = OPS["avg_pool"](x=x, exclude_padding_from_average=False, **args)
    np.testing.assert_allclose(got, tf_pool(explicit, "AVG", (3, 3), (2, 2), "VALID"), rtol=1e-5, atol=1e-6)
    ones = np.pad(np.ones_like(x), ((0, 0), (0, 0), (1, 2), (0, 1)))
    excluded = tf_pool(explicit, "AVG", (3, 3), (2, 2), "VALID") / tf_pool(ones, "AVG", (3, 3), (2, 2), "VALID")
    got = OPS["avg_pool"](x=x, exclude_padding_from_average=True, **args)
    np.testing.assert_allclose(got, excluded, rtol=1e-5, atol=1e-6)
    # max_pool never picks the padding, even where every value is negative
    neg = -np.abs(x) - 1
    want = tf_pool(np.pad(neg, ((0, 0), (0, 0), (1, 2), (0, 1)), constant_values=-np.inf), "MAX", (3, 3), (2, 2), "VALID")
    np.testing.assert_array_equal(OPS["max_pool"](x=neg, **args), want)


def _loop_pool(x, k, s, pads, ceil, reduce_fn, exclude):
    """A plain-loop 2-D pool with PyTorch's ceil-mode rule (what MIL's ceil_mode documents)."""
    n, c, h, w = x.shape
    sizes = []
    for size, kk, ss, (b, e) in ((h, k[0], s[0], pads[0]), (w, k[1], s[1], pads[1])):
        out = (size + b + e - kk + (ss - 1 if ceil else 0)) // ss + 1
        if ceil and (out - 1) * ss >= size + b:
            out -= 1
        sizes.append(out)
    out = np.zeros((n, c, *sizes), np.float32)
    for i in range(sizes[0]):
        for j in range(sizes[1]):
            r0, c0 = i * s[0] - pads[0][0], j * s[1] - pads[1][0]
            r1, c1 = min(r0 + k[0], h + pads[0][1]), min(c0 + k[1], w + pads[1][1])
            window = x[:, :, max(r0, 0):min(r1, h), max(c0, 0):min(c1, w)]
            if reduce_fn == "max":
                out[:, :, i, j] = window.max(axis=(2, 3))
            else:
                count = window.shape[2] * window.shape[3] if exclude else (r1 - r0) * (c1 - c0)
                out[:, :, i, j] = window.sum(axis=(2, 3)) / count
    return out


@pytest.mark.parametrize("pads", [((0, 0), (0, 0)), ((1, 1), (1, 1))])
@pytest.mark.parametrize("exclude", [False, True])
def test_ceil_mode_pools_match_a_plain_loop(pads, exclude):
    x = rand(2, 3, 8, 9)
    args = {"kernel_sizes": [3, 2], "strides": [2, 2], "pad_type": "custom",
            "pad": [pads[0][0], pads[0][1], pads[1][0], pads[1][1]], "ceil_mode": True}
    got = OPS["max_pool"](x=x, **args)
    assert got.shape == _loop_pool(x, (3, 2), (2, 2), pads, True, "max", exclude).shape
    assert got.shape[2:] != OPS["max_pool"](x=x, **dict(args, ceil_mode=False)).shape[2:]  # ceil mode adds a window
    np.testing.assert_array_equal(got, _loop_pool(x, (3, 2), (2, 2), pads, True, "max", exclude))
    got = OPS["avg_pool"](x=x, exclude_padding_from_average=exclude, **args)
    np.testing.assert_allclose(got, _loop_pool(x, (3, 2), (2, 2), pads, True, "avg", exclude), rtol=1e-5, atol=1e-6)


def test_pool_geometry_is_refused_when_mil_refuses_it():
    with pytest.raises(ValueError, match="ceil_mode needs pad_type valid or custom"):
        OPS["max_pool"](x=rand(1, 1, 4, 4), kernel_sizes=[2, 2], pad_type="same", ceil_mode=True)
    with pytest.raises(ValueError, match="rank 3 to 5"):
        OPS["avg_pool"](x=rand(4, 4), kernel_sizes=[2], pad_type="valid")


def test_l2_pool_matches_tf():
    x = rand(2, 3, 7, 7)
    got = OPS["l2_pool"](x=x, kernel_sizes=[3, 3], strides=[2, 2], pad_type="valid")
    want = np.sqrt(tf_pool(x * x, "AVG", (3, 3), (2, 2), "VALID") * 9)
    np.testing.assert_allclose(got, want, rtol=1e-5)


# ------------------------------------------------------------------------ smooth activations


SMOOTH = {
    "silu": (tf.nn.silu, {}),
    "leaky_relu": (lambda x: tf.nn.leaky_relu(x, alpha=0.3), {"alpha": np.float32(0.3)}),
    "elu": (tf.nn.elu, {"alpha": np.float32(1.0)}),
    "softplus": (tf.math.softplus, {}),
    "sigmoid_hard": (lambda x: tf.clip_by_value(0.2 * x + 0.5, 0, 1), {"alpha": np.float32(0.2), "beta": np.float32(0.5)}),
    "square": (tf.math.square, {}),
    "abs": (tf.math.abs, {}),
    "erf": (tf.math.erf, {}),
}


@pytest.mark.parametrize("op", sorted(SMOOTH))
def test_smooth_activations_match_tf(op):
    x = np.concatenate([rand(2, 3, 4, 5, low=-6, high=6).reshape(-1), [-90, -20, -4, -1e-3, 0, 1e-3, 4, 20, 90]])
    x = x.astype(np.float32)
    fn, args = SMOOTH[op]
    np.testing.assert_allclose(OPS[op](x=x, **args), fn(x).numpy(), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["EXACT", "TANH_APPROXIMATION", "SIGMOID_APPROXIMATION"])
def test_gelu_modes_match_tf(mode):
    x = rand(3, 4, 5, low=-7, high=7)
    want = {"EXACT": lambda: tf.nn.gelu(x, approximate=False), "TANH_APPROXIMATION": lambda: tf.nn.gelu(x, approximate=True),
            "SIGMOID_APPROXIMATION": lambda: x * tf.math.sigmoid(1.702 * x)}[mode]().numpy()
    np.testing.assert_allclose(OPS["gelu"](x=x, mode=mode), want, rtol=2e-6, atol=1e-6)
    with pytest.raises(ValueError, match="unknown gelu mode"):
        OPS["gelu"](x=x, mode="FAST")


def test_prelu_takes_one_slope_per_channel():
    x, alpha = rand(2, 4, 3, 3), rand(4, low=0, high=0.5)
    layer = tf.keras.layers.PReLU(shared_axes=[1, 2]) if hasattr(tf, "keras") else None
    want = np.where(x >= 0, x, x * alpha.reshape(1, 4, 1, 1))
    if layer is not None:  # Keras's PReLU on NHWC, slopes per channel
        layer.build((None, 3, 3, 4))
        layer.set_weights([alpha.reshape(1, 1, 4)])
        want = nchw(layer(np.transpose(x, (0, 2, 3, 1))).numpy())
    np.testing.assert_allclose(OPS["prelu"](x=x, alpha=alpha), want, rtol=1e-6)
    with pytest.raises(ValueError, match="one per channel"):
        OPS["prelu"](x=x, alpha=rand(3))


# ------------------------------------------------------------------------------ normalization


@pytest.mark.parametrize("axes", [[-1], [1, 2, 3], [2, 3]])
def test_layer_norm_matches_keras_layer_normalization(axes):
    import keras

    x = rand(2, 3, 4, 5) * 3 + 1
    layer = keras.layers.LayerNormalization(axis=axes, epsilon=1e-3)
    layer.build(x.shape)
    shape = [x.shape[a] for a in sorted(a % 4 for a in axes)]
    gamma, beta = rand(*shape), rand(*shape)
    layer.set_weights([gamma, beta])
    got = OPS["layer_norm"](x=x, axes=np.array(axes), gamma=gamma, beta=beta, epsilon=np.float32(1e-3))
    np.testing.assert_allclose(got, layer(x).numpy(), rtol=1e-5, atol=2e-6)


def test_instance_and_l2_norm_match_tf():
    x = rand(2, 3, 5, 4) * 2 + 0.5
    gamma, beta = rand(3), rand(3)
    mean, var = tf.nn.moments(x, axes=[2, 3], keepdims=True)
    want = (x - mean) / np.sqrt(var + 1e-5) * gamma.reshape(1, 3, 1, 1) + beta.reshape(1, 3, 1, 1)
    np.testing.assert_allclose(OPS["instance_norm"](x=x, gamma=gamma, beta=beta), want, rtol=1e-5, atol=2e-6)
    got = OPS["l2_norm"](x=x, epsilon=np.float32(0))
    np.testing.assert_allclose(got, tf.math.l2_normalize(x, axis=[1, 2, 3]).numpy(), rtol=1e-6)


# -------------------------------------------------------------------------------- slicing


def test_slice_by_index_matches_tf_strided_slice():
    x = rand(2, 3, 6, 7)
    begin, end, stride = [0, 2, 1, -1], [2, 0, 6, 0], [1, -1, 2, -2]
    begin_mask, end_mask, squeeze = [True, False, False, False], [True, True, False, True], [False, False, False, False]
    got = OPS["slice_by_index"](x=x, begin=np.array(begin), end=np.array(end), stride=np.array(stride),
                                begin_mask=np.array(begin_mask), end_mask=np.array(end_mask),
                                squeeze_mask=np.array(squeeze))
    want = tf.strided_slice(x, begin, end, stride, begin_mask=0b0001, end_mask=0b1011).numpy()
    np.testing.assert_array_equal(got, want)
    got = OPS["slice_by_index"](x=x, begin=np.array([0, 1, 0, 0]), end=np.array([1, 2, 6, 7]),
                                squeeze_mask=np.array([False, True, False, False]))
    np.testing.assert_array_equal(got, x[:1, 1])


def test_slice_by_size_and_stack_match_tf():
    x = rand(2, 3, 6, 7)
    got = OPS["slice_by_size"](x=x, begin=np.array([0, 1, 2, 0]), size=np.array([-1, 2, 3, -1]))
    np.testing.assert_array_equal(got, tf.slice(x, [0, 1, 2, 0], [-1, 2, 3, -1]).numpy())
    a, b = rand(2, 3), rand(2, 3)
    np.testing.assert_array_equal(OPS["stack"](values=[a, b], axis=-1), tf.stack([a, b], axis=-1).numpy())


def test_batch_rules_of_the_new_ops():
    from flowers_mobile.coreml_exec.registry import BatchQuery, Ref

    def query(op, **args):
        return lookup(op, "iOS18").batch(BatchQuery(args, {"x": 4, "a": 4}, frozenset({"x", "a"})))

    x = Ref("x")
    assert query("max_pool", x=x, kernel_sizes=[2, 2], pad_type="valid")
    assert query("layer_norm", x=x, axes=np.array([1, 2, 3]))
    assert not query("layer_norm", x=x, axes=np.array([0, 1]))
    assert not query("layer_norm", x=x)  # all axes, the images' too
    whole = {"begin": np.array([0, 0, 0, 0]), "end": np.array([1, 3, 4, 4])}
    assert query("slice_by_index", x=x, **whole)
    assert not query("slice_by_index", x=x, **whole, squeeze_mask=np.array([True, False, False, False]))
    batched = lookup("slice_by_index", "iOS18").batch_args(dict(whole, x=rand(5, 3, 4, 4)), 5)
    assert OPS["slice_by_index"](**batched).shape == (5, 3, 4, 4)  # [0:1] on axis 0 became every image
    assert query("stack", values=[x, Ref("a")], axis=1) and not query("stack", values=[x, Ref("a")], axis=0)


# ------------------------------------------------------------------ the TensorFlow fast path's forms


@pytest.mark.parametrize("c,o,k,groups,stride,dilation,pad_type,pad", [
    (8, 16, 1, 1, 1, 1, "valid", None),  # pointwise
    (6, 4, 3, 1, 2, 1, "same", None),
    (5, 5, 3, 5, 2, 1, "custom", (0, 1, 2, 0)),  # depthwise, MIL's custom pads
    (4, 8, 3, 4, 1, 2, "same", None),  # depthwise, channel multiplier 2, dilation 2
    (5, 5, 2, 5, 1, 1, "same_lower", None),  # the odd pixel of padding first
    (6, 9, 3, 3, 1, 1, "same", None),  # grouped: 3 groups of 2 in, 3 out
])
def test_tensorflow_conv_form_matches_the_numpy_conv(c, o, k, groups, stride, dilation, pad_type, pad):
    from flowers_mobile.coreml_exec.tf_ops import Val, conv, nchw

    x, wt, bias = rand(2, c, 11, 10), rand(o, c // groups, k, k), rand(o)
    args = {"weight": wt, "bias": bias, "strides": [stride, stride], "pad_type": pad_type, "pad": pad,
            "dilations": [dilation, dilation], "groups": groups}
    got = conv(Val(tf.constant(x)), **args)
    assert got.nhwc  # stays NHWC for the next convolution
    np.testing.assert_allclose(nchw(got).numpy(), OPS["conv"](x=x, **args), atol=1e-4)


def test_tensorflow_forms_keep_mil_layout_through_nhwc_tensors():
    from flowers_mobile.coreml_exec.tf_ops import TF_FORMS, Val, nchw

    x, y = rand(2, 4, 5, 6), rand(2, 4, 5, 6)
    held = Val(tf.transpose(x, (0, 2, 3, 1)), True)  # x, held NHWC
    bias = rand(4, 1, 1)
    np.testing.assert_allclose(nchw(TF_FORMS["add"][0](held, bias)).numpy(), OPS["add"](x=x, y=bias), rtol=1e-6)
    np.testing.assert_allclose(nchw(TF_FORMS["mul"][0](held, Val(tf.constant(y)))).numpy(), x * y, rtol=1e-6)
    pad = TF_FORMS["pad"][0](held, pad=np.array([0, 0, 1, 2, 0, 3]), constant_val=0.5)
    np.testing.assert_array_equal(nchw(pad).numpy(), OPS["pad"](x=x, pad=np.array([0, 0, 1, 2, 0, 3]), constant_val=0.5))
    mean = TF_FORMS["reduce_mean"][0](held, axes=[2, 3], keep_dims=False)
    # A float32 mean of 30 values in [-2, 2]: the summation order differs from numpy's, so the
    # error is absolute (a few ulps of the sum), not relative to a mean that may sit near zero.
    np.testing.assert_allclose(nchw(mean).numpy(), x.mean(axis=(2, 3)), rtol=1e-5, atol=1e-6)
    clip = TF_FORMS["clip"][0](held, alpha=np.float32(-1), beta=np.float32(0.5))
    np.testing.assert_array_equal(nchw(clip).numpy(), OPS["clip"](x=x, alpha=-1, beta=0.5))


def test_tensorflow_float16_rounding_is_the_numpy_rounding():
    from flowers_mobile.coreml_exec.fp16 import round_to_float16
    from flowers_mobile.coreml_exec.tf_ops import round_float16

    edges = np.array([0.0, -0.0, 1e-8, 3e-8, -3e-8, 6e-8, 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11,
                      65504, 65519, 65520, 1e5, -1e5, np.inf, -np.inf], np.float32)
    x = np.concatenate([edges, rand(10000, low=-70000, high=70000), rand(10000, low=-1e-4, high=1e-4)])
    got = round_float16(tf.constant(x)).numpy()
    np.testing.assert_array_equal(got.view(np.uint32), round_to_float16(x).view(np.uint32))


@pytest.mark.parametrize("op,args", [
    ("max_pool", {"kernel_sizes": [3, 3], "strides": [2, 2], "pad_type": "same"}),
    ("max_pool", {"kernel_sizes": [3, 2], "strides": [2, 2], "pad_type": "custom", "pad": [1, 1, 1, 1], "ceil_mode": True}),
    ("avg_pool", {"kernel_sizes": [2, 2], "strides": [2, 2], "pad_type": "valid"}),
    ("avg_pool", {"kernel_sizes": [3, 3], "strides": [1, 1], "pad_type": "same", "exclude_padding_from_average": True}),
    ("avg_pool", {"kernel_sizes": [3, 3], "strides": [2, 2], "pad_type": "custom", "pad": [1, 1, 0, 0], "ceil_mode": True}),
    ("silu", {}), ("gelu", {"mode": "EXACT"}), ("gelu", {"mode": "TANH_APPROXIMATION"}), ("sigmoid", {}),
    ("square", {}), ("erf", {}), ("rsqrt", {"epsilon": np.float32(1e-3)}),
    ("layer_norm", {"axes": np.array([1]), "gamma": np.linspace(0.5, 1.5, 4, dtype=np.float32), "epsilon": np.float32(1e-5)}),
])
def test_tensorflow_forms_of_the_new_ops_match_numpy_on_nhwc_tensors(op, args):
    from flowers_mobile.coreml_exec.tf_ops import TF_FORMS, Val, nchw

    x = rand(2, 4, 9, 8, low=0.1 if op == "rsqrt" else -3, high=3)
    got = TF_FORMS[op][0](Val(tf.transpose(x, (0, 2, 3, 1)), True), **args)  # x, held NHWC
    np.testing.assert_allclose(nchw(got).numpy(), OPS[op](x=x, **args), rtol=2e-5, atol=2e-6)


def test_tensorflow_matmul_by_a_constant_matches_numpy():
    from flowers_mobile.coreml_exec.tf_ops import TF_FORMS, Val

    x, y = rand(2, 3, 5, 6), rand(6, 4)
    np.testing.assert_allclose(TF_FORMS["matmul"][0](Val(tf.constant(x)), y).t.numpy(), OPS["matmul"](x=x, y=y),
                               rtol=1e-5, atol=1e-6)
    y_t = rand(4, 6)
    got = TF_FORMS["matmul"][0](Val(tf.constant(x)), y_t, transpose_y=True).t.numpy()
    np.testing.assert_allclose(got, OPS["matmul"](x=x, y=y_t, transpose_y=True), rtol=1e-5, atol=1e-6)


def test_tensorflow_batch_norm_and_concat_keep_nhwc_tensors_right():
    from flowers_mobile.coreml_exec.tf_ops import TF_FORMS, Val, nchw

    x, y = rand(2, 4, 5, 6), rand(2, 3, 5, 6)
    held_x, held_y = (Val(tf.transpose(t, (0, 2, 3, 1)), True) for t in (x, y))
    bn = {"mean": rand(4), "variance": rand(4, low=0.1, high=2), "gamma": rand(4), "beta": rand(4),
          "epsilon": np.float32(1e-3)}
    for v in (held_x, Val(tf.constant(x))):
        np.testing.assert_allclose(nchw(TF_FORMS["batch_norm"][0](v, **bn)).numpy(), OPS["batch_norm"](x=x, **bn),
                                   rtol=1e-5, atol=1e-6)
    got = TF_FORMS["concat"][0]([held_x, held_y], axis=np.int32(1))
    assert got.nhwc  # DenseNet's concatenations stay in the convolutions' layout
    np.testing.assert_array_equal(nchw(got).numpy(), np.concatenate([x, y], axis=1))
    mixed = TF_FORMS["concat"][0]([held_x, Val(tf.constant(x))], axis=np.int32(-1))
    np.testing.assert_array_equal(nchw(mixed).numpy(), np.concatenate([x, x], axis=-1))
