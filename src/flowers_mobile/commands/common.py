"""Options shared by several verbs, and small printing helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from flowers_mobile.config import Config, load_config

ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="Config file (default: ./config.json when present, else built-in defaults).",
    dir_okay=False)]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", "-s", help="Override a config key, e.g. --set training.head_epochs=3 (repeatable).",
    metavar="KEY=VALUE")]

console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


def table_console() -> Console:
    """Where result tables go: the terminal, or, when piped (make demo, CI logs), a console wide
    enough that a table keeps one line per row instead of truncating cells to fit 80 columns."""
    return console if console.is_terminal else Console(width=200, highlight=False)


def get_config(config: Path | None, overrides: list[str] | None) -> Config:
    return load_config(config, overrides)
