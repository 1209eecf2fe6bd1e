"""Core ML export: the `.mlpackage` (ML Program) the iOS app compiles, and optional variants.

    artifacts = export_coreml(model, labels, export_dir, cfg.export,
                              source_model_sha256=..., labels_sha256=...)

writes `Flowers.mlpackage` (compute precision `export.coreml_precision`, float16 by default)
and, when asked, `Flowers_float32.mlpackage` / `Flowers_float16.mlpackage` (the other precision)
and weight-compressed variants `Flowers_linear8.mlpackage` (8-bit linear, per channel),
`Flowers_palette6.mlpackage` and `Flowers_palette4.mlpackage` (6/4-bit palettes, k-means).

Every package is an ML Program for `export.coreml_minimum_target`, with
- one `ImageType` input "image": RGB, scale 1, bias 0 (scaling to [-1, 1] is inside the model),
- a classifier config with the labels, so it outputs `classLabel` and `classLabel_probs` (a
  label -> probability dictionary), which Vision turns into `VNClassificationObservation`s,
- metadata: author, license, version, short description, input/output descriptions, and
  user-defined keys with the labels' and the source model's sha256 (`com.flowers-mobile.*`).

The Keras model goes through TensorFlow and MIL once (the slow part: about two thirds of a
conversion); each precision is a copy of that MIL program run through coremltools' pass
pipeline and ML Program backend. Compressed variants start from the default-precision package,
as `coremltools.optimize.coreml` does them on a converted model.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile import variants
from flowers_mobile._coremltools import quiet_coremltools
from flowers_mobile.config import ExportConfig
from flowers_mobile.errors import UserError
from flowers_mobile.formats.manifest import Artifact, describe_artifact
from flowers_mobile.formats.mlpackage import edit_description
from flowers_mobile.fsutil import atomic_path
from flowers_mobile.labels import validate_labels

quiet_coremltools()  # coremltools is imported lazily below; its known import noise stays out

PACKAGE_STEM = variants.COREML_STEM
DEFAULT_PACKAGE = f"{PACKAGE_STEM}.mlpackage"
INPUT_NAME = "image"
CLASS_LABEL = "classLabel"
PROBABILITIES = "classLabel_probs"
PRECISIONS = variants.names("coreml_precision")
COMPRESSIONS = variants.names("coreml_compression")
#: Weight compression writes constexpr ops, which exist from iOS 16 on.
COMPRESSION_MIN_TARGET = "iOS16"
META_PREFIX = "com.flowers-mobile."
LABELS_SHA256_KEY = META_PREFIX + "labels_sha256"
SOURCE_SHA256_KEY = META_PREFIX + "source_model_sha256"

_PALETTE_BITS = {"palette6": 6, "palette4": 4}


def package_file(variant: str, default_precision: str) -> str:
    """File name of a variant: the default precision is `Flowers.mlpackage`, others `Flowers_<v>.mlpackage`."""
    row = variants.variant_of("mlpackage", variant)
    if row is None:
        raise UserError(f"unknown Core ML variant {variant!r}",
                        hint=f"use any of {', '.join(PRECISIONS + COMPRESSIONS)}")
    return row.file_name(default_precision)


def export_coreml(model: Any, labels: list[str], out_dir: Path, cfg: ExportConfig, *, source_model_sha256: str,
                  labels_sha256: str, precision: str | None = None,
                  compression: list[str] | None = None) -> list[Artifact]:
    """Write the Core ML packages into `out_dir` and describe them for the manifest.

    Args:
        model: a Keras classifier taking raw RGB pixels (N, H, W, 3) float32 0..255 and returning
            softmax probabilities (N, classes).
        labels: class names in output order (len == classes).
        out_dir: the (temporary) export folder; each package is written under a temporary name
            and renamed into place.
        cfg: the config's export section (precision, compression, target, metadata).
        source_model_sha256: sha256 of the model file, stored in the package metadata.
        labels_sha256: sha256 of labels.txt, stored in the package metadata.
        precision: also write this compute precision ("float16" | "float32" | "all"); the default
            precision (`cfg.coreml_precision`) is always written, as `Flowers.mlpackage`.
        compression: weight-compressed variants to write (any of linear8, palette6, palette4);
            None takes `cfg.coreml_compression`.
    Returns:
        One `Artifact` per package; `Flowers.mlpackage` carries default_for=["ios"].
    Raises:
        UserError: labels that do not match the model, an unknown precision or compression, a
            compression with an iOS 15 target, a model coremltools cannot convert.
    """
    labels = validate_labels(labels)
    (height, width), classes = classifier_shape(model)
    if classes != len(labels):
        raise UserError(f"the model has {classes} outputs but {len(labels)} labels were given",
                        hint="give the labels.txt written with this model")
    default = normalize_precision(cfg.coreml_precision)
    precisions = [default] + [p for p in extra_precisions(precision) if p != default]
    compressed = normalize_compression(cfg.coreml_compression if compression is None else compression)
    target_name = cfg.coreml_minimum_target
    if compressed and _target_number(target_name) < _target_number(COMPRESSION_MIN_TARGET):
        raise UserError(f"weight compression ({', '.join(compressed)}) needs a minimum deployment target of "
                        f"{COMPRESSION_MIN_TARGET} or later; export.coreml_minimum_target is {target_name}",
                        hint="set export.coreml_minimum_target to iOS16 or drop export.coreml_compression")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    common = {"format": "mlpackage", "input_shape": [1, height, width, 3], "input_dtype": "uint8",
              "num_labels": len(labels)}
    meta = _Metadata(cfg, labels_sha256, source_model_sha256, (height, width), len(labels))

    artifacts: list[Artifact] = []
    with _quiet():
        program = _to_mil(model, (height, width), target_name)
        default_model = None
        for prec in precisions:
            mlmodel = _mil_to_package(program, prec, labels, target_name)
            name = package_file(prec, default)
            _save(mlmodel, out_dir / name, meta, precision=prec, compute_precision=prec)
            artifacts.append(describe_artifact(
                out_dir, name, precision=prec, default_for=["ios"] if prec == default else [],
                extra=_extra(prec, target_name), **common))
            if prec == default:
                default_model = mlmodel
        for variant in compressed:
            mlmodel = compress(default_model, variant)
            name = package_file(variant, default)
            _save(mlmodel, out_dir / name, meta, precision=variant, compute_precision=default)
            artifacts.append(describe_artifact(out_dir, name, precision=variant,
                                               extra=_extra(default, target_name, variant), **common))
    return artifacts


# ---------------------------------------------------------------------- options


def normalize_precision(name: str) -> str:
    return variants.lookup("coreml_precision", name, what="Core ML precision").precision


def extra_precisions(precision: str | None) -> list[str]:
    """The precisions `precision` asks for besides the default ("all" is both)."""
    return variants.coreml_extra(precision) or []


def normalize_compression(names: list[str] | tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for name in names:
        key = variants.lookup("coreml_compression", name, what="Core ML compression").precision
        if key not in out:
            out.append(key)
    return out


def _target_number(name: str) -> int:
    return int(name.removeprefix("iOS"))


def classifier_shape(model: Any) -> tuple[tuple[int, int], int]:
    """((H, W), classes) of a Keras image classifier; UserError for other shapes."""
    in_shape = model.input_shape
    out_shape = model.output_shape
    if isinstance(in_shape, list) or len(in_shape) != 4 or in_shape[-1] != 3 or None in in_shape[1:3]:
        raise UserError(f"Core ML export needs one image input (N, H, W, 3) of fixed size, got {in_shape}")
    if isinstance(out_shape, list) or len(out_shape) != 2 or not out_shape[-1]:
        raise UserError(f"Core ML export needs one output (N, classes), got {out_shape}")
    return (int(in_shape[1]), int(in_shape[2])), int(out_shape[-1])


# ---------------------------------------------------------------------- conversion


def _target(name: str) -> Any:
    import coremltools as ct

    return getattr(ct.target, name)


def _with_input_name(model: Any, name: str) -> Any:
    """The model with its input named `name` (coremltools matches inputs by graph name)."""
    if model.inputs[0].name == name:
        return model
    import keras

    inputs = keras.Input(shape=model.input_shape[1:], dtype="float32", name=name)
    return keras.Model(inputs, model(inputs), name=model.name)


def _to_mil(model: Any, size: tuple[int, int], target_name: str) -> Any:
    """The Keras model as a float32 MIL program with an RGB ImageType input (scale 1, bias 0)."""
    import coremltools as ct

    from flowers_mobile.export.tflite import quiet_tf

    height, width = size
    image = ct.ImageType(name=INPUT_NAME, shape=(1, height, width, 3), color_layout=ct.colorlayout.RGB,
                         scale=1.0, bias=[0.0, 0.0, 0.0], channel_first=False)
    try:
        # source= given: "auto" would freeze the whole TF graph once more just to detect it.
        # quiet_tf: the TF frontend runs grappler, whose native logs would land on the terminal.
        with quiet_tf():
            return ct.convert(_with_input_name(model, INPUT_NAME), source="tensorflow", convert_to="milinternal",
                              inputs=[image], minimum_deployment_target=_target(target_name),
                              compute_precision=ct.precision.FLOAT32)
    except Exception as exc:  # coremltools raises many types for graphs it cannot convert
        raise UserError(f"Core ML conversion failed: {_first_line(exc)}") from exc


def _mil_to_package(program: Any, precision: str, labels: list[str], target_name: str) -> Any:
    """A copy of the MIL program as an ML Program MLModel at `precision`, with the classifier."""
    import coremltools as ct

    compute = ct.precision.FLOAT16 if precision == "float16" else ct.precision.FLOAT32
    try:
        return ct.convert(copy.deepcopy(program), source="milinternal", convert_to="mlprogram",
                          minimum_deployment_target=_target(target_name), compute_precision=compute,
                          classifier_config=ct.ClassifierConfig(list(labels)))
    except Exception as exc:
        raise UserError(f"Core ML conversion ({precision}) failed: {_first_line(exc)}") from exc


def compress(mlmodel: Any, variant: str) -> Any:
    """A weight-compressed copy: linear8 (int8, per output channel) or palette6/palette4 (k-means LUT).

    Weights of fewer than 2048 elements stay as they are (coremltools' default threshold).
    """
    import coremltools.optimize.coreml as cto

    if variant == "linear8":
        op_config = cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", granularity="per_channel")
        return cto.linear_quantize_weights(mlmodel, cto.OptimizationConfig(global_config=op_config))
    if variant in _PALETTE_BITS:
        # coremltools' own "kmeans" mode needs scikit-learn; the same 1-D k-means in numpy here.
        op_config = cto.OpPalettizerConfig(mode="custom", lut_function=kmeans_lut(_PALETTE_BITS[variant]))
        return cto.palettize_weights(mlmodel, cto.OptimizationConfig(global_config=op_config))
    raise UserError(f"unknown Core ML compression {variant!r}", hint=f"use any of {', '.join(COMPRESSIONS)}")


def kmeans_lut(nbits: int, iterations: int = 1000) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A `lut_function` for coremltools' custom palettization: 1-D k-means with 2**nbits centroids.

    Lloyd's algorithm on the sorted weights: centroids start at equal-count quantiles, each
    round assigns every weight to the nearest centroid (cut points halfway between centroids)
    and moves each centroid to its cluster's mean, computed from prefix sums, until nothing moves
    (a round costs O(k log n) after one sort, so running to convergence is cheap). Deterministic.
    """
    k = 1 << nbits

    def lut_function(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flat = np.asarray(weight).reshape(-1)
        x = np.sort(flat.astype(np.float64))
        n = x.size
        prefix = np.concatenate([[0.0], np.cumsum(x)])
        centroids = x[np.minimum(((np.arange(k) + 0.5) * n / k).astype(np.int64), n - 1)]
        for _ in range(iterations):
            cuts = np.searchsorted(x, (centroids[1:] + centroids[:-1]) / 2)
            starts, ends = np.concatenate([[0], cuts]), np.concatenate([cuts, [n]])
            counts = ends - starts
            means = (prefix[ends] - prefix[starts]) / np.maximum(counts, 1)
            updated = np.sort(np.where(counts > 0, means, centroids))  # an empty cluster keeps its place
            if np.array_equal(updated, centroids):
                break
            centroids = updated
        lut = centroids.astype(flat.dtype)
        stored = lut.astype(np.float64)  # assign against the centroids as stored (e.g. float16)
        indices = np.searchsorted((stored[1:] + stored[:-1]) / 2, flat.astype(np.float64))
        return lut, indices.astype(np.uint8)

    return lut_function


# ---------------------------------------------------------------------- metadata and files


class _Metadata:
    """The description, license and provenance every package carries."""

    def __init__(self, cfg: ExportConfig, labels_sha256: str, source_sha256: str, size: tuple[int, int],
                 num_labels: int) -> None:
        self.cfg = cfg
        self.labels_sha256 = labels_sha256
        self.source_sha256 = source_sha256
        self.size = size
        self.num_labels = num_labels

    def apply(self, description: Any, *, precision: str, compute_precision: str) -> None:
        """Fill a `ModelDescription` proto's metadata and feature descriptions."""
        from flowers_mobile import __version__

        height, width = self.size
        meta = description.metadata
        meta.author = self.cfg.author
        meta.license = self.cfg.license
        meta.versionString = self.cfg.version
        meta.shortDescription = self.cfg.description
        texts = {
            INPUT_NAME: (f"RGB photo, {width}x{height} pixels, raw values 0..255 (the model scales them itself); "
                         "other sizes are stretched to fit (Vision: imageCropAndScaleOption .scaleFill)"),
            CLASS_LABEL: "Most likely flower",
            PROBABILITIES: f"Probability of each of the {self.num_labels} flowers",
        }
        for feature in list(description.input) + list(description.output):
            if feature.name in texts:
                feature.shortDescription = texts[feature.name]
        user = meta.userDefined
        user[LABELS_SHA256_KEY] = self.labels_sha256
        user[SOURCE_SHA256_KEY] = self.source_sha256
        user[META_PREFIX + "num_labels"] = str(self.num_labels)
        user[META_PREFIX + "precision"] = precision
        user[META_PREFIX + "compute_precision"] = compute_precision
        user[META_PREFIX + "input_size"] = f"{width}x{height}"
        user[META_PREFIX + "version"] = __version__
        # The package was built from a saved MIL copy; say where the program really came from.
        user["com.github.apple.coremltools.source"] = _tensorflow_source()


def _tensorflow_source() -> str:
    import tensorflow as tf

    return f"tensorflow=={tf.__version__}"


def _extra(compute_precision: str, target_name: str, compression: str | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"compute_precision": compute_precision, "minimum_deployment_target": target_name,
                             "model_type": "mlProgram", "input_name": INPUT_NAME, "color_layout": "RGB",
                             "outputs": [CLASS_LABEL, PROBABILITIES]}
    if compression:
        extra["compression"] = compression
    return extra


def _save(mlmodel: Any, path: Path, meta: _Metadata, *, precision: str, compute_precision: str) -> None:
    """Write the package with its metadata through a temporary sibling, renamed into place.

    The package coremltools already wrote is copied and only its `description` is re-encoded
    (`formats.mlpackage.edit_description` says why).
    """
    def edit(description: Any) -> None:
        # Keys coremltools set on the in-memory model only (version, conversion date).
        for key, value in dict(mlmodel.user_defined_metadata).items():
            description.metadata.userDefined[key] = value
        meta.apply(description, precision=precision, compute_precision=compute_precision)

    with atomic_path(path) as tmp:
        shutil.copytree(mlmodel.package_path, tmp)
        edit_description(tmp, edit)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hide coremltools' progress bars and Python warnings; errors still raise."""
    loggers = [logging.getLogger(name) for name in ("coremltools", "absl")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
