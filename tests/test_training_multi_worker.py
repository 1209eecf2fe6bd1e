"""`training.distribute=multi_worker`: MultiWorkerMirroredStrategy with worker processes on 127.0.0.1.

A worker killed mid-run stops the chief with one line (not a hang), `--resume` completes the run,
and the two local workers end with identical weights, as accurate as one process; the launcher
stops every worker when one fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowers_mobile.data.synth import generate_dataset
from flowers_mobile.training.launcher import local_tf_configs, run_workers


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1", **extra}


def _train_cmd(data: Path, out: Path, settings: list[str], *extra: str) -> list[str]:
    sets = [arg for s in settings for arg in ("--set", s)]
    return [sys.executable, "-m", "flowers_mobile.cli", "train", "--data", str(data), "--out", str(out),
            "--no-progress", *sets, *extra]


def _worker_digests(stdout: str) -> list[str]:
    """The digests the launcher echoes for the other workers ("worker 1: ... sha256 <hex>")."""
    return [line.rsplit(" ", 1)[-1] for line in stdout.splitlines()
            if line.startswith("worker ") and "weights sha256" in line]


def test_launcher_stops_every_worker_when_one_fails(tmp_path, capsys):
    # Worker 0 would wait for ever (as a chief in a collective does); worker 1 fails.
    pid_file = tmp_path / "pid"
    waiter = [sys.executable, "-c", f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
                                    "time.sleep(600)"]
    failer = [sys.executable, "-c", "import sys, time; time.sleep(1); "
                                    "print('error: the data folder is unreadable.', file=sys.stderr); sys.exit(2)"]
    started = time.monotonic()
    code = run_workers([waiter, failer], [{}, {}])
    assert code == 2
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: worker 1 of 2 exited with code 2"), err
    assert "the data folder is unreadable" in err[0] and "--resume" in err[0]
    with pytest.raises(ProcessLookupError):  # the waiting worker was stopped, not left behind
        os.kill(int(pid_file.read_text()), 0)


def test_local_tf_configs_give_every_worker_the_same_cluster():
    configs = local_tf_configs(3)
    clusters = {json.dumps(c["cluster"]) for c in configs}
    assert len(clusters) == 1
    addresses = configs[0]["cluster"]["worker"]
    assert len(set(addresses)) == 3 and all(a.startswith("127.0.0.1:") for a in addresses)
    assert [c["task"] for c in configs] == [{"type": "worker", "index": i} for i in range(3)]


@pytest.fixture(scope="module")
def pretrained_backbone(trained_run_dir, tmp_path_factory) -> Path:
    """The suite's trained model's backbone as a weights file: features good enough that one and
    two workers both converge, so comparing their accuracy means something."""
    from flowers_mobile.evaluation import load_keras_model
    from flowers_mobile.model import get_backbone

    path = tmp_path_factory.mktemp("backbone") / "backbone.weights.h5"
    get_backbone(load_keras_model(trained_run_dir / "model.keras")).save_weights(path)
    return path


#: Phase 1 on the pretrained backbone's features, then BatchNorm trained in phase 2: each worker
#: updates its own moving statistics, the one place where the workers' weights could drift apart
#: (they are averaged every epoch).
SETTINGS = ["model.input_size=64", "model.alpha=0.35", "training.batch_size=8", "training.head_epochs=8",
            "training.finetune_epochs=3", "training.finetune_fraction=0.3", "training.early_stopping_patience=0",
            "training.label_smoothing=0.1", "training.batchnorm=train", "training.collective_timeout=60"]
#: Worker 1 is killed once the chief has saved this many fine-tune epochs.
KILL_AT_EPOCH = 1


def _error_lines(stderr: str) -> list[str]:
    """Our error lines (TensorFlow's C++ runtime logs the collective abort on its own, whatever
    TF_CPP_MIN_LOG_LEVEL says; those lines are not ours to shape)."""
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def _finetune_epoch(out: Path) -> int:
    try:
        return json.loads((out / "backup" / "finetune" / "state.json").read_text())["epoch"]
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError, KeyError):
        return 0


def _start_and_kill_worker_1(data: Path, out: Path, settings: list[str], tmp_path: Path) -> tuple[int, str, float]:
    """Two workers started as on two hosts (one TF_CONFIG each, no launcher to stop the chief);
    worker 1 SIGKILLed in fine-tuning. Returns the chief's exit code, its stderr and how long it
    took to stop after the kill."""
    logs = [tmp_path / f"worker{i}.err" for i in range(2)]
    procs = []
    for i, (config, log) in enumerate(zip(local_tf_configs(2), logs, strict=True)):
        scratch = tmp_path / f"tmp{i}"  # a SIGKILLed worker cannot remove its temporary folder
        scratch.mkdir()
        with open(log, "w") as fh:
            procs.append(subprocess.Popen(_train_cmd(data, out, settings), stdout=subprocess.DEVNULL, stderr=fh,
                                          env=_env(TF_CONFIG=json.dumps(config), TMPDIR=str(scratch))))
    chief, other = procs
    try:
        deadline = time.monotonic() + 500
        while _finetune_epoch(out) < KILL_AT_EPOCH:
            assert chief.poll() is None and other.poll() is None, logs[0].read_text()[-3000:]
            assert time.monotonic() < deadline, "training did not reach the kill point in time"
            time.sleep(0.05)
        other.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        chief.wait(timeout=120)  # collectives fail when the peer's heartbeats stop: no hang
        stopped_after = time.monotonic() - killed_at
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    return chief.returncode, logs[0].read_text(), stopped_after


# One scenario for both claims, because every multi-worker run costs two TensorFlow processes:
# a worker killed mid-run stops the chief with one line, `--resume` with the launcher completes
# the run, and the two workers end in sync and as accurate as one process on the same settings.
@pytest.mark.slow
@pytest.mark.any_worker  # the longest test: on the worker that did not train the shared model
def test_killed_worker_stops_the_chief_resume_completes_and_two_workers_train_as_well_as_one(
        pretrained_backbone, tmp_path):
    from flowers_mobile.config import Config
    from flowers_mobile.data.sources import load_dataset
    from flowers_mobile.evaluation import evaluate_samples, load_keras_model
    from flowers_mobile.training import train
    from flowers_mobile.training.multiworker import weights_digest

    data, held, out = tmp_path / "flowers", tmp_path / "held", tmp_path / "two"
    generate_dataset(data, num_classes=3, per_class=40, image_size=48, seed=11)
    generate_dataset(held, num_classes=3, per_class=60, image_size=48, seed=12)  # 180 unseen images
    settings = [*SETTINGS, f"model.weights={pretrained_backbone}"]

    code, stderr, stopped_after = _start_and_kill_worker_1(data, out, [*settings, "training.distribute=multi_worker"],
                                                           tmp_path)
    assert code == 3, stderr[-3000:]
    lines = _error_lines(stderr)
    assert lines == [stderr.strip().splitlines()[-1]] and "Traceback" not in stderr, stderr[-3000:]
    assert lines[0].startswith("error: lost contact with the other workers: worker 1 stopped answering"), lines
    assert "--resume" in lines[0]
    assert stopped_after < 90
    epoch = _finetune_epoch(out)
    assert KILL_AT_EPOCH <= epoch < 3 and not (out / "model.keras").exists()

    # Resumed with the launcher: the chief's backup reaches worker 1, both finish in sync.
    scratch = tmp_path / "tmp"  # the workers' temporary folders go here, and must be gone at the end
    scratch.mkdir()
    proc = subprocess.run(_train_cmd(data, out, settings, "--workers", "2", "--resume"),
                          env=_env(TMPDIR=str(scratch)), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert list(scratch.iterdir()) == []
    assert not (out / "backup").exists() and (out / "model.keras").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["distribute"] == "multi_worker" and metrics["run"]["workers"] == 2
    two_model = load_keras_model(out / "model.keras")
    assert weights_digest(two_model) == metrics["run"]["weights_sha256"]
    assert _worker_digests(proc.stdout) == [metrics["run"]["weights_sha256"]]  # worker 1 ended in sync
    # Both phases ran their epochs through the loop, with fit's metrics in the history.
    history = json.loads((out / "history.json").read_text())
    assert history["resumed"] == {"finetune": epoch}
    assert [p["epochs"] for p in history["phases"]] == [8, 3]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "top5"} <= set(history["phases"][1]["history"])
    assert (out / "logs" / "finetune" / "validation").is_dir()

    one = train(data, tmp_path / "one", Config().with_overrides(settings), progress=False)
    cfg = Config().with_overrides(settings)
    samples = load_dataset(held, cfg.data).split("all")
    acc_two = evaluate_samples(two_model, samples, one.classes, cfg.data, batch_size=64)["accuracy"]
    acc_one = evaluate_samples(load_keras_model(one.model_path), samples, one.classes, cfg.data,
                               batch_size=64)["accuracy"]
    assert acc_one >= 0.9 and acc_two >= 0.9, (acc_one, acc_two)
    assert abs(acc_two - acc_one) <= 0.02, (acc_one, acc_two)


class _CollectiveError:
    def __init__(self, message: str) -> None:
        self.message = message


def test_a_lost_peer_is_named_whichever_way_the_collective_noticed(monkeypatch):
    """A killed worker surfaces as missed heartbeats, or as a connection refused at its address,
    or from its remote target: each names that worker; a text naming no peer says what it says."""
    import json

    from flowers_mobile.training.cluster import _what_failed

    cluster = {"worker": ["127.0.0.1:23001", "127.0.0.1:23002"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    texts = [
        "Collective ops is aborted by: failed to connect to all addresses; last error: UNKNOWN: "
        "ipv4:localhost:23002: Failed to connect to remote host: Connection refused",
        "failed to connect to all addresses ... Additional GRPC error information from remote target "
        "/job:worker/replica:0/task:1 while calling /tensorflow.CollectiveService/GetStepSequence",
        "The following tasks are unhealthy (stopped sending heartbeats):\n/job:worker/replica:0/task:1",
    ]
    for text in texts:
        assert _what_failed(_CollectiveError(text), 30).startswith("worker 1 stopped answering"), text
    other = _what_failed(_CollectiveError("failed to connect to all addresses; ipv4:127.0.0.1:230020"), 30)
    assert "stopped answering" not in other and other.startswith("_CollectiveError: failed to connect")
