"""Conversions between the wire messages (points.proto, worker.proto) and the store's types
(records, hits, vector arrays). Ids, payloads and filters convert through :mod:`vectron.wire`."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from vectron.errors import DimensionMismatch
from vectron.store import Record, ScoredPoint
from vectron.v1 import points_pb2
from vectron.wire import id_to_proto, ids_from_proto  # ids_from_proto: the shard FSM imports it from here

__all__ = ["record_to_proto", "hit_to_proto", "vectors_from_points", "ids_from_proto"]


def record_to_proto(record: Record) -> points_pb2.Point:
    point = points_pb2.Point(id=id_to_proto(record.id))
    if record.payload is not None:
        point.payload_json = json.dumps(record.payload, separators=(",", ":"), ensure_ascii=False)
    if record.vector is not None:
        point.vector.extend(record.vector.tolist())
    return point


def hit_to_proto(hit: ScoredPoint) -> points_pb2.ScoredPoint:
    out = points_pb2.ScoredPoint(id=id_to_proto(hit.id), score=hit.score)
    if hit.payload is not None:
        out.payload_json = json.dumps(hit.payload, separators=(",", ":"), ensure_ascii=False)
    if hit.vector is not None:
        out.vector.extend(hit.vector.tolist())
    return out


def vectors_from_points(points: Sequence[points_pb2.Point], dimension: int) -> np.ndarray:
    """The points' vectors as an (n, dimension) float32 array; DimensionMismatch-free
    shapes are checked by the caller."""
    if not points:
        return np.zeros((0, dimension), dtype=np.float32)
    lengths = {len(p.vector) for p in points}
    if lengths != {dimension}:
        bad = next(i for i, p in enumerate(points) if len(p.vector) != dimension)
        raise DimensionMismatch(
            f"point {bad} has a vector of dimension {len(points[bad].vector)}; the collection's is {dimension}",
            field="points.vector",
        )
    return np.array([p.vector for p in points], dtype=np.float32)
