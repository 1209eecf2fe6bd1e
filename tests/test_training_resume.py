"""A training run killed with SIGKILL in the middle of fine-tuning resumes with `--resume` and
finishes: same epochs, kept history, nothing half-written, and only with the data it started on."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowers_mobile.data.synth import generate_dataset

FINETUNE_EPOCHS = 10
SETTINGS = ["model.input_size=32", "model.alpha=0.35", "model.weights=none", "training.batch_size=8",
            "training.head_epochs=1", f"training.finetune_epochs={FINETUNE_EPOCHS}", "training.finetune_fraction=0.0",
            "training.early_stopping_patience=0"]
KILL_AT_EPOCH = 3


def _cli(data: Path, out: Path, *extra: str) -> list[str]:
    sets = [arg for s in SETTINGS for arg in ("--set", s)]
    return [sys.executable, "-m", "flowers_mobile.cli", "train", "--data", str(data), "--out", str(out),
            "--no-progress", *sets, *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}


def _finetune_state(out: Path) -> dict | None:
    try:
        return json.loads((out / "backup" / "finetune" / "state.json").read_text())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None  # not there yet, or caught between the folder swap's two renames


@pytest.mark.slow
def test_sigkilled_run_resumes_to_completion(tmp_path):
    data = tmp_path / "flowers"
    generate_dataset(data, num_classes=3, per_class=16, image_size=40, seed=2)
    out = tmp_path / "run"
    proc = subprocess.Popen(_cli(data, out), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 400
    try:
        while True:
            state = _finetune_state(out)
            if state and state["epoch"] >= KILL_AT_EPOCH:
                os.kill(proc.pid, signal.SIGKILL)
                break
            if proc.poll() is not None:
                pytest.fail(f"training ended before it could be killed:\n{proc.stdout.read().decode()[-3000:]}")
            assert time.monotonic() < deadline, "training did not reach the kill point in time"
            time.sleep(0.02)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "model.keras").exists() and not (out / "metrics.json").exists()
    killed = _finetune_state(out)
    assert killed is not None and KILL_AT_EPOCH <= killed["epoch"] < FINETUNE_EPOCHS
    state_bytes = (out / "backup" / "finetune" / "state.json").read_bytes()

    # Resuming on a folder with other classes: refused, the interrupted state untouched.
    other = tmp_path / "other"
    generate_dataset(other, num_classes=4, per_class=16, image_size=40, seed=2)
    shutil.rmtree(other / "buttercup")
    wrong = subprocess.run(_cli(other, out, "--resume"), env=_env(), capture_output=True, text=True, timeout=300)
    assert wrong.returncode == 2, wrong.stderr
    assert "differ from the labels of the run being resumed" in wrong.stderr
    assert "missing buttercup" in wrong.stderr and "new violet" in wrong.stderr
    assert (out / "backup" / "finetune" / "state.json").read_bytes() == state_bytes

    done = subprocess.run(_cli(data, out, "--resume"), env=_env(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    history = json.loads((out / "history.json").read_text())
    assert history["resumed"] == {"finetune": killed["epoch"]}
    head, finetune = history["phases"]
    assert head["epochs"] == 1 and finetune["epochs"] == FINETUNE_EPOCHS
    # The epochs before the kill were kept, not run again.
    for key, values in killed["history"].items():
        assert finetune["history"][key][:killed["epoch"]] == values
    assert len(finetune["history"]["val_accuracy"]) == FINETUNE_EPOCHS
    for name in ("model.keras", "labels.txt", "config.json", "metrics.json", "training_curves.png",
                 "confusion_matrix.png"):
        assert (out / name).is_file(), name
    assert not (out / "backup").exists()
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
