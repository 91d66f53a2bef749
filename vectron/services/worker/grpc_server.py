"""The gRPC edge of a worker: a thin servicer over :class:`WorkerService`.

A call that reaches a replica which is not its shard's leader (a write, or a
``linearizable``/``leader`` read) is forwarded once to the leader's worker
(marked with the ``vectron-forwarded`` metadata so it is never forwarded
twice); when the leader is unknown, or the call was already forwarded, it fails
with UNAVAILABLE and the leader's address in the ``vectron-leader`` trailer.
Every call passes the caller's remaining time (the gRPC deadline) down to
:class:`WorkerService`, and so to the shard group. Errors are mapped to gRPC
statuses by :mod:`vectron.services.grpc_errors`.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from vectron.errors import DimensionMismatch, InvalidArgument, NotLeader
from vectron.services.channels import open_channel
from vectron.services.grpc_errors import error_from_rpc_error, grpc_error_boundary
from vectron.services.worker.convert import hit_to_proto, record_to_proto, vectors_from_points
from vectron.services.worker.service import ShardKey, WorkerService
from vectron.v1 import worker_pb2, worker_pb2_grpc
from vectron.wire import id_from_proto, id_to_proto, ids_from_proto, parse_filter, parse_json_object

__all__ = ["SERVICE_NAME", "FORWARDED_KEY", "WorkerServicer", "ChannelPool"]

log = logging.getLogger(__name__)

EXPORT_CHUNK = 1 << 20  # bytes per ExportChunk

SERVICE_NAME = worker_pb2.DESCRIPTOR.services_by_name["WorkerService"].full_name
FORWARDED_KEY = "vectron-forwarded"
T = TypeVar("T")

_CONSISTENCY = {
    worker_pb2.LINEARIZABLE: "linearizable",
    worker_pb2.LEADER: "leader",
    worker_pb2.ANY: "any",
}


def _consistency(value: int, default: str) -> str:
    if value == worker_pb2.CONSISTENCY_DEFAULT:
        return default
    try:
        return _CONSISTENCY[value]
    except KeyError:
        raise InvalidArgument(f"unknown consistency {value}", field="consistency") from None


def _key(ref: worker_pb2.ShardRef) -> ShardKey:
    return ShardKey(ref.collection_id, ref.shard_id, ref.epoch)


class ChannelPool:
    """One gRPC channel per peer worker address, closed together."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[str, grpc.Channel] = {}

    def stub(self, address: str) -> worker_pb2_grpc.WorkerServiceStub:
        with self._lock:
            channel = self._channels.get(address)
            if channel is None:
                channel = self._channels[address] = open_channel(address)
        return worker_pb2_grpc.WorkerServiceStub(channel)

    def close(self) -> None:
        with self._lock:
            channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.close()


class WorkerServicer(worker_pb2_grpc.WorkerServiceServicer):
    def __init__(self, service: WorkerService, channels: ChannelPool | None = None, *, forward_timeout: float = 30.0) -> None:
        self.service = service
        self.channels = channels or ChannelPool()
        self.forward_timeout = forward_timeout

    def _leader_or_forward(self, name: str, request: Any, context: grpc.ServicerContext, call: Callable[[], T]) -> T:
        try:
            return call()
        except NotLeader as exc:
            forwarded = any(k == FORWARDED_KEY for k, _ in (context.invocation_metadata() or ()))
            if not exc.leader or forwarded:
                raise
            remaining = context.time_remaining()
            timeout = self.forward_timeout if remaining is None else max(0.1, min(remaining, self.forward_timeout))
            log.debug("forwarding %s to the shard leader at %s", name, exc.leader)
            try:
                return getattr(self.channels.stub(exc.leader), name)(request, metadata=[(FORWARDED_KEY, "1")], timeout=timeout)
            except grpc.RpcError as rpc:
                raise error_from_rpc_error(rpc) from None

    # -- writes ---------------------------------------------------------------------------
    @grpc_error_boundary
    def Upsert(self, request: worker_pb2.UpsertRequest, context: grpc.ServicerContext) -> worker_pb2.WriteResponse:
        def call() -> worker_pb2.WriteResponse:
            replica = self.service.replica(_key(request.shard))
            points = request.points
            ids = ids_from_proto((p.id for p in points), "points.id")
            vectors = vectors_from_points(points, replica.collection.dimension)
            payloads = [parse_json_object(p.payload_json, "points.payload_json") for p in points]
            result = self.service.upsert(_key(request.shard), ids, vectors, payloads, request.request_id or None, timeout=context.time_remaining())
            return worker_pb2.WriteResponse(affected=result.affected, applied_index=result.index)

        return self._leader_or_forward("Upsert", request, context, call)

    @grpc_error_boundary
    def Delete(self, request: worker_pb2.DeleteRequest, context: grpc.ServicerContext) -> worker_pb2.WriteResponse:
        def call() -> worker_pb2.WriteResponse:
            if request.filter_json:
                if request.ids:
                    raise InvalidArgument("delete takes either ids or a filter", field="ids")
                result = self.service.delete(
                    _key(request.shard), filter=parse_filter(request.filter_json), request_id=request.request_id or None,
                    timeout=context.time_remaining(),
                )
            else:
                result = self.service.delete(
                    _key(request.shard), ids=ids_from_proto(request.ids), request_id=request.request_id or None,
                    timeout=context.time_remaining(),
                )
            return worker_pb2.WriteResponse(affected=result.affected, applied_index=result.index)

        return self._leader_or_forward("Delete", request, context, call)

    @grpc_error_boundary
    def SetPayload(self, request: worker_pb2.SetPayloadRequest, context: grpc.ServicerContext) -> worker_pb2.WriteResponse:
        def call() -> worker_pb2.WriteResponse:
            payload = parse_json_object(request.payload_json, "payload_json", empty_ok=False)
            assert payload is not None
            result = self.service.set_payload(
                _key(request.shard), ids_from_proto(request.ids), payload, request.overwrite, request.request_id or None,
                timeout=context.time_remaining(),
            )
            return worker_pb2.WriteResponse(affected=result.affected, applied_index=result.index)

        return self._leader_or_forward("SetPayload", request, context, call)

    @grpc_error_boundary
    def PayloadIndex(self, request: worker_pb2.PayloadIndexRequest, context: grpc.ServicerContext) -> worker_pb2.WriteResponse:
        def call() -> worker_pb2.WriteResponse:
            result = self.service.payload_index(
                _key(request.shard), request.field, request.type, request.drop, request.request_id or None, timeout=context.time_remaining()
            )
            return worker_pb2.WriteResponse(affected=result.affected, applied_index=result.index)

        return self._leader_or_forward("PayloadIndex", request, context, call)

    # -- reads ----------------------------------------------------------------------------
    @grpc_error_boundary
    def PayloadIndexes(self, request: worker_pb2.PayloadIndexesRequest, context: grpc.ServicerContext) -> worker_pb2.PayloadIndexesResponse:
        def call() -> worker_pb2.PayloadIndexesResponse:
            found = self.service.payload_indexes(_key(request.shard), timeout=context.time_remaining())
            return worker_pb2.PayloadIndexesResponse(
                indexes=[worker_pb2.PayloadIndexInfo(field=i.field, type=i.type, automatic=i.automatic) for i in found]
            )

        return self._leader_or_forward("PayloadIndexes", request, context, call)

    @grpc_error_boundary
    def Get(self, request: worker_pb2.GetRequest, context: grpc.ServicerContext) -> worker_pb2.GetResponse:
        def call() -> worker_pb2.GetResponse:
            records = self.service.get(
                _key(request.shard), ids_from_proto(request.ids), request.with_vector, not request.without_payload,
                _consistency(request.consistency, "linearizable"), timeout=context.time_remaining(),
            )
            return worker_pb2.GetResponse(points=[record_to_proto(r) for r in records])

        return self._leader_or_forward("Get", request, context, call)

    @grpc_error_boundary
    def Search(self, request: worker_pb2.SearchRequest, context: grpc.ServicerContext) -> worker_pb2.SearchResponse:
        def call() -> worker_pb2.SearchResponse:
            replica = self.service.replica(_key(request.shard))
            if not request.queries:
                raise InvalidArgument("at least one query vector is required", field="queries")
            dim = replica.collection.dimension
            if any(len(q.vector) != dim for q in request.queries):
                raise DimensionMismatch(f"query vectors must have dimension {dim}", field="queries.vector")
            hits = self.service.search(
                _key(request.shard),
                [list(q.vector) for q in request.queries],
                request.k or 10,
                parse_filter(request.filter_json),
                request.ef or None,
                request.with_payload,
                request.with_vector,
                _consistency(request.consistency, "leader"),
                timeout=context.time_remaining(),
            )
            return worker_pb2.SearchResponse(results=[worker_pb2.SearchResult(hits=[hit_to_proto(h) for h in row]) for row in hits])

        return self._leader_or_forward("Search", request, context, call)

    @grpc_error_boundary
    def Scroll(self, request: worker_pb2.ScrollRequest, context: grpc.ServicerContext) -> worker_pb2.ScrollResponse:
        def call() -> worker_pb2.ScrollResponse:
            offset = id_from_proto(request.offset, "offset") if request.HasField("offset") else None
            records, nxt = self.service.scroll(
                _key(request.shard), parse_filter(request.filter_json), request.limit or 100, offset,
                not request.without_payload, request.with_vector, _consistency(request.consistency, "linearizable"),
                timeout=context.time_remaining(),
            )
            reply = worker_pb2.ScrollResponse(points=[record_to_proto(r) for r in records])
            if nxt is not None:
                reply.next_offset.CopyFrom(id_to_proto(nxt))
            return reply

        return self._leader_or_forward("Scroll", request, context, call)

    @grpc_error_boundary
    def Count(self, request: worker_pb2.CountRequest, context: grpc.ServicerContext) -> worker_pb2.CountResponse:
        def call() -> worker_pb2.CountResponse:
            count = self.service.count(
                _key(request.shard), parse_filter(request.filter_json), _consistency(request.consistency, "linearizable"),
                timeout=context.time_remaining(),
            )
            return worker_pb2.CountResponse(count=count)

        return self._leader_or_forward("Count", request, context, call)

    @grpc_error_boundary
    def ShardStatus(self, request: worker_pb2.ShardStatusRequest, context: grpc.ServicerContext) -> worker_pb2.ShardStatusResponse:
        return worker_pb2.ShardStatusResponse(worker_id=self.service.worker_id, shards=self.service.shard_status(request.collection_id or None))

    @grpc_error_boundary
    def ExportShard(self, request: worker_pb2.ExportShardRequest, context: grpc.ServicerContext) -> Iterator[worker_pb2.ExportChunk]:
        """The shard's copy is made into a private temporary file first (errors such as
        NotLeader are mapped before any chunk is sent), then streamed and deleted."""
        remaining = context.time_remaining()
        spool = tempfile.TemporaryFile(dir=self.service.export_dir())
        try:
            self.service.export_shard(_key(request.shard), spool, remaining)
            spool.seek(0)
        except BaseException:
            spool.close()
            raise

        def chunks() -> Iterator[worker_pb2.ExportChunk]:
            with spool:
                while data := spool.read(EXPORT_CHUNK):
                    yield worker_pb2.ExportChunk(data=data)

        return chunks()
