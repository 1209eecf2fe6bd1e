"""The statistics behind parity verdicts, on hand-built counts and arrays (no TensorFlow, fast):
exact intervals with their coverage checked by enumeration, the exact McNemar test, the robust
percentile, and the verdicts on the two cases that used to fail faithful exports."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from flowers_mobile.config import Config, VariantLimits
from flowers_mobile.judge.figures import compare
from flowers_mobile.judge.reference import Bounds
from flowers_mobile.judge.result import ExportParity, combine
from flowers_mobile.judge.stats import (
    agreement_sizer,
    clopper_pearson,
    decide_at_least,
    decide_at_most,
    drop_sizer,
    images_to_decide,
    mcnemar_exact,
    paired_change_interval,
    robust_percentile,
)
from flowers_mobile.judge.verdict import judge, limits_for, variant_of
from flowers_mobile.parity.report import render_markdown
from flowers_mobile.parity.result import ParityReport

#: Faithfulness bounds given by hand (what `judge.reference` derives from a model), per variant:
#: (mean TV, p99 |Δp|), the demo model's figures times a few.
BOUNDS = {"int8": (0.03, 0.4), "coreml_float16": (5e-3, 0.03), "float32": (1e-6, 1e-4)}


def _bounds(variant: str) -> Bounds:
    tv, p99 = BOUNDS[variant]
    return Bounds(variant, "given", tv / 3, p99 / 3, 3.0, tv, p99)


def _binomial(n: int, p: float) -> np.ndarray:
    return np.array([math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)])


def test_clopper_pearson_matches_published_values_and_closed_forms():
    assert clopper_pearson(5, 10) == pytest.approx((0.1871, 0.8129), abs=1e-4)  # textbook values
    assert clopper_pearson(0, 10)[1] == pytest.approx(0.3085, abs=1e-4)
    assert clopper_pearson(90, 90)[0] == pytest.approx(0.025 ** (1 / 90))
    assert clopper_pearson(0, 0) == (0.0, 1.0)
    lo, hi = clopper_pearson(89, 90)
    assert lo < 89 / 90 < hi


@pytest.mark.parametrize("n,p", [(30, 0.9), (50, 0.98), (90, 0.995), (20, 0.5)])
def test_clopper_pearson_covers_the_rate_at_least_95_percent(n, p):
    probs = _binomial(n, p)
    covered = sum(pr for k, pr in enumerate(probs) if clopper_pearson(k, n)[0] <= p <= clopper_pearson(k, n)[1])
    assert covered >= 0.95


def test_mcnemar_exact_is_twice_the_binomial_tail():
    assert mcnemar_exact(10, 2) == pytest.approx(2 * (1 + 12 + 66) / 4096)
    assert mcnemar_exact(2, 10) == pytest.approx(mcnemar_exact(10, 2))
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(1, 0) == 1.0


@pytest.mark.parametrize("pb,pc", [(0.05, 0.02), (0.2, 0.1), (0.03, 0.0), (0.01, 0.01)])
def test_paired_change_interval_covers_the_drop_at_least_95_percent(pb, pc):
    n, covered = 25, 0.0
    for b in range(n + 1):
        for c in range(n + 1 - b):
            pr = math.factorial(n) / (math.factorial(b) * math.factorial(c) * math.factorial(n - b - c)) \
                * pb**b * pc**c * (1 - pb - pc) ** (n - b - c)
            if pr < 1e-9:
                continue
            lo, hi = paired_change_interval(b, c, n)
            covered += pr if lo <= pb - pc <= hi else 0.0
    assert covered >= 0.95


def test_paired_change_interval_separates_one_flip_from_many():
    assert decide_at_most(paired_change_interval(1, 0, 90), 0.01) == "inconclusive"  # one image of 90
    assert decide_at_most(paired_change_interval(10, 0, 90), 0.01) == "fail"  # eleven points lost
    assert decide_at_most(paired_change_interval(0, 0, 1000), 0.01) == "pass"
    # No discordant image is not proof: 90 images cannot rule out a drop of a few points.
    assert paired_change_interval(0, 0, 90)[1] > 0.04


def test_robust_percentile_never_takes_the_max():
    one_near_tie = np.array([2e-4] * 89 + [0.0144])
    assert robust_percentile(one_near_tie, 0.99) == pytest.approx(2e-4)
    assert robust_percentile(np.arange(1000.0), 0.99) == 989.0
    assert robust_percentile(np.array([3.0]), 0.99) == 3.0


def test_verdicts_and_images_that_would_decide_them():
    assert decide_at_least((0.96, 1.0), 0.98) == "inconclusive"
    assert decide_at_least((0.90, 0.97), 0.98) == "fail"
    assert decide_at_least((0.981, 1.0), 0.98) == "pass"
    # 100% agreement passes 0.98 from n = ln(0.025) / ln(0.98) = 182.6 images on.
    assert images_to_decide(agreement_sizer(90, 90, 0.98), 90) == 183
    assert agreement_sizer(183, 183, 0.98)(183) == "pass"
    # No flip on n images certifies a 1-point drop limit from n = ln(0.0125) / ln(0.99) on.
    assert images_to_decide(drop_sizer(0, 0, 90, 0.01), 90) == math.ceil(math.log(0.0125) / math.log(0.99))
    # At a rate exactly on the limit more images never decide.
    assert images_to_decide(agreement_sizer(98, 100, 0.98), 100, cap=5000) is None


def test_combine_verdicts():
    assert combine(["pass", "pass"]) == "pass"
    assert combine(["pass", "inconclusive"]) == "inconclusive"
    assert combine(["inconclusive", "fail", "pass"]) == "fail"


# ---- the two false failures of faithful exports, rebuilt as arrays --------------------------


def _judged(reference: np.ndarray, probs: np.ndarray, true: np.ndarray | None, limits: VariantLimits,
            strict: bool = False, bounds: Bounds | None = None, ships: bool = True) -> ExportParity:
    labels = [f"c{i}" for i in range(reference.shape[1])]
    result = ExportParity(file="x", runtime="r", format="tflite", precision="p", images=len(reference), ships=ships)
    figures = compare(reference, probs, true, labels, [Path(f"{i}.png") for i in range(len(reference))],
                      near_tie_margin=limits.near_tie_margin, p99_limit=bounds.p99_abs_diff if bounds else None)
    for key, value in figures.items():
        setattr(result, key, value)
    judge(result, limits, bounds, true is not None, strict)
    return result


def _confident(n: int, classes: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(classes) * 0.3, size=n) * 0.1
    probs[np.arange(n), np.arange(n) % classes] += 0.9
    return (probs / probs.sum(1, keepdims=True)).astype(np.float32)


def test_one_near_tie_no_longer_decides_a_float16_package():
    """Core ML float16: 100% agreement, mean |Δp| ~2e-4, one near-tie image with max |Δp| 0.0144."""
    limits = limits_for("coreml_float16", Config().parity)
    reference = _confident(90)
    reference[7] = [0.49, 0.48, 0.01, 0.01, 0.01]  # Keras's top-2 margin 0.01: a near-tie
    probs = reference + np.random.default_rng(1).normal(0, 2e-4, reference.shape).astype(np.float32)
    probs[7] = [0.4756, 0.4944, 0.01, 0.01, 0.01]  # flipped by 0.0144
    bounds = _bounds("coreml_float16")
    result = _judged(reference, probs, np.arange(90) % 5, limits, bounds=bounds)
    assert result.max_abs_diff == pytest.approx(0.0144, abs=1e-3)
    assert result.near_ties == 1 and result.near_tie_flips == 1 and result.decided == 89
    assert result.agreement == 1.0  # the flip is a near-tie, not a disagreement
    assert result.near_tie_images[0]["path"] == "7.png"
    assert result.p99_abs_diff < 0.01 < result.max_abs_diff  # a max limit of 0.01 failed it
    assert result.p99_abs_diff < bounds.p99_abs_diff
    assert result.verdict != "fail" and result.passed
    assert {c.metric: c.verdict for c in result.checks}["p99_abs_diff"] == "pass"


def test_one_flip_in_90_images_is_inconclusive_and_says_how_many_images_would_decide():
    limits = limits_for("int8", Config().parity)
    reference = _confident(90)
    probs = reference.copy()
    true = np.arange(90) % 5
    probs[3] = np.roll(reference[3], 1)  # Keras right, the export wrong, on a confident image
    result = _judged(reference, probs, true, limits, bounds=_bounds("int8"))
    checks = {c.metric: c for c in result.checks}
    assert result.keras_right_export_wrong == 1 and result.keras_wrong_export_right == 0
    assert result.accuracy_change == pytest.approx(-1 / 90)
    assert checks["accuracy_drop"].verdict == "inconclusive"
    assert checks["accuracy_drop"].images_to_decide > 1000
    assert result.verdict == "inconclusive" and result.passed
    assert result.images_to_decide() >= checks["accuracy_drop"].images_to_decide
    strict = _judged(reference, probs, true, limits, strict=True, bounds=_bounds("int8"))
    assert strict.verdict == "inconclusive" and not strict.passed


def test_a_real_loss_fails_and_a_shifted_distribution_fails_the_artifact_bound():
    limits = limits_for("int8", Config().parity)
    reference, true = _confident(90), np.arange(90) % 5
    probs = reference.copy()
    probs[:12] = np.roll(reference[:12], 1, axis=1)  # 12 of 90 flipped from right to wrong
    loose = Bounds("int8", "given", 0.2, 0.5, 3.0, 0.6, 1.0)  # a model whose int8 rounding moves this much
    result = _judged(reference, probs, true, limits, bounds=loose)
    assert {c.metric: c.verdict for c in result.checks}["accuracy_drop"] == "fail"
    assert {c.metric: c.verdict for c in result.checks}["agreement"] == "fail"
    assert result.faithful == "pass" and result.fit == "fail"
    assert result.verdict == "fail" and not result.passed  # it ships: the bar counts
    # The same figures on a file that does not ship: faithful, below the bar, no failure.
    aside = _judged(reference, probs, true, limits, bounds=loose, ships=False)
    assert aside.faithful == "pass" and aside.fit == "fail" and aside.verdict == "pass" and aside.passed
    report = ParityReport(exports=[aside], model="m", export_dir="e", data="d", split="test", images=90, labels=[],
                          labels_known=True, keras_accuracy=None, keras_per_class_accuracy={}, skipped=[],
                          notes=[], limits={})
    assert report.passed and report.failures() == [] and "faithful, not fit to ship" in report.below_bar()[0]
    # Every top-1 kept, but every probability moved by more than the precision's own error.
    blurred = (0.6 * reference + 0.4 / reference.shape[1]).astype(np.float32)
    result = _judged(reference, blurred, true, limits, bounds=_bounds("int8"), ships=False)
    assert result.top1_agreement == 1.0 and result.accuracy_change == 0
    assert result.mean_tv > _bounds("int8").mean_tv and result.faithful == "fail"
    assert [c.metric for c in result.failed_checks()] == ["p99_abs_diff", "mean_tv"] or \
        [c.metric for c in result.failed_checks()] == ["mean_tv"]
    assert result.verdict == "fail"


def test_report_verdict_and_summary_carry_the_evidence():
    limits = limits_for("float32", Config().parity)
    reference = _confident(40)
    good = _judged(reference, reference.copy(), None, limits, bounds=_bounds("float32"))
    bad = _judged(reference, np.roll(reference, 1, axis=1), None, limits, bounds=_bounds("float32"))
    base = dict(model="m.keras", export_dir="e", data="d", split="unlabelled", images=40, labels=[],
                labels_known=False, keras_accuracy=None, keras_per_class_accuracy={}, skipped=[], notes=[],
                limits={})
    assert ParityReport(exports=[good], **base).verdict == good.verdict
    report = ParityReport(exports=[good, bad], **base)
    assert report.verdict == "fail" and not report.passed
    row = report.summary()["exports"][1]
    assert row["verdict"] == "fail" and row["near_ties"] == bad.near_ties
    assert row["agreement_interval"] == bad.agreement_interval and row["accuracy_change"] is None
    markdown = render_markdown(report)
    assert "| x | r |" in markdown and "FAIL" in markdown


def test_every_variant_has_a_row_and_unknown_variants_are_refused():
    from flowers_mobile.errors import UserError

    pc = Config().parity
    assert variant_of({"format": "mlpackage", "precision": "float16"}) == "coreml_float16"
    assert variant_of({"format": "mlpackage", "precision": "palette4"}) == "palette4"
    assert variant_of({"format": "saved_model", "precision": "float32"}) == "float32"
    assert variant_of({"format": "tflite", "precision": "int8"}) == "int8"
    for name in ("int8", "float16", "dynamic", "float32", "coreml_float16", "coreml_float32", "linear8",
                 "palette6", "palette4"):
        assert isinstance(limits_for(name, pc), VariantLimits)
    # Coarser precisions are asked less agreement, never more.
    assert limits_for("float16", pc).min_agreement >= limits_for("int8", pc).min_agreement >= \
        limits_for("palette4", pc).min_agreement
    with pytest.raises(UserError, match="no parity limits for export variant 'int4'"):
        limits_for("int4", pc)


def test_limits_are_set_per_variant_from_config_and_overrides():
    cfg = Config.from_dict({"parity": {"limits": {"int8": {"min_agreement": 0.95}}}})
    assert cfg.parity.limits.int8.min_agreement == 0.95
    # The keys not given keep that variant's own defaults, not another row's.
    assert cfg.parity.limits.int8.near_tie_margin == Config().parity.limits.int8.near_tie_margin
    assert cfg.parity.limits.float32 == Config().parity.limits.float32
    cfg = Config().with_overrides(["parity.limits.palette4.near_tie_margin=0.3", "parity.strict=true"])
    assert cfg.parity.limits.palette4.near_tie_margin == 0.3 and cfg.parity.strict is True
    from flowers_mobile.errors import UserError

    with pytest.raises(UserError, match="unknown key 'parity.limits.int8.max_diff'"):
        Config().with_overrides(["parity.limits.int8.max_diff=1"])
    with pytest.raises(UserError, match="out of range"):
        Config().with_overrides(["parity.limits.int8.min_agreement=1.5"])


def test_a_p99_over_its_bound_fails_only_when_the_count_proves_more_than_one_percent_over():
    """p99 above the bound with few images over it (faithful int8's tail) is inconclusive, not a
    failure; with many images over it, it fails."""
    limits = limits_for("int8", Config().parity)
    bound = _bounds("int8").p99_abs_diff
    reference, true = _confident(500), np.arange(500) % 5
    probs = reference.copy()
    tail = [3, 40, 77, 150, 201, 333, 402]  # 7 of 500 (1.4%) moved beyond the bound, top-1 kept
    shift = bound + 0.02
    for i in tail:
        top = int(reference[i].argmax())
        probs[i, top] -= shift
        probs[i, (top + 1) % 5] += shift
    few = _judged(reference, probs, true, limits, bounds=_bounds("int8"))
    check = {c.metric: c for c in few.checks}["p99_abs_diff"]
    assert few.p99_abs_diff > bound and few.over_p99_limit == len(tail)
    assert check.verdict == "inconclusive" and "7 of 500" in check.note
    assert check.images_to_decide is not None and check.images_to_decide > 500
    for i in range(0, 500, 25):  # 20 more images: 27 of 500 (5.4%) over the bound
        top = int(reference[i].argmax())
        probs[i, top] = reference[i, top] - shift
        probs[i, (top + 1) % 5] = reference[i, (top + 1) % 5] + shift
    many = _judged(reference, probs, true, limits, bounds=_bounds("int8"))
    assert many.over_p99_limit > 20
    assert {c.metric: c.verdict for c in many.checks}["p99_abs_diff"] == "fail" and many.verdict == "fail"
