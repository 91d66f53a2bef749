"""Plain data of the store: configuration, records, hits and write operations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vectron.store.ids import PointId
from vectron.store.vector_index import HnswParams


@dataclass(frozen=True)
class CollectionConfig:
    name: str
    dimension: int
    distance: str
    hnsw: HnswParams = field(default_factory=HnswParams)
    payload_indexes: dict[str, str] = field(default_factory=dict)
    #: build payload indexes automatically for the fields filters use (see vectron.store.auto_index)
    auto_index: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dimension": self.dimension,
            "distance": self.distance,
            "hnsw": {"m": self.hnsw.m, "ef_construct": self.hnsw.ef_construct, "ef": self.hnsw.ef},
            "payload_indexes": dict(self.payload_indexes),
            "auto_index": self.auto_index,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CollectionConfig:
        return cls(
            name=data["name"],
            dimension=data["dimension"],
            distance=data["distance"],
            hnsw=HnswParams(**data["hnsw"]),
            payload_indexes=dict(data.get("payload_indexes", {})),
            auto_index=bool(data.get("auto_index", True)),
        )


@dataclass(slots=True)
class Record:
    """A stored point. ``vector`` is None unless asked for."""

    id: PointId
    payload: dict[str, Any] | None
    vector: np.ndarray | None = None


@dataclass(slots=True)
class ScoredPoint:
    """A search hit: similarity (cosine, dot) or distance (euclid) in ``score``."""

    id: PointId
    score: float
    payload: dict[str, Any] | None = None
    vector: np.ndarray | None = None


# Write operations: what ``Collection.apply_batch`` applies in one transaction.


@dataclass(frozen=True)
class Upsert:
    ids: Sequence[PointId]
    vectors: Any
    payloads: Sequence[dict[str, Any] | None] | None = None


@dataclass(frozen=True)
class Delete:
    ids: Sequence[PointId] | None = None
    filter: dict[str, Any] | None = None


@dataclass(frozen=True)
class SetPayload:
    """Merge ``payload`` into each point's payload (top-level keys)."""

    ids: Sequence[PointId]
    payload: dict[str, Any]


@dataclass(frozen=True)
class OverwritePayload:
    ids: Sequence[PointId]
    payload: dict[str, Any]


@dataclass(frozen=True)
class DeletePayloadKeys:
    ids: Sequence[PointId]
    keys: Sequence[str]


WriteOp = Upsert | Delete | SetPayload | OverwritePayload | DeletePayloadKeys
