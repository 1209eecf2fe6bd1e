"""formats.tflite reads a .tflite's tensors from the flatbuffer alone; LiteRT's interpreter, which
really loads the model, must report the same shape, dtype and quantization."""

from __future__ import annotations

import numpy as np
import pytest

from flowers_mobile.errors import UserError
from flowers_mobile.formats.tflite import embedded_labels, tensor_info, tflite_input_size
from tests.convert_fixtures import TINY_SIZE, tiny_classifier


@pytest.fixture(scope="module")
def flatbuffers():
    from flowers_mobile.export.tflite import convert_tflite, frozen_function

    function = frozen_function(tiny_classifier(), (TINY_SIZE, TINY_SIZE))
    calibration = np.random.default_rng(0).integers(0, 256, (8, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)
    return {p: convert_tflite(function, p, calibration if p == "int8" else None) for p in ("float32", "int8")}


@pytest.mark.parametrize("precision", ["float32", "int8"])
def test_tensor_facts_match_what_litert_reports(flatbuffers, precision):
    from flowers_mobile.export.tflite import tensor_facts

    data = flatbuffers[precision]
    facts = _litert_facts(data)
    assert tensor_facts(data) == facts  # what convert writes to the manifest
    for output, prefix in ((False, "input"), (True, "output")):
        info = tensor_info(data, "m.tflite", output=output)
        assert [list(info.shape), info.dtype, info.quantization] == \
            [facts[f"{prefix}_shape"], facts[f"{prefix}_dtype"], facts[f"{prefix}_quantization"]]
    assert (facts["input_dtype"] == "uint8") == (precision == "int8")  # both kinds of input are covered
    assert tflite_input_size(data, "m.tflite") == (TINY_SIZE, TINY_SIZE)
    assert embedded_labels(data) is None  # no metadata written


def _litert_facts(flatbuffer: bytes) -> dict:
    """The facts as LiteRT's interpreter, which really loads the model, reports them."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    facts = {}
    for prefix, detail in (("input", interpreter.get_input_details()[0]),
                           ("output", interpreter.get_output_details()[0])):
        scale, zero_point = detail["quantization"]
        quantized = np.dtype(detail["dtype"]).kind != "f" and scale != 0
        facts.update({f"{prefix}_shape": [int(d) for d in detail["shape"]],
                      f"{prefix}_dtype": np.dtype(detail["dtype"]).name,
                      f"{prefix}_quantization": {"scale": float(scale), "zero_point": int(zero_point)}
                      if quantized else None})
    return facts


def test_bytes_that_are_no_model_are_a_user_error():
    with pytest.raises(UserError, match="bad.tflite: not a TFLite model"):
        tflite_input_size(b"\x00" * 64, "bad.tflite")
