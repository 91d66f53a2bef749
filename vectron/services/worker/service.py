"""The internal API of a worker: one method per point operation on one shard replica,
raising vectron.errors. The gRPC servicer is a thin adapter over :class:`WorkerService`
(and forwards to the shard leader when this replica is not it).

Writes are validated here (ids, shard ownership by the routing hash, dimension,
finite components, payload objects), then proposed to the shard's group with a
request id within the caller's remaining time (``timeout``), once: the
gateway retries with the same id (the FSM applies an id once). A replica
that is not the leader raises :class:`~vectron.errors.NotLeader` carrying the
leader worker's gRPC address.

Reads take a consistency level: ``linearizable`` (the group's read barrier on
the leader; the default of get, scroll and count), ``leader`` (the leader's
local state, no barrier; the default of search) or ``any`` (this replica's
local state, possibly stale).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

import numpy as np

from vectron.errors import (
    DimensionMismatch,
    InvalidArgument,
    NotLeader,
    StaleEpoch,
    Unavailable,
    VectronError,
)
from vectron.limits import MAX_BATCH_POINTS, dump_payload
from vectron.raft import CONSISTENCY_LEVELS
from vectron.services.placement.routing import shard_of
from vectron.services.worker.fsm import ShardStateMachine, decode_result
from vectron.services.worker.replicas import ReplicaHost, ShardReplica
from vectron.store import IndexInfo, PointId, Record, ScoredPoint, check_ids, check_index_field, check_index_type, compile_filter
from vectron.v1 import placement_pb2, worker_pb2

__all__ = ["ShardKey", "WorkerConfig", "WorkerService", "WriteResult"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class ShardKey:
    """Which shard a call is for; ``epoch`` 0 skips the routing epoch check."""

    collection_id: str
    shard_id: int
    epoch: int = 0


@dataclass(frozen=True)
class WriteResult:
    affected: int
    index: int


@dataclass(frozen=True)
class WorkerConfig:
    write_timeout: float = 30.0
    read_timeout: float = 5.0


class WorkerService:
    """Point operations on the shard replicas of one worker."""

    def __init__(self, host: ReplicaHost, worker_id: str = "", config: WorkerConfig | None = None) -> None:
        self.host = host
        self.worker_id = worker_id
        self.config = config or WorkerConfig()

    # -- plumbing ---------------------------------------------------------------------
    def replica(self, ref: ShardKey) -> ShardReplica:
        if not ref.collection_id:
            raise InvalidArgument("collection_id is required", field="shard.collection_id")
        replica = self.host.get(ref.collection_id, ref.shard_id)
        if ref.epoch and ref.epoch != replica.collection.epoch:
            raise StaleEpoch(
                f"routing epoch {ref.epoch} is stale: shard {ref.shard_id} is at epoch {replica.collection.epoch}; "
                "refresh the routing table",
                field="shard.epoch",
            )
        return replica

    def _not_leader(self, replica: ShardReplica) -> NotLeader:
        leader = replica.leader_grpc_address()
        return NotLeader(
            f"this replica of shard {replica.key[1]} is not the leader" + (f"; the leader is {leader}" if leader else "; no leader known yet"),
            leader=leader,
        )

    def _await_leader(self, replica: ShardReplica, deadline: float) -> None:
        """Return if this replica leads; raise NotLeader with the leader's address if another
        does; while no leader is known (an election), wait until ``deadline``."""
        delay = 0.05
        while True:
            if replica.group.is_leader():
                return
            error = self._not_leader(replica)
            if error.leader or time.monotonic() + delay >= deadline:
                raise error
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _deadline(self, timeout: float | None, own: float) -> float:
        """When a call must end: the caller's remaining time, capped by this worker's own limit."""
        return time.monotonic() + (own if timeout is None else max(0.0, min(timeout, own)))

    def _propose(self, replica: ShardReplica, command: worker_pb2.ShardCommand, request_id: str | None, timeout: float | None) -> WriteResult:
        """Propose once, within the caller's time: wait out an election, then one ``propose``
        with what is left. Nothing is retried here: the gateway owns write retries (with the
        same request id, which the FSM applies once)."""
        deadline = self._deadline(timeout, self.config.write_timeout)
        self._await_leader(replica, deadline)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Unavailable("the caller's deadline passed before the write was proposed")
        try:
            raw = replica.group.propose(command.SerializeToString(), request_id=request_id or uuid.uuid4().hex, timeout=remaining)
        except NotLeader:
            raise self._not_leader(replica) from None
        result = decode_result(raw)
        return WriteResult(affected=result.affected, index=result.index)

    def serves_now(self, ref: ShardKey, consistency: str) -> bool:
        """Whether a read at ``consistency`` would be answered at once, without waiting: the
        replica is hosted at this epoch and, unless ``any``, leads. (``linearizable``
        waits for a read barrier: never at once.) A cheap check for callers deciding
        whether to answer on a thread that must not block."""
        if consistency not in ("leader", "any"):
            return False
        try:
            replica = self.replica(ref)
        except VectronError:
            return False
        return consistency == "any" or bool(replica.group.is_leader())

    def _read(self, replica: ShardReplica, fn: Callable[[ShardStateMachine], T], consistency: str, timeout: float | None) -> T:
        if consistency not in CONSISTENCY_LEVELS:
            raise InvalidArgument(f"consistency must be one of {', '.join(CONSISTENCY_LEVELS)}", field="consistency")
        deadline = self._deadline(timeout, self.config.read_timeout)
        if consistency != "any":
            self._await_leader(replica, deadline)
        try:
            return replica.group.read(fn, consistency=consistency, timeout=max(0.001, deadline - time.monotonic()))
        except NotLeader:
            raise self._not_leader(replica) from None

    def _check_ownership(self, replica: ShardReplica, ids: Sequence[PointId]) -> None:
        info = replica.collection
        for pid in ids:
            owner = shard_of(pid, info.shard_count, info.hash_scheme)
            if owner != replica.key[1]:
                raise InvalidArgument(f"point id {pid!r} belongs to shard {owner}, not shard {replica.key[1]}", field="ids")

    # -- writes -------------------------------------------------------------------------
    def upsert(
        self,
        ref: ShardKey,
        ids: Sequence[PointId],
        vectors: Any,
        payloads: Sequence[dict[str, Any] | None] | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> WriteResult:
        """Insert or replace a batch of points in one log entry (all or nothing)."""
        replica = self.replica(ref)
        ids = check_ids(ids)
        if not ids:
            raise InvalidArgument("an upsert needs at least one point", field="points")
        if len(ids) > MAX_BATCH_POINTS:
            raise InvalidArgument(f"a batch holds at most {MAX_BATCH_POINTS} points, got {len(ids)}", field="points")
        self._check_ownership(replica, ids)
        info = replica.collection
        try:
            arr = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"vectors must be numeric: {exc}", field="points.vector") from None
        if arr.ndim != 2 or arr.shape != (len(ids), info.dimension):
            raise DimensionMismatch(
                f"expected {len(ids)} vectors of dimension {info.dimension}, got shape {'x'.join(map(str, arr.shape))}",
                field="points.vector",
            )
        if not np.isfinite(arr).all():
            bad = int(np.argwhere(~np.isfinite(arr))[0][0])
            raise InvalidArgument(f"point {bad} has NaN or infinite vector components", field="points.vector")
        if info.distance == "cosine" and (np.linalg.norm(arr, axis=1) == 0).any():
            raise InvalidArgument("a zero vector has no cosine similarity", field="points.vector")
        if payloads is not None and len(payloads) != len(ids):
            raise InvalidArgument("one payload (or None) per point", field="points.payload_json")
        cmd = worker_pb2.UpsertCmd(vectors=arr.astype("<f4").tobytes())
        for pid in ids:
            if isinstance(pid, int):
                cmd.ids.add(num=pid)
            else:
                cmd.ids.add(str=pid)
        if payloads is not None:
            cmd.payload_json.extend(_dump_payload(p) for p in payloads)
        return self._propose(replica, worker_pb2.ShardCommand(upsert=cmd), request_id, timeout)

    def delete(
        self, ref: ShardKey, ids: Sequence[PointId] | None = None, filter: dict[str, Any] | None = None, request_id: str | None = None,
        timeout: float | None = None,
    ) -> WriteResult:
        """Delete points by ids or by a filter (exactly one of the two)."""
        replica = self.replica(ref)
        if (ids is None) == (filter is None):
            raise InvalidArgument("delete takes either ids or a filter", field="ids")
        if ids is not None:
            cmd = worker_pb2.DeleteCmd()
            for pid in check_ids(ids, unique=False):
                cmd.ids.add(**({"num": pid} if isinstance(pid, int) else {"str": pid}))
        else:
            compile_filter(filter)
            cmd = worker_pb2.DeleteCmd(by_filter=True, filter_json=json.dumps(filter))
        return self._propose(replica, worker_pb2.ShardCommand(delete=cmd), request_id, timeout)

    def set_payload(
        self, ref: ShardKey, ids: Sequence[PointId], payload: dict[str, Any], overwrite: bool = False, request_id: str | None = None,
        timeout: float | None = None,
    ) -> WriteResult:
        """Merge ``payload``'s keys into each point's payload (or replace it: ``overwrite``)."""
        replica = self.replica(ref)
        checked = check_ids(ids, unique=False)
        if not isinstance(payload, dict):
            raise InvalidArgument("payload must be a JSON object", field="payload_json")
        cmd = worker_pb2.SetPayloadCmd(payload_json=_dump_payload(payload), overwrite=overwrite)
        for pid in checked:
            cmd.ids.add(**({"num": pid} if isinstance(pid, int) else {"str": pid}))
        return self._propose(replica, worker_pb2.ShardCommand(set_payload=cmd), request_id, timeout)

    def payload_index(
        self, ref: ShardKey, field: str, index_type: str = "", drop: bool = False, request_id: str | None = None,
        timeout: float | None = None,
    ) -> WriteResult:
        """Create (or ``drop``) a payload index on this shard through its log: every replica
        builds it; ``affected`` is 1 if it changed the shard's indexes, else 0."""
        replica = self.replica(ref)
        check_index_field(field)
        cmd = worker_pb2.PayloadIndexCmd(field=field, drop=drop)
        if not drop:
            cmd.type = check_index_type(index_type)
        return self._propose(replica, worker_pb2.ShardCommand(payload_index=cmd), request_id, timeout)

    # -- reads --------------------------------------------------------------------------
    def payload_indexes(self, ref: ShardKey, consistency: str = "leader", timeout: float | None = None) -> list[IndexInfo]:
        """The payload indexes of this shard (declared and automatic)."""
        replica = self.replica(ref)
        return self._read(replica, lambda fsm: fsm.collection.payload_indexes(), consistency, timeout)

    def get(
        self, ref: ShardKey, ids: Sequence[PointId], with_vector: bool = False, with_payload: bool = True, consistency: str = "linearizable",
        timeout: float | None = None,
    ) -> list[Record]:
        replica = self.replica(ref)
        checked = check_ids(ids, unique=False)
        return self._read(replica, lambda fsm: fsm.collection.get(checked, with_vector=with_vector, with_payload=with_payload), consistency, timeout)

    def search(
        self,
        ref: ShardKey,
        vectors: Any,
        k: int = 10,
        filter: dict[str, Any] | None = None,
        ef: int | None = None,
        with_payload: bool = True,
        with_vector: bool = False,
        consistency: str = "leader",
        timeout: float | None = None,
    ) -> list[list[ScoredPoint]]:
        """One list of hits (ids, scores, payloads) per query vector, best first."""
        replica = self.replica(ref)
        return self._read(
            replica,
            lambda fsm: fsm.collection.search_batch(vectors, k, filter, ef, None, with_payload, with_vector),
            consistency,
            timeout,
        )

    def scroll(
        self,
        ref: ShardKey,
        filter: dict[str, Any] | None = None,
        limit: int = 100,
        offset: PointId | None = None,
        with_payload: bool = True,
        with_vector: bool = False,
        consistency: str = "linearizable",
        timeout: float | None = None,
    ) -> tuple[list[Record], PointId | None]:
        replica = self.replica(ref)
        return self._read(replica, lambda fsm: fsm.collection.scroll(filter, limit, offset, with_payload, with_vector), consistency, timeout)

    def count(
        self, ref: ShardKey, filter: dict[str, Any] | None = None, consistency: str = "linearizable", timeout: float | None = None
    ) -> int:
        replica = self.replica(ref)
        return self._read(replica, lambda fsm: fsm.collection.count(filter), consistency, timeout)

    # -- observability --------------------------------------------------------------------
    def export_dir(self) -> str:
        """Where shard copies are spooled before they are sent (private to this worker)."""
        folder = self.host.root.parent / "exports"
        folder.mkdir(mode=0o700, exist_ok=True)
        return str(folder)

    def export_shard(self, ref: ShardKey, out: BinaryIO, timeout: float | None = None) -> None:
        """Write a consistent copy of the shard's store (an LMDB file) to ``out``, a real
        file: on the leader, after a read barrier, so it holds every write acknowledged
        before the call. The copy itself is not bound by ``timeout`` (only the barrier)."""
        replica = self.replica(ref)
        self._read(replica, lambda fsm: fsm.snapshot(out), "linearizable", timeout)

    def shard_status(self, collection_id: str | None = None) -> list[worker_pb2.ShardStatus]:
        """Per hosted replica: members, role, leader, term, commit/applied index, point count."""
        out = []
        for replica in sorted(self.host.replicas(), key=lambda r: r.key):
            if collection_id and replica.key[0] != collection_id:
                continue
            out.append(_status_of(replica))
        return out

    def shard_stats(self) -> list[placement_pb2.ShardStats]:
        """What a heartbeat reports."""
        return [
            placement_pb2.ShardStats(
                collection_id=s.collection_id, shard_id=s.shard_id, role=s.role, term=s.term,
                applied_index=s.applied_index, point_count=s.point_count, leader_raft_address=s.leader,
            )
            for s in self.shard_status()
        ]


def _status_of(replica: ShardReplica) -> worker_pb2.ShardStatus:
    try:
        status = dict(replica.group.status())
    except Exception:
        status = {}
    try:
        points = replica.fsm.point_count()
    except VectronError:
        points = 0
    leader = status.get("leader") or ""
    return worker_pb2.ShardStatus(
        collection_id=replica.key[0],
        shard_id=replica.key[1],
        epoch=replica.collection.epoch,
        raft_address=replica.raft_address,
        replicas=[r.raft_address for r in replica.assignment.replicas],
        role=str(status.get("role") or "unknown"),
        leader=leader,
        leader_grpc_address=replica.grpc_address_of(leader) or "",
        term=int(status.get("term") or 0),
        commit_index=int(status.get("commit_index") or 0),
        applied_index=int(replica.fsm.applied_index()),
        point_count=points,
        ready=bool(status.get("ready", False)),
    )


def _dump_payload(payload: dict[str, Any] | None) -> str:
    return "{}" if payload is None else dump_payload(payload, "points.payload_json")
