"""A stand-in WorkerService for the gateway's in-process tests: real gRPC, real store
collections (one per shard), no Raft. It can be told to fail a shard (UNAVAILABLE),
to answer NotLeader once, or to refuse a stale epoch, so the gateway's retry, routing
and partial-result paths are exercised without the worker package."""

from __future__ import annotations

import json
import pathlib
import threading
from collections.abc import Callable
from typing import Any

import grpc
import numpy as np

import vectron
from vectron.errors import Indeterminate, NotLeader, Unavailable
from vectron.services.grpc_errors import ErrorMappingInterceptor
from vectron.services.serving import GrpcServer, start_grpc_server
from vectron.v1 import placement_pb2, points_pb2, worker_pb2, worker_pb2_grpc


def _pid(msg: points_pb2.PointId) -> Any:
    return getattr(msg, msg.WhichOneof("kind"))


def _to_pid(pid: Any) -> points_pb2.PointId:
    return points_pb2.PointId(num=pid) if isinstance(pid, int) else points_pb2.PointId(str=pid)


class FakeWorker(worker_pb2_grpc.WorkerServiceServicer):
    def __init__(self, folder: pathlib.Path, lookup: Callable[[str], placement_pb2.CollectionInfo | None]) -> None:
        self.store = vectron.open(folder, durable=False)
        self.lookup = lookup
        self.lock = threading.Lock()
        self.down: set[int] = set()          # shard ids answering UNAVAILABLE
        self.not_leader_once: set[int] = set()
        self.applied_then_lost: set[int] = set()  # shard ids that apply the next upsert, then answer UNKNOWN and go down
        self.calls: list[tuple[str, int]] = []

    def close(self) -> None:
        self.store.close()

    def _col(self, ref: worker_pb2.ShardRef, context: grpc.ServicerContext, method: str) -> Any:
        self.calls.append((method, ref.shard_id))
        if ref.shard_id in self.down:
            raise Unavailable(f"shard {ref.shard_id} is down")
        if ref.shard_id in self.not_leader_once:
            self.not_leader_once.discard(ref.shard_id)
            raise NotLeader("not the leader", leader=None)
        info = self.lookup(ref.collection_id)
        if info is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown shard")
        if ref.epoch and ref.epoch != info.epoch:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "stale epoch")
        name = f"c{ref.collection_id}-{ref.shard_id}"
        with self.lock:
            try:
                return self.store.collection(name)
            except vectron.errors.CollectionNotFound:
                hnsw = {k: v for k, v in (("m", info.hnsw.m), ("ef_construct", info.hnsw.ef_construct), ("ef", info.hnsw.ef)) if v}
                return self.store.create_collection(name, info.dimension, info.distance, hnsw or None)

    def Upsert(self, request: Any, context: Any) -> Any:
        col = self._col(request.shard, context, "Upsert")
        ids = [_pid(p.id) for p in request.points]
        vectors = np.array([list(p.vector) for p in request.points], dtype=np.float32)
        payloads = [json.loads(p.payload_json) if p.payload_json else None for p in request.points]
        n = col.upsert(ids, vectors, payloads)
        if request.shard.shard_id in self.applied_then_lost:
            self.applied_then_lost.discard(request.shard.shard_id)
            self.down.add(request.shard.shard_id)
            raise Indeterminate("the leader changed after the write was proposed")
        return worker_pb2.WriteResponse(affected=n)

    def Get(self, request: Any, context: Any) -> Any:
        col = self._col(request.shard, context, "Get")
        recs = col.get([_pid(i) for i in request.ids], with_vector=request.with_vector, with_payload=not request.without_payload)
        return worker_pb2.GetResponse(points=[self._point(r) for r in recs])

    @staticmethod
    def _point(r: Any) -> points_pb2.Point:
        return points_pb2.Point(
            id=_to_pid(r.id),
            vector=[] if r.vector is None else r.vector.tolist(),
            payload_json="" if r.payload is None else json.dumps(r.payload),
        )

    def Delete(self, request: Any, context: Any) -> Any:
        col = self._col(request.shard, context, "Delete")
        if request.filter_json:
            n = col.delete(filter=json.loads(request.filter_json))
        else:
            n = col.delete([_pid(i) for i in request.ids])
        return worker_pb2.WriteResponse(affected=n)

    def SetPayload(self, request: Any, context: Any) -> Any:
        col = self._col(request.shard, context, "SetPayload")
        ids = [_pid(i) for i in request.ids]
        payload = json.loads(request.payload_json)
        n = col.overwrite_payload(ids, payload) if request.overwrite else col.set_payload(ids, payload)
        return worker_pb2.WriteResponse(affected=n)

    def Search(self, request: Any, context: Any) -> Any:
        col = self._col(request.shard, context, "Search")
        queries = np.array([list(q.vector) for q in request.queries], dtype=np.float32)
        res = col.search_batch(
            queries, k=request.k, filter=json.loads(request.filter_json) if request.filter_json else None,
            ef=request.ef or None, with_payload=request.with_payload, with_vector=request.with_vector,
        )
        out = worker_pb2.SearchResponse()
        for hits in res:
            r = out.results.add()
            for h in hits:
                r.hits.add(
                    id=_to_pid(h.id), score=h.score,
                    payload_json="" if h.payload is None else json.dumps(h.payload),
                    vector=[] if h.vector is None else h.vector.tolist(),
                )
        return out

    def Scroll(self, request: Any, context: Any) -> Any:
        col = self._col(request.shard, context, "Scroll")
        recs, nxt = col.scroll(
            filter=json.loads(request.filter_json) if request.filter_json else None,
            limit=request.limit or 100,
            offset=_pid(request.offset) if request.HasField("offset") else None,
            with_payload=not request.without_payload, with_vector=request.with_vector,
        )
        out = worker_pb2.ScrollResponse(points=[self._point(r) for r in recs])
        if nxt is not None:
            out.next_offset.CopyFrom(_to_pid(nxt))
        return out

    def Count(self, request: Any, context: Any) -> Any:
        col = self._col(request.shard, context, "Count")
        return worker_pb2.CountResponse(count=col.count(json.loads(request.filter_json) if request.filter_json else None))


def serve_fake_worker(folder: pathlib.Path, lookup: Callable[[str], Any]) -> tuple[FakeWorker, GrpcServer]:
    worker = FakeWorker(folder, lookup)
    server = start_grpc_server(
        "127.0.0.1:0",
        lambda s: worker_pb2_grpc.add_WorkerServiceServicer_to_server(worker, s),
        ["vectron.v1.WorkerService"],
        interceptors=[ErrorMappingInterceptor()],
    )
    server.set_serving(True)
    return worker, server
