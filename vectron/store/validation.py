"""Input validation of the store, and every limit it enforces (the one place they are defined).

It owns the checks run before anything is written or searched: collection names
and HNSW parameters, vectors, payloads (size, JSON-ness, nesting depth, finite
numbers), integer arguments and score thresholds. Point ids are checked in
``ids`` (with their encoding), against ``MAX_STR_ID_BYTES`` from here. Every
failure is an ``InvalidArgument`` (or a subclass) naming the offending field.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vectron.errors import DimensionMismatch, InvalidArgument

# The limits themselves live in vectron.limits (one place for every layer); re-exported here for the store.
from vectron.limits import (
    HNSW_LIMITS,
    MAX_BATCH_POINTS,
    MAX_DIMENSION,
    MAX_EF,
    MAX_K,
    MAX_PAYLOAD_BYTES,
    MAX_PAYLOAD_DEPTH,
    MAX_SCROLL_LIMIT,
    MAX_STR_ID_BYTES,
    NAME_PATTERN,
    check_int,
    check_name,
    encode_payload,
)
from vectron.store.vector_index import HnswParams

__all__ = [
    "HNSW_LIMITS", "MAX_BATCH_POINTS", "MAX_DIMENSION", "MAX_EF", "MAX_K", "MAX_PAYLOAD_BYTES", "MAX_PAYLOAD_DEPTH",
    "MAX_SCROLL_LIMIT", "MAX_STR_ID_BYTES", "NAME_PATTERN", "check_hnsw", "check_int", "check_name",
    "check_score_threshold", "check_vectors", "dump_payload",
]


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


def dump_payload(payload: Any, field_name: str = "payloads") -> bytes:
    """A payload as stored: compact UTF-8 JSON, checked for type, depth, finite numbers and size."""
    return encode_payload(payload, field_name)
