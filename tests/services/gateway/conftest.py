"""Fixtures of the gateway tests.

``stack``: an in-process Vectron behind a real gateway: the auth service and the
placement driver on in-memory Raft runners behind their real gRPC servers, two
real workers (``WorkerService`` over real store collections and in-memory
groups, with switchable faults: see ``doubles.py``) behind their real gRPC
servers, and the gateway's real REST (uvicorn) and gRPC servers on free
loopback ports. ``cluster``: the same services without any server, for
:class:`Gateway` unit tests.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.services.gateway.doubles import ADMIN_EMAIL, Cluster, FaultyWorkerService, build_cluster
from vectron.services.auth.grpc_server import SERVICE_NAME as AUTH_SERVICE
from vectron.services.auth.grpc_server import AuthServicer
from vectron.services.gateway.api import GatewayConfig
from vectron.services.gateway.edge import EdgeLimits
from vectron.services.gateway.node import GatewayNode, serve_gateway
from vectron.services.placement.grpc_server import SERVICE_NAME as PLACEMENT_SERVICE
from vectron.services.placement.grpc_server import PlacementServicer
from vectron.services.serving import GrpcServer, start_grpc_server
from vectron.services.worker.grpc_server import SERVICE_NAME as WORKER_SERVICE
from vectron.services.worker.grpc_server import WorkerServicer
from vectron.v1 import auth_pb2_grpc, placement_pb2_grpc, worker_pb2_grpc


@dataclass
class Stack:
    node: GatewayNode
    workers: list[FaultyWorkerService]
    http: httpx.Client
    servers: list[GrpcServer]
    closers: list[Any]

    @property
    def url(self) -> str:
        return self.node.url

    def login(self, email: str, password: str = "correct horse battery", *, register: bool = True) -> str:
        """Register (unless told not to) and log in; the session token."""
        if register:
            r = self.http.post("/v1/users/register", json={"email": email, "password": password})
            assert r.status_code in (201, 409), r.text
        r = self.http.post("/v1/users/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def admin_token(self) -> str:
        """A session of the stack's admin (ADMIN_EMAIL), registered on first use."""
        return self.login(ADMIN_EMAIL)

    def account(
        self, email: str = "ada@example.com", password: str = "correct horse battery", plan: str | None = None, **key_args: Any
    ) -> dict[str, str]:
        """Register, log in, have the admin set the plan (new accounts are unlimited here) and
        create a key; returns token and key."""
        token = self.login(email, password)
        if plan is not None:
            r = self.http.put(f"/v1/admin/users/{email}/plan", json={"plan": plan}, headers={"Authorization": f"Bearer {self.admin_token()}"})
            assert r.status_code == 200, r.text
        r = self.http.post("/v1/keys", json={"name": "k", **key_args}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        return {"token": token, "key": r.json()["key"], "key_id": r.json()["api_key"]["id"]}


def build_stack(tmp: pathlib.Path, *, workers: int = 2, config: GatewayConfig | None = None, limits: EdgeLimits | None = None) -> Stack:
    servers: list[GrpcServer] = []
    servicers: list[WorkerServicer] = []

    def serve(service: FaultyWorkerService) -> str:
        servicer = WorkerServicer(service)
        server = start_grpc_server(
            "127.0.0.1:0", lambda s: worker_pb2_grpc.add_WorkerServiceServicer_to_server(servicer, s), [WORKER_SERVICE]
        )
        server.set_serving(True)
        servers.append(server)
        servicers.append(servicer)
        return server.address

    cluster = build_cluster(tmp, workers=workers, serve=serve)
    closers: list[Any] = [cluster.close] + [s.channels.close for s in servicers]
    auth_server = start_grpc_server(
        "127.0.0.1:0", lambda s: auth_pb2_grpc.add_AuthServiceServicer_to_server(AuthServicer(cluster.auth), s), [AUTH_SERVICE]
    )
    auth_server.set_serving(True)
    servers.append(auth_server)
    pl_server = start_grpc_server(
        "127.0.0.1:0",
        lambda s: placement_pb2_grpc.add_PlacementServiceServicer_to_server(PlacementServicer(cluster.placement), s),
        [PLACEMENT_SERVICE],
    )
    pl_server.set_serving(True)
    servers.append(pl_server)
    node = serve_gateway(
        auth_addresses=[auth_server.address],
        placement_addresses=[pl_server.address],
        rest_listen="127.0.0.1:0",
        grpc_listen="127.0.0.1:0",
        config=config or GatewayConfig(retry_deadline=3.0, retry_attempts=4, default_shards=3),
        limits=limits or EdgeLimits(max_body_bytes=1 << 20),
    )
    http = httpx.Client(base_url=node.url, timeout=30)
    return Stack(node=node, workers=list(cluster.workers.values()), http=http, servers=servers, closers=closers)


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


@pytest.fixture
def cluster(tmp_path: pathlib.Path) -> Iterator[Cluster]:
    c = build_cluster(tmp_path)
    yield c
    c.close()
