"""`flowers-mobile data synth|fetch|check`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from flowers_mobile.commands.common import (
    ConfigOpt,
    SetOpt,
    console,
    flag_overrides,
    get_config,
    table_console,
)
from flowers_mobile.errors import CheckFailed, UserError

data_app = typer.Typer(help="Datasets: generate the offline synthetic one, fetch the public ones, check a folder.",
                       no_args_is_help=True)


@data_app.command("synth")
def synth(
    out: Annotated[Path, typer.Argument(help="Output folder (replaced whole): OUT/<class>/*.png, or "
                                             "OUT/{train,val,test}/<class>/*.png with test images.")],
    classes: Annotated[int | None, typer.Option(help="Number of classes, 2..12 (default: data.synth_classes).")] = None,
    per_class: Annotated[int | None, typer.Option(help="Images per class (default: data.synth_per_class).")] = None,
    size: Annotated[int | None, typer.Option(help="Image side in px (default: data.synth_image_size).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed; the same seed gives the same images (default: data.seed).")] = None,
    test_per_class: Annotated[int | None, typer.Option(
        help="Test images per class, from their own seed stream (default: data.synth_test_per_class; "
             "0: class folders only).")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Generate drawn flowers: the offline dataset for the demo and the tests."""
    from flowers_mobile.data.synth import generate_dataset

    # Each flag is an override of the data key it stands for, validated with the rest.
    cfg = get_config(config, [*(set_ or []), *flag_overrides({
        "data.synth_classes": classes, "data.synth_per_class": per_class, "data.synth_image_size": size,
        "data.seed": seed, "data.synth_test_per_class": test_per_class})]).data
    n_classes, n_per, n_test = cfg.synth_classes, cfg.synth_per_class, cfg.synth_test_per_class
    total = n_classes * (n_per + n_test)
    with Progress(TextColumn("synth"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  console=console, transient=True) as bar:
        task = bar.add_task("images", total=total)
        names = generate_dataset(out, n_classes, n_per, cfg.synth_image_size, cfg.seed,
                                 on_image=lambda: bar.advance(task),
                                 test_per_class=n_test,
                                 val_share=cfg.val_fraction / (cfg.train_fraction + cfg.val_fraction))
    layout = f" (train/val/test, {n_classes * n_test} test)" if n_test else ""
    console.print(f"wrote {total} images in {len(names)} classes to {out}{layout}: {', '.join(names)}")


@data_app.command("fetch")
def fetch(
    name: Annotated[str, typer.Argument(help="oxford102 or flowers17.")],
    out: Annotated[Path, typer.Argument(help="Output folder; becomes OUT/{train,val,test}/<class>/.")],
    mirror: Annotated[str | None, typer.Option(help="Base URL to download from instead of the dataset's home.")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Where downloads are kept (default: OUT/../downloads/NAME).")] = None,
) -> None:
    """Download a public flower dataset (resumable, checksum-verified) and lay it out by split and class."""
    from flowers_mobile.data.fetch import DATASETS, fetch_dataset

    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}", hint=f"known: {', '.join(DATASETS)}")
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), console=console) as bar:
        tasks: dict[str, int] = {}

        def hook(fname: str, done: int, total: int | None) -> None:
            if fname not in tasks:
                tasks[fname] = bar.add_task(fname, total=total)
            bar.update(tasks[fname], completed=done, total=total)

        counts = fetch_dataset(name, out, mirror=mirror, cache_dir=cache_dir, progress=hook)
    console.print(f"{name}: {', '.join(f'{k} {v}' for k, v in counts.items())} images in {out}")


@data_app.command("check")
def check(
    folder: Annotated[Path, typer.Argument(help="DIR/<class>/ or DIR/{train,val,test}/<class>/.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    min_side: Annotated[int | None, typer.Option(help="Smallest image side that is not reported (default: data.min_image_side).")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Find unreadable, odd, too-small, duplicated and leaking images. Exit 1 on errors, 0 with warnings."""
    from flowers_mobile.data.check import check_dataset

    cfg = get_config(config, [*(set_ or []), *flag_overrides({"data.min_image_side": min_side})]).data
    report = check_dataset(folder, cfg)
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        if report.findings:
            table = Table(title=f"data check: {folder}")
            for col in ("severity", "problem", "file", "detail"):
                table.add_column(col, overflow="fold")
            for f in report.findings:
                style = "red" if f.severity == "error" else "yellow"
                table.add_row(f"[{style}]{f.severity}[/]", f.code, f.path, f.message)
            table_console().print(table)
        console.print(f"{report.layout}, {len(report.classes)} classes, {report.images} usable images of "
                      f"{report.files} files: {len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    if report.errors:
        raise CheckFailed(f"{len(report.errors)} error(s) in {folder}")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
