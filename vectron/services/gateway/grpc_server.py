"""The gRPC edge of the gateway: ``vectron.v1.VectronService``, a thin adapter over :class:`Gateway`.

Each method turns its message into the same pydantic request model the REST
route uses (so validation is shared), calls the one internal API, and turns the
answer back into a message. Errors are mapped once by
:mod:`vectron.services.grpc_errors`; a rate limit adds ``retry-after`` (seconds)
to the trailing metadata.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from pydantic import BaseModel, ValidationError

from vectron.errors import InvalidArgument, VectronError
from vectron.services.gateway import models as m
from vectron.errors import PartialWrite, RateLimited
from vectron.services.gateway.api import Gateway
from vectron.services.gateway.metrics import GatewayMetrics
from vectron.services.grpc_errors import ERROR_CODE_KEY, ERROR_FIELD_KEY, abort_with, status_code_for
from vectron.services.serving import GrpcServer, start_grpc_server
from vectron.v1 import gateway_pb2 as pb
from vectron.v1 import gateway_pb2_grpc, points_pb2

__all__ = ["SERVICE_NAME", "VectronServicer", "start_gateway_grpc"]

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["VectronService"].full_name
M = TypeVar("M", bound=BaseModel)


def _credential(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key.lower() == "authorization":
            scheme, _, token = str(value).strip().partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def _model(cls: type[M], data: dict[str, Any]) -> M:
    """Validate like the REST edge does; a ValidationError becomes InvalidArgument naming the field."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        raise InvalidArgument(f"{field}: {first.get('msg')}" if field else str(first.get("msg")), field=field) from None


def _json(text: str, field: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"{field} is not valid JSON: {exc}", field=field) from None


def _pid(msg: points_pb2.PointId) -> Any:
    kind = msg.WhichOneof("kind")
    if kind is None:
        raise InvalidArgument("a point id (num or str) is required", field="id")
    return getattr(msg, kind)


def _to_pid(pid: int | str) -> points_pb2.PointId:
    return points_pb2.PointId(num=pid) if isinstance(pid, int) else points_pb2.PointId(str=pid)


def _point(p: m.PointOut) -> points_pb2.Point:
    return points_pb2.Point(
        id=_to_pid(p.id), vector=p.vector or [], payload_json="" if p.payload is None else json.dumps(p.payload)
    )


def _hit(h: m.Hit) -> points_pb2.ScoredPoint:
    return points_pb2.ScoredPoint(
        id=_to_pid(h.id), score=h.score, vector=h.vector or [],
        payload_json="" if h.payload is None else json.dumps(h.payload),
    )


def _user(u: m.UserOut) -> pb.UserView:
    return pb.UserView(id=u.id, email=u.email, created_at=u.created_at)


def _key(k: m.ApiKeyOut) -> pb.KeyView:
    return pb.KeyView(
        id=k.id, name=k.name, prefix=k.prefix, plan=k.plan, scope=k.scope, created_at=k.created_at,
        revoked=k.revoked, revoked_at=k.revoked_at or "", requests_per_second=k.limits.requests_per_second,
        max_collections=k.limits.max_collections, max_points=k.limits.max_points, max_dimension=k.limits.max_dimension,
    )


def _collection(c: m.CollectionOut) -> pb.CollectionView:
    out = pb.CollectionView(
        name=c.name, dimension=c.dimension, distance=c.distance, shards=c.shards, replication_factor=c.replication_factor,
        hnsw=pb.CollectionSpecHnsw(**c.hnsw), created_at=c.created_at,
        points_count=-1 if c.points_count is None else c.points_count,
    )
    for s in c.shard_status or ():
        out.shard_status.add(
            shard_id=s.shard_id, replicas=[r.worker_id for r in s.replicas], leader=s.leader or "", status=s.status,
            points_count=-1 if s.points_count is None else s.points_count,
        )
    return out


def _consistency(value: str) -> str | None:
    return value or None


def _search_model(r: pb.SearchPointsRequest) -> dict[str, Any]:
    return {
        "vector": list(r.vector),
        "top_k": r.top_k or 10,
        "filter": _json(r.filter_json, "filter_json"),
        "ef": r.ef or None,
        "score_threshold": r.score_threshold if r.HasField("score_threshold") else None,
        "with_payload": not r.without_payload,
        "with_vector": r.with_vector,
        "consistency": _consistency(r.consistency),
        "allow_partial": r.allow_partial,
    }


def _rpc(operation: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Map errors (with retry-after on rate limits) and record metrics for one RPC."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(self: VectronServicer, request: Any, context: grpc.ServicerContext) -> Any:
            start = time.perf_counter()
            status = "OK"
            try:
                return method(self, request, context)
            except RateLimited as exc:
                status = exc.grpc_code
                trailers = [(ERROR_CODE_KEY, exc.code), ("retry-after", str(max(1, math.ceil(exc.retry_after))))]
                if exc.field:
                    trailers.append((ERROR_FIELD_KEY, exc.field))
                context.set_trailing_metadata(tuple(trailers))
                context.abort(status_code_for(exc), exc.message)
            except PartialWrite as exc:
                status = exc.grpc_code
                context.set_trailing_metadata((
                    (ERROR_CODE_KEY, exc.code),
                    ("vectron-written", json.dumps(exc.written)),
                    ("vectron-failed", json.dumps(exc.failed)),
                    ("vectron-unknown", json.dumps(exc.unknown)),
                ))
                context.abort(status_code_for(exc), exc.message)
            except VectronError as exc:
                status = exc.grpc_code
                abort_with(context, exc)
            except Exception:
                if context.code() is not None:  # an abort already in flight
                    raise
                status = "INTERNAL"
                log.exception("%s: unexpected error", operation)
                context.abort(grpc.StatusCode.INTERNAL, "internal error")
            finally:
                self.metrics.observe("grpc", operation, status, time.perf_counter() - start)

        return wrapper

    return wrap


class VectronServicer(gateway_pb2_grpc.VectronServiceServicer):
    def __init__(self, gateway: Gateway, metrics: GatewayMetrics | None = None) -> None:
        self.g = gateway
        self.metrics = metrics or GatewayMetrics()

    # -- accounts ----------------------------------------------------------------------
    @_rpc("register")
    def Register(self, request: pb.Credentials, context: grpc.ServicerContext) -> pb.UserReply:
        body = _model(m.Credentials, {"email": request.email, "password": request.password})
        return pb.UserReply(user=_user(self.g.register(body).user))

    @_rpc("login")
    def Login(self, request: pb.Credentials, context: grpc.ServicerContext) -> pb.LoginReply:
        r = self.g.login(_model(m.Credentials, {"email": request.email, "password": request.password}))
        return pb.LoginReply(token=r.token, expires_at=r.expires_at, user=_user(r.user))

    @_rpc("profile")
    def GetProfile(self, request: pb.ProfileRequest, context: grpc.ServicerContext) -> pb.UserReply:
        return pb.UserReply(user=_user(self.g.profile(_credential(context)).user))

    @_rpc("create_key")
    def CreateKey(self, request: pb.CreateKeyRequest, context: grpc.ServicerContext) -> pb.CreateKeyReply:
        body = _model(m.CreateKeyRequest, {"name": request.name, "plan": request.plan or None, "scope": request.scope or None})
        r = self.g.create_key(_credential(context), body)
        return pb.CreateKeyReply(key=r.key, api_key=_key(r.api_key))

    @_rpc("list_keys")
    def ListKeys(self, request: pb.ListKeysRequest, context: grpc.ServicerContext) -> pb.ListKeysReply:
        return pb.ListKeysReply(api_keys=[_key(k) for k in self.g.list_keys(_credential(context)).api_keys])

    @_rpc("revoke_key")
    def RevokeKey(self, request: pb.RevokeKeyRequest, context: grpc.ServicerContext) -> pb.KeyReply:
        return pb.KeyReply(api_key=_key(self.g.revoke_key(_credential(context), request.key_id).api_key))

    # -- collections -------------------------------------------------------------------
    @_rpc("create_collection")
    def CreateCollection(self, request: pb.CreateCollectionSpec, context: grpc.ServicerContext) -> pb.CollectionReply:
        hnsw = {k: v for k, v in (("m", request.hnsw.m), ("ef_construct", request.hnsw.ef_construct), ("ef", request.hnsw.ef)) if v}
        body = _model(m.CreateCollectionRequest, {
            "dimension": request.dimension, "distance": request.distance or "cosine", "shards": request.shards or None,
            "replication_factor": request.replication_factor or None, "hnsw": hnsw or None,
        })
        return pb.CollectionReply(collection=_collection(self.g.create_collection(_credential(context), request.name, body).collection))

    @_rpc("list_collections")
    def ListCollections(self, request: pb.ListCollectionsSpec, context: grpc.ServicerContext) -> pb.CollectionsReply:
        return pb.CollectionsReply(collections=[_collection(c) for c in self.g.list_collections(_credential(context)).collections])

    @_rpc("get_collection")
    def GetCollection(self, request: pb.CollectionName, context: grpc.ServicerContext) -> pb.CollectionReply:
        return pb.CollectionReply(collection=_collection(self.g.get_collection(_credential(context), request.name).collection))

    @_rpc("drop_collection")
    def DropCollection(self, request: pb.CollectionName, context: grpc.ServicerContext) -> pb.DropReply:
        return pb.DropReply(dropped=self.g.drop_collection(_credential(context), request.name).dropped)

    # -- points ------------------------------------------------------------------------
    @_rpc("upsert")
    def Upsert(self, request: pb.UpsertPointsRequest, context: grpc.ServicerContext) -> pb.UpsertPointsReply:
        points = [
            {"id": _pid(p.id), "vector": list(p.vector), "payload": _json(p.payload_json, f"points[{i}].payload_json")}
            for i, p in enumerate(request.points)
        ]
        body = _model(m.UpsertRequest, {"points": points})
        return pb.UpsertPointsReply(upserted=self.g.upsert(_credential(context), request.collection, body).upserted)

    @_rpc("get")
    def Get(self, request: pb.GetPointsRequest, context: grpc.ServicerContext) -> pb.PointsReply:
        body = _model(m.GetPointsRequest, {
            "ids": [_pid(i) for i in request.ids], "with_vector": request.with_vector,
            "with_payload": not request.without_payload, "consistency": _consistency(request.consistency),
        })
        return pb.PointsReply(points=[_point(p) for p in self.g.get_points(_credential(context), request.collection, body).points])

    @_rpc("delete")
    def Delete(self, request: pb.DeletePointsRequest, context: grpc.ServicerContext) -> pb.CountReply:
        body = _model(m.DeletePointsRequest, {
            "ids": [_pid(i) for i in request.ids] if request.ids else None, "filter": _json(request.filter_json, "filter_json"),
        })
        return pb.CountReply(count=self.g.delete_points(_credential(context), request.collection, body).deleted)

    @_rpc("scroll")
    def Scroll(self, request: pb.ScrollPointsRequest, context: grpc.ServicerContext) -> pb.ScrollPointsReply:
        body = _model(m.ScrollRequest, {
            "filter": _json(request.filter_json, "filter_json"), "limit": request.limit or 100,
            "offset": _pid(request.offset) if request.HasField("offset") else None,
            "with_vector": request.with_vector, "with_payload": not request.without_payload,
            "consistency": _consistency(request.consistency),
        })
        r = self.g.scroll(_credential(context), request.collection, body)
        out = pb.ScrollPointsReply(points=[_point(p) for p in r.points])
        if r.next_offset is not None:
            out.next_offset.CopyFrom(_to_pid(r.next_offset))
        return out

    @_rpc("count")
    def Count(self, request: pb.CountPointsRequest, context: grpc.ServicerContext) -> pb.CountReply:
        body = _model(m.CountRequest, {"filter": _json(request.filter_json, "filter_json"), "consistency": _consistency(request.consistency)})
        return pb.CountReply(count=self.g.count(_credential(context), request.collection, body).count)

    @_rpc("set_payload")
    def SetPayload(self, request: pb.SetPayloadPointsRequest, context: grpc.ServicerContext) -> pb.CountReply:
        body = _model(m.SetPayloadRequest, {
            "ids": [_pid(i) for i in request.ids], "payload": _json(request.payload_json, "payload_json"), "overwrite": request.overwrite,
        })
        return pb.CountReply(count=self.g.set_payload(_credential(context), request.collection, body).updated)

    @_rpc("search")
    def Search(self, request: pb.SearchPointsRequest, context: grpc.ServicerContext) -> pb.SearchPointsReply:
        body = _model(m.SearchRequest, _search_model(request))
        r = self.g.search(_credential(context), request.collection, body)
        return pb.SearchPointsReply(results=[_hit(h) for h in r.results], partial=r.partial, failed_shards=r.failed_shards)

    @_rpc("search_batch")
    def SearchBatch(self, request: pb.SearchBatchPointsRequest, context: grpc.ServicerContext) -> pb.SearchBatchPointsReply:
        body = _model(m.SearchBatchRequest, {"searches": [_search_model(s) for s in request.searches]})
        r = self.g.search_batch(_credential(context), request.collection, body)
        return pb.SearchBatchPointsReply(
            results=[pb.SearchHits(hits=[_hit(h) for h in hits]) for hits in r.results],
            partial=r.partial, failed_shards=r.failed_shards,
        )


def start_gateway_grpc(gateway: Gateway, listen: str, *, metrics: GatewayMetrics | None = None, max_workers: int = 32) -> GrpcServer:
    """Serve VectronService on ``listen`` (health SERVING at once; reflection on)."""
    server = start_grpc_server(
        listen,
        lambda s: gateway_pb2_grpc.add_VectronServiceServicer_to_server(VectronServicer(gateway, metrics), s),
        [SERVICE_NAME],
        max_workers=max_workers,
    )
    server.set_serving(True)
    return server
