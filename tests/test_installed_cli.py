"""The installed `flowers-mobile` command (the console script `pip install .` makes, beside this
Python) converts a model, and MediaPipe Tasks reads the metadata it wrote: labels by name, LiteRT's
top-1. A tiny model, float32 only; about 15 s (one CLI process with TensorFlow), so it runs on the
newest supported Python only (CI's matrix has it; the metadata itself is checked on every Python
by test_tflite_metadata.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.convert_fixtures import TINY_SIZE, tiny_classifier

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.version_info[:2] != (3, 13), reason="runs on the newest supported Python (3.13)")]
LABELS = ["iris", "lily", "orchid"]


def test_the_installed_command_writes_metadata_mediapipe_reads(tmp_path):
    command = Path(sys.executable).with_name("flowers-mobile")
    if not command.exists():
        pytest.skip(f"no flowers-mobile command beside {sys.executable} (not installed with pip)")
    from flowers_mobile.runtimes.litert import LiteRTPredictor
    from flowers_mobile.runtimes.mediapipe import MediaPipePredictor

    tiny_classifier().save(tmp_path / "model.keras")
    (tmp_path / "labels.txt").write_text("\n".join(LABELS) + "\n")
    run = subprocess.run([str(command), "convert", "--model", str(tmp_path / "model.keras"), "--target", "tflite",
                          "--quantize", "none", "--out", str(tmp_path / "export")],
                         capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "120"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "I0000" not in run.stderr and "XNNPACK" not in run.stderr  # native log lines stay off
    model = tmp_path / "export" / "flowers.tflite"
    images = np.random.default_rng(0).integers(0, 256, (8, TINY_SIZE, TINY_SIZE, 3)).astype(np.uint8)
    with MediaPipePredictor(model) as mediapipe, LiteRTPredictor(model) as litert:
        assert mediapipe.labels == LABELS
        by_name = mediapipe.classify_by_name(images)
        assert all(set(scores) == set(LABELS) for scores in by_name)
        assert (mediapipe.predict(images).argmax(1) == litert.predict(images).argmax(1)).all()
