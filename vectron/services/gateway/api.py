"""The gateway's internal API: one method per public operation, shared by REST and gRPC.

:class:`Gateway` authenticates the caller, enforces plans, and turns each call
into calls on the services behind it:

* **auth** (an :class:`~vectron.services.auth.client.AuthClient`): account
  operations take the caller's session token and pass it on; data operations
  take an API key, validated through a short-lived
  :class:`~vectron.services.auth.api_keys.ApiKeyCache` (a revoked key stops
  working within its TTL). The other kind of credential is refused (401).
* **placement** (a :class:`~vectron.services.gateway.backends.PlacementBackend`):
  collections are namespaced by the key's user (another user's collection is
  simply not found: 404). Routing tables are cached per collection
  (:class:`RoutingCache`) and refreshed after a TTL, when a worker reports a
  stale epoch, an unknown shard or a leader change.
* **workers** (:class:`~vectron.services.gateway.backends.WorkerPool`): upsert
  groups points by shard (the placement driver's stable hash) and sends one
  batch per shard, in parallel; search fans out to every shard in parallel and
  merges the per-shard top-k into the exact global top-k.

Failures of a shard call are retried with exponential backoff and jitter
(``tenacity``), moving to the leader a worker names or to the next replica,
with the same request id for writes (the shard FSM applies a request id once).
What still fails after the retries is reported, never hidden: an upsert whose
batch failed on some shards raises :class:`PartialWrite` naming the ids written
and the ids not written; a search with a shard that cannot answer raises 503
unless the request allows partial results, in which case the answer says so.
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import grpc
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_exponential_jitter

from vectron.errors import (
    CollectionNotFound,
    DimensionMismatch,
    Indeterminate,
    InvalidArgument,
    NotFound,
    NotLeader,
    PartialWrite,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
    VectronError,
)
from vectron.limits import MAX_BATCH_POINTS
from vectron.services.auth.api_keys import ApiKeyCache
from vectron.services.auth.model import ApiKeyInfo, Plan, User
from vectron.services.gateway import models as m
from vectron.services.gateway.backends import PlacementBackend, WorkerPool
from vectron.services.gateway.limits import TokenBucketLimiter
from vectron.services.grpc_errors import error_from_rpc_error, may_have_been_applied
from vectron.services.placement.routing import group_by_shard
from vectron.store.filters import compile_filter
from vectron.v1 import placement_pb2, points_pb2, worker_pb2
from vectron.wire import payload_to_json

__all__ = [
    "Gateway",
    "GatewayConfig",
    "Principal",
    "RoutingCache",
    "AuthBackend",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

_CONSISTENCY = {
    None: worker_pb2.CONSISTENCY_DEFAULT,
    "linearizable": worker_pb2.LINEARIZABLE,
    "leader": worker_pb2.LEADER,
    "any": worker_pb2.ANY,
}


def _worst(errors_: Iterable[VectronError]) -> VectronError:
    """The error to report for several shards: an indeterminate one first (it must never read as "not applied")."""
    listed = list(errors_)
    return next((e for e in listed if isinstance(e, Indeterminate)), listed[0])


class AuthBackend(Protocol):
    """What the gateway needs of the auth service (AuthClient has exactly these methods)."""

    def register_user(self, email: str, password: str) -> User: ...

    def login(self, email: str, password: str) -> Any: ...

    def get_user_profile(self, token: str) -> User: ...

    def create_api_key(self, token: str, name: str, plan: str = "", scope: str = "") -> Any: ...

    def list_api_keys(self, token: str) -> list[ApiKeyInfo]: ...

    def revoke_api_key(self, token: str, key_id: str) -> ApiKeyInfo: ...

    def validate_api_key(self, key: str) -> Any: ...


@dataclass(frozen=True)
class GatewayConfig:
    #: seconds a key validation is cached (a revocation takes effect within this)
    key_cache_ttl: float = 5.0
    #: seconds a routing table is trusted before it is fetched again
    routing_ttl: float = 5.0
    #: per shard call
    call_timeout: float = 10.0
    #: retries of a shard call: attempts and total time (a new collection's shards open on
    #: the workers' next heartbeat; a leader election takes a second or two)
    retry_attempts: int = 40
    retry_deadline: float = 15.0
    #: defaults of new collections
    default_shards: int = 1
    default_replication_factor: int = 1
    max_batch_points: int = MAX_BATCH_POINTS
    fanout_threads: int = 64


@dataclass(frozen=True)
class Principal:
    """The caller of a data operation: a validated API key."""

    user_id: str
    key_id: str
    plan: Plan
    scope: str


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

    def forget(self, owner: str, name: str) -> None:
        with self._lock:
            self._tables.pop((owner, name), None)


# -- conversions ---------------------------------------------------------------------------


def _pid_to_proto(pid: int | str) -> points_pb2.PointId:
    return points_pb2.PointId(num=pid) if isinstance(pid, int) else points_pb2.PointId(str=pid)


def _pid_from_proto(msg: points_pb2.PointId) -> int | str | None:
    kind = msg.WhichOneof("kind")
    return None if kind is None else getattr(msg, kind)


def _id_order(pid: int | str) -> tuple[int, Any]:
    """The store's id order: integers (numerically) before strings (by UTF-8 bytes)."""
    return (0, pid) if isinstance(pid, int) else (1, pid.encode("utf-8"))


def _payload(text: str) -> dict[str, Any] | None:
    return json.loads(text) if text else None


def _point_out(p: points_pb2.Point, with_vector: bool, with_payload: bool) -> m.PointOut:
    return m.PointOut(
        id=_pid_from_proto(p.id),
        vector=list(p.vector) if with_vector else None,
        payload=_payload(p.payload_json) if with_payload else None,
    )


def _affected(r: worker_pb2.WriteResponse) -> int:
    return int(r.affected)


def _points(r: worker_pb2.GetResponse) -> list[points_pb2.Point]:
    return list(r.points)


def _count(r: worker_pb2.CountResponse) -> int:
    return int(r.count)


def _hits(r: worker_pb2.SearchResponse) -> list[list[points_pb2.ScoredPoint]]:
    return [list(res.hits) for res in r.results]


def _user_out(user: User) -> m.UserOut:
    return m.UserOut(id=user.user_id, email=user.email, created_at=m.ms_to_iso(user.created_at_ms))


def _key_out(info: ApiKeyInfo) -> m.ApiKeyOut:
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


def _collection_out(info: placement_pb2.CollectionInfo) -> m.CollectionOut:
    return m.CollectionOut(
        name=info.name,
        dimension=info.dimension,
        distance=info.distance,
        shards=info.shard_count,
        replication_factor=info.replication_factor,
        hnsw={"m": info.hnsw.m, "ef_construct": info.hnsw.ef_construct, "ef": info.hnsw.ef},
        created_at=m.ms_to_iso(info.created_at_ms),
    )


def _filter_json(spec: dict[str, Any] | None) -> str:
    if spec is None:
        return ""
    compile_filter(spec)  # InvalidFilter (400, field "filter") before anything is sent
    return json.dumps(spec, separators=(",", ":"))


def _bearer_kind(credential: str | None) -> str:
    if not credential:
        return "none"
    return "api_key" if credential.startswith("vk_") else "session"


class Gateway:
    """The one internal API of the gateway (see the module docstring)."""

    def __init__(
        self,
        auth: AuthBackend,
        placement: PlacementBackend,
        workers: WorkerPool | None = None,
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
        self._pool = ThreadPoolExecutor(max_workers=self.config.fanout_threads, thread_name_prefix="fanout")
        self._leaders: dict[tuple[str, int], str] = {}
        self._leaders_lock = threading.Lock()
        self._rr = 0
        self._ready_check = ready_check

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.workers.close()

    # -- credentials -----------------------------------------------------------------
    @staticmethod
    def _session(token: str | None) -> str:
        kind = _bearer_kind(token)
        if kind == "none":
            raise Unauthenticated("a session token is required: Authorization: Bearer <token from login>")
        if kind == "api_key":
            raise Unauthenticated("account routes take a session token (from login), not an API key")
        assert token is not None
        return token

    def authorize(self, api_key: str | None, *, write: bool = False) -> Principal:
        """Validate an API key (cached), apply its rate limit, check its scope."""
        kind = _bearer_kind(api_key)
        if kind == "none":
            raise Unauthenticated("an API key is required: Authorization: Bearer vk_...")
        if kind == "session":
            raise Unauthenticated("data routes take an API key, not a session token")
        assert api_key is not None
        v = self.keys.get(api_key)
        if not v.valid or v.plan is None:
            raise Unauthenticated("invalid or revoked API key")
        wait = self.limiter.acquire(v.key_id, v.plan.requests_per_second)
        if wait > 0:
            raise RateLimited(
                f"rate limit of plan {v.plan.name!r} ({v.plan.requests_per_second} requests/s) exceeded",
                retry_after=wait,
            )
        if write and v.scope == "read-only":
            raise PermissionDenied("this API key is read-only")
        return Principal(user_id=v.user_id, key_id=v.key_id, plan=v.plan, scope=v.scope)

    # -- accounts --------------------------------------------------------------------
    def register(self, req: m.Credentials) -> m.UserResponse:
        return m.UserResponse(user=_user_out(self.auth.register_user(req.email, req.password)))

    def login(self, req: m.Credentials) -> m.LoginResponse:
        r = self.auth.login(req.email, req.password)
        return m.LoginResponse(token=r.token, expires_at=m.ms_to_iso(r.expires_at_ms), user=_user_out(r.user))

    def profile(self, token: str | None) -> m.UserResponse:
        return m.UserResponse(user=_user_out(self.auth.get_user_profile(self._session(token))))

    def create_key(self, token: str | None, req: m.CreateKeyRequest) -> m.CreatedKeyResponse:
        created = self.auth.create_api_key(self._session(token), req.name, req.plan or "", req.scope or "")
        return m.CreatedKeyResponse(key=created.key, api_key=_key_out(created.info))

    def list_keys(self, token: str | None) -> m.ApiKeyList:
        return m.ApiKeyList(api_keys=[_key_out(k) for k in self.auth.list_api_keys(self._session(token))])

    def revoke_key(self, token: str | None, key_id: str) -> m.ApiKeyResponse:
        info = self.auth.revoke_api_key(self._session(token), key_id)
        self.keys.invalidate()  # this node forgets at once; others within the cache TTL
        return m.ApiKeyResponse(api_key=_key_out(info))

    # -- collections -----------------------------------------------------------------
    def create_collection(self, api_key: str | None, name: str, req: m.CreateCollectionRequest) -> m.CollectionResponse:
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
            )
        )
        self.routing.put(p.user_id, name, table)
        return m.CollectionResponse(collection=_collection_out(table.collection))

    def list_collections(self, api_key: str | None) -> m.CollectionList:
        p = self.authorize(api_key)
        infos = sorted(self.placement.list_collections(p.user_id), key=lambda c: c.name)
        return m.CollectionList(collections=[_collection_out(c) for c in infos])

    def get_collection(self, api_key: str | None, name: str) -> m.CollectionResponse:
        p = self.authorize(api_key)
        table = self.routing.refresh(p.user_id, name)
        out = _collection_out(table.collection)

        def count(shard_id: int) -> int:
            return self._shard_call(
                p.user_id, name, shard_id, lambda stub, ref, t: stub.Count(worker_pb2.CountRequest(shard=ref), timeout=t).count,
                write=False, attempts=2,
            )

        futures = {s.shard_id: self._pool.submit(count, s.shard_id) for s in table.shards}
        shards, total, complete = [], 0, True
        for s in table.shards:
            try:
                n: int | None = futures[s.shard_id].result()
                status = "ok"
                total += n or 0
            except VectronError as exc:
                n, status, complete = None, f"unavailable: {exc.message}", False
            shards.append(
                m.ShardOut(
                    shard_id=s.shard_id,
                    replicas=[m.ReplicaOut(worker_id=r.worker_id, grpc_address=r.grpc_address, raft_address=r.raft_address) for r in s.replicas],
                    leader=s.leader_worker_id or None,
                    status=status,
                    points_count=n,
                )
            )
        out.points_count = total if complete else None
        out.shard_status = shards
        return m.CollectionResponse(collection=out)

    def drop_collection(self, api_key: str | None, name: str) -> m.DroppedResponse:
        p = self.authorize(api_key, write=True)
        try:
            self.placement.drop_collection(p.user_id, name)
        except NotFound:
            raise CollectionNotFound(f"collection {name!r} not found", field="collection") from None
        finally:
            self.routing.forget(p.user_id, name)
        return m.DroppedResponse()

    # -- shard calls -----------------------------------------------------------------
    def _leader_hint(self, table: placement_pb2.RoutingTable, shard: placement_pb2.ShardInfo) -> str | None:
        with self._leaders_lock:
            hint = self._leaders.get((table.collection.collection_id, shard.shard_id))
        return hint or shard.leader_grpc_address or None

    def _set_leader(self, collection_id: str, shard: placement_pb2.ShardInfo, leader: str | None) -> None:
        address = None
        if leader:
            for r in shard.replicas:
                if leader in (r.grpc_address, r.raft_address):
                    address = r.grpc_address
        with self._leaders_lock:
            if address:
                self._leaders[(collection_id, shard.shard_id)] = address
            else:
                self._leaders.pop((collection_id, shard.shard_id), None)

    def _pick(
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
            self._rr += 1
            return shard, replicas[(self._rr + attempt) % len(replicas)]
        hint = self._leader_hint(table, shard)
        order = ([hint] if hint else []) + [r for r in replicas if r != hint]
        return shard, order[0] if follow else order[attempt % len(order)]

    def _rpc_fanout(
        self,
        owner: str,
        name: str,
        specs: dict[int, tuple[str, Any, Callable[[Any], T]]],
        *,
        write: bool,
        consistency: str | None = None,
    ) -> dict[int, T | VectronError]:
        """One RPC per shard, ``{shard: (method, request, extract)}``, all issued at once as
        gRPC futures from this thread (no thread hand-offs on the fast path). A shard whose
        first attempt fails goes through :meth:`_shard_call` (retries, leader moves, routing
        refresh) on the pool; writes keep their request id, so a repeat is applied once."""
        table = self.routing.get(owner, name)
        cid = table.collection.collection_id
        first: dict[int, tuple[placement_pb2.ShardInfo, str, Any]] = {}
        for shard_id, (method, msg, _) in specs.items():
            try:
                shard, address = self._pick(table, shard_id, write, consistency, 0, False)
            except Unavailable:
                continue
            msg.shard.CopyFrom(worker_pb2.ShardRef(collection_id=cid, shard_id=shard_id, epoch=table.epoch))
            stub = self.workers.stub(address)
            first[shard_id] = (shard, address, getattr(stub, method).future(msg, timeout=self.config.call_timeout))
        out: dict[int, T | VectronError] = {}
        again: dict[int, Callable[[], T]] = {}
        for shard_id, (method, msg, extract) in specs.items():
            maybe_applied = False
            if shard_id in first:
                shard, address, fut = first[shard_id]
                try:
                    out[shard_id] = extract(fut.result())
                    if write or consistency != "any":
                        self._set_leader(cid, shard, address)
                    continue
                except grpc.RpcError as exc:
                    maybe_applied = write and may_have_been_applied(exc)

            def retry(
                shard_id: int = shard_id,
                method: str = method,
                msg: Any = msg,
                extract: Callable[[Any], T] = extract,
                maybe_applied: bool = maybe_applied,
            ) -> T:
                def call(stub: Any, ref: worker_pb2.ShardRef, t: float) -> T:
                    msg.shard.CopyFrom(ref)
                    return extract(getattr(stub, method)(msg, timeout=t))

                return self._shard_call(
                    owner, name, shard_id, call, write=write, consistency=consistency, maybe_applied=maybe_applied
                )

            again[shard_id] = retry
        if again:
            out.update(self._fanout(again))
        return out

    def _shard_call(
        self,
        owner: str,
        name: str,
        shard_id: int,
        fn: Callable[[Any, worker_pb2.ShardRef, float], T],
        *,
        write: bool,
        consistency: str | None = None,
        attempts: int | None = None,
        maybe_applied: bool = False,
    ) -> T:
        """Call ``fn(stub, shard_ref, timeout)`` on the right replica of one shard, retrying
        with backoff: on a leader change (to the named leader), on an unavailable replica
        (to the next one), on a stale epoch or an unknown shard (after a routing refresh).
        A write that may have been applied by an earlier attempt (``maybe_applied``, or an
        indeterminate answer here) ends as Indeterminate, never as a definite failure."""
        state = {"attempt": 0, "refresh": False, "follow": False, "indeterminate": maybe_applied}

        def once() -> T:
            attempt = state["attempt"]
            state["attempt"] += 1
            table = self.routing.refresh(owner, name) if state["refresh"] else self.routing.get(owner, name)
            state["refresh"] = False
            try:
                shard, address = self._pick(table, shard_id, write, consistency, attempt, bool(state["follow"]))
            except Unavailable:
                state["refresh"] = True
                raise
            state["follow"] = False
            ref = worker_pb2.ShardRef(collection_id=table.collection.collection_id, shard_id=shard_id, epoch=table.epoch)
            try:
                out = fn(self.workers.stub(address), ref, self.config.call_timeout)
            except grpc.RpcError as exc:
                status = exc.code()
                err = error_from_rpc_error(exc)
                if isinstance(err, NotLeader):
                    self._set_leader(ref.collection_id, shard, err.leader)
                    state["follow"] = bool(err.leader)
                    if not err.leader:
                        state["refresh"] = True
                    raise err from None
                if status == grpc.StatusCode.FAILED_PRECONDITION or (isinstance(err, NotFound) and not isinstance(err, CollectionNotFound)):
                    # stale epoch or a shard this worker does not (yet) host
                    state["refresh"] = True
                    raise Unavailable(f"shard {shard_id} of {name!r}: {err.message}") from None
                if isinstance(err, CollectionNotFound):
                    state["refresh"] = True
                    raise Unavailable(f"shard {shard_id} of {name!r}: {err.message}") from None
                if status in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) or isinstance(err, (Unavailable, Indeterminate)):
                    self._set_leader(ref.collection_id, shard, None)
                    state["refresh"] = True
                    if write and may_have_been_applied(exc):
                        state["indeterminate"] = True  # the write may have been applied
                        raise Indeterminate(f"shard {shard_id} of {name!r}: {err.message}") from None
                    if isinstance(err, (Unavailable, Indeterminate)):
                        raise err from None
                    raise Unavailable(f"shard {shard_id} of {name!r}: {err.message}") from None
                raise err from None
            if write or consistency != "any":
                self._set_leader(ref.collection_id, shard, address)
            return out

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, (Unavailable, Indeterminate))

        retrying = Retrying(
            stop=stop_after_attempt(attempts or self.config.retry_attempts) | stop_after_delay(self.config.retry_deadline),
            wait=wait_exponential_jitter(multiplier=0.05, max=1.0),
            retry=retry_if_exception(retryable),
            reraise=True,
        )
        try:
            return retrying(once)
        except Unavailable as exc:
            if state["indeterminate"]:  # a later definite failure does not undo an earlier maybe-applied write
                raise Indeterminate(
                    f"shard {shard_id} of {name!r}: an earlier attempt may have been applied; last error: {exc.message}"
                ) from None
            raise

    def _fanout(self, calls: dict[int, Callable[[], T]]) -> dict[int, T | VectronError]:
        """Run one call per shard in parallel; each result or the VectronError it raised."""
        futures: dict[int, Future[T]] = {s: self._pool.submit(c) for s, c in calls.items()}
        out: dict[int, T | VectronError] = {}
        for shard, fut in futures.items():
            try:
                out[shard] = fut.result()
            except VectronError as exc:
                out[shard] = exc
            except Exception as exc:  # noqa: BLE001 - never hide a shard's failure
                log.exception("shard %d call failed", shard)
                out[shard] = Unavailable(f"shard {shard}: internal error ({type(exc).__name__})")
        return out

    def _table(self, p: Principal, name: str) -> placement_pb2.RoutingTable:
        return self.routing.get(p.user_id, name)

    # -- points ----------------------------------------------------------------------
    def _check_vector(self, vector: Sequence[float], info: placement_pb2.CollectionInfo, where: str) -> None:
        if len(vector) != info.dimension:
            raise DimensionMismatch(
                f"{where}: expected dimension {info.dimension}, got {len(vector)}", field=where
            )
        # NaN and infinities are refused by the request models (allow_inf_nan=False)
        if info.distance == "cosine" and not any(vector):
            raise InvalidArgument(f"{where}: a zero vector has no cosine similarity", field=where)

    def upsert(self, api_key: str | None, name: str, req: m.UpsertRequest) -> m.UpsertResponse:
        p = self.authorize(api_key, write=True)
        table = self._table(p, name)
        info = table.collection
        points = req.points
        if len(points) > self.config.max_batch_points:
            raise PayloadTooLarge(
                f"a batch holds at most {self.config.max_batch_points} points, got {len(points)}", field="points"
            )
        seen: set[tuple[int, Any]] = set()
        encoded: list[points_pb2.Point] = []
        for i, pt in enumerate(points):
            key = _id_order(pt.id)
            if key in seen:
                raise InvalidArgument(f"points[{i}].id {pt.id!r} appears twice in the batch", field=f"points[{i}].id")
            seen.add(key)
            self._check_vector(pt.vector, info, f"points[{i}].vector")
            payload = payload_to_json(pt.payload, f"points[{i}].payload")
            encoded.append(points_pb2.Point(id=_pid_to_proto(pt.id), vector=pt.vector, payload_json=payload))
        if p.plan.max_points:
            have = self._count_all(p.user_id, name, table, None, "leader")
            if have + len(points) > p.plan.max_points:
                raise ResourceExhausted(
                    f"plan {p.plan.name!r} allows {p.plan.max_points} points per collection; "
                    f"{name!r} has {have} and this batch adds up to {len(points)}",
                    field="points",
                )
        groups = group_by_shard([pt.id for pt in points], info.shard_count, info.hash_scheme)
        base = uuid.uuid4().hex

        specs = {
            s: ("Upsert", worker_pb2.UpsertRequest(points=[encoded[i] for i in idx], request_id=f"{base}-{s}"), _affected)
            for s, idx in groups.items()
        }
        results = self._rpc_fanout(p.user_id, name, specs, write=True)
        failed = {s: r for s, r in results.items() if isinstance(r, VectronError)}
        if failed:
            cause = _worst(failed.values())
            if len(failed) == len(results):
                raise cause
            written = [points[i].id for s, idx in groups.items() if s not in failed for i in idx]
            unknown = {s for s, r in failed.items() if isinstance(r, Indeterminate)}
            not_written = [points[i].id for s, idx in groups.items() if s in failed and s not in unknown for i in idx]
            maybe = [points[i].id for s, idx in groups.items() if s in unknown for i in idx]
            raise PartialWrite(
                f"{len(written)} of {len(points)} points were written; shard(s) "
                f"{', '.join(map(str, sorted(failed)))} failed: {cause.message}",
                cause=cause, written=written, failed=not_written, unknown=maybe,
            )
        return m.UpsertResponse(upserted=len(points))

    def get_points(self, api_key: str | None, name: str, req: m.GetPointsRequest) -> m.PointsResponse:
        p = self.authorize(api_key)
        info = self._table(p, name).collection
        groups = group_by_shard(req.ids, info.shard_count, info.hash_scheme)

        specs = {
            s: ("Get", worker_pb2.GetRequest(
                ids=[_pid_to_proto(req.ids[i]) for i in idx], with_vector=req.with_vector,
                without_payload=not req.with_payload, consistency=_CONSISTENCY[req.consistency],
            ), _points)
            for s, idx in groups.items()
        }
        results = self._rpc_fanout(p.user_id, name, specs, write=False, consistency=req.consistency)
        found: dict[tuple[int, Any], m.PointOut] = {}
        for r in results.values():
            if isinstance(r, VectronError):
                raise r
            for pt in r:
                out = _point_out(pt, req.with_vector, req.with_payload)
                found[_id_order(out.id)] = out
        ordered, emitted = [], set()
        for pid in req.ids:
            key = _id_order(pid)
            if key in found and key not in emitted:
                ordered.append(found[key])
                emitted.add(key)
        return m.PointsResponse(points=ordered)

    def get_point(self, api_key: str | None, name: str, point_id: int | str, *, with_vector: bool = True) -> m.PointResponse:
        got = self.get_points(api_key, name, m.GetPointsRequest(ids=[point_id], with_vector=with_vector))
        if not got.points:
            raise NotFound(f"point {point_id!r} not found in {name!r}", field="id")
        return m.PointResponse(point=got.points[0])

    def delete_points(self, api_key: str | None, name: str, req: m.DeletePointsRequest) -> m.DeletedResponse:
        p = self.authorize(api_key, write=True)
        if (req.ids is None) == (req.filter is None):
            raise InvalidArgument("give either ids or a filter", field="ids")
        info = self._table(p, name).collection
        base = uuid.uuid4().hex
        if req.ids is not None:
            groups = group_by_shard(req.ids, info.shard_count, info.hash_scheme)
            bodies = {s: dict(ids=[_pid_to_proto(req.ids[i]) for i in idx]) for s, idx in groups.items()}
        else:
            fj = _filter_json(req.filter)
            bodies = {s: dict(filter_json=fj) for s in range(info.shard_count)}

        def send(shard: int, body: dict[str, Any]) -> Callable[[], int]:
            rid = f"{base}-{shard}"
            return lambda: self._shard_call(
                p.user_id, name, shard,
                lambda stub, ref, t: stub.Delete(worker_pb2.DeleteRequest(shard=ref, request_id=rid, **body), timeout=t).affected,
                write=True,
            )

        results = self._fanout({s: send(s, b) for s, b in bodies.items()})
        return m.DeletedResponse(deleted=self._sum_writes(results, "delete"))

    @staticmethod
    def _sum_writes(results: dict[int, Any], what: str) -> int:
        failed = {s: r for s, r in results.items() if isinstance(r, VectronError)}
        if failed:
            cause = _worst(failed.values())
            if len(failed) == len(results):
                raise cause
            done = sorted(s for s in results if s not in failed)
            raise PartialWrite(
                f"{what} applied on shard(s) {done} but failed on {sorted(failed)}: {cause.message}",
                cause=cause, written=[], failed=[],
            )
        return int(sum(results.values()))

    def set_payload(self, api_key: str | None, name: str, req: m.SetPayloadRequest) -> m.UpdatedResponse:
        p = self.authorize(api_key, write=True)
        info = self._table(p, name).collection
        payload = payload_to_json(req.payload, "payload")
        groups = group_by_shard(req.ids, info.shard_count, info.hash_scheme)
        base = uuid.uuid4().hex

        def send(shard: int, idx: list[int]) -> Callable[[], int]:
            msg = worker_pb2.SetPayloadRequest(
                ids=[_pid_to_proto(req.ids[i]) for i in idx], payload_json=payload, overwrite=req.overwrite,
                request_id=f"{base}-{shard}",
            )

            def call(stub: Any, ref: worker_pb2.ShardRef, t: float) -> int:
                msg.shard.CopyFrom(ref)
                return stub.SetPayload(msg, timeout=t).affected

            return lambda: self._shard_call(p.user_id, name, shard, call, write=True)

        results = self._fanout({s: send(s, idx) for s, idx in groups.items()})
        return m.UpdatedResponse(updated=self._sum_writes(results, "set payload"))

    def _count_all(self, owner: str, name: str, table: placement_pb2.RoutingTable, fj: str | None, consistency: str | None) -> int:
        specs = {
            sh.shard_id: ("Count", worker_pb2.CountRequest(filter_json=fj or "", consistency=_CONSISTENCY[consistency]), _count)
            for sh in table.shards
        }
        results = self._rpc_fanout(owner, name, specs, write=False, consistency=consistency)
        total = 0
        for r in results.values():
            if isinstance(r, VectronError):
                raise r
            total += r
        return total

    def count(self, api_key: str | None, name: str, req: m.CountRequest) -> m.CountResponse:
        p = self.authorize(api_key)
        table = self._table(p, name)
        return m.CountResponse(count=self._count_all(p.user_id, name, table, _filter_json(req.filter), req.consistency))

    def scroll(self, api_key: str | None, name: str, req: m.ScrollRequest) -> m.ScrollResponse:
        p = self.authorize(api_key)
        table = self._table(p, name)
        fj = _filter_json(req.filter)

        def fetch(shard: int) -> Callable[[], tuple[list[points_pb2.Point], int | str | None]]:
            msg = worker_pb2.ScrollRequest(
                filter_json=fj, limit=req.limit, with_vector=req.with_vector,
                without_payload=not req.with_payload, consistency=_CONSISTENCY[req.consistency],
            )
            if req.offset is not None:
                msg.offset.CopyFrom(_pid_to_proto(req.offset))

            def call(stub: Any, ref: worker_pb2.ShardRef, t: float) -> tuple[list[points_pb2.Point], int | str | None]:
                msg.shard.CopyFrom(ref)
                r = stub.Scroll(msg, timeout=t)
                nxt = _pid_from_proto(r.next_offset) if r.HasField("next_offset") else None
                return list(r.points), nxt

            return lambda: self._shard_call(p.user_id, name, shard, call, write=False, consistency=req.consistency)

        results = self._fanout({s.shard_id: fetch(s.shard_id) for s in table.shards})
        merged: list[m.PointOut] = []
        nexts: list[int | str] = []
        for r in results.values():
            if isinstance(r, VectronError):
                raise r
            pts, nxt = r
            merged.extend(_point_out(pt, req.with_vector, req.with_payload) for pt in pts)
            if nxt is not None:
                nexts.append(nxt)
        merged.sort(key=lambda pt: _id_order(pt.id))
        page, rest = merged[: req.limit], merged[req.limit :]
        candidates = [pt.id for pt in rest[:1]] + nexts
        next_offset = min(candidates, key=_id_order) if candidates else None
        return m.ScrollResponse(points=page, next_offset=next_offset)

    # -- search ----------------------------------------------------------------------
    def search(self, api_key: str | None, name: str, req: m.SearchRequest) -> m.SearchResponse:
        p = self.authorize(api_key)
        results, failed = self._search(p, name, [req])
        return m.SearchResponse(results=results[0], partial=bool(failed), failed_shards=failed)

    def search_batch(self, api_key: str | None, name: str, req: m.SearchBatchRequest) -> m.SearchBatchResponse:
        p = self.authorize(api_key)
        results, failed = self._search(p, name, req.searches)
        return m.SearchBatchResponse(results=results, partial=bool(failed), failed_shards=failed)

    def _search(self, p: Principal, name: str, reqs: Sequence[m.SearchRequest]) -> tuple[list[list[m.Hit]], list[int]]:
        table = self._table(p, name)
        info = table.collection
        higher_is_better = info.distance in ("cosine", "dot")
        for i, r in enumerate(reqs):
            self._check_vector(r.vector, info, "vector" if len(reqs) == 1 else f"searches[{i}].vector")
        # searches sharing their parameters travel together: one request per shard per group
        groups: dict[tuple[Any, ...], list[int]] = {}
        filters: dict[tuple[Any, ...], str] = {}
        for i, r in enumerate(reqs):
            fj = _filter_json(r.filter)
            key = (fj, r.top_k, r.ef, r.with_payload, r.with_vector, r.consistency)
            groups.setdefault(key, []).append(i)
            filters[key] = fj
        out: list[list[m.Hit]] = [[] for _ in reqs]
        failed_shards: set[int] = set()
        for key, idx in groups.items():
            fj, k, ef, with_payload, with_vector, consistency = key

            specs = {
                sh.shard_id: ("Search", worker_pb2.SearchRequest(
                    queries=[worker_pb2.SearchQuery(vector=reqs[i].vector) for i in idx], k=k, filter_json=fj,
                    ef=ef or 0, with_payload=with_payload, with_vector=with_vector, consistency=_CONSISTENCY[consistency],
                ), _hits)
                for sh in table.shards
            }
            results = self._rpc_fanout(p.user_id, name, specs, write=False, consistency=consistency)
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
            for pos, i in enumerate(idx):
                hits: list[points_pb2.ScoredPoint] = []
                for r in results.values():
                    if not isinstance(r, VectronError):
                        hits.extend(r[pos])
                out[i] = self._merge(hits, reqs[i], higher_is_better)
        return out, sorted(failed_shards)

    @staticmethod
    def _merge(hits: Iterable[points_pb2.ScoredPoint], req: m.SearchRequest, higher_is_better: bool) -> list[m.Hit]:
        """The exact top-k of the union of per-shard top-k lists (best first)."""
        thr = req.score_threshold
        if thr is not None:
            hits = [h for h in hits if (h.score >= thr if higher_is_better else h.score <= thr)]
        pick = heapq.nlargest if higher_is_better else heapq.nsmallest
        best = pick(req.top_k, hits, key=lambda h: h.score)
        return [
            m.Hit(
                id=_pid_from_proto(h.id),
                score=h.score,
                payload=_payload(h.payload_json) if req.with_payload else None,
                vector=list(h.vector) if req.with_vector else None,
            )
            for h in best
        ]

    # -- health ----------------------------------------------------------------------
    def health(self) -> m.Health:
        return m.Health(status="ok")

    def readiness(self) -> m.Health:
        """Ready when the auth and placement groups answer through their leaders."""
        checks = self._ready_check() if self._ready_check else self._default_ready()
        return m.Health(status="ready" if all(checks.values()) else "not ready", checks=checks)

    def _default_ready(self) -> dict[str, bool]:
        checks: dict[str, bool] = {}
        try:
            self.auth.validate_api_key("vk_000000000000_" + "A" * 43)
            checks["auth"] = True
        except VectronError:
            checks["auth"] = False
        try:
            workers = self.placement.list_workers()  # type: ignore[attr-defined]
            checks["placement"] = True
            checks["workers"] = any(w.live for w in workers)
        except VectronError:
            checks["placement"] = False
            checks["workers"] = False
        return checks
