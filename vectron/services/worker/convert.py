"""Conversions between the wire messages (points.proto, worker.proto) and the store's types."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from vectron.errors import DimensionMismatch, InvalidArgument, InvalidFilter
from vectron.store.ids import PointId
from vectron.store.types import Record, ScoredPoint
from vectron.v1 import points_pb2

__all__ = ["id_from_proto", "ids_from_proto", "id_to_proto", "record_to_proto", "hit_to_proto", "parse_json_object", "parse_filter", "vectors_from_points"]


def id_from_proto(pid: points_pb2.PointId, field: str = "ids") -> PointId:
    kind = pid.WhichOneof("kind")
    if kind is None:
        raise InvalidArgument("a point id must set num or str", field=field)
    return getattr(pid, kind)


def ids_from_proto(ids: Iterable[points_pb2.PointId], field: str = "ids") -> list[PointId]:
    return [id_from_proto(p, field) for p in ids]


def id_to_proto(pid: PointId) -> points_pb2.PointId:
    return points_pb2.PointId(num=pid) if isinstance(pid, int) else points_pb2.PointId(str=pid)


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


def parse_json_object(text: str, field: str, *, empty_ok: bool = True) -> dict[str, Any] | None:
    """A JSON object from ``text`` (None for an empty string when ``empty_ok``)."""
    if not text:
        if empty_ok:
            return None
        raise InvalidArgument(f"{field} is required", field=field)
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"{field} is not valid JSON: {exc}", field=field) from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{field} must be a JSON object", field=field)
    return value


def parse_filter(text: str) -> dict[str, Any] | None:
    try:
        return parse_json_object(text, "filter")
    except InvalidArgument as exc:
        raise InvalidFilter(exc.message) from None


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
