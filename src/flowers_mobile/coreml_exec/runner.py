"""Run a loaded program on a batch: each op in float32, float16-declared results rounded.

Precision. A float16 program declares float16 tensors; Core ML on the GPU and Neural Engine
stores those in half precision. Each op computes in float32 and every float16-declared result
is rounded to float16 before the next op reads it (half-precision storage, wider accumulation
inside an op), except for ops whose registration says the result is already exact. float32
programs run in float32 throughout.

Parallelism. Images are independent, so a batch is split across worker threads, each running
the whole program on its share (numpy and BLAS release the GIL); BLAS itself stays
single-threaded, since its hand-offs cost more than these products gain from them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from flowers_mobile.coreml_exec.blas import blas_threads
from flowers_mobile.coreml_exec.fp16 import round_to_float16
from flowers_mobile.coreml_exec.program import Program, Step, call, resolve
from flowers_mobile.coreml_exec.tf_program import Segment, run_segments


def run_program(program: Program, x: np.ndarray, *, batchable: bool, chunk: int, workers: int,
                fp16_rounding: bool, where: str, segments: list[Segment] | None = None) -> dict[str, Any]:
    """Outputs by name (and the classifier's probabilities) for the input tensor x (N, C, H, W).

    With `segments` (the TensorFlow fast path, `tf_program`) each chunk runs in one thread:
    TensorFlow's kernels spread one op over the cores themselves.
    """
    if program.input_dtype == "FLOAT16":
        x = round_to_float16(x)
    size = 1
    if batchable:
        size = max(1, min(chunk, -(-len(x) // max(1, workers))))  # every worker gets a share

    if segments is not None:
        size = chunk if batchable else 1
        workers = 1
    pieces = [x[i:i + size] for i in range(0, len(x), size)]

    def one(piece: np.ndarray) -> dict[str, Any]:
        return _run_once(program, piece, fp16_rounding, where, segments)

    with blas_threads(1):
        if workers <= 1 or len(pieces) == 1:
            parts = [one(p) for p in pieces]
        else:
            with ThreadPoolExecutor(max_workers=min(workers, len(pieces))) as pool:
                parts = list(pool.map(one, pieces))
    return _concat_outputs(parts)


def _run_once(program: Program, x: np.ndarray, round16: bool, where: str,
              segments: list[Segment] | None) -> dict[str, Any]:
    env: dict[str, Any] = {program.input_name: x}

    def numpy_step(step: Step, env: dict[str, Any]) -> None:
        _numpy_step(step, env, len(x), round16, where)

    with np.errstate(over="ignore", under="ignore"):
        if segments is not None:
            run_segments(segments, env, where, numpy_step)
        else:
            for step in program.steps:
                numpy_step(step, env)
    out = {name: env[name] for name in program.outputs}
    if program.probabilities_var is not None:
        out[program.probabilities_var] = env[program.probabilities_var]
    return out


def _numpy_step(step: Step, env: dict[str, Any], batch: int, round16: bool, where: str) -> None:
    """Run one step with numpy on `env`: its outputs in, the tensors no later step reads out."""
    args = {k: resolve(v, env) for k, v in step.args.items()}
    if step.batched and batch != 1 and step.op.batch_args is not None:
        args = step.op.batch_args(args, batch)
    result = call(step.op, step.name, args, where)
    results = result if len(step.outputs) > 1 else (result,)
    for (name, dtype), value in zip(step.outputs, results, strict=True):
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            if round16 and dtype == "FLOAT16" and not step.op.fp16_exact:
                value = round_to_float16(value, in_place=_owned(value, args))
            else:
                value = value.astype(np.float32, copy=False)
        env[name] = value
    for name in step.free_after:
        env.pop(name, None)


def _owned(value: np.ndarray, args: dict[str, Any]) -> bool:
    """Whether an op's result is a fresh array (not a view of an input), so rounding may overwrite it."""
    for arg in args.values():
        for item in (arg if isinstance(arg, list) else [arg]):
            if isinstance(item, np.ndarray) and np.may_share_memory(value, item):
                return False
    return True


def _concat_outputs(parts: list[dict[str, Any]]) -> dict[str, Any]:
    if len(parts) == 1:
        return parts[0]
    out: dict[str, Any] = {}
    for key in parts[0]:
        values = [p[key] for p in parts]
        if isinstance(values[0], list):
            out[key] = [item for v in values for item in v]
        else:
            out[key] = np.concatenate([np.asarray(v).reshape(-1) if np.asarray(v).ndim == 0 else v for v in values])
    return out
