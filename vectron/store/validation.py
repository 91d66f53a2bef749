"""Input validation of the store, and every limit it enforces (the one place they are defined).

It owns the checks run before anything is written or searched: collection names
and HNSW parameters, vectors, payloads (size, JSON-ness, nesting depth, finite
numbers), integer arguments and score thresholds. Point ids are checked in
``ids`` (with their encoding), against ``MAX_STR_ID_BYTES`` from here. Every
failure is an ``InvalidArgument`` (or a subclass) naming the offending field.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from vectron.errors import DimensionMismatch, InvalidArgument, PayloadTooLarge
from vectron.store.vector_index import HnswParams

# ---------------------------------------------------------------- limits
MAX_BATCH_POINTS = 10_000  # points per write batch, queries per search_batch
MAX_PAYLOAD_BYTES = 1 << 20  # one payload, as compact UTF-8 JSON
MAX_PAYLOAD_DEPTH = 64  # nesting of objects/arrays in a payload (the payload object itself is level 1)
MAX_K = 10_000
MAX_EF = 100_000
MAX_SCROLL_LIMIT = 10_000
MAX_DIMENSION = 65_536
MAX_STR_ID_BYTES = 256
HNSW_LIMITS = {"m": (2, 128), "ef_construct": (4, 4096), "ef": (1, MAX_EF)}
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_int(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise InvalidArgument(f"{name} must be an integer in [{lo}, {hi}], got {value!r}", field=name)
    return int(value)


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidArgument(
            f"collection name {name!r} is invalid: use 1-128 letters, digits, '_', '-' or '.', starting with a letter "
            "or digit",
            field="name",
        )
    return name


def check_hnsw(hnsw: Any) -> HnswParams:
    if hnsw is None:
        return HnswParams()
    if not isinstance(hnsw, dict):
        raise InvalidArgument("hnsw must be an object like {'m': 16, 'ef_construct': 200}", field="hnsw")
    unknown = set(hnsw) - set(HNSW_LIMITS)
    if unknown:
        raise InvalidArgument(f"unknown hnsw parameter(s) {sorted(unknown)}; expected m, ef_construct, ef", field="hnsw")
    values = {key: check_int(value, f"hnsw.{key}", *HNSW_LIMITS[key]) for key, value in hnsw.items()}
    return HnswParams(**values)


# ---------------------------------------------------------------- vectors


def check_vectors(vectors: Any, dimension: int, distance: str, field_name: str) -> np.ndarray:
    """``vectors`` as a C-contiguous float32 (n, dimension) array; one vector is accepted for ``vector``."""
    if isinstance(vectors, np.ndarray) and vectors.dtype == np.float32:
        arr = vectors
    else:
        try:
            arr = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"vectors must be numeric arrays: {exc}", field=field_name) from None
    if arr.ndim == 1 and arr.size == dimension and field_name == "vector":
        arr = arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != dimension:
        shape = "x".join(map(str, arr.shape)) or "scalar"
        raise DimensionMismatch(f"expected vectors of dimension {dimension}, got an array of shape {shape}", field=field_name)
    if len(arr) == 1:  # one query: its squared norm is finite when every component is (else check exactly)
        squared = np.dot(arr[0], arr[0])
        if not math.isfinite(squared) and not np.isfinite(arr).all():
            raise InvalidArgument("vector 0 has NaN or infinite components", field=field_name)
        zero = distance == "cosine" and not squared
    else:
        if not np.isfinite(arr).all():
            bad = int(np.argwhere(~np.isfinite(arr))[0][0])
            raise InvalidArgument(f"vector {bad} has NaN or infinite components", field=field_name)
        zero = distance == "cosine" and not np.einsum("ij,ij->i", arr, arr).all()
    if zero:
        raise InvalidArgument("a zero vector has no cosine similarity", field=field_name)
    return np.ascontiguousarray(arr)


def check_score_threshold(value: Any) -> float | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
        raise InvalidArgument("score_threshold must be a finite number", field="score_threshold")
    return value


# ---------------------------------------------------------------- payloads


def _check_json_value(value: Any, path: str, depth: int, field_name: str) -> None:
    """Refuse nesting deeper than ``MAX_PAYLOAD_DEPTH`` and non-finite numbers, naming where they are."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgument(f"{path} is {value}; payload numbers must be finite", field=field_name)
        return
    if not isinstance(value, (dict, list, tuple)):
        return
    if depth > MAX_PAYLOAD_DEPTH:
        raise InvalidArgument(f"{path} is nested deeper than {MAX_PAYLOAD_DEPTH} levels (MAX_PAYLOAD_DEPTH)", field=field_name)
    if isinstance(value, dict):
        for key, item in value.items():
            _check_json_value(item, f"{path}.{key}", depth + 1, field_name)
    else:
        for i, item in enumerate(value):
            _check_json_value(item, f"{path}[{i}]", depth + 1, field_name)


def dump_payload(payload: Any, field_name: str = "payloads") -> bytes:
    """A payload as stored: compact UTF-8 JSON, checked for type, depth, finite numbers and size."""
    if not isinstance(payload, dict):
        raise InvalidArgument(f"a payload must be a JSON object, got {type(payload).__name__}", field=field_name)
    _check_json_value(payload, field_name, 1, field_name)
    try:
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"payload is not valid JSON: {exc}", field=field_name) from None
    if len(data) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"payload is {len(data)} bytes; at most {MAX_PAYLOAD_BYTES}", field=field_name)
    return data
