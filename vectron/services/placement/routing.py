"""Point id -> shard: the stable hash every component routes with.

Scheme ``blake2b64-mod-v1`` (the only one; its name is stored in each
collection's record at creation, so a collection keeps its scheme forever):

* encode the id: an integer ``n`` (0 <= n < 2**64) as ``b"\\x00"`` + ``n`` as 8
  bytes big endian; a string as ``b"\\x01"`` + its UTF-8 bytes;
* hash: ``h`` = BLAKE2b with an 8-byte digest (no key, no salt, no
  personalisation) of those bytes, read as an unsigned big-endian integer;
* shard: ``h % shard_count``.

The integer 7 and the string ``"7"`` are different ids and may land on
different shards. Nothing here depends on the process (no ``hash()``, no
``PYTHONHASHSEED``), and tests pin the mapping of a few ids to hard-coded
shards so that a change of scheme cannot go unnoticed.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable

from vectron.errors import InvalidArgument

__all__ = ["HASH_SCHEME", "SUPPORTED_SCHEMES", "point_hash", "shard_of", "group_by_shard"]

HASH_SCHEME = "blake2b64-mod-v1"
SUPPORTED_SCHEMES = (HASH_SCHEME,)
_U64 = struct.Struct(">Q")


def _encode(point_id: int | str) -> bytes:
    if isinstance(point_id, bool):
        raise InvalidArgument("a point id is a non-negative integer or a string, not a boolean", field="id")
    if isinstance(point_id, int):
        if not 0 <= point_id < 2**64:
            raise InvalidArgument(f"integer point id {point_id} is outside [0, 2**64)", field="id")
        return b"\x00" + _U64.pack(point_id)
    if isinstance(point_id, str):
        if not point_id:
            raise InvalidArgument("point id is an empty string", field="id")
        return b"\x01" + point_id.encode("utf-8")
    raise InvalidArgument(f"point id {point_id!r} must be an int or a str", field="id")


def point_hash(point_id: int | str) -> int:
    """The 64-bit hash of a point id under :data:`HASH_SCHEME`."""
    return int.from_bytes(hashlib.blake2b(_encode(point_id), digest_size=8).digest(), "big")


def shard_of(point_id: int | str, shard_count: int, scheme: str = HASH_SCHEME) -> int:
    """The shard (0 .. shard_count-1) that owns ``point_id``."""
    if scheme not in SUPPORTED_SCHEMES:
        raise InvalidArgument(f"unknown hash scheme {scheme!r}", field="hash_scheme")
    if shard_count < 1:
        raise InvalidArgument("shard_count must be at least 1", field="shard_count")
    return point_hash(point_id) % shard_count


def group_by_shard(point_ids: Iterable[int | str], shard_count: int, scheme: str = HASH_SCHEME) -> dict[int, list[int]]:
    """Positions of ``point_ids`` grouped by shard: ``{shard: [index, ...]}`` (for one batch per shard)."""
    out: dict[int, list[int]] = {}
    for i, pid in enumerate(point_ids):
        out.setdefault(shard_of(pid, shard_count, scheme), []).append(i)
    return out
