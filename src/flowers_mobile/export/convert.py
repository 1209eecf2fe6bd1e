"""`convert`: one trained Keras classifier -> every deployable artifact, labels and a manifest.

    manifest = convert("models/run/model.keras", "models/export", cfg,
                       targets=("all",), data_dir="data/flowers")

Order of work:
1. Everything cheap is checked before TensorFlow loads: targets, precisions, --normalize,
   the labels file, the data folder's classes against the labels, the output folder.
2. The model is loaded once, validated (an image classifier with a softmax-like output whose
   class count equals the labels'), and wrapped to take raw pixels when `normalize` says so.
3. Every artifact is written into a temporary folder that replaces `out_dir` only when all
   of them, `labels.txt` and `manifest.json` are complete: a convert that fails or is killed
   leaves the previous export as it was.

With int8 and other work to do, int8 calibration (the long step) runs in a second process
while this one writes the other precisions and targets.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from flowers_mobile import backbones, variants
from flowers_mobile.config import Config, ExportConfig
from flowers_mobile.errors import UserError
from flowers_mobile.export.choose_default import forced_default
from flowers_mobile.export.job import Job
from flowers_mobile.export.steps import Steps as _Steps
from flowers_mobile.export.tflite_target import TFLiteWork
from flowers_mobile.formats.manifest import (
    LABELS_NAME,
    MANIFEST_NAME,
    Artifact,
    build_manifest,
    describe_artifact,
    write_manifest,
)
from flowers_mobile.fsutil import atomic_dir, sha256_file
from flowers_mobile.keras_file import check_keras_file
from flowers_mobile.labels import read_labels, write_labels
from flowers_mobile.progress import ProgressCallback
from flowers_mobile.variants import coreml_compressions, coreml_extra, resolve_precisions

TARGETS = ("tflite", "coreml", "saved_model")
SAVED_MODEL_DIR = "saved_model"
DEFAULT_OUT = "models/export"


def resolve_targets(targets: Sequence[str]) -> list[str]:
    """Targets in canonical order; "all" means every one. UserError for an unknown name."""
    wanted: set[str] = set()
    for name in variants.split_names(targets or ("tflite",)):
        key = name.strip().lower().replace("-", "_")
        if key == "all":
            wanted.update(TARGETS)
        elif key in TARGETS:
            wanted.add(key)
        else:
            raise UserError(f"unknown target {name!r}", hint=f"use {', '.join(TARGETS)} or all")
    return [t for t in TARGETS if t in wanted]


def effective_config(cfg: Config, precisions: Sequence[str] | None = None, coreml_precision: str | None = None,
                     coreml_compression: Sequence[str] | None = None) -> Config:
    """`cfg` with the Python API's keyword options in place of the keys they stand for.

    None leaves a key as the config has it; any list, [] included, replaces it ([] compression:
    no compressed variant). What the export then reads, and the manifest records, is this config.
    """
    changes: dict[str, Any] = {}
    if precisions is not None:
        changes["tflite_precisions"] = resolve_precisions(precisions)
    if coreml_precision is not None:
        changes["coreml_extra_precisions"] = coreml_extra(coreml_precision)
    if coreml_compression is not None:
        changes["coreml_compression"] = coreml_compressions(coreml_compression)
    return replace(cfg, export=replace(cfg.export, **changes)) if changes else cfg


def _check_out_dir(out_dir: Path, inputs: dict[str, Path | None]) -> None:
    """Refuse an output folder that convert would wrongly replace as a whole."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir} is a file", hint="give a folder for the export")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST_NAME).is_file():
        raise UserError(f"--out {out_dir} is a folder with files but no {MANIFEST_NAME}; convert replaces its "
                        "output folder as a whole", hint="give an empty or new folder, or a previous export folder")
    resolved = out_dir.resolve()
    for what, path in inputs.items():
        if path is None:
            continue
        p = path.resolve()
        if p == resolved or resolved in p.parents:
            raise UserError(f"the {what} {path} is inside --out {out_dir}, which convert replaces as a whole",
                            hint="write the export to another folder")


def convert(model_path: str | os.PathLike[str], out_dir: str | os.PathLike[str], cfg: Config, *,
            labels_path: str | os.PathLike[str] | None = None, targets: Sequence[str] = ("tflite",),
            precisions: Sequence[str] | None = None, data_dir: str | os.PathLike[str] | None = None,
            normalize: str = "none", coreml_precision: str | None = None,
            coreml_compression: Sequence[str] | None = None, progress: ProgressCallback | None = None,
            default: str | None = None) -> dict[str, Any]:
    """Convert a Keras classifier into `out_dir`: TFLite precisions, Core ML, SavedModel, labels, manifest.

    Args:
        model_path: a `.keras` or `.h5` image classifier.
        out_dir: the export folder (replaced as a whole on success).
        cfg: the config (export and data sections are used); the CLI's flags arrive in it.
        labels_path: labels file; default `labels.txt` beside the model.
        targets: any of tflite, coreml, saved_model, or all.
        precisions, coreml_precision, coreml_compression: for Python callers, in place of
            `export.tflite_precisions`, `export.coreml_extra_precisions` ("all": both) and
            `export.coreml_compression` (see `effective_config`: None keeps the config's, [] is none).
        data_dir: images for int8 calibration: a labelled dataset (its training split; its classes
            must be the labels) or any folder of unlabelled images.
        normalize: none | mobilenet | imagenet | SCALE,OFFSET, for models that expect
            normalized input (see `keras_io.parse_normalize`).
        progress: called with each step's progress events (None: silent).
        default: the precision copied to `flowers.tflite` (None: measured, see `choose_default`).
    Returns:
        The manifest written to `out_dir/manifest.json`.
    Raises:
        UserError: any bad input; nothing is written then.
    """
    cfg = effective_config(cfg, precisions, coreml_precision, coreml_compression)
    job = _prepare(model_path, out_dir, cfg, labels_path, targets, data_dir, normalize, default)
    # int8 calibration is the long step: with other work to overlap, a second process does it, and
    # it starts now so that its TensorFlow import overlaps with loading the model here.
    background = None
    if "int8" in job.precisions and (len(job.precisions) > 1 or len(job.targets) > 1):
        from flowers_mobile.export.tflite import BackgroundConversion

        background = BackgroundConversion()
    try:
        with _Steps(progress) as steps:
            model, info, representative = _load(job, steps)
            named = backbones.identify(model)
            if named is not None and job.cfg.export.description == ExportConfig().description:
                # The default description names the model's backbone (TFLite metadata, Core ML).
                export_cfg = replace(job.cfg.export, description=backbones.description(named))
                job = replace(job, cfg=replace(job.cfg, export=export_cfg))
            with atomic_dir(job.out_dir) as tmp:
                manifest = _write_export(job, model, info, representative, tmp, steps, background)
    finally:
        if background is not None:
            background.cancel()
    manifest["timings_s"] = steps.seconds  # returned for reports; not part of the written contract
    return manifest


def _prepare(model_path: str | os.PathLike[str], out_dir: str | os.PathLike[str], cfg: Config,
             labels_path: str | os.PathLike[str] | None, targets: Sequence[str],
             data_dir: str | os.PathLike[str] | None, normalize: str, default: str | None) -> Job:
    """Every cheap check, before TensorFlow loads: a typo must not wait for it."""
    from flowers_mobile.export import keras_io

    target_list = resolve_targets(targets)
    precision_list = resolve_precisions(cfg.export.tflite_precisions) if "tflite" in target_list else []
    forced = forced_default(default, precision_list)
    norm = keras_io.parse_normalize(normalize)
    model_path = check_keras_file(model_path)
    labels_file = Path(labels_path) if labels_path is not None else model_path.parent / LABELS_NAME
    labels = read_labels(labels_file)
    data_path = Path(data_dir) if data_dir is not None else None
    if "int8" in precision_list and data_path is None:
        raise UserError("int8 needs --data DIR: calibration uses the training images, never random noise",
                        hint="pass the training data or any folder of images like it, or --quantize fp16|dynamic|none")
    calibration, dataset = None, None
    if data_path is not None:  # checked even without int8: a wrong folder is an error either way
        calibration, dataset = _data_for_export(data_path, labels, cfg)
    out = Path(out_dir)
    _check_out_dir(out, {"model": model_path, "labels file": labels_file, "data folder": data_path})
    return Job(cfg, model_path, labels_file, labels, target_list, precision_list, forced, norm, data_path,
                calibration, dataset, out)


def _load(job: Job, steps: _Steps) -> tuple[Any, Any, Any]:
    """The model, once (validated, wrapped for its normalization), and the int8 calibration images."""
    from flowers_mobile.export import keras_io

    with steps.step(f"load {job.model_path.name}"):
        raw_model = keras_io.load_keras_model(job.model_path)
        info = keras_io.validate_classifier(raw_model, where=str(job.model_path))
        keras_io.check_labels_match(job.labels, info.num_classes, str(job.labels_file), str(job.model_path))
        model = keras_io.wrap_normalization(raw_model, job.norm)
    representative = None
    if "int8" in job.precisions:
        assert job.calibration is not None
        from flowers_mobile.export.tflite import load_calibration

        with steps.step(f"read {len(job.calibration)} calibration images"):
            representative = load_calibration(job.calibration, info.input_size)
    return model, info, representative


def _write_export(job: Job, model: Any, info: Any, representative: Any, tmp: Path, steps: _Steps,
                  background: Any | None) -> dict[str, Any]:
    """Every artifact, labels.txt and manifest.json into `tmp`, in this order: the TFLite precisions
    this process converts (int8 calibrates meanwhile in the `background` process), then Core ML and
    SavedModel, then int8 collected, the TFLite metadata and the default choice, then the manifest."""
    labels_out = write_labels(tmp / LABELS_NAME, job.labels)
    if job.dataset is not None:
        from flowers_mobile.export.fidelity import judged_images

        with steps.step("Keras on the held-out images (the judge's reference)"):
            job = replace(job, held=judged_images(job.model_path, job.norm.scale if job.norm else None,
                                                  job.norm.offset if job.norm else None, job.dataset, job.labels,
                                                  info.input_size, job.cfg))
    tflite = None
    if "tflite" in job.targets:
        tflite = TFLiteWork(job, model, info, representative, tmp, steps, background)
        tflite.convert_here()
    others = _other_targets(job, model, info, tmp, steps, sha256_file(job.model_path), sha256_file(labels_out))
    artifacts = [*(tflite.finish() if tflite is not None else []), *others]
    with steps.step("manifest"):
        export_config = {
            **asdict(job.cfg.export),  # the effective export options: --quantize, --coreml-* included
            "targets": job.targets,
            "tflite_precisions": job.precisions,
            "normalize": job.norm.describe() if job.norm else "none",
            # The Keras model takes x * scale + offset of the pixels the exports take: `parity` applies it.
            "normalize_scale": list(job.norm.scale) if job.norm else None,
            "normalize_offset": list(job.norm.offset) if job.norm else None,
            "softmax_check": info.softmax_check,
            "representative_images": 0 if representative is None else len(representative),
            "data_dir": None if job.data_path is None else str(job.data_path),
        }
        manifest = _write_manifest(tmp, job.cfg, job.model_path, labels_out, job.labels, artifacts, export_config)
    _readable(tmp)
    return manifest


def _write_manifest(tmp: Path, cfg: Config, model_path: Path, labels_out: Path, labels: list[str],
                    artifacts: list[Artifact], export_config: dict[str, Any]) -> dict[str, Any]:
    """manifest.json, with the default TFLite choice (when there is one) in its export config."""
    for platform, key in (("android", "default_tflite"), ("ios", "default_coreml")):
        default = next((a for a in artifacts if platform in a.default_for), None)
        if default is not None and "default_choice" in default.extra:
            export_config[key] = default.extra["default_choice"]
    manifest = build_manifest(model_name=cfg.export.model_name, source_model=model_path, labels_file=labels_out,
                              labels=labels, artifacts=artifacts, config=export_config)
    write_manifest(tmp, manifest)
    return manifest.to_dict()  # callers read it as the JSON it is on disk


def _data_for_export(data_path: Path, labels: list[str], cfg: Config) -> tuple[list[Path], Any | None]:
    """The int8 calibration images, and the labelled dataset whose held-out splits (never the
    training split calibration uses) measure each precision's fidelity; None for a folder of
    unlabelled images, where there is no held-out split and the first precision is the default."""
    from flowers_mobile.data.sources import load_dataset, unlabelled_images
    from flowers_mobile.export.tflite import calibration_paths

    calibration = calibration_paths(data_path, labels, cfg.data, cfg.export.representative_size)
    dataset = None if unlabelled_images(data_path, labels) is not None else load_dataset(data_path, cfg.data)
    return calibration, dataset


def _readable(folder: Path) -> None:
    """Give the export the umask's usual modes: temp files are created 0600, but a server or the
    app bundler may read them as another user."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for path in folder.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def _other_targets(job: Job, model: Any, info: Any, tmp: Path, steps: _Steps, source_sha: str,
                   labels_sha: str) -> list[Artifact]:
    """SavedModel and the Core ML packages (`export.coreml_precision`, the extra precisions, the
    compressed variants), the packages measured when there is a choice among several."""
    cfg, labels = job.cfg, job.labels
    artifacts: list[Artifact] = []
    if "saved_model" in job.targets:
        from flowers_mobile.export.saved_model import export_saved_model

        with steps.step("SavedModel (serving_default: image -> probabilities)"):
            export_saved_model(model, tmp / SAVED_MODEL_DIR, info.input_size)
            h, w = info.input_size
            artifacts.append(describe_artifact(
                tmp, SAVED_MODEL_DIR, format="saved_model", precision="float32", input_shape=[-1, h, w, 3],
                input_dtype="float32", num_labels=len(labels),
                extra={"signature": "serving_default", "input": "image", "output": "probabilities"}))
    if "coreml" in job.targets:
        from flowers_mobile.export.coreml import export_coreml

        extra = cfg.export.coreml_extra_precisions
        with steps.step("Core ML"):
            artifacts += export_coreml(model, labels, tmp, cfg.export, source_model_sha256=source_sha,
                                       labels_sha256=labels_sha, precision=_one_precision_arg(extra),
                                       compression=list(cfg.export.coreml_compression))
        packages = [a for a in artifacts if a.format == "mlpackage"]
        # Measured here only when there is a choice to make (compressed variants beside the
        # default): on Linux the numpy executor runs at a few images/s at 224 px, and `parity`
        # measures the default package anyway.
        if job.held is not None and len(packages) > 1:
            from flowers_mobile.export.coreml_fidelity import measure_packages

            with steps.step("Core ML fidelity on held-out images"):
                measure_packages(packages, tmp, job.held, cfg)
    return artifacts


def _one_precision_arg(extra: Sequence[str]) -> str | None:
    """`export_coreml`'s `precision` argument: the one precision written besides the default, or "all"."""
    if len(set(extra)) > 1:
        return "all"
    return extra[0] if extra else None
