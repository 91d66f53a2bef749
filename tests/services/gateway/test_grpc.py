"""The public gRPC VectronService over the in-process stack: the same flows and errors as REST."""

from __future__ import annotations

import json

import grpc
import pytest

from tests.services.gateway.conftest import Stack
from vectron.v1 import gateway_pb2 as pb
from vectron.v1 import gateway_pb2_grpc, points_pb2


def md(cred: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {cred}")]


@pytest.fixture
def stub(stack: Stack) -> gateway_pb2_grpc.VectronServiceStub:
    channel = grpc.insecure_channel(stack.node.grpc_address)
    yield gateway_pb2_grpc.VectronServiceStub(channel)
    channel.close()


def test_flows_over_grpc(stack: Stack, stub: gateway_pb2_grpc.VectronServiceStub) -> None:
    user = stub.Register(pb.Credentials(email="g@example.com", password="correct horse battery")).user
    login = stub.Login(pb.Credentials(email="g@example.com", password="correct horse battery"))
    assert login.user == user and login.token
    created = stub.CreateKey(pb.CreateKeyRequest(name="grpc"), metadata=md(login.token))
    key = created.key
    assert stub.GetProfile(pb.ProfileRequest(), metadata=md(login.token)).user == user
    assert [k.id for k in stub.ListKeys(pb.ListKeysRequest(), metadata=md(login.token)).api_keys] == [created.api_key.id]
    stub.CreateCollection(pb.CreateCollectionSpec(name="g", dimension=3, distance="dot", shards=2), metadata=md(key))
    points = [
        points_pb2.Point(id=points_pb2.PointId(num=i), vector=[1.0, float(i), 0.0], payload_json=json.dumps({"i": i}))
        for i in range(10)
    ] + [points_pb2.Point(id=points_pb2.PointId(str="s"), vector=[0.0, 0.0, 1.0], payload_json='{"s": true}')]
    assert stub.Upsert(pb.UpsertPointsRequest(collection="g", points=points), metadata=md(key)).upserted == 11
    got = stub.Get(pb.GetPointsRequest(collection="g", ids=[points_pb2.PointId(str="s"), points_pb2.PointId(num=4)]), metadata=md(key))
    assert [json.loads(p.payload_json) for p in got.points] == [{"s": True}, {"i": 4}]
    res = stub.Search(pb.SearchPointsRequest(collection="g", vector=[0.0, 1.0, 0.0], top_k=3), metadata=md(key))
    assert [h.id.num for h in res.results] == [9, 8, 7] and json.loads(res.results[0].payload_json) == {"i": 9}
    batch = stub.SearchBatch(
        pb.SearchBatchPointsRequest(collection="g", searches=[pb.SearchPointsRequest(vector=[0, 0, 1.0], top_k=1)] * 2),
        metadata=md(key),
    )
    assert [r.hits[0].id.str for r in batch.results] == ["s", "s"]
    assert stub.Count(pb.CountPointsRequest(collection="g"), metadata=md(key)).count == 11
    info = stub.GetCollection(pb.CollectionName(name="g"), metadata=md(key)).collection
    assert info.points_count == 11 and info.shards == 2


def test_errors_over_grpc(stack: Stack, stub: gateway_pb2_grpc.VectronServiceStub) -> None:
    acc = stack.account()
    with pytest.raises(grpc.RpcError) as e:
        stub.ListCollections(pb.ListCollectionsSpec(), metadata=md(acc["token"]))
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as e:
        stub.GetProfile(pb.ProfileRequest(), metadata=md(acc["key"]))
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    stub.CreateCollection(pb.CreateCollectionSpec(name="d", dimension=3), metadata=md(acc["key"]))
    with pytest.raises(grpc.RpcError) as e:
        stub.Upsert(pb.UpsertPointsRequest(collection="d", points=[points_pb2.Point(id=points_pb2.PointId(num=1), vector=[1, 2])]), metadata=md(acc["key"]))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(e.value.trailing_metadata())["vectron-error-code"] == "dimension_mismatch"
    with pytest.raises(grpc.RpcError) as e:
        stub.Search(pb.SearchPointsRequest(collection="missing", vector=[1, 2, 3]), metadata=md(acc["key"]))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as e:
        stub.Upsert(pb.UpsertPointsRequest(collection="d", points=[points_pb2.Point(id=points_pb2.PointId(num=1), vector=[1, 2, float("nan")])]), metadata=md(acc["key"]))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert stub.Count(pb.CountPointsRequest(collection="d"), metadata=md(acc["key"])).count == 0


def test_partial_write_over_grpc(stack: Stack, stub: gateway_pb2_grpc.VectronServiceStub) -> None:
    acc = stack.account()
    stub.CreateCollection(pb.CreateCollectionSpec(name="p", dimension=2, shards=3), metadata=md(acc["key"]))
    for w in stack.workers:
        w.down.add(2)
    points = [points_pb2.Point(id=points_pb2.PointId(num=i), vector=[1.0, float(i)]) for i in range(30)]
    with pytest.raises(grpc.RpcError) as e:
        stub.Upsert(pb.UpsertPointsRequest(collection="p", points=points), metadata=md(acc["key"]))
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    trailers = dict(e.value.trailing_metadata())
    assert trailers["vectron-error-code"] == "partial_write"
    written, failed = json.loads(trailers["vectron-written"]), json.loads(trailers["vectron-failed"])
    assert written and failed and sorted(written + failed) == list(range(30))
    for w in stack.workers:
        w.down.clear()
