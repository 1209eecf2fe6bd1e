"""The runtime registry (`flowers_mobile.runtime_registry`) is the only source of what the rest of
the package knows about a runtime: its module, formats, preference, thread and IPC traits,
metadata and platforms. Importing every runtime module costs about 0.2 s (TensorFlow loads lazily)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from flowers_mobile import runtime_registry, variants
from flowers_mobile.errors import UserError
from flowers_mobile.runtime_registry import BY_NAME, RUNTIMES
from flowers_mobile.runtimes import base

SRC = Path(__file__).resolve().parents[1] / "src" / "flowers_mobile"


def test_every_row_is_the_runtime_its_module_registers():
    assert len(BY_NAME) == len(RUNTIMES)
    for spec in RUNTIMES:
        cls = base._resolve(spec.name)["cls"]  # imports spec.module, which must register spec.name
        assert cls.runtime == spec.name and cls.__module__ == spec.module
        assert spec.formats and spec.title


def test_every_registering_module_has_a_row():
    """A runtime module no row names would never be loaded: scan the sources, import nothing."""
    found = {}
    for path in sorted((SRC / "runtimes").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "register_runtime" and node.args:
                found[node.args[0].value] = f"flowers_mobile.runtimes.{path.stem}"
    assert found == {spec.name: spec.module for spec in RUNTIMES}


def test_a_class_registered_without_a_row_or_elsewhere_is_refused():
    with pytest.raises(ValueError, match="no row"):
        base.register_runtime("tvm")
    with pytest.raises(ValueError, match="the registry says flowers_mobile.runtimes.litert"):
        base.register_runtime("litert")(type("Stray", (), {"__module__": "elsewhere"}))


def test_the_views_of_the_registry():
    assert base.runtime_names() == [spec.name for spec in RUNTIMES]
    assert variants.METADATA_RUNTIMES == ("task_library", "mediapipe")
    assert runtime_registry.preference("tflite") == ["litert"]
    assert runtime_registry.preference("mlpackage") == ["coreml", "coreml_executor"]
    assert runtime_registry.formats() == ["keras", "h5", "saved_model", "tflite", "mlpackage"]
    for v in variants.CATALOGUE:
        assert list(v.runtimes) == runtime_registry.preference(v.format)
    # Only the Task Library runs beside, never inside, the (TensorFlow) process.
    assert [s.name for s in RUNTIMES if s.ipc] == ["task_library"]
    assert {s.name for s in RUNTIMES if s.threads != "process"} == {"litert", "task_library", "mediapipe",
                                                                     "coreml_executor"}
    with pytest.raises(UserError, match="(?i)expected one of keras, h5, saved_model, tflite, mlpackage"):
        variants.plan_runtimes("onnx", available=lambda name: True)


def test_platforms_come_from_the_registry():
    assert runtime_registry.platform_reason("coreml", "darwin") is None
    assert runtime_registry.platform_reason("coreml", "linux") == \
        "Core ML runtime needs macOS; use --runtime coreml_executor"
    assert all(runtime_registry.platform_reason(s.name, "linux") is None for s in RUNTIMES if s.name != "coreml")
    if sys.platform != "darwin":
        assert base.unavailable_reason("coreml") == runtime_registry.platform_reason("coreml")


def _runtime_name_collections(tree: ast.AST) -> list[int]:
    """Lines of tuple/list/set literals, and dicts by their keys, holding two or more runtime names,
    one of them a name that is only a runtime's ("coreml" and "saved_model" are also `convert`
    targets, "keras" a format)."""
    names = set(BY_NAME)
    only_runtimes = names - set(runtime_registry.formats()) - {"coreml"}
    lines = []
    for node in ast.walk(tree):
        items = node.keys if isinstance(node, ast.Dict) else node.elts \
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else []
        found = {i.value for i in items if isinstance(i, ast.Constant) and i.value in names}
        if len(found) >= 2 and found & only_runtimes:
            lines.append(node.lineno)
    return lines


def test_no_other_module_keeps_a_list_of_runtimes():
    """What RUNTIME_ORDER, _LAZY_MODULES and the benchmark's sets once each said in part."""
    found = {str(p.relative_to(SRC)): lines for p in sorted(SRC.rglob("*.py"))
             if p.name != "runtime_registry.py" and (lines := _runtime_name_collections(ast.parse(p.read_text())))}
    assert found == {}
    planted = 'PER_INSTANCE = {"litert", "coreml_executor"}\nORDER = {"x": 1, "tflite": ["litert", "mediapipe"]}\nTARGETS = ("coreml", "saved_model")\n'
    assert _runtime_name_collections(ast.parse(planted)) == [1, 2]
