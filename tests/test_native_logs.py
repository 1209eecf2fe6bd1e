"""TensorFlow's and LiteRT's native log lines stay off the terminal (tf_quiet.filter_native_logs),
everything else gets through, even from a process that aborts. Real LiteRT in a subprocess on a
tiny converted model; about 5 s."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.convert_fixtures import TINY_SIZE, tiny_classifier

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import os, sys
    from flowers_mobile.tf_quiet import filter_native_logs
    print("filter", filter_native_logs(), file=sys.stderr)
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=sys.argv[1])
    interpreter.allocate_tensors()
    interpreter.invoke()
    print("python says hello", file=sys.stderr)
    os.write(2, b"I0000 00:00:1796403443.871904   26952 port.cc:153] oneDNN custom operations are on.\\n")
    os.write(2, b"F0000 00:00:1796403443.871904   26952 kernel.cc:1] a fatal native line\\n")
    sys.stderr.flush()
    if sys.argv[2] == "abort":
        os.abort()
""")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from flowers_mobile.export.tflite import convert_tflite, frozen_function

    path = tmp_path_factory.mktemp("logs") / "tiny.tflite"
    path.write_bytes(convert_tflite(frozen_function(tiny_classifier(), (TINY_SIZE, TINY_SIZE)), "float32"))
    return path


def _run(model: Path, how: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "FLOWERS_MOBILE_NATIVE_LOGS"}
    environ.update(PYTHONPATH=str(REPO / "src"), **env)
    return subprocess.run([sys.executable, "-c", SCRIPT, str(model), how], capture_output=True, text=True,
                          timeout=120, env=environ)


@pytest.mark.parametrize("how", ["exit", "abort"])
def test_native_log_lines_are_dropped_and_the_rest_gets_through(model, how):
    run = _run(model, how)
    assert run.returncode == (0 if how == "exit" else -6)
    assert "filter True" in run.stderr
    assert "python says hello" in run.stderr
    assert "a fatal native line" in run.stderr  # fatal lines stay, even when the process aborts
    assert "XNNPACK" not in run.stderr and "oneDNN" not in run.stderr and "absl::InitializeLog" not in run.stderr


def test_asking_for_native_logs_shows_them(model):
    run = _run(model, "exit", FLOWERS_MOBILE_NATIVE_LOGS="1")
    assert "filter False" in run.stderr
    assert "Created TensorFlow Lite XNNPACK delegate" in run.stderr and "oneDNN" in run.stderr
