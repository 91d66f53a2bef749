"""The gateway's typed client of one worker, and the two ways to reach one.

Owns: :class:`WorkerClient` (the point operations on one shard replica, raising
:mod:`vectron.errors`, taking the caller's remaining ``timeout``), the plain
data it returns (:class:`Point`, :class:`Hit`), :class:`GrpcWorkerClient`
(over the gRPC ``WorkerService``: the one place a ``grpc.RpcError`` becomes a
vectron error, a write that may have been applied becoming
:class:`~vectron.errors.Indeterminate`), :class:`LocalWorkerClient` (calls a
:class:`~vectron.services.worker.service.WorkerService` in this process) and
:class:`WorkerPool` (a client per worker address).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol, TypeVar

import grpc

from vectron.errors import Indeterminate, StorageError, Unavailable, VectronError
from vectron.services.channels import open_channel
from vectron.services.grpc_errors import error_from_rpc_error, may_have_been_applied
from vectron.store import IndexInfo
from vectron.v1 import points_pb2, worker_pb2, worker_pb2_grpc
from vectron.wire import PointId, id_from_proto, id_to_proto, ids_to_proto, payload_from_json

if TYPE_CHECKING:
    from vectron.services.worker.service import ShardKey, WorkerService
    from vectron.store import Record, ScoredPoint

__all__ = [
    "ShardTarget",
    "PointWrite",
    "Point",
    "Hit",
    "hit_payload",
    "WorkerClient",
    "WorkerClients",
    "GrpcWorkerClient",
    "LocalWorkerClient",
    "WorkerPool",
]

T = TypeVar("T")


@dataclass(frozen=True)
class ShardTarget:
    """Which shard a call is for, at which routing epoch."""

    collection_id: str
    shard_id: int
    epoch: int


@dataclass(frozen=True)
class PointWrite:
    """One point of an upsert: its payload both as a dict and as its checked JSON text."""

    id: PointId
    vector: Sequence[float]
    payload: dict[str, Any] | None
    payload_json: str


@dataclass(frozen=True)
class Point:
    id: PointId
    vector: list[float] | None = None
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class Hit:
    """One search hit. A hit from a worker over gRPC keeps its payload as the worker's JSON
    text (``payload_json``, ``payload`` None) so the gateway passes it on without decoding
    and re-encoding it; :func:`hit_payload` gives the dict either way."""

    id: PointId
    score: float
    payload: dict[str, Any] | None = None
    vector: list[float] | None = None
    payload_json: str | None = None


def hit_payload(h: Hit) -> dict[str, Any] | None:
    """The hit's payload as a dict, whichever form it came in."""
    return payload_from_json(h.payload_json) if h.payload_json is not None else h.payload


@dataclass(frozen=True)
class SearchSpec:
    """The parameters shared by the queries of one search call."""

    k: int
    filter: dict[str, Any] | None
    filter_json: str
    ef: int | None
    with_payload: bool
    with_vector: bool
    consistency: str | None


class WorkerClient(Protocol):
    """The point operations of one worker. Errors are vectron.errors; a write whose outcome
    is unknown raises Indeterminate. ``timeout`` is the caller's remaining time."""

    def upsert(self, shard: ShardTarget, points: Sequence[PointWrite], request_id: str, timeout: float) -> int: ...

    def delete(
        self, shard: ShardTarget, ids: Sequence[PointId] | None, filter: dict[str, Any] | None, filter_json: str,
        request_id: str, timeout: float,
    ) -> int: ...

    def set_payload(
        self, shard: ShardTarget, ids: Sequence[PointId], payload: dict[str, Any], payload_json: str, overwrite: bool,
        request_id: str, timeout: float,
    ) -> int: ...

    def get(
        self, shard: ShardTarget, ids: Sequence[PointId], with_vector: bool, with_payload: bool, consistency: str | None, timeout: float
    ) -> list[Point]: ...

    def search(self, shard: ShardTarget, vectors: Sequence[Sequence[float]], spec: SearchSpec, timeout: float) -> list[list[Hit]]: ...

    def scroll(
        self, shard: ShardTarget, filter: dict[str, Any] | None, filter_json: str, limit: int, offset: PointId | None,
        with_vector: bool, with_payload: bool, consistency: str | None, timeout: float,
    ) -> tuple[list[Point], PointId | None]: ...

    def count(self, shard: ShardTarget, filter: dict[str, Any] | None, filter_json: str, consistency: str | None, timeout: float) -> int: ...

    def export_shard(self, shard: ShardTarget, out: BinaryIO, timeout: float) -> None:
        """Write a consistent copy of the shard's store to ``out`` (from its start; a retry
        rewrites it). ``timeout`` bounds the whole transfer."""
        ...

    def payload_index(self, shard: ShardTarget, field: str, index_type: str, drop: bool, request_id: str, timeout: float) -> int: ...

    def payload_indexes(self, shard: ShardTarget, timeout: float) -> list[IndexInfo]: ...


class WorkerClients(Protocol):
    """A :class:`WorkerClient` per worker gRPC address."""

    def client(self, address: str) -> WorkerClient: ...

    def is_local(self, address: str) -> bool:
        """Whether ``address`` is a worker running in this process (called without a hop)."""
        ...

    def serves_now(self, address: str, shard: ShardTarget, consistency: str | None) -> bool:
        """Whether the worker at ``address`` is in this process and would answer a read of
        ``shard`` at ``consistency`` at once (no wait for a leader, a barrier or the network)."""
        ...

    def close(self) -> None: ...


# -- over gRPC ------------------------------------------------------------------------------

_CONSISTENCY = {
    None: worker_pb2.CONSISTENCY_DEFAULT,
    "linearizable": worker_pb2.LINEARIZABLE,
    "leader": worker_pb2.LEADER,
    "any": worker_pb2.ANY,
}


def _ref(shard: ShardTarget) -> worker_pb2.ShardRef:
    return worker_pb2.ShardRef(collection_id=shard.collection_id, shard_id=shard.shard_id, epoch=shard.epoch)


def _point(p: points_pb2.Point, with_vector: bool, with_payload: bool) -> Point:
    return Point(
        id=id_from_proto(p.id, "id"),
        vector=list(p.vector) if with_vector else None,
        payload=payload_from_json(p.payload_json) if with_payload else None,
    )


def _hit(h: points_pb2.ScoredPoint, spec: SearchSpec) -> Hit:
    return Hit(
        id=id_from_proto(h.id, "id"),
        score=h.score,
        vector=list(h.vector) if spec.with_vector else None,
        payload_json=(h.payload_json or None) if spec.with_payload else None,
    )


def _rpc(call: Callable[[], T], *, write: bool) -> T:
    """Run one RPC; a failure becomes the vectron error the worker raised. A write that may
    have reached the worker (timeout, broken connection, an indeterminate answer) is
    Indeterminate; a read that timed out is Unavailable (reads have no outcome to lose).
    A status the worker API never answers with on purpose (UNIMPLEMENTED: a worker of
    another version; INTERNAL, UNKNOWN, DATA_LOSS, ...) is Unavailable (503) naming it,
    never a 500 of the gateway."""
    try:
        return call()
    except grpc.RpcError as exc:
        error = error_from_rpc_error(exc)
        if type(error) is VectronError or isinstance(error, StorageError):  # no vectron error the worker meant
            status = exc.code() if hasattr(exc, "code") else None
            name = getattr(status, "name", "an unknown status")
            error = Unavailable(f"a worker answered {name} ({exc.details() if hasattr(exc, 'details') else ''}); try again later")
        elif write and may_have_been_applied(exc) and not isinstance(error, Indeterminate):
            error = Indeterminate(f"the write may have been applied: {error.message}")
        elif not write and isinstance(error, Indeterminate):
            error = Unavailable(error.message)
        raise error from None


class GrpcWorkerClient:
    """A :class:`WorkerClient` over a ``WorkerService`` stub."""

    def __init__(self, stub: worker_pb2_grpc.WorkerServiceStub) -> None:
        self._stub = stub

    def upsert(self, shard: ShardTarget, points: Sequence[PointWrite], request_id: str, timeout: float) -> int:
        msg = worker_pb2.UpsertRequest(
            shard=_ref(shard), request_id=request_id,
            points=[points_pb2.Point(id=id_to_proto(p.id), vector=p.vector, payload_json=p.payload_json) for p in points],
        )
        return int(_rpc(lambda: self._stub.Upsert(msg, timeout=timeout), write=True).affected)

    def delete(
        self, shard: ShardTarget, ids: Sequence[PointId] | None, filter: dict[str, Any] | None, filter_json: str,
        request_id: str, timeout: float,
    ) -> int:
        msg = worker_pb2.DeleteRequest(shard=_ref(shard), request_id=request_id, filter_json=filter_json)
        if ids is not None:
            msg.ids.extend(ids_to_proto(ids))
        return int(_rpc(lambda: self._stub.Delete(msg, timeout=timeout), write=True).affected)

    def set_payload(
        self, shard: ShardTarget, ids: Sequence[PointId], payload: dict[str, Any], payload_json: str, overwrite: bool,
        request_id: str, timeout: float,
    ) -> int:
        msg = worker_pb2.SetPayloadRequest(
            shard=_ref(shard), ids=ids_to_proto(ids), payload_json=payload_json, overwrite=overwrite, request_id=request_id
        )
        return int(_rpc(lambda: self._stub.SetPayload(msg, timeout=timeout), write=True).affected)

    def get(
        self, shard: ShardTarget, ids: Sequence[PointId], with_vector: bool, with_payload: bool, consistency: str | None, timeout: float
    ) -> list[Point]:
        msg = worker_pb2.GetRequest(
            shard=_ref(shard), ids=ids_to_proto(ids), with_vector=with_vector, without_payload=not with_payload,
            consistency=_CONSISTENCY[consistency],
        )
        reply = _rpc(lambda: self._stub.Get(msg, timeout=timeout), write=False)
        return [_point(p, with_vector, with_payload) for p in reply.points]

    def search(self, shard: ShardTarget, vectors: Sequence[Sequence[float]], spec: SearchSpec, timeout: float) -> list[list[Hit]]:
        msg = worker_pb2.SearchRequest(
            shard=_ref(shard), queries=[worker_pb2.SearchQuery(vector=v) for v in vectors], k=spec.k,
            filter_json=spec.filter_json, ef=spec.ef or 0, with_payload=spec.with_payload, with_vector=spec.with_vector,
            consistency=_CONSISTENCY[spec.consistency],
        )
        reply = _rpc(lambda: self._stub.Search(msg, timeout=timeout), write=False)
        return [[_hit(h, spec) for h in result.hits] for result in reply.results]

    def scroll(
        self, shard: ShardTarget, filter: dict[str, Any] | None, filter_json: str, limit: int, offset: PointId | None,
        with_vector: bool, with_payload: bool, consistency: str | None, timeout: float,
    ) -> tuple[list[Point], PointId | None]:
        msg = worker_pb2.ScrollRequest(
            shard=_ref(shard), filter_json=filter_json, limit=limit, with_vector=with_vector,
            without_payload=not with_payload, consistency=_CONSISTENCY[consistency],
        )
        if offset is not None:
            msg.offset.CopyFrom(id_to_proto(offset))
        reply = _rpc(lambda: self._stub.Scroll(msg, timeout=timeout), write=False)
        nxt = id_from_proto(reply.next_offset, "next_offset") if reply.HasField("next_offset") else None
        return [_point(p, with_vector, with_payload) for p in reply.points], nxt

    def count(self, shard: ShardTarget, filter: dict[str, Any] | None, filter_json: str, consistency: str | None, timeout: float) -> int:
        msg = worker_pb2.CountRequest(shard=_ref(shard), filter_json=filter_json, consistency=_CONSISTENCY[consistency])
        return int(_rpc(lambda: self._stub.Count(msg, timeout=timeout), write=False).count)

    def export_shard(self, shard: ShardTarget, out: BinaryIO, timeout: float) -> None:
        msg = worker_pb2.ExportShardRequest(shard=_ref(shard))

        def transfer() -> None:
            out.seek(0)
            out.truncate()
            for chunk in self._stub.ExportShard(msg, timeout=timeout):
                out.write(chunk.data)
            out.flush()

        _rpc(transfer, write=False)

    def payload_index(self, shard: ShardTarget, field: str, index_type: str, drop: bool, request_id: str, timeout: float) -> int:
        msg = worker_pb2.PayloadIndexRequest(shard=_ref(shard), field=field, type=index_type, drop=drop, request_id=request_id)
        return int(_rpc(lambda: self._stub.PayloadIndex(msg, timeout=timeout), write=True).affected)

    def payload_indexes(self, shard: ShardTarget, timeout: float) -> list[IndexInfo]:
        reply = _rpc(lambda: self._stub.PayloadIndexes(worker_pb2.PayloadIndexesRequest(shard=_ref(shard)), timeout=timeout), write=False)
        return [IndexInfo(i.field, i.type, i.automatic) for i in reply.indexes]


# -- in this process ---------------------------------------------------------------------------


def _record(r: Record) -> Point:
    return Point(id=r.id, vector=None if r.vector is None else r.vector.tolist(), payload=r.payload)


def _scored(h: ScoredPoint) -> Hit:
    return Hit(id=h.id, score=float(h.score), payload=h.payload, vector=None if h.vector is None else h.vector.tolist())


class LocalWorkerClient:
    """A :class:`WorkerClient` calling a :class:`WorkerService` in this process (``vectrond
    --role all``): the same validation and errors, no serialization. A replica that is not
    its shard's leader raises NotLeader naming the leader, which the gateway follows."""

    def __init__(self, service: WorkerService) -> None:
        self._service = service

    @staticmethod
    def _key(shard: ShardTarget) -> ShardKey:
        from vectron.services.worker.service import ShardKey  # the worker package only when a worker runs here

        return ShardKey(shard.collection_id, shard.shard_id, shard.epoch)

    def serves_now(self, shard: ShardTarget, consistency: str | None) -> bool:
        return self._service.serves_now(self._key(shard), consistency or "leader")

    def upsert(self, shard: ShardTarget, points: Sequence[PointWrite], request_id: str, timeout: float) -> int:
        ids = [p.id for p in points]
        vectors = [p.vector for p in points]
        payloads = [p.payload for p in points]
        return self._service.upsert(self._key(shard), ids, vectors, payloads, request_id, timeout=timeout).affected

    def delete(
        self, shard: ShardTarget, ids: Sequence[PointId] | None, filter: dict[str, Any] | None, filter_json: str,
        request_id: str, timeout: float,
    ) -> int:
        return self._service.delete(self._key(shard), ids, filter, request_id, timeout=timeout).affected

    def set_payload(
        self, shard: ShardTarget, ids: Sequence[PointId], payload: dict[str, Any], payload_json: str, overwrite: bool,
        request_id: str, timeout: float,
    ) -> int:
        return self._service.set_payload(self._key(shard), ids, payload, overwrite, request_id, timeout=timeout).affected

    def get(
        self, shard: ShardTarget, ids: Sequence[PointId], with_vector: bool, with_payload: bool, consistency: str | None, timeout: float
    ) -> list[Point]:
        records = self._service.get(self._key(shard), ids, with_vector, with_payload, consistency or "linearizable", timeout=timeout)
        return [_record(r) for r in records]

    def search(self, shard: ShardTarget, vectors: Sequence[Sequence[float]], spec: SearchSpec, timeout: float) -> list[list[Hit]]:
        rows = self._service.search(
            self._key(shard), vectors, spec.k, spec.filter, spec.ef, spec.with_payload, spec.with_vector,
            spec.consistency or "leader", timeout=timeout,
        )
        return [[_scored(h) for h in row] for row in rows]

    def scroll(
        self, shard: ShardTarget, filter: dict[str, Any] | None, filter_json: str, limit: int, offset: PointId | None,
        with_vector: bool, with_payload: bool, consistency: str | None, timeout: float,
    ) -> tuple[list[Point], PointId | None]:
        records, nxt = self._service.scroll(
            self._key(shard), filter, limit, offset, with_payload, with_vector, consistency or "linearizable", timeout=timeout
        )
        return [_record(r) for r in records], nxt

    def count(self, shard: ShardTarget, filter: dict[str, Any] | None, filter_json: str, consistency: str | None, timeout: float) -> int:
        return self._service.count(self._key(shard), filter, consistency or "linearizable", timeout=timeout)

    def export_shard(self, shard: ShardTarget, out: BinaryIO, timeout: float) -> None:
        out.seek(0)
        out.truncate()
        self._service.export_shard(self._key(shard), out, timeout)
        out.flush()

    def payload_index(self, shard: ShardTarget, field: str, index_type: str, drop: bool, request_id: str, timeout: float) -> int:
        return self._service.payload_index(self._key(shard), field, index_type, drop, request_id, timeout=timeout).affected

    def payload_indexes(self, shard: ShardTarget, timeout: float) -> list[IndexInfo]:
        return self._service.payload_indexes(self._key(shard), timeout=timeout)


class WorkerPool:
    """A :class:`GrpcWorkerClient` per worker address (one channel each, opened on first
    use), or a :class:`LocalWorkerClient` for a worker registered as running in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[str, WorkerClient] = {}
        self._channels: list[grpc.Channel] = []

    def register_local(self, address: str, service: WorkerService) -> None:
        """Calls to ``address`` go straight to ``service`` (a WorkerService in this process)."""
        with self._lock:
            self._clients[address] = LocalWorkerClient(service)

    def is_local(self, address: str) -> bool:
        with self._lock:
            return isinstance(self._clients.get(address), LocalWorkerClient)

    def serves_now(self, address: str, shard: ShardTarget, consistency: str | None) -> bool:
        with self._lock:
            client = self._clients.get(address)
        return isinstance(client, LocalWorkerClient) and client.serves_now(shard, consistency)

    def client(self, address: str) -> WorkerClient:
        with self._lock:
            client = self._clients.get(address)
            if client is None:
                channel = open_channel(address)
                self._channels.append(channel)
                client = self._clients[address] = GrpcWorkerClient(worker_pb2_grpc.WorkerServiceStub(channel))
            return client

    def close(self) -> None:
        with self._lock:
            channels, self._channels = self._channels, []
            self._clients.clear()
        for channel in channels:
            channel.close()

