"""From figures to verdicts: each export's limits (its row of `parity.limits`) and what the sample
says about each one: pass, fail, or inconclusive with how many images would decide it.

- agreement >= min_agreement, on the images that are not near-ties: its 95% Clopper-Pearson
  interval decides (below the limit: fail; at or above: pass; straddling: inconclusive).
- accuracy drop <= max_accuracy_drop (labels known): the paired counts' 95% interval decides
  the same way; the exact McNemar p-value is reported beside it.
- p99 of per-image max |Δp| <= max_p99_abs_diff: a sample p99 within the bound passes; above
  it, the images over the bound are counted, and it fails only when their 95% interval lies
  above 1% of images (the p99 is a 1%-tail claim), else inconclusive.
- mean total-variation distance <= max_mean_tv (the artifact judged on its own): pass or fail
  on the value (a mean over every image is stable where a tail quantile is not).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from flowers_mobile import variants
from flowers_mobile.config import ParityConfig, VariantLimits
from flowers_mobile.errors import UserError
from flowers_mobile.parity.result import Check, ExportParity, combine, passes
from flowers_mobile.parity.stats import (
    CONFIDENCE,
    MAX_IMAGES_TO_DECIDE,
    agreement_sizer,
    clopper_pearson,
    decide_at_least,
    decide_at_most,
    drop_sizer,
    images_to_decide,
    mcnemar_exact,
    paired_change_interval,
)


def variant_of(artifact: dict[str, Any]) -> str:
    """The `parity.limits` row of a manifest artifact, from the variant catalogue: Core ML compute
    precisions are coreml_float16 / coreml_float32 (float16 compute is not TFLite's float16
    weights), a SavedModel is float32. A precision the catalogue lacks is its own row name
    (`limits_for` then says there is no such row)."""
    precision, fmt = artifact.get("precision", ""), artifact.get("format", "")
    row = variants.variant_of(fmt, precision)
    return row.limits if row is not None else precision


def limits_for(variant: str, pc: ParityConfig) -> VariantLimits:
    """The limits of `variant`; a variant without a row is a UserError (never another's limits)."""
    table = pc.limits.variants()
    if variant not in table:
        raise UserError(f"no parity limits for export variant {variant!r}",
                        hint=f"parity.limits has {', '.join(table)}")
    return table[variant]


def _leaning(sizer: Callable[[int], str], needed: int | None) -> str:
    """Which way more images at the rates seen would decide: 'would pass' / 'would fail'."""
    if needed is None:
        return f"not decided within {MAX_IMAGES_TO_DECIDE} images at these rates"
    return f"would {sizer(needed)} at these rates"


def _check(metric: str, op: str, limit: float, value: Any, verdict: str, strict: bool, **extra: Any) -> Check:
    return Check(metric, op, limit, value, verdict, passes(verdict, strict), **extra)


def agreement_check(result: ExportParity, limits: VariantLimits, strict: bool,
                    confidence: float = CONFIDENCE) -> Check:
    """Agreement on the decided (not near-tie) images against `min_agreement`."""
    n, k, limit = result.decided, result.agreements, limits.min_agreement
    interval = clopper_pearson(k, n, confidence)
    result.agreement_interval = list(interval)
    verdict = decide_at_least(interval, limit) if n else "inconclusive"
    extra: dict[str, Any] = {"interval": list(interval)}
    if n == 0:
        extra["note"] = "every image is a near-tie"
    elif verdict == "inconclusive":
        sizer = agreement_sizer(k, n, limit, confidence)
        needed = images_to_decide(sizer, n)
        # Decided images needed, scaled to held-out images at this near-tie rate.
        extra["images_to_decide"] = None if needed is None else math.ceil(needed * result.images / n)
        extra["note"] = _leaning(sizer, needed)
    return _check("agreement", ">=", limit, result.agreement, verdict, strict, **extra)


def accuracy_check(result: ExportParity, limits: VariantLimits, strict: bool,
                   confidence: float = CONFIDENCE) -> Check:
    """The accuracy drop (paired counts over every image) against `max_accuracy_drop`."""
    b, c, n = result.keras_right_export_wrong or 0, result.keras_wrong_export_right or 0, result.images
    limit = limits.max_accuracy_drop
    interval = paired_change_interval(b, c, n, confidence)
    result.accuracy_drop_interval = list(interval)
    result.mcnemar_p = mcnemar_exact(b, c)
    verdict = decide_at_most(interval, limit)
    extra: dict[str, Any] = {"interval": list(interval), "note": f"{b} lost, {c} gained"}
    if verdict == "inconclusive":
        sizer = drop_sizer(b, c, n, limit, confidence)
        extra["images_to_decide"] = images_to_decide(sizer, n)
        extra["note"] += f"; {_leaning(sizer, extra['images_to_decide'])}"
    return _check("accuracy_drop", "<=", limit, (b - c) / n if n else 0.0, verdict, strict, **extra)


#: The share of images a p99 bound lets exceed it.
P99_TAIL = 0.01


def p99_check(result: ExportParity, limits: VariantLimits, strict: bool, confidence: float = CONFIDENCE) -> Check:
    """The p99 of per-image max |Δp| against `max_p99_abs_diff`, judged by the count above it.

    A p99 at n images is nearly the (n/100)-th largest value, so one near-tie image more or less
    moves it across a bound set at the precision's own tail: a p99 above the bound fails only
    when more than 1% of images exceed the bound with 95% confidence.
    """
    limit, value, n, over = limits.max_p99_abs_diff, result.p99_abs_diff, result.images, result.over_p99_limit
    if value <= limit:
        return _check("p99_abs_diff", "<=", limit, value, "pass", strict)
    if over is None or n == 0:  # no count to weigh: judged on the value
        return _check("p99_abs_diff", "<=", limit, value, "fail", strict)
    within = clopper_pearson(n - over, n, confidence)
    verdict = decide_at_least(within, 1.0 - P99_TAIL)
    verdict = "fail" if verdict == "fail" else "inconclusive"
    extra: dict[str, Any] = {"note": f"{over} of {n} images above it"}
    if verdict == "inconclusive":
        sizer = agreement_sizer(n - over, n, 1.0 - P99_TAIL, confidence)
        extra["images_to_decide"] = images_to_decide(sizer, n)
        extra["note"] += f"; {_leaning(sizer, extra['images_to_decide'])}"
    return _check("p99_abs_diff", "<=", limit, value, verdict, strict, **extra)


def judge(result: ExportParity, limits: VariantLimits, labels_known: bool, strict: bool,
          confidence: float = CONFIDENCE) -> None:
    """Append the limit checks to `result.checks` and set its verdict and `passed`.

    An export that could not be compared (`error`) fails; so does any failed check (labels and
    input size are checked by the caller). `min_agreement` 0 and `max_accuracy_drop` 1 mean not
    held (the float32 rows: their |Δp| bounds are the test); the intervals are still reported.
    """
    if result.error is None and result.p99_abs_diff is not None:
        if limits.min_agreement > 0:
            result.checks.append(agreement_check(result, limits, strict, confidence))
        else:
            result.agreement_interval = list(clopper_pearson(result.agreements, result.decided, confidence))
        if labels_known and result.keras_right_export_wrong is not None:
            if limits.max_accuracy_drop < 1:
                result.checks.append(accuracy_check(result, limits, strict, confidence))
            else:  # not held; the paired figures are still reported
                b, c = result.keras_right_export_wrong, result.keras_wrong_export_right or 0
                result.accuracy_drop_interval = list(paired_change_interval(b, c, result.images, confidence))
                result.mcnemar_p = mcnemar_exact(b, c)
        result.checks.append(p99_check(result, limits, strict, confidence))
        value = result.mean_tv
        result.checks.append(_check("mean_tv", "<=", limits.max_mean_tv, value,
                                    "pass" if value <= limits.max_mean_tv else "fail", strict))
    verdicts = [c.verdict for c in result.checks]
    result.verdict = "fail" if result.error is not None else combine(verdicts)
    result.passed = passes(result.verdict, strict)
