"""The attacks of issue 11 on internal RPC, replayed against a real ``vectrond``: a
caller without the cluster credential (or with a wrong or expired one) is refused
UNAUTHENTICATED before anything runs, and nothing changes (checked over REST by
the tenant); a caller with a valid credential cannot re-point another worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vectron.services.channels import open_channel
from vectron.services.internal_auth import TOKEN_METADATA_KEY, TOKEN_TTL_SECONDS, ClusterCredential
from vectron.v1 import auth_pb2, auth_pb2_grpc, placement_pb2, placement_pb2_grpc, points_pb2, worker_pb2, worker_pb2_grpc

from .conftest import Node

Call = Callable[[grpc.Channel, list[tuple[str, str]]], Any]


def refused(node: Node, flag: str, call: Call, metadata: list[tuple[str, str]] | None = None) -> grpc.StatusCode:
    with grpc.insecure_channel(node.address(flag)) as channel:
        with pytest.raises(grpc.RpcError) as err:
            call(channel, metadata or [])
    return err.value.code()


def shard_ref(node: Node) -> worker_pb2.ShardRef:
    routing = node.routing()
    return worker_pb2.ShardRef(collection_id=routing.collection.collection_id, shard_id=0, epoch=routing.epoch)


def test_worker_refuses_unauthenticated_reads_and_writes_and_nothing_changes(node: Node) -> None:
    shard = shard_ref(node)
    ids = [points_pb2.PointId(num=1)]
    attacks: dict[str, Call] = {
        "Scroll": lambda ch, md: worker_pb2_grpc.WorkerServiceStub(ch).Scroll(
            worker_pb2.ScrollRequest(shard=shard, with_vector=True), metadata=md, timeout=10),
        "Upsert": lambda ch, md: worker_pb2_grpc.WorkerServiceStub(ch).Upsert(worker_pb2.UpsertRequest(
            shard=shard, points=[points_pb2.Point(id=points_pb2.PointId(num=666), vector=[0, 1, 0, 0], payload_json="{}")]),
            metadata=md, timeout=10),
        "SetPayload": lambda ch, md: worker_pb2_grpc.WorkerServiceStub(ch).SetPayload(
            worker_pb2.SetPayloadRequest(shard=shard, ids=ids, payload_json='{"secret": "pwned"}', overwrite=True),
            metadata=md, timeout=10),
        "Delete": lambda ch, md: worker_pb2_grpc.WorkerServiceStub(ch).Delete(
            worker_pb2.DeleteRequest(shard=shard, ids=ids), metadata=md, timeout=10),
        "Search": lambda ch, md: worker_pb2_grpc.WorkerServiceStub(ch).Search(worker_pb2.SearchRequest(
            shard=shard, queries=[worker_pb2.SearchQuery(vector=[1, 0, 0, 0])], k=10), metadata=md, timeout=10),
    }
    for name, attack in attacks.items():
        assert refused(node, "--worker-grpc", attack) == grpc.StatusCode.UNAUTHENTICATED, name
    r = node.tenant.point(1)
    assert r.status_code == 200 and r.json()["point"]["payload"] == {"secret": "tenant data"}, r.text
    assert node.tenant.point(666).status_code == 404
    # the same shard answers a caller holding the cluster credential: the refusals were not about the request
    with node.insider("--worker-grpc") as ch:
        points = worker_pb2_grpc.WorkerServiceStub(ch).Scroll(worker_pb2.ScrollRequest(shard=shard), timeout=10).points
    assert [p.id.num for p in points] == [1]


def test_placement_refuses_unauthenticated_collection_changes_and_heartbeats(node: Node) -> None:
    owner = node.tenant.user_id
    ref = placement_pb2.CollectionRef(owner=owner, name="docs")
    stub = placement_pb2_grpc.PlacementServiceStub
    attacks: dict[str, Call] = {
        "CreateCollection": lambda ch, md: stub(ch).CreateCollection(
            placement_pb2.CreateCollectionRequest(owner=owner, name="planted", dimension=4), metadata=md, timeout=10),
        "DropCollection": lambda ch, md: stub(ch).DropCollection(
            placement_pb2.DropCollectionRequest(collection=ref), metadata=md, timeout=10),
        "Heartbeat (made-up worker)": lambda ch, md: stub(ch).Heartbeat(
            placement_pb2.HeartbeatRequest(worker_id="attacker"), metadata=md, timeout=10),
        "Heartbeat (real worker)": lambda ch, md: stub(ch).Heartbeat(
            placement_pb2.HeartbeatRequest(worker_id=node.workers()[0].worker_id), metadata=md, timeout=10),
        "ListCollections": lambda ch, md: stub(ch).ListCollections(
            placement_pb2.ListCollectionsRequest(owner=owner), metadata=md, timeout=10),
    }
    for name, attack in attacks.items():
        assert refused(node, "--placement-grpc", attack) == grpc.StatusCode.UNAUTHENTICATED, name
    assert node.tenant.collections() == ["docs"]
    assert node.tenant.point(1).status_code == 200


def test_auth_service_refuses_unauthenticated_calls(node: Node) -> None:
    def validate(ch: grpc.Channel, md: list[tuple[str, str]]) -> Any:
        return auth_pb2_grpc.AuthServiceStub(ch).ValidateAPIKey(
            auth_pb2.ValidateAPIKeyRequest(key=node.tenant.key), metadata=md, timeout=10)

    def register(ch: grpc.Channel, md: list[tuple[str, str]]) -> Any:
        return auth_pb2_grpc.AuthServiceStub(ch).RegisterUser(
            auth_pb2.RegisterUserRequest(email="sneaky@example.com", password="correct horse battery"), metadata=md, timeout=10)

    assert refused(node, "--auth-grpc", validate) == grpc.StatusCode.UNAUTHENTICATED
    assert refused(node, "--auth-grpc", register) == grpc.StatusCode.UNAUTHENTICATED
    r = node.tenant.http.post("/v1/users/login", json={"email": "sneaky@example.com", "password": "correct horse battery"})
    assert r.status_code == 401, r.text  # the refused registration created nothing


def test_wrong_expired_and_malformed_tokens_are_refused(node: Node) -> None:
    def scroll(ch: grpc.Channel, md: list[tuple[str, str]]) -> Any:
        return worker_pb2_grpc.WorkerServiceStub(ch).Scroll(worker_pb2.ScrollRequest(shard=shard_ref(node)), metadata=md, timeout=10)

    good = ClusterCredential(node.password, "node1-worker")
    tokens = {
        "wrong password": ClusterCredential("not-the-cluster-password", "node1-worker").token(),
        "expired": good.token(now=time.time() - 2 * TOKEN_TTL_SECONDS - 600),
        "far future": good.token(now=time.time() + 10 * TOKEN_TTL_SECONDS),
        "tampered node id": good.token().replace(good.token().split(".")[1], "aW50cnVkZXI"),
        "garbage": "v1.x.y.z",
    }
    for name, token in tokens.items():
        assert refused(node, "--worker-grpc", scroll, [(TOKEN_METADATA_KEY, token)]) == grpc.StatusCode.UNAUTHENTICATED, name
    with open_channel(node.address("--worker-grpc"), credential=ClusterCredential("wrong", "x")) as ch:
        with pytest.raises(grpc.RpcError) as err:
            scroll(ch, [])
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_refused_request_body_is_never_parsed(node: Node) -> None:
    """Bytes that are no protobuf at all: refused for the missing token, not for the body."""
    with grpc.insecure_channel(node.address("--placement-grpc")) as ch:
        call = ch.unary_unary("/vectron.v1.PlacementService/CreateCollection")
        with pytest.raises(grpc.RpcError) as err:
            call(b"\xff" * 64, timeout=10)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_only_health_is_open(node: Node) -> None:
    for flag in ("--auth-grpc", "--placement-grpc", "--worker-grpc"):
        with grpc.insecure_channel(node.address(flag)) as ch:
            status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10).status
            assert status == health_pb2.HealthCheckResponse.SERVING, flag
            reflect = ch.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
            with pytest.raises(grpc.RpcError) as err:
                list(reflect(iter([b""]), timeout=10))
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED, flag


def test_a_worker_cannot_be_repointed_by_anyone_else(node: Node) -> None:
    (worker,) = node.workers()
    evil = placement_pb2.WorkerInfo()
    evil.CopyFrom(worker)
    evil.grpc_address = "127.0.0.1:1"
    evil.live, evil.last_heartbeat_ms = False, 0

    def register(ch: grpc.Channel, md: list[tuple[str, str]]) -> Any:
        return placement_pb2_grpc.PlacementServiceStub(ch).RegisterWorker(
            placement_pb2.RegisterWorkerRequest(worker=evil), metadata=md, timeout=10)

    assert refused(node, "--placement-grpc", register) == grpc.StatusCode.UNAUTHENTICATED
    # holding the cluster credential is not enough: the token must name that worker
    with node.insider("--placement-grpc", node_id="some-other-node") as ch:
        with pytest.raises(grpc.RpcError) as err:
            register(ch, [])
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert [w.grpc_address for w in node.workers()] == [worker.grpc_address]
    # the tenant's writes still reach the real worker
    r = node.tenant.http.post("/v1/collections/docs/points", headers=node.tenant.headers,
                              json={"points": [{"id": 2, "vector": [0, 0, 1, 0]}]})
    assert r.status_code == 200, r.text
    assert node.tenant.point(2).status_code == 200
