"""In-memory parts to build a :class:`Gateway` without processes or servers.

Nothing here re-implements a service: the workers are real
:class:`WorkerService` instances over real LMDB collections run by
``InMemoryGroup`` (reached through the gateway's own
:class:`LocalWorkerClient`), placement and auth are the real services over
``InMemoryGroup``, called through the thin adapters a gRPC servicer would be.
:class:`FaultyWorkerService` adds switchable faults per shard id (down,
not-the-leader once, applied-then-lost) so the retry, routing and
partial-result paths can be made to fire.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vectron.errors import Indeterminate, NotFound, NotLeader, Unavailable
from vectron.raft import InMemoryGroup
from vectron.services.auth import AuthConfig, AuthService, AuthStateMachine, TokenIssuer
from vectron.services.auth.model import ApiKeyInfo, CreatedKey, KeyValidation, LoginResult, User
from vectron.services.gateway.api import Gateway, GatewayConfig
from vectron.services.gateway.workers import WorkerPool
from vectron.services.placement.fsm import PlacementStateMachine
from vectron.services.placement.service import PlacementConfig, PlacementService
from vectron.services.worker.replicas import ReplicaHost, ShardReplica
from vectron.services.worker.service import ShardKey, WorkerConfig, WorkerService, WriteResult
from vectron.v1 import placement_pb2, worker_pb2

SECRET = b"gateway-test-secret-0123456789abcdef"
#: the admin of the test auth services (new accounts get the unlimited plan; an admin sets others)
ADMIN_EMAIL = "root@example.com"


def memory_group(fsm: Any, address: str, peers: list[str], data_dir: pathlib.Path) -> InMemoryGroup[Any]:
    return InMemoryGroup(fsm, address=address)


class FaultyWorkerService(WorkerService):
    """A real WorkerService whose shards can be told to fail. Before a shard it does not
    host yet it syncs its replicas with the placement driver (what a heartbeat does)."""

    def __init__(self, host: ReplicaHost, worker_id: str, sync: Callable[[], None]) -> None:
        super().__init__(host, worker_id, WorkerConfig(write_timeout=5.0, read_timeout=5.0))
        self._sync = sync
        self.down: set[int] = set()  # shard ids answering Unavailable
        self.not_leader_once: set[int] = set()  # shard ids answering NotLeader (no leader known) once
        self.applied_then_lost: set[int] = set()  # shard ids that apply the next write, then answer Indeterminate and go down

    def replica(self, ref: ShardKey) -> ShardReplica:
        if ref.shard_id in self.down:
            raise Unavailable(f"shard {ref.shard_id} is down")
        if ref.shard_id in self.not_leader_once:
            self.not_leader_once.discard(ref.shard_id)
            raise NotLeader("not the leader", leader=None)
        try:
            return super().replica(ref)
        except NotFound:
            self._sync()
            return super().replica(ref)

    def _propose(self, replica: ShardReplica, command: worker_pb2.ShardCommand, request_id: str | None, timeout: float | None) -> WriteResult:
        result = super()._propose(replica, command, request_id, timeout)
        shard = replica.key[1]
        if shard in self.applied_then_lost:
            self.applied_then_lost.discard(shard)
            self.down.add(shard)
            raise Indeterminate("the leader changed after the write was proposed")
        return result


class LocalPlacement:
    """The gateway's PlacementBackend over a PlacementService in this process."""

    def __init__(self, service: PlacementService) -> None:
        self.service = service

    def create_collection(self, req: placement_pb2.CreateCollectionRequest) -> placement_pb2.RoutingTable:
        hnsw = {k: v for k, v in (("m", req.hnsw.m), ("ef_construct", req.hnsw.ef_construct), ("ef", req.hnsw.ef)) if v}
        return self.service.create_collection(
            req.owner, req.name, req.dimension, req.distance or "cosine", req.shard_count or 1, req.replication_factor or 1, hnsw or None,
            [(i.field, i.type) for i in req.payload_indexes], not req.auto_index_off,
        )

    def drop_collection(self, owner: str, name: str) -> None:
        self.service.drop_collection(owner, name)

    def list_collections(self, owner: str) -> list[placement_pb2.CollectionInfo]:
        return self.service.list_collections(owner)

    def get_routing_table(self, owner: str, name: str) -> placement_pb2.RoutingTable:
        return self.service.get_routing_table(owner, name)

    def list_workers(self) -> list[placement_pb2.WorkerInfo]:
        return self.service.list_workers()

    def set_payload_index(self, owner: str, name: str, field: str, index_type: str, drop: bool) -> placement_pb2.SetPayloadIndexResponse:
        return self.service.set_payload_index(owner, name, field, index_type, drop)


class LocalAuth:
    """The gateway's AuthBackend over an AuthService in this process (a session token is
    authenticated first, as the auth servicer does)."""

    def __init__(self, service: AuthService) -> None:
        self.service = service

    def register_user(self, email: str, password: str, client_address: str = "") -> User:
        return self.service.register_user(email, password, client_address)

    def login(self, email: str, password: str, client_address: str = "") -> LoginResult:
        return self.service.login(email, password, client_address)

    def get_user_profile(self, token: str) -> User:
        return self.service.get_user_profile(self.service.authenticate(token))

    def create_api_key(self, token: str, name: str, scope: str = "") -> CreatedKey:
        return self.service.create_api_key(self.service.authenticate(token), name, scope)

    def list_api_keys(self, token: str) -> list[ApiKeyInfo]:
        return self.service.list_api_keys(self.service.authenticate(token))

    def revoke_api_key(self, token: str, key_id: str) -> ApiKeyInfo:
        return self.service.revoke_api_key(self.service.authenticate(token), key_id)

    def validate_api_key(self, key: str) -> KeyValidation:
        return self.service.validate_api_key(key)

    def admin_list_users(self, token: str, after: str = "", limit: int = 0) -> tuple[list[User], str]:
        return self.service.admin_list_users(self.service.authenticate(token), after, limit)

    def admin_set_plan(self, token: str, user: str, plan: str) -> User:
        return self.service.admin_set_plan(self.service.authenticate(token), user, plan)

    def admin_set_disabled(self, token: str, user: str, disabled: bool) -> User:
        return self.service.admin_set_disabled(self.service.authenticate(token), user, disabled)

    def admin_delete_user(self, token: str, user: str) -> User:
        return self.service.admin_delete_user(self.service.authenticate(token), user)


@dataclass
class Cluster:
    """Auth, placement and workers in this process; :meth:`gateway` builds a Gateway over them."""

    auth: AuthService
    placement: PlacementService
    workers: dict[str, FaultyWorkerService]
    closers: list[Callable[[], None]] = field(default_factory=list)

    def gateway(self, config: GatewayConfig | None = None) -> Gateway:
        pool = WorkerPool()
        for address, service in self.workers.items():
            pool.register_local(address, service)
        g = Gateway(LocalAuth(self.auth), LocalPlacement(self.placement), pool, config or GatewayConfig(retry_deadline=3.0, retry_attempts=4))
        self.closers.append(g.close)
        return g

    def worker_at(self, index: int) -> FaultyWorkerService:
        return list(self.workers.values())[index]

    def close(self) -> None:
        for close in reversed(self.closers):
            close()


def build_cluster(tmp: pathlib.Path, *, workers: int = 2, serve: Callable[[FaultyWorkerService], str] | None = None) -> Cluster:
    """Real auth, placement and worker services over in-memory groups and real LMDB files.
    ``serve``: puts a worker behind a server and returns the address to register for it
    (default: none, the address ``local:<i>`` the in-process client is registered under)."""
    closers: list[Callable[[], None]] = []
    auth_group = InMemoryGroup(AuthStateMachine(tmp / "auth", sync=False, map_size=1 << 26))
    closers.append(auth_group.stop)
    auth = AuthService(auth_group, TokenIssuer(SECRET, ttl_seconds=600), AuthConfig(bcrypt_rounds=4, admin_emails=frozenset({ADMIN_EMAIL}), default_plan="unlimited"))
    pl_group = InMemoryGroup(PlacementStateMachine(tmp / "placement", sync=False, map_size=1 << 26))
    closers.append(pl_group.stop)
    placement = PlacementService(pl_group, PlacementConfig(liveness_timeout=3600))
    services: dict[str, FaultyWorkerService] = {}
    for i in range(workers):
        worker_id = f"w{i}"
        host = ReplicaHost(tmp / f"worker{i}", memory_group, durable=False, map_size=1 << 26)
        closers.append(host.close)

        def sync(host: ReplicaHost = host, worker_id: str = worker_id) -> None:
            host.reconcile(list(placement.heartbeat(worker_id).assignments))

        service = FaultyWorkerService(host, worker_id, sync)
        address = serve(service) if serve is not None else f"local:{i}"
        services[address] = service
        placement.register_worker(
            placement_pb2.WorkerInfo(
                worker_id=worker_id, grpc_address=address, raft_host="127.0.0.1",
                raft_port_min=30000 + 100 * i, raft_port_max=30099 + 100 * i,
            )
        )
    return Cluster(auth=auth, placement=placement, workers=services, closers=closers)
