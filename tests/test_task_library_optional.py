"""The Task Library runtime is optional (the `task-library` extra, Python <= 3.11): where it is
not installed, asking for it says so in one line with the way to get it, and the runtimes chosen
for the Android default go on without it. Under a second; no model is converted."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from flowers_mobile.parity import runtimes_for
from flowers_mobile.runtimes.base import runtime_available
from flowers_mobile.runtimes.task_library import task_library_available
from tests.runtime_fixtures import cli_exit

pytestmark = pytest.mark.skipif(task_library_available() is None,
                                reason="tflite-support is installed here: the Task Library runs")


def test_predict_with_the_task_library_says_in_one_line_it_is_not_installed(tmp_path, capsys):
    model = tmp_path / "flowers.tflite"
    model.write_bytes(b"\0" * 64)  # never opened: availability is checked first
    image = tmp_path / "a.png"
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(image)
    code = cli_exit(["predict", str(image), "--model", str(model), "--runtime", "task_library"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "task_library" in err and "not installed" in err
    if sys.version_info >= (3, 12):
        assert "--runtime mediapipe" in err  # no wheel for this Python: the alternative is named
    else:
        assert "TASK_LIBRARY=1" in err  # how to install it here
    assert len([line for line in err.splitlines() if line.strip()]) <= 2  # the message (and a hint line at most)


def test_the_android_default_is_checked_without_it():
    assert not runtime_available("task_library")
    assert runtimes_for({"file": "flowers.tflite", "format": "tflite"}) == ["litert", "mediapipe"]
