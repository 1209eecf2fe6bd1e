"""`flowers-mobile benchmark --exports DIR [--model model.keras]`: size and speed of every artifact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from flowers_mobile.commands.common import console, err_console, table_console
from flowers_mobile.errors import UserError


def _threads(text: str) -> list[int]:
    try:
        out = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        out = []
    if not out or min(out) < 1:
        raise UserError(f"--threads {text!r} is not a list of positive integers", hint="e.g. --threads 1,2")
    return out


def _x(v: float | None) -> str:
    return "" if v is None else f" ({v:.2f}x)"


def _arm_cell(cost: dict | None) -> str:
    if not cost:
        return ""
    ratio = cost.get("ratio_float32")
    return f"{cost['instructions'] / 1e6:.2f}" + ("" if ratio is None else f" ({ratio:.2f}x)")


def arm_line(arm: dict) -> str:
    """What the ARM columns are and what they depend on, in one line."""
    cpus = "; ".join(f"{name} = {p['label']}, QEMU -cpu {p['qemu_cpu']}" for name, p in arm["profiles"].items())
    return (f"ARM: guest instructions per image of invoke() on 1 thread, LiteRT {arm['litert']} aarch64 under "
            f"QEMU {arm['qemu']} ({cpus}); an instruction count, not a time (docs/arm_cost.md)")


def render_table(report) -> Table:
    """The rich table of a `BenchmarkReport`: figures, and ratios to Keras in brackets."""
    ref = report.reference()
    title = f"benchmark: {report.machine.get('cpu', '?')}, {report.machine.get('cores')} cores" + \
        (" (ratios to Keras float32)" if ref else "")
    table = Table(title=title)
    for col in ("artifact", "runtime", "precision", "size MB", "load s"):
        table.add_column(col, justify="left" if col in ("artifact", "runtime", "precision") else "right")
    for t in report.threads:
        table.add_column(f"p50 ms @{t}", justify="right")
        table.add_column(f"p90 ms @{t}", justify="right")
    top = str(max(report.threads))
    table.add_column(f"img/s @{top}", justify="right")
    table.add_column("peak MB", justify="right")
    table.add_column(f"GFLOP/s @{top}", justify="right")
    arm_profiles = list((report.arm or {}).get("profiles", {}))
    for p in arm_profiles:
        table.add_column(f"ARM {p}\nM instr/img", justify="right")
    for e in report.entries:
        runtime = e.runtime + (" (IPC)" if e.ipc else "")
        if e.error:
            table.add_row(e.file, runtime, e.precision, f"{e.bytes / 1e6:.2f}", f"[red]error: {escape(e.error)}[/]")
            continue
        r = e.ratios
        row = [e.file, runtime, e.precision, f"{e.bytes / 1e6:.2f}{_x(r.get('bytes'))}",
               f"{e.load_s:.2f}{_x(r.get('load_s'))}"]
        for t in map(str, report.threads):
            m = e.by_threads.get(t, {})
            row += [f"{m.get('p50_ms', float('nan')):.2f}{_x(r.get(f'p50_ms@{t}'))}",
                    f"{m.get('p90_ms', float('nan')):.2f}"]
        row += [f"{e.by_threads.get(top, {}).get('throughput_ips', float('nan')):.1f}{_x(r.get(f'throughput_ips@{top}'))}",
                f"{e.peak_rss_mb:.0f}{_x(r.get('peak_rss_mb'))}",
                f"{e.gflops_per_s[top]:.1f}" if top in e.gflops_per_s else "n/a"]
        row += [_arm_cell(e.arm.get(p)) for p in arm_profiles]
        table.add_row(*row, style="bold" if e.reference else None)
    return table


def benchmark(
    exports: Annotated[Path, typer.Option("--exports", "-e", help="Export folder (manifest.json and artifacts).")],
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Keras model, the reference (default: the "
                                               "manifest's source model when it sits beside the export folder).")] = None,
    images: Annotated[int, typer.Option(min=1, help="Timed single-image predictions per thread count.")] = 20,
    batch: Annotated[int, typer.Option(min=1, help="Batch size for throughput.")] = 16,
    threads: Annotated[str, typer.Option(help="Thread counts to measure, comma-separated.")] = "1,2",
    task_library: Annotated[bool, typer.Option(help="Also time flowers.tflite through the Task Library (includes IPC).")] = True,
    mediapipe: Annotated[bool, typer.Option(help="Also time flowers.tflite through MediaPipe Tasks.")] = True,
    arm: Annotated[bool, typer.Option(help="Also count ARM instructions per image of every TFLite file on emulated "
                                            "phone CPUs (needs tools/fetch_arm_root.py's root and qemu-user).")] = True,
    json_out: Annotated[bool, typer.Option("--json", help="Print benchmark.json instead of the table.")] = False,
) -> None:
    """Size, load time, latency p50/p90, throughput and peak memory per artifact, as ratios to Keras."""
    from flowers_mobile.benchmark import BENCHMARK_JSON, BENCHMARK_PNG, run_benchmark

    with console.status("benchmark") as status:
        report = run_benchmark(exports, model, images=images, batch=batch, threads=_threads(threads),
                               task_library=task_library, mediapipe=mediapipe, arm=arm,
                               progress=lambda msg: status.update(f"benchmark: {escape(msg)}"))
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    # Piped output (make demo, CI logs) is not width-limited: one line per artifact.
    out = table_console()
    out.print(render_table(report))
    ratio = report.int8_size_ratio()
    if ratio is not None:
        console.print(f"int8 / float32 TFLite size: {ratio:.3f}")
    f32 = report.find(precision="float32", runtime="litert")
    if f32 and f32.gflops_per_s and report.flops:
        console.print(f"float32 LiteRT: {report.flops / 1e9:.3f} GFLOP per image, "
                      + ", ".join(f"{g:.1f} GFLOP/s at {t} thread(s)" for t, g in f32.gflops_per_s.items()))
    if report.arm:
        console.print(escape(arm_line(report.arm)), soft_wrap=True)
    for note in report.notes:
        err_console.print(f"[yellow]note[/] {escape(note)}", soft_wrap=True)
    console.print(f"wrote {exports / BENCHMARK_JSON} and {exports / BENCHMARK_PNG} in {report.seconds:.0f} s")


def register(app: typer.Typer) -> None:
    app.command("benchmark")(benchmark)
