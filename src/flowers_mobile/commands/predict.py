"""`flowers-mobile predict IMAGE_OR_FOLDER... --model PATH`: classify images with any format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flowers_mobile.commands.common import err_console, table_console


def predict(
    images: Annotated[list[Path], typer.Argument(help="Image files and/or folders of images (read recursively).",
                                                 metavar="IMAGE_OR_FOLDER...")],
    model: Annotated[Path, typer.Option("--model", "-m", help="Model: .keras, .h5, .tflite, .mlpackage or a SavedModel folder.")],
    runtime: Annotated[str | None, typer.Option(
        help="Force a runtime: keras, litert, task_library, mediapipe, coreml, coreml_executor, saved_model "
             "(default: the format's own).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="Classes to show per image.")] = 3,
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads for the runtime.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Classify images with any exported model. Undecodable images are skipped and reported."""
    from flowers_mobile.predict import predict_images

    result = predict_images(images, model, runtime=runtime, top_k=top_k, threads=threads)
    if json_out:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    table = Table(title=escape(f"{model.name} [{result.runtime}]"))  # brackets are rich markup otherwise
    table.add_column("image", overflow="fold")
    table.add_column("prediction")
    table.add_column("p", justify="right")
    if top_k > 1:
        table.add_column(f"top {top_k}", overflow="fold")
    for p in result.predictions:
        row = [p.path, p.label, f"{p.probability:.3f}"]
        if top_k > 1:
            row.append(", ".join(f"{lab} {prob:.3f}" for lab, prob in p.top))
        table.add_row(*row)
    # Piped output is not width-limited: one line per image, paths unbroken.
    table_console().print(table)
    for s in result.skipped:
        err_console.print(f"[yellow]skipped[/] {escape(s['error'])}", soft_wrap=True)  # names the file


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)
