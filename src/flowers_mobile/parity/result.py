"""What parity found: one `Check` per limit, one `ExportParity` per artifact and runtime, and the
`ParityReport` over all of them (written as parity.json, parity.md and the manifest's summary)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from typing import Any

#: The three outcomes of a check, an export and a report.
VERDICTS = ("pass", "fail", "inconclusive")


def combine(verdicts: list[str]) -> str:
    """fail if any fails, else inconclusive if any is, else pass (nothing to judge: inconclusive)."""
    if "fail" in verdicts:
        return "fail"
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


@dataclass
class ParityReport:
    """Everything `parity` found. `verdict` is pass when every export passes, fail when one
    fails, inconclusive otherwise; `passed` is True when every export passed (inconclusive
    ones count as passed unless the run was strict)."""

    model: str
    export_dir: str
    data: str
    split: str
    images: int
    labels: list[str]
    labels_known: bool
    keras_accuracy: float | None
    keras_per_class_accuracy: dict[str, float]
    exports: list[ExportParity]
    skipped: list[dict[str, str]]
    notes: list[str]
    limits: dict[str, Any]
    strict: bool = False
    confidence: float = 0.95
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    @property
    def verdict(self) -> str:
        return combine([e.verdict for e in self.exports]) if self.exports else "fail"

    @property
    def passed(self) -> bool:
        return bool(self.exports) and all(e.passed for e in self.exports)

    def failures(self) -> list[str]:
        """One line per failed check (and per export that could not run)."""
        from flowers_mobile.parity.report import check_line

        out = []
        for e in self.exports:
            if e.error:
                out.append(f"{e.name}: {e.error}")
            out += [f"{e.name}: {check_line(c)}" for c in e.failed_checks()]
        return out

    def inconclusive(self) -> list[str]:
        """One line per inconclusive check, saying how many images would decide it."""
        from flowers_mobile.parity.report import check_line

        return [f"{e.name}: {check_line(c)}" for e in self.exports for c in e.inconclusive_checks()]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = self.verdict
        out["passed"] = self.passed
        for e, d in zip(self.exports, out["exports"], strict=True):
            d["name"] = e.name
            d["images_to_decide"] = e.images_to_decide()
        return out

    def summary(self) -> dict[str, Any]:
        """The short form kept in manifest.json."""
        keys = ("file", "runtime", "precision", "variant", "verdict", "passed", "images", "near_ties",
                "decided", "agreement", "agreement_interval", "top1_agreement", "max_abs_diff", "p99_abs_diff",
                "mean_tv", "accuracy_change", "keras_right_export_wrong", "keras_wrong_export_right",
                "accuracy_drop_interval", "error")
        return {
            "created": self.created, "verdict": self.verdict, "passed": self.passed, "strict": self.strict,
            "images": self.images, "split": self.split, "model": self.model, "keras_accuracy": self.keras_accuracy,
            "exports": [{**{k: getattr(e, k) for k in keys}, "images_to_decide": e.images_to_decide()}
                        for e in self.exports],
        }

    def to_markdown(self) -> str:
        from flowers_mobile.parity.report import render_markdown

        return render_markdown(self)
