"""Options shared by several verbs, and small printing helpers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from flowers_mobile.config import Config, config_for_run, load_config

ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="Config file (default: ./config.json when present, else built-in defaults).",
    dir_okay=False)]
RunConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="Config file (default: the run's config.json beside --model, else ./config.json, "
    "else built-in defaults).", dir_okay=False)]
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


def run_config(model: Path | None, config: Path | None, overrides: list[str] | None,
               flags: dict[str, object] | None = None) -> Config:
    """The config of a verb that reads a trained model: `config_for_run` (--config, else the run's
    own config.json beside the model, else ./config.json), then --set, then the verb's own flags
    as overrides of the keys they stand for (a flag left unset, None, overrides nothing)."""
    return config_for_run(model, config, [*(overrides or []), *flag_overrides(flags or {})])


def flag_overrides(flags: dict[str, object]) -> list[str]:
    """`{"export.tflite_precisions": ["int8"]}` -> `['export.tflite_precisions=["int8"]']`; None skipped.

    This is how a CLI flag reaches the library: as an override of its config key, validated with
    the rest of the config, so the library reads one frozen `Config` and nothing that shadows it."""
    return [f"{key}={json.dumps(list(value) if isinstance(value, Sequence) and not isinstance(value, str) else value)}"
            for key, value in flags.items() if value is not None]
