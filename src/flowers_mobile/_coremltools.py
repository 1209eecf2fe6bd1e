"""Keep coremltools' two known, harmless import warnings off the terminal.

On Linux coremltools logs "Failed to load _MLModelProxy: No module named
'coremltools.libcoremlpython'" (six times: the native runtime exists only on macOS, and this
project runs packages with its own executor there), and with TensorFlow 2.19 "TensorFlow version
2.19.1 has not been tested with coremltools" (docs/stack.md: the pair works). Only these
two messages are dropped; every other coremltools warning still shows. Each module that imports
coremltools calls `quiet_coremltools()` once at its own import.
"""

from __future__ import annotations

import logging

_KNOWN = ("Failed to load _ML", "has not been tested with coremltools")


class _DropKnownNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in _KNOWN)


def quiet_coremltools() -> None:
    """Filter the known noise from the "coremltools" logger (before anything imports it)."""
    logger = logging.getLogger("coremltools")
    if not any(isinstance(f, _DropKnownNoise) for f in logger.filters):
        logger.addFilter(_DropKnownNoise())

