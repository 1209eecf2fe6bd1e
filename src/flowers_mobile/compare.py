"""`compare`: which backbone to ship. Train each on the same data with the same budget, convert
it, and set accuracy, fidelity, size and speed side by side.

Per backbone, in ``OUT/<backbone>/``: ``run/`` (`train`), ``export/`` (`convert --target
tflite`: the measured default `flowers.tflite` and every precision with its agreement with
Keras), ``coreml/`` (`convert --target coreml`, apart so that a backbone Core ML cannot take does
not cost its TFLite row) and ``result.json``, written last: a backbone whose result.json is
present is not trained again, and an interrupted training is resumed from its backup. Then the
LiteRT latency and throughput of every default file are measured in one pass, one fresh worker
process each (`benchmark.measure_file`), so the figures are side by side on the same machine
state; then each default's ARM instruction count per image on the big-core profile (Cortex-A76,
`armcost`, docs/arm_cost.md), the cost on a phone CPU beside the x86 latency. Without the arm64
root or QEMU one note says so and the ARM column reads "not measured". Written:
``OUT/compare.json`` and ``OUT/compare.png`` (accuracy against latency, marker area = file size).

Reuses `training.train`, `export.convert.convert` (the measured default and its agreement come
from its manifest), the benchmark worker and the ARM cost runner; nothing here re-implements them.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowers_mobile import backbones
from flowers_mobile.config import Config
from flowers_mobile.errors import UserError, first_line
from flowers_mobile.fsutil import atomic_write_json, path_bytes
from flowers_mobile.progress import ProgressCallback, Reporter

RESULT_JSON = "result.json"
COMPARE_JSON = "compare.json"
COMPARE_PNG = "compare.png"
#: Steps per backbone on the progress bar (train, convert TFLite, convert Core ML) and one
#: latency measurement each at the end.
_STEPS = 3
#: The ARM profile of the comparison's column: the big core, where a phone runs the app's model.
ARM_PROFILE = "cortex-a76"


@dataclass
class BackboneResult:
    """One backbone's row. Sizes in bytes; agreement = top-1 agreement with the Keras model on the
    held-out images convert measured (its `default_choice` candidates)."""

    backbone: str
    input_size: int
    params: int
    test_accuracy: float
    test_interval: list[float]  # 95% Clopper-Pearson
    test_images: int
    train_seconds: float  # the run's own total (metrics.json seconds.total)
    default_precision: str
    default_bytes: int
    default_agreement: float | None
    default_reason: str
    #: precision -> bytes of each TFLite file (int8_fallback when convert added it).
    tflite_bytes: dict[str, int] = field(default_factory=dict)
    #: precision -> top-1 agreement with Keras (None: not measured).
    agreement: dict[str, float | None] = field(default_factory=dict)
    coreml_bytes: int | None = None
    coreml_error: str | None = None
    #: Filled by the latency pass: {"p50_ms", "p90_ms", "throughput_ips", "threads"} or {"error"}.
    litert: dict[str, Any] = field(default_factory=dict)
    #: The default's cost on a phone CPU: {"profile", "instructions"} (ARM instructions per image,
    #: docs/arm_cost.md), counted afresh by every sweep; None: not measured (compare.json: null).
    arm: dict[str, Any] | None = None

    @property
    def int8_agreement(self) -> float | None:
        return self.agreement.get("int8")


@dataclass
class CompareReport:
    data: str
    out: str
    results: list[BackboneResult]
    machine: dict[str, Any]
    threads: int
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: What the ARM counts depend on (QEMU, LiteRT, the profile: armcost's report without its
    #: counts); None when none were counted (a note says why).
    arm: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for row, r in zip(out["results"], self.results, strict=True):
            row["int8_agreement"] = r.int8_agreement
        return out


def parse_backbones(text: str) -> list[str]:
    """"a,b,c" -> names, each checked against the catalogue (one line for an unknown one)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise UserError("--backbones is empty", hint=f"give some of: {', '.join(backbones.names())}")
    for name in names:
        backbones.get(name)
    if len(set(names)) != len(names):
        raise UserError(f"--backbones {text!r} names a backbone twice")
    return names


def backbone_config(base: Config, name: str) -> Config:
    """`base` with `model.backbone = name`: the same data, budget and seeds for every backbone.

    The input size: the one `base` gives when it gives one, else the backbone's natural size;
    alpha only where the backbone has a width multiplier (the others take 1.0).
    """
    spec = backbones.get(name)
    model = dataclasses.replace(base.model, backbone=name,
                                alpha=base.model.alpha if spec.width_multiplier else 1.0)
    return dataclasses.replace(base, model=model).resolved()


def compare_backbones(data_dir: Path, out_dir: Path, base: Config, names: list[str], *, threads: int = 1,
                      images: int = 20, coreml: bool = True, arm: bool = True,
                      progress: ProgressCallback | None = None) -> CompareReport:
    """Train, convert and measure each backbone in `names`; write compare.json and compare.png.

    Args:
        data_dir: the dataset every backbone trains on (its test split gives the accuracy).
        out_dir: the comparison folder; finished backbones there (their result.json) are kept.
        base: the config every backbone starts from (`backbone_config`); its `model.input_size`
            None means each backbone's natural size.
        names: backbones from the catalogue, in table order.
        threads: LiteRT threads for the latency pass.
        images: timed single-image predictions per backbone.
        coreml: also convert to Core ML (package size; the error when it cannot).
        arm: count each default's ARM instructions per image (Cortex-A76 profile); without the
            arm64 root a note says so and the column reads "not measured".
        progress: one bar over the whole sweep (None: silent).
    """
    from flowers_mobile.benchmark import machine_info, measure_file

    started = time.perf_counter()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if not data_dir.is_dir():
        raise UserError(f"--data {data_dir}: not a folder", hint="give a dataset folder, e.g. from `data synth`")
    configs = {name: backbone_config(base, name) for name in names}  # every config error before any work
    for cfg in configs.values():
        backbones.check(cfg.model.backbone, cfg.model.size, cfg.model.alpha)
    out_dir.mkdir(parents=True, exist_ok=True)
    rep = Reporter(progress)
    bar = rep.task("compare", total=len(names) * (_STEPS + 1) + int(arm))
    done = 0
    results: list[BackboneResult] = []
    notes: list[str] = []
    plain = [n for n in names if not backbones.get(n).width_multiplier]
    if base.model.alpha != 1.0 and plain:
        notes.append(f"model.alpha = {base.model.alpha:g} applies to the mobilenet_* backbones only; "
                     f"{', '.join(plain)} trained at full width")
    for name in names:
        folder = out_dir / name
        saved = _load_result(folder)
        if saved is not None:
            notes.append(f"{name}: finished earlier ({folder / RESULT_JSON}), not trained again")
            results.append(saved)
            done += _STEPS
            rep.update(bar, completed=done, info=f"{name}: kept")
            continue

        def step(what: str, name: str = name) -> None:
            nonlocal done
            rep.update(bar, completed=done, info=f"{name}: {what}")
            done += 1

        results.append(_one_backbone(data_dir, folder, configs[name], coreml, step))
        atomic_write_json(folder / RESULT_JSON, dataclasses.asdict(results[-1]))
        rep.update(bar, completed=done, info=f"{name}: done")
    for result in results:  # side by side: every default in one pass, one worker process each
        rep.update(bar, completed=done, info=f"{result.backbone}: LiteRT latency")
        result.litert = measure_file(out_dir / result.backbone / "export" / "flowers.tflite", "litert",
                                     threads=threads, images=images)
        done += 1
    arm_env = None
    if arm:
        rep.update(bar, completed=done, info="ARM cost of the defaults")
        arm_env = _arm_cost(out_dir, results, notes)
        done += 1
    rep.update(bar, completed=done, info="done")
    rep.stop(bar)
    report = CompareReport(data=str(data_dir), out=str(out_dir), results=results, machine=machine_info(),
                           threads=threads, notes=notes, seconds=time.perf_counter() - started, arm=arm_env)
    atomic_write_json(out_dir / COMPARE_JSON, report.to_dict())
    plot_compare(report, out_dir / COMPARE_PNG)
    return report


def _load_result(folder: Path) -> BackboneResult | None:
    path = folder / RESULT_JSON
    if not path.is_file():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    known = {f.name for f in dataclasses.fields(BackboneResult)}
    return BackboneResult(**{k: v for k, v in raw.items() if k in known})


def _one_backbone(data_dir: Path, folder: Path, cfg: Config, coreml: bool, step) -> BackboneResult:
    from flowers_mobile.config import DEFAULT_CONFIG_FILE, load_config
    from flowers_mobile.export.convert import convert
    from flowers_mobile.keras_file import load_keras_model
    from flowers_mobile.parity.stats import clopper_pearson
    from flowers_mobile.training import train
    from flowers_mobile.training.run import BACKUP

    name = cfg.model.backbone
    run_dir = folder / "run"
    model_path = run_dir / "model.keras"
    step("training")
    if (run_dir / BACKUP / "meta.json").is_file() or not (run_dir / "metrics.json").is_file():
        # An interrupted sweep left this backbone's training backup: continue it, not start over.
        trained = train(data_dir, run_dir, cfg, resume=(run_dir / BACKUP / "meta.json").is_file(), progress=None)
        metrics = trained.metrics
    else:  # trained before the sweep stopped; only its conversion is missing
        metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    test = metrics.get("test") or metrics["val"]
    n = int(test["num_images"])
    k = int(round(test["accuracy"] * n))
    # Convert with the run's effective config, as `convert --model run/model.keras` would.
    cfg = load_config(run_dir / DEFAULT_CONFIG_FILE)
    step("convert TFLite")
    manifest = convert(model_path, folder / "export", cfg, targets=("tflite",), data_dir=data_dir)
    arts = {a["file"]: a for a in manifest["artifacts"]}
    default = arts["flowers.tflite"]
    choice = default.get("extra", {}).get("default_choice", {})
    measured = {c["precision"]: c.get("top1_agreement") for c in choice.get("candidates", [])}
    sizes = {a["precision"]: a["bytes"] for f, a in arts.items() if f != "flowers.tflite"}
    step("convert Core ML")
    coreml_bytes, coreml_error = None, None
    if coreml:
        try:
            convert(model_path, folder / "coreml", cfg, targets=("coreml",), data_dir=data_dir)
            coreml_bytes = path_bytes(folder / "coreml" / "Flowers.mlpackage")
        except Exception as exc:  # the row says why; the other columns stand
            coreml_error = exc.one_line() if isinstance(exc, UserError) else \
                f"{type(exc).__name__}: {first_line(exc, 'no detail')}"[:200]
            shutil.rmtree(folder / "coreml", ignore_errors=True)
    params = int(load_keras_model(model_path).count_params())
    return BackboneResult(
        backbone=name, input_size=cfg.model.size, params=params, test_accuracy=float(test["accuracy"]),
        test_interval=list(clopper_pearson(k, n)), test_images=n,
        train_seconds=float(metrics.get("seconds", {}).get("total", 0.0)),
        default_precision=default["precision"], default_bytes=int(default["bytes"]),
        default_agreement=measured.get(default["precision"]), default_reason=choice.get("reason", ""),
        tflite_bytes=sizes, agreement=measured, coreml_bytes=coreml_bytes, coreml_error=coreml_error)


def _arm_cost(out_dir: Path, results: list[BackboneResult], notes: list[str]) -> dict[str, Any] | None:
    """Count every default `flowers.tflite` on the ARM_PROFILE core, one QEMU process each (the
    runner's); put {"profile", "instructions"} on each row. Returns what the counts depend on, or
    None with one note saying why nothing was counted (no arm64 root, no QEMU, a guest error)."""
    from flowers_mobile.armcost import measure_files

    for r in results:
        r.arm = None  # a kept result.json's count is not reused: the environment may have changed
    files = [out_dir / r.backbone / "export" / "flowers.tflite" for r in results]
    try:
        counted = measure_files(files, [ARM_PROFILE])
    except UserError as exc:
        notes.append(f"ARM cost not measured: {exc.one_line()}")
        return None
    # Costs come in job order, one profile: the files' order (each is named flowers.tflite).
    for r, cost in zip(results, counted.costs, strict=True):
        r.arm = {"profile": ARM_PROFILE, "instructions": cost.instructions}
    env = counted.to_dict()
    env.pop("costs")
    return env


def plot_compare(report: CompareReport, path: Path) -> Path:
    """Test accuracy (95% interval as the error bar) against LiteRT p50 latency; marker area
    proportional to the default file's size, labelled with backbone and precision."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from flowers_mobile.fsutil import atomic_path

    rows = [r for r in report.results if "p50_ms" in r.litert]
    fig, ax = plt.subplots(figsize=(7.5, 5))
    biggest = max((r.default_bytes for r in rows), default=1)
    for r in rows:
        x, y = r.litert["p50_ms"], r.test_accuracy
        lo, hi = r.test_interval
        ax.errorbar(x, y, yerr=[[y - lo], [hi - y]], fmt="none", ecolor="0.6", capsize=3, zorder=1)
        ax.scatter([x], [y], s=60 + 1400 * r.default_bytes / biggest, alpha=0.55, zorder=2)
        arm = f"\nARM {r.arm['instructions'] / 1e6:.1f} M instr" if r.arm else ""
        ax.annotate(f"{r.backbone}\n{r.default_precision}, {r.default_bytes / 1e6:.1f} MB{arm}", (x, y),
                    textcoords="offset points", xytext=(8, 6), fontsize=8)
    ax.set_xscale("log")
    ax.margins(x=0.4)  # room for the labels right of the last point
    ax.set_xlabel(f"LiteRT p50 latency of flowers.tflite, ms ({report.threads} thread(s), log scale)")
    ax.set_ylabel("test accuracy (95% interval)")
    ax.set_ylim(-0.02, 1.05)
    ax.grid(alpha=0.3)
    arm = "; ARM: instructions per image on an emulated Cortex-A76" if report.arm else ""
    ax.set_title(f"Which backbone to ship: marker area = file size\n{report.machine.get('cpu', '')}{arm}", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path
