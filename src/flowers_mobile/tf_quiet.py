"""TensorFlow's and LiteRT's native log lines kept off the terminal.

They are written by C++ straight to file descriptor 2, and since TF 2.20 (absl logging) most of
them ignore TF_CPP_MIN_LOG_LEVEL ("I0000 ... port.cc:153] oneDNN custom operations are on",
"E0000 ... NodeDef mentions attribute use_unbounded_threadpool", "W0000 ... Feedback manager
requires a model with a single signature", "INFO: Created TensorFlow Lite XNNPACK delegate").

- `filter_native_logs()`: for the whole CLI process and its children, descriptor 2 goes through
  a small filter process (`_log_filter.py`) that drops those lines and forwards everything else;
  Python's own stderr keeps the terminal. FLOWERS_MOBILE_NATIVE_LOGS=1 shows them all.
- `quiet_tf()`: around a block (converters, graph tracing), descriptor 2 goes to a temporary
  file, whose tail is attached to an exception the block raises.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

#: Set to 1 to see TensorFlow's and LiteRT's native log lines.
SHOW_ENV = "FLOWERS_MOBILE_NATIVE_LOGS"
_filter: subprocess.Popen[bytes] | None = None


def filter_native_logs() -> bool:
    """Route descriptor 2 through the native-log filter for the rest of this process.

    Must run before TensorFlow or LiteRT load (their start-up lines come first). Python's
    `sys.stderr` is pointed at a copy of the original descriptor first, so tracebacks, errors and
    progress displays reach the terminal directly (and rich still sees a terminal there).
    Returns whether the filter runs: not when asked to show everything, not twice, and not when
    `sys.stderr` is not the process's own (a test harness capturing it).
    """
    global _filter
    if _filter is not None or os.environ.get(SHOW_ENV) == "1":
        return False
    try:
        if sys.stderr is not sys.__stderr__ or sys.stderr is None or sys.stderr.fileno() != 2:
            return False
    except (AttributeError, OSError, ValueError):
        return False
    sys.stderr.flush()
    original = os.dup(2)
    try:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_log_filter.py"))],
                                stdin=subprocess.PIPE, stdout=original, stderr=original, close_fds=True)
    except OSError:
        os.close(original)
        return False
    assert proc.stdin is not None
    sys.stderr = os.fdopen(original, "w", buffering=1, encoding=sys.stderr.encoding,
                           errors=sys.stderr.errors or "backslashreplace")
    os.dup2(proc.stdin.fileno(), 2)
    proc.stdin.close()  # descriptor 2 (and children's copies) now hold the pipe
    _filter = proc
    atexit.register(_stop_filter)
    return True


def _stop_filter() -> None:
    """At exit: give descriptor 2 back and let the filter forward what it still holds."""
    global _filter
    proc, _filter = _filter, None
    if proc is None:
        return
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
        os.dup2(sys.stderr.fileno(), 2)  # closes this process's end of the pipe
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)  # a child still writing keeps it open; it ends when that one does


@contextlib.contextmanager
def quiet_tf() -> Iterator[None]:
    """Keep TensorFlow's converter chatter off the terminal while the block runs.

    The converter logs from C++ straight to file descriptor 2 (absl logging, which
    TF_CPP_MIN_LOG_LEVEL does not reach) and from Python through absl and warnings. Descriptor
    2 goes to a temporary file for the duration; if the block fails, the file's last lines are
    attached to the exception as a note, so nothing needed for a diagnosis is lost.
    """
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
