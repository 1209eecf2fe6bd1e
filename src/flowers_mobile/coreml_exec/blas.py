"""Limit numpy's BLAS threads while the executor runs.

The executor's matrix products are many and small (a 1x1 conv on a 6x6 feature map is a
1280x112 by 112x36 product). OpenBLAS splits each across threads, and the hand-offs cost more
than the work: on a busy 2-core machine one thread was 10-80x faster than the default (see
tools/bench_coreml_executor.py). numpy has no API for this, so, like threadpoolctl, we call
OpenBLAS's own setter in the library numpy loaded. Where that library is not found (Accelerate
on macOS, MKL builds) this does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

# Symbol prefixes/suffixes OpenBLAS builds use: plain, scipy-openblas, 64-bit-int variants.
_NAMES = [(f"{prefix}openblas_set_num_threads{suffix}", f"{prefix}openblas_get_num_threads{suffix}")
          for prefix in ("scipy_", "") for suffix in ("64_", "")]


@functools.lru_cache(maxsize=1)
def _openblas() -> tuple[Any, Any] | None:
    """(setter, getter) of the OpenBLAS that numpy loaded, or None."""
    libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
    candidates = sorted(libs.glob("lib*openblas*.so*")) if libs.is_dir() else []
    for path in candidates:
        try:
            lib = ctypes.CDLL(str(path))  # already loaded by numpy: the same handle
        except OSError:
            continue
        for set_name, get_name in _NAMES:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                getter.restype = ctypes.c_int
                return setter, getter
    return None


@contextlib.contextmanager
def blas_threads(threads: int | None) -> Iterator[None]:
    """Run the block with OpenBLAS limited to `threads` (None: leave it alone)."""
    funcs = _openblas() if threads else None
    if funcs is None:
        yield
        return
    setter, getter = funcs
    before = int(getter())
    setter(int(threads))
    try:
        yield
    finally:
        setter(before)
