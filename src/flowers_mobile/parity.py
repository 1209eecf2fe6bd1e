"""Parity: does every export answer like the Keras model it came from?

`run_parity` loads held-out images once (the test split, else validation), runs the Keras
model and every artifact in the export folder's manifest through its runtime, and compares
the probabilities image by image: top-1 and top-5 agreement with Keras, max and mean absolute
probability difference, accuracy and its change (the data has labels), per-class accuracy
change, and the images where they disagree most. Each export is held to the limits for its
precision (`config.parity`). The report goes to `parity.json` and `parity.md` in the export
folder and, in short, into `manifest.json`.
"""

from __future__ import annotations

import datetime as _dt
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.config import Config, ParityConfig
from flowers_mobile.errors import UserError
from flowers_mobile.export.manifest import (
    DEFAULT_ARTIFACTS,
    load_manifest,
    record_parity,
    verify_manifest,
)
from flowers_mobile.fsutil import atomic_write_json, atomic_write_text, sha256_path
from flowers_mobile.images import ImageLoadError, load_image
from flowers_mobile.labels import read_labels
from flowers_mobile.runtimes.base import load_predictor

PARITY_JSON = "parity.json"
PARITY_MD = "parity.md"
#: How many of the most-disagreeing images each export lists.
WORST_IMAGES = 5
#: Top-k for the "top-5 agreement": Keras's top-1 class is among the export's top k.
TOP_K = 5
#: Core ML weight-compression variants, each with its own limits in ParityConfig.
COMPRESSED_PRECISIONS = ("linear8", "palette6", "palette4")


@dataclass
class Check:
    """One limit an export is held to."""

    metric: str  # top1_agreement | max_abs_diff | accuracy_drop | labels | input_size
    op: str  # ">=" | "<=" | "=="
    limit: Any
    value: Any
    passed: bool


@dataclass
class ExportParity:
    """Parity of one artifact through one runtime against the Keras model."""

    file: str
    runtime: str
    format: str
    precision: str
    images: int = 0
    top1_agreement: float | None = None
    top5_agreement: float | None = None
    max_abs_diff: float | None = None
    mean_abs_diff: float | None = None
    accuracy: float | None = None
    accuracy_change: float | None = None
    #: label -> change in that class's accuracy against Keras (labels known).
    per_class_accuracy_change: dict[str, float] = field(default_factory=dict)
    worst: list[dict[str, Any]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    passed: bool = False
    error: str | None = None
    seconds: float = 0.0
    describe: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.file} [{self.runtime}]"

    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]


@dataclass
class ParityReport:
    """Everything `parity` found; `passed` is True when every export met its limits."""

    model: str
    export_dir: str
    data: str
    split: str
    images: int
    labels: list[str]
    labels_known: bool
    keras_accuracy: float | None
    keras_per_class_accuracy: dict[str, float]
    exports: list[ExportParity]
    skipped: list[dict[str, str]]
    notes: list[str]
    limits: dict[str, Any]
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    @property
    def passed(self) -> bool:
        return bool(self.exports) and all(e.passed for e in self.exports)

    def failures(self) -> list[str]:
        out = []
        for e in self.exports:
            if e.error:
                out.append(f"{e.name}: {e.error}")
            for c in e.failed_checks():
                out.append(f"{e.name}: {c.metric} {_fmt_value(c.value)} (limit {c.op} {_fmt_value(c.limit)})")
        return out

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["passed"] = self.passed
        for e, d in zip(self.exports, out["exports"], strict=True):
            d["name"] = e.name
        return out

    def summary(self) -> dict[str, Any]:
        """The short form kept in manifest.json."""
        return {
            "created": self.created, "passed": self.passed, "images": self.images, "split": self.split,
            "model": self.model, "keras_accuracy": self.keras_accuracy,
            "exports": [{"file": e.file, "runtime": e.runtime, "precision": e.precision, "passed": e.passed,
                         "top1_agreement": e.top1_agreement, "max_abs_diff": e.max_abs_diff,
                         "accuracy_change": e.accuracy_change, "error": e.error} for e in self.exports],
        }

    def to_markdown(self) -> str:
        return render_markdown(self)


def limits_for(precision: str, pc: ParityConfig) -> list[tuple[str, str, float]]:
    """The (metric, op, limit) rules an export of `precision` must meet.

    float32 must match Keras to float rounding; float16 may round but must agree; dynamic-range
    and int8 quantization change probabilities, so they are held to agreement (and int8 to
    accuracy). Core ML's weight-compressed variants (8-bit linear, 6/4-bit palettes) have limits
    of their own (`<variant>_min_top1_agreement`, `<variant>_max_accuracy_drop`).
    """
    if precision == "float32":
        return [("max_abs_diff", "<=", pc.float32_max_abs_diff)]
    if precision == "float16":
        return [("top1_agreement", ">=", pc.float16_min_top1_agreement),
                ("max_abs_diff", "<=", pc.float16_max_abs_diff)]
    if precision == "dynamic":
        return [("top1_agreement", ">=", pc.dynamic_min_top1_agreement)]
    if precision in COMPRESSED_PRECISIONS:
        return [("top1_agreement", ">=", getattr(pc, f"{precision}_min_top1_agreement")),
                ("accuracy_drop", "<=", getattr(pc, f"{precision}_max_accuracy_drop"))]
    # int8 and anything unknown: the int8 limits.
    return [("top1_agreement", ">=", pc.int8_min_top1_agreement),
            ("accuracy_drop", "<=", pc.int8_max_accuracy_drop)]


def runtimes_for(artifact: dict[str, Any], overrides: dict[str, str] | None = None) -> list[str]:
    """Runtime names an artifact is checked through.

    Defaults: .tflite through LiteRT, and the Android default (`flowers.tflite`) also through the
    Task Library (the app's own classifier, which reads labels and normalization from metadata);
    .mlpackage through Core ML on macOS, the numpy executor elsewhere; SavedModel through TF.
    `overrides` maps an artifact file name or a format to a runtime name (or "a,b" for several).
    """
    if overrides:
        forced = overrides.get(artifact["file"]) or overrides.get(artifact["format"])
        if forced:
            return [name.strip() for name in forced.split(",") if name.strip()]
    fmt = artifact["format"]
    if fmt == "tflite":
        names = ["litert"]
        if artifact["file"] == DEFAULT_ARTIFACTS["android"] or "android" in (artifact.get("default_for") or []):
            names.append("task_library")
        return names
    if fmt == "mlpackage":
        return ["coreml" if sys.platform == "darwin" else "coreml_executor"]
    if fmt == "saved_model":
        return ["saved_model"]
    raise UserError(f"manifest artifact {artifact['file']!r} has unknown format {fmt!r}",
                    hint="expected tflite, mlpackage or saved_model")


def plan_runs(artifacts: list[dict[str, Any]], overrides: dict[str, str] | None = None
              ) -> tuple[list[tuple[dict[str, Any], str]], list[str]]:
    """(artifact, runtime) pairs to run, and notes on what was left out.

    An artifact whose bytes are those of one already planned for the same runtime (convert
    writes `flowers.tflite` as a copy of the default precision's file) runs once: the
    answers would be the same.
    """
    plan: list[tuple[dict[str, Any], str]] = []
    seen: dict[tuple[str, str], str] = {}
    notes: list[str] = []
    # Named precision files first, so the copy (flowers.tflite) is the one left out.
    ordered = sorted(artifacts, key=lambda a: a["file"] in DEFAULT_ARTIFACTS.values())
    for art in ordered:
        for runtime in runtimes_for(art, overrides):
            key = (art["sha256"], runtime)
            if key in seen:
                notes.append(f"{art['file']} through {runtime}: same bytes as {seen[key]}, not run twice")
                continue
            seen[key] = art["file"]
            plan.append((art, runtime))
    order = {a["file"]: i for i, a in enumerate(artifacts)}
    plan.sort(key=lambda item: order[item[0]["file"]])  # manifest order in the report
    return plan, notes


def held_out_images(data_dir: Path, cfg: Config, labels: list[str], image_size: tuple[int, int],
                    max_images: int | None) -> tuple[str, np.ndarray, np.ndarray | None, list[Path],
                                                     list[dict[str, str]], list[str]]:
    """Load the test split (else validation) once, as uint8 (N, H, W, 3).

    Returns:
        (split name, images, true label indices into `labels` or None when the data's classes
        are not all among the labels, paths of the loaded images, skipped images with the
        reason, notes).
    """
    from flowers_mobile.data.sources import load_dataset, stratified_sample

    dataset = load_dataset(data_dir, cfg.data)
    split = "test" if dataset.test else "val"
    samples = dataset.split(split)
    if not samples:
        raise UserError(f"{data_dir} has no test or validation images", hint="give a folder with held-out images")
    cap = max_images if max_images is not None else cfg.parity.max_images
    if cap < 1:
        raise UserError(f"--max-images must be at least 1, got {cap}")
    if len(samples) > cap:
        samples = stratified_sample(samples, cap, cfg.data.seed)
    notes: list[str] = []
    index = {name: i for i, name in enumerate(labels)}
    missing = [c for c in dataset.classes if c not in index]
    if missing:
        notes.append(f"the data's classes {', '.join(missing[:5])} are not among the model's labels: "
                     "accuracy is not computed, agreement is")
    images, truth, paths, skipped = [], [], [], []
    for s in samples:
        try:
            images.append(load_image(s.path, (image_size[1], image_size[0])))
        except ImageLoadError as exc:
            skipped.append({"path": str(s.path), "error": exc.message})
            continue
        paths.append(s.path)
        truth.append(index.get(dataset.classes[s.label], -1))
    if not images:
        raise UserError(f"none of the {len(samples)} {split} images in {data_dir} could be decoded",
                        hint="run `flowers-mobile data check` on the folder")
    true = None if missing else np.array(truth, dtype=np.int64)
    return split, np.stack(images), true, paths, skipped, notes


def compare(reference: np.ndarray, probs: np.ndarray, true: np.ndarray | None, labels: list[str],
            paths: list[Path], worst: int = WORST_IMAGES) -> dict[str, Any]:
    """Agreement, differences and accuracy of `probs` against the Keras `reference` (both (N, C))."""
    ref_top1 = reference.argmax(axis=1)
    top1 = probs.argmax(axis=1)
    k = min(TOP_K, probs.shape[1])
    topk = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    diff = np.abs(probs.astype(np.float64) - reference.astype(np.float64))
    per_image = diff.max(axis=1)
    out: dict[str, Any] = {
        "top1_agreement": float(np.mean(top1 == ref_top1)),
        "top5_agreement": float(np.mean((topk == ref_top1[:, None]).any(axis=1))),
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
    }
    # Disagreements first, then by the largest probability difference.
    order = np.lexsort((-per_image, top1 == ref_top1))
    out["worst"] = [{
        "path": str(paths[i]), "true": labels[true[i]] if true is not None else None,
        "keras": labels[ref_top1[i]], "keras_prob": float(reference[i, ref_top1[i]]),
        "export": labels[top1[i]], "export_prob": float(probs[i, top1[i]]),
        "max_abs_diff": float(per_image[i]),
    } for i in order[:worst] if per_image[i] > 0]
    if true is not None:
        out["accuracy"] = float(np.mean(top1 == true))
        out["accuracy_change"] = out["accuracy"] - float(np.mean(ref_top1 == true))
        out["per_class_accuracy_change"] = {
            labels[c]: float(np.mean(top1[true == c] == c) - np.mean(ref_top1[true == c] == c))
            for c in np.unique(true)}
    return out


def _apply_limits(result: ExportParity, pc: ParityConfig, labels_known: bool) -> None:
    for metric, op, limit in limits_for(result.precision, pc):
        if metric == "accuracy_drop":
            if not labels_known or result.accuracy_change is None:
                continue  # no labels: the accuracy limit cannot be checked, agreement still is
            value = -result.accuracy_change
        else:
            value = getattr(result, metric)
        # A hair of slack so a drop of exactly the limit (1/N steps) is not failed by rounding.
        ok = value >= limit - 1e-12 if op == ">=" else value <= limit + 1e-12
        result.checks.append(Check(metric, op, limit, value, bool(ok)))
    result.passed = result.error is None and all(c.passed for c in result.checks)


def run_parity(model_path: Path, export_dir: Path, data_dir: Path, cfg: Config, *,
               max_images: int | None = None, runtimes: dict[str, str] | None = None,
               progress: Callable[[str], None] | None = None, write: bool = True) -> ParityReport:
    """Compare every artifact of `export_dir` with the Keras model on held-out images of `data_dir`.

    Args:
        model_path: the Keras model (.keras / .h5) the export came from; labels.txt beside it.
        export_dir: a `convert` output folder (manifest.json, labels.txt, artifacts).
        data_dir: a data folder; its test split (else validation) is used.
        cfg: config (data split settings, `parity` limits and default image cap).
        max_images: cap on images (stratified over classes); default `cfg.parity.max_images`.
        runtimes: force runtimes, keyed by artifact file name or format ("tflite": "litert").
        progress: called with a short line as each stage starts (for the CLI's status).
        write: write parity.json, parity.md and the manifest's parity entry.
    Returns:
        The report. Bad input (no manifest, a tampered artifact, labels that differ, no
        readable image, an unavailable runtime) raises `UserError` before anything is written.
    """
    say = progress or (lambda _msg: None)
    model_path, export_dir, data_dir = Path(model_path), Path(export_dir), Path(data_dir)
    manifest = load_manifest(export_dir)
    say("verifying artifacts against manifest.json")
    verify_manifest(export_dir, manifest)
    export_labels = read_labels(export_dir / manifest["labels"]["file"])
    if not manifest["artifacts"]:
        raise UserError(f"{export_dir}/manifest.json lists no artifacts", hint="re-run `flowers-mobile convert`")
    plan, notes = plan_runs(manifest["artifacts"], runtimes)

    say(f"loading {model_path.name}")
    keras = load_predictor(model_path, "keras")
    try:
        if keras.labels != export_labels:
            raise UserError(f"{model_path}'s labels ({model_path.parent / 'labels.txt'}) differ from the export's "
                            f"({export_dir / manifest['labels']['file']}): {_label_diff(keras.labels, export_labels)}",
                            hint="the export was made from another model; re-run `flowers-mobile convert`")
        source = manifest.get("source_model") or {}
        if source.get("sha256") and source["sha256"] != sha256_path(model_path):
            notes.append(f"{model_path.name} is not the file this export was made from "
                         f"(manifest: {source.get('file')}, sha256 {source['sha256'][:12]}…)")
        say("loading held-out images")
        split, images, true, paths, skipped, data_notes = held_out_images(
            data_dir, cfg, keras.labels, keras.input_size, max_images)
        notes += data_notes
        say(f"Keras on {len(images)} images")
        reference = keras.predict(images)
    finally:
        keras.close()
    labels = export_labels
    keras_acc = float(np.mean(reference.argmax(1) == true)) if true is not None else None
    keras_per_class = {labels[c]: float(np.mean(reference.argmax(1)[true == c] == c))
                       for c in np.unique(true)} if true is not None else {}

    results = []
    for art, runtime in plan:
        say(f"{art['file']} through {runtime}")
        results.append(_run_one(export_dir, art, runtime, images, reference, true, labels, paths, cfg.parity))

    report = ParityReport(
        model=str(model_path), export_dir=str(export_dir), data=str(data_dir), split=split, images=len(images),
        labels=labels, labels_known=true is not None, keras_accuracy=keras_acc,
        keras_per_class_accuracy=keras_per_class, exports=results, skipped=skipped, notes=notes,
        limits=asdict(cfg.parity))
    if write:
        write_report(report, export_dir)
    return report


def _run_one(export_dir: Path, art: dict[str, Any], runtime: str, images: np.ndarray, reference: np.ndarray,
             true: np.ndarray | None, labels: list[str], paths: list[Path], pc: ParityConfig) -> ExportParity:
    result = ExportParity(file=art["file"], runtime=runtime, format=art["format"], precision=art["precision"],
                          images=len(images))
    start = time.perf_counter()
    predictor = load_predictor(export_dir / art["file"], runtime)  # UserError (exit 2) when unavailable
    try:
        result.describe = predictor.describe()
        if tuple(predictor.input_size) != tuple(images.shape[1:3]):
            result.checks.append(Check("input_size", "==", list(images.shape[1:3]), list(predictor.input_size), False))
            result.error = f"input size {predictor.input_size} differs from the Keras model's {images.shape[1:3]}"
        else:
            result.checks.append(Check("labels", "==", "export labels.txt", "same" if predictor.labels == labels
                                       else _label_diff(predictor.labels, labels), predictor.labels == labels))
            try:
                probs = np.asarray(predictor.predict(images), dtype=np.float32)
            except UserError:
                raise
            except Exception as exc:  # a runtime that crashes on this artifact fails parity, with the reason
                result.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
                probs = None
            if probs is not None and probs.shape != reference.shape:
                result.error = f"output shape {probs.shape} differs from the Keras model's {reference.shape}"
            elif probs is not None:
                for key, value in compare(reference, probs, true, labels, paths).items():
                    setattr(result, key, value)
    finally:
        predictor.close()
    result.seconds = time.perf_counter() - start
    _apply_limits(result, pc, true is not None)
    return result


def _label_diff(got: list[str], expected: list[str]) -> str:
    if len(got) != len(expected):
        return f"{len(got)} labels vs {len(expected)}"
    for i, (a, b) in enumerate(zip(got, expected, strict=True)):
        if a != b:
            return f"line {i + 1}: {a!r} vs {b!r}"
    return "same"


def write_report(report: ParityReport, export_dir: Path) -> None:
    """parity.json, parity.md (atomic) and the short result in manifest.json."""
    atomic_write_json(export_dir / PARITY_JSON, report.to_dict())
    atomic_write_text(export_dir / PARITY_MD, report.to_markdown())
    record_parity(export_dir, report.summary())


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e-2 and v != 0 else f"{v:.4f}"
    return str(v)


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.2f}%"


def _pts(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:+.2f} pt"


def _limits_text(e: ExportParity) -> str:
    shown = [c for c in e.checks if c.metric not in ("labels", "input_size")]
    return ", ".join(f"{c.metric} {c.op} {_fmt_value(c.limit)}" for c in shown) or "-"


def render_markdown(report: ParityReport) -> str:
    """parity.md: the table, then what failed, per-class changes and the worst images per export."""
    lines = [
        f"# Parity: {Path(report.export_dir).name} against {Path(report.model).name}",
        "",
        f"- {report.created}; {report.images} {report.split} images from `{report.data}`"
        + (f"; {len(report.skipped)} skipped (undecodable)" if report.skipped else ""),
        f"- Keras accuracy: {_pct(report.keras_accuracy)}" if report.labels_known else "- accuracy: no labels",
        f"- Result: **{'PASS' if report.passed else 'FAIL'}**",
        "",
        "| export | runtime | precision | top-1 agree | top-5 agree | max abs diff | mean abs diff | accuracy | Δ accuracy | limits | result |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in report.exports:
        lines.append(
            f"| {e.file} | {e.runtime} | {e.precision} | {_pct(e.top1_agreement)} | {_pct(e.top5_agreement)} | "
            f"{'n/a' if e.max_abs_diff is None else f'{e.max_abs_diff:.2e}'} | "
            f"{'n/a' if e.mean_abs_diff is None else f'{e.mean_abs_diff:.2e}'} | {_pct(e.accuracy)} | "
            f"{_pts(e.accuracy_change)} | {_limits_text(e)} | {'pass' if e.passed else 'FAIL'} |")
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in report.notes]
    failures = report.failures()
    if failures:
        lines += ["", "## Failed", ""] + [f"- {f}" for f in failures]
    lines += ["", "## Limits", ""] + [f"- `{k}`: {v}" for k, v in report.limits.items()]
    for e in report.exports:
        changed = {k: v for k, v in e.per_class_accuracy_change.items() if v}
        if not changed and not e.worst:
            continue
        lines += ["", f"## {e.name}", ""]
        if changed:
            lines += ["Per-class accuracy change: " + ", ".join(f"{k} {_pts(v)}" for k, v in sorted(changed.items())),
                      ""]
        if e.worst:
            lines += ["| image | true | Keras | export | max abs diff |", "|---|---|---|---|---|"]
            lines += [f"| {Path(w['path']).name} | {w['true'] or ''} | {w['keras']} {w['keras_prob']:.3f} | "
                      f"{w['export']} {w['export_prob']:.3f} | {w['max_abs_diff']:.2e} |" for w in e.worst]
    if report.skipped:
        lines += ["", "## Skipped images", ""] + [f"- `{s['path']}`: {s['error']}" for s in report.skipped]
    return "\n".join(lines) + "\n"

