"""The op registry: one numpy function per MIL op, and everything the executor needs to know
about the op declared where the op is defined.

    @register_op("softmax", batch=lambda q: q.axes("axis", default=-1) != [0])
    def softmax(x, axis=-1): ...

An op's function takes the MIL inputs as keyword arguments (constants already decoded) and
returns its output (a tuple when it has several). Its registration says:

- `opset`: the first MIL opset ("iOS15".."iOS18") with this form of the op. A program uses the
  newest registration at or below its own opset, as coremltools does; forms that differ between
  opsets (constexpr_lut_to_dense in iOS16 and iOS18) are registered apart.
- `batch`: the batch rule. Programs are converted for batch 1; the executor stacks N images on
  axis 0 only when every op reading stacked tensors treats each image on its own. `ROW_WISE`:
  always; `FOLDED`: a constant op, folded at load, never sees images; or a function of a
  `BatchQuery` (the op's arguments, their ranks, which are stacked). No default: an op that
  does not declare it is listed by `undeclared_batch_rules()` (a test keeps that list empty)
  and makes the executor run one image at a time.
- `batch_args`: rewrites the arguments for N stacked images (reshape's leading 1 becomes N).
- `variadic`: inputs that take a MIL tuple (concat's `values`); every other input takes one.
- `fp16_exact`: the float16 result needs no rounding (it is one of its float16 inputs' values,
  or the op rounds itself, like cast).
- `const`: folded at load time (const, constexpr_*); its inputs must be constants.

An op may also have a TensorFlow form for the fast path, declared beside the others in
`tf_ops` with `tf_form(name, supports)`; without one the op runs with numpy on either path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: MIL opsets in order; the spec names them CoreML5..CoreML8.
OPSETS = ("iOS15", "iOS16", "iOS17", "iOS18")
SPEC_OPSETS = {"CoreML5": "iOS15", "CoreML6": "iOS16", "CoreML7": "iOS17", "CoreML8": "iOS18"}


@dataclass(frozen=True)
class Ref:
    """A runtime tensor an op reads (by MIL variable name), as opposed to a decoded constant."""

    name: str


@dataclass(frozen=True)
class BatchQuery:
    """What a batch rule may ask about one op of a program."""

    args: Mapping[str, Any]
    ranks: Mapping[str, int]  # declared rank of each runtime tensor
    stacked: frozenset[str]  # runtime tensors that hold images stacked on axis 0

    def rank(self, key: str) -> int:
        """Declared rank of argument `key` (0 when it is a constant)."""
        v = self.args.get(key)
        return self.ranks.get(v.name, 0) if isinstance(v, Ref) else 0

    def is_runtime(self, key: str) -> bool:
        return isinstance(self.args.get(key), Ref)

    def is_stacked(self, value: Any) -> bool:
        return isinstance(value, Ref) and value.name in self.stacked

    def axes(self, key: str, rank: int | None = None, default: Any = None) -> list[int] | None:
        """Argument `key` as non-negative axes of a tensor of `rank` (x's rank by default)."""
        value = self.args.get(key, default)
        if value is None:
            return None
        rank = self.rank("x") if rank is None else rank
        return [int(a) + rank if int(a) < 0 else int(a) for a in np.asarray(value).reshape(-1)]


BatchRule = Callable[[BatchQuery], bool]


def ROW_WISE(query: BatchQuery) -> bool:  # noqa: N802 - a constant-like rule
    """Each image's result depends on that image only, whatever the arguments."""
    return True


def FOLDED(query: BatchQuery) -> bool:  # noqa: N802
    """A constant op: folded at load, it never reads images."""
    return False


@dataclass(frozen=True)
class OpDef:
    name: str
    fn: Callable[..., Any]
    opset: str
    batch: BatchRule | None
    batch_args: Callable[[dict[str, Any], int], dict[str, Any]] | None = None
    variadic: tuple[str, ...] = ()
    fp16_exact: bool = False
    const: bool = False
    signature: Any = field(default=None, compare=False)


#: name -> {opset: OpDef}
REGISTRY: dict[str, dict[str, OpDef]] = {}


def register_op(name: str, *, opset: str = "iOS15", batch: BatchRule | None = None,
                batch_args: Callable[[dict[str, Any], int], dict[str, Any]] | None = None,
                variadic: tuple[str, ...] = (), fp16_exact: bool = False, const: bool = False,
                registry: dict[str, dict[str, OpDef]] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register the function as MIL op `name` from `opset` on (see module doc)."""
    if opset not in OPSETS:
        raise ValueError(f"op {name}: unknown opset {opset!r}; expected one of {', '.join(OPSETS)}")
    target = REGISTRY if registry is None else registry

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        import inspect

        versions = target.setdefault(name, {})
        if opset in versions:
            raise ValueError(f"op {name} is registered twice for {opset}")
        versions[opset] = OpDef(name, fn, opset, batch, batch_args, tuple(variadic), fp16_exact, const,
                                inspect.signature(fn))
        return fn

    return wrap


def lookup(name: str, opset: str, registry: Mapping[str, Mapping[str, OpDef]] | None = None) -> OpDef | None:
    """The definition a program of `opset` (iOS name or the spec's CoreMLn) uses for op `name`."""
    versions = (REGISTRY if registry is None else registry).get(name)
    if not versions:
        return None
    opset = SPEC_OPSETS.get(opset, opset)
    level = OPSETS.index(opset) if opset in OPSETS else len(OPSETS) - 1  # a newer opset: the newest form
    usable = [o for o in versions if OPSETS.index(o) <= level]
    return versions[max(usable, key=OPSETS.index)] if usable else None


def undeclared_batch_rules(registry: Mapping[str, Mapping[str, OpDef]] | None = None) -> list[str]:
    """'name (opset)' of every registered op without a batch rule."""
    registry = REGISTRY if registry is None else registry
    return sorted(f"{d.name} ({d.opset})" for versions in registry.values() for d in versions.values()
                  if d.batch is None)


def newest_functions() -> dict[str, Callable[..., Any]]:
    """name -> the function of its newest registration."""
    return {name: versions[max(versions, key=OPSETS.index)].fn for name, versions in REGISTRY.items()}
