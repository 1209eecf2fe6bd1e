"""MIL values as numpy: immediate values written into the spec, and blobs in `weight.bin`.

Floating tensors are returned in their stored dtype (float16 stays float16 here); the executor
widens them to float32 for arithmetic. Sub-byte integer types (uint1..uint6, int4) come back
unpacked, one element per byte, like the blob reader returns them.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from flowers_mobile.errors import UserError

# MIL DataType names -> numpy dtypes for whole-byte types.
NUMPY_DTYPES: dict[str, Any] = {
    "BOOL": np.bool_, "FLOAT16": np.float16, "FLOAT32": np.float32, "FLOAT64": np.float64,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
}
#: Sub-byte types: (bits, signed).
SUB_BYTE = {"UINT1": (1, False), "UINT2": (2, False), "UINT3": (3, False), "UINT4": (4, False),
            "UINT6": (6, False), "INT4": (4, True)}
FLOAT_TYPES = ("FLOAT16", "FLOAT32", "FLOAT64")

# `_BlobStorageReader` method per stored dtype.
_BLOB_READERS = {
    "FLOAT16": "read_fp16_data", "FLOAT32": "read_float_data",
    "INT8": "read_int8_data", "UINT8": "read_uint8_data", "INT16": "read_int16_data",
    "UINT16": "read_uint16_data", "INT32": "read_int32_data", "UINT32": "read_uint32_data",
    "INT4": "read_int4_data", "UINT1": "read_uint1_data", "UINT2": "read_uint2_data",
    "UINT3": "read_uint3_data", "UINT4": "read_uint4_data", "UINT6": "read_uint6_data",
}
# Blob storage v2 layout (MIL's `BlobStorageWriter`): a 64-byte file header, then per blob a
# 64-byte metadata record that starts with this sentinel, followed by the data.
_BLOB_SENTINEL = 0xDEADBEEF
_METADATA = struct.Struct("<IIQQ")  # sentinel, dtype, size in bytes, data offset


def dtype_name(value_type: Any) -> str:
    """'FLOAT16', 'INT32', ... for a MIL ValueType (tensors only; lists/dicts give their kind)."""
    from coremltools.proto import MIL_pb2

    kind = value_type.WhichOneof("type")
    if kind != "tensorType":
        return kind.upper() if kind else "UNKNOWN"
    return MIL_pb2.DataType.Name(value_type.tensorType.dataType)


def static_shape(value_type: Any) -> tuple[int, ...] | None:
    """The tensor's shape when every dimension is a constant, else None."""
    if value_type.WhichOneof("type") != "tensorType":
        return None
    dims = []
    for d in value_type.tensorType.dimensions:
        if d.WhichOneof("dimension") != "constant":
            return None
        dims.append(int(d.constant.size))
    return tuple(dims)


def unpack_bits(data: bytes | np.ndarray, bits: int, count: int, signed: bool = False) -> np.ndarray:
    """`count` integers of `bits` bits each, packed LSB-first into bytes (MIL's packing order)."""
    raw = np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8), bitorder="little")
    if raw.size < bits * count:
        raise ValueError(f"{raw.size} bits hold fewer than {count} values of {bits} bits")
    fields = raw[: bits * count].reshape(count, bits).astype(np.int32)
    values = fields @ (1 << np.arange(bits, dtype=np.int32))
    if signed:
        values = np.where(values >= 1 << (bits - 1), values - (1 << bits), values)
        return values.astype(np.int8)
    return values.astype(np.uint8)


class BlobReader:
    """Reads weight blobs of one package, one `_BlobStorageReader` per weight file.

    The record header at each offset is checked here first (sentinel, dtype, bounds) so that a
    damaged file gives a clear error that names the blob rather than a crash deeper down.
    """

    def __init__(self, resolve: Any, where: str) -> None:
        self._resolve = resolve  # file name in the spec -> Path
        self._where = where
        self._readers: dict[Path, Any] = {}
        self._sizes: dict[Path, int] = {}

    def _reader(self, path: Path) -> Any:
        if path not in self._readers:
            if not path.is_file():
                raise UserError(f"{self._where}: weight file {path} is missing",
                                hint="the package is incomplete; re-export it with `flowers-mobile convert`")
            from coremltools.libmilstoragepython import _BlobStorageReader

            try:
                self._readers[path] = _BlobStorageReader(str(path))
            except (RuntimeError, ValueError, OSError) as exc:
                raise UserError(f"{self._where}: cannot open weight file {path} ({exc})") from exc
            self._sizes[path] = path.stat().st_size
        return self._readers[path]

    def read(self, file_name: str, offset: int, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
        path = self._resolve(file_name)
        reader = self._reader(path)
        method = _BLOB_READERS.get(dtype)
        if method is None:
            raise UserError(f"{self._where}: weights of type {dtype} are not supported by the executor")
        self._check_record(path, offset, shape)
        try:
            data = np.asarray(getattr(reader, method)(int(offset)))
        except (RuntimeError, ValueError, IndexError) as exc:
            raise UserError(f"{self._where}: weight blob at offset {offset} of {path.name} is unreadable ({exc})",
                            hint="the weight file is corrupt; re-export the package") from exc
        if dtype == "FLOAT16":
            data = data.view(np.float16)
        count = int(np.prod(shape, dtype=np.int64))
        if data.size != count:
            raise UserError(f"{self._where}: weight blob at offset {offset} of {path.name} holds {data.size} "
                            f"values; the spec expects {count} for shape {list(shape)}",
                            hint="the weight file does not belong to this spec; re-export the package")
        return data.reshape(shape)

    def _check_record(self, path: Path, offset: int, shape: tuple[int, ...]) -> None:
        size = self._sizes[path]
        if offset < 0 or offset + _METADATA.size > size:
            raise UserError(f"{self._where}: weight blob offset {offset} is beyond the end of {path.name} "
                            f"({size} bytes)", hint="the weight file is truncated; re-export the package")
        with open(path, "rb") as fh:
            fh.seek(offset)
            sentinel, _, nbytes, data_offset = _METADATA.unpack(fh.read(_METADATA.size))
        if sentinel != _BLOB_SENTINEL or data_offset + nbytes > size:
            raise UserError(f"{self._where}: no valid weight record at offset {offset} of {path.name}",
                            hint="the weight file is corrupt or truncated; re-export the package")


def decode_value(value: Any, blobs: BlobReader, where: str) -> Any:
    """A MIL `Value` (immediate or blob) as numpy / Python.

    Returns:
        numpy arrays for tensors (0-d for scalars), `str` for scalar strings, lists for MIL lists
        and tuples (e.g. a classifier's class names).
    """
    kind = value.WhichOneof("value")
    if kind == "blobFileValue":
        dtype = dtype_name(value.type)
        shape = static_shape(value.type)
        if shape is None:
            raise UserError(f"{where}: a weight blob without a static shape")
        return blobs.read(value.blobFileValue.fileName, value.blobFileValue.offset, dtype, shape)
    if kind != "immediateValue":
        raise UserError(f"{where}: unsupported value kind {kind!r}")
    imm = value.immediateValue
    which = imm.WhichOneof("value")
    if which == "tensor":
        return _decode_tensor(imm.tensor, value.type, where)
    if which in ("list", "tuple"):
        items = imm.list.values if which == "list" else imm.tuple.values
        return [decode_value(v, blobs, where) for v in items]
    raise UserError(f"{where}: unsupported immediate value {which!r}")


def _decode_tensor(tensor: Any, value_type: Any, where: str) -> Any:
    dtype = dtype_name(value_type)
    shape = static_shape(value_type)
    if shape is None:
        raise UserError(f"{where}: a constant without a static shape")
    field = tensor.WhichOneof("value")
    if dtype == "STRING":
        strings = list(tensor.strings.values)
        return strings[0] if shape == () and strings else np.array(strings, dtype=object).reshape(shape)
    count = int(np.prod(shape, dtype=np.int64))
    if field == "bytes":
        raw = tensor.bytes.values
        if dtype in SUB_BYTE:
            bits, signed = SUB_BYTE[dtype]
            array = unpack_bits(raw, bits, count, signed)
        elif dtype in NUMPY_DTYPES:
            array = np.frombuffer(raw, dtype=NUMPY_DTYPES[dtype])[:count].copy()
        else:
            raise UserError(f"{where}: constants of type {dtype} are not supported by the executor")
    elif field in ("floats", "ints", "bools", "longInts", "doubles"):
        values = getattr(tensor, field).values
        np_dtype = NUMPY_DTYPES.get(dtype)
        if np_dtype is None:
            raise UserError(f"{where}: constants of type {dtype} are not supported by the executor")
        array = np.array(list(values), dtype=np_dtype)
    elif field is None and count == 0:
        array = np.zeros(0, dtype=NUMPY_DTYPES.get(dtype, np.float32))
    else:
        raise UserError(f"{where}: unsupported tensor encoding {field!r} for {dtype}")
    if array.size != count:
        raise UserError(f"{where}: constant holds {array.size} values, its type says {count}")
    return array.reshape(shape)
