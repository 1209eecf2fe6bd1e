"""`flowers-mobile parity --model M --exports DIR --data DIR`: every export against Keras."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flowers_mobile.commands.common import (
    ConfigOpt,
    SetOpt,
    console,
    err_console,
    get_config,
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


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.2f}%"


def parity(
    model: Annotated[Path, typer.Option("--model", "-m", help="The Keras model the export came from (labels.txt beside it).")],
    exports: Annotated[Path, typer.Option("--exports", "-e", help="Export folder (manifest.json, labels.txt, artifacts).")],
    data: Annotated[Path, typer.Option("--data", "-d", help="Data folder; its test split (else val) is used.")],
    max_images: Annotated[int | None, typer.Option(min=1, help="Cap on images, stratified over classes (default: parity.max_images).")] = None,
    runtime: Annotated[list[str] | None, typer.Option(
        "--runtime", help="Force runtimes per format or file, e.g. tflite=litert (repeatable).",
        metavar="KEY=RUNTIME")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Compare every export with the Keras model on held-out images; exit 1 when one falls short."""
    from flowers_mobile.parity import run_parity

    cfg = get_config(config, set_)
    with console.status("parity") as status:
        report = run_parity(model, exports, data, cfg, max_images=max_images, runtimes=_parse_runtimes(runtime),
                            progress=lambda msg: status.update(f"parity: {escape(msg)}"))
    # Piped output (make demo, CI logs) is not width-limited: keep the table on one line per export.
    out = table_console()
    table = Table(title=f"parity: {report.images} {report.split} images, Keras accuracy "
                        f"{_pct(report.keras_accuracy)}")
    for col in ("export", "runtime", "precision", "top-1 agree", "top-5 agree", "max |Δp|", "mean |Δp|",
                "accuracy", "Δ acc", "result"):
        table.add_column(col, justify="left" if col in ("export", "runtime", "precision") else "right")
    for e in report.exports:
        ok = "[green]pass[/]" if e.passed else "[red]FAIL[/]"
        table.add_row(e.file, e.runtime, e.precision, _pct(e.top1_agreement), _pct(e.top5_agreement),
                      "n/a" if e.max_abs_diff is None else f"{e.max_abs_diff:.2e}",
                      "n/a" if e.mean_abs_diff is None else f"{e.mean_abs_diff:.2e}", _pct(e.accuracy),
                      "n/a" if e.accuracy_change is None else f"{100 * e.accuracy_change:+.2f} pt", ok)
    out.print(table)
    for note in report.notes:
        err_console.print(f"[yellow]note[/] {escape(note)}", soft_wrap=True)
    for s in report.skipped:  # the error names the file
        err_console.print(f"[yellow]skipped[/] {escape(s['error'])}", soft_wrap=True)
    console.print(f"wrote {exports / 'parity.json'} and {exports / 'parity.md'}")
    if not report.passed:
        for line in report.failures():
            err_console.print(f"[red]short[/] {escape(line)}", soft_wrap=True)
        raise CheckFailed(f"{sum(not e.passed for e in report.exports)} of {len(report.exports)} export(s) "
                          "fall short of the parity limits (see parity.md)")


def register(app: typer.Typer) -> None:
    app.command("parity")(parity)
