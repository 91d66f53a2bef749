"""The gRPC edge of the gateway: ``vectron.v1.VectronService``, a thin adapter over :class:`Gateway`.

Each method turns its message into the same pydantic request model the REST
route uses (so validation is shared), calls the one internal API, and renders
its plain answer (points, hits, users, collection infos) straight into a message. Errors are mapped once by
:mod:`vectron.services.grpc_errors`; a rate limit adds ``retry-after`` (seconds)
to the trailing metadata.

:class:`CredentialInterceptor` runs before any handler and before the request
message is read: an account or admin RPC without a session token, or a data RPC
without a valid API key of an enabled account, ends with UNAUTHENTICATED (or
PERMISSION_DENIED) and its message is never read or deserialized. The server
takes messages up to the REST body limit and bounds streams and connection age.
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
import orjson
from pydantic import BaseModel, ValidationError

from vectron.errors import InvalidArgument, PartialWrite, RateLimited, ResourceExhausted, VectronError
from vectron.limits import MAX_BODY_BYTES
from vectron.services.auth.model import ApiKeyInfo, User
from vectron.services.gateway import models as m
from vectron.services.gateway.api import Gateway
from vectron.services.gateway.metrics import GatewayMetrics
from vectron.services.gateway.results import CollectionDetail
from vectron.services.gateway.workers import Hit, Point
from vectron.services.grpc_errors import ERROR_CODE_KEY, ERROR_FIELD_KEY, abort_with, status_code_for
from vectron.services.serving import GrpcServer, start_grpc_server
from vectron.v1 import gateway_pb2 as pb
from vectron.v1 import gateway_pb2_grpc, placement_pb2, points_pb2
from vectron.wire import PointId, id_from_proto, id_to_proto

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


def _peer_host(context: grpc.ServicerContext) -> str:
    """The client's address from ``context.peer()`` (``ipv4:1.2.3.4:5678``, ``ipv6:[::1]:5678``)."""
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    if kind in ("ipv4", "ipv6"):
        return rest.rpartition(":")[0].strip("[]")
    return peer


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


def _pid(msg: points_pb2.PointId) -> PointId:
    return id_from_proto(msg, "id")


def _payload_json(payload: dict[str, Any] | None) -> str:
    return "" if payload is None else orjson.dumps(payload).decode()


def _point(p: Point) -> points_pb2.Point:
    return points_pb2.Point(id=id_to_proto(p.id), vector=p.vector or [], payload_json=_payload_json(p.payload))


def _hit(h: Hit) -> points_pb2.ScoredPoint:
    # a payload that came from a worker as JSON text goes on as it is
    payload = h.payload_json if h.payload_json is not None else _payload_json(h.payload)
    return points_pb2.ScoredPoint(id=id_to_proto(h.id), score=h.score, vector=h.vector or [], payload_json=payload)


def _user(u: User) -> pb.UserView:
    return pb.UserView(id=u.user_id, email=u.email, created_at=m.ms_to_iso(u.created_at_ms), plan=u.plan, disabled=u.disabled)


def _key(k: ApiKeyInfo) -> pb.KeyView:
    plan = k.plan
    return pb.KeyView(
        id=k.key_id, name=k.name, prefix=f"vk_{k.key_id}", plan=plan.name, scope=k.scope, created_at=m.ms_to_iso(k.created_at_ms),
        revoked=k.revoked, revoked_at=m.ms_to_iso(k.revoked_at_ms) if k.revoked_at_ms else "",
        requests_per_second=plan.requests_per_second, max_collections=plan.max_collections, max_points=plan.max_points,
        max_dimension=plan.max_dimension,
    )


def _collection(info: placement_pb2.CollectionInfo, detail: CollectionDetail | None = None) -> pb.CollectionView:
    out = pb.CollectionView(
        name=info.name, dimension=info.dimension, distance=info.distance, shards=info.shard_count,
        replication_factor=info.replication_factor,
        hnsw=pb.CollectionSpecHnsw(m=info.hnsw.m, ef_construct=info.hnsw.ef_construct, ef=info.hnsw.ef),
        created_at=m.ms_to_iso(info.created_at_ms),
        points_count=-1 if detail is None or detail.points is None else detail.points,
        auto_index=not info.auto_index_off,
    )
    if detail is None:
        out.payload_indexes.extend(pb.PayloadIndexView(field=i.field, type=i.type) for i in info.payload_indexes)
    else:
        out.payload_indexes.extend(pb.PayloadIndexView(field=i.field, type=i.type, automatic=i.automatic) for i in detail.payload_indexes)
    for s in detail.shards if detail is not None else ():
        out.shard_status.add(
            shard_id=s.shard.shard_id, replicas=[r.worker_id for r in s.shard.replicas], leader=s.shard.leader_worker_id,
            status=s.status, points_count=-1 if s.points is None else s.points,
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
            except ResourceExhausted as exc:  # every one says when to come back (plan limits: a minute)
                status = exc.grpc_code
                wait = exc.retry_after if isinstance(exc, RateLimited) else 60
                trailers = [(ERROR_CODE_KEY, exc.code), ("retry-after", str(max(1, math.ceil(wait))))]
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
                collection = getattr(request, "collection", None) if status == "OK" else None  # see rest._Observe
                self.metrics.observe(
                    "grpc", operation, status, time.perf_counter() - start, collection if isinstance(collection, str) else None
                )

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
        return pb.UserReply(user=_user(self.g.register(body, _peer_host(context))))

    @_rpc("login")
    def Login(self, request: pb.Credentials, context: grpc.ServicerContext) -> pb.LoginReply:
        r = self.g.login(_model(m.Credentials, {"email": request.email, "password": request.password}), _peer_host(context))
        return pb.LoginReply(token=r.token, expires_at=m.ms_to_iso(r.expires_at_ms), user=_user(r.user))

    @_rpc("profile")
    def GetProfile(self, request: pb.ProfileRequest, context: grpc.ServicerContext) -> pb.UserReply:
        return pb.UserReply(user=_user(self.g.profile(_credential(context))))

    @_rpc("create_key")
    def CreateKey(self, request: pb.CreateKeyRequest, context: grpc.ServicerContext) -> pb.CreateKeyReply:
        body = _model(m.CreateKeyRequest, {"name": request.name, "plan": request.plan or None, "scope": request.scope or None})
        r = self.g.create_key(_credential(context), body)
        return pb.CreateKeyReply(key=r.key, api_key=_key(r.info))

    @_rpc("list_keys")
    def ListKeys(self, request: pb.ListKeysRequest, context: grpc.ServicerContext) -> pb.ListKeysReply:
        return pb.ListKeysReply(api_keys=[_key(k) for k in self.g.list_keys(_credential(context))])

    @_rpc("revoke_key")
    def RevokeKey(self, request: pb.RevokeKeyRequest, context: grpc.ServicerContext) -> pb.KeyReply:
        return pb.KeyReply(api_key=_key(self.g.revoke_key(_credential(context), request.key_id)))

    # -- administration ----------------------------------------------------------------
    @_rpc("admin_list_users")
    def AdminListUsers(self, request: pb.ListUsersSpec, context: grpc.ServicerContext) -> pb.AdminUsersReply:
        users, nxt = self.g.admin.list_users(self.g.session(_credential(context)), request.after, request.limit)
        return pb.AdminUsersReply(users=[_user(u) for u in users], next_after=nxt)

    @_rpc("admin_set_plan")
    def AdminSetPlan(self, request: pb.SetPlanSpec, context: grpc.ServicerContext) -> pb.UserReply:
        return pb.UserReply(user=_user(self.g.admin.set_plan(self.g.session(_credential(context)), request.user, request.plan)))

    @_rpc("admin_set_disabled")
    def AdminSetDisabled(self, request: pb.SetDisabledSpec, context: grpc.ServicerContext) -> pb.UserReply:
        user = self.g.admin.set_disabled(self.g.session(_credential(context)), request.user, request.disabled)
        return pb.UserReply(user=_user(user))

    @_rpc("admin_delete_user")
    def AdminDeleteUser(self, request: pb.DeleteUserSpec, context: grpc.ServicerContext) -> pb.AdminDeleteReply:
        user, dropped = self.g.admin.delete_user(self.g.session(_credential(context)), request.user)
        return pb.AdminDeleteReply(user=_user(user), collections_dropped=dropped)

    # -- collections -------------------------------------------------------------------
    @_rpc("create_collection")
    def CreateCollection(self, request: pb.CreateCollectionSpec, context: grpc.ServicerContext) -> pb.CollectionReply:
        hnsw = {k: v for k, v in (("m", request.hnsw.m), ("ef_construct", request.hnsw.ef_construct), ("ef", request.hnsw.ef)) if v}
        body = _model(m.CreateCollectionRequest, {
            "dimension": request.dimension, "distance": request.distance or "cosine", "shards": request.shards or None,
            "replication_factor": request.replication_factor or None, "hnsw": hnsw or None,
            "payload_indexes": [{"field": i.field, "type": i.type} for i in request.payload_indexes] or None,
            "auto_index": not request.auto_index_off,
        })
        return pb.CollectionReply(collection=_collection(self.g.create_collection(_credential(context), request.name, body)))

    @_rpc("list_collections")
    def ListCollections(self, request: pb.ListCollectionsSpec, context: grpc.ServicerContext) -> pb.CollectionsReply:
        return pb.CollectionsReply(collections=[_collection(c) for c in self.g.list_collections(_credential(context))])

    @_rpc("get_collection")
    def GetCollection(self, request: pb.CollectionName, context: grpc.ServicerContext) -> pb.CollectionReply:
        detail = self.g.get_collection(_credential(context), request.name)
        return pb.CollectionReply(collection=_collection(detail.info, detail))

    @_rpc("drop_collection")
    def DropCollection(self, request: pb.CollectionName, context: grpc.ServicerContext) -> pb.DropReply:
        self.g.drop_collection(_credential(context), request.name)
        return pb.DropReply(dropped=True)

    @_rpc("create_payload_index")
    def CreatePayloadIndex(self, request: pb.PayloadIndexSpecRequest, context: grpc.ServicerContext) -> pb.PayloadIndexReply:
        body = _model(m.PayloadIndexIn, {"field": request.field, "type": request.type})
        return pb.PayloadIndexReply(changed=self.g.create_payload_index(_credential(context), request.collection, body))

    @_rpc("drop_payload_index")
    def DropPayloadIndex(self, request: pb.PayloadIndexSpecRequest, context: grpc.ServicerContext) -> pb.PayloadIndexReply:
        return pb.PayloadIndexReply(changed=self.g.drop_payload_index(_credential(context), request.collection, request.field))

    # -- points ------------------------------------------------------------------------
    @_rpc("upsert")
    def Upsert(self, request: pb.UpsertPointsRequest, context: grpc.ServicerContext) -> pb.UpsertPointsReply:
        points = [
            {"id": _pid(p.id), "vector": list(p.vector), "payload": _json(p.payload_json, f"points[{i}].payload_json")}
            for i, p in enumerate(request.points)
        ]
        body = _model(m.UpsertRequest, {"points": points})
        return pb.UpsertPointsReply(upserted=self.g.upsert(_credential(context), request.collection, body))

    @_rpc("get")
    def Get(self, request: pb.GetPointsRequest, context: grpc.ServicerContext) -> pb.PointsReply:
        body = _model(m.GetPointsRequest, {
            "ids": [_pid(i) for i in request.ids], "with_vector": request.with_vector,
            "with_payload": not request.without_payload, "consistency": _consistency(request.consistency),
        })
        return pb.PointsReply(points=[_point(p) for p in self.g.get_points(_credential(context), request.collection, body)])

    @_rpc("delete")
    def Delete(self, request: pb.DeletePointsRequest, context: grpc.ServicerContext) -> pb.CountReply:
        body = _model(m.DeletePointsRequest, {
            "ids": [_pid(i) for i in request.ids] if request.ids else None, "filter": _json(request.filter_json, "filter_json"),
        })
        return pb.CountReply(count=self.g.delete_points(_credential(context), request.collection, body))

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
            out.next_offset.CopyFrom(id_to_proto(r.next_offset))
        return out

    @_rpc("count")
    def Count(self, request: pb.CountPointsRequest, context: grpc.ServicerContext) -> pb.CountReply:
        body = _model(m.CountRequest, {"filter": _json(request.filter_json, "filter_json"), "consistency": _consistency(request.consistency)})
        return pb.CountReply(count=self.g.count(_credential(context), request.collection, body))

    @_rpc("set_payload")
    def SetPayload(self, request: pb.SetPayloadPointsRequest, context: grpc.ServicerContext) -> pb.CountReply:
        body = _model(m.SetPayloadRequest, {
            "ids": [_pid(i) for i in request.ids], "payload": _json(request.payload_json, "payload_json"), "overwrite": request.overwrite,
        })
        return pb.CountReply(count=self.g.set_payload(_credential(context), request.collection, body))

    @_rpc("search")
    def Search(self, request: pb.SearchPointsRequest, context: grpc.ServicerContext) -> pb.SearchPointsReply:
        body = _model(m.SearchRequest, _search_model(request))
        r = self.g.search(_credential(context), request.collection, body)
        return pb.SearchPointsReply(results=[_hit(h) for h in r.results[0]], partial=r.partial, failed_shards=r.failed_shards)

    @_rpc("search_batch")
    def SearchBatch(self, request: pb.SearchBatchPointsRequest, context: grpc.ServicerContext) -> pb.SearchBatchPointsReply:
        body = _model(m.SearchBatchRequest, {"searches": [_search_model(s) for s in request.searches]})
        r = self.g.search_batch(_credential(context), request.collection, body)
        return pb.SearchBatchPointsReply(
            results=[pb.SearchHits(hits=[_hit(h) for h in hits]) for hits in r.results],
            partial=r.partial, failed_shards=r.failed_shards,
        )


#: RPCs that take no credential; those that take a session token; every other one takes an API key
OPEN_RPCS = frozenset({"Register", "Login"})
SESSION_RPCS = frozenset({"GetProfile", "CreateKey", "ListKeys", "RevokeKey", "AdminListUsers", "AdminSetPlan", "AdminSetDisabled", "AdminDeleteUser"})


class CredentialInterceptor(grpc.ServerInterceptor):
    """Credentials before messages (see the module docstring)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._prefix = f"/{SERVICE_NAME}/"

    def intercept_service(self, continuation: Callable[[Any], Any], details: grpc.HandlerCallDetails) -> Any:
        method: str = details.method or ""
        if not method.startswith(self._prefix) or method[len(self._prefix):] in OPEN_RPCS:
            return continuation(details)
        token = None
        for key, value in details.invocation_metadata or ():
            if key.lower() == "authorization":
                scheme, _, rest = str(value).strip().partition(" ")
                token = rest.strip() if scheme.lower() == "bearer" and rest.strip() else None
                break
        try:
            if method[len(self._prefix):] in SESSION_RPCS:
                self.gateway.session(token)
            else:
                self.gateway.check_key(token)
        except VectronError as exc:
            return _refusal(exc)
        return continuation(details)


def _refusal(error: VectronError) -> grpc.RpcMethodHandler:
    """A handler that ends the call with ``error`` without reading its request (a
    request-streaming handler is only handed an iterator, which it never touches)."""

    def refuse(requests: Any, context: grpc.ServicerContext) -> Any:
        abort_with(context, error)

    return grpc.stream_unary_rpc_method_handler(refuse)


def start_gateway_grpc(
    gateway: Gateway, listen: str, *, metrics: GatewayMetrics | None = None, max_workers: int = 32,
    max_message_bytes: int = MAX_BODY_BYTES,
) -> GrpcServer:
    """Serve VectronService on ``listen`` (health SERVING at once; reflection on), checking
    credentials before messages, taking messages up to ``max_message_bytes``."""
    server = start_grpc_server(
        listen,
        lambda s: gateway_pb2_grpc.add_VectronServiceServicer_to_server(VectronServicer(gateway, metrics), s),
        [SERVICE_NAME],
        max_workers=max_workers,
        interceptors=[CredentialInterceptor(gateway)],
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_concurrent_streams", 64),
            ("grpc.max_connection_age_ms", 30 * 60 * 1000),
            ("grpc.max_connection_age_grace_ms", 60 * 1000),
            ("grpc.max_connection_idle_ms", 5 * 60 * 1000),
        ],
    )
    server.set_serving(True)
    return server
