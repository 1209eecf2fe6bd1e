"""The run folder and export folder the parity / predict / benchmark tests work on.

`run_and_export` returns conftest's shared session fixtures (`trained_run_dir`,
`export_dir`) when they exist. Until then it builds stand-ins: a tiny model and
`convert --target all` of it, written into fixed folders under the session's base temp folder
and reused when complete, so the test modules share one build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

INPUT_SIZE = 48


def build_tiny_run(out: Path, data_dir: Path) -> Path:
    """model.keras + labels.txt: MobileNetV2 alpha 0.35 at 48 px on the synthetic data, made fast.

    No gradient steps (compiling MobileNetV2's training step alone takes tens of seconds on
    2 cores): one training-mode pass with BatchNorm momentum 0 sets the backbone's statistics
    from the data, then the softmax head is set in closed form to a nearest-class-mean
    classifier on the pooled features. A real, if weak, classifier whose outputs vary per image.
    """
    if (out / "model.keras").is_file():
        return out
    import keras

    from flowers_mobile.config import ModelConfig
    from flowers_mobile.data.pipeline import load_arrays
    from flowers_mobile.data.sources import load_dataset
    from flowers_mobile.labels import write_labels
    from flowers_mobile.model import build_classifier

    dataset = load_dataset(data_dir)
    x, y = load_arrays(dataset.train, INPUT_SIZE)
    x = x.astype(np.float32)
    keras.utils.set_random_seed(0)
    model = build_classifier(ModelConfig(input_size=INPUT_SIZE, alpha=0.35, weights="none", dropout=0.0),
                             len(dataset.classes))
    bn_layers = [sub for layer in model.layers for sub in getattr(layer, "layers", [])
                 if isinstance(sub, keras.layers.BatchNormalization)]
    for layer in bn_layers:
        layer.momentum = 0.0
    model(x, training=True)  # moving statistics := this batch's statistics
    for layer in bn_layers:
        layer.momentum = 0.99
    features = keras.Model(model.input, model.get_layer("pool").output).predict(x, verbose=0, batch_size=64)
    mean, std = features.mean(0), features.std(0) + 1e-6
    z = (features - mean) / std
    centres = np.stack([z[y == c].mean(0) for c in range(len(dataset.classes))])
    # logits_c = s * (z . mu_c - |mu_c|^2 / 2), with z = (f - mean) / std folded into W and b.
    scale = 4.0 / np.sqrt(z.shape[1])
    kernel = (centres / std[None, :]).T * scale
    bias = scale * (-(centres * (mean / std)[None, :]).sum(1) - 0.5 * (centres ** 2).sum(1))
    model.get_layer("probabilities").set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save(tmp / "model.keras")
    write_labels(tmp / "labels.txt", dataset.classes)
    tmp.rename(out)
    return out


def build_full_export(out: Path, run_dir: Path, data_dir: Path) -> Path:
    """`convert --target all` of `run_dir/model.keras`: every TFLite precision, Core ML, SavedModel."""
    if (out / "manifest.json").is_file():
        return out
    from flowers_mobile.config import Config
    from flowers_mobile.export.convert import convert

    cfg = Config().with_overrides(["export.representative_size=100"])
    convert(run_dir / "model.keras", out, cfg, targets=("all",), data_dir=data_dir, progress=False)
    return out


def sub_export(src: Path, dst: Path, files: list[str]) -> Path:
    """A valid export folder holding only `files` of `src` (copied; manifest trimmed, sha256 kept)."""
    import json

    manifest = json.loads((src / "manifest.json").read_text())
    manifest["artifacts"] = [a for a in manifest["artifacts"] if a["file"] in files]
    dst.mkdir(parents=True)
    for name in [*files, manifest["labels"]["file"]]:
        (shutil.copytree if (src / name).is_dir() else shutil.copy2)(src / name, dst / name)
    (dst / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return dst


def run_and_export(request, tmp_path_factory, synth_data_dir: Path) -> tuple[Path, Path]:
    """(run folder with model.keras + labels.txt, its `convert --target all` export folder)."""
    try:
        return request.getfixturevalue("trained_run_dir"), request.getfixturevalue("export_dir")
    except pytest.FixtureLookupError:
        base = tmp_path_factory.getbasetemp()
        run = build_tiny_run(base / "runtime_run", synth_data_dir)
        return run, build_full_export(base / "runtime_full_export", run, synth_data_dir)
