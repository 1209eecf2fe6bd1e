"""Typed configuration: dataclass defaults, then config.json, then `--set key=value` overrides.

Every tunable lives here with its default. Loading validates as it goes: an unknown key, a
wrong type or an out-of-range value is a `UserError` that names the key (``training.epochs``).
The effective config is what a run records beside its outputs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from flowers_mobile import backbones, variants
from flowers_mobile.errors import UserError

DEFAULT_CONFIG_FILE = "config.json"


def _range(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
           hi_open: bool = False) -> dict[str, Any]:
    return {"range": (lo, hi, lo_open, hi_open)}


@dataclass(frozen=True)
class DataConfig:
    """Where images come from and how they are split."""

    #: Fractions for folders that are not pre-split into train/val/test (stratified per class).
    train_fraction: float = field(default=0.7, metadata=_range(0, 1, lo_open=True, hi_open=True))
    val_fraction: float = field(default=0.15, metadata=_range(0, 1, lo_open=True, hi_open=True))
    test_fraction: float = field(default=0.15, metadata=_range(0, 1, hi_open=True))
    #: Seed for the split, shuffling and synthetic data.
    seed: int = field(default=42, metadata=_range(0))
    #: Images smaller than this on either side are reported by `data check`.
    min_image_side: int = field(default=32, metadata=_range(1))
    #: Images with more pixels than this are refused as decompression bombs.
    max_image_pixels: int = field(default=89_478_485, metadata=_range(1))
    #: Synthetic dataset (the offline default): classes, images per class, image side.
    synth_classes: int = field(default=5, metadata=_range(2, 12))
    synth_per_class: int = field(default=120, metadata=_range(2))
    synth_image_size: int = field(default=128, metadata=_range(32, 1024))
    #: Synthetic held-out images per class, drawn from a seed stream of their own. 0: class folders
    #: (OUT/<class>/, split by the fractions above); > 0: OUT/{train,val,test}/<class>/, the
    #: synth_per_class images split into train and val, and this many test images per class.
    synth_test_per_class: int = field(default=0, metadata=_range(0))
    #: tf.data: parallel decode, in-memory cache of decoded images, prefetch.
    cache: bool = True
    #: Augmentation on the training split only.
    augment_flip: bool = True
    augment_rotation: float = field(default=0.08, metadata=_range(0, 0.5))
    augment_zoom: float = field(default=0.1, metadata=_range(0, 0.9))
    augment_contrast: float = field(default=0.1, metadata=_range(0, 1))


@dataclass(frozen=True)
class ModelConfig:
    """The classifier: a backbone (backbones.py), pooling, dropout, softmax head."""

    #: One of backbones.names(): mobilenet_v2, mobilenet_v3_small, mobilenet_v3_large,
    #: efficientnet_b0, efficientnet_v2_b0, vgg16, vgg19, xception (docs/backbones.md).
    backbone: str = backbones.DEFAULT
    #: Input side in pixels; null (not set): the backbone's natural size (224; xception 299).
    #: `load_config` writes the resolved size into the effective config a run records.
    input_size: int | None = field(default=None, metadata=_range(32, 1024))
    #: Width multiplier of the mobilenet_* backbones; the others take only 1.0.
    alpha: float = field(default=1.0, metadata=_range(0.35, 1.4))
    #: "imagenet", "none", or a path to a local weights file (.h5 / .weights.h5).
    weights: str = "imagenet"
    dropout: float = field(default=0.2, metadata=_range(0, 1, hi_open=True))

    @property
    def size(self) -> int:
        """`input_size`, or the backbone's natural size when it is not set."""
        return self.input_size if self.input_size is not None else backbones.get(self.backbone).natural_size


@dataclass(frozen=True)
class TrainingConfig:
    batch_size: int = field(default=32, metadata=_range(1))
    #: Phase 1: head only, on cached backbone features.
    head_epochs: int = field(default=10, metadata=_range(0))
    head_learning_rate: float = field(default=1e-3, metadata=_range(0, 1, lo_open=True))
    #: Augmented copies of each training image in the feature cache (0: the images as they are).
    feature_cache_copies: int = field(default=0, metadata=_range(0, 50))
    #: Phase 2: fine-tune the top fraction of backbone layers at learning_rate * this factor.
    finetune_epochs: int = field(default=5, metadata=_range(0))
    finetune_fraction: float = field(default=0.3, metadata=_range(0, 1))
    finetune_lr_factor: float = field(default=0.1, metadata=_range(0, 1, lo_open=True))
    early_stopping_patience: int = field(default=3, metadata=_range(0))
    label_smoothing: float = field(default=0.0, metadata=_range(0, 1, hi_open=True))
    class_weights: bool = True
    distribute: Literal["none", "mirrored", "multi_worker"] = "none"
    #: multi_worker: seconds a collective waits for the other workers before the run stops with
    #: a one-line error (a dead or unreachable worker); longer than any worker's slowest step.
    collective_timeout: float = field(default=300.0, metadata=_range(0, lo_open=True))
    #: Mixed float16 when a GPU is present ("auto"), always off ("off").
    mixed_precision: Literal["auto", "off"] = "auto"
    #: BatchNorm while training: "frozen" (inference mode, statistics fixed: the fine-tuning rule
    #: for pretrained weights), "train" (batch statistics, learned: needed from scratch), "auto"
    #: (frozen with pretrained weights, train with model.weights=none).
    batchnorm: Literal["auto", "frozen", "train"] = "auto"
    #: Learning rate over each phase: cosine decay to 0 over its planned epochs, or constant.
    lr_schedule: Literal["cosine", "constant"] = "cosine"
    seed: int = field(default=42, metadata=_range(0))
    #: Same seed, machine and data give the same weights and metrics (TensorFlow op determinism,
    #: tf.data in order, augmentation serial). False trades that for input-pipeline parallelism.
    deterministic: bool = True


@dataclass(frozen=True)
class ExportConfig:
    #: TFLite precisions written by `convert --target tflite`. `flowers.tflite` is the one chosen by
    #: measured fidelity (export/choose_default.py); the first when nothing can be measured.
    tflite_precisions: list[str] = field(default_factory=lambda: ["int8", "float16", "dynamic", "float32"])
    #: Images drawn (stratified) from the training split to calibrate int8.
    #: int8 calibration images. 100 is the usual figure for post-training quantization; the
    #: calibration is the longest step of `convert` (about 0.4 s an image at MobileNetV2 1.0 / 224).
    representative_size: int = field(default=100, metadata=_range(1))
    #: When plain int8 misses the int8 limits on held-out images, also write int8 with float
    #: fallback for its most sensitive layers (export/int8_fallback.py), at most this many times
    #: the plain int8 size; 0 turns it off.
    int8_fallback_budget: float = field(default=1.25, metadata=_range(0))
    #: The Core ML compute precision of the default package, `Flowers.mlpackage`.
    coreml_precision: Literal["float16", "float32"] = "float16"
    #: Core ML compute precisions written besides it, as `Flowers_<precision>.mlpackage`
    #: (`convert --coreml-precision`); [] writes none.
    coreml_extra_precisions: list[str] = field(default_factory=list)
    #: Weight-compressed Core ML variants of the default package: any of "linear8", "palette6",
    #: "palette4" (`convert --coreml-compress`); [] writes none.
    coreml_compression: list[str] = field(default_factory=list)
    coreml_minimum_target: Literal["iOS15", "iOS16", "iOS17", "iOS18"] = "iOS16"
    model_name: str = "Flowers"
    #: Left as it is, `convert` names the model's backbone, found from its layers
    #: (`backbones.identify`: "EfficientNetB0 flower classifier ..."); a model of no catalogue
    #: backbone keeps this neutral text. A text given here is kept as given.
    description: str = "Flower classifier (transfer learning), by flowers-mobile."
    author: str = "flowers-mobile"
    license: str = "Apache-2.0"
    version: str = "1.0"


@dataclass(frozen=True)
class VariantLimits:
    """What one export variant is held to against the Keras model (docs/parity.md).

    Probabilities are fractions (0.01 = 1 point). Every statistic is over the held-out images.
    """

    #: An image whose Keras top-1 probability beats its top-2 by less than this is a near-tie:
    #: counted and listed apart, never a disagreement (the precision's own error can flip it).
    near_tie_margin: float = field(default=0.02, metadata=_range(0, 1))
    #: Fit to ship (the quality bar, not a test of the conversion): top-1 agreement with Keras on
    #: the other images: fail when its 95% interval lies below, pass when it lies at or above,
    #: inconclusive when it straddles. 0: not held.
    min_agreement: float = field(default=0.98, metadata=_range(0, 1))
    #: Accuracy lost against Keras (labels known): fail when the 95% interval of the paired
    #: change lies above, pass when it lies at or below, inconclusive between. 1: not held.
    max_accuracy_drop: float = field(default=0.01, metadata=_range(0, 1))


def _limits(near_tie: float, agreement: float, drop: float) -> Any:
    return field(default_factory=lambda: VariantLimits(near_tie, agreement, drop))


@dataclass(frozen=True)
class ParityLimits:
    """The quality bar per export variant (fit to ship): one row per variant (TFLite precisions by
    name, Core ML compute precisions as coreml_float16 / coreml_float32, Core ML weight compression
    by its name; SavedModel is float32). Whether an export is *faithful* is not set here: its
    bounds are derived from the model (`parity.faithful_multiple`, judge/reference.py)."""

    #:            near-tie  agreement  acc. drop
    float32: VariantLimits = _limits(1e-4, 0.0, 1.0)  # float rounding: faithfulness decides
    float16: VariantLimits = _limits(0.005, 0.99, 0.01)
    dynamic: VariantLimits = _limits(0.02, 0.98, 0.01)
    int8: VariantLimits = _limits(0.10, 0.98, 0.01)
    #: int8 with its worst layers kept in float (convert adds it when plain int8 misses the
    #: bar): held like int8, it is the same kind of artifact on the same byte budget.
    int8_fallback: VariantLimits = _limits(0.10, 0.98, 0.01)
    coreml_float16: VariantLimits = _limits(0.02, 0.99, 0.01)
    coreml_float32: VariantLimits = _limits(1e-4, 0.0, 1.0)
    linear8: VariantLimits = _limits(0.03, 0.98, 0.01)
    palette6: VariantLimits = _limits(0.05, 0.97, 0.02)
    palette4: VariantLimits = _limits(0.20, 0.90, 0.05)

    def variants(self) -> dict[str, VariantLimits]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class ParityConfig:
    limits: ParityLimits = field(default_factory=ParityLimits)
    #: Inconclusive verdicts fail the run (as `parity --strict`).
    strict: bool = False
    #: Held-out images judged at most (stratified over classes), by `convert` and `parity` alike.
    max_images: int = field(default=200, metadata=_range(1))
    #: Faithful: an export's mean TV and p99 |Δp| to Keras are at most this many times those of
    #: the reference its precision's rounding makes of the Keras model (judge/reference.py).
    faithful_multiple: float = field(default=3.0, metadata=_range(1))
    #: Floors of those bounds, where a reference rounds to almost nothing (float32; a saturated
    #: model): float32 probabilities carry about 1e-7 of rounding each, and tens of layers of it
    #: reach 1e-5 on an image's largest difference; the floors sit 10x above (docs/parity.md).
    min_mean_tv: float = field(default=1e-5, metadata=_range(0))
    min_p99_abs_diff: float = field(default=1e-4, metadata=_range(0))


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    parity: ParityConfig = field(default_factory=ParityConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def resolved(self) -> Config:
        """A copy with every "not set" value replaced by what it means (model.input_size: the
        backbone's natural size), as the effective config a run records says it."""
        return dataclasses.replace(self, model=dataclasses.replace(self.model, input_size=self.model.size))

    def with_overrides(self, overrides: list[str] | None) -> Config:
        """Return a copy with `key=value` overrides applied (values parsed as JSON, else text)."""
        data = self.to_dict()
        for item in overrides or []:
            key, sep, raw = item.partition("=")
            if not sep or not key.strip():
                raise UserError(f"--set {item!r} is not key=value", hint="e.g. --set training.head_epochs=3")
            section, _, name = key.strip().partition(".")
            if section not in data or not name:
                raise UserError(f"--set {key}: unknown key", hint=f"sections are {', '.join(data)}")
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                value = raw
            # Nested keys (parity.limits.int8.min_agreement) walk down the objects; unknown
            # names are caught by from_dict.
            *parents, leaf = name.split(".")
            node = data[section]
            for part in parents:
                if not isinstance(node.get(part), dict):
                    raise UserError(f"--set {key}: unknown key {part!r}", hint=f"known here: {', '.join(node)}")
                node = node[part]
            node[leaf] = value
        return Config.from_dict(data)

    @staticmethod
    def from_dict(raw: Any, where: str = "config") -> Config:
        if not isinstance(raw, dict):
            raise UserError(f"{where}: expected a JSON object at the top level, got {type(raw).__name__}")
        return _build(Config, raw, prefix="", where=where)


def _build(cls: type, raw: dict[str, Any], prefix: str, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        key = prefix + unknown[0]
        raise UserError(f"{where}: unknown key {key!r}",
                        hint=f"known keys here: {', '.join(prefix + k for k in fields)}")
    kwargs: dict[str, Any] = {}
    for name, value in raw.items():
        key = prefix + name
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise UserError(f"{where}: {key} must be an object, got {type(value).__name__}")
            # Keys not given keep this field's own default (a row of the parity limits table has
            # defaults of its own, not the class's).
            default = fields[name].default_factory() if fields[name].default_factory is not dataclasses.MISSING else None
            given = {**dataclasses.asdict(default), **value} if default is not None else value
            kwargs[name] = _build(hint, given, prefix=key + ".", where=where)
        else:
            kwargs[name] = _check_value(key, value, hint, fields[name].metadata.get("range"), where)
    return cls(**kwargs)


def _check_value(key: str, value: Any, hint: Any, rng: tuple | None, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint):
        if value is None:  # "not set" (ModelConfig.input_size)
            return None
        hint = next(h for h in typing.get_args(hint) if h is not type(None))
        origin = typing.get_origin(hint)
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise UserError(f"{where}: {key} = {value!r} is not one of {', '.join(map(str, choices))}")
        return value
    if origin in (list, types.GenericAlias) or hint is list or origin is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"{where}: {key} must be a list of strings, got {value!r}")
        return list(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise UserError(f"{where}: {key} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{where}: {key} must be an integer, got {value!r}")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{where}: {key} must be a number, got {value!r}")
        value = float(value)
    elif hint is str and not isinstance(value, str):
        raise UserError(f"{where}: {key} must be a string, got {value!r}")
    if rng is not None:
        lo, hi, lo_open, hi_open = rng
        bad = (lo is not None and (value <= lo if lo_open else value < lo)) or (
            hi is not None and (value >= hi if hi_open else value > hi))
        if bad:
            lo_s = "-inf" if lo is None else f"{lo}"
            hi_s = "inf" if hi is None else f"{hi}"
            interval = f"{'(' if lo_open else '['}{lo_s}, {hi_s}{')' if hi_open else ']'}"
            raise UserError(f"{where}: {key} = {value!r} is out of range {interval}")
    return value


def load_config(path: str | os.PathLike[str] | None = None, overrides: list[str] | None = None, *,
                resolve: bool = True) -> Config:
    """Load defaults, then `path` (or ./config.json when it exists), then `--set` overrides.

    A config file may give any subset of keys; the rest keep their defaults. `resolve`: replace
    "not set" values by what they mean (`Config.resolved`); False keeps them, for a caller that
    applies the config to several backbones (`compare`).
    """
    if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        path = DEFAULT_CONFIG_FILE
    config = Config()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"config file not found: {path}")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
        config = Config.from_dict(raw, where=str(path))
    config = config.with_overrides(overrides)
    _check_cross_fields(config)
    return config.resolved() if resolve else config


def _check_cross_fields(config: Config) -> None:
    m = config.model
    backbones.check(m.backbone, m.size, m.alpha)  # unknown name, size below its minimum, alpha
    d = config.data
    total = d.train_fraction + d.val_fraction + d.test_fraction
    if abs(total - 1.0) > 1e-6:
        raise UserError(f"config: data.train_fraction + data.val_fraction + data.test_fraction = {total:g}, must be 1")
    # The names each list accepts come from the variant catalogue (flowers_mobile/variants.py).
    for key, kind in (("tflite_precisions", "tflite"), ("coreml_extra_precisions", "coreml_precision"),
                      ("coreml_compression", "coreml_compression")):
        known = variants.names(kind)
        for p in getattr(config.export, key):
            if p not in known:
                raise UserError(f"config: export.{key} has {p!r}; known: {', '.join(known)}")
    if not config.export.tflite_precisions:
        raise UserError("config: export.tflite_precisions is empty; give at least one precision")


def config_for_run(model_path: str | os.PathLike[str] | None, path: str | os.PathLike[str] | None = None,
                   overrides: list[str] | None = None) -> Config:
    """The config a verb that reads a trained model runs with (`convert`, `parity`, `evaluate`).

    `path` (--config) when given; else the run's own effective config, the `config.json` that
    training wrote beside the model, so that its data split (the "test" split parity and evaluate
    read) and its export settings are the run's; else `./config.json`, else the defaults. The
    `--set` overrides, and the flags the commands turn into overrides, apply on top.
    """
    if path is None and model_path is not None:
        beside = Path(model_path).parent / DEFAULT_CONFIG_FILE
        if beside.is_file():
            path = beside
    return load_config(path, overrides)
