"""What parity found: one `Check` per limit, one `ExportParity` per artifact and runtime, and the
`ParityReport` over all of them (written as parity.json, parity.md and the manifest's summary)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from typing import Any

from flowers_mobile.judge.result import VERDICTS, Check, ExportParity, combine, passes
from flowers_mobile.parity.texts import check_line

__all__ = ["VERDICTS", "Check", "ExportParity", "ParityReport", "combine", "passes"]

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
    #: Defects of the export as a whole, found outside the per-artifact comparison (its labels.txt,
    #: its declared input normalization): each fails the run.
    findings: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.findings:
            return "fail"
        return combine([e.verdict for e in self.exports]) if self.exports else "fail"

    @property
    def passed(self) -> bool:
        return not self.findings and bool(self.exports) and all(e.passed for e in self.exports)

    def failures(self) -> list[str]:
        """One line per check that fails its artifact (a faithfulness check; a fit-to-ship check of
        what ships), and per run that errored. A faithful artifact below the bar that does not ship
        is no failure: `below_bar` lists it."""
        out = [f"export: {f}" for f in self.findings]
        for e in self.exports:
            if e.error:
                out.append(f"{e.name}: error: {e.error}")
            out += [f"{e.name}: {check_line(c)}" for c in e.failed_checks() if c.question == "faithful" or e.ships]
        return out

    def below_bar(self) -> list[str]:
        """Faithful artifacts that do not ship and miss the quality bar: what their precision costs."""
        return [f"{e.name}: faithful, not fit to ship ({'; '.join(check_line(c) for c in e.failed_checks())})"
                for e in self.exports if not e.ships and e.faithful == "pass" and e.fit == "fail"]

    def inconclusive(self) -> list[str]:
        """One line per inconclusive check, saying how many images would decide it."""
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
        keys = ("file", "runtime", "precision", "variant", "verdict", "faithful", "fit", "ships", "passed", "images",
                "near_ties",
                "decided", "agreement", "agreement_interval", "top1_agreement", "max_abs_diff", "p99_abs_diff",
                "mean_tv", "accuracy_change", "keras_right_export_wrong", "keras_wrong_export_right",
                "accuracy_drop_interval", "error")
        return {
            "created": self.created, "verdict": self.verdict, "passed": self.passed, "strict": self.strict,
            "findings": self.findings,
            "images": self.images, "split": self.split, "model": self.model, "keras_accuracy": self.keras_accuracy,
            "exports": [{**{k: getattr(e, k) for k in keys}, "images_to_decide": e.images_to_decide()}
                        for e in self.exports],
        }
