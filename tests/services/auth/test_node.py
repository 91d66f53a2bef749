"""serve_auth on one real Raft node (pysyncobj on loopback): health, RPCs, status,
and state kept across a restart (journal replay) and across a snapshot."""

from __future__ import annotations

import json
import pathlib
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vectron.errors import InvalidArgument
from vectron.services.auth.grpc_server import SERVICE_NAME
from vectron.services.auth.node import AuthNode, serve_auth
from vectron.services.auth.service import AuthConfig
from vectron.services.channels import open_channel
from vectron.services.internal_auth import ClusterCredential
from vectron.v1 import auth_pb2, auth_pb2_grpc

from .cluster import free_ports
from .conftest import SECRET

PASSWORD = "correct horse battery"


def start(data_dir: pathlib.Path, raft_port: int) -> AuthNode:
    return serve_auth(
        data_dir=data_dir,
        raft_address=f"127.0.0.1:{raft_port}",
        grpc_listen="127.0.0.1:0",
        jwt_secret=SECRET,
        cluster_password="test-cluster-password",
        config=AuthConfig(bcrypt_rounds=4),
        status_file=data_dir / "status.json",
    )


def wait_serving(node: AuthNode, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with open_channel(node.grpc_address, credential=ClusterCredential("test-cluster-password", "test")) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME)).status != health_pb2.HealthCheckResponse.SERVING:
            if time.monotonic() > deadline:
                raise TimeoutError("auth node not serving")
            time.sleep(0.1)


def test_single_node_keeps_its_state_across_restarts_and_snapshots(tmp_path: pathlib.Path) -> None:
    (raft_port,) = free_ports(1)
    node = start(tmp_path, raft_port)
    try:
        wait_serving(node)
        with open_channel(node.grpc_address, credential=ClusterCredential("test-cluster-password", "test")) as channel:
            stub = auth_pb2_grpc.AuthServiceStub(channel)
            user = stub.RegisterUser(auth_pb2.RegisterUserRequest(email="alice@example.com", password=PASSWORD)).user
            token = stub.Login(auth_pb2.LoginRequest(email="alice@example.com", password=PASSWORD)).token
            key = stub.CreateAPIKey(auth_pb2.CreateAPIKeyRequest(name="k"), metadata=[("authorization", f"Bearer {token}")])
        deadline = time.monotonic() + 10
        while True:  # written every second; the first may predate the election
            try:
                group = json.loads((tmp_path / "status.json").read_text())["groups"][0]
            except (OSError, ValueError):
                group = {}
            if group.get("role") == "leader":
                break
            assert time.monotonic() < deadline, group
            time.sleep(0.1)
        assert group["group"] == "auth" and group["leader"] == f"127.0.0.1:{raft_port}"
    finally:
        node.stop()

    # restart 1: journal replay, then a snapshot is taken; restart 2: restore from it
    for compact in (True, False):
        node = start(tmp_path, raft_port)
        try:
            wait_serving(node)
            with open_channel(node.grpc_address, credential=ClusterCredential("test-cluster-password", "test")) as channel:
                stub = auth_pb2_grpc.AuthServiceStub(channel)
                assert stub.Login(auth_pb2.LoginRequest(email="alice@example.com", password=PASSWORD)).user == user
                assert stub.ValidateAPIKey(auth_pb2.ValidateAPIKeyRequest(key=key.key)).valid
                with pytest.raises(grpc.RpcError) as err:
                    stub.RegisterUser(auth_pb2.RegisterUserRequest(email="alice@example.com", password=PASSWORD))
                assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
            if compact:
                node.group.compact()
                deadline = time.monotonic() + 20
                while not (tmp_path / "raft" / "raft.snapshot").exists():
                    assert time.monotonic() < deadline, "no snapshot written"
                    time.sleep(0.1)
        finally:
            node.stop()


def test_a_cluster_password_is_required(tmp_path: pathlib.Path) -> None:
    with pytest.raises(InvalidArgument):
        serve_auth(data_dir=tmp_path, raft_address="127.0.0.1:1", jwt_secret=SECRET, cluster_password=None)
