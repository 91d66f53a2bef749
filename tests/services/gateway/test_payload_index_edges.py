"""Payload index routes over the in-process stack's real REST and gRPC servers: status
codes (201 created, 200 already there), listing, and refusals naming the field."""

from __future__ import annotations

import time

import grpc
import pytest

from tests.services.gateway.conftest import Stack
from tests.services.gateway.test_grpc import md
from vectron.v1 import gateway_pb2 as pb
from vectron.v1 import gateway_pb2_grpc


def H(cred: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {cred}"}


def test_rest_payload_index_routes(stack: Stack) -> None:
    acc = stack.account()
    http, key = stack.http, acc["key"]
    body = {"dimension": 3, "shards": 2, "payload_indexes": [{"field": "lang", "type": "keyword"}]}
    r = http.put("/v1/collections/docs", json=body, headers=H(key))
    assert r.status_code == 201, r.text
    assert r.json()["collection"]["payload_indexes"] == [{"field": "lang", "type": "keyword", "automatic": False}]
    points = [{"id": i, "vector": [1.0, float(i), 0.0], "payload": {"meta": {"n": i}, "lang": "en" if i % 2 else "fr"}} for i in range(20)]
    assert http.post("/v1/collections/docs/points", json={"points": points}, headers=H(key)).status_code == 200
    r = http.put("/v1/collections/docs/index", json={"field": "meta.n", "type": "integer"}, headers=H(key))
    assert r.status_code == 201 and r.json() == {"field": "meta.n", "type": "integer", "created": True}
    r = http.put("/v1/collections/docs/index", json={"field": "meta.n", "type": "integer"}, headers=H(key))
    assert r.status_code == 200 and r.json()["created"] is False
    got = http.get("/v1/collections/docs", headers=H(key)).json()["collection"]
    assert [(i["field"], i["type"], i["automatic"]) for i in got["payload_indexes"]] == [("lang", "keyword", False), ("meta.n", "integer", False)]
    flt = {"must": [{"key": "meta.n", "range": {"gte": 5, "lt": 9}}, {"key": "lang", "match": {"value": "en"}}]}
    assert http.post("/v1/collections/docs/points/count", json={"filter": flt}, headers=H(key)).json()["count"] == 2
    r = http.delete("/v1/collections/docs/index/meta.n", headers=H(key))
    assert r.status_code == 200 and r.json() == {"field": "meta.n", "dropped": True}
    assert http.delete("/v1/collections/docs/index/meta.n", headers=H(key)).json()["dropped"] is False
    got = http.get("/v1/collections/docs", headers=H(key)).json()["collection"]
    assert [i["field"] for i in got["payload_indexes"]] == ["lang"]
    assert http.post("/v1/collections/docs/points/count", json={"filter": flt}, headers=H(key)).json()["count"] == 2
    # that filter met meta.n unindexed: the shards index it automatically, and GET says so
    deadline = time.monotonic() + 120
    while ("meta.n", "float", True) not in {(i["field"], i["type"], i["automatic"]) for i in got["payload_indexes"]}:
        assert time.monotonic() < deadline, got["payload_indexes"]
        time.sleep(0.2)
        got = http.get("/v1/collections/docs", headers=H(key)).json()["collection"]
    assert http.post("/v1/collections/docs/points/count", json={"filter": flt}, headers=H(key)).json()["count"] == 2

    # bad input: 400 naming the field; a read-only key: 403; nothing changed
    for payload, field in (
        ({"field": "a..b", "type": "keyword"}, "field"),
        ({"field": "a", "type": "text"}, "type"),
        ({"field": 3, "type": "keyword"}, "field"),
        ({"type": "keyword"}, "field"),
        ({"field": "a", "type": "bool", "extra": 1}, "extra"),
    ):
        r = http.put("/v1/collections/docs/index", json=payload, headers=H(key))
        assert r.status_code == 400 and r.json()["error"]["field"] == field, (payload, r.text)
    r = http.delete("/v1/collections/docs/index/a..b", headers=H(key))
    assert r.status_code == 400 and r.json()["error"]["field"] == "field"
    r = http.put("/v1/collections/nope/index", json={"field": "a", "type": "bool"}, headers=H(key))
    assert r.status_code == 404
    bad_create = {"dimension": 3, "payload_indexes": [{"field": "x", "type": "bool"}, {"field": "x", "type": "keyword"}]}
    r = http.put("/v1/collections/other", json=bad_create, headers=H(key))
    assert r.status_code == 400 and r.json()["error"]["field"] == "payload_indexes[1].field"
    r = http.put("/v1/collections/other", json={"dimension": 3, "payload_indexes": [{"field": "x", "type": "date"}]}, headers=H(key))
    assert r.status_code == 400 and r.json()["error"]["field"] == "payload_indexes[0].type"
    r = http.put("/v1/collections/other", json={"dimension": 3, "auto_index": "no"}, headers=H(key))
    assert r.status_code == 400 and r.json()["error"]["field"] == "auto_index"
    ro = http.post("/v1/keys", json={"name": "ro", "scope": "read-only"}, headers=H(acc["token"])).json()["key"]
    assert http.put("/v1/collections/docs/index", json={"field": "z", "type": "bool"}, headers=H(ro)).status_code == 403
    assert http.delete("/v1/collections/docs/index/lang", headers=H(ro)).status_code == 403
    got = http.get("/v1/collections/docs", headers=H(key)).json()["collection"]
    assert [i["field"] for i in got["payload_indexes"] if not i["automatic"]] == ["lang"]
    assert [c["name"] for c in http.get("/v1/collections", headers=H(key)).json()["collections"]] == ["docs"]
    r = http.put("/v1/collections/manual", json={"dimension": 3, "auto_index": False}, headers=H(key))
    assert r.status_code == 201 and r.json()["collection"]["auto_index"] is False
    assert http.get("/v1/collections/manual", headers=H(key)).json()["collection"]["auto_index"] is False
    assert http.get("/v1/collections/docs", headers=H(key)).json()["collection"]["auto_index"] is True


def test_grpc_payload_index_rpcs(stack: Stack) -> None:
    key = stack.account(email="g@example.com")["key"]
    with grpc.insecure_channel(stack.node.grpc_address) as channel:
        stub = gateway_pb2_grpc.VectronServiceStub(channel)
        spec = pb.CreateCollectionSpec(name="g", dimension=3, payload_indexes=[pb.PayloadIndexView(field="lang", type="keyword")])
        created = stub.CreateCollection(spec, metadata=md(key)).collection
        assert [(i.field, i.type) for i in created.payload_indexes] == [("lang", "keyword")] and created.auto_index
        manual = stub.CreateCollection(pb.CreateCollectionSpec(name="m", dimension=3, auto_index_off=True), metadata=md(key)).collection
        assert not manual.auto_index
        req = pb.PayloadIndexSpecRequest(collection="g", field="n", type="float")
        assert stub.CreatePayloadIndex(req, metadata=md(key)).changed is True
        assert stub.CreatePayloadIndex(req, metadata=md(key)).changed is False
        info = stub.GetCollection(pb.CollectionName(name="g"), metadata=md(key)).collection
        assert [(i.field, i.type, i.automatic) for i in info.payload_indexes] == [("lang", "keyword", False), ("n", "float", False)]
        assert stub.DropPayloadIndex(pb.PayloadIndexSpecRequest(collection="g", field="n"), metadata=md(key)).changed is True
        for bad, field in ((pb.PayloadIndexSpecRequest(collection="g", field="n", type="text"), "type"),
                           (pb.PayloadIndexSpecRequest(collection="g", field="n..", type="bool"), "field")):
            with pytest.raises(grpc.RpcError) as err:
                stub.CreatePayloadIndex(bad, metadata=md(key))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert dict(err.value.trailing_metadata())["vectron-error-field"] == field
        info = stub.GetCollection(pb.CollectionName(name="g"), metadata=md(key)).collection
        assert [i.field for i in info.payload_indexes] == ["lang"]
