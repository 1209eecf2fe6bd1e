"""Shared fixtures: one synthetic dataset per session (and, as later fixtures, one tiny trained model
and its full export), so the suite trains and converts once, not once per test file."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from flowers_mobile.data.synth import generate_dataset  # noqa: E402

SYNTH_CLASSES = 5
SYNTH_PER_CLASS = 60
SYNTH_SIZE = 96


@pytest.fixture(scope="session")
def synth_data_dir(tmp_path_factory):
    """5 classes x 60 drawn flowers at 96 px, as class folders (split 70/15/15 by load_dataset)."""
    root = tmp_path_factory.mktemp("synth") / "flowers"
    generate_dataset(root, SYNTH_CLASSES, SYNTH_PER_CLASS, SYNTH_SIZE, seed=7)
    return root
