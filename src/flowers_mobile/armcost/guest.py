"""Runs INSIDE the emulated arm64 root (its own python3, numpy and LiteRT's aarch64 wheel; nothing
of flowers-mobile): loads each .tflite named on the command line on one thread, fills its input
with fixed pseudo-random data, invokes once to warm up, then marks before and after each of
`--invokes` timed invokes. A mark is getppid() with a magic first argument; the counting plugin
(tools/arm/insn_count.c) writes the instruction count at each mark. Prints one JSON line per model.

Kept to the standard library, numpy and ai_edge_litert: this file is read by the guest's Python 3.11
as it is, never imported by the host package.
"""

import ctypes
import gc
import json
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter

GETPPID_AARCH64 = 173
MARK_MAGIC = 0x464D4152  # "FMAR", as in insn_count.c

_syscall = ctypes.CDLL(None, use_errno=True).syscall
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long, ctypes.c_ulong]


def mark() -> None:
    _syscall(GETPPID_AARCH64, MARK_MAGIC)


def fill(detail: dict, rng: np.random.Generator) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    shape = tuple(int(d) for d in detail["shape"])
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, int(info.max) + 1, size=shape, dtype=dtype)
    return rng.uniform(0.0, 255.0, size=shape).astype(dtype)


def cpu_part() -> str:
    """The core /proc/cpuinfo names: the runner checks it is the profile's (QEMU served the fake file)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("CPU part"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "none"


def main(argv: list) -> int:
    invokes = int(argv[0])
    part = cpu_part()
    for path in argv[1:]:
        interp = Interpreter(model_path=path, num_threads=1)
        interp.allocate_tensors()
        rng = np.random.default_rng(0)
        for detail in interp.get_input_details():
            interp.set_tensor(detail["index"], fill(detail, rng))
        interp.invoke()  # warm-up: XNNPACK packs weights and sets up on the first invoke
        # No cyclic collection inside a counted invoke: it would add the Python heap's size to the count.
        gc.collect()
        gc.disable()
        for _ in range(invokes):
            mark()
            interp.invoke()
            mark()
        gc.enable()
        batch = int(interp.get_input_details()[0]["shape"][0])
        print(json.dumps({"model": path, "invokes": invokes, "batch": batch, "cpu_part": part}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
