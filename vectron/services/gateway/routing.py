"""Where a shard call goes: routing tables, leader hints and the replica to try.

Owns: :class:`RoutingCache` (routing tables per (owner, collection) from the
placement driver, trusted for a TTL and refreshed on demand) and
:class:`Router` (the leader each shard last answered from or was named by a
worker, and the choice of replica for an attempt: the hinted leader first for
writes and ``leader``/``linearizable`` reads, round robin for ``any`` reads,
the other replicas on later attempts).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from vectron.errors import CollectionNotFound, NotFound, Unavailable
from vectron.v1 import placement_pb2

__all__ = ["PlacementBackend", "RoutingCache", "Router"]

log = logging.getLogger(__name__)


class PlacementBackend(Protocol):
    """What the gateway needs of the placement driver."""

    def create_collection(self, req: placement_pb2.CreateCollectionRequest) -> placement_pb2.RoutingTable: ...

    def drop_collection(self, owner: str, name: str) -> None: ...

    def list_collections(self, owner: str) -> list[placement_pb2.CollectionInfo]: ...

    def get_routing_table(self, owner: str, name: str) -> placement_pb2.RoutingTable: ...

    def list_workers(self) -> list[placement_pb2.WorkerInfo]: ...

    def set_payload_index(self, owner: str, name: str, field: str, index_type: str, drop: bool) -> placement_pb2.SetPayloadIndexResponse: ...


@dataclass
class _Cached:
    table: placement_pb2.RoutingTable
    fetched: float


class RoutingCache:
    """Routing tables per (owner, collection), fetched from the placement driver."""

    def __init__(self, placement: PlacementBackend, *, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._placement = placement
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._tables: dict[tuple[str, str], _Cached] = {}

    def get(self, owner: str, name: str) -> placement_pb2.RoutingTable:
        with self._lock:
            hit = self._tables.get((owner, name))
        if hit is not None and self._clock() - hit.fetched < self._ttl:
            return hit.table
        return self.refresh(owner, name)

    def peek(self, owner: str, name: str) -> placement_pb2.RoutingTable | None:
        """The cached table if still trusted, else None (never fetches)."""
        with self._lock:
            hit = self._tables.get((owner, name))
        return hit.table if hit is not None and self._clock() - hit.fetched < self._ttl else None

    def refresh(self, owner: str, name: str) -> placement_pb2.RoutingTable:
        try:
            table = self._placement.get_routing_table(owner, name)
        except NotFound:
            self.forget(owner, name)
            raise CollectionNotFound(f"collection {name!r} not found", field="collection") from None
        with self._lock:
            old = self._tables.get((owner, name))
            if old is not None and old.table.epoch != table.epoch:
                log.info("routing of %s/%s moved: epoch %d -> %d", owner, name, old.table.epoch, table.epoch)
            self._tables[(owner, name)] = _Cached(table, self._clock())
        return table

    def put(self, owner: str, name: str, table: placement_pb2.RoutingTable) -> None:
        with self._lock:
            self._tables[(owner, name)] = _Cached(table, self._clock())

    def known(self) -> list[tuple[str, str]]:
        """(owner, name) of every cached table."""
        with self._lock:
            return list(self._tables)

    def forget(self, owner: str, name: str) -> None:
        with self._lock:
            self._tables.pop((owner, name), None)


class Router:
    """Leader hints per shard and the replica each attempt calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._leaders: dict[tuple[str, int], str] = {}
        self._rr = itertools.count()

    def leader_hint(self, table: placement_pb2.RoutingTable, shard: placement_pb2.ShardInfo) -> str | None:
        with self._lock:
            hint = self._leaders.get((table.collection.collection_id, shard.shard_id))
        return hint or shard.leader_grpc_address or None

    def set_leader(self, collection_id: str, shard: placement_pb2.ShardInfo, leader: str | None) -> None:
        """Remember ``leader`` (a replica's gRPC or Raft address) for the shard; None forgets."""
        address = None
        if leader:
            for r in shard.replicas:
                if leader in (r.grpc_address, r.raft_address):
                    address = r.grpc_address
        with self._lock:
            if address:
                self._leaders[(collection_id, shard.shard_id)] = address
            else:
                self._leaders.pop((collection_id, shard.shard_id), None)

    def pick(
        self, table: placement_pb2.RoutingTable, shard_id: int, write: bool, consistency: str | None, attempt: int, follow: bool
    ) -> tuple[placement_pb2.ShardInfo, str]:
        """The replica to call: the (hinted) leader first for writes and leader/linearizable
        reads, round robin for ``any`` reads; later attempts walk the other replicas."""
        name = table.collection.name
        if shard_id >= len(table.shards):
            raise Unavailable(f"shard {shard_id} is not in the routing table of {name!r}")
        shard = table.shards[shard_id]
        replicas = [r.grpc_address for r in shard.replicas if r.grpc_address]
        if not replicas:
            raise Unavailable(f"shard {shard_id} of {name!r} has no reachable replica")
        if not write and consistency == "any":
            return shard, replicas[(next(self._rr) + attempt) % len(replicas)]
        hint = self.leader_hint(table, shard)
        order = ([hint] if hint else []) + [r for r in replicas if r != hint]
        return shard, order[0] if follow else order[attempt % len(order)]
