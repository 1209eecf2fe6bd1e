"""Which TFLite precision becomes `flowers.tflite`: the first, in order of preference, that the
judge (`flowers_mobile.judge`, the one `parity` uses) finds faithful and fit to ship on the
held-out images.

Preference: int8 (integer only: the fastest on phone CPUs and the one NPUs and DSPs run), then
int8 with float fallback for its most sensitive layers, then dynamic range, float16, float32
(each larger or slower than the one before). A pretrained network can lose a quarter of its
answers to plain post-training int8 where a model trained from scratch loses none, so the
choice is measured, never assumed. Each candidate is judged as if it shipped: faithful (within
its precision's own rounding of this model) and fit to ship (its row of `parity.limits`: agreement
with near-ties apart and accuracy drop, by their 95% intervals). The first that passes both is
the default, unless a candidate before it is undecided on these images (inconclusive: its
intervals straddle a limit) while its own figures meet every limit it is undecided on: that one
is, and the reason says it is undecided (`parity` then warns about it the same way). A candidate
shown unfit or unfaithful never is. When every candidate misses, the best agreeing one is, and
the reason says that too. `--default PRECISION` overrides the choice; without held-out images nothing can
be measured and the first precision asked for is the default.
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


def _summary(row: dict[str, Any]) -> str:
    agreement = row.get("agreement")
    text = "agreement n/a" if agreement is None else f"agreement {agreement:.1%}"
    return f"{text}, {row['as_shipped']}"


def choose_default(precisions: list[str], results: dict[str, Any] | None, sizes: dict[str, int],
                   pc: ParityConfig, forced: str | None = None) -> Choice:
    """Pick the default precision.

    Args:
        precisions: the precisions converted (canonical names).
        results: the judge's `ExportParity` per precision (judged as not shipping), or None when
            nothing was measured.
        sizes: bytes per precision.
        pc: the parity settings (`strict`).
        forced: `--default`: take this precision whatever the figures say.
    Raises:
        UserError: `forced` was not converted.
    """
    from flowers_mobile.export.fidelity import verdict_record

    order = sorted(precisions, key=lambda p: PREFERENCE.index(p) if p in PREFERENCE else len(PREFERENCE))
    candidates = []
    for p in order:
        row: dict[str, Any] = {"precision": p, "bytes": sizes[p]}
        if results is not None:
            row.update(verdict_record(results[p]))
            row["as_shipped"], row["leans_pass"] = _as_shipped(results[p], pc.strict)
        candidates.append(row)
    limits = {"bar": "parity.limits of each candidate's variant", "faithful_multiple": pc.faithful_multiple}
    if forced is not None:
        if forced not in precisions:
            raise UserError(f"--default {forced}: that precision is not being converted",
                            hint=f"choose one of {', '.join(precisions)}, or add it with --quantize")
        return Choice(forced, f"forced by --default {forced}", forced=True, measured=results is not None,
                      limits=limits, candidates=candidates)
    if results is None:
        return Choice(precisions[0], f"first precision asked for ({precisions[0]}); fidelity not measured: "
                      "no held-out (val/test) images", measured=False, limits=limits, candidates=candidates)
    chosen = next((row for row in candidates if _eligible(row)), None)
    if chosen is not None:
        why = ("first in preference order the judge finds faithful and fit to ship" if chosen["as_shipped"] == "pass"
               else f"first in preference order whose figures meet the bar; undecided on {chosen['images']} images")
        skipped = [f"{c['precision']} ({c['as_shipped']}: {'; '.join(c['missed'])})"
                   for c in candidates[:candidates.index(chosen)]]
        return Choice(chosen["precision"], f"{why} ({_summary(chosen)})"
                      + (f"; rejected: {', '.join(skipped)}" if skipped else ""),
                      limits=limits, candidates=candidates)
    best = max(candidates, key=lambda c: (c["faithful"] == "pass", c.get("agreement") or 0.0, -c["bytes"]))
    return Choice(best["precision"], f"no precision is fit to ship; {best['precision']} agrees best "
                  f"({_summary(best)})", limits=limits, candidates=candidates)


def _eligible(row: dict[str, Any]) -> bool:
    """A candidate that may become the default: fit to ship, or undecided with figures that meet the bar."""
    return row["as_shipped"] == "pass" or (row["as_shipped"] == "inconclusive" and row["leans_pass"])


def _as_shipped(result: Any, strict: bool) -> tuple[str, bool]:
    """The verdict `result` gets when it is the file that ships (its bar then counts), and whether
    the figures of every check it is undecided on meet that check's limit (the way more images
    would most likely decide it)."""
    from dataclasses import replace

    from flowers_mobile.judge import settle

    shipped = replace(result, ships=True, checks=list(result.checks))
    settle(shipped, strict)
    undecided = shipped.inconclusive_checks()
    leans = bool(undecided) and all(
        isinstance(c.value, (int, float)) and (c.value >= c.limit if c.op == ">=" else c.value <= c.limit)
        for c in undecided)
    return shipped.verdict, leans


def measure_and_choose(export_dir: Any, precisions: list[str], held: Any, cfg: Any, forced: str | None = None,
                       fallback: Callable[[], None] | None = None) -> tuple[Choice, dict[str, Any]]:
    """Judge every written `flowers_<precision>.tflite` in `export_dir` on `held` (the judge's
    held-out images, or None), then `choose_default`. When plain int8 was judged and is not fit to
    ship (nor undecided with figures that meet the bar), `fallback()` (if given) writes
    `flowers_int8_fallback.tflite`, which is judged and considered too. Returns the choice and the judge's results per precision."""
    from pathlib import Path

    from flowers_mobile.export import fidelity

    export_dir = Path(export_dir)
    sizes = {p: (export_dir / variants.tflite_file(p)).stat().st_size for p in precisions}
    results = None
    if held is not None:
        results = {p: fidelity.measure_tflite(export_dir / variants.tflite_file(p), held, cfg, p) for p in precisions}
    choice = choose_default(precisions, results, sizes, cfg.parity, forced)
    int8 = next((c for c in choice.candidates if c["precision"] == "int8"), None)
    if fallback is not None and results is not None and forced is None and int8 is not None \
            and not _eligible(int8) and "int8_fallback" not in precisions:
        fallback()
        precisions = [*precisions, "int8_fallback"]
        path = export_dir / variants.tflite_file("int8_fallback")
        sizes["int8_fallback"] = path.stat().st_size
        results["int8_fallback"] = fidelity.measure_tflite(path, held, cfg, "int8_fallback")
        choice = choose_default(precisions, results, sizes, cfg.parity, forced)
    if held is not None:
        choice.limits = {**choice.limits, **held.describe()}
    return choice, results or {}
