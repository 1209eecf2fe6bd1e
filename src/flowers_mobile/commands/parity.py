"""`flowers-mobile parity --model M --exports DIR --data DIR`: every export against Keras."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flowers_mobile.commands.common import (
    RunConfigOpt,
    SetOpt,
    console,
    err_console,
    run_config,
    table_console,
)
from flowers_mobile.errors import CheckFailed, UserError


def _parse_runtimes(items: list[str] | None) -> dict[str, str] | None:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UserError(f"--runtime {item!r} is not KEY=RUNTIME",
                            hint="e.g. --runtime mlpackage=coreml_executor or --runtime flowers.tflite=litert,task_library")
        out[key.strip()] = value.strip()
    return out or None


_VERDICT_STYLE = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "inconclusive": "[yellow]inconclusive[/]",
                  "error": "[red]ERROR[/]"}


def parity(
    model: Annotated[Path, typer.Option("--model", "-m", help="The Keras model the export came from (labels.txt beside it).")],
    exports: Annotated[Path, typer.Option("--exports", "-e", help="Export folder (manifest.json, labels.txt, artifacts).")],
    data: Annotated[Path, typer.Option("--data", "-d", help="Labelled data folder (its val and test splits are used) "
                                       "or any folder of images (agreement only).")],
    max_images: Annotated[int | None, typer.Option(min=1, help="Cap on images, stratified over classes or spread over folders (default: parity.max_images).")] = None,
    runtime: Annotated[list[str] | None, typer.Option(
        "--runtime", help="Force runtimes per format or file, e.g. tflite=litert (repeatable).",
        metavar="KEY=RUNTIME")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Inconclusive verdicts (too few images to tell) fail "
                                         "too (default: parity.strict).")] = False,
    config: RunConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Judge every export against the Keras model: faithful? fit to ship? Exit 1 when one is not
    faithful, what ships is not fit to ship, or a runtime could not run one (an error row).

    An export whose sample is too small to tell is inconclusive: a warning, exit 0 (1 with --strict).
    """
    from flowers_mobile.judge import answer_text
    from flowers_mobile.parity import run_parity
    from flowers_mobile.parity.report import (
        accuracy_text,
        agreement_text,
        decide_text,
        pct,
        sci,
        undecided_line,
    )

    # --max-images and --strict are overrides of parity.max_images and parity.strict.
    cfg = run_config(model, config, set_, {"parity.max_images": max_images, "parity.strict": True if strict else None})
    with console.status("parity") as status:
        report = run_parity(model, exports, data, cfg, max_images=cfg.parity.max_images,
                            runtimes=_parse_runtimes(runtime),
                            progress=lambda msg: status.update(f"parity: {escape(msg)}"), strict=cfg.parity.strict)
    # Piped output (make demo, CI logs) is not width-limited: keep the table on one line per export.
    out = table_console()
    table = Table(title=f"parity: {report.images} {report.split} images, Keras accuracy "
                        f"{pct(report.keras_accuracy)}; agreement excludes near-ties, 95% intervals")
    for col in ("export", "runtime", "variant", "agreement (95% CI)", "near-ties", "p99 |Δp|", "max |Δp|",
                "mean TV", "TV bound", "Δ acc (lost, gained)", "verdict"):
        table.add_column(col, justify="left" if col in ("export", "runtime", "variant", "verdict") else "right")
    for e in report.exports:
        verdict = _VERDICT_STYLE[e.verdict] + (f" ({decide_text(e)})" if e.verdict == "inconclusive" else "")
        if e.verdict != "error":
            verdict += f": {answer_text(e)}" + (" (ships)" if e.ships else "")
        table.add_row(e.file, e.runtime, e.variant, agreement_text(e), f"{e.near_ties} ({e.near_tie_flips} flipped)",
                      sci(e.p99_abs_diff), sci(e.max_abs_diff), sci(e.mean_tv), sci(e.bounds.get("mean_tv")),
                      accuracy_text(e), verdict)
    out.print(table)
    for note in report.notes:
        err_console.print(f"[yellow]note[/] {escape(note)}", soft_wrap=True)
    for s in report.skipped:  # the error names the file
        err_console.print(f"[yellow]skipped[/] {escape(s['error'])}", soft_wrap=True)
    console.print(f"wrote {exports / 'parity.json'} and {exports / 'parity.md'}")
    for e in report.exports:  # one line per export; parity.md has each check
        if e.verdict == "inconclusive":
            err_console.print(f"[yellow]{'short' if report.strict else 'warning'}[/] {escape(undecided_line(e))}",
                              soft_wrap=True)
    for line in report.failures():
        err_console.print(f"[red]short[/] {escape(line)}", soft_wrap=True)
    if not report.passed:
        failed = sum(e.verdict == "fail" for e in report.exports)
        errors = sum(e.verdict == "error" for e in report.exports)
        undecided = sum(e.verdict == "inconclusive" for e in report.exports)
        what = f"{failed} of {len(report.exports)} export(s) fail parity"
        if report.findings:
            what = f"the export fails parity as a whole ({len(report.findings)} finding(s)), " + what
        if errors:
            what += f", {errors} could not be run (error)"
        if report.strict and undecided:
            what += f", {undecided} inconclusive (--strict)"
        raise CheckFailed(what + " (see parity.md)")


def register(app: typer.Typer) -> None:
    app.command("parity")(parity)
