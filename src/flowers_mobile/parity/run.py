"""`run_parity`: the Keras model and every artifact of an export folder on the same images."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.config import Config
from flowers_mobile.errors import UserError, first_line
from flowers_mobile.formats.manifest import (
    Artifact,
    Manifest,
    read_manifest,
    record_parity,
    verify_manifest,
)
from flowers_mobile.fsutil import atomic_write_json, atomic_write_text, sha256_path
from flowers_mobile.judge import (
    Check,
    ExportParity,
    Judged,
    assess,
    judged,
    limits_for,
    settle,
    variant_of,
)
from flowers_mobile.judge.stats import CONFIDENCE
from flowers_mobile.labels import read_labels
from flowers_mobile.parity.data import HeldOut, held_out_images
from flowers_mobile.parity.plan import METADATA_RUNTIMES, plan_runs
from flowers_mobile.parity.report import render_markdown
from flowers_mobile.parity.result import ParityReport
from flowers_mobile.runtimes.base import RuntimeUnavailable, load_predictor, unavailable_reason

PARITY_JSON = "parity.json"
PARITY_MD = "parity.md"


def run_parity(model_path: Path, export_dir: Path, data_dir: Path, cfg: Config, *,
               max_images: int | None = None, runtimes: dict[str, str] | None = None,
               progress: Callable[[str], None] | None = None, write: bool = True,
               strict: bool | None = None) -> ParityReport:
    """Compare every artifact of `export_dir` with the Keras model on images of `data_dir`.

    Args:
        model_path: the Keras model (.keras / .h5) the export came from; labels.txt beside it.
        export_dir: a `convert` output folder (manifest.json, labels.txt, artifacts).
        data_dir: a labelled data folder (its validation and test splits are used) or a folder
            of unlabelled images (all of them; agreement only).
        cfg: config (data split settings, `parity` limits and default image cap).
        max_images: cap on images (stratified over classes); default `cfg.parity.max_images`.
        runtimes: force runtimes, keyed by artifact file name or format ("tflite": "litert").
        progress: called with a short line as each stage starts (for the CLI's status).
        write: write parity.json, parity.md and the manifest's parity entry.
        strict: inconclusive verdicts do not pass (default `cfg.parity.strict`).
    Returns:
        The report. Bad input (no manifest, a tampered artifact, labels that differ, no
        readable image, a forced runtime that is not installed, a variant without limits) raises
        `UserError` before anything is written. A runtime that cannot load or run one artifact
        gives that run an `error` verdict with its reason; every other run is still judged.
    """
    say = progress or (lambda _msg: None)
    strict = cfg.parity.strict if strict is None else strict
    model_path, export_dir, data_dir = Path(model_path), Path(export_dir), Path(data_dir)
    manifest = read_manifest(export_dir)
    say("verifying artifacts against manifest.json")
    verify_manifest(export_dir, manifest)
    export_labels = read_labels(export_dir / manifest.labels.file)
    if not manifest.artifacts:
        raise UserError(f"{export_dir}/manifest.json lists no artifacts", hint="re-run `flowers-mobile convert`")
    plan, notes = _plan(manifest, runtimes)
    for art, _ in plan:
        limits_for(_variant(art), cfg.parity)  # a variant without limits: exit 2 before any work
    findings: list[str] = []
    held, judged_set, labels = _reference(model_path, export_dir, manifest, export_labels, data_dir, cfg,
                                          max_images, notes, findings, say)
    reference = judged_set.reference
    true = held.true
    keras_acc = float(np.mean(reference.argmax(1) == true)) if true is not None else None
    keras_per_class = {labels[c]: float(np.mean(reference.argmax(1)[true == c] == c))
                       for c in np.unique(true)} if true is not None else {}

    results, top1 = [], {}
    for art, runtime in plan:
        say(f"{art.file} through {runtime}")
        result, probs = _run_one(export_dir, art, runtime, held, judged_set, labels, cfg, strict)
        results.append(result)
        if probs is not None:
            top1[(art.sha256, runtime)] = probs.argmax(1)
    _check_same_top1_as_litert(results, plan, top1, strict)
    _name_runtimes_that_ran(results)

    report = ParityReport(
        model=str(model_path), export_dir=str(export_dir), data=str(data_dir), split=held.split,
        images=len(held.images), labels=labels, labels_known=true is not None, keras_accuracy=keras_acc,
        keras_per_class_accuracy=keras_per_class, exports=results, skipped=held.skipped, notes=notes,
        limits=asdict(cfg.parity), strict=strict, confidence=CONFIDENCE, findings=findings)
    if write:
        write_report(report, export_dir)
    return report


def _plan(manifest: Manifest, runtimes: dict[str, str] | None) -> tuple[list[tuple[Artifact, str]], list[str]]:
    """`plan_runs` on the manifest's artifacts; it takes and returns them as manifest dicts."""
    by_file = {art.file: art for art in manifest.artifacts}
    plan, notes = plan_runs([art.to_dict() for art in manifest.artifacts], runtimes)
    return [(by_file[row["file"]], runtime) for row, runtime in plan], notes


def _variant(art: Artifact) -> str:
    return variant_of({"format": art.format, "precision": art.precision})


def _reference(model_path: Path, export_dir: Path, manifest: Manifest, export_labels: list[str],
               data_dir: Path, cfg: Config, max_images: int | None, notes: list[str], findings: list[str],
               say: Callable[[str], None]) -> tuple[HeldOut, Judged, list[str]]:
    """Check the Keras model is the export's, load the images and run Keras on them, with the
    normalization `convert --normalize` put in front of the exports (the manifest records it).
    Returns the held-out images, the judge's reference and the labels to judge by (the model's).

    Defects of the export as a whole go to `findings` (each fails the run, exit 1, while every
    artifact is still judged): a labels.txt that differs from the model's when the model is the
    very file the export was made from, and a declared normalization that the model's accuracy
    says is wrong. Labels that differ from another model's are bad input (exit 2)."""
    from flowers_mobile.keras_file import load_keras_model
    from flowers_mobile.runtimes.keras_runtime import check_classifier_shapes

    say(f"loading {model_path.name}")
    keras_labels = read_labels(model_path.parent / "labels.txt")
    source = manifest.source_model
    same_model = source is not None and bool(source.sha256) and source.sha256 == sha256_path(model_path)
    if keras_labels != export_labels:
        diff = _label_diff(keras_labels, export_labels)
        if not same_model or len(keras_labels) != len(export_labels):
            raise UserError(f"{model_path}'s labels ({model_path.parent / 'labels.txt'}) differ from the export's "
                            f"({export_dir / manifest.labels.file}): {diff}",
                            hint="the export was made from another model; re-run `flowers-mobile convert`")
        findings.append(f"{manifest.labels.file} differs from the labels of the model it was made from "
                        f"({model_path.parent / 'labels.txt'}): {diff}; an app that reads it names the classes "
                        "wrongly (re-run `flowers-mobile convert`)")
    if source is not None and source.sha256 and not same_model:
        notes.append(f"{model_path.name} is not the file this export was made from "
                     f"(manifest: {source.file}, sha256 {source.sha256[:12]}…)")
    # Loaded once: the shapes, Keras's answers, the raw-pixel check and the judge's rounded copies
    # (which restore its weights before each scheme) all read this one model.
    model = load_keras_model(model_path)
    size, classes = check_classifier_shapes(model, model_path)
    if classes != len(keras_labels):
        raise UserError(f"{model_path}: the model has {classes} outputs but its labels file has "
                        f"{len(keras_labels)} labels", hint="give the labels.txt written with this model")
    say("loading held-out images")
    held = held_out_images(data_dir, cfg, keras_labels, size, max_images)
    notes += held.notes
    scale, offset = _normalization(manifest)
    say(f"Keras on {len(held.images)} images")
    judged_set = judged(lambda: model, held.images, held.true, keras_labels, held.paths,
                        held.split.split("+"), scale, offset, model_path=model_path)
    if scale is not None and held.true is not None:
        say("Keras on raw pixels (is the declared normalization the model's?)")
        finding = _normalization_finding(model, held.images, held.true,
                                         judged_set.reference, manifest)
        if finding:
            findings.append(finding)
    return held, judged_set, keras_labels


#: A declared normalization is called wrong when the model on raw pixels is right on this many
#: more of the labelled held-out images (and the paired test decides it): wrong input scaling
#: does not cost a few points, it costs most of the accuracy.
NORMALIZATION_MIN_GAP = 0.10


def _normalization_finding(model: Any, images: np.ndarray, true: np.ndarray, normalized: np.ndarray,
                           manifest: Manifest) -> str | None:
    """`convert --normalize` declares that the model takes `x * scale + offset`; on a model that
    normalizes its input itself (every model `flowers-mobile train` writes) that normalizes twice,
    and the export, faithful to that declaration, agrees with Keras fed the same doubled input: no
    comparison of the two can see it. The labels can: the model's accuracy with the declared
    normalization against on the raw pixels, paired on the same images (exact McNemar)."""
    from flowers_mobile.judge.reference import predict_eagerly
    from flowers_mobile.judge.stats import mcnemar_exact

    probs = predict_eagerly(model, images.astype(np.float32))
    raw_right, declared_right = probs.argmax(1) == true, normalized.argmax(1) == true
    lost = int(np.sum(raw_right & ~declared_right))
    gained = int(np.sum(declared_right & ~raw_right))
    gap = (lost - gained) / len(true)
    if gap < NORMALIZATION_MIN_GAP or mcnemar_exact(lost, gained) >= 1 - CONFIDENCE:
        return None
    declared = (manifest.export_config or {}).get("normalize") or "the declared normalization"
    return (f"the input normalization the export declares ({declared}) makes the Keras model right on "
            f"{np.mean(declared_right):.1%} of the {len(true)} labelled images, against {np.mean(raw_right):.1%} "
            "on raw pixels: the model most likely normalizes its input itself, so the exports normalize "
            "twice (convert again without --normalize)")


def _normalization(manifest: Manifest) -> tuple[tuple[float, ...] | None, tuple[float, ...] | None]:
    """The (scale, offset) `convert --normalize` put in front of the exports: the Keras model takes
    `x * scale + offset` of the raw pixels the exports take. (None, None): none."""
    config = manifest.export_config or {}
    scale, offset = config.get("normalize_scale"), config.get("normalize_offset")
    if scale is not None and offset is not None:
        return tuple(float(v) for v in scale), tuple(float(v) for v in offset)
    text = str(config.get("normalize") or "none")
    if text == "none":
        return None, None
    # Manifests written before the scale and offset were recorded: "name: x * S + O".
    import re

    numbers = re.findall(r"-?[0-9.]+(?:e-?[0-9]+)?", text.split(":", 1)[-1])
    if len(numbers) == 2:
        return (float(numbers[0]),) * 3, (float(numbers[1]),) * 3
    if len(numbers) == 6:
        return tuple(map(float, numbers[:3])), tuple(map(float, numbers[3:]))
    raise UserError(f"manifest.json: cannot read the normalization {text!r}", hint="re-run `flowers-mobile convert`")


def _check_same_top1_as_litert(results: list[ExportParity], plan: list[tuple[Artifact, str]],
                               top1: dict[tuple[str, str], np.ndarray], strict: bool) -> None:
    """The Task Library and MediaPipe Tasks must pick LiteRT's class on every image of the same
    bytes: they run the same model on the same pixels, only the metadata handling is theirs.
    Keyed by sha256: `flowers.tflite [litert]` is not run, its bytes are the default precision's."""
    for result, (art, runtime) in zip(results, plan, strict=True):
        mine, litert = top1.get((art.sha256, runtime)), top1.get((art.sha256, "litert"))
        if runtime not in METADATA_RUNTIMES or mine is None or litert is None:
            continue
        agreement = float(np.mean(mine == litert))
        same = agreement == 1.0
        result.checks.append(Check("top1_agreement_with_litert", "==", 1.0, agreement,
                                   "pass" if same else "fail", same))
        settle(result, strict)


def _name_runtimes_that_ran(results: list[ExportParity]) -> None:
    """An error row says which other runtimes ran the same file: "the Task Library could not load
    it ... (litert, mediapipe run it)" is a runtime's limit, not a broken file."""
    for result in results:
        if result.error is None:
            continue
        ran = [r.runtime for r in results if r.file == result.file and r.error is None]
        if ran:
            result.error += f" ({', '.join(ran)} ran it)"


def _category_check(predictor: Any, images: np.ndarray, labels: list[str]) -> Check:
    """The categories a metadata-reading runtime returns (what an app shows) are our labels."""
    names = sorted(predictor.classify_by_name(images[:1])[0])
    same = names == sorted(labels)
    return Check("category_names", "==", "export labels.txt", "same" if same else _label_diff(names, sorted(labels)),
                 "pass" if same else "fail", same)


def _run_one(export_dir: Path, art: Artifact, runtime: str, held: HeldOut, judged_set: Judged,
             labels: list[str], cfg: Config, strict: bool) -> tuple[ExportParity, np.ndarray | None]:
    """One artifact through one runtime, judged. A runtime that cannot load or run the artifact
    gives an `error` verdict with its one-line reason (never an exception: the others still run)."""
    images = held.images
    result = ExportParity(file=art.file, runtime=runtime, format=art.format, precision=art.precision,
                          variant=_variant(art), images=len(images), ships=bool(art.default_for))
    start = time.perf_counter()
    probs: np.ndarray | None = None
    reason = unavailable_reason(runtime)
    if reason is not None:  # asked for by name (--runtime) and not installed here: bad input, exit 2
        raise RuntimeUnavailable(f"runtime {runtime!r} cannot run here: {reason}",
                                 hint="install it, or leave --runtime out to use what is here")
    try:
        predictor = load_predictor(export_dir / art.file, runtime)
    except Exception as exc:  # UserError included: this runtime, installed, cannot open this file
        result.error = f"{runtime} could not load it: {_reason(exc)}"
        predictor = None
    if predictor is not None:
        try:
            result.describe = predictor.describe()
            if tuple(predictor.input_size) != tuple(images.shape[1:3]):
                result.checks.append(Check("input_size", "==", list(images.shape[1:3]), list(predictor.input_size),
                                           "fail", False))
            else:
                same = predictor.labels == labels
                result.checks.append(Check("labels", "==", "export labels.txt", "same" if same
                                           else _label_diff(predictor.labels, labels), "pass" if same else "fail",
                                           same))
                if runtime in METADATA_RUNTIMES:
                    result.checks.append(_category_check(predictor, images, labels))
                probs = np.asarray(predictor.predict(images), dtype=np.float32)
        except Exception as exc:
            result.error = f"{runtime} could not run it: {_reason(exc)}"
            probs = None
        finally:
            predictor.close()
    assess(result, probs, judged_set, cfg.parity, strict)
    result.seconds = time.perf_counter() - start
    return result, (probs if result.error is None else None)


def _reason(exc: BaseException) -> str:
    """One line: a UserError's own, else the exception's type and first line."""
    text = exc.one_line() if isinstance(exc, UserError) else f"{type(exc).__name__}: {first_line(exc, '')}"
    return text.splitlines()[0][:300] if text else type(exc).__name__


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
    atomic_write_text(export_dir / PARITY_MD, render_markdown(report))
    record_parity(export_dir, report.summary())
