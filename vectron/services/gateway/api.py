"""The gateway's internal API: one method per public operation, shared by REST and gRPC.

:class:`Gateway` authenticates the caller, enforces plans, and turns each call
into calls on the services behind it; it returns plain data (the dataclasses
of :mod:`.results`, the auth service's :class:`~vectron.services.auth.model.User` and
friends, the placement driver's collection infos) that the REST and gRPC
adapters each render, and raises only :mod:`vectron.errors`:

* **auth** (:class:`AuthBackend`): account operations take the caller's session
  token and pass it on; data operations take an API key, validated through a
  short-lived :class:`~vectron.services.auth.api_keys.ApiKeyCache` (a revoked
  key stops working within its TTL). The other kind of credential is refused (401).
* **placement** (:class:`~vectron.services.gateway.routing.PlacementBackend`):
  collections are namespaced by the key's user (another user's collection is
  simply not found: 404); routing tables are cached (:mod:`.routing`).
* **workers** (:class:`~vectron.services.gateway.workers.WorkerClients`): upsert
  groups points by shard (the placement driver's stable hash) and sends one
  batch per shard, in parallel; search fans out to every shard and merges the
  per-shard top-k into the exact global top-k (:mod:`.merge`). Retries, the
  deadline and partial-write accounting live in :mod:`.shard_calls`.

What still fails after the retries is reported, never hidden: a write whose
batch failed on some shards raises :class:`~vectron.errors.PartialWrite` naming
the ids written, not written and unknown; a search with a shard that cannot
answer raises 503 unless the request allows partial results, in which case the
answer says so.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from vectron.errors import (
    CollectionNotFound,
    DimensionMismatch,
    InvalidArgument,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    VectronError,
)
from vectron.limits import MAX_BATCH_POINTS, MAX_SEARCH_HITS, check_answer_size, request_cost
from vectron.services.auth.api_keys import ApiKeyCache
from vectron.services.auth.model import ApiKeyInfo, CreatedKey, KeyValidation, LoginResult, Plan, User
from vectron.services.gateway import models as m
from vectron.services.gateway.admin import Admin, AdminBackend
from vectron.services.gateway.convert import checked_filter
from vectron.services.gateway.limits import TokenBucketLimiter
from vectron.services.gateway.merge import in_order, scroll_page, top_k
from vectron.services.gateway.results import CollectionDetail, Health, Page, SearchResult, ShardState
from vectron.services.gateway.routing import PlacementBackend, Router, RoutingCache
from vectron.services.gateway.shard_calls import CallPolicy, ShardCaller, settle_writes, worst
from vectron.services.gateway.workers import (
    Hit,
    Point,
    PointWrite,
    SearchSpec,
    ShardTarget,
    WorkerClient,
    WorkerClients,
    WorkerPool,
)
from vectron.services.placement.routing import group_by_shard
from vectron.store import IndexInfo, check_index_field
from vectron.v1 import placement_pb2
from vectron.wire import PointId, id_order, payload_to_json

__all__ = ["AuthBackend", "Gateway", "GatewayConfig", "Principal"]

log = logging.getLogger(__name__)


class AuthBackend(AdminBackend, Protocol):
    """What the gateway needs of the auth service (AuthClient has exactly these methods)."""

    def register_user(self, email: str, password: str, client_address: str = "") -> User: ...

    def login(self, email: str, password: str, client_address: str = "") -> LoginResult: ...

    def get_user_profile(self, token: str) -> User: ...

    def create_api_key(self, token: str, name: str, scope: str = "") -> CreatedKey: ...

    def list_api_keys(self, token: str) -> list[ApiKeyInfo]: ...

    def revoke_api_key(self, token: str, key_id: str) -> ApiKeyInfo: ...

    def validate_api_key(self, key: str) -> KeyValidation: ...


@dataclass(frozen=True)
class GatewayConfig:
    #: seconds a key validation is cached (a revocation takes effect within this)
    key_cache_ttl: float = 5.0
    #: seconds a routing table is trusted before it is fetched again
    routing_ttl: float = 5.0
    #: longest single shard call
    call_timeout: float = 10.0
    #: retries of a shard call: attempts and total time, the deadline every attempt passes
    #: down (a new collection's shards open on the workers' next heartbeat; a leader
    #: election takes a second or two)
    retry_attempts: int = 40
    retry_deadline: float = 15.0
    #: defaults of new collections
    default_shards: int = 1
    default_replication_factor: int = 1
    max_batch_points: int = MAX_BATCH_POINTS
    fanout_threads: int = 64
    #: readiness ignores a worker not heard from for this long (seconds): it is dead, not late
    dead_worker_after: float = 300.0


@dataclass(frozen=True)
class Principal:
    """The caller of a data operation: a validated API key."""

    user_id: str
    key_id: str
    plan: Plan
    scope: str


def _bearer_kind(credential: str | None) -> str:
    if not credential:
        return "none"
    return "api_key" if credential.startswith("vk_") else "session"


def _check_vector(vector: Sequence[float], info: placement_pb2.CollectionInfo, where: str) -> None:
    if len(vector) != info.dimension:
        raise DimensionMismatch(f"{where}: expected dimension {info.dimension}, got {len(vector)}", field=where)
    # NaN and infinities are refused by the request models (allow_inf_nan=False)
    if info.distance == "cosine" and not any(vector):
        raise InvalidArgument(f"{where}: a zero vector has no cosine similarity", field=where)


class Gateway:
    """The one internal API of the gateway (see the module docstring)."""

    def __init__(
        self,
        auth: AuthBackend,
        placement: PlacementBackend,
        workers: WorkerClients | None = None,
        config: GatewayConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        ready_check: Callable[[], dict[str, bool]] | None = None,
    ) -> None:
        self.config = config or GatewayConfig()
        self.auth = auth
        self.placement = placement
        self.workers = workers or WorkerPool()
        self.keys = ApiKeyCache(auth.validate_api_key, ttl=self.config.key_cache_ttl, clock=clock)
        self.routing = RoutingCache(placement, ttl=self.config.routing_ttl, clock=clock)
        self.limiter = TokenBucketLimiter(clock=clock)
        self.admin = Admin(auth, placement, self.routing, self.keys)
        self._pool = ThreadPoolExecutor(max_workers=self.config.fanout_threads, thread_name_prefix="fanout")
        policy = CallPolicy(call_timeout=self.config.call_timeout, attempts=self.config.retry_attempts, deadline=self.config.retry_deadline)
        self.shards = ShardCaller(self.routing, Router(), self.workers, self._pool, policy)
        self._ready_check = ready_check
        #: more readiness checks by name (e.g. the co-located worker's shards have leaders)
        self.extra_ready_checks: dict[str, Callable[[], bool]] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.workers.close()

    # -- credentials -----------------------------------------------------------------
    @staticmethod
    def session(token: str | None) -> str:
        kind = _bearer_kind(token)
        if kind == "none":
            raise Unauthenticated("a session token is required: Authorization: Bearer <token from login>")
        if kind == "api_key":
            raise Unauthenticated("account routes take a session token (from login), not an API key")
        assert token is not None
        return token

    def check_key(self, api_key: str | None) -> KeyValidation:
        """The cached validation of a live API key of an enabled account; Unauthenticated
        (no key, a session token, an unknown or revoked key) or PermissionDenied (the
        account is disabled) otherwise. Also what the edges call before reading a body."""
        kind = _bearer_kind(api_key)
        if kind == "none":
            raise Unauthenticated("an API key is required: Authorization: Bearer vk_...")
        if kind == "session":
            raise Unauthenticated("data routes take an API key, not a session token")
        assert api_key is not None
        v = self.keys.get(api_key)
        if v.disabled:
            raise PermissionDenied("this account is disabled; ask an administrator")
        if not v.valid or v.plan is None:
            raise Unauthenticated("invalid or revoked API key")
        return v

    def authorize(self, api_key: str | None, *, write: bool = False, cost: int = 1) -> Principal:
        """Validate an API key (cached), charge the request's cost to its account's rate
        limit (all the account's keys share one bucket per gateway), check its scope."""
        v = self.check_key(api_key)
        wait = self.limiter.acquire(v.user_id, v.plan.requests_per_second, cost)
        if wait > 0:
            raise RateLimited(
                f"rate limit of plan {v.plan.name!r} ({v.plan.requests_per_second} units/s per account; this request "
                f"costs {cost}) exceeded",
                retry_after=wait,
            )
        if write and v.scope == "read-only":
            raise PermissionDenied("this API key is read-only")
        return Principal(user_id=v.user_id, key_id=v.key_id, plan=v.plan, scope=v.scope)

    # -- accounts --------------------------------------------------------------------
    def register(self, req: m.Credentials, client_address: str = "") -> User:
        return self.auth.register_user(req.email, req.password, client_address)

    def login(self, req: m.Credentials, client_address: str = "") -> LoginResult:
        """``client_address``: the caller's address, for the login throttles (see auth/throttle.py)."""
        return self.auth.login(req.email, req.password, client_address)

    def profile(self, token: str | None) -> User:
        return self.auth.get_user_profile(self.session(token))

    def create_key(self, token: str | None, req: m.CreateKeyRequest) -> CreatedKey:
        token = self.session(token)
        if req.plan is not None:
            raise InvalidArgument(
                "plan: a key has its account's plan; plans are set by an administrator, not when creating a key",
                field="plan",
            )
        return self.auth.create_api_key(token, req.name, req.scope or "")

    def list_keys(self, token: str | None) -> list[ApiKeyInfo]:
        return self.auth.list_api_keys(self.session(token))

    def revoke_key(self, token: str | None, key_id: str) -> ApiKeyInfo:
        info = self.auth.revoke_api_key(self.session(token), key_id)
        self.keys.invalidate()  # this node forgets at once; others within the cache TTL
        return info

    # -- collections -----------------------------------------------------------------
    def create_collection(self, api_key: str | None, name: str, req: m.CreateCollectionRequest) -> placement_pb2.CollectionInfo:
        p = self.authorize(api_key, write=True)
        plan = p.plan
        if plan.max_dimension and req.dimension > plan.max_dimension:
            raise InvalidArgument(
                f"dimension {req.dimension} is above the {plan.max_dimension} of plan {plan.name!r}", field="dimension"
            )
        if plan.max_collections:
            have = len(self.placement.list_collections(p.user_id))
            if have >= plan.max_collections:
                raise ResourceExhausted(
                    f"plan {plan.name!r} allows {plan.max_collections} collections; you have {have}", field="name"
                )
        hnsw = req.hnsw or m.HnswIn()
        table = self.placement.create_collection(
            placement_pb2.CreateCollectionRequest(
                owner=p.user_id,
                name=name,
                dimension=req.dimension,
                distance=req.distance,
                shard_count=req.shards or self.config.default_shards,
                replication_factor=req.replication_factor or self.config.default_replication_factor,
                hnsw=placement_pb2.HnswConfig(m=hnsw.m or 0, ef_construct=hnsw.ef_construct or 0, ef=hnsw.ef or 0),
                payload_indexes=[placement_pb2.PayloadIndexSpec(field=i.field, type=i.type) for i in req.payload_indexes or ()],
                auto_index_off=not req.auto_index,
            )
        )
        self.routing.put(p.user_id, name, table)
        return table.collection

    def list_collections(self, api_key: str | None) -> list[placement_pb2.CollectionInfo]:
        p = self.authorize(api_key)
        return sorted(self.placement.list_collections(p.user_id), key=lambda c: c.name)

    def get_collection(self, api_key: str | None, name: str) -> CollectionDetail:
        p = self.authorize(api_key)
        table = self.routing.refresh(p.user_id, name)

        def count(client: WorkerClient, shard: ShardTarget, timeout: float) -> tuple[int, list[IndexInfo]]:
            return client.count(shard, None, "", None, timeout), client.payload_indexes(shard, timeout)

        answers = self.shards.fan_out(p.user_id, name, {s.shard_id: count for s in table.shards}, write=False, attempts=2)
        shards = []
        automatic: dict[str, IndexInfo] = {}
        for s in table.shards:
            answer = answers[s.shard_id]
            if isinstance(answer, VectronError):
                shards.append(ShardState(s, f"unavailable: {answer.message}", None))
            else:
                shards.append(ShardState(s, "ok", answer[0]))
                automatic.update((i.field, i) for i in answer[1] if i.automatic)
        complete = all(s.points is not None for s in shards)
        declared = [IndexInfo(i.field, i.type) for i in table.collection.payload_indexes]
        indexes = declared + [i for f, i in sorted(automatic.items()) if f not in {d.field for d in declared}]
        return CollectionDetail(table.collection, shards, sum(s.points or 0 for s in shards) if complete else None, indexes)

    def drop_collection(self, api_key: str | None, name: str) -> None:
        p = self.authorize(api_key, write=True)
        try:
            self.placement.drop_collection(p.user_id, name)
        except NotFound:
            raise CollectionNotFound(f"collection {name!r} not found", field="collection") from None
        finally:
            self.routing.forget(p.user_id, name)

    # -- payload indexes ---------------------------------------------------------------
    def create_payload_index(self, api_key: str | None, name: str, req: m.PayloadIndexIn) -> bool:
        """Index a payload field on every shard. True if new (or of another type before),
        False if it was already declared (see :meth:`_set_payload_index`)."""
        return self._set_payload_index(self.authorize(api_key, write=True), name, req.field, req.type, drop=False)

    def drop_payload_index(self, api_key: str | None, name: str, field: str) -> bool:
        """Stop indexing a payload field on every shard. True if an index was declared on it."""
        return self._set_payload_index(self.authorize(api_key, write=True), name, field, "", drop=True)

    def _set_payload_index(self, p: Principal, name: str, field: str, index_type: str, *, drop: bool) -> bool:
        """Declare the change in the collection's placement record first (a replica created
        from then on starts with it), then send it through every shard's log (every replica
        applies it; snapshots carry it). A shard that fails raises; the record already has
        the change, and repeating the call (idempotent) completes it on every shard."""
        check_index_field(field)
        try:
            reply = self.placement.set_payload_index(p.user_id, name, field, index_type, drop)
        except NotFound:
            raise CollectionNotFound(f"collection {name!r} not found", field="collection") from None
        table = self.routing.refresh(p.user_id, name)
        base = uuid.uuid4().hex

        def send(rid: str) -> Callable[[WorkerClient, ShardTarget, float], int]:
            return lambda client, shard, timeout: client.payload_index(shard, field, index_type, drop, rid, timeout)

        results = self.shards.fan_out(p.user_id, name, {s.shard_id: send(f"{base}-{s.shard_id}") for s in table.shards}, write=True)
        failed = [r for r in results.values() if isinstance(r, VectronError)]
        if failed:
            raise worst(failed)
        return reply.changed

    # -- points ----------------------------------------------------------------------
    def upsert(self, api_key: str | None, name: str, req: m.UpsertRequest) -> int:
        """The number of points written (all of them, or an error)."""
        p = self.authorize(api_key, write=True, cost=request_cost(points=len(req.points)))
        info = self.routing.get(p.user_id, name).collection
        points = req.points
        if len(points) > self.config.max_batch_points:
            raise PayloadTooLarge(
                f"a batch holds at most {self.config.max_batch_points} points, got {len(points)}", field="points"
            )
        seen: set[tuple[int, Any]] = set()
        writes: list[PointWrite] = []
        for i, pt in enumerate(points):
            key = id_order(pt.id)
            if key in seen:
                raise InvalidArgument(f"points[{i}].id {pt.id!r} appears twice in the batch", field=f"points[{i}].id")
            seen.add(key)
            _check_vector(pt.vector, info, f"points[{i}].vector")
            writes.append(PointWrite(pt.id, pt.vector, pt.payload, payload_to_json(pt.payload, f"points[{i}].payload")))
        if p.plan.max_points:
            have = self._count_all(p.user_id, name, None, "leader")
            if have + len(points) > p.plan.max_points:
                raise ResourceExhausted(
                    f"plan {p.plan.name!r} allows {p.plan.max_points} points per collection; "
                    f"{name!r} has {have} and this batch adds up to {len(points)}",
                    field="points",
                )
        groups = group_by_shard([pt.id for pt in points], info.shard_count, info.hash_scheme)
        base = uuid.uuid4().hex

        def send(batch: list[PointWrite], rid: str) -> Callable[[WorkerClient, ShardTarget, float], int]:
            return lambda client, shard, timeout: client.upsert(shard, batch, rid, timeout)

        calls = {s: send([writes[i] for i in idx], f"{base}-{s}") for s, idx in groups.items()}
        results = self.shards.fan_out(p.user_id, name, calls, write=True)
        settle_writes(results, {s: [points[i].id for i in idx] for s, idx in groups.items()}, "upsert", total=len(points))
        return len(points)

    def get_points(self, api_key: str | None, name: str, req: m.GetPointsRequest) -> list[Point]:
        """The points found, in the order asked (missing ids absent)."""
        p = self.authorize(api_key, cost=request_cost(points=len(req.ids)))
        info = self.routing.get(p.user_id, name).collection
        check_answer_size(len(req.ids), info.dimension, req.with_vector, "ids")
        groups = group_by_shard(req.ids, info.shard_count, info.hash_scheme)

        def fetch(ids: list[PointId]) -> Callable[[WorkerClient, ShardTarget, float], list[Point]]:
            return lambda client, shard, timeout: client.get(shard, ids, req.with_vector, req.with_payload, req.consistency, timeout)

        results = self.shards.fan_out(
            p.user_id, name, {s: fetch([req.ids[i] for i in idx]) for s, idx in groups.items()},
            write=False, consistency=req.consistency,
        )
        found: list[Point] = []
        for r in results.values():
            if isinstance(r, VectronError):
                raise r
            found.extend(r)
        check_answer_size(len(found), info.dimension, req.with_vector, "ids", found)
        return in_order(found, req.ids)

    def get_point(self, api_key: str | None, name: str, point_id: PointId, *, with_vector: bool = True) -> Point:
        got = self.get_points(api_key, name, m.GetPointsRequest(ids=[point_id], with_vector=with_vector))
        if not got:
            raise NotFound(f"point {point_id!r} not found in {name!r}", field="id")
        return got[0]

    def delete_points(self, api_key: str | None, name: str, req: m.DeletePointsRequest) -> int:
        """The number of points deleted."""
        p = self.authorize(api_key, write=True, cost=request_cost(points=len(req.ids or ())))
        if (req.ids is None) == (req.filter is None):
            raise InvalidArgument("give either ids or a filter", field="ids")
        info = self.routing.get(p.user_id, name).collection
        base = uuid.uuid4().hex
        filter_json = checked_filter(req.filter)
        ids_by_shard: dict[int, list[PointId]] | None = None
        if req.ids is not None:
            ids_by_shard = {
                s: [req.ids[i] for i in idx] for s, idx in group_by_shard(req.ids, info.shard_count, info.hash_scheme).items()
            }
        shards = list(ids_by_shard) if ids_by_shard is not None else list(range(info.shard_count))

        def send(ids: list[PointId] | None, rid: str) -> Callable[[WorkerClient, ShardTarget, float], int]:
            return lambda client, shard, timeout: client.delete(shard, ids, req.filter, filter_json, rid, timeout)

        calls = {s: send(None if ids_by_shard is None else ids_by_shard[s], f"{base}-{s}") for s in shards}
        return settle_writes(self.shards.fan_out(p.user_id, name, calls, write=True), ids_by_shard, "delete")

    def set_payload(self, api_key: str | None, name: str, req: m.SetPayloadRequest) -> int:
        """The number of points updated."""
        p = self.authorize(api_key, write=True, cost=request_cost(points=len(req.ids)))
        info = self.routing.get(p.user_id, name).collection
        payload_json = payload_to_json(req.payload, "payload")
        ids_by_shard = {s: [req.ids[i] for i in idx] for s, idx in group_by_shard(req.ids, info.shard_count, info.hash_scheme).items()}
        base = uuid.uuid4().hex

        def send(ids: list[PointId], rid: str) -> Callable[[WorkerClient, ShardTarget, float], int]:
            return lambda client, shard, timeout: client.set_payload(shard, ids, req.payload, payload_json, req.overwrite, rid, timeout)

        calls = {s: send(ids, f"{base}-{s}") for s, ids in ids_by_shard.items()}
        return settle_writes(self.shards.fan_out(p.user_id, name, calls, write=True), ids_by_shard, "set payload")

    def _count_all(self, owner: str, name: str, spec: dict[str, Any] | None, consistency: str | None) -> int:
        table = self.routing.get(owner, name)
        filter_json = checked_filter(spec)

        def count(client: WorkerClient, shard: ShardTarget, timeout: float) -> int:
            return client.count(shard, spec, filter_json, consistency, timeout)

        results = self.shards.fan_out(owner, name, {s.shard_id: count for s in table.shards}, write=False, consistency=consistency)
        total = 0
        for r in results.values():
            if isinstance(r, VectronError):
                raise r
            total += r
        return total

    def count(self, api_key: str | None, name: str, req: m.CountRequest) -> int:
        p = self.authorize(api_key)
        return self._count_all(p.user_id, name, req.filter, req.consistency)

    def scroll(self, api_key: str | None, name: str, req: m.ScrollRequest) -> Page:
        p = self.authorize(api_key, cost=request_cost(points=req.limit))
        table = self.routing.get(p.user_id, name)
        check_answer_size(req.limit, table.collection.dimension, req.with_vector, "limit")
        filter_json = checked_filter(req.filter)

        def fetch(client: WorkerClient, shard: ShardTarget, timeout: float) -> tuple[list[Point], PointId | None]:
            return client.scroll(
                shard, req.filter, filter_json, req.limit, req.offset, req.with_vector, req.with_payload, req.consistency, timeout
            )

        results = self.shards.fan_out(p.user_id, name, {s.shard_id: fetch for s in table.shards}, write=False, consistency=req.consistency)
        pages = []
        for r in results.values():
            if isinstance(r, VectronError):
                raise r
            pages.append(r)
        page = Page(*scroll_page(pages, req.limit))
        check_answer_size(len(page.points), table.collection.dimension, req.with_vector, "limit", page.points)
        return page

    # -- search ----------------------------------------------------------------------
    def search(self, api_key: str | None, name: str, req: m.SearchRequest, *, attempts: int | None = None) -> SearchResult:
        """``attempts``: of each shard call (default: the policy's; 1 answers at once or fails)."""
        p = self.authorize(api_key)
        return self._search(p, name, [req], attempts)

    def search_batch(self, api_key: str | None, name: str, req: m.SearchBatchRequest, *, attempts: int | None = None) -> SearchResult:
        p = self.authorize(api_key, cost=request_cost(queries=len(req.searches)))
        return self._search(p, name, req.searches, attempts)

    def searches_at_once(self, api_key: str | None, name: str, reqs: Sequence[m.SearchRequest]) -> bool:
        """Whether these searches would be answered without waiting on anything: the key's
        validation and the routing table are cached, and every shard's replica to call is
        a worker in this process that answers at once (see ShardCaller.serves_now). An
        adapter on an event loop answers those on the loop, the others on a thread. Never
        blocks; a search that fails on its one attempt there is worth retrying on a thread."""
        if _bearer_kind(api_key) != "api_key" or any(r.allow_partial for r in reqs):
            return False
        assert api_key is not None
        v = self.keys.peek(api_key)
        if v is None or not v.valid:
            return False
        table = self.routing.peek(v.user_id, name)
        return table is not None and all(self.shards.serves_now(table, c) for c in {r.consistency for r in reqs})

    def _search(self, p: Principal, name: str, reqs: Sequence[m.SearchRequest], attempts: int | None = None) -> SearchResult:
        table = self.routing.get(p.user_id, name)
        info = table.collection
        for i, r in enumerate(reqs):
            _check_vector(r.vector, info, "vector" if len(reqs) == 1 else f"searches[{i}].vector")
        where = "top_k" if len(reqs) == 1 else "searches"
        hits = sum(r.top_k for r in reqs)
        if hits > MAX_SEARCH_HITS:
            raise InvalidArgument(
                f"{where}: {len(reqs)} queries asking {hits} hits in all (the sum of top_k); at most {MAX_SEARCH_HITS} "
                "per request", field=where,
            )
        check_answer_size(sum(r.top_k for r in reqs if r.with_vector), info.dimension, True, where)
        # searches sharing their parameters travel together: one request per shard per group
        groups: dict[SearchSpec, list[int]] = {}
        for i, r in enumerate(reqs):
            spec = SearchSpec(r.top_k, None, checked_filter(r.filter), r.ef, r.with_payload, r.with_vector, r.consistency)
            groups.setdefault(spec, []).append(i)
        out: list[list[Hit]] = [[] for _ in reqs]
        failed_shards: set[int] = set()
        for key, idx in groups.items():
            spec = SearchSpec(key.k, reqs[idx[0]].filter, key.filter_json, key.ef, key.with_payload, key.with_vector, key.consistency)
            vectors = [reqs[i].vector for i in idx]

            def query(client: WorkerClient, shard: ShardTarget, timeout: float, spec: SearchSpec = spec, vectors: list[list[float]] = vectors) -> list[list[Hit]]:
                return client.search(shard, vectors, spec, timeout)

            results = self.shards.fan_out(
                p.user_id, name, {s.shard_id: query for s in table.shards}, write=False, consistency=spec.consistency, attempts=attempts
            )
            errors = {s: r for s, r in results.items() if isinstance(r, VectronError)}
            if errors:
                allow = all(reqs[i].allow_partial for i in idx)
                first = next(iter(errors.values()))
                if not allow or len(errors) == len(results):
                    if isinstance(first, Unavailable):
                        raise Unavailable(
                            f"shard(s) {', '.join(map(str, sorted(errors)))} of {name!r} cannot answer: {first.message} "
                            "(set allow_partial to accept answers from the other shards)"
                        )
                    raise first
                failed_shards.update(errors)
            answered = [r for r in results.values() if not isinstance(r, VectronError)]
            for pos, i in enumerate(idx):
                hits = [h for rows in answered for h in rows[pos]]
                out[i] = top_k(hits, reqs[i].top_k, info.distance, reqs[i].score_threshold)
        check_answer_size(sum(map(len, out)), info.dimension, any(r.with_vector for r in reqs), where, [h for row in out for h in row])
        return SearchResult(out, sorted(failed_shards))

    # -- health ----------------------------------------------------------------------
    def health(self) -> Health:
        return Health(status="ok")

    def readiness(self) -> Health:
        """Ready when the auth and placement groups answer through their leaders, every
        registered worker that is not dead is live, every shard of every collection this
        gateway knows has a leader, and every extra check passes."""
        checks = self._ready_check() if self._ready_check else self._default_ready()
        for name, check in self.extra_ready_checks.items():
            try:
                checks[name] = bool(check())
            except Exception:
                log.debug("readiness check %s failed", name, exc_info=True)
                checks[name] = False
        return Health(status="ready" if all(checks.values()) else "not ready", checks=checks)

    def _default_ready(self) -> dict[str, bool]:
        checks: dict[str, bool] = {}
        try:
            self.auth.validate_api_key("vk_000000000000_" + "A" * 43)
            checks["auth"] = True
        except VectronError:
            checks["auth"] = False
        try:
            workers = self.placement.list_workers()
            checks["placement"] = True
            now_ms = time.time() * 1000
            dead_ms = self.config.dead_worker_after * 1000
            expected = [w for w in workers if not (w.last_heartbeat_ms and now_ms - w.last_heartbeat_ms > dead_ms)]
            checks["workers"] = bool(expected) and all(w.live for w in expected)
        except VectronError:
            checks["placement"] = False
            checks["workers"] = False
        checks["shard_leaders"] = self._known_shards_led()
        return checks

    def _known_shards_led(self) -> bool:
        """Every shard of every collection in the routing cache has a leader: one this
        gateway last reached, else the placement driver's (a table showing a shard
        without one is fetched again first)."""
        def led(table: placement_pb2.RoutingTable) -> bool:
            return all(self.shards.router.leader_hint(table, shard) for shard in table.shards)

        for owner, name in self.routing.known():
            try:
                if not led(self.routing.get(owner, name)) and not led(self.routing.refresh(owner, name)):
                    return False
            except CollectionNotFound:
                continue
            except VectronError:
                return False
        return True
