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
    "MAX_SEARCH_HITS",
    "MAX_RESPONSE_BYTES",
    "MAX_BODY_BYTES",
    "MAX_OPEN_BODY_BYTES",
    "POINTS_PER_COST_UNIT",
    "request_cost",
    "estimated_answer_bytes",
    "check_answer_size",
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
#: hits one request may ask for: the sum of top_k over its queries (a batch of 10 x 10,000 at most)
MAX_SEARCH_HITS = 100_000
#: the largest answer a request may produce (JSON bytes, estimated before the work where it can be)
MAX_RESPONSE_BYTES = 64 << 20
#: the largest request body (REST) or message (public gRPC), and the largest body of a route
#: that takes no credential (register, login)
MAX_BODY_BYTES = 64 << 20
MAX_OPEN_BODY_BYTES = 64 << 10
#: rate limiting charges a request by its work: one unit per request, or per query, or per
#: this many points written, read or deleted, whichever is most
POINTS_PER_COST_UNIT = 100
#: JSON bytes counted per vector component and per hit or point (id, score, punctuation)
_BYTES_PER_COMPONENT = 20
_BYTES_PER_ITEM = 64
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


def request_cost(*, points: int = 0, queries: int = 0) -> int:
    """Rate-limit units of one request: 1, or its number of queries, or one per
    :data:`POINTS_PER_COST_UNIT` points it writes, reads or deletes, whichever is most."""
    return max(1, queries, -(-points // POINTS_PER_COST_UNIT))


def estimated_answer_bytes(items: int, dimension: int, with_vector: bool, payload_bytes_total: int = 0) -> int:
    """The JSON size of an answer of ``items`` hits or points (their vectors when asked,
    plus the payload bytes known so far)."""
    per_item = _BYTES_PER_ITEM + (dimension * _BYTES_PER_COMPONENT if with_vector else 0)
    return items * per_item + payload_bytes_total


def check_answer_size(items: int, dimension: int, with_vector: bool, field: str, found: list[Any] | tuple[Any, ...] = ()) -> None:
    """Refuse (InvalidArgument naming ``field``) an answer over MAX_RESPONSE_BYTES: before
    the work from the number of items and their vectors; after it (``found``: hits or
    points with a ``payload``) with their payloads too, measured only when they could matter."""
    size = estimated_answer_bytes(items, dimension, with_vector)
    if found and size + len(found) * MAX_PAYLOAD_BYTES > MAX_RESPONSE_BYTES:
        size += sum(len(json.dumps(x.payload, separators=(",", ":"))) for x in found if x.payload)
    if size > MAX_RESPONSE_BYTES:
        raise InvalidArgument(
            f"{field}: the answer would be about {size} bytes, over the {MAX_RESPONSE_BYTES} a request may produce; "
            "ask for fewer items, or without vectors or payloads",
            field=field,
        )
