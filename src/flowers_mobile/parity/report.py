"""parity.md, and the short texts of an export the CLI and the report share (those of one check: `texts.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flowers_mobile.parity.texts import fmt_value, interval_text, pct

if TYPE_CHECKING:
    from flowers_mobile.judge.result import ExportParity
    from flowers_mobile.parity.result import ParityReport


def pts(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:+.2f} pt"


def sci(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2e}"


def agreement_text(e: ExportParity) -> str:
    """'97.80% [92.3, 99.7]%' (agreement on the decided images with its interval)."""
    return "n/a" if e.agreement is None else f"{pct(e.agreement)} {interval_text(e.agreement_interval)}"


def accuracy_text(e: ExportParity) -> str:
    """'-1.11 pt (1 lost, 0 gained)'."""
    if e.accuracy_change is None:
        return "n/a"
    return f"{pts(e.accuracy_change)} ({e.keras_right_export_wrong} lost, {e.keras_wrong_export_right} gained)"


def decide_text(e: ExportParity) -> str:
    """What an inconclusive export needs: 'about 420 images would decide it'."""
    if e.verdict != "inconclusive":
        return ""
    needed = e.images_to_decide()
    return f"about {needed} images would decide it" if needed else "not decided within 100000 images at these rates"


def undecided_line(e: ExportParity) -> str:
    """One line for an inconclusive export: what would decide it, then its undecided checks in short."""
    parts = []
    for c in e.inconclusive_checks():
        value = agreement_text(e) if c.metric == "agreement" else accuracy_text(e) if c.metric == "accuracy_drop" \
            else fmt_value(c.value)
        parts.append(f"{c.metric} {value} vs {c.op} {fmt_value(c.limit)}")
    return f"{e.name}: inconclusive, {decide_text(e)} ({'; '.join(parts)})"


def _limits_text(e: ExportParity) -> str:
    shown = [c for c in e.checks if c.metric not in ("labels", "input_size", "category_names",
                                                     "top1_agreement_with_litert")]
    return ", ".join(f"{c.metric} {c.op} {fmt_value(c.limit)}" for c in shown) or "-"


def _answer(e: ExportParity) -> str:
    from flowers_mobile.judge.verdict import answer_text

    verdict = e.verdict.upper() if e.verdict in ("fail", "error") else e.verdict
    if e.verdict == "inconclusive":
        verdict += f" ({decide_text(e)})"
    return f"{verdict}: {answer_text(e)}" + (" (ships)" if e.ships else "")


def _table(report: ParityReport) -> list[str]:
    lines = [
        "| export | runtime | variant | agreement (95% CI) | near-ties | top-5 agree | p99 / max |Δp| "
        "| mean TV | accuracy | Δ accuracy (lost, gained) | limits | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in report.exports:
        verdict = _answer(e)
        lines.append(
            f"| {e.file} | {e.runtime} | {e.variant} | {agreement_text(e)} | {e.near_ties} ({e.near_tie_flips} flipped) "
            f"| {pct(e.top5_agreement)} | {sci(e.p99_abs_diff)} / {sci(e.max_abs_diff)} | {sci(e.mean_tv)} "
            f"| {pct(e.accuracy)} | {accuracy_text(e)} | {_limits_text(e)} | {verdict} |")
    return lines


def _export_details(e: ExportParity) -> list[str]:
    changed = {k: v for k, v in e.per_class_accuracy_change.items() if v}
    if not changed and not e.worst and not e.near_tie_images:
        return []
    lines = ["", f"## {e.name}", ""]
    if e.mcnemar_p is not None:
        lines += [f"Exact McNemar test of any accuracy change: p = {e.mcnemar_p:.3g}; drop interval "
                  f"{interval_text(e.accuracy_drop_interval, points=True)}.", ""]
    if changed:
        lines += ["Per-class accuracy change: " + ", ".join(f"{k} {pts(v)}" for k, v in sorted(changed.items())), ""]
    rows = [("Most different", e.worst), (f"Near-ties ({e.near_ties}; Keras top-2 margin below the limit)",
                                          e.near_tie_images)]
    for title, items in rows:
        if not items:
            continue
        lines += [f"{title}:", "", "| image | true | Keras (margin) | export | max abs diff |", "|---|---|---|---|---|"]
        lines += [f"| {Path(w['path']).name} | {w['true'] or ''} | {w['keras']} {w['keras_prob']:.3f} "
                  f"({w['keras_margin']:.3f}) | {w['export']} {w['export_prob']:.3f} | {w['max_abs_diff']:.2e} |"
                  for w in items]
        lines.append("")
    return lines


def render_markdown(report: ParityReport) -> str:
    """parity.md: the table, what failed or is undecided, the limits, then per export its paired
    test, per-class changes, most different images and near-ties."""
    lines = [
        f"# Parity: {Path(report.export_dir).name} against {Path(report.model).name}",
        "",
        f"- {report.created}; {report.images} {report.split} images from `{report.data}`"
        + (f"; {len(report.skipped)} skipped (undecodable)" if report.skipped else ""),
        f"- Keras accuracy: {pct(report.keras_accuracy)}" if report.labels_known else "- accuracy: no labels (n/a)",
        f"- Verdict: **{report.verdict.upper()}**" + (" (strict: inconclusive fails)" if report.strict else ""),
        f"- Intervals: {100 * report.confidence:.0f}% (Clopper-Pearson; the accuracy drop's from the paired "
        "counts). Agreement is over the images that are not near-ties. See docs/parity.md.",
        "",
        *_table(report),
    ]
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    for title, items in (("Failed", report.failures()), ("Faithful, below the bar (not shipped)", report.below_bar()),
                         ("Inconclusive", report.inconclusive())):
        if items:
            lines += ["", f"## {title}", ""] + [f"- {f}" for f in items]
    lines += ["", "## Faithfulness bounds, derived from the model", "",
              "| variant | reference | its mean TV / p99 to Keras | multiple | bound mean TV / p99 |", "|---|---|---|---|---|"]
    seen = set()
    for e in report.exports:
        b = e.bounds
        if b and b["variant"] not in seen:
            seen.add(b["variant"])
            floored = f" (floor: {', '.join(b['floored'])})" if b["floored"] else ""
            lines.append(f"| {b['variant']} | {b['scheme']} | {sci(b['reference_mean_tv'])} / {sci(b['reference_p99'])} "
                         f"| {b['multiple']:g} | {sci(b['mean_tv'])} / {sci(b['p99_abs_diff'])}{floored} |")
    lines += ["", "## Limits (the quality bar: fit to ship)", ""]
    lines += [f"- `{k}`: {v}" for k, v in report.limits.items() if k != "limits"]
    lines += [f"- `limits.{name}`: " + ", ".join(f"{k} {v}" for k, v in row.items())
              for name, row in report.limits.get("limits", {}).items()]
    for e in report.exports:
        lines += _export_details(e)
    if report.skipped:
        lines += ["", "## Skipped images", ""] + [f"- `{s['path']}`: {s['error']}" for s in report.skipped]
    return "\n".join(lines).rstrip("\n") + "\n"
