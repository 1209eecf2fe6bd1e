"""What an artifact's judgement holds: one `Check` per limit, and `ExportParity`, one artifact through
one runtime with its figures, its two answers (faithful, fit to ship) and its verdict. Plain data:
`judge.verdict` fills it, `parity` and `convert` read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The outcomes of a check, an export and a report. "error": a runtime could not load or run the
#: artifact (its one-line reason is in `ExportParity.error`); it is neither a pass nor a miss.
VERDICTS = ("pass", "fail", "inconclusive", "error")


def combine(verdicts: list[str]) -> str:
    """fail if any fails, else error if any is, else inconclusive if any is, else pass (nothing to
    judge: inconclusive)."""
    if "fail" in verdicts:
        return "fail"
    if "error" in verdicts:
        return "error"
    return "pass" if verdicts and all(v == "pass" for v in verdicts) else "inconclusive"


def passes(verdict: str, strict: bool) -> bool:
    """pass passes; inconclusive passes unless strict; fail never does."""
    return verdict == "pass" or (verdict == "inconclusive" and not strict)


@dataclass
class Check:
    """One limit an export is held to, and what the sample says about it."""

    metric: str  # agreement | accuracy_drop | p99_abs_diff | mean_tv | labels | input_size
    op: str  # ">=" | "<=" | "=="
    limit: Any
    value: Any
    verdict: str
    passed: bool
    #: 95% interval of the value, for the metrics judged by one (agreement, accuracy_drop).
    interval: list[float] | None = None
    #: Inconclusive: about how many held-out images would decide it at the rates seen (None:
    #: more than parity searches, or the rate sits on the limit).
    images_to_decide: int | None = None
    note: str = ""
    #: Which question the check answers: "faithful" (a conversion without defect: labels, input
    #: size, distances within the precision's own rounding) or "fit" (the user's quality bar:
    #: agreement, accuracy drop).
    question: str = "faithful"


@dataclass
class ExportParity:
    """Parity of one artifact through one runtime against the Keras model."""

    file: str
    runtime: str
    format: str
    precision: str
    #: The row of `parity.limits` this export is held to (coreml_float16 for a float16 package).
    variant: str = ""
    images: int = 0
    #: Top-1 agreement over every image, and top-5 (Keras's top-1 among the export's top 5).
    top1_agreement: float | None = None
    top5_agreement: float | None = None
    #: Images whose Keras top-2 margin is below the variant's near-tie margin: apart from agreement.
    near_ties: int = 0
    near_tie_flips: int = 0
    near_tie_images: list[dict[str, Any]] = field(default_factory=list)
    #: Agreement judged on the other images ("decided"), with its 95% Clopper-Pearson interval.
    decided: int = 0
    agreements: int = 0
    agreement: float | None = None
    agreement_interval: list[float] | None = None
    #: Per-image max |Δp|: its max and its robust 99th percentile; mean |Δp| over every
    #: probability; mean total-variation distance (½ Σ|Δp| per image, averaged).
    max_abs_diff: float | None = None
    p99_abs_diff: float | None = None
    #: Images whose max |Δp| is above the variant's p99 bound (how a p99 above it is judged).
    over_p99_limit: int | None = None
    mean_abs_diff: float | None = None
    mean_tv: float | None = None
    accuracy: float | None = None
    accuracy_change: float | None = None
    #: Paired counts (labels known): Keras right and export wrong, and the reverse; the exact
    #: McNemar p-value of "they differ", and the 95% interval of the accuracy drop.
    keras_right_export_wrong: int | None = None
    keras_wrong_export_right: int | None = None
    mcnemar_p: float | None = None
    accuracy_drop_interval: list[float] | None = None
    #: label -> change in that class's accuracy against Keras (labels known).
    per_class_accuracy_change: dict[str, float] = field(default_factory=dict)
    worst: list[dict[str, Any]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    #: The bounds faithfulness was judged by, derived from the model (`judge.reference`): the
    #: reference scheme, its distances to Keras, the multiple, any floor applied.
    bounds: dict[str, Any] = field(default_factory=dict)
    #: The two answers: faithful (pass | fail | inconclusive | error) and fit to ship (the same,
    #: or None when the bar was not asked). `ships`: the file an app takes (manifest default_for).
    faithful: str = "inconclusive"
    fit: str | None = None
    ships: bool = False
    verdict: str = "fail"
    passed: bool = False
    error: str | None = None
    seconds: float = 0.0
    describe: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.file} [{self.runtime}]"

    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if c.verdict == "fail"]

    def inconclusive_checks(self) -> list[Check]:
        return [c for c in self.checks if c.verdict == "inconclusive"]

    def images_to_decide(self) -> int | None:
        """Held-out images that would decide every inconclusive check (None: unknown or none)."""
        needed = [c.images_to_decide for c in self.inconclusive_checks()]
        return None if not needed or None in needed else max(n for n in needed if n is not None)
