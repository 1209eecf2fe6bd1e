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
import shutil
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flowers_mobile.config import Config
from flowers_mobile.errors import UserError
from flowers_mobile.export.choose_default import forced_default, measure_and_choose
from flowers_mobile.export.manifest import (
    DEFAULT_ARTIFACTS,
    LABELS_NAME,
    MANIFEST_NAME,
    Artifact,
    describe_artifact,
    new_manifest,
    write_manifest,
)
from flowers_mobile.export.steps import Steps as _Steps
from flowers_mobile.export.tflite import DEFAULT_TFLITE, precision_name, tflite_file_name
from flowers_mobile.fsutil import atomic_dir, atomic_write_bytes, sha256_file
from flowers_mobile.keras_file import check_keras_file
from flowers_mobile.labels import read_labels, write_labels
from flowers_mobile.progress import ProgressCallback

TARGETS = ("tflite", "coreml", "saved_model")
SAVED_MODEL_DIR = "saved_model"
DEFAULT_OUT = "models/export"


def _split(values: Sequence[str]) -> list[str]:
    """`--target tflite,coreml` and `--target tflite --target coreml` mean the same."""
    return [part for value in values for part in value.split(",") if part.strip()] or list(values)


def resolve_targets(targets: Sequence[str]) -> list[str]:
    """Targets in canonical order; "all" means every one. UserError for an unknown name."""
    wanted: set[str] = set()
    for name in _split(targets or ("tflite",)):
        key = name.strip().lower().replace("-", "_")
        if key == "all":
            wanted.update(TARGETS)
        elif key in TARGETS:
            wanted.add(key)
        else:
            raise UserError(f"unknown target {name!r}", hint=f"use {', '.join(TARGETS)} or all")
    return [t for t in TARGETS if t in wanted]


def resolve_precisions(precisions: Sequence[str]) -> list[str]:
    """Canonical precisions, deduplicated, in the given order."""
    out: list[str] = []
    for name in _split(precisions):
        canonical = precision_name(name)
        if canonical not in out:
            out.append(canonical)
    if "int8_fallback" in out and "int8" not in out:  # it is built from, and measured against, plain int8
        out.insert(out.index("int8_fallback"), "int8")
    if not out:
        raise UserError("no TFLite precision given", hint="use --quantize int8|fp16|dynamic|none")
    return out


def coreml_exporter(precision: str | None = None, compression: Sequence[str] | None = None) -> Any:
    """`flowers_mobile.export.coreml.export_coreml`, or UserError when this build has no Core ML export.

    The Core ML options are checked here too (when the module offers its checkers), so a typo
    fails before any conversion starts.
    """
    import importlib

    try:
        module = importlib.import_module("flowers_mobile.export.coreml")
    except ModuleNotFoundError as exc:
        if exc.name not in ("flowers_mobile.export.coreml", "coremltools"):
            raise
        missing = "coremltools is not installed" if exc.name == "coremltools" else \
            "the Core ML exporter (flowers_mobile.export.coreml) is not part of this build"
        raise UserError(f"--target coreml is not available: {missing}",
                        hint="use --target tflite or saved_model") from exc
    if precision is not None and hasattr(module, "normalize_precision"):
        module.normalize_precision(precision)
    if compression and hasattr(module, "normalize_compression"):
        module.normalize_compression(list(compression))
    return module.export_coreml


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
        cfg: the config (export and data sections are used).
        labels_path: labels file; default `labels.txt` beside the model.
        targets: any of tflite, coreml, saved_model, or all.
        precisions: TFLite precisions (int8, fp16/float16, dynamic, none/float32); default
            `cfg.export.tflite_precisions`. One is copied to `flowers.tflite` (see `default`).
        data_dir: images for int8 calibration: a labelled dataset (its training split; its classes
            must be the labels) or any folder of unlabelled images.
        normalize: none | mobilenet | imagenet | SCALE,OFFSET, for models that expect
            normalized input (see `keras_io.parse_normalize`).
        coreml_precision, coreml_compression: passed to the Core ML exporter (None: config).
        progress: called with each step's progress events (None: silent).
        default: the precision copied to `flowers.tflite` (None: measured, see `choose_default`).
    Returns:
        The manifest written to `out_dir/manifest.json`.
    Raises:
        UserError: any bad input; nothing is written then.
    """
    from flowers_mobile.export import keras_io

    # 1. Cheap checks first: a typo must not wait for TensorFlow.
    target_list = resolve_targets(targets)
    precision_list = resolve_precisions(precisions or cfg.export.tflite_precisions) if "tflite" in target_list else []
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
    export_coreml = coreml_exporter(coreml_precision, coreml_compression) if "coreml" in target_list else None
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, {"model": model_path, "labels file": labels_file, "data folder": data_path})

    # int8 calibration is the long step: with other work to overlap, a second process does it, and
    # it starts now so that its TensorFlow import overlaps with loading the model here.
    background = None
    if "int8" in precision_list and (len(precision_list) > 1 or len(target_list) > 1):
        from flowers_mobile.export.tflite import BackgroundConversion

        background = BackgroundConversion()
    try:
        with _Steps(progress) as steps:
            # 2. The model, once.
            with steps.step(f"load {model_path.name}"):
                raw_model = keras_io.load_keras_model(model_path)
                info = keras_io.validate_classifier(raw_model, where=str(model_path))
                keras_io.check_labels_match(labels, info.num_classes, str(labels_file), str(model_path))
                model = keras_io.wrap_normalization(raw_model, norm)
            representative = None
            if "int8" in precision_list:
                assert calibration is not None
                from flowers_mobile.export.tflite import load_calibration

                with steps.step(f"read {len(calibration)} calibration images"):
                    representative = load_calibration(calibration, info.input_size)
            source_sha = sha256_file(model_path)
            # 3. Everything into a temp folder that replaces out_dir at the end.
            with atomic_dir(out_dir) as tmp:
                labels_out = write_labels(tmp / LABELS_NAME, labels)
                labels_sha = sha256_file(labels_out)
                artifacts: list[Artifact] = []
                if "tflite" in target_list:
                    work = [t for t in target_list if t != "tflite"]
                    artifacts += _tflite_artifacts(model, info, labels, precision_list, representative, cfg, tmp,
                                                   steps, background, dataset, forced, other_work=None if not work else lambda: _other_targets(
                                                       work, model, info, labels, cfg, tmp, steps, export_coreml,
                                                       source_sha, labels_sha, coreml_precision, coreml_compression, dataset))
                else:
                    artifacts += _other_targets(target_list, model, info, labels, cfg, tmp, steps, export_coreml,
                                                source_sha, labels_sha, coreml_precision, coreml_compression, dataset)
                with steps.step("manifest"):
                    export_config = {
                        **asdict(cfg.export),
                        "targets": target_list,
                        "tflite_precisions": precision_list,
                        "normalize": norm.describe() if norm else "none",
                        "softmax_check": info.softmax_check,
                        "representative_images": 0 if representative is None else len(representative),
                        "data_dir": None if data_path is None else str(data_path),
                    }
                    manifest = _write_manifest(tmp, cfg, model_path, labels_out, labels, artifacts, export_config)
                _readable(tmp)
    finally:
        if background is not None:
            background.cancel()
    manifest["timings_s"] = steps.seconds  # returned for reports; not part of the written contract
    return manifest


def _write_manifest(tmp: Path, cfg: Config, model_path: Path, labels_out: Path, labels: list[str],
                    artifacts: list[Artifact], export_config: dict[str, Any]) -> dict[str, Any]:
    """manifest.json, with the default TFLite choice (when there is one) in its export config."""
    for platform, key in (("android", "default_tflite"), ("ios", "default_coreml")):
        default = next((a for a in artifacts if platform in a.default_for), None)
        if default is not None and "default_choice" in default.extra:
            export_config[key] = default.extra["default_choice"]
    manifest = new_manifest(model_name=cfg.export.model_name, source_model=model_path, labels_file=labels_out,
                            labels=labels, artifacts=artifacts, config=export_config)
    write_manifest(tmp, manifest)
    return manifest


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


def _tflite_artifacts(model: Any, info: Any, labels: list[str], precisions: list[str], representative: Any,
                      cfg: Config, tmp: Path, steps: _Steps, background: Any | None, dataset: Any | None,
                      forced: str | None, other_work: Any | None) -> list[Artifact]:
    """Every TFLite precision, with metadata, plus flowers.tflite (the `forced` precision, else the one
    `choose_default` picks on the `dataset`'s held-out images); `other_work()` runs meanwhile, and
    int8 in the `background` process when one is given."""
    from flowers_mobile.export import tflite

    with steps.step("trace and freeze the model"):
        function = tflite.frozen_function(model, info.input_size)
    scratch = tmp / ".work"  # inside the temp export: removed with it whatever happens
    others: list[Artifact] = []
    try:
        if background is not None:
            background.submit(function, "int8", representative, scratch)
            int8_handle = steps.start(f"int8: calibrate on {len(representative)} images (second process)")
        flatbuffers: dict[str, bytes] = {}
        for precision in precisions:
            if precision == "int8" and background is not None:
                continue
            with steps.step(f"TFLite {precision}"):
                flatbuffers[precision] = tflite.convert_tflite(function, precision, representative)
        others = other_work() if other_work is not None else []
        if background is not None:
            flatbuffers["int8"] = background.result()
            steps.finish(int8_handle)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    artifacts: dict[str, Artifact] = {}
    with steps.step("TFLite metadata (written and read back)"):
        for precision in precisions:
            artifacts[precision] = _write_tflite(tmp, precision, flatbuffers[precision], labels, cfg, representative)

    def fallback() -> None:  # int8 with float fallback, when plain int8 misses the limits
        from flowers_mobile.export.int8_fallback import convert_with_fallback

        with steps.step("int8 with float fallback for its most sensitive layers"):
            pc = cfg.parity
            result = convert_with_fallback(function, representative, min_agreement=pc.int8_min_top1_agreement,
                                           min_confident_agreement=pc.int8_min_confident_agreement,
                                           margin=pc.confident_margin, budget=cfg.export.int8_fallback_budget)
            art = _write_tflite(tmp, "int8_fallback", result.flatbuffer, labels, cfg, representative)
        art.extra["fallback"] = {"float_layers": result.float_layers, "plain_int8_bytes": result.plain_bytes,
                                 "budget": cfg.export.int8_fallback_budget, "steps": result.steps}
        artifacts["int8_fallback"] = art

    with steps.step("TFLite fidelity on held-out images, default choice"):
        choice = measure_and_choose(tmp, precisions, model, dataset, labels, info.input_size, cfg, forced,
                                    fallback if cfg.export.int8_fallback_budget > 0 and representative is not None
                                    else None)
    for row in choice.candidates:  # every measured artifact carries its own figures
        if "top1_agreement" in row:
            artifacts[row["precision"]].extra["fidelity"] = {k: v for k, v in row.items() if k != "precision"}
    default = choice.precision
    shutil.copyfile(tmp / tflite_file_name(default), tmp / DEFAULT_TFLITE)
    first = _tflite_artifact(tmp, DEFAULT_TFLITE, default, (tmp / DEFAULT_TFLITE).read_bytes(), labels,
                             representative)
    first.default_for = [p for p, f in DEFAULT_ARTIFACTS.items() if f == DEFAULT_TFLITE]
    first.extra.update(copy_of=tflite_file_name(default), default_choice=choice.to_dict(),
                       fidelity=artifacts[default].extra.get("fidelity"))
    return [first, *artifacts.values(), *others]


def _write_tflite(tmp: Path, precision: str, flatbuffer: bytes, labels: list[str], cfg: Config,
                  representative: Any) -> Artifact:
    """`flowers_<precision>.tflite` with metadata (checked by reading it back), and its Artifact."""
    from flowers_mobile.export.metadata import add_metadata, verify_metadata

    data = add_metadata(flatbuffer, labels, cfg.export, precision=precision)
    verify_metadata(data, labels, cfg.export)
    name = tflite_file_name(precision)
    atomic_write_bytes(tmp / name, data)
    return _tflite_artifact(tmp, name, precision, data, labels, representative)


def _tflite_artifact(tmp: Path, name: str, precision: str, data: bytes, labels: list[str],
                     representative: Any) -> Artifact:
    from flowers_mobile.export.tflite import tensor_facts

    facts = tensor_facts(data)
    extra: dict[str, Any] = {"metadata": True, "output_shape": facts["output_shape"]}
    if precision in ("int8", "int8_fallback"):
        extra["representative_images"] = len(representative)
    return describe_artifact(
        tmp, name, format="tflite", precision=precision, input_shape=facts["input_shape"],
        input_dtype=facts["input_dtype"], num_labels=len(labels), input_quantization=facts["input_quantization"],
        output_dtype=facts["output_dtype"], output_quantization=facts["output_quantization"], extra=extra)


def _other_targets(targets: list[str], model: Any, info: Any, labels: list[str], cfg: Config, tmp: Path,
                   steps: _Steps, export_coreml: Any, source_sha: str, labels_sha: str,
                   coreml_precision: str | None, coreml_compression: Sequence[str] | None,
                   dataset: Any | None = None) -> list[Artifact]:
    artifacts: list[Artifact] = []
    if "saved_model" in targets:
        from flowers_mobile.export.saved_model import export_saved_model

        with steps.step("SavedModel (serving_default: image -> probabilities)"):
            export_saved_model(model, tmp / SAVED_MODEL_DIR, info.input_size)
            h, w = info.input_size
            artifacts.append(describe_artifact(
                tmp, SAVED_MODEL_DIR, format="saved_model", precision="float32", input_shape=[-1, h, w, 3],
                input_dtype="float32", num_labels=len(labels),
                extra={"signature": "serving_default", "input": "image", "output": "probabilities"}))
    if "coreml" in targets:
        with steps.step("Core ML"):
            artifacts += export_coreml(model, labels, tmp, cfg.export, source_model_sha256=source_sha,
                                       labels_sha256=labels_sha, precision=coreml_precision,
                                       compression=list(coreml_compression) if coreml_compression else None)
        packages = [a for a in artifacts if a.format == "mlpackage"]
        # Measured here only when there is a choice to make (compressed variants beside the
        # default): on Linux the numpy executor runs at a few images/s at 224 px, and `parity`
        # measures the default package anyway.
        if dataset is not None and len(packages) > 1:
            from flowers_mobile.export.coreml_fidelity import measure_packages

            with steps.step("Core ML fidelity on held-out images"):
                measure_packages(packages, tmp, model, dataset, labels, info.input_size, cfg)
    return artifacts
