"""The plain answers of :class:`~vectron.services.gateway.api.Gateway` that are not already
another service's data: a collection with its shards' state, a scroll page, search
results, health. The REST and gRPC adapters each render them."""

from __future__ import annotations

from dataclasses import dataclass, field

from vectron.services.gateway.workers import Hit, Point
from vectron.store import IndexInfo
from vectron.v1 import placement_pb2
from vectron.wire import PointId

__all__ = ["ShardState", "CollectionDetail", "Page", "SearchResult", "Health"]


@dataclass(frozen=True)
class ShardState:
    """One shard of a collection as ``get_collection`` reports it (``points`` None: it could not answer)."""

    shard: placement_pb2.ShardInfo
    status: str
    points: int | None


@dataclass(frozen=True)
class CollectionDetail:
    info: placement_pb2.CollectionInfo
    shards: list[ShardState]
    #: None when some shard could not answer
    points: int | None
    #: the declared payload indexes, then the automatic ones some shard reported
    payload_indexes: list[IndexInfo] = field(default_factory=list)


@dataclass(frozen=True)
class Page:
    points: list[Point]
    next_offset: PointId | None


@dataclass(frozen=True)
class SearchResult:
    """One hit list per search asked; ``failed_shards`` non-empty only when partial answers were allowed."""

    results: list[list[Hit]]
    failed_shards: list[int]

    @property
    def partial(self) -> bool:
        return bool(self.failed_shards)


@dataclass(frozen=True)
class Health:
    status: str
    checks: dict[str, bool] = field(default_factory=dict)
