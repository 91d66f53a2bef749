"""Conversions from the gateway's plain answers to the REST response models.

Owns: auth users and keys, placement collection infos, the worker clients'
points, collection details and health turned into the pydantic shapes of the
REST API (the gRPC adapter renders the same answers to messages itself);
search results rendered straight to JSON bytes with orjson (no pydantic object
per hit; a payload that came from a worker as JSON text is embedded as is), in
the shape of :class:`~.models.SearchResponse` without its None fields; plus the
check and JSON of a request's filter.
"""

from __future__ import annotations

from typing import Any

import orjson

from vectron.services.auth.model import ApiKeyInfo, User
from vectron.services.gateway import models as m
from vectron.services.gateway.results import CollectionDetail, Health, SearchResult
from vectron.services.gateway.workers import Hit, Point
from vectron.store import compile_filter
from vectron.v1 import placement_pb2
from vectron.wire import filter_to_json

__all__ = [
    "user_out",
    "key_out",
    "collection_out",
    "collection_detail_out",
    "point_out",
    "search_json",
    "search_batch_json",
    "health_out",
    "checked_filter",
]


def user_out(user: User) -> m.UserOut:
    return m.UserOut(
        id=user.user_id, email=user.email, created_at=m.ms_to_iso(user.created_at_ms), plan=user.plan, disabled=user.disabled
    )


def key_out(info: ApiKeyInfo) -> m.ApiKeyOut:
    plan = info.plan
    return m.ApiKeyOut(
        id=info.key_id,
        name=info.name,
        prefix=f"vk_{info.key_id}",
        plan=plan.name,
        limits=m.PlanOut(
            requests_per_second=plan.requests_per_second,
            max_collections=plan.max_collections,
            max_points=plan.max_points,
            max_dimension=plan.max_dimension,
        ),
        scope=info.scope,
        created_at=m.ms_to_iso(info.created_at_ms),
        revoked=info.revoked,
        revoked_at=m.ms_to_iso(info.revoked_at_ms) if info.revoked_at_ms else None,
    )


def collection_out(info: placement_pb2.CollectionInfo) -> m.CollectionOut:
    """A collection as listed: its declared payload indexes (GET adds the automatic ones)."""
    return m.CollectionOut(
        name=info.name,
        dimension=info.dimension,
        distance=info.distance,
        shards=info.shard_count,
        replication_factor=info.replication_factor,
        hnsw={"m": info.hnsw.m, "ef_construct": info.hnsw.ef_construct, "ef": info.hnsw.ef},
        created_at=m.ms_to_iso(info.created_at_ms),
        payload_indexes=[m.PayloadIndexOut(field=i.field, type=i.type) for i in info.payload_indexes],
        auto_index=not info.auto_index_off,
    )


def point_out(p: Point) -> m.PointOut:
    return m.PointOut.model_construct(id=p.id, vector=p.vector, payload=p.payload)


def checked_filter(spec: dict[str, Any] | None) -> str:
    """The filter's JSON for the workers ("" for none), after checking it here: a bad filter
    is InvalidFilter (400, field "filter") before anything is sent."""
    if spec is not None:
        compile_filter(spec)
    return filter_to_json(spec)


def collection_detail_out(detail: CollectionDetail) -> m.CollectionOut:
    out = collection_out(detail.info)
    out.points_count = detail.points
    out.payload_indexes = [m.PayloadIndexOut(field=i.field, type=i.type, automatic=i.automatic) for i in detail.payload_indexes]
    out.shard_status = [
        m.ShardOut(
            shard_id=s.shard.shard_id,
            replicas=[m.ReplicaOut(worker_id=r.worker_id, grpc_address=r.grpc_address, raft_address=r.raft_address) for r in s.shard.replicas],
            leader=s.shard.leader_worker_id or None,
            status=s.status,
            points_count=s.points,
        )
        for s in detail.shards
    ]
    return out


def _hit(h: Hit) -> dict[str, Any]:
    out: dict[str, Any] = {"id": h.id, "score": h.score}
    if h.payload_json is not None:
        out["payload"] = orjson.Fragment(h.payload_json)
    elif h.payload is not None:
        out["payload"] = h.payload
    if h.vector is not None:
        out["vector"] = h.vector
    return out


def search_json(result: SearchResult) -> bytes:
    """A :class:`~.models.SearchResponse` as JSON (None fields left out)."""
    return orjson.dumps({
        "results": [_hit(h) for h in result.results[0]], "partial": result.partial, "failed_shards": result.failed_shards,
    })


def search_batch_json(result: SearchResult) -> bytes:
    """A :class:`~.models.SearchBatchResponse` as JSON (None fields left out)."""
    return orjson.dumps({
        "results": [[_hit(h) for h in hits] for hits in result.results], "partial": result.partial,
        "failed_shards": result.failed_shards,
    })


def health_out(health: Health) -> m.Health:
    return m.Health(status=health.status, checks=dict(health.checks))
