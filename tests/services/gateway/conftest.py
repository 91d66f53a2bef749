"""Fixtures of the gateway tests.

``stack``: an in-process Vectron behind a real gateway: the auth service and the
placement driver on in-memory Raft runners behind their real gRPC servers, two
fake workers (real gRPC, real store collections, see ``fake_worker.py``), and the
gateway's real REST (uvicorn) and gRPC servers on free loopback ports.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from vectron.raft import InMemoryGroup
from vectron.services.auth import AuthConfig, AuthService, AuthStateMachine, TokenIssuer
from vectron.services.auth.grpc_server import SERVICE_NAME as AUTH_SERVICE, AuthServicer
from vectron.services.gateway.api import GatewayConfig
from vectron.services.gateway.node import GatewayNode, serve_gateway
from vectron.services.placement.fsm import PlacementStateMachine
from vectron.services.placement.grpc_server import SERVICE_NAME as PLACEMENT_SERVICE, PlacementServicer
from vectron.services.placement.service import PlacementConfig, PlacementService
from vectron.services.serving import GrpcServer, start_grpc_server
from vectron.v1 import auth_pb2_grpc, placement_pb2, placement_pb2_grpc

from tests.services.gateway.fake_worker import FakeWorker, serve_fake_worker

SECRET = b"gateway-test-secret-0123456789abcdef"


@dataclass
class Stack:
    node: GatewayNode
    workers: list[FakeWorker]
    http: httpx.Client
    servers: list[GrpcServer]
    closers: list[Any]

    @property
    def url(self) -> str:
        return self.node.url

    def account(self, email: str = "ada@example.com", password: str = "correct horse battery", **key_args: Any) -> dict[str, str]:
        """Register, log in and create a key; returns token and key."""
        r = self.http.post("/v1/users/register", json={"email": email, "password": password})
        assert r.status_code == 201, r.text
        r = self.http.post("/v1/users/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        key_args.setdefault("plan", "unlimited")
        r = self.http.post("/v1/keys", json={"name": "k", **key_args}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        return {"token": token, "key": r.json()["key"], "key_id": r.json()["api_key"]["id"]}


def build_stack(tmp: pathlib.Path, *, workers: int = 2, config: GatewayConfig | None = None) -> Stack:
    closers: list[Any] = []
    servers: list[GrpcServer] = []
    auth_fsm = AuthStateMachine(tmp / "auth", sync=False, map_size=1 << 26)
    auth_group = InMemoryGroup(auth_fsm)
    closers.append(auth_group.stop)
    auth = AuthService(auth_group, TokenIssuer(SECRET, ttl_seconds=600), AuthConfig(bcrypt_rounds=4))
    auth_server = start_grpc_server("127.0.0.1:0", lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(auth), s), [AUTH_SERVICE])
    auth_server.set_serving(True)
    servers.append(auth_server)

    pl_fsm = PlacementStateMachine(tmp / "placement", sync=False, map_size=1 << 26)
    pl_group = InMemoryGroup(pl_fsm)
    closers.append(pl_group.stop)
    placement = PlacementService(pl_group, PlacementConfig(liveness_timeout=3600))
    pl_server = start_grpc_server(
        "127.0.0.1:0", lambda s: placement_pb2_grpc.add_PlacementServiceServicer_to_server(PlacementServicer(placement), s), [PLACEMENT_SERVICE]
    )
    pl_server.set_serving(True)
    servers.append(pl_server)

    def lookup(collection_id: str) -> placement_pb2.CollectionInfo | None:
        rec = pl_group.read(lambda fsm: fsm.read(lambda s, txn: s.collection_by_id(txn, collection_id)), "any")
        return None if rec is None else rec.collection

    fakes: list[FakeWorker] = []
    for i in range(workers):
        fake, server = serve_fake_worker(tmp / f"worker{i}", lookup)
        fakes.append(fake)
        servers.append(server)
        closers.append(fake.close)
        placement.register_worker(
            placement_pb2.WorkerInfo(
                worker_id=f"w{i}", grpc_address=server.address, raft_host="127.0.0.1",
                raft_port_min=30000 + 100 * i, raft_port_max=30099 + 100 * i,
            )
        )
    node = serve_gateway(
        auth_addresses=[auth_server.address],
        placement_addresses=[pl_server.address],
        rest_listen="127.0.0.1:0",
        grpc_listen="127.0.0.1:0",
        config=config or GatewayConfig(retry_deadline=3.0, retry_attempts=4, default_shards=3),
        max_body_bytes=1 << 20,
    )
    http = httpx.Client(base_url=node.url, timeout=30)
    return Stack(node=node, workers=fakes, http=http, servers=servers, closers=closers)


def stop_stack(stack: Stack) -> None:
    stack.http.close()
    stack.node.stop()
    for server in stack.servers:
        server.stop(0)
    for close in reversed(stack.closers):
        close()


@pytest.fixture
def stack(tmp_path: pathlib.Path) -> Iterator[Stack]:
    s = build_stack(tmp_path)
    yield s
    stop_stack(s)
