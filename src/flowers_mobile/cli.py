"""The `flowers-mobile` command line: thin, over the importable library.

Each verb lives in `flowers_mobile.commands.<name>` as a `register(app)` function that parses
options, calls the library and prints. Errors the user can fix are `UserError`s: one line on
stderr, exit code 2. Checks that ran and found problems exit 1.
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from flowers_mobile.errors import CheckFailed, UserError

# Verb modules, in the order `--help` lists them. A module is listed only once its verb works.
COMMAND_MODULES = [
    "flowers_mobile.commands.data",
    "flowers_mobile.commands.train",
    "flowers_mobile.commands.convert",
    "flowers_mobile.commands.evaluate",
    "flowers_mobile.commands.parity",
    "flowers_mobile.commands.predict",
    "flowers_mobile.commands.benchmark",
    "flowers_mobile.commands.compare",
    "flowers_mobile.commands.bundle",
]

app = typer.Typer(
    name="flowers-mobile",
    help="Flower photos to a classifier on a phone: train MobileNetV2, export TFLite and Core ML, "
         "prove parity, bundle into the sample apps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: runs the app, maps errors to one line and an exit code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TF's C++ start-up chatter is not for users
    # Most of TF's and LiteRT's native log lines ignore that variable since TF 2.20: filtered here.
    from flowers_mobile.tf_quiet import filter_native_logs

    filter_native_logs()
    try:
        app(args=argv, standalone_mode=True)
    except UserError as exc:
        typer.secho(f"error: {exc.one_line()}", err=True, fg=typer.colors.RED)
        sys.exit(exc.exit_code)
    except CheckFailed as exc:
        typer.secho(f"failed: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
