"""The Core ML executor on small hand-built ML Programs: a whole program against a numpy/TF
reference, and every kind of bad package it must refuse with one clear line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from flowers_mobile.coreml_exec import CoreMLExecutor
from flowers_mobile.errors import UserError
from flowers_mobile.export.coreml import kmeans_lut
from flowers_mobile.formats.mlpackage import read_root_model_file, replace_wire_field, wire_field

RNG = np.random.default_rng(3)
LABELS = ["daisy", "rose", "tulip", "iris"]
CHANNELS = 4
SIZE = 8
WEIGHT = RNG.normal(0, 0.02, (CHANNELS, 3, 3, 3)).astype(np.float32)
BN = {"mean": RNG.normal(0, 0.5, CHANNELS), "variance": RNG.uniform(0.5, 2, CHANNELS),
      "gamma": RNG.uniform(0.5, 1.5, CHANNELS), "beta": RNG.normal(0, 0.5, CHANNELS)}


def build_package(path: Path, *, classifier: bool = True) -> Path:
    """conv(same) -> batch_norm -> relu -> transpose(batch <-> channel) -> mean -> reshape -> softmax,
    with a BGR image input; no optimization passes, so the program keeps exactly these ops."""
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 3, SIZE, SIZE))], opset_version=ct.target.iOS16)
    def program(image):
        y = mb.conv(x=image, weight=WEIGHT, pad_type="same")
        y = mb.batch_norm(x=y, **{k: v.astype(np.float32) for k, v in BN.items()}, epsilon=1e-3)
        y = mb.relu(x=y)
        y = mb.transpose(x=y, perm=[1, 0, 2, 3])  # mixes the batch axis in: not batch-safe
        y = mb.reduce_mean(x=y, axes=[2, 3])
        y = mb.reshape(x=y, shape=[1, CHANNELS])
        return mb.softmax(x=y, axis=-1)

    mlmodel = ct.convert(program, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS16,
                         inputs=[ct.ImageType(name="image", shape=(1, 3, SIZE, SIZE), color_layout=ct.colorlayout.BGR)],
                         classifier_config=ct.ClassifierConfig(LABELS) if classifier else None,
                         compute_precision=ct.precision.FLOAT32, pass_pipeline=ct.PassPipeline.EMPTY)
    mlmodel.save(str(path))
    return path


def reference(pixels: np.ndarray) -> np.ndarray:
    bgr = pixels[..., ::-1].astype(np.float32)
    y = tf.nn.conv2d(bgr, np.transpose(WEIGHT, (2, 3, 1, 0)), strides=1, padding="SAME").numpy()
    y = (y - BN["mean"]) / np.sqrt(BN["variance"] + 1e-3) * BN["gamma"] + BN["beta"]
    return tf.nn.softmax(np.maximum(y, 0).mean(axis=(1, 2))).numpy()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_package(tmp_path_factory.mktemp("tiny") / "Tiny.mlpackage")


@pytest.fixture
def tiny_copy(tiny, tmp_path) -> Path:
    return shutil.copytree(tiny, tmp_path / "Copy.mlpackage")


def _spec(package: Path):
    from coremltools.proto import Model_pb2

    spec = Model_pb2.Model()
    spec.ParseFromString(read_root_model_file(package).read_bytes())
    return spec


def _write_spec(package: Path, spec) -> None:
    read_root_model_file(package).write_bytes(spec.SerializeToString())


def _ops(spec):
    main = spec.mlProgram.functions["main"]
    return main.block_specializations[main.opset].operations


# ------------------------------------------------------------------------------- a whole program


def test_program_runs_like_the_reference_one_image_at_a_time(tiny):
    executor = CoreMLExecutor(tiny)
    assert executor.labels == LABELS
    assert executor.image_input.color_space == "BGR"
    assert not executor.batchable  # the transpose puts the batch axis elsewhere
    assert dict(executor.op_counts)["batch_norm"] == 1
    pixels = RNG.integers(0, 256, (5, SIZE, SIZE, 3)).astype(np.uint8)
    result = executor.predict(pixels)
    np.testing.assert_allclose(result.array, reference(pixels), atol=1e-6)
    assert result.labels == [LABELS[i] for i in result.array.argmax(1)]
    assert result.probabilities[2] == pytest.approx(dict(zip(LABELS, result.array[2].tolist(), strict=True)))


def test_pixels_of_the_wrong_shape_are_refused(tiny):
    with pytest.raises(UserError, match=r"expected pixels of shape \(N, 8, 8, 3\)"):
        CoreMLExecutor(tiny).predict(np.zeros((2, 9, 8, 3), np.uint8))


def test_a_program_without_classifier_is_no_classifier(tmp_path):
    from flowers_mobile.runtimes.coreml_executor import CoreMLExecutorPredictor

    package = build_package(tmp_path / "Plain.mlpackage", classifier=False)
    executor = CoreMLExecutor(package)
    assert executor.labels is None
    outputs = executor.run(np.zeros((1, 3, SIZE, SIZE), np.float32))
    np.testing.assert_allclose(outputs[executor.outputs[0]].sum(), 1, atol=1e-6)
    with pytest.raises(UserError, match="not a classifier"):
        CoreMLExecutorPredictor(package)


# ------------------------------------------------------------------------------- bad packages


def test_an_unknown_op_names_the_op_and_the_model(tiny_copy):
    spec = _spec(tiny_copy)
    next(op for op in _ops(spec) if op.type == "relu").type = "resize_bilinear"
    _write_spec(tiny_copy, spec)
    with pytest.raises(UserError, match=rf"{tiny_copy}: op 'resize_bilinear' .* is not supported by the Core ML executor"):
        CoreMLExecutor(tiny_copy)


def test_a_neural_network_model_is_not_an_ml_program(tiny_copy):
    from coremltools.proto import Model_pb2

    spec = Model_pb2.Model(specificationVersion=4)
    spec.description.CopyFrom(_spec(tiny_copy).description)
    spec.neuralNetworkClassifier.stringClassLabels.vector.extend(LABELS)
    _write_spec(tiny_copy, spec)
    with pytest.raises(UserError, match="neuralNetworkClassifier model, not an ML Program"):
        CoreMLExecutor(tiny_copy)


def test_a_missing_weight_file_is_named(tiny_copy):
    weights = read_root_model_file(tiny_copy).parent / "weights" / "weight.bin"
    weights.unlink()
    with pytest.raises(UserError, match=r"weight file .*weight\.bin is missing"):
        CoreMLExecutor(tiny_copy)


def test_a_truncated_weight_file_is_refused(tiny_copy):
    weights = read_root_model_file(tiny_copy).parent / "weights" / "weight.bin"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(UserError, match="truncated|corrupt"):
        CoreMLExecutor(tiny_copy)


def test_an_overwritten_weight_record_is_refused(tiny_copy):
    weights = read_root_model_file(tiny_copy).parent / "weights" / "weight.bin"
    data = bytearray(weights.read_bytes())
    data[64:68] = b"\0\0\0\0"  # the first record's sentinel
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError, match="no valid weight record at offset 64"):
        CoreMLExecutor(tiny_copy)


@pytest.mark.parametrize("damage,message", [
    (lambda p: (p / "Manifest.json").write_text("{not json"), "Manifest.json is corrupt"),
    (lambda p: (p / "Manifest.json").unlink(), "no Manifest.json"),
    (lambda p: read_root_model_file(p).write_bytes(b"\xff\xfe garbage \x00" * 10), "not a valid Core ML spec"),
    (lambda p: read_root_model_file(p).unlink(), "root model .* is missing"),
    (lambda p: (p / "Manifest.json").write_text(json.dumps({"rootModelIdentifier": "x", "itemInfoEntries": {}})),
     "Manifest.json is corrupt"),
])
def test_a_corrupt_package_is_one_clear_error(tiny_copy, damage, message):
    damage(tiny_copy)
    with pytest.raises(UserError, match=message):
        CoreMLExecutor(tiny_copy)


def test_paths_that_are_no_package(tmp_path):
    with pytest.raises(UserError, match="not found"):
        CoreMLExecutor(tmp_path / "Nope.mlpackage")
    (tmp_path / "file.mlpackage").write_text("x")
    with pytest.raises(UserError, match="is a file, not an .mlpackage folder"):
        CoreMLExecutor(tmp_path / "file.mlpackage")


# ------------------------------------------------------------------------------- export helpers


def test_export_refuses_bad_arguments_before_converting(tmp_path):
    import keras

    from flowers_mobile.config import ExportConfig
    from flowers_mobile.export.coreml import export_coreml

    inputs = keras.Input((SIZE, SIZE, 3), name="image")
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(inputs)))
    shas = {"source_model_sha256": "0" * 64, "labels_sha256": "1" * 64}
    with pytest.raises(UserError, match="3 outputs but 2 labels"):
        export_coreml(model, ["a", "b"], tmp_path, ExportConfig(), **shas)
    with pytest.raises(UserError, match="unknown Core ML precision 'int8'"):
        export_coreml(model, ["a", "b", "c"], tmp_path, ExportConfig(), precision="int8", **shas)
    with pytest.raises(UserError, match="unknown Core ML compression 'palette3'"):
        export_coreml(model, ["a", "b", "c"], tmp_path, ExportConfig(), compression=["palette3"], **shas)
    with pytest.raises(UserError, match="needs a minimum deployment target of iOS16 or later"):
        export_coreml(model, ["a", "b", "c"], tmp_path, ExportConfig(coreml_minimum_target="iOS15"),
                      compression=["linear8"], **shas)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("nbits", [4, 6])
def test_kmeans_palette_is_a_converged_nearest_centroid_code(nbits):
    weights = np.concatenate([RNG.normal(0, 0.05, 5000), RNG.normal(0.3, 0.01, 300)]).astype(np.float32)
    lut, indices = kmeans_lut(nbits)(weights.reshape(50, 106))
    assert lut.shape == (1 << nbits,) and lut.dtype == np.float32 and indices.dtype == np.uint8
    nearest = np.abs(weights[:, None] - lut[None, :]).argmin(1)
    np.testing.assert_array_equal(lut[indices], lut[nearest])  # every weight takes its nearest entry
    for k in np.unique(indices):  # Lloyd's fixed point: each entry is its members' mean
        assert lut[k] == pytest.approx(weights[indices == k].mean(), abs=1e-6)
    uniform = np.linspace(weights.min(), weights.max(), 1 << nbits)
    uniform_error = np.mean((weights - uniform[np.abs(weights[:, None] - uniform).argmin(1)]) ** 2)
    assert np.mean((weights - lut[indices]) ** 2) < uniform_error


def test_kmeans_palette_keeps_few_distinct_values_exact():
    weights = np.repeat(np.float16([-0.5, 0.0, 0.25, 1.0]), 100)
    lut, indices = kmeans_lut(4)(weights)
    assert lut.dtype == np.float16
    np.testing.assert_array_equal(lut[indices], weights)


def test_replace_wire_field_changes_one_field_and_keeps_the_rest(tiny):
    from coremltools.proto import Model_pb2

    data = read_root_model_file(tiny).read_bytes()
    spec = Model_pb2.Model()
    spec.ParseFromString(data)
    number = Model_pb2.Model.DESCRIPTION_FIELD_NUMBER
    field_bytes = wire_field(data, number)
    assert field_bytes in data  # the field's own bytes, as written on disk
    # Compared as messages: protobuf 6 serialises map entries (metadata.userDefined) in no fixed
    # order, so the file's bytes and a fresh SerializeToString() may list them differently.
    description = Model_pb2.ModelDescription()
    description.ParseFromString(field_bytes)
    assert description == spec.description
    spec.description.metadata.author = "someone"
    spec.description.metadata.userDefined["k"] = "v" * 300  # a longer length prefix
    patched = Model_pb2.Model()
    patched.ParseFromString(replace_wire_field(data, number, spec.description.SerializeToString()))
    assert patched == spec


# ------------------------------------------------------------------------------- the TensorFlow path


def build_float16_package(path: Path) -> Path:
    """A MobileNet-like block in float16: depthwise conv (stride 2, custom pads) -> relu6 -> pointwise
    conv -> relu -> pointwise conv + residual add -> mean, so the fast path fuses and rounds."""
    import coremltools as ct
    from coremltools.converters.mil import Builder as mb

    rng = np.random.default_rng(5)
    dw, pw = rng.normal(0, 0.5, (8, 1, 3, 3)).astype(np.float32), rng.normal(0, 0.4, (8, 8, 1, 1)).astype(np.float32)
    pw2, bias = rng.normal(0, 0.4, (8, 8, 1, 1)).astype(np.float32), rng.normal(0, 0.2, 8).astype(np.float32)

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 8, 9, 9))], opset_version=ct.target.iOS16)
    def program(x):
        y = mb.relu6(x=mb.conv(x=x, weight=dw, bias=bias, strides=[2, 2], pad_type="custom", pad=[1, 0, 0, 1],
                               groups=8))
        y = mb.relu(x=mb.conv(x=y, weight=pw, pad_type="valid"))
        y = mb.add(x=mb.conv(x=y, weight=pw2, bias=bias, pad_type="valid"), y=y)
        return mb.reduce_mean(x=y, axes=[2, 3], keep_dims=False)

    mlmodel = ct.convert(program, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS16,
                         compute_precision=ct.precision.FLOAT16)
    mlmodel.save(str(path))
    return path


def test_tensorflow_path_runs_like_the_reference(tiny):
    fast, numpy_ = CoreMLExecutor(tiny, backend="tensorflow"), CoreMLExecutor(tiny, backend="numpy")
    assert fast.describe()["backend"] == "tensorflow" and numpy_.segments is None
    assert CoreMLExecutor(tiny).backend == "tensorflow"  # TensorFlow is installed here: the default
    assert any(s.fn is not None for s in fast.segments)
    pixels = RNG.integers(0, 256, (3, SIZE, SIZE, 3)).astype(np.uint8)
    np.testing.assert_allclose(fast.predict(pixels).array, reference(pixels), atol=1e-6)
    np.testing.assert_allclose(fast.predict(pixels).array, numpy_.predict(pixels).array, atol=1e-6)


def test_tensorflow_path_rounds_float16_like_the_numpy_path(tmp_path):
    package = build_float16_package(tmp_path / "Half.mlpackage")
    x = RNG.normal(0, 2, (6, 8, 9, 9)).astype(np.float32)
    runs = {(backend, rounding): next(iter(CoreMLExecutor(package, backend=backend, fp16_rounding=rounding).run(x).values()))
            for backend in ("tensorflow", "numpy") for rounding in (True, False)}
    fast, ref = runs["tensorflow", True], runs["numpy", True]
    assert fast.shape == (6, 8)
    np.testing.assert_array_equal(fast, fast.astype(np.float16).astype(np.float32))
    # Same float16 grid after every op; the kernels' addition order may move a value by one step.
    np.testing.assert_allclose(fast, ref, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(runs["tensorflow", False], runs["numpy", False], rtol=1e-5, atol=1e-5)
    # Rounded after each op, not only at the end: far nearer the numpy path than rounding's own effect.
    effect = np.abs(ref - runs["numpy", False]).mean()
    assert effect > 1e-4 and np.abs(fast - ref).mean() < effect / 10


def test_an_unknown_backend_is_refused(tiny):
    with pytest.raises(UserError, match="unknown executor backend 'cuda'"):
        CoreMLExecutor(tiny, backend="cuda")


def test_without_tensorflow_the_numpy_path_runs(tiny):
    """TensorFlow is optional: where it does not import, "auto" is the numpy path, and it is right."""
    import subprocess
    import sys

    pixels = RNG.integers(0, 256, (2, SIZE, SIZE, 3)).astype(np.uint8)
    np.save(tiny.parent / "pixels.npy", pixels)
    code = ("import sys; sys.modules['tensorflow'] = None\n"
            "import numpy as np\nfrom flowers_mobile.coreml_exec import CoreMLExecutor\n"
            f"e = CoreMLExecutor({str(tiny)!r})\nassert 'tensorflow' not in sys.modules or sys.modules['tensorflow'] is None\n"
            f"np.save({str(tiny.parent / 'out.npy')!r}, e.predict(np.load({str(tiny.parent / 'pixels.npy')!r})).array)\n"
            "print(e.backend)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "numpy"
    np.testing.assert_allclose(np.load(tiny.parent / "out.npy"), reference(pixels), atol=1e-6)


# ------------------------------------------------ Keras models through the project's exporter


def _pooling_model():
    """Rescaling -> conv -> max pool (same) -> swish -> conv -> average pool (valid) -> layer norm
    (written as reduce_mean, sub, square, rsqrt by the converter)
    -> conv -> average pool (same: padding left out of the mean) -> GAP -> softmax."""
    import keras

    inputs = keras.Input((29, 29, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = keras.layers.Activation("swish")(x)
    x = keras.layers.Conv2D(8, 3)(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.LayerNormalization(epsilon=1e-3)(x)
    x = keras.layers.Conv2D(6, 1)(x)
    x = keras.layers.AveragePooling2D(3, strides=2, padding="same")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x))


def _resnet_stem_model():
    """A caffe-style channel flip, ResNet's zero pad + valid max pool, a 1x1 stride-2 pool, ELU,
    LeakyReLU, PReLU, hard sigmoid gating, GAP, softmax."""
    import keras

    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Lambda(lambda t: t[..., ::-1] - 120.0)(inputs)
    x = keras.layers.Conv2D(8, 5, strides=2)(x)
    x = keras.layers.ZeroPadding2D(1)(x)
    x = keras.layers.MaxPooling2D(3, strides=2)(x)
    x = keras.layers.ELU()(x)
    x = keras.layers.MaxPooling2D(1, strides=2)(x)
    x = keras.layers.Conv2D(8, 1)(x)
    x = keras.layers.LeakyReLU(negative_slope=0.2)(x)
    x = keras.layers.PReLU(shared_axes=[1, 2], alpha_initializer=keras.initializers.Constant(0.3))(x)
    x = keras.layers.Multiply()([x, keras.layers.Activation("hard_sigmoid")(x)])
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x))


@pytest.mark.parametrize("build,ops", [
    # coremltools 9.0 writes Keras 3's LayerNormalization and PReLU as their arithmetic
    # (reduce_mean, sub, square, rsqrt, mul / relu, mul, add), not as layer_norm / prelu.
    (_pooling_model, {"max_pool", "avg_pool", "silu", "square"}),
    (_resnet_stem_model, {"slice_by_index", "max_pool", "elu", "leaky_relu"}),
])
def test_keras_models_with_the_new_ops_run_like_keras(tmp_path, build, ops):
    import keras

    from flowers_mobile.config import ExportConfig
    from flowers_mobile.export.coreml import export_coreml

    keras.utils.set_random_seed(4)
    model = build()
    artifacts = export_coreml(model, LABELS, tmp_path, ExportConfig(coreml_precision="float32"),
                              source_model_sha256="-", labels_sha256="-", precision="float16")
    size = model.input_shape[1]
    pixels = np.random.default_rng(6).integers(0, 256, (6, size, size, 3)).astype(np.uint8)
    want = model(pixels.astype(np.float32), training=False).numpy()
    for artifact in artifacts:
        # float16 compute on these small random models moves a probability by a few 1e-3 at most: 0.03
        # is the bound the float16 package was held to before limits came from the model.
        limit = 1e-4 if artifact.precision == "float32" else 0.03
        for backend in ("tensorflow", "numpy"):
            executor = CoreMLExecutor(tmp_path / artifact.file, backend=backend)
            assert ops <= set(executor.op_counts), sorted(executor.op_counts)
            got = executor.predict(pixels).array
            assert np.abs(got - want).max() <= limit, (artifact.precision, backend, np.abs(got - want).max())
