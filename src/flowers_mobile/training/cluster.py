"""The cluster a multi-worker run belongs to: ``TF_CONFIG`` read and checked, which task is the
chief, the strategy, and a failed collective said in one line (which task stopped, or that a
collective timed out: `WorkerLost`, exit code 3), not a hang or a gRPC trace."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from typing import Any

from flowers_mobile.errors import UserError

TF_CONFIG = "TF_CONFIG"


class WorkerLost(UserError):
    """A collective with the other workers failed: one of them died or cannot be reached."""

    exit_code = 3


def read_tf_config() -> dict[str, Any]:
    """The cluster and this process's task from ``TF_CONFIG``, checked (one-line errors)."""
    raw = os.environ.get(TF_CONFIG)
    hint = ('set TF_CONFIG on every host, e.g. {"cluster": {"worker": ["host0:12345", "host1:12345"]}, '
            '"task": {"type": "worker", "index": 0}}, or use --workers N on one machine')
    if not raw:
        raise UserError("training.distribute = multi_worker needs the cluster in the TF_CONFIG environment "
                        "variable, which is not set", hint=hint)
    try:
        tf_config = json.loads(raw)
        cluster, task = tf_config["cluster"], tf_config["task"]
        members = cluster[task["type"]]
        address = members[int(task["index"])]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise UserError(f"TF_CONFIG is not a cluster with this task in it ({type(exc).__name__}: {exc})",
                        hint=hint) from exc
    if task["type"] not in ("chief", "worker"):
        raise UserError(f"TF_CONFIG: task type {task['type']!r} is not one MultiWorkerMirroredStrategy trains "
                        "with (chief or worker)", hint=hint)
    if not isinstance(address, str) or ":" not in address:
        raise UserError(f"TF_CONFIG: task address {address!r} is not host:port", hint=hint)
    return tf_config


def is_chief_task(tf_config: dict[str, Any]) -> bool:
    """The task that writes the run folder: ``chief`` when the cluster has one, else worker 0."""
    task = tf_config["task"]
    if "chief" in tf_config["cluster"]:
        return task["type"] == "chief"
    return task["type"] == "worker" and int(task["index"]) == 0


def make_multi_worker_strategy(timeout_seconds: float):
    """MultiWorkerMirroredStrategy from ``TF_CONFIG`` whose collectives give up after `timeout_seconds`."""
    import tensorflow as tf

    read_tf_config()  # a clear error before TensorFlow reads it
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout_seconds)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


@contextlib.contextmanager
def collective_errors(timeout_seconds: float) -> Iterator[None]:
    """Turn a failed collective (a worker died, or timed out) into one line, exit code 3."""
    import tensorflow as tf

    lost = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError,
            tf.errors.AbortedError)
    try:
        yield
    except lost as exc:
        raise WorkerLost(f"lost contact with the other workers: {_what_failed(exc, timeout_seconds)}",
                         hint="check that every worker is running, then start all of them again with "
                              "--resume (the chief's backup is kept)") from exc


#: What a collective's error says when a peer's connection is gone (the process died).
_LINK_LOST = ("failed to connect to all addresses", "Connection refused", "Connection reset", "Socket closed")


_LOOPBACK = r"(?:localhost|127\.0\.0\.1|\[::1\])"


def _names_address(text: str, address: str) -> bool:
    """Whether `text` names host:port `address` (a loopback host by any of its names)."""
    host, _, port = address.rpartition(":")
    pattern = _LOOPBACK if re.fullmatch(_LOOPBACK, host) else re.escape(host)
    return re.search(rf"(?<![\w.]){pattern}:{re.escape(port)}(?!\d)", text) is not None


def _tasks_at_addresses(text: str) -> list[str]:
    """The other cluster tasks (from TF_CONFIG) whose host:port the error text names."""
    try:
        config = read_tf_config()
    except UserError:  # no usable TF_CONFIG: nothing to map
        return []
    me = (config["task"]["type"], int(config["task"]["index"]))
    return [f"{kind} {i}" for kind, hosts in config["cluster"].items() for i, host in enumerate(hosts)
            if (kind, i) != me and _names_address(text, host)]


def _what_failed(exc, timeout_seconds: float) -> str:
    """The useful part of a collective's error: which task stopped, or that it timed out."""
    text = re.sub(r"\{\{[^}]*\}\}", "", exc.message or "")
    name = type(exc).__name__
    if "stopped sending heartbeats" in text:
        after = text.split("stopped sending heartbeats", 1)[1]
        tasks = sorted({f"{job} {task}" for job, task in re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", after)})
        if tasks:
            return f"{', '.join(tasks)} stopped answering ({name})"
    if any(sign in text for sign in _LINK_LOST):  # the peer's socket went away before its heartbeats
        tasks = sorted({f"{job} {task}" for job, task in re.findall(r"remote target /job:(\w+)/replica:\d+/task:(\d+)", text)}
                       | set(_tasks_at_addresses(text)))
        if tasks:
            return f"{', '.join(tasks)} stopped answering ({name})"
    if name == "DeadlineExceededError":
        return f"a collective waited more than training.collective_timeout = {timeout_seconds:g} s ({name})"
    first = " ".join(text.split())[:160]
    return f"{name}: {first or 'no detail'}"
