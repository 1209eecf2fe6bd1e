"""The fast path: runs of a program's steps traced once into TensorFlow graphs.

numpy runs one op at a time on one core, and its depthwise convolutions and float16 rounding
cost most of MobileNetV2's time. TensorFlow (what Keras runs on) has threaded convolution
kernels and a vectorized float16 cast. Consecutive steps that have a TensorFlow form
(`tf_ops`) make a segment, traced into one `tf.function` per input shape; a step without one
runs with numpy between segments, and the numpy path stays the reference (a test compares
them). Each float16-declared result is rounded to float16 after its op exactly as the numpy
runner does it (`round_float16` is a cast to float16 and back: the same value as
`fp16.round_to_float16`), so precision is the same; only the order of additions inside a
convolution differs, as between any two convolution kernels.

TensorFlow is optional: `tensorflow_available()` says whether the fast path can be used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flowers_mobile.coreml_exec.program import Program, Step, call, refs, resolve


def tensorflow_available() -> bool:
    """Whether TensorFlow imports here (an import it would need anyway for the fast path)."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Segment:
    """Steps run by one graph (`fn` set) or one numpy step (`fn` None)."""

    steps: list[Step]
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    fn: Any = None


def plan_segments(program: Program) -> list[Segment]:
    """Group the steps: consecutive TensorFlow-capable steps share one graph."""
    from flowers_mobile.coreml_exec.tf_ops import TF_FORMS

    ranks = {name: len(shape or ()) for name, (_, shape) in program.declared.items()}
    segments: list[Segment] = []
    for step in program.steps:
        form = TF_FORMS.get(step.op.name)
        fast = form is not None and bool(refs(step.args)) and form[1](step, ranks)
        if fast and segments and segments[-1].fn is not None:
            segments[-1].steps.append(step)
        else:
            segments.append(Segment([step], fn=True if fast else None))
    needed_later: set[str] = set(program.outputs)
    if program.probabilities_var is not None:
        needed_later.add(program.probabilities_var)
    for segment in reversed(segments):
        made = {name for step in segment.steps for name, _ in step.outputs}
        segment.outputs = sorted(made & needed_later)
        read = {r for step in segment.steps for r in refs(step.args)}
        segment.inputs = sorted(read - made)
        needed_later = (needed_later - made) | set(segment.inputs)
    return segments


def compile_segments(program: Program, segments: list[Segment], fp16_rounding: bool) -> None:
    """Give each TensorFlow segment its traced function."""
    import tensorflow as tf

    readers = reader_counts(program)
    for segment in segments:
        if segment.fn is not None:
            segment.fn = _quiet_first_calls(tf.function(_tracer(segment, fp16_rounding, readers), autograph=False))


def _quiet_first_calls(fn: Any) -> Any:
    """`fn`, with the call that traces it for a new input shape run under `quiet_tf`: graph
    optimization then logs lines such as "Error in PredictCost() for the op: Softmax" from C++
    (harmless: its cost model meets a shape it does not know), once per trace."""
    from flowers_mobile.tf_quiet import quiet_tf

    traced: set[tuple[tuple[int, ...], ...]] = set()

    def call(*inputs: Any) -> Any:
        key = tuple(tuple(getattr(t, "shape", ())) for t in inputs)
        if key in traced:
            return fn(*inputs)
        with quiet_tf():
            out = fn(*inputs)
        traced.add(key)
        return out

    return call


def _tracer(segment: Segment, fp16_rounding: bool, readers: dict[str, int]) -> Any:
    from flowers_mobile.coreml_exec.tf_ops import ROUNDED_FORMS, TF_FORMS, Val, nchw, round_float16

    steps = segment.steps

    def trace(*inputs: Any) -> list[Any]:
        env = {name: Val(t) for name, t in zip(segment.inputs, inputs, strict=True)}
        batch = int(inputs[0].shape[0]) if inputs and inputs[0].shape.rank else 1
        i = 0
        while i < len(steps):
            step = steps[i]
            args = {k: resolve(v, env) for k, v in step.args.items()}
            if step.batched and batch != 1 and step.op.batch_args is not None:
                args = step.op.batch_args(args, batch)
            (name, dtype), = step.outputs
            rounds = fp16_rounding and dtype == "FLOAT16" and not step.op.fp16_exact
            if rounds and step.op.name == "conv":
                activation = _fused_activation(steps, i, readers, set(segment.outputs))
                env[name if activation is None else activation.outputs[0][0]] = \
                    TF_FORMS["conv"][0](**args, epilogue="" if activation is None else activation.op.name)
                i += 1 if activation is None else 2
                continue
            if rounds and step.op.name in ROUNDED_FORMS:
                value, rounds = ROUNDED_FORMS[step.op.name](**args), False
            else:
                value = TF_FORMS[step.op.name][0](**args)
            env[name] = Val(round_float16(value.t), value.nhwc) if rounds else value
            i += 1
        return [nchw(env[name]) for name in segment.outputs]

    return trace



def _fused_activation(steps: list[Step], i: int, readers: dict[str, int], kept: set[str]) -> Step | None:
    """The relu / relu6 right after conv step i when it is the conv result's only reader."""
    if i + 1 >= len(steps):
        return None
    name, nxt = steps[i].outputs[0][0], steps[i + 1]
    if nxt.op.name in ("relu", "relu6") and refs(nxt.args) == [name] and readers.get(name) == 1 \
            and name not in kept:
        return nxt
    return None


def reader_counts(program: Program) -> dict[str, int]:
    """How many steps (and program outputs) read each tensor."""
    counts: dict[str, int] = {}
    for name in [r for step in program.steps for r in refs(step.args)] + list(program.outputs):
        counts[name] = counts.get(name, 0) + 1
    return counts


def run_segments(segments: list[Segment], env: dict[str, Any], where: str,
                 numpy_step: Any) -> dict[str, Any]:
    """Run every segment on `env` (the program's input tensor by name); returns the final env."""
    for segment in segments:
        if segment.fn is None:
            numpy_step(segment.steps[0], env)
            continue
        inputs = [np.ascontiguousarray(env[name]) for name in segment.inputs]
        try:
            results = segment.fn(*inputs)
        except Exception as exc:  # a kernel refusing its arguments: name the op run
            names = ", ".join(s.op.name for s in segment.steps[:3])
            raise _error(where, names, exc) from exc
        for name, value in zip(segment.outputs, results, strict=True):
            env[name] = value.numpy()
    return env


def _error(where: str, names: str, exc: Exception) -> Exception:
    from flowers_mobile.errors import UserError

    return UserError(f"{where}: TensorFlow segment ({names}, ...) failed: {str(exc).splitlines()[0]}",
                     hint="run with backend='numpy' to use the numpy executor")


__all__ = ["Segment", "call", "compile_segments", "plan_segments", "run_segments", "tensorflow_available"]
