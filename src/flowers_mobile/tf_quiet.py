"""TensorFlow's native log lines kept off the terminal while a block runs (converters, graph
tracing): they are written by C++ straight to file descriptor 2, where TF_CPP_MIN_LOG_LEVEL does
not reach."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_tf() -> Iterator[None]:
    """Keep TensorFlow's converter chatter off the terminal while the block runs.

    The converter logs from C++ straight to file descriptor 2 (absl logging, which
    TF_CPP_MIN_LOG_LEVEL does not reach) and from Python through absl and warnings. Descriptor
    2 goes to a temporary file for the duration; if the block fails, the file's last lines are
    attached to the exception as a note, so nothing needed for a diagnosis is lost.
    """
    import sys
    import tempfile

    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
        except BaseException as exc:
            sys.stderr.flush()
            capture.seek(0)
            tail = capture.read().decode("utf-8", "replace").strip().splitlines()[-15:]
            if tail:
                exc.add_note("converter log (last lines):\n" + "\n".join(tail))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            absl_logger.setLevel(level)
