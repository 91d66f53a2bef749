"""Conversions between Python values and the shared wire messages (``points.proto``).

Owns: a point id <-> ``PointId``, a payload dict <-> ``payload_json`` text, and
the JSON of a filter. Every gRPC edge (gateway, worker, their clients) converts
through these, so an id or a payload reads the same everywhere. Imports no
numpy, lmdb or hnswlib.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from vectron.errors import InvalidArgument, InvalidFilter
from vectron.limits import dump_payload
from vectron.v1 import points_pb2

__all__ = [
    "PointId",
    "id_to_proto",
    "id_from_proto",
    "ids_to_proto",
    "ids_from_proto",
    "payload_to_json",
    "payload_from_json",
    "parse_json_object",
    "parse_filter",
    "filter_to_json",
    "id_order",
]

PointId = int | str


def id_to_proto(pid: PointId) -> points_pb2.PointId:
    return points_pb2.PointId(num=pid) if isinstance(pid, int) else points_pb2.PointId(str=pid)


def id_from_proto(pid: points_pb2.PointId, field: str = "ids") -> PointId:
    """The id a message carries; InvalidArgument naming ``field`` if it sets neither kind."""
    kind = pid.WhichOneof("kind")
    if kind is None:
        raise InvalidArgument("a point id must set num or str", field=field)
    value: PointId = getattr(pid, kind)
    return value


def ids_to_proto(ids: Iterable[PointId]) -> list[points_pb2.PointId]:
    return [id_to_proto(p) for p in ids]


def ids_from_proto(ids: Iterable[points_pb2.PointId], field: str = "ids") -> list[PointId]:
    return [id_from_proto(p, field) for p in ids]


def id_order(pid: PointId) -> tuple[int, Any]:
    """The store's id order: integers (numerically) before strings (by UTF-8 bytes)."""
    return (0, pid) if isinstance(pid, int) else (1, pid.encode("utf-8"))


def payload_to_json(payload: dict[str, Any] | None, field: str = "payload") -> str:
    """``payload_json`` of a message: "" for no payload, else the checked compact JSON
    (see :func:`vectron.limits.dump_payload`)."""
    return "" if payload is None else dump_payload(payload, field)


def payload_from_json(text: str) -> dict[str, Any] | None:
    """The payload a message carries (None for an empty ``payload_json``)."""
    return json.loads(text) if text else None


def parse_json_object(text: str, field: str, *, empty_ok: bool = True) -> dict[str, Any] | None:
    """A JSON object from ``text`` (None for an empty string when ``empty_ok``); bad input
    raises InvalidArgument naming ``field``."""
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
    """The filter a message carries (None for ""); bad JSON is InvalidFilter."""
    try:
        return parse_json_object(text, "filter")
    except InvalidArgument as exc:
        raise InvalidFilter(exc.message) from None


def filter_to_json(spec: dict[str, Any] | None) -> str:
    """``filter_json`` of a message ("" for no filter)."""
    return "" if spec is None else json.dumps(spec, separators=(",", ":"))
