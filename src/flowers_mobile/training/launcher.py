"""`train --workers N`: a MultiWorkerMirroredStrategy cluster of N local processes.

For trying multi-worker training on one machine (and for one host with several accelerators
where one process per device is wanted). Each worker is ``flowers-mobile train`` with the same
arguments and its own ``TF_CONFIG`` on a free 127.0.0.1 port. The chief (worker 0) keeps this
terminal: its progress and its result table are what you see. The others write to log files in
a temporary folder (their ``TMPDIR`` too, so nothing they write outlives the run); their last
line is echoed at the end, or, when one fails, its last error line.

When any worker exits with an error or is killed, the others are stopped at once (SIGTERM, then
SIGKILL) and the launcher exits with the failing worker's code: no worker is left waiting in a
collective for a peer that is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from flowers_mobile.errors import UserError

#: Seconds a stopped worker gets to exit after SIGTERM before SIGKILL.
STOP_GRACE = 10.0
POLL = 0.2


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """`n` distinct ports free on `host` now (the sockets are held until all are picked)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(n):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
        return ports


def local_tf_configs(n: int) -> list[dict]:
    """One TF_CONFIG per local worker: the same cluster, task index 0..n-1 (0 is the chief)."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(n)]}
    return [{"cluster": cluster, "task": {"type": "worker", "index": i}} for i in range(n)]


def launch_local(train_args: Sequence[str], workers: int) -> int:
    """Run ``flowers-mobile train <train_args>`` as `workers` local workers; the chief's exit code.

    Args:
        train_args: the train command's arguments, without ``--workers``.
        workers: how many worker processes (at least 1).
    """
    if os.environ.get("TF_CONFIG"):
        raise UserError("--workers starts its own cluster on this machine, but TF_CONFIG is already set",
                        hint="unset TF_CONFIG, or drop --workers and start one process per TF_CONFIG task")
    if workers < 1:
        raise UserError(f"--workers {workers}: give at least 1 worker")
    base = [sys.executable, "-m", "flowers_mobile.cli", "train", *train_args,
            "--set", "training.distribute=multi_worker"]
    commands = [base if i == 0 else [*base, "--no-progress"] for i in range(workers)]
    envs = [{"TF_CONFIG": json.dumps(c)} for c in local_tf_configs(workers)]
    return run_workers(commands, envs)


def run_workers(commands: Sequence[Sequence[str]], envs: Sequence[dict[str, str]]) -> int:
    """Start one process per command (worker 0 on this terminal), watch them, stop all on a failure.

    Returns:
        0 when every worker succeeded, else the exit code of the first one that failed (1 when it
        was killed by a signal).
    """
    root = Path(tempfile.mkdtemp(prefix="flowers-workers-"))
    procs: list[subprocess.Popen] = []
    logs: list[Path | None] = []
    try:
        for i, (command, extra) in enumerate(zip(commands, envs, strict=True)):
            tmp = root / f"worker-{i}"
            tmp.mkdir()
            env = {**os.environ, **extra, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}
            if i == 0:
                procs.append(subprocess.Popen(list(command), env=env))
                logs.append(None)
            else:
                log = root / f"worker-{i}.log"
                with open(log, "wb") as fh:
                    procs.append(subprocess.Popen(list(command), env=env, stdout=fh, stderr=subprocess.STDOUT))
                logs.append(log)
        return _watch(procs, logs)
    except KeyboardInterrupt:
        _stop(procs)
        return 130
    finally:
        _stop(procs)
        shutil.rmtree(root, ignore_errors=True)


def _watch(procs: list[subprocess.Popen], logs: list[Path | None]) -> int:
    n = len(procs)
    while True:
        codes = [p.poll() for p in procs]
        failed = [i for i, c in enumerate(codes) if c not in (None, 0)]
        if failed:
            i = failed[0]
            others = [p for j, p in enumerate(procs) if j != i]
            _stop(others)
            code = codes[i]
            what = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
            detail = _last_line(logs[i], error=True) if logs[i] else ""
            print(f"error: worker {i} of {n} {what}{': ' + detail if detail else ''}; the other workers were "
                  f"stopped. Fix the cause, then run the same command with --resume to continue.",
                  file=sys.stderr, flush=True)
            return code if code > 0 else 1
        if all(c == 0 for c in codes):
            for i, log in enumerate(logs):
                if log is not None and (line := _last_line(log)):
                    print(f"worker {i}: {line}", flush=True)
            return 0
        time.sleep(POLL)


def _stop(procs: Sequence[subprocess.Popen]) -> None:
    alive = [p for p in procs if p.poll() is None]
    for p in alive:
        p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for p in alive:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _last_line(log: Path, error: bool = False) -> str:
    """The log's last non-empty line (with `error`: its last ``error:`` line when it has one)."""
    try:
        lines = [x.strip() for x in log.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()]
    except OSError:
        return ""
    if error:
        marked = [x for x in lines if x.startswith(("error:", "failed:"))]
        if marked:
            return marked[-1].removeprefix("error:").strip()
    return lines[-1][:300] if lines else ""
