"""The internal API of the placement driver: one method per operation, raising vectron.errors.

The gRPC servicer (``grpc_server.py``) is a thin adapter over
:class:`PlacementService`; the gateway will call the same methods.

What goes through the placement group's log: worker registrations (membership)
and collection creation/drop (placement). What does not: heartbeats. Every
placement node keeps its own :class:`Liveness` table from the heartbeats it
receives (workers heartbeat every node of the group, so whichever node leads
has a warm table); liveness and the leader hints of the routing table come
from that table. Placement of a new collection is decided on the proposing
node from its live workers (replicas of a shard on distinct workers, least
loaded first) and carried in the command; the FSM re-checks it and allocates
the Raft ports.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from vectron.errors import CollectionAlreadyExists, CollectionNotFound, InvalidArgument, NotFound, PermissionDenied
from vectron.limits import DISTANCES, MAX_DIMENSION, MAX_REPLICATION, MAX_SHARDS, check_name
from vectron.raft.protocol import Group
from vectron.raft.retry import propose_with_retry
from vectron.services.placement.commands import decode_result
from vectron.services.placement.fsm import PlacementStateMachine
from vectron.services.placement.routing import HASH_SCHEME, shard_of
from vectron.store import check_hnsw, check_index_field, check_index_type
from vectron.v1 import placement_pb2

__all__ = ["PlacementConfig", "PlacementService", "Liveness", "MAX_SHARDS", "MAX_REPLICATION"]

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_OWNER_BYTES = 256



@dataclass(frozen=True)
class PlacementConfig:
    #: a worker is live while its last heartbeat is younger than this (seconds)
    liveness_timeout: float = 5.0
    write_timeout: float = 10.0
    read_timeout: float = 5.0
    read_consistency: str = "linearizable"
    #: the placement leader declares a worker dead after this long without a heartbeat (seconds)
    dead_worker_timeout: float = 300.0
    #: re-replication: at most this many new replicas not yet reporting at once
    max_moves_in_flight: int = 2
    #: how often the placement leader looks for dead workers and replicas to move (seconds)
    heal_interval: float = 1.0


@dataclass
class _WorkerBeat:
    at: float
    at_ms: int
    shards: dict[tuple[str, int], placement_pb2.ShardStats] = field(default_factory=dict)


class Liveness:
    """Heartbeats received by this node: last time seen and the last per-shard stats, per worker."""

    def __init__(self, timeout: float, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.timeout = timeout
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._beats: dict[str, _WorkerBeat] = {}

    def record(self, worker_id: str, shards: Iterable[placement_pb2.ShardStats]) -> None:
        beat = _WorkerBeat(self._clock(), int(self._wall() * 1000), {(s.collection_id, s.shard_id): s for s in shards})
        with self._lock:
            self._beats[worker_id] = beat

    def is_live(self, worker_id: str) -> bool:
        with self._lock:
            beat = self._beats.get(worker_id)
        return beat is not None and self._clock() - beat.at < self.timeout

    def seen_at(self, worker_id: str) -> float | None:
        """When (this node's monotonic clock) the worker was last heard from, or None."""
        with self._lock:
            beat = self._beats.get(worker_id)
        return None if beat is None else beat.at

    def reports(self, worker_id: str, collection_id: str, shard_id: int) -> placement_pb2.ShardStats | None:
        """The worker's last stats of that shard (None if it did not report it)."""
        with self._lock:
            beat = self._beats.get(worker_id)
            return None if beat is None else beat.shards.get((collection_id, shard_id))

    def last_heartbeat_ms(self, worker_id: str) -> int:
        with self._lock:
            beat = self._beats.get(worker_id)
        return 0 if beat is None else beat.at_ms

    def leader_of(self, collection_id: str, shard_id: int, worker_ids: Sequence[str]) -> str | None:
        """The live worker that last reported leading this shard (highest term wins)."""
        best: tuple[int, str] | None = None
        for worker_id in worker_ids:
            if not self.is_live(worker_id):
                continue
            with self._lock:
                stats = self._beats[worker_id].shards.get((collection_id, shard_id))
            if stats is not None and stats.role == "leader" and (best is None or stats.term > best[0]):
                best = (stats.term, worker_id)
        return None if best is None else best[1]


def _check_owner(owner: Any) -> str:
    if not isinstance(owner, str) or not owner or "\x00" in owner or len(owner.encode()) > MAX_OWNER_BYTES:
        raise InvalidArgument(f"owner must be a non-empty string of at most {MAX_OWNER_BYTES} bytes", field="owner")
    return owner


def _check_range(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidArgument(f"{name} must be an integer in [{lo}, {hi}], got {value!r}", field=name)
    return value


def check_payload_indexes(specs: Sequence[tuple[str, str]], where: str = "payload_indexes") -> list[tuple[str, str]]:
    """(field, type) pairs of a new collection: each checked, no field twice (400 naming the entry)."""
    seen: set[str] = set()
    for i, (field_name, index_type) in enumerate(specs):
        check_index_field(field_name, f"{where}[{i}].field")
        check_index_type(index_type, f"{where}[{i}].type")
        if field_name in seen:
            raise InvalidArgument(f"{where}[{i}].field: {field_name!r} is indexed twice", field=f"{where}[{i}].field")
        seen.add(field_name)
    return list(specs)


def choose_workers(
    live: Sequence[str], load: dict[str, int], shard_count: int, replication_factor: int, capacity: dict[str, int] | None = None
) -> list[list[str]]:
    """Place ``shard_count`` shards of ``replication_factor`` replicas on distinct workers.

    Greedy, least loaded first (ties broken by worker id), counting the replicas
    already placed: spreads shards evenly. Raises InvalidArgument when there are
    fewer live workers with room than the replication factor.
    """
    load = dict(load)
    capacity = capacity or {}
    out: list[list[str]] = []
    for _ in range(shard_count):
        room = [w for w in live if not capacity.get(w) or load.get(w, 0) < capacity[w]]
        if len(room) < replication_factor:
            raise InvalidArgument(
                f"replication_factor {replication_factor} needs {replication_factor} live workers with room; "
                f"{len(room)} available",
                field="replication_factor",
            )
        chosen = sorted(room, key=lambda w: (load.get(w, 0), w))[:replication_factor]
        for w in chosen:
            load[w] = load.get(w, 0) + 1
        out.append(chosen)
    return out


class PlacementService:
    """Workers, collections and routing over one placement Raft group."""

    def __init__(
        self,
        group: Group,
        config: PlacementConfig | None = None,
        *,
        liveness: Liveness | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.group = group
        self.config = config or PlacementConfig()
        self.liveness = liveness or Liveness(self.config.liveness_timeout)
        self._clock = clock

    # -- plumbing ---------------------------------------------------------------------
    def _propose(self, command: placement_pb2.PlacementCommand) -> placement_pb2.PlacementResult:
        """Propose a command (retried with one request id until ``write_timeout``); raise the result's error."""
        raw = propose_with_retry(self.group, command.SerializeToString(), timeout=self.config.write_timeout, what="placement")
        return decode_result(raw)

    def _read(self, fn: Callable[[PlacementStateMachine], T], consistency: str | None = None) -> T:
        return self.group.read(fn, consistency=consistency or self.config.read_consistency, timeout=self.config.read_timeout)

    def _record(self, owner: str, name: str, consistency: str | None = None) -> placement_pb2.CollectionRecord:
        _check_owner(owner)
        if not isinstance(name, str) or not name:
            raise InvalidArgument("collection name is required", field="name")
        record = self._read(lambda fsm: fsm.read(lambda s, txn: s.collection(txn, owner, name)), consistency)
        if record is None:
            raise CollectionNotFound(f"collection {name!r} not found", field="name")
        return record

    def _worker_view(self, worker: placement_pb2.WorkerInfo) -> placement_pb2.WorkerInfo:
        out = placement_pb2.WorkerInfo()
        out.CopyFrom(worker)
        out.live = self.liveness.is_live(worker.worker_id)
        out.last_heartbeat_ms = self.liveness.last_heartbeat_ms(worker.worker_id)
        return out

    def _routing(self, record: placement_pb2.CollectionRecord, workers: dict[str, placement_pb2.WorkerInfo]) -> placement_pb2.RoutingTable:
        table = placement_pb2.RoutingTable(collection=record.collection, epoch=record.collection.epoch)
        for shard in record.shards:
            out = table.shards.add(shard_id=shard.shard_id)
            for replica in shard.replicas:
                worker = workers.get(replica.worker_id)
                out.replicas.add(
                    worker_id=replica.worker_id,
                    raft_address=replica.raft_address,
                    grpc_address=worker.grpc_address if worker else "",
                )
            leader = self.liveness.leader_of(record.collection.collection_id, shard.shard_id, [r.worker_id for r in shard.replicas])
            if leader is not None:
                out.leader_worker_id = leader
                out.leader_grpc_address = workers[leader].grpc_address if leader in workers else ""
        return table

    # -- workers ----------------------------------------------------------------------
    def register_worker(self, worker: placement_pb2.WorkerInfo, caller: str | None = None) -> placement_pb2.WorkerInfo:
        """Add or update a worker (id, gRPC address, Raft host and port range, capacity).

        ``caller`` is the node id the call's cluster token names: only the worker
        itself may register or re-point its entry (PERMISSION_DENIED otherwise), so no
        other node can redirect a worker's traffic. None: an in-process call.
        """
        if caller is not None and caller != worker.worker_id:
            raise PermissionDenied(
                f"node {caller[:128]!r} may not register worker {worker.worker_id[:128]!r}: a worker registers itself",
                field="worker_id",
            )
        if not worker.worker_id or "\x00" in worker.worker_id or len(worker.worker_id) > 128:
            raise InvalidArgument("worker_id must be 1-128 characters", field="worker_id")
        if not worker.grpc_address or ":" not in worker.grpc_address:
            raise InvalidArgument("grpc_address must be host:port", field="grpc_address")
        if not worker.raft_host:
            raise InvalidArgument("raft_host is required", field="raft_host")
        if not 1 <= worker.raft_port_min <= worker.raft_port_max <= 65535:
            raise InvalidArgument("raft port range must satisfy 1 <= min <= max <= 65535", field="raft_port_min")
        clean = placement_pb2.WorkerInfo()
        clean.CopyFrom(worker)
        clean.live = False
        clean.last_heartbeat_ms = 0
        existing = self._read(lambda fsm: fsm.read(lambda s, txn: s.worker(txn, worker.worker_id)))
        if existing != clean:
            result = self._propose(placement_pb2.PlacementCommand(register_worker=placement_pb2.RegisterWorkerCmd(worker=clean)))
            existing = result.worker
            log.info("registered worker %s at %s", clean.worker_id, clean.grpc_address)
        self.liveness.record(clean.worker_id, ())
        return self._worker_view(existing)

    def heartbeat(self, worker_id: str, shards: Sequence[placement_pb2.ShardStats] = ()) -> placement_pb2.HeartbeatResponse:
        """Record a heartbeat (in memory, on this node) and answer the worker's assignments.

        The assignments are read from this node's local state (no barrier) with
        the placement version they reflect; a worker ignores answers older than
        the newest version it has seen. NOT_FOUND if the worker is not registered.
        """
        def read(fsm: PlacementStateMachine) -> placement_pb2.HeartbeatResponse | None:
            def inner(s: Any, txn: Any) -> placement_pb2.HeartbeatResponse | None:
                worker = s.worker(txn, worker_id)
                if worker is None:
                    return None
                reply = placement_pb2.HeartbeatResponse(placement_version=s.version(txn))
                records: dict[str, placement_pb2.CollectionRecord | None] = {}
                for port, collection_id, shard_id in s.ports_of(txn, worker_id):
                    if collection_id not in records:
                        records[collection_id] = s.collection_by_id(txn, collection_id)
                    record = records[collection_id]
                    if record is None:
                        continue
                    shard = record.shards[shard_id]
                    assignment = reply.assignments.add(
                        collection=record.collection, shard_id=shard_id, raft_address=f"{worker.raft_host}:{port}"
                    )
                    for replica in shard.replicas:
                        peer = s.worker(txn, replica.worker_id)
                        assignment.replicas.add(
                            worker_id=replica.worker_id,
                            raft_address=replica.raft_address,
                            grpc_address=peer.grpc_address if peer else "",
                        )
                return reply

            return fsm.read(inner)

        reply = self._read(read, "any")
        if reply is None:
            raise NotFound(f"worker {worker_id!r} is not registered", field="worker_id")
        self.liveness.record(worker_id, shards)
        return reply

    def set_worker_dead(self, worker_id: str, dead: bool) -> placement_pb2.WorkerInfo:
        """Declare a worker dead (its replicas are to be re-created elsewhere) or alive again."""
        cmd = placement_pb2.SetWorkerDeadCmd(worker_id=worker_id, dead=dead)
        return self._propose(placement_pb2.PlacementCommand(set_worker_dead=cmd)).worker

    def move_replica(self, collection_id: str, shard_id: int, from_worker_id: str, to_worker_id: str) -> placement_pb2.RoutingTable:
        """Replace a shard's replica on one worker by a new one on another (one log entry;
        the collection's routing epoch moves). The FSM re-checks every condition."""
        cmd = placement_pb2.MoveReplicaCmd(
            collection_id=collection_id, shard_id=shard_id, from_worker_id=from_worker_id, to_worker_id=to_worker_id,
        )
        return self._propose(placement_pb2.PlacementCommand(move_replica=cmd)).routing

    def cluster_view(self) -> tuple[list[placement_pb2.WorkerInfo], list[placement_pb2.CollectionRecord], dict[str, int]]:
        """Every worker, every collection record and the replica count per worker (one read)."""
        return self._read(lambda fsm: fsm.read(lambda s, txn: (s.workers(txn), s.all_collections(txn), s.replica_counts(txn))))

    def list_workers(self) -> list[placement_pb2.WorkerInfo]:
        workers = self._read(lambda fsm: fsm.read(lambda s, txn: s.workers(txn)))
        return [self._worker_view(w) for w in workers]

    # -- collections ----------------------------------------------------------------------
    def create_collection(
        self,
        owner: str,
        name: str,
        dimension: int,
        distance: str = "cosine",
        shard_count: int = 1,
        replication_factor: int = 1,
        hnsw: dict[str, int] | None = None,
        payload_indexes: Sequence[tuple[str, str]] = (),
        auto_index: bool = True,
    ) -> placement_pb2.RoutingTable:
        """Create a collection and place its shards. ALREADY_EXISTS if the owner has one of
        that name; INVALID_ARGUMENT if the replication factor exceeds the live workers.
        ``payload_indexes``: (field, type) pairs every shard creates its collection with;
        ``auto_index`` False: its shards build no automatic payload indexes."""
        _check_owner(owner)
        check_name(name)
        _check_range(dimension, "dimension", 1, MAX_DIMENSION)
        if distance not in DISTANCES:
            raise InvalidArgument(f"distance must be one of {', '.join(DISTANCES)}, got {distance!r}", field="distance")
        _check_range(shard_count, "shard_count", 1, MAX_SHARDS)
        _check_range(replication_factor, "replication_factor", 1, MAX_REPLICATION)
        params = check_hnsw(hnsw)
        indexes = check_payload_indexes(payload_indexes)

        def read(fsm: PlacementStateMachine) -> tuple[bool, list[placement_pb2.WorkerInfo], dict[str, int]]:
            return fsm.read(lambda s, txn: (s.collection(txn, owner, name) is not None, s.workers(txn), s.replica_counts(txn)))

        exists, workers, load = self._read(read)
        if exists:
            raise CollectionAlreadyExists(f"collection {name!r} already exists", field="name")
        live = [w.worker_id for w in workers if self.liveness.is_live(w.worker_id)]
        if replication_factor > len(live):
            raise InvalidArgument(
                f"replication_factor {replication_factor} is above the number of live workers ({len(live)})",
                field="replication_factor",
            )
        placement = choose_workers(live, load, shard_count, replication_factor, {w.worker_id: w.capacity for w in workers})
        info = placement_pb2.CollectionInfo(
            collection_id=uuid.uuid4().hex,
            owner=owner,
            name=name,
            dimension=dimension,
            distance=distance,
            shard_count=shard_count,
            replication_factor=replication_factor,
            hnsw=placement_pb2.HnswConfig(m=params.m, ef_construct=params.ef_construct, ef=params.ef),
            hash_scheme=HASH_SCHEME,
            created_at_ms=int(self._clock() * 1000),
            payload_indexes=[placement_pb2.PayloadIndexSpec(field=f, type=t) for f, t in indexes],
            auto_index_off=not auto_index,
        )
        cmd = placement_pb2.CreateCollectionCmd(collection=info)
        for worker_ids in placement:
            cmd.shards.add(worker_ids=worker_ids)
        result = self._propose(placement_pb2.PlacementCommand(create_collection=cmd))
        log.info("created collection %s/%s (%s): %d shards x %d replicas", owner, name, info.collection_id, shard_count, replication_factor)
        return self._routing(placement_pb2.CollectionRecord(collection=result.routing.collection, shards=result.routing.shards), {w.worker_id: w for w in workers})

    def drop_collection(self, owner: str, name: str) -> None:
        """Drop a collection; its workers close and delete their replicas on their next heartbeat."""
        self._record(owner, name)
        self._propose(placement_pb2.PlacementCommand(drop_collection=placement_pb2.DropCollectionCmd(owner=owner, name=name)))
        log.info("dropped collection %s/%s", owner, name)

    def set_payload_index(
        self, owner: str, name: str, field: str, index_type: str = "", drop: bool = False
    ) -> placement_pb2.SetPayloadIndexResponse:
        """Declare (or with ``drop`` undeclare) a payload index in the collection record; a
        replica created from then on creates its store collection with it. Idempotent:
        ``changed`` says whether the record moved (no log entry when it would not)."""
        check_index_field(field)
        if not drop:
            check_index_type(index_type)
        record = self._record(owner, name)
        declared = {i.field: i.type for i in record.collection.payload_indexes}
        if (field not in declared) if drop else (declared.get(field) == index_type):
            return placement_pb2.SetPayloadIndexResponse(collection=record.collection, changed=False)
        cmd = placement_pb2.SetPayloadIndexCmd(
            owner=owner, name=name, index=placement_pb2.PayloadIndexSpec(field=field, type="" if drop else index_type), drop=drop
        )
        result = self._propose(placement_pb2.PlacementCommand(set_payload_index=cmd))
        log.info("%s payload index %r on %s/%s", "dropped" if drop else f"declared {index_type}", field, owner, name)
        return result.payload_index

    def list_collections(self, owner: str) -> list[placement_pb2.CollectionInfo]:
        _check_owner(owner)
        records = self._read(lambda fsm: fsm.read(lambda s, txn: s.collections_of(txn, owner)))
        return [r.collection for r in records]

    def get_collection(self, owner: str, name: str) -> placement_pb2.CollectionInfo:
        return self._record(owner, name).collection

    def get_routing_table(self, owner: str, name: str, consistency: str | None = None) -> placement_pb2.RoutingTable:
        """Every shard with its replicas (worker, gRPC and Raft addresses), a leader hint and the epoch."""
        record = self._record(owner, name, consistency)
        workers = self._read(lambda fsm: fsm.read(lambda s, txn: {w.worker_id: w for w in s.workers(txn)}), "any")
        return self._routing(record, workers)

    def get_worker(self, owner: str, name: str, point_id: int | str) -> placement_pb2.GetWorkerResponse:
        """The shard owning ``point_id`` and a worker to send it to: the shard's leader hint,
        else its first live replica, else its first replica."""
        table = self.get_routing_table(owner, name)
        shard_id = shard_of(point_id, table.collection.shard_count, table.collection.hash_scheme)
        shard = table.shards[shard_id]
        address = shard.leader_grpc_address
        if not address:
            live = [r for r in shard.replicas if self.liveness.is_live(r.worker_id)]
            address = (live or list(shard.replicas))[0].grpc_address
        return placement_pb2.GetWorkerResponse(
            grpc_address=address, shard_id=shard_id, collection_id=table.collection.collection_id, epoch=table.epoch
        )
