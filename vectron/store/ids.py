"""Point ids: validation and their byte encoding as LMDB keys.

An id is a non-negative integer below 2**64 or a non-empty string of at most
``MAX_STR_ID_BYTES`` UTF-8 bytes. Keys sort integers first (numerically), then
strings (bytewise), which is the order of ``scroll``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import numpy as np

from vectron.errors import InvalidArgument
from vectron.store.validation import MAX_STR_ID_BYTES

PointId = int | str

_INT_TAG = b"\x00"
_STR_TAG = b"\x01"
_U64 = struct.Struct(">Q")


def check_id(value: object, field: str = "ids") -> PointId:
    """Return ``value`` if it is a valid point id, else raise InvalidArgument."""
    if isinstance(value, bool):
        raise InvalidArgument(f"point id {value!r} is a boolean; ids are non-negative integers or strings", field=field)
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, int):
        if not 0 <= value < 2**64:
            raise InvalidArgument(f"integer point id {value} is outside [0, 2**64)", field=field)
        return value
    if isinstance(value, str):
        size = len(value.encode("utf-8"))
        if size == 0:
            raise InvalidArgument("point id is an empty string", field=field)
        if size > MAX_STR_ID_BYTES:
            raise InvalidArgument(f"string point id is {size} bytes; at most {MAX_STR_ID_BYTES}", field=field)
        return value
    raise InvalidArgument(f"point id {value!r} has type {type(value).__name__}; expected int or str", field=field)


def check_ids(values: Iterable[object], field: str = "ids", *, unique: bool = True) -> list[PointId]:
    """Validate a list of ids; duplicates are an error when ``unique``."""
    if isinstance(values, (str, bytes, int, dict)) or not isinstance(values, Iterable):
        raise InvalidArgument("ids must be a list of point ids", field=field)
    ids = [check_id(v, field) for v in values]
    if unique and len(set(map(encode_id, ids))) != len(ids):
        seen: set[bytes] = set()
        for pid in ids:
            key = encode_id(pid)
            if key in seen:
                raise InvalidArgument(f"point id {pid!r} appears more than once in the batch", field=field)
            seen.add(key)
    return ids


def encode_id(pid: PointId) -> bytes:
    if isinstance(pid, int):
        return _INT_TAG + _U64.pack(pid)
    return _STR_TAG + pid.encode("utf-8")


def decode_id(key: bytes) -> PointId:
    if key[:1] == _INT_TAG:
        return _U64.unpack(key[1:])[0]
    return bytes(key[1:]).decode("utf-8")


def encode_label(label: int) -> bytes:
    return _U64.pack(label)


def decode_label(key: bytes) -> int:
    return _U64.unpack(key)[0]
