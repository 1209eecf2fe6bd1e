"""Load an ML Program for the executor: decode every op's arguments, fold constants, check each
op against the registry, find the classifier and plan when runtime tensors can be freed.

Folding happens once here: `const` values and the `constexpr_*` decompressions (palettized or
quantized weights) become float32 arrays, so running a batch never decodes a weight again.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import flowers_mobile.coreml_exec.ops  # noqa: F401 - registers the ops
from flowers_mobile.coreml_exec.registry import OPSETS, REGISTRY, OpDef, Ref, lookup
from flowers_mobile.coreml_exec.values import BlobReader, decode_value, dtype_name, static_shape
from flowers_mobile.errors import UserError


@dataclass
class Step:
    """One runtime op: its definition, decoded arguments (constants inline, `Ref`s for tensors)."""

    op: OpDef
    name: str  # "#index name" for messages
    args: dict[str, Any]
    outputs: list[tuple[str, str]]  # (variable, declared dtype)
    free_after: list[str] = field(default_factory=list)
    batched: bool = False  # reads images stacked on axis 0


@dataclass
class Program:
    """The `main` function of an ML Program, folded and checked."""

    opset: str
    input_name: str
    input_dtype: str
    input_shape: tuple[int, ...]
    steps: list[Step]
    constants: dict[str, Any]
    declared: dict[str, tuple[str, tuple[int, ...] | None]]  # variable -> (dtype, static shape)
    outputs: list[str]
    op_counts: collections.Counter[str]
    labels: list[str] | None = None
    probabilities_var: str | None = None
    class_label_name: str | None = None
    probabilities_name: str | None = None

    @property
    def is_float16(self) -> bool:
        return any(dtype == "FLOAT16" for dtype, _ in self.declared.values())


def load_program(ml_program: Any, blobs: BlobReader, where: str) -> Program:
    """The program of a spec's `mlProgram`; UserError naming `where` for anything it cannot run."""
    if "main" not in ml_program.functions:
        raise UserError(f"{where}: the ML Program has no 'main' function")
    fn = ml_program.functions["main"]
    if fn.opset not in fn.block_specializations:
        raise UserError(f"{where}: no block for the program's opset {fn.opset!r}")
    block = fn.block_specializations[fn.opset]
    if len(fn.inputs) != 1:
        raise UserError(f"{where}: the program takes {len(fn.inputs)} inputs; expected one image")
    inp = fn.inputs[0]
    shape = static_shape(inp.type)
    if shape is None or len(shape) != 4:
        raise UserError(f"{where}: input {inp.name!r} needs a static (1, C, H, W) shape for the executor")
    program = Program(opset=fn.opset, input_name=inp.name, input_dtype=dtype_name(inp.type), input_shape=shape,
                      steps=[], constants={}, declared={inp.name: (dtype_name(inp.type), shape)},
                      outputs=list(block.outputs), op_counts=collections.Counter())
    for index, op in enumerate(block.operations):
        _add_op(program, op, index, blobs, where)
    _find_classifier(program, where)
    _plan_memory(program)
    return program


def _add_op(program: Program, op: Any, index: int, blobs: BlobReader, where: str) -> None:
    program.op_counts[op.type] += 1
    label = _op_label(op, index)
    outputs = [(o.name, dtype_name(o.type)) for o in op.outputs]
    for o in op.outputs:
        program.declared[o.name] = (dtype_name(o.type), static_shape(o.type))
    definition = lookup(op.type, program.opset)
    if definition is None:
        known = "in no opset" if op.type not in REGISTRY else f"only from {min(REGISTRY[op.type], key=OPSETS.index)}"
        raise UserError(f"{where}: op {op.type!r} ({label}) is not supported by the Core ML executor "
                        f"(opset {program.opset}; the executor has it {known})",
                        hint="convert without it, or add it under flowers_mobile/coreml_exec/ops/")
    args = _op_args(op, definition, program.constants, blobs, f"{where}: {op.type} ({label})")
    _check_signature(definition, args, where, label)
    if definition.const:
        if any(isinstance(v, Ref) for v in args.values()):
            raise UserError(f"{where}: {op.type} ({label}) reads a runtime tensor")
        value = call(definition, label, args, where)
        program.constants[outputs[0][0]] = _widen(value, outputs[0][1])
    else:
        program.steps.append(Step(definition, label, args, outputs))


def _op_args(op: Any, definition: OpDef, constants: dict[str, Any], blobs: BlobReader, where: str) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for key, attr in op.attributes.items():
        if key != "name":  # iOS16 constexpr ops carry their data as attributes
            args[key] = decode_value(attr, blobs, where)
    for key, argument in op.inputs.items():
        values = []
        for binding in argument.arguments:
            if binding.WhichOneof("binding") == "name":
                ref = binding.name
                values.append(constants[ref] if ref in constants else Ref(ref))
            else:
                values.append(decode_value(binding.value, blobs, where))
        if key in definition.variadic:
            args[key] = values
        elif len(values) == 1:
            args[key] = values[0]
        else:
            raise UserError(f"{where}: input {key!r} has {len(values)} arguments; expected one")
    return args


def _check_signature(definition: OpDef, args: dict[str, Any], where: str, label: str) -> None:
    try:
        definition.signature.bind(**args)
    except TypeError as exc:
        expected = ", ".join(definition.signature.parameters)
        raise UserError(f"{where}: op {definition.name} ({label}) has inputs {sorted(args)}; the executor's "
                        f"{definition.name} ({definition.opset}) takes {expected} ({exc})") from exc


def call(definition: OpDef, label: str, args: dict[str, Any], where: str) -> Any:
    """Run one op; an error inside it names the op and the model."""
    try:
        return definition.fn(**args)
    except (ValueError, TypeError, IndexError) as exc:
        raise UserError(f"{where}: op {definition.name} ({label}) failed: {exc}") from exc


def _widen(value: Any, declared: str) -> Any:
    """Constants as the executor computes with them: floating types as float32."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        if declared == "FLOAT16" and value.dtype != np.float16:
            value = value.astype(np.float16)  # a decompressed float16 weight is float16
        return np.ascontiguousarray(value, dtype=np.float32)
    return value


def _op_label(op: Any, index: int) -> str:
    name = op.attributes["name"].immediateValue.tensor.strings.values[0] if "name" in op.attributes else ""
    if not name and op.outputs:
        name = op.outputs[0].name
    return f"#{index} {name}" if name else f"#{index}"


def resolve(value: Any, env: dict[str, Any]) -> Any:
    """An op argument's value at run time: a runtime tensor's value from `env`, a variadic input's
    values (concat, stack), or the constant as it is."""
    if isinstance(value, Ref):
        return env[value.name]
    if isinstance(value, list):
        return [env[v.name] if isinstance(v, Ref) else v for v in value]
    return value


def refs(args: dict[str, Any]) -> list[str]:
    """Names of the runtime tensors among an op's arguments."""
    out = []
    for v in args.values():
        for item in (v if isinstance(v, list) else [v]):
            if isinstance(item, Ref):
                out.append(item.name)
    return out


def _find_classifier(program: Program, where: str) -> None:
    for step in program.steps:
        if step.op.name != "classify":
            continue
        classes = step.args.get("classes")
        if isinstance(classes, np.ndarray):
            classes = classes.reshape(-1).tolist()
        if not isinstance(classes, list) or not classes:
            raise UserError(f"{where}: the classify op has no class labels")
        probs = step.args.get("probabilities")
        if not isinstance(probs, Ref):
            raise UserError(f"{where}: the classify op's probabilities are not a runtime tensor")
        shape = program.declared.get(probs.name, (None, None))[1]
        labels = [str(c.item() if isinstance(c, np.ndarray) else c) for c in classes]
        if shape and shape[-1] != len(labels):
            raise UserError(f"{where}: the classifier config has {len(labels)} labels but the model "
                            f"computes {shape[-1]} probabilities", hint="re-export the package")
        program.labels = labels
        program.probabilities_var = probs.name
        program.class_label_name = step.outputs[0][0]
        program.probabilities_name = step.outputs[1][0] if len(step.outputs) > 1 else None
    if program.labels is None and len(program.outputs) != 1:
        raise UserError(f"{where}: neither a classifier nor a single-output model")


def _plan_memory(program: Program) -> None:
    """Drop each runtime tensor after the last op that reads it (keeps memory flat on big batches)."""
    keep = set(program.outputs) | {program.probabilities_var}
    last_use: dict[str, int] = {}
    for i, step in enumerate(program.steps):
        for ref in refs(step.args):
            last_use[ref] = i
    for name, i in last_use.items():
        if name not in keep:
            program.steps[i].free_after.append(name)
