"""`flowers-mobile evaluate`: the classification report of a trained model on a split or folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from flowers_mobile.commands.common import RunConfigOpt, SetOpt, console, run_config


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)


def evaluate(
    model: Annotated[Path, typer.Option("--model", "-m", help="A model.keras (its labels.txt beside it).")],
    data: Annotated[Path, typer.Option("--data", "-d", help="DIR/<class>/ or DIR/{train,val,test}/<class>/.")],
    split: Annotated[str, typer.Option(help="test, val, train, or all (every image in --data).")] = "test",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Report folder (default: MODEL_DIR/eval-SPLIT).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    config: RunConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Accuracy, top-5, macro F1, per-class precision/recall/F1 and a confusion matrix.

    The split fractions and seed come from --config, else from the run's config.json beside
    the model (so "test" is the split its training held out), else ./config.json.
    """
    from flowers_mobile.evaluation import evaluate as run_evaluation
    from flowers_mobile.evaluation import format_report

    # The run's own config.json (beside the model) by default: then "test" is the split that
    # training held out (same fractions and seed).
    cfg = run_config(model, config, set_)
    out_dir = out if out is not None else model.parent / f"eval-{split}"
    metrics = run_evaluation(model, data, cfg, split=split, out_dir=out_dir)
    if json_out:
        console.print_json(json.dumps(metrics))
        return
    console.print(format_report(metrics, f"{model} on {data} ({split})"), markup=False)
    table = Table(show_header=False)
    table.add_row("accuracy", f"{metrics['accuracy']:.1%}")
    table.add_row(f"top-{metrics['top_k']} accuracy", f"{metrics['top5_accuracy']:.1%}")
    table.add_row("macro F1", f"{metrics['macro_f1']:.3f}")
    table.add_row("images", str(metrics["num_images"]))
    table.add_row("report", str(out_dir))
    console.print(table)
