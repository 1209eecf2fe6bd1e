"""From figures to verdicts, the one judge `convert` and `parity` share. Each artifact gets two answers:

faithful (a conversion without defect; `question="faithful"`)
  - labels, input size and category names match (the caller's checks);
  - mean total-variation distance <= the bound derived from the model (`judge.reference`):
    pass or fail on the value (a mean over every image is stable where a tail quantile is not);
  - p99 of per-image max |Δp| <= its derived bound: a sample p99 within it passes; above it, the
    images over the bound are counted, and it fails only when their 95% interval lies above 1%
    of images (the p99 is a 1%-tail claim), else inconclusive.
fit to ship (the user's quality bar, the variant's row of `parity.limits`; `question="fit"`)
  - agreement >= min_agreement on the images that are not near-ties: its 95% Clopper-Pearson
    interval decides (below: fail; at or above: pass; straddling: inconclusive);
  - accuracy drop <= max_accuracy_drop (labels known): the paired counts' 95% interval decides
    the same way; the exact McNemar p-value is reported beside it.

The artifact's verdict: error when a runtime could not run it; fail when it is not faithful, or
when it ships (an app takes it) and is not fit to ship; otherwise the faithful answer combined
with, for what ships, the fit answer. A faithful artifact below the bar that does not ship
passes: that is what its precision costs on this model, not a defect. Inconclusive is never a
pass or a miss: it stays inconclusive, with the images that would decide it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from flowers_mobile import variants
from flowers_mobile.config import ParityConfig, VariantLimits
from flowers_mobile.errors import UserError
from flowers_mobile.judge.reference import Bounds
from flowers_mobile.judge.result import Check, ExportParity, combine, passes
from flowers_mobile.judge.stats import (
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


def _fit(check: Check) -> Check:
    check.question = "fit"
    return check


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


def p99_check(result: ExportParity, bounds: Bounds, strict: bool, confidence: float = CONFIDENCE) -> Check:
    """The p99 of per-image max |Δp| against its derived bound, judged by the count above it.

    A p99 at n images is nearly the (n/100)-th largest value, so one near-tie image more or less
    moves it across a bound set at the precision's own tail: a p99 above the bound fails only
    when more than 1% of images exceed the bound with 95% confidence.
    """
    limit, value, n, over = bounds.p99_abs_diff, result.p99_abs_diff, result.images, result.over_p99_limit
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


def judge(result: ExportParity, limits: VariantLimits, bounds: Bounds | None, labels_known: bool, strict: bool,
          confidence: float = CONFIDENCE) -> None:
    """Append the checks to `result.checks` (the caller's labels / input checks stay first) and set
    `faithful`, `fit`, `verdict` and `passed` (see the module docstring).

    `min_agreement` 0 and `max_accuracy_drop` 1 mean not held (the float32 rows: faithfulness is
    their test); the intervals are still reported. `bounds` None: no faithfulness bound could
    be derived (nothing compared), which leaves faithful inconclusive unless a check failed.
    """
    if result.error is None and result.p99_abs_diff is not None:
        if limits.min_agreement > 0:
            result.checks.append(_fit(agreement_check(result, limits, strict, confidence)))
        else:
            result.agreement_interval = list(clopper_pearson(result.agreements, result.decided, confidence))
        if labels_known and result.keras_right_export_wrong is not None:
            if limits.max_accuracy_drop < 1:
                result.checks.append(_fit(accuracy_check(result, limits, strict, confidence)))
            else:  # not held; the paired figures are still reported
                b, c = result.keras_right_export_wrong, result.keras_wrong_export_right or 0
                result.accuracy_drop_interval = list(paired_change_interval(b, c, result.images, confidence))
                result.mcnemar_p = mcnemar_exact(b, c)
        if bounds is not None:
            result.bounds = bounds.to_dict()
            result.checks.append(p99_check(result, bounds, strict, confidence))
            value = result.mean_tv
            result.checks.append(_check("mean_tv", "<=", bounds.mean_tv, value,
                                        "pass" if value <= bounds.mean_tv else "fail", strict))
    settle(result, strict)


def settle(result: ExportParity, strict: bool) -> None:
    """`faithful`, `fit`, `verdict` and `passed` from the checks (again after a check is added)."""
    if result.error is not None:
        result.faithful, result.fit, result.verdict, result.passed = "error", None, "error", False
        return
    faithful = [c.verdict for c in result.checks if c.question == "faithful"]
    fit = [c.verdict for c in result.checks if c.question == "fit"]
    result.faithful = combine(faithful)
    result.fit = combine(fit) if fit else None
    if result.faithful == "fail":
        result.verdict = "fail"
    elif result.ships and result.fit is not None:
        result.verdict = combine([result.faithful, result.fit])
    else:
        result.verdict = result.faithful
    result.passed = passes(result.verdict, strict)


def answer_text(result: ExportParity) -> str:
    """'faithful, fit to ship' / 'faithful, not fit to ship' / 'NOT faithful' / 'error: ...'."""
    if result.verdict == "error":
        return f"error: {result.error}"
    faithful = {"pass": "faithful", "fail": "NOT faithful", "inconclusive": "faithful undecided"}[result.faithful]
    fit = {None: "", "pass": ", fit to ship", "fail": ", not fit to ship",
           "inconclusive": ", fit to ship undecided"}[result.fit]
    return faithful + fit
