"""`flowers-mobile convert` from the command line: the table, and every bad input -> one line, exit 2,
the previous export untouched (also when the process is killed mid-conversion)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowers_mobile.cli import app, main
from flowers_mobile.fsutil import sha256_path
from tests.convert_fixtures import TINY_LABELS, TINY_SIZE, draw_shapes, tiny_classifier

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny classifier, its labels, data, and every kind of bad input next to them."""
    import keras

    root = tmp_path_factory.mktemp("convert_cli")
    draw_shapes(root / "data")
    model = tiny_classifier()
    model.save(root / "model.keras")
    (root / "labels.txt").write_text("\n".join(TINY_LABELS) + "\n")
    bad = root / "bad"
    bad.mkdir()
    tiny_classifier(softmax=False).save(bad / "logits.keras")
    flat = keras.Sequential([keras.Input((10,)), keras.layers.Dense(3, activation="softmax")])
    flat.save(bad / "flat.keras")
    gray = keras.Sequential([keras.Input((TINY_SIZE, TINY_SIZE, 1)), keras.layers.GlobalAveragePooling2D(),
                             keras.layers.Dense(3, activation="softmax")])
    gray.save(bad / "gray.keras")
    model.save_weights(bad / "weights.weights.h5")
    os.replace(bad / "weights.weights.h5", bad / "weights.h5")
    (bad / "garbage.keras").write_bytes(b"not a zip file at all")
    model.save(bad / "whole.h5")
    data = (bad / "whole.h5").read_bytes()
    (bad / "truncated.h5").write_bytes(data[: len(data) // 3])
    for name, text in {"empty.txt": "", "dup.txt": "red\ngreen\nred\n", "blank.txt": "red\n\ngreen\nblue\n",
                       "two.txt": "red\ngreen\n", "four.txt": "red\ngreen\nblue\nwhite\n"}.items():
        (bad / name).write_text(text)
    draw_shapes(bad / "otherdata")
    os.replace(bad / "otherdata" / "blue", bad / "otherdata" / "cyan")
    (bad / "notexport").mkdir()
    (bad / "notexport" / "keep.txt").write_text("my notes")
    (bad / "labels.txt").write_text("\n".join(TINY_LABELS) + "\n")  # beside the bad models
    return root


@pytest.fixture(scope="module")
def previous_export(tiny):
    """A finished export made through the CLI; every bad input below must leave it as it is."""
    out = tiny / "export"
    result = CliRunner().invoke(app, ["convert", "--model", str(tiny / "model.keras"), "--target", "tflite",
                                      "--quantize", "int8", "--quantize", "none", "--data", str(tiny / "data"),
                                      "--out", str(out), "--no-progress"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return out, result.output


def snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256_path(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_cli_prints_a_row_per_artifact(previous_export):
    out, output = previous_export
    for file in ("flowers.tflite", "flowers_int8.tflite", "flowers_float32.tflite"):
        assert file in output
    assert "uint8 (1,0)" in output and "android" in output
    assert sorted(p.name for p in out.iterdir()) == \
        ["flowers.tflite", "flowers_float32.tflite", "flowers_int8.tflite", "labels.txt", "manifest.json"]


# case -> (options replacing the defaults (None: drop it), words the one-line error must contain)
BAD = {
    "not a classifier: input rank": ({"--model": "bad/flat.keras"}, "is not an RGB image batch"),
    "not a classifier: 1 channel": ({"--model": "bad/gray.keras"}, "(N, 32, 32, 1) is not an RGB image"),
    "no softmax-like output": ({"--model": "bad/logits.keras"}, "do not look like probabilities"),
    "fewer labels than outputs": ({"--labels": "bad/two.txt"}, "has 2 labels but"),
    "more labels than outputs": ({"--labels": "bad/four.txt"}, "has 4 labels but"),
    "empty labels": ({"--labels": "bad/empty.txt"}, "is empty"),
    "duplicate labels": ({"--labels": "bad/dup.txt"}, "appears twice"),
    "blank line in labels": ({"--labels": "bad/blank.txt"}, "line 2 is blank"),
    "missing labels file": ({"--labels": "bad/nope.txt"}, "labels file not found"),
    "missing model": ({"--model": "bad/nope.keras"}, "model not found"),
    "corrupt .keras": ({"--model": "bad/garbage.keras"}, "not a valid .keras file"),
    "truncated .h5": ({"--model": "bad/truncated.h5"}, "cannot load the Keras model"),
    "weights-only .h5": ({"--model": "bad/weights.h5"}, "weights only"),
    "not a model file": ({"--model": "labels.txt"}, "unsupported model file"),
    "data classes differ from labels": ({"--data": "bad/otherdata"}, "does not match the labels"),
    "data folder missing": ({"--data": "bad/nodata"}, "data folder not found"),
    "int8 without data": ({"--quantize": "int8"}, "int8 needs --data"),
    "unknown target": ({"--target": "onnx"}, "unknown target 'onnx'"),
    "unknown precision": ({"--quantize": "int4"}, "unknown precision 'int4'"),
    "bad --normalize": ({"--normalize": "zscore"}, "--normalize 'zscore'"),
    "bad config override": ({"--set": "export.representative_size=0"}, "representative_size"),
}
PATH_OPTIONS = ("--model", "--labels", "--data")


def _temp_folders(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name.startswith(".")}


def _argv(tiny: Path, out: Path, changes: dict) -> list[str]:
    opts = {"--model": "model.keras", "--target": "tflite", "--quantize": "none", **changes}
    argv = ["convert", "--out", str(out), "--no-progress"]
    for key, value in opts.items():
        if value is not None:
            argv += [key, str(tiny / value) if key in PATH_OPTIONS else value]
    return argv


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_is_one_line_exit_2_and_nothing_written(tiny, previous_export, capsys, case):
    out, _ = previous_export
    before = snapshot(out)
    temp_before = _temp_folders(tiny)
    changes, expected = BAD[case]
    with pytest.raises(SystemExit) as exc:
        main(_argv(tiny, out, changes))
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2, err
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert expected in err, err
    assert snapshot(out) == before
    assert _temp_folders(tiny) == temp_before  # no temporary folder left behind


def test_refuses_to_replace_a_folder_that_is_not_an_export(tiny, capsys):
    target = tiny / "bad" / "notexport"
    with pytest.raises(SystemExit) as exc:
        main(["convert", "--model", str(tiny / "model.keras"), "--quantize", "none", "--out", str(target),
              "--no-progress"])
    assert exc.value.code == 2
    assert "manifest.json" in capsys.readouterr().err
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def _workers_of(parent: int) -> list[int]:
    """Calibration worker processes whose parent is `parent` (read from /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid == parent and b"_convert_worker" in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return pids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_for(predicate, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return None


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find the calibration worker")
def test_killed_convert_leaves_the_previous_export_and_no_worker(tiny, previous_export):
    out, _ = previous_export
    before = snapshot(out)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    # Default precisions: int8 calibrates in a second process while this one converts the rest.
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowers_mobile.cli", "convert", "--model", str(tiny / "model.keras"),
         "--data", str(tiny / "data"), "--out", str(out), "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        workers = _wait_for(lambda: _workers_of(proc.pid), 60)
        assert workers, "convert started no calibration worker"
        # Kill once the temporary export exists: convert is writing, the worker calibrating.
        assert _wait_for(lambda: list(out.parent.glob(".export.*.tmp")), 120) and proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert snapshot(out) == before
    # The worker dies with its parent (PR_SET_PDEATHSIG): no converter keeps running.
    assert _wait_for(lambda: not any(_alive(pid) for pid in workers), 10)
