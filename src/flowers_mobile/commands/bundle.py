"""`flowers-mobile bundle`: place the exported model into the Android and iOS apps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from flowers_mobile.commands.common import console, table_console


def register(app: typer.Typer) -> None:
    @app.command("bundle")
    def bundle_cmd(
        exports: Annotated[Path, typer.Option("--exports", "-e", help="Export folder with manifest.json "
                                              "(from `flowers-mobile convert`).")] = Path("models/export"),
        platform: Annotated[str, typer.Option("--platform", "-p", help="android, ios or all.")] = "all",
        android_dir: Annotated[Path, typer.Option(help="The Android app's root folder.")] = Path("android_app"),
        ios_dir: Annotated[Path, typer.Option(help="The iOS app's root folder.")] = Path("ios_app"),
    ) -> None:
        """Copy the default model, labels.txt and manifest.json into the apps, sha256-checked first."""
        from flowers_mobile.export.bundle import bundle

        placed = bundle(exports, platform, android_dir=android_dir, ios_dir=ios_dir)
        table = Table(title=f"bundled from {exports}", title_justify="left")
        table.add_column("platform")
        table.add_column("file", no_wrap=True)
        table.add_column("bytes", justify="right", no_wrap=True)
        table.add_column("sha256", no_wrap=True)
        table.add_column("into", overflow="fold")
        for p in placed:
            table.add_row(p.platform, p.dest.name, f"{p.bytes:,}", p.sha256[:12], str(p.dest.parent))
        table_console().print(table)
        console.print("rebuild the app to pick up the new model")
