"""Which TFLite precision becomes `flowers.tflite`: the first, in order of preference, that meets
the int8 limits on held-out images.

Preference: int8 (integer only: the fastest on phone CPUs and the one NPUs and DSPs run), then
int8 with float fallback for its most sensitive layers, then dynamic range, float16, float32
(each larger or slower than the one before). A pretrained network can lose a quarter of its
answers to plain post-training int8 where a model trained from scratch loses none, so the
choice is measured (see `fidelity`), never assumed. The limits are the parity limits of int8:
top-1 agreement on all held-out images, agreement on the confident ones, and accuracy drop when
the data's classes are the labels. `--default PRECISION` overrides the choice; without held-out
images nothing can be measured and the first precision asked for is the default, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from flowers_mobile import variants
from flowers_mobile.config import ParityConfig
from flowers_mobile.errors import UserError

#: Order of preference for the default artifact: each variant's place in the catalogue.
PREFERENCE = variants.preference_order()


@dataclass
class Choice:
    """The default precision and why, with every candidate's figures."""

    precision: str
    reason: str
    forced: bool = False
    measured: bool = True
    limits: dict[str, float] = field(default_factory=dict)
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def forced_default(default: str | None, precisions: list[str]) -> str | None:
    """`--default`, canonical; UserError when it names a precision that is not being converted."""
    if default is None:
        return None
    name = variants.tflite_precision(default)
    if name not in precisions:
        raise UserError(f"--default {default}: no {name} TFLite model is being converted",
                        hint=f"choose one of {', '.join(precisions) or 'nothing (add --target tflite)'}, "
                             "or add it with --quantize")
    return name


def default_limits(pc: ParityConfig) -> dict[str, float]:
    """The int8 limits a default must meet."""
    return {"min_top1_agreement": pc.int8_min_top1_agreement,
            "min_confident_agreement": pc.int8_min_confident_agreement,
            "max_accuracy_drop": pc.int8_max_accuracy_drop}


def shortfalls(figures: dict[str, Any], limits: dict[str, float]) -> list[str]:
    """What a candidate misses, one phrase each ("top-1 agreement 75.8% < 98.0%"); empty when it passes."""
    out = []
    if figures["top1_agreement"] < limits["min_top1_agreement"] - 1e-12:
        out.append(f"top-1 agreement {figures['top1_agreement']:.1%} < {limits['min_top1_agreement']:.1%}")
    confident = figures.get("confident_agreement")
    if confident is not None and confident < limits["min_confident_agreement"] - 1e-12:
        out.append(f"confident agreement {confident:.1%} < {limits['min_confident_agreement']:.1%}")
    change = figures.get("accuracy_change")
    if change is not None and -change > limits["max_accuracy_drop"] + 1e-12:
        out.append(f"accuracy drop {-change:.1%} > {limits['max_accuracy_drop']:.1%}")
    return out


def _summary(figures: dict[str, Any]) -> str:
    text = f"top-1 agreement {figures['top1_agreement']:.1%}"
    if figures.get("confident_agreement") is not None:
        text += f", confident {figures['confident_agreement']:.1%}"
    return text


def choose_default(precisions: list[str], figures: dict[str, dict[str, Any]] | None, sizes: dict[str, int],
                   pc: ParityConfig, forced: str | None = None) -> Choice:
    """Pick the default precision.

    Args:
        precisions: the precisions converted (canonical names).
        figures: `fidelity.measure_*` results per precision, or None when nothing was measured.
        sizes: bytes per precision.
        pc: the parity limits.
        forced: `--default`: take this precision whatever the figures say.
    Raises:
        UserError: `forced` was not converted.
    """
    limits = default_limits(pc)
    order = sorted(precisions, key=lambda p: PREFERENCE.index(p) if p in PREFERENCE else len(PREFERENCE))
    candidates = []
    for p in order:
        row: dict[str, Any] = {"precision": p, "bytes": sizes[p]}
        if figures is not None:
            row.update(figures[p])
            row["missed"] = shortfalls(figures[p], limits)
            row["meets_limits"] = not row["missed"]
        candidates.append(row)
    if forced is not None:
        if forced not in precisions:
            raise UserError(f"--default {forced}: that precision is not being converted",
                            hint=f"choose one of {', '.join(precisions)}, or add it with --quantize")
        return Choice(forced, f"forced by --default {forced}", forced=True, measured=figures is not None,
                      limits=limits, candidates=candidates)
    if figures is None:
        return Choice(precisions[0], f"first precision asked for ({precisions[0]}); fidelity not measured: "
                      "no held-out (val/test) images", measured=False, limits=limits, candidates=candidates)
    for row in candidates:
        if row["meets_limits"]:
            skipped = [f"{c['precision']} ({'; '.join(c['missed'])})" for c in candidates[:candidates.index(row)]]
            why = f"first in preference order to meet the int8 limits ({_summary(row)})"
            return Choice(row["precision"], why + (f"; rejected: {', '.join(skipped)}" if skipped else ""),
                          limits=limits, candidates=candidates)
    best = max(candidates, key=lambda c: (c["top1_agreement"], -c["bytes"]))
    return Choice(best["precision"], f"no precision meets the int8 limits; {best['precision']} agrees best "
                  f"({_summary(best)})", limits=limits, candidates=candidates)


def measure_and_choose(export_dir: Any, precisions: list[str], model: Any, dataset: Any, labels: list[str],
                       input_size: tuple[int, int], cfg: Any, forced: str | None = None,
                       fallback: Callable[[], None] | None = None) -> Choice:
    """Measure every written `flowers_<precision>.tflite` in `export_dir` on the held-out images, then
    `choose_default`. When plain int8 was measured and missed the limits, `fallback()` (if given)
    writes `flowers_int8_fallback.tflite`, which is measured and considered too."""
    from pathlib import Path

    from flowers_mobile.export import fidelity

    export_dir = Path(export_dir)
    sizes = {p: (export_dir / variants.tflite_file(p)).stat().st_size for p in precisions}
    held = None
    if dataset is not None:
        held = fidelity.fidelity_set(model, dataset, labels, input_size, cfg.parity.max_images, cfg.data.seed,
                                     cfg.parity.confident_margin)
    figures = None
    if held is not None:
        figures = {p: fidelity.measure_tflite(export_dir / variants.tflite_file(p), held) for p in precisions}
    choice = choose_default(precisions, figures, sizes, cfg.parity, forced)
    int8 = next((c for c in choice.candidates if c["precision"] == "int8"), None)
    if fallback is not None and figures is not None and forced is None and int8 is not None \
            and not int8["meets_limits"] and "int8_fallback" not in precisions:
        fallback()
        precisions = [*precisions, "int8_fallback"]
        path = export_dir / variants.tflite_file("int8_fallback")
        sizes["int8_fallback"] = path.stat().st_size
        figures["int8_fallback"] = fidelity.measure_tflite(path, held)
        choice = choose_default(precisions, figures, sizes, cfg.parity, forced)
    if held is not None:
        choice.limits = {**choice.limits, **held.describe()}
    return choice
