"""int8 with float fallback on a small real conversion: the debugger's per-layer errors rank the
layers, the worst go to float one by one, and the size budget is a hard limit."""

from __future__ import annotations

import numpy as np
import pytest

from flowers_mobile.config import VariantLimits
from tests.convert_fixtures import TINY_SIZE, draw_shapes, tiny_classifier

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def frozen_and_images(tmp_path_factory):
    from flowers_mobile.export.tflite import frozen_function
    from flowers_mobile.images import load_image

    root = draw_shapes(tmp_path_factory.mktemp("fallback") / "data", per_class=4)
    images = np.stack([load_image(p, (TINY_SIZE, TINY_SIZE)) for p in sorted(root.rglob("*.png"))])
    return frozen_function(tiny_classifier(), (TINY_SIZE, TINY_SIZE)), images


def _op_types(flatbuffer: bytes) -> list[tuple[str, str]]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    return [(op["op_name"], np.dtype(tensors[op["outputs"][0]]["dtype"]).name) for op in interpreter._get_ops_details()]


def test_worst_layers_go_to_float_until_the_bar_is_met(frozen_and_images):
    from flowers_mobile.export.int8_fallback import convert_with_fallback, predict

    function, images = frozen_and_images
    # An agreement above 100% cannot be met: every try is taken, in order of measured error.
    result = convert_with_fallback(function, images, VariantLimits(near_tie_margin=0.0, min_agreement=1.01), budget=10.0, max_tries=2)
    errors = [r["rmse_over_scale"] for r in result.sensitivity]
    assert errors == sorted(errors, reverse=True) and len(errors) >= 3
    tried = [s for s in result.steps if "layer" in s]
    assert [s["layer"] for s in tried] == [r["tensor"].split(";")[0] for r in result.sensitivity[:2]]
    assert result.float_layers and set(result.float_layers) <= {s["layer"] for s in tried}
    ops = _op_types(result.flatbuffer)
    assert ("CONV_2D", "float32") in ops or ("FULLY_CONNECTED", "float32") in ops  # a float layer ...
    assert any(dtype == "int8" for _, dtype in ops)  # ... inside an int8 model
    probs = predict(result.flatbuffer, images)
    assert probs.shape == (len(images), 3) and np.allclose(probs.sum(axis=1), 1, atol=0.02)


def test_the_size_budget_is_never_exceeded(frozen_and_images):
    from flowers_mobile.export.int8_fallback import convert_with_fallback

    function, images = frozen_and_images
    result = convert_with_fallback(function, images, VariantLimits(near_tie_margin=0.0, min_agreement=1.01), budget=1.0, max_tries=3)
    assert len(result.flatbuffer) <= result.plain_bytes
    over = [s for s in result.steps if s.get("skipped")]
    assert over and all(s["bytes"] > result.plain_bytes for s in over)
