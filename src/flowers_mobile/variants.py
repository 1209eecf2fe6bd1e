"""The catalogue of export variants, and the one rule that says which runtime checks which file.

Every variant `convert` can write is one `Variant` row in `CATALOGUE`: its name, its format, the
precision the manifest records for it, its file name, the runtimes that check it, the row of
`parity.limits` it is held to, and its place in the order `convert` prefers for `flowers.tflite`.
Config validation, `convert`, the default choice, `parity`, `predict`, `benchmark` and the tools
read this table; none of them spells a variant name list of its own.

`plan_runtimes` is the runtime rule: a format's runtimes in order of preference, the first one
available here is the one used (on a Mac without coremltools' native binding, an `.mlpackage`
is checked by the numpy executor, by `predict`, `parity` and `benchmark` alike). The Android
default `.tflite` is also run by the runtimes that read its metadata, as the app does.

Which runtime opens which format, and which read metadata, is the runtime registry's
(`runtime_registry.py`); `METADATA_RUNTIMES` is its view.

This module sits low in the import graph: it imports nothing but `errors` and the runtime
registry, so `config` can validate against it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from flowers_mobile import runtime_registry
from flowers_mobile.errors import UserError

#: Runtimes that read a .tflite's metadata (labels, normalization), as the Android app does: they
#: also run the Android default, and their categories must carry the export's label names. The
#: runtime registry's view, kept under this name for the modules that read it.
METADATA_RUNTIMES: tuple[str, ...] = runtime_registry.metadata_runtimes()

TFLITE_STEM = "flowers"
COREML_STEM = "Flowers"


@dataclass(frozen=True)
class Variant:
    """One kind of artifact `convert` writes.

    `name` is the catalogue key (and the `parity.limits` row unless `limits` says otherwise);
    `precision` is what the manifest records; `kind` is the config/CLI vocabulary it belongs to
    (tflite: `export.tflite_precisions`/`--quantize`; coreml_precision: `export.coreml_precision`;
    coreml_compression: `export.coreml_compression`; saved_model: `--target saved_model`).
    """

    name: str
    format: str
    kind: str
    precision: str
    limits: str
    aliases: tuple[str, ...] = ()
    #: Place in the preference order for `flowers.tflite` (0 first); None: never the default.
    preference: int | None = None

    @property
    def runtimes(self) -> tuple[str, ...]:
        """The runtimes that can check it, in order of preference."""
        return tuple(runtime_registry.preference(self.format))

    def file_name(self, coreml_default: str = "float16") -> str:
        """Its file in an export folder. Core ML: the default compute precision
        (`export.coreml_precision`) is `Flowers.mlpackage`, every other `Flowers_<name>.mlpackage`."""
        if self.format == "tflite":
            return f"{TFLITE_STEM}_{self.precision}.tflite"
        if self.format == "mlpackage":
            if self.kind == "coreml_precision" and self.precision == coreml_default:
                return f"{COREML_STEM}.mlpackage"
            return f"{COREML_STEM}_{self.precision}.mlpackage"
        return "saved_model"


CATALOGUE: tuple[Variant, ...] = (
    Variant("int8", "tflite", "tflite", "int8", "int8", ("int8",), preference=0),
    # int8 with float fallback for its most sensitive layers (export/int8_fallback.py): `convert`
    # adds it when plain int8 misses the limits; held like int8, on the same byte budget.
    Variant("int8_fallback", "tflite", "tflite", "int8_fallback", "int8_fallback", ("int8_fallback",),
            preference=1),
    Variant("dynamic", "tflite", "tflite", "dynamic", "dynamic", ("dynamic",), preference=2),
    Variant("float16", "tflite", "tflite", "float16", "float16", ("float16", "fp16"), preference=3),
    Variant("float32", "tflite", "tflite", "float32", "float32", ("float32", "fp32", "none"), preference=4),
    Variant("coreml_float16", "mlpackage", "coreml_precision", "float16", "coreml_float16", ("float16", "fp16")),
    Variant("coreml_float32", "mlpackage", "coreml_precision", "float32", "coreml_float32",
            ("float32", "fp32", "none")),
    Variant("linear8", "mlpackage", "coreml_compression", "linear8", "linear8", ("linear8",)),
    Variant("palette6", "mlpackage", "coreml_compression", "palette6", "palette6", ("palette6",)),
    Variant("palette4", "mlpackage", "coreml_compression", "palette4", "palette4", ("palette4",)),
    # A SavedModel is the float32 graph itself: held to the float32 limits.
    Variant("saved_model", "saved_model", "saved_model", "float32", "float32"),
)

BY_NAME: dict[str, Variant] = {v.name: v for v in CATALOGUE}


def of_kind(kind: str) -> list[Variant]:
    return [v for v in CATALOGUE if v.kind == kind]


def names(kind: str) -> tuple[str, ...]:
    """The precisions of a kind, in catalogue order: names("tflite") is what
    `export.tflite_precisions` accepts, names("coreml_compression") `export.coreml_compression`."""
    return tuple(v.precision for v in of_kind(kind))


def lookup(kind: str, name: str, *, what: str) -> Variant:
    """The variant of `kind` a user-given name (or alias) means; UserError naming `what` otherwise."""
    key = str(name).strip().lower()
    for v in of_kind(kind):
        if key in v.aliases:
            return v
    known = sorted({a for v in of_kind(kind) for a in v.aliases})
    raise UserError(f"unknown {what} {name!r}", hint=f"use one of {', '.join(known)}")


def tflite_precision(name: str) -> str:
    """Canonical TFLite precision for a user-given name (int8, fp16/float16, dynamic, none/float32)."""
    return lookup("tflite", name, what="precision").precision


def tflite_file(precision: str) -> str:
    """flowers_int8.tflite, flowers_float16.tflite, ..."""
    return lookup("tflite", precision, what="precision").file_name()


def split_names(values: Sequence[str]) -> list[str]:
    """`--quantize int8,fp16` and `--quantize int8 --quantize fp16` mean the same."""
    return [part for value in values for part in value.split(",") if part.strip()] or list(values)


def resolve_precisions(precisions: Sequence[str]) -> list[str]:
    """Canonical TFLite precisions, deduplicated, in the given order (`--quantize int8,fp16` or repeated)."""
    out: list[str] = []
    for name in split_names(precisions):
        canonical = tflite_precision(name)
        if canonical not in out:
            out.append(canonical)
    if "int8_fallback" in out and "int8" not in out:  # it is built from, and measured against, plain int8
        out.insert(out.index("int8_fallback"), "int8")
    if not out:
        raise UserError("no TFLite precision given", hint="use --quantize int8|fp16|dynamic|none")
    return out


def coreml_extra(precision: str | None) -> list[str] | None:
    """`--coreml-precision`'s value as `export.coreml_extra_precisions`: "all" is both; None: unset."""
    if precision is None:
        return None
    if str(precision).strip().lower() == "all":
        return list(names("coreml_precision"))
    return [lookup("coreml_precision", precision, what="Core ML precision").precision]


def coreml_compressions(names: Sequence[str] | None) -> list[str] | None:
    """`--coreml-compress` values as `export.coreml_compression` (canonical, deduplicated); None: unset."""
    if names is None:
        return None
    out: list[str] = []
    for name in split_names(names):
        canonical = lookup("coreml_compression", name, what="Core ML compression").precision
        if canonical not in out:
            out.append(canonical)
    return out


def preference_order() -> tuple[str, ...]:
    """TFLite precisions in the order `convert` prefers them for `flowers.tflite`."""
    ranked = sorted((v for v in CATALOGUE if v.preference is not None), key=lambda v: v.preference or 0)
    return tuple(v.precision for v in ranked)


def variant_of(fmt: str, precision: str) -> Variant | None:
    """The catalogue row of a manifest artifact (its format and recorded precision), or None."""
    for v in CATALOGUE:
        if v.format == fmt and v.precision == precision:
            return v
    return None


def plan_runtimes(fmt: str, *, available: Callable[[str], bool], android_default: bool = False,
                  forced: Iterable[str] | None = None,
                  metadata_runtimes: Iterable[str] = METADATA_RUNTIMES, where: str = "a file") -> list[str]:
    """Which runtimes check one file. The one rule, for `parity`, `predict` and `benchmark`.

    Args:
        fmt: the file's format (tflite, mlpackage, saved_model, keras, h5).
        available: whether a runtime can run here (its registry check).
        android_default: the file is the Android default (`flowers.tflite`): the metadata
            runtimes run it too.
        forced: runtime names given by the user, used as they are (an unavailable one then
            fails with its own reason).
        metadata_runtimes: the metadata runtimes wanted (benchmark can leave them out).
        where: names the file in the error for an unknown format.
    Returns:
        The format's first available runtime (its first when none is: that one's load then says
        why), plus the available metadata runtimes for the Android default.
    Raises:
        UserError: a format no runtime opens.
    """
    if forced:
        return list(forced)
    order = runtime_registry.preference(fmt)
    if not order:
        raise UserError(f"{where} has unknown format {fmt!r}",
                        hint=f"expected one of {', '.join(runtime_registry.formats())}")
    chosen = [next((name for name in order if available(name)), order[0])]
    if fmt == "tflite" and android_default:
        # An optional one that is not installed (the Task Library: an extra for Python <= 3.11)
        # is left out; its own check says why when it is asked for by name.
        chosen += [name for name in metadata_runtimes if available(name)]
    return chosen


def limits_keys() -> set[str]:
    """Every `parity.limits` row some variant is held to."""
    return {v.limits for v in CATALOGUE}

