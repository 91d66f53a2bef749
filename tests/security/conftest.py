"""Fixtures of the security tests: one real zero-configuration ``vectrond --role all``
(its cluster password generated in its data folder) with a tenant who owns a
collection holding one point, set up over REST like any user."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import httpx
import pytest

from tests.services.gateway.procs import Daemon, single_node
from vectron.services.channels import open_channel
from vectron.services.internal_auth import ClusterCredential
from vectron.v1 import placement_pb2, placement_pb2_grpc

PASSWORD = "correct horse battery"


def arg(daemon: Daemon, flag: str) -> str:
    return daemon.args[daemon.args.index(flag) + 1]


@dataclass
class Tenant:
    http: httpx.Client
    key: str
    user_id: str
    collection: str = "docs"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def point(self, point_id: int) -> httpx.Response:
        return self.http.get(f"/v1/collections/{self.collection}/points/{point_id}", headers=self.headers)

    def collections(self) -> list[str]:
        r = self.http.get("/v1/collections", headers=self.headers)
        assert r.status_code == 200, r.text
        return sorted(c["name"] for c in r.json()["collections"])


@dataclass
class Node:
    daemon: Daemon
    tenant: Tenant

    @property
    def password(self) -> str:
        return (self.daemon.data_dir / "cluster-password").read_text().strip()

    def address(self, flag: str) -> str:
        return arg(self.daemon, flag)

    def insider(self, flag: str, node_id: str = "security-test") -> grpc.Channel:
        """A channel with a valid cluster token (what another node of the cluster has)."""
        return open_channel(self.address(flag), credential=ClusterCredential(self.password, node_id))

    def routing(self) -> placement_pb2.RoutingTable:
        with self.insider("--placement-grpc") as ch:
            ref = placement_pb2.CollectionRef(owner=self.tenant.user_id, name=self.tenant.collection)
            return placement_pb2_grpc.PlacementServiceStub(ch).GetRoutingTable(
                placement_pb2.GetRoutingTableRequest(collection=ref), timeout=10
            ).routing

    def workers(self) -> list[placement_pb2.WorkerInfo]:
        with self.insider("--placement-grpc") as ch:
            return list(placement_pb2_grpc.PlacementServiceStub(ch).ListWorkers(
                placement_pb2.ListWorkersRequest(), timeout=10).workers)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    tmp: pathlib.Path = tmp_path_factory.mktemp("secure-node")
    daemon = single_node(tmp, "--default-shards", "1")
    daemon.start()
    try:
        daemon.wait_ready()
        http = httpx.Client(base_url=daemon.url, timeout=30)
        r = http.post("/v1/users/register", json={"email": "tenant@example.com", "password": PASSWORD})
        assert r.status_code == 201, r.text
        user_id = r.json()["user"]["id"]
        token = http.post("/v1/users/login", json={"email": "tenant@example.com", "password": PASSWORD}).json()["token"]
        r = http.post("/v1/keys", json={"name": "k"}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        tenant = Tenant(http, r.json()["key"], user_id)
        r = http.put("/v1/collections/docs", json={"dimension": 4}, headers=tenant.headers)
        assert r.status_code == 201, r.text
        r = http.post("/v1/collections/docs/points", headers=tenant.headers,
                      json={"points": [{"id": 1, "vector": [1, 0, 0, 0], "payload": {"secret": "tenant data"}}]})
        assert r.status_code == 200, r.text
        yield Node(daemon, tenant)
        http.close()
    finally:
        daemon.stop()
