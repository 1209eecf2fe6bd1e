"""Shared fixtures: one synthetic dataset per session (and, as later fixtures, one tiny trained model
and its full export), so the suite trains and converts once, not once per test file."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from flowers_mobile.data.synth import generate_dataset  # noqa: E402

SYNTH_CLASSES = 5
#: Train + val images per class: 84 + 18, the training set the tiny run was tuned on.
SYNTH_PER_CLASS = 102
#: Held-out images per class, from their own seed stream: 400 in all, enough for parity to tell a
#: 1-point accuracy drop or 2% disagreement from a faithful export.
SYNTH_TEST_PER_CLASS = 80
SYNTH_SIZE = 96


@pytest.fixture(scope="session")
def synth_data_dir(tmp_path_factory):
    """5 classes of drawn flowers at 96 px as train/val/test folders: 84 + 18 + 80 per class."""
    root = tmp_path_factory.mktemp("synth") / "flowers"
    generate_dataset(root, SYNTH_CLASSES, SYNTH_PER_CLASS, SYNTH_SIZE, seed=7, test_per_class=SYNTH_TEST_PER_CLASS)
    return root


@pytest.fixture(scope="session")
def trained_run_dir(synth_data_dir, tmp_path_factory):
    """The suite's one really trained model: `flowers_mobile.training.train` on the synthetic
    flowers (tiny settings, from scratch), with model.keras, labels.txt and the run's reports."""
    from tests._fixtures_training import train_tiny

    return train_tiny(synth_data_dir, tmp_path_factory.mktemp("runs") / "tiny")


@pytest.fixture(scope="session")
def export_dir(trained_run_dir, synth_data_dir, tmp_path_factory):
    """`convert --target all` of the shared model: every TFLite precision, Core ML (float16 plus the
    compressed variants), SavedModel, labels and manifest. Tests copy it before changing anything."""
    from flowers_mobile.config import Config
    from flowers_mobile.export.convert import convert

    out = tmp_path_factory.mktemp("exports") / "all"
    cfg = Config().with_overrides(["export.representative_size=100"])
    convert(trained_run_dir / "model.keras", out, cfg, targets=("all",), data_dir=synth_data_dir,
            coreml_compression=["linear8", "palette6", "palette4"], progress=False)
    return out


@pytest.fixture(scope="session")
def trained_and_exported(trained_run_dir, export_dir):
    """(run folder with model.keras + labels.txt, its `convert --target all` export folder)."""
    return trained_run_dir, export_dir
