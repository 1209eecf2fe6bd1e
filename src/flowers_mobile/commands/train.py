"""`flowers-mobile train`: a data folder in, a run folder (model.keras, labels.txt, reports) out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from flowers_mobile.commands.common import ConfigOpt, SetOpt, get_config, table_console
from flowers_mobile.commands.progress_view import RichProgress


def register(app: typer.Typer) -> None:
    app.command("train")(train)


def train(
    data: Annotated[Path, typer.Option("--data", "-d", help="DIR/<class>/ or DIR/{train,val,test}/<class>/.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder to write (replaced when it holds a finished run).")] = Path("models/run"),
    resume: Annotated[bool, typer.Option("--resume", help="Continue the interrupted run in --out from its last finished epoch.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")] = True,
    workers: Annotated[int, typer.Option(
        "--workers", min=0, help="Train as N local MultiWorkerMirroredStrategy workers on 127.0.0.1 "
                                 "(training.distribute=multi_worker; 0: this process alone).")] = 0,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Train MobileNetV2 by transfer learning: head on cached features, then fine-tuning."""
    from flowers_mobile.training import train as run_training

    cfg = get_config(config, set_)
    if workers:
        from flowers_mobile.training.launcher import launch_local

        args = ["--data", str(data), "--out", str(out), *(["--resume"] if resume else []),
                *([] if progress else ["--no-progress"]), *(["--config", str(config)] if config else []),
                *[arg for item in set_ or [] for arg in ("--set", item)]]
        raise typer.Exit(launch_local(args, workers))
    with RichProgress("bars") as view:
        result = run_training(data, out, cfg, resume=resume, progress=view if progress else None)
    if result.metrics["run"].get("chief", True):  # other workers print one line (their weights' digest)
        table_console().print(summary_table(result))


def summary_table(result) -> Table:
    """Accuracy per split, epochs per phase, time per stage, where the files are."""
    m = result.metrics
    table = Table(title=f"flowers-mobile train: {result.out_dir}", show_header=True, header_style="bold")
    table.add_column("")
    table.add_column("value", justify="right")
    run = m["run"]
    images = run["images"]
    table.add_row("classes", str(run["classes"]))
    table.add_row("images train / val / test", f"{images['train']} / {images['val']} / {images['test']}")
    for phase in result.history["phases"]:
        best = phase["best_epoch"]
        best_txt = f", best {best + 1}" if best is not None else ""
        stop = ", stopped early" if phase["stopped_early"] else ""
        table.add_row(f"{phase['name']} epochs", f"{phase['epochs']}{best_txt}{stop}")
    for split in ("val", "test"):
        rep = m.get(split)
        if rep:
            table.add_row(f"{split} accuracy", f"{rep['accuracy']:.1%}")
            table.add_row(f"{split} top-{rep['top_k']} accuracy", f"{rep['top5_accuracy']:.1%}")
            table.add_row(f"{split} macro F1", f"{rep['macro_f1']:.3f}")
    for stage, sec in m["seconds"].items():
        table.add_row(f"time {stage}", f"{sec:.1f} s")
    if run["resumed"]:
        table.add_row("resumed", ", ".join(f"{k} at epoch {v + 1}" for k, v in run["resumed"].items()))
    table.add_row("model", str(result.model_path))
    table.add_row("labels", str(result.labels_path))
    return table
