"""Bad input to `train` and `evaluate`: one clear line, exit code 2, nothing written."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from flowers_mobile.cli import main
from flowers_mobile.config import Config, TrainingConfig
from flowers_mobile.data.synth import generate_dataset
from flowers_mobile.errors import UserError
from flowers_mobile.labels import write_labels
from flowers_mobile.training import train

TINY = ["--set", "model.input_size=32", "--set", "model.alpha=0.35", "--set", "model.weights=none",
        "--no-progress"]


def _run(capsys, *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    return int(exc.value.code or 0), capsys.readouterr().err


def _one_line_error(err: str, *words: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bad") / "flowers"
    generate_dataset(root, num_classes=2, per_class=5, image_size=32, seed=1)
    return root


def test_one_class_is_refused(tmp_path, capsys):
    data = tmp_path / "one"
    generate_dataset(data, num_classes=2, per_class=4, image_size=32)
    for extra in sorted(p for p in data.iterdir())[1:]:
        for f in extra.iterdir():
            f.unlink()
        extra.rmdir()
    out = tmp_path / "run"
    code, err = _run(capsys, "train", "--data", data, "--out", out, *TINY)
    assert code == 2
    _one_line_error(err, "1 class", "at least 2")
    assert not out.exists()


def test_too_few_images_for_the_batch_size_is_refused(small_data, tmp_path, capsys):
    out = tmp_path / "run"
    code, err = _run(capsys, "train", "--data", small_data, "--out", out, *TINY, "--set", "training.batch_size=32")
    assert code == 2
    _one_line_error(err, "fewer than training.batch_size = 32", "--set training.batch_size=")
    assert not out.exists()


@pytest.mark.parametrize("fraction", ["1.5", "-0.2"])
def test_finetune_fraction_outside_0_1_is_refused(small_data, tmp_path, capsys, fraction):
    out = tmp_path / "run"
    code, err = _run(capsys, "train", "--data", small_data, "--out", out, *TINY,
                     "--set", f"training.finetune_fraction={fraction}")
    assert code == 2
    _one_line_error(err, "training.finetune_fraction", "out of range")
    assert not out.exists()


@pytest.mark.parametrize("tf_config, words", [
    (None, ["TF_CONFIG", "not set", "--workers N"]),
    ("{not json", ["TF_CONFIG is not a cluster", "JSONDecodeError"]),
    ('{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}}',
     ["TF_CONFIG is not a cluster", "IndexError"]),
    ('{"cluster": {"worker": ["localhost"]}, "task": {"type": "worker", "index": 0}}', ["not host:port"]),
])
def test_multi_worker_without_a_usable_tf_config_is_refused(small_data, tmp_path, capsys, monkeypatch,
                                                            tf_config, words):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    out = tmp_path / "run"
    code, err = _run(capsys, "train", "--data", small_data, "--out", out, *TINY,
                     "--set", "training.batch_size=4", "--set", "training.distribute=multi_worker")
    assert code == 2
    _one_line_error(err, *words)
    assert not out.exists()


def test_workers_with_tf_config_already_set_is_refused(small_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["10.0.0.1:2222"]}, "task": {"type": "worker", "index": 0}}')
    out = tmp_path / "run"
    code, err = _run(capsys, "train", "--data", small_data, "--out", out, *TINY, "--workers", "2")
    assert code == 2
    _one_line_error(err, "--workers", "TF_CONFIG is already set")
    assert not out.exists()


def test_library_train_revalidates_a_config_built_in_code(small_data, tmp_path):
    cfg = Config(training=TrainingConfig(finetune_fraction=1.5))
    with pytest.raises(UserError, match="finetune_fraction"):
        train(small_data, tmp_path / "run", cfg, progress=False)
    assert not (tmp_path / "run").exists()


def test_resume_without_an_interrupted_run_is_refused(small_data, tmp_path, capsys):
    out = tmp_path / "run"
    code, err = _run(capsys, "train", "--data", small_data, "--out", out, "--resume", *TINY)
    assert code == 2
    _one_line_error(err, "nothing to resume")
    assert not out.exists()
    finished = tmp_path / "finished"
    finished.mkdir()
    (finished / "model.keras").write_bytes(b"x")
    code, err = _run(capsys, "train", "--data", small_data, "--out", finished, "--resume", *TINY)
    assert code == 2
    _one_line_error(err, "finished run")
    assert sorted(p.name for p in finished.iterdir()) == ["model.keras"]


def _not_models(tmp_path: Path) -> list[Path]:
    text = tmp_path / "text" / "model.keras"
    text.parent.mkdir()
    text.write_text("not a model\n")
    h5 = tmp_path / "h5" / "model.h5"
    h5.parent.mkdir()
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    wrong_zip = tmp_path / "zip" / "model.keras"
    wrong_zip.parent.mkdir()
    with zipfile.ZipFile(wrong_zip, "w") as zf:
        zf.writestr("hello.txt", "a zip, but not a Keras archive")
    folder = tmp_path / "folder" / "model.keras"
    folder.mkdir(parents=True)
    for model in (text, h5, wrong_zip, folder):
        write_labels(model.parent / "labels.txt", ["buttercup", "daisy"])
    return [text, h5, wrong_zip, folder]


def test_evaluate_refuses_files_that_are_not_keras_models(small_data, tmp_path, capsys):
    for model in _not_models(tmp_path):
        out = tmp_path / "eval" / model.parent.name
        code, err = _run(capsys, "evaluate", "--model", model, "--data", small_data, "--out", out)
        assert code == 2, model
        _one_line_error(err, "not", str(model))
        assert not out.exists()


@pytest.fixture(scope="module")
def untrained_model(tmp_path_factory) -> Path:
    """A real (untrained) classifier saved as a run would save it, for the label checks."""
    from flowers_mobile.config import ModelConfig
    from flowers_mobile.model import build_classifier

    folder = tmp_path_factory.mktemp("untrained")
    model = build_classifier(ModelConfig(input_size=32, alpha=0.35, weights="none"), 2)
    model.save(folder / "model.keras")
    write_labels(folder / "labels.txt", ["buttercup", "daisy"])
    return folder / "model.keras"


def test_evaluate_refuses_a_folder_with_classes_the_model_does_not_know(untrained_model, tmp_path, capsys):
    data = tmp_path / "other"
    generate_dataset(data, num_classes=3, per_class=3, image_size=32)  # adds pink_star
    out = tmp_path / "eval"
    code, err = _run(capsys, "evaluate", "--model", untrained_model, "--data", data, "--out", out, "--split", "all")
    assert code == 2
    _one_line_error(err, "pink_star", "labels.txt")
    assert not out.exists()


def test_evaluate_refuses_labels_that_do_not_fit_the_model(untrained_model, small_data, tmp_path, capsys):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.keras").write_bytes(untrained_model.read_bytes())
    write_labels(folder / "labels.txt", ["buttercup", "daisy", "tulip"])
    code, err = _run(capsys, "evaluate", "--model", folder / "model.keras", "--data", small_data, "--split", "all")
    assert code == 2
    _one_line_error(err, "2 outputs", "3 labels")
    assert not (folder / "eval-all").exists()


def test_evaluate_refuses_an_unknown_split_and_an_empty_one(untrained_model, small_data, tmp_path, capsys):
    code, err = _run(capsys, "evaluate", "--model", untrained_model, "--data", small_data, "--split", "holdout")
    assert code == 2
    _one_line_error(err, "unknown split")
    presplit = tmp_path / "presplit"
    for split in ("train", "val"):
        generate_dataset(presplit / split, num_classes=2, per_class=2, image_size=32, seed=len(split))
    code, err = _run(capsys, "evaluate", "--model", untrained_model, "--data", presplit, "--split", "test")
    assert code == 2
    _one_line_error(err, "test split", "--split all")
