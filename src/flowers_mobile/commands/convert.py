"""`flowers-mobile convert`: a trained Keras classifier -> TFLite / Core ML / SavedModel exports."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from flowers_mobile.commands.common import RunConfigOpt, SetOpt, run_config, table_console
from flowers_mobile.commands.progress_view import RichProgress


def register(app: typer.Typer) -> None:
    app.command("convert")(convert)


def convert(
    model: Annotated[Path, typer.Option("--model", "-m", help="Keras classifier (.keras or .h5).")] = Path("models/run/model.keras"),
    labels: Annotated[Path | None, typer.Option("--labels", "-l", help="Labels file (default: labels.txt beside the model).")] = None,
    target: Annotated[list[str] | None, typer.Option("--target", "-t", metavar="tflite|coreml|saved_model|all", help="What to export (repeatable).")] = None,
    quantize: Annotated[list[str] | None, typer.Option("--quantize", "-q", metavar="int8|fp16|dynamic|none", help="TFLite precisions, in place of export.tflite_precisions (repeatable).")] = None,
    data: Annotated[Path | None, typer.Option("--data", "-d", help="Images for int8 calibration: the training data (classes must match the labels) or any folder of images.")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Export folder (replaced as a whole on success).")] = Path("models/export"),
    normalize: Annotated[str, typer.Option("--normalize", metavar="none|mobilenet|imagenet|SCALE,OFFSET", help="Input normalization the model expects; added in front so exports take raw 0..255 pixels.")] = "none",
    coreml_precision: Annotated[str | None, typer.Option("--coreml-precision", metavar="float16|float32|all", help="Also write a Core ML package at this compute precision, as Flowers_<precision>.mlpackage (export.coreml_extra_precisions); Flowers.mlpackage keeps export.coreml_precision.")] = None,
    coreml_compress: Annotated[list[str] | None, typer.Option("--coreml-compress", metavar="linear8|palette6|palette4", help="Compressed Core ML variants, in place of export.coreml_compression (repeatable).")] = None,
    default: Annotated[str | None, typer.Option("--default", metavar="int8|fp16|dynamic|none", help="TFLite precision copied to flowers.tflite (default: the first of int8, dynamic, float16, float32 that meets the int8 parity limits on the data's held-out images).")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress line per step.")] = True,
    arm_cost: Annotated[bool, typer.Option("--arm-cost", help="Also count each TFLite file's ARM instructions per image on emulated phone CPUs (docs/arm_cost.md), shown beside agreement and kept in the manifest.")] = False,
    config: RunConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Convert a trained classifier for phones and servers, with labels inside and a manifest."""
    from flowers_mobile.export.convert import convert as run_convert
    from flowers_mobile.variants import coreml_compressions, coreml_extra, resolve_precisions

    # The flags that stand for config keys become overrides of those keys (canonical names first,
    # so that fp16 or "int8,none" validate as the config's own values).
    cfg = run_config(model, config, set_, {
        "export.tflite_precisions": resolve_precisions(quantize) if quantize else None,
        "export.coreml_extra_precisions": coreml_extra(coreml_precision),
        "export.coreml_compression": coreml_compressions(coreml_compress) if coreml_compress else None,
    })
    arm_root = None
    if arm_cost:  # before converting: without QEMU or the root, one line and nothing written
        from flowers_mobile.armcost import find_root

        arm_root = find_root()
    started = time.perf_counter()
    with RichProgress("steps", dup_stderr=True) as view:
        manifest = run_convert(model, out, cfg, labels_path=labels, targets=target or ["tflite"], data_dir=data,
                               normalize=normalize, progress=view if progress else None, default=default)
    if arm_root is not None:
        manifest = _count_arm(out, arm_root)
    table_console().print(artifact_table(manifest, out, time.perf_counter() - started))


def _count_arm(out: Path, root: Any) -> dict[str, Any]:
    """Count the export's TFLite files on the ARM profiles and record them in its manifest."""
    from flowers_mobile.armcost.export import count_export
    from flowers_mobile.commands.common import console
    from flowers_mobile.formats.manifest import read_manifest, record_arm_cost

    with console.status("ARM cost") as status:
        counts = count_export(out, read_manifest(out), root=root, progress=status.update)
    if counts is not None:
        record_arm_cost(out, counts)
    return read_manifest(out).to_dict()


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _tensor(dtype: str, quant: dict[str, Any] | None) -> str:
    return f"{dtype} ({quant['scale']:.2g},{quant['zero_point']})" if quant else dtype


def artifact_table(manifest: dict[str, Any], out: Path, seconds: float) -> Table:
    """One row per artifact: file (and the platform taking it by default), precision, size, I/O tensors.

    Quantized tensors show (scale,zero point); the input shape is in the title.
    """
    arts = manifest["artifacts"]
    shape = arts[0]["input_shape"][1:] if arts else []
    size = "x".join(str(d) for d in shape)
    table = Table(title=f"{out}: {len(arts)} artifacts, input {size}, {manifest['labels']['count']} labels, "
                        f"{seconds:.1f} s", header_style="bold", box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True, pad_edge=False,
                  show_edge=False)
    table.add_column("file", no_wrap=True)
    table.add_column("prec", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("input", no_wrap=True)
    table.add_column("output", no_wrap=True)
    table.add_column("agree", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    arm = manifest.get("arm_cost") or {}
    for profile in arm.get("profiles", {}):
        table.add_column(f"ARM {profile} (x f32)", justify="right", no_wrap=True)
    table.add_column("for", no_wrap=True)
    for art in arts:
        fid = art.get("extra", {}).get("fidelity") or {}
        cost = arm.get("artifacts", {}).get(art["file"], {})
        table.add_row(art["file"], art["precision"], _size(art["bytes"]),
                      _tensor(art["input_dtype"], art.get("input_quantization")),
                      _tensor(art.get("output_dtype", "float32"), art.get("output_quantization")),
                      _pct(fid.get("agreement")), _answer(fid),
                      *[_arm(cost.get(profile)) for profile in arm.get("profiles", {})],
                      ", ".join(art.get("default_for") or []))
    config = manifest.get("export_config", {})
    lines = []
    if config.get("default_tflite"):
        choice = config["default_tflite"]
        limits = choice["limits"]
        measured = (f"; judged on {limits['images']} held-out images ({'+'.join(limits['splits'])})"
                    if "images" in limits else "")
        lines.append(f"flowers.tflite = {choice['precision']}: {choice['reason']}{measured}")
    if config.get("default_coreml"):
        coreml = config["default_coreml"]
        verdict = "is faithful and fit to ship" if coreml["verdict"] == "pass" else \
            f"is {coreml['verdict']} ({'; '.join(coreml.get('missed') or [])})"
        lines.append(f"{coreml['package']} ({coreml['precision']}) {verdict}; {coreml['reason']}")
    if arm and config.get("default_tflite"):
        lines.append(_arm_choice(arts, arm, config["default_tflite"]["precision"]))
    if arm:
        lines.append(f"ARM: M instructions per image of invoke() on 1 thread, LiteRT {arm['litert']} aarch64 under "
                     f"QEMU {arm['qemu']} (" + "; ".join(f"{p}: QEMU -cpu {v['qemu_cpu']}" for p, v in arm["profiles"].items())
                     + "); a count, not a time (docs/arm_cost.md)")
    if lines:
        table.caption = "\n".join(lines)
    return table


def _arm_choice(arts: list[dict[str, Any]], arm: dict[str, Any], chosen: str) -> str:
    """The default's ARM cost beside what each cheaper TFLite file would cost and how well it agrees,
    on the first CPU profile: the trade the measured default made."""
    profile = next(iter(arm["profiles"]))
    rows = {}
    for art in arts:
        cost = arm.get("artifacts", {}).get(art["file"], {}).get(profile) or {}
        if art["format"] == "tflite" and cost.get("ratio_float32") is not None:
            rows.setdefault(art["precision"], (cost["ratio_float32"],
                                               (art.get("extra", {}).get("fidelity") or {}).get("agreement")))
    if chosen not in rows:
        return ""
    mine = rows[chosen][0]
    text = f"ARM cost of the default on {profile}: {chosen} {mine:.2f}x float32's instructions"
    cheaper = [f"{p} would cost {r:.2f}x" + ("" if agree is None else f" but agrees on {agree:.1%}")
               for p, (r, agree) in sorted(rows.items(), key=lambda kv: kv[1][0]) if r < mine - 0.005]
    return text + ("; " + "; ".join(cheaper) if cheaper else "")


def _arm(cost: dict[str, Any] | None) -> str:
    if not cost:
        return ""
    ratio = cost.get("ratio_float32")
    return f"{cost['instructions'] / 1e6:.2f}M" + ("" if ratio is None else f" ({ratio:.2f}x)")


def _answer(fid: dict[str, Any]) -> str:
    """The judge's two answers in short: 'faithful, fit', 'faithful, below bar', 'NOT faithful'."""
    if not fid.get("verdict"):
        return ""
    if fid["verdict"] == "error":
        return "error"
    text = {"pass": "faithful", "fail": "NOT faithful", "inconclusive": "faithful?"}.get(fid.get("faithful"), "")
    fit = {"pass": ", fit", "fail": ", below bar", "inconclusive": ", fit?"}.get(fid.get("fit") or "", "")
    return text + fit


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"
