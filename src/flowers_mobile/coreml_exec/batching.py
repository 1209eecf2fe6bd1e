"""Decide whether a program may run several images at once.

Programs are converted for batch 1. Stacking N images on axis 0 gives each image the answer it
gets alone when every op that reads a stacked tensor treats each image on its own; each op's
registration says when it does (its batch rule). One op that does not (or declares no rule)
and the whole program runs one image at a time: the answers stay right, only slower.
"""

from __future__ import annotations

from flowers_mobile.coreml_exec.program import Program, refs
from flowers_mobile.coreml_exec.registry import BatchQuery


def plan_batching(program: Program) -> bool:
    """Mark the steps that read stacked images; True when the program is batch-safe."""
    for step in program.steps:
        step.batched = False
    if program.input_shape[0] != 1:
        return False
    ranks = {name: len(shape or ()) for name, (_, shape) in program.declared.items()}
    stacked = {program.input_name}
    marked = []
    for step in program.steps:
        if not any(r in stacked for r in refs(step.args)):
            continue
        rule = step.op.batch
        if rule is None or not rule(BatchQuery(step.args, ranks, frozenset(stacked))):
            return False
        marked.append(step)
        stacked.update(name for name, _ in step.outputs)
    for step in marked:
        step.batched = True
    return True
