"""A minimal reader for MATLAB level-5 .mat files: numeric arrays only.

Oxford 102 ships its labels and splits as `imagelabels.mat` and `setid.mat`, each a few real
numeric matrices. Reading them needs 80 lines, not SciPy.
"""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np

from flowers_mobile.errors import UserError

_MI_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8"}
_MI_MATRIX, _MI_COMPRESSED = 14, 15


def _elements(buf: bytes, endian: str):
    """Yield (type, payload bytes) for each data element in `buf`."""
    pos = 0
    while pos + 8 <= len(buf):
        (word,) = struct.unpack_from(endian + "I", buf, pos)
        if word >> 16:  # small data element: size in the upper half, data in the next 4 bytes
            mtype, nbytes = word & 0xFFFF, word >> 16
            yield mtype, buf[pos + 4:pos + 4 + nbytes]
            pos += 8
            continue
        mtype, nbytes = struct.unpack_from(endian + "II", buf, pos)
        payload = buf[pos + 8:pos + 8 + nbytes]
        pos += 8 + nbytes
        if mtype != _MI_COMPRESSED:
            pos += (-nbytes) % 8  # elements are padded to 8 bytes, compressed ones are not
        yield mtype, payload


def _matrix(payload: bytes, endian: str) -> tuple[str, np.ndarray] | None:
    parts = list(_elements(payload, endian))
    if len(parts) < 4:
        return None
    flags = struct.unpack_from(endian + "I", parts[0][1])[0]
    array_class = flags & 0xFF
    if array_class not in range(6, 16):  # numeric classes only (double .. uint64)
        return None
    dims = np.frombuffer(parts[1][1], dtype=endian + "i4")
    name = parts[2][1].decode("latin-1")
    mtype, data = parts[3]
    if mtype not in _MI_TYPES:
        return None
    values = np.frombuffer(data, dtype=endian + _MI_TYPES[mtype])
    return name, values.reshape(tuple(dims), order="F")


def read_mat(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """{variable name: array} for the numeric variables of a level-5 MAT file."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc}") from exc
    if len(raw) < 128 or raw[126:128] not in (b"IM", b"MI"):
        raise UserError(f"{path} is not a MATLAB level-5 .mat file")
    endian = "<" if raw[126:128] == b"IM" else ">"
    out: dict[str, np.ndarray] = {}
    for mtype, payload in _elements(raw[128:], endian):
        if mtype == _MI_COMPRESSED:
            try:
                payload = zlib.decompress(payload)
            except zlib.error as exc:
                raise UserError(f"{path}: corrupt compressed element ({exc})") from exc
            mtype, payload = next(_elements(payload, endian))
        if mtype == _MI_MATRIX:
            found = _matrix(payload, endian)
            if found:
                out[found[0]] = found[1]
    return out
