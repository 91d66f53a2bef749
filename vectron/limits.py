"""The limits of Vectron's data model, in one place for every layer.

Owns: every ``MAX_*`` bound on requests and stored data, the HNSW parameter
bounds, the collection name rule, the distances (:class:`Distance`, with
whether a higher score is better), and the one way a payload's size is
measured (:func:`payload_bytes`: its compact JSON in UTF-8). The store, the
services and the gateway's request models all import these instead of
repeating literals.

This module imports nothing heavy (no numpy, lmdb or hnswlib; only the
standard library and :mod:`vectron.errors`), so any layer can use it.
"""

from __future__ import annotations

import enum
import json
import math
import re
from typing import Any

from vectron.errors import InvalidArgument, PayloadTooLarge

__all__ = [
    "MAX_BATCH_POINTS",
    "MAX_PAYLOAD_BYTES",
    "MAX_PAYLOAD_DEPTH",
    "MAX_K",
    "MAX_EF",
    "MAX_SCROLL_LIMIT",
    "MAX_DIMENSION",
    "MAX_STR_ID_BYTES",
    "MAX_INT_ID",
    "MAX_SHARDS",
    "MAX_REPLICATION",
    "MAX_SEARCH_BATCH",
    "HNSW_LIMITS",
    "NAME_PATTERN",
    "MAX_NAME_CHARS",
    "Distance",
    "DISTANCES",
    "check_name",
    "check_int",
    "dump_payload",
    "encode_payload",
    "payload_bytes",
]

#: points (or query vectors) in one batch
MAX_BATCH_POINTS = 10_000
#: a payload's compact JSON, in UTF-8 bytes (see :func:`payload_bytes`)
MAX_PAYLOAD_BYTES = 1 << 20
#: nesting of objects/arrays in a payload (the payload object itself is level 1)
MAX_PAYLOAD_DEPTH = 64
#: hits per query
MAX_K = 10_000
#: HNSW search breadth of one query
MAX_EF = 100_000
#: points per scroll page
MAX_SCROLL_LIMIT = 10_000
#: vector components
MAX_DIMENSION = 65_536
#: a string point id, in UTF-8 bytes
MAX_STR_ID_BYTES = 256
#: integer point ids are in [0, MAX_INT_ID)
MAX_INT_ID = 2**64
#: shards of one collection
MAX_SHARDS = 1024
#: replicas of one shard
MAX_REPLICATION = 7
#: searches in one batch request
MAX_SEARCH_BATCH = 1000
#: HNSW parameters: name -> (lowest, highest) accepted value
HNSW_LIMITS: dict[str, tuple[int, int]] = {"m": (2, 128), "ef_construct": (4, 4096), "ef": (1, MAX_EF)}
#: collection names: 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit
MAX_NAME_CHARS = 128
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class Distance(str, enum.Enum):
    """How two vectors are compared; the value is the wire and API name."""

    COSINE = "cosine"
    DOT = "dot"
    EUCLID = "euclid"

    @property
    def higher_is_better(self) -> bool:
        """Cosine and dot are similarities (higher is closer); euclid is a distance."""
        return self is not Distance.EUCLID


DISTANCES: tuple[str, ...] = tuple(d.value for d in Distance)


def check_name(name: Any) -> str:
    """``name`` if it is a valid collection name, else InvalidArgument (field ``name``)."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidArgument(
            f"collection name {name!r} is invalid: use 1-128 letters, digits, '_', '-' or '.', starting with a letter "
            "or digit",
            field="name",
        )
    return name


def check_int(value: Any, name: str, lo: int, hi: int) -> int:
    """``value`` as an int if it is an integer (not a bool) in [lo, hi], else InvalidArgument naming ``name``.
    Accepts any type with ``__index__`` (numpy integers too) without importing numpy."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InvalidArgument(f"{name} must be an integer in [{lo}, {hi}], got {value!r}", field=name)
    out = int(value.__index__())
    if not lo <= out <= hi:
        raise InvalidArgument(f"{name} must be an integer in [{lo}, {hi}], got {value!r}", field=name)
    return out


def _check_json_value(value: Any, path: str, depth: int, field: str) -> None:
    """Refuse nesting deeper than ``MAX_PAYLOAD_DEPTH`` and non-finite numbers, naming where they are."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgument(f"{path} is {value}; payload numbers must be finite", field=field)
        return
    if not isinstance(value, (dict, list, tuple)):
        return
    if depth > MAX_PAYLOAD_DEPTH:
        raise InvalidArgument(f"{path} is nested deeper than {MAX_PAYLOAD_DEPTH} levels (MAX_PAYLOAD_DEPTH)", field=field)
    items = value.items() if isinstance(value, dict) else ((f"[{i}]", v) for i, v in enumerate(value))
    for key, item in items:
        _check_json_value(item, f"{path}.{key}" if isinstance(value, dict) else f"{path}{key}", depth + 1, field)


def encode_payload(payload: Any, field: str = "payload") -> bytes:
    """A payload as stored: compact JSON in UTF-8 (non-ASCII kept as is), checked: a JSON object,
    nested at most MAX_PAYLOAD_DEPTH levels, finite numbers only, at most MAX_PAYLOAD_BYTES.
    InvalidArgument / PayloadTooLarge name ``field``."""
    if not isinstance(payload, dict):
        raise InvalidArgument(f"a payload must be a JSON object, got {type(payload).__name__}", field=field)
    _check_json_value(payload, field, 1, field)
    try:
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"payload is not valid JSON: {exc}", field=field) from None
    if len(data) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"{field} is {len(data)} bytes of JSON; at most {MAX_PAYLOAD_BYTES}", field=field)
    return data


def dump_payload(payload: Any, field: str = "payload") -> str:
    """:func:`encode_payload` as text (the wire carries payloads as JSON strings)."""
    return encode_payload(payload, field).decode("utf-8")


def payload_bytes(text: str) -> int:
    """The size a payload is measured by: its JSON text in UTF-8 bytes."""
    return len(text.encode("utf-8"))
