"""The executor's op registry: every op declares its batch rule, opset forms are registered
apart, and what an op declares is what the executor does with it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from flowers_mobile.coreml_exec import CoreMLExecutor
from flowers_mobile.coreml_exec.ops import constexpr
from flowers_mobile.coreml_exec.registry import (
    REGISTRY,
    ROW_WISE,
    lookup,
    register_op,
    undeclared_batch_rules,
)
from flowers_mobile.errors import UserError
from tests.test_coreml_executor import SIZE, _ops, _spec, _write_spec, build_package


def test_every_registered_op_declares_its_batch_rule():
    assert len(REGISTRY) >= 30
    assert undeclared_batch_rules() == []


def test_a_planted_op_without_a_batch_rule_is_reported():
    planted: dict = {}
    register_op("relu", batch=ROW_WISE, registry=planted)(lambda x: x)
    register_op("swish", opset="iOS17", registry=planted)(lambda x: x)
    assert undeclared_batch_rules(planted) == ["swish (iOS17)"]


def test_opset_forms_are_registered_apart():
    assert lookup("constexpr_lut_to_dense", "CoreML6").fn is constexpr.lut_to_dense_ios16
    assert lookup("constexpr_lut_to_dense", "CoreML7").fn is constexpr.lut_to_dense_ios16
    assert lookup("constexpr_lut_to_dense", "CoreML8").fn is constexpr.lut_to_dense_ios18
    assert lookup("constexpr_lut_to_dense", "CoreML5") is None  # iOS15 has no compressed weights
    assert lookup("constexpr_blockwise_shift_scale", "iOS16") is None
    assert lookup("relu", "CoreML8").opset == "iOS15"
    with pytest.raises(ValueError, match="registered twice"):
        register_op("constexpr_lut_to_dense", opset="iOS18", batch=ROW_WISE)(lambda indices, lut: lut)
    with pytest.raises(ValueError, match="unknown opset"):
        register_op("relu", opset="iOS14", batch=ROW_WISE)


@pytest.fixture(scope="module")
def batchable(tmp_path_factory):
    """A batch-safe program: the test package without its transpose across the batch axis."""
    package = build_package(tmp_path_factory.mktemp("batchable") / "Batchable.mlpackage")
    spec = _spec(package)
    ops = _ops(spec)
    transpose = next(op for op in ops if op.type == "transpose")
    source = transpose.inputs["x"].arguments[0].name
    for op in ops:  # readers of the transpose read its input instead; the transpose goes
        for argument in op.inputs.values():
            for binding in argument.arguments:
                if binding.WhichOneof("binding") == "name" and binding.name == transpose.outputs[0].name:
                    binding.name = source
    ops.remove(transpose)
    _write_spec(package, spec)
    return package


def test_an_op_without_a_batch_rule_runs_one_image_at_a_time(batchable, monkeypatch):
    pixels = np.random.default_rng(5).integers(0, 256, (4, SIZE, SIZE, 3)).astype(np.uint8)
    batched = CoreMLExecutor(batchable)
    assert batched.batchable
    relu = REGISTRY["relu"]["iOS15"]
    monkeypatch.setitem(REGISTRY, "relu", {"iOS15": dataclasses.replace(relu, batch=None)})
    single = CoreMLExecutor(batchable)
    assert not single.batchable
    np.testing.assert_array_equal(single.predict(pixels).array, batched.predict(pixels).array)


def test_an_op_of_a_later_opset_names_the_opset(tiny_copy):
    spec = _spec(tiny_copy)
    next(op for op in _ops(spec) if op.type == "relu").type = "constexpr_blockwise_shift_scale"
    _write_spec(tiny_copy, spec)
    with pytest.raises(UserError, match=r"op 'constexpr_blockwise_shift_scale' .* not supported .*\(opset "
                                        r"CoreML6; the executor has it only from iOS18"):
        CoreMLExecutor(tiny_copy)


F16 = np.float16
EXACT_CASES = {  # name -> arguments from two tensors x, y already on float16's grid
    "relu": lambda x, y: {"x": x}, "relu6": lambda x, y: {"x": x},
    "clip": lambda x, y: {"x": x, "alpha": np.float32(-0.3).astype(F16).astype(np.float32), "beta": np.float32(0.75)},
    "maximum": lambda x, y: {"x": x, "y": y}, "minimum": lambda x, y: {"x": x, "y": y},
    "transpose": lambda x, y: {"x": x, "perm": np.array([0, 2, 1, 3])},
    "reshape": lambda x, y: {"x": x, "shape": np.array([2, -1])},
    "squeeze": lambda x, y: {"x": x[:, :1], "axes": np.array([1])},
    "expand_dims": lambda x, y: {"x": x, "axes": np.array([1])},
    "concat": lambda x, y: {"values": [x, y], "axis": np.int32(1)},
    "pad": lambda x, y: {"x": x, "pad": np.array([1, 1]), "constant_val": np.float32(0.5)},
    "reduce_max": lambda x, y: {"x": x, "axes": np.array([2])},
    "cast": lambda x, y: {"x": x * np.float32(1.001), "dtype": "fp16"},  # rounds by itself
    "max_pool": lambda x, y: {"x": x, "kernel_sizes": np.array([2, 2]), "pad_type": "same"},
    "abs": lambda x, y: {"x": x},
    "slice_by_index": lambda x, y: {"x": x, "begin": np.array([0, 1, 0, 0]), "end": np.array([2, 3, 4, 5]),
                                    "stride": np.array([1, 1, 2, -1])},
    "slice_by_size": lambda x, y: {"x": x, "begin": np.array([0, 1, 1, 0]), "size": np.array([-1, 2, 2, -1])},
    "stack": lambda x, y: {"values": [x, y], "axis": np.int32(1)},
}


def test_ops_declared_fp16_exact_keep_float16_values():
    rng = np.random.default_rng(9)
    x, y = (rng.normal(0, 3, (2, 3, 4, 5)).astype(F16).astype(np.float32) for _ in range(2))
    exact = sorted({d.name for versions in REGISTRY.values() for d in versions.values() if d.fp16_exact})
    assert exact == sorted(EXACT_CASES)
    for name in exact:
        out = np.asarray(lookup(name, "iOS18").fn(**EXACT_CASES[name](x, y)), dtype=np.float32)
        np.testing.assert_array_equal(out, out.astype(F16).astype(np.float32), err_msg=name)
    # while a product of two such tensors leaves the grid: the rounding after other ops is needed
    assert not np.array_equal(x * y, (x * y).astype(F16).astype(np.float32))


@pytest.fixture
def tiny_copy(tmp_path):
    return build_package(tmp_path / "Tiny.mlpackage")
