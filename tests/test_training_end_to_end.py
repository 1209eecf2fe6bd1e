"""A whole training run on the synthetic flowers: outputs, accuracy, and `evaluate` agreeing with it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from flowers_mobile.cli import main
from flowers_mobile.config import load_config
from flowers_mobile.evaluation import evaluate
from flowers_mobile.labels import read_labels
from tests._fixtures_training import tiny_config
from tests.conftest import SYNTH_TEST_PER_CLASS

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="session")
def tiny_run(trained_run_dir) -> Path:
    """The suite's one training run (conftest), trained with tests._fixtures_training's settings."""
    return trained_run_dir


@pytest.mark.slow
def test_run_folder_holds_every_output_and_nothing_half_written(tiny_run, synth_data_dir):
    names = {p.name for p in tiny_run.iterdir()}
    assert {"model.keras", "labels.txt", "config.json", "history.json", "metrics.json", "training_curves.png",
            "confusion_matrix.png", "classification_report.txt", "logs"} <= names
    assert "backup" not in names
    assert not [p for p in tiny_run.rglob("*") if p.name.startswith(".") or ".tmp" in p.name]
    assert read_labels(tiny_run / "labels.txt") == sorted(p.name for p in (synth_data_dir / "train").iterdir())
    assert load_config(tiny_run / "config.json").to_dict() == tiny_config().to_dict()
    for png in ("training_curves.png", "confusion_matrix.png"):
        assert (tiny_run / png).read_bytes()[:8] == PNG
    events = list((tiny_run / "logs").rglob("events.out.tfevents.*"))
    assert {p.parent.parent.name for p in events} >= {"head", "finetune"}


@pytest.mark.slow
def test_tiny_model_is_confidently_right_on_the_synthetic_flowers(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["val_accuracy"] >= 0.95, metrics["val"]["per_class"]
    assert metrics["test_accuracy"] >= 0.9, metrics["test"]["per_class"]
    val = metrics["val"]
    assert set(val["per_class"]) == set(read_labels(tiny_run / "labels.txt"))
    assert sum(row["support"] for row in val["per_class"].values()) == val["num_images"]
    # (No top-5 check here: with 5 classes it is 1.0 by construction; test_evaluation_metrics
    # checks top-k on known arrays.)
    assert val["macro_f1"] > 0.85
    assert metrics["run"]["batchnorm"] == "train" and metrics["run"]["replicas"] == 1


@pytest.mark.slow
def test_history_covers_both_phases_with_the_boundary(tiny_run):
    history = json.loads((tiny_run / "history.json").read_text())
    head, finetune = history["phases"]
    assert head["key"] == "head" and finetune["key"] == "finetune"
    assert history["phase_boundary"] == head["epochs"] == 2
    # Up to 30 fine-tune epochs with patience 6: a run that stopped early stopped 6 epochs after
    # its best one (whose weights were restored); one that did not ran all 30.
    if finetune["stopped_early"]:
        assert finetune["epochs"] - 1 - finetune["best_epoch"] == 6 and finetune["epochs"] < 30, finetune  # 0-based best
    else:
        assert finetune["epochs"] == 30
    for phase in (head, finetune):
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "top5"):
            assert len(phase["history"][key]) == phase["epochs"]
    assert history["resumed"] == {}


@pytest.mark.slow
def test_evaluate_reproduces_the_runs_validation_report(tiny_run, synth_data_dir):
    recorded = json.loads((tiny_run / "metrics.json").read_text())["val"]
    again = evaluate(tiny_run / "model.keras", synth_data_dir, tiny_config(), split="val")
    assert again["confusion_matrix"] == recorded["confusion_matrix"]
    assert again["accuracy"] == pytest.approx(recorded["accuracy"])
    assert again["split"] == "val" and again["num_images"] == recorded["num_images"]


@pytest.mark.slow
def test_evaluate_cli_writes_the_report_for_a_folder_with_some_of_the_classes(tiny_run, synth_data_dir,
                                                                              tmp_path, capsys):
    labels = read_labels(tiny_run / "labels.txt")
    subset = tmp_path / "two"
    for name in labels[1:3]:
        shutil.copytree(synth_data_dir / "test" / name, subset / name)
    out = tmp_path / "report"
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--model", str(tiny_run / "model.keras"), "--data", str(subset), "--split", "all",
              "--out", str(out)])
    assert exc.value.code == 0
    printed = capsys.readouterr().out
    assert "accuracy" in printed and labels[1] in printed
    metrics = json.loads((out / "metrics.json").read_text())
    # Labels keep the model's indices: the two classes land in their own rows, the rest are empty.
    assert metrics["labels"] == labels
    supports = [metrics["per_class"][c]["support"] for c in labels]
    assert supports[0] == 0 and supports[1] == supports[2] == SYNTH_TEST_PER_CLASS
    assert sum(supports) == 2 * SYNTH_TEST_PER_CLASS
    assert metrics["accuracy"] >= 0.85
    assert (out / "confusion_matrix.png").read_bytes()[:8] == PNG
    assert "macro avg" in (out / "classification_report.txt").read_text()
