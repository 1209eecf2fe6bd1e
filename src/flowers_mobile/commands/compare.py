"""`flowers-mobile compare --data D --backbones a,b,c --out DIR`: which backbone to ship."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flowers_mobile.commands.benchmark import arm_line
from flowers_mobile.commands.common import ConfigOpt, SetOpt, console, table_console
from flowers_mobile.commands.progress_view import RichProgress
from flowers_mobile.config import load_config


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def _mb(v: int | None) -> str:
    return "n/a" if v is None else f"{v / 1e6:.2f}"


def _arm(r) -> str:
    return f"{r.arm['instructions'] / 1e6:.1f}" if r.arm else "not measured"


def render_table(report) -> Table:
    """One row per backbone: accuracy, the measured default, sizes, int8 agreement, x86 LiteRT
    speed and the default's ARM instruction count (or "not measured")."""
    results = report.results
    precisions = [p for p in ("int8", "int8_fallback", "dynamic", "float16", "float32")
                  if any(p in r.tflite_bytes for r in results)]
    table = Table(title=f"compare: {report.data}; LiteRT at {report.threads} thread(s) on "
                        f"{report.machine.get('cpu', '?')}")
    for col in ("backbone", "input", "params M", "test acc (95% CI)", "train s", "default", "default agree"):
        table.add_column(col, justify="left" if col in ("backbone", "default") else "right")
    for p in precisions:
        table.add_column(f"{p} MB", justify="right")
    table.add_column("int8 agree", justify="right")
    table.add_column("p50 ms", justify="right")
    table.add_column("img/s", justify="right")
    table.add_column("ARM A76 M instr", justify="right")
    table.add_column("Core ML MB", justify="right")
    for r in results:
        lo, hi = r.test_interval
        lite = r.litert
        speed = [f"{lite['p50_ms']:.2f}", f"{lite['throughput_ips']:.1f}"] if "p50_ms" in lite else \
            [f"[red]{escape(str(lite.get('error', 'n/a')))}[/]", ""]
        row = [r.backbone, str(r.input_size), f"{r.params / 1e6:.2f}",
               f"{r.test_accuracy:.1%} ({lo:.0%}-{hi:.0%})", f"{r.train_seconds:.0f}",
               f"{r.default_precision}, {_mb(r.default_bytes)} MB",
               _pct(r.default_agreement), *[_mb(r.tflite_bytes.get(p)) for p in precisions],
               _pct(r.int8_agreement), *speed]
        row.append(_arm(r))
        row.append(_mb(r.coreml_bytes) if r.coreml_error is None else f"[red]{escape(r.coreml_error[:60])}[/]")
        table.add_row(*row)
    return table


def compare(
    data: Annotated[Path, typer.Option("--data", "-d", help="The dataset every backbone trains on (DIR/<class>/ "
                                                         "or DIR/{train,val,test}/<class>/).")],
    backbones: Annotated[str, typer.Option("--backbones", "-b", help="Comma-separated backbones, e.g. "
                                           "mobilenet_v2,mobilenet_v3_small,efficientnet_b0.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Comparison folder: <backbone>/ per backbone, "
                                      "compare.json, compare.png. Finished backbones there are kept.")] = Path("models/compare"),
    threads: Annotated[int, typer.Option(min=1, help="LiteRT threads for the latency pass.")] = 1,
    images: Annotated[int, typer.Option(min=1, help="Timed single-image predictions per backbone.")] = 20,
    coreml: Annotated[bool, typer.Option("--coreml/--no-coreml", help="Also convert to Core ML (package size).")] = True,
    arm: Annotated[bool, typer.Option("--arm/--no-arm", help="Count each default's ARM instructions per image on an "
                                      "emulated Cortex-A76 (needs tools/fetch_arm_root.py's root).")] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show the sweep's progress bar.")] = True,
    json_out: Annotated[bool, typer.Option("--json", help="Print compare.json instead of the table.")] = False,
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Train each backbone on the same data with the same budget, convert it, and tabulate accuracy,
    the measured default artifact, sizes, int8 agreement, LiteRT speed and the default's ARM
    instruction count (docs/backbones.md)."""
    from flowers_mobile.compare import COMPARE_JSON, COMPARE_PNG, compare_backbones, parse_backbones

    names = parse_backbones(backbones)
    # model.input_size stays "not set" unless given: each backbone then trains at its natural size.
    base = load_config(config, set_, resolve=False)
    with RichProgress("bars") as view:
        report = compare_backbones(data, out, base, names, threads=threads, images=images, coreml=coreml, arm=arm,
                                   progress=view if progress else None)
    if json_out:
        console.print_json(json.dumps(report.to_dict()))
        return
    table_console().print(render_table(report))
    if report.arm:
        console.print(escape(arm_line(report.arm)), soft_wrap=True)
    for note in report.notes:
        console.print(f"note: {note}")
    console.print(f"wrote {Path(out) / COMPARE_JSON} and {Path(out) / COMPARE_PNG}")
