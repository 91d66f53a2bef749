"""The REST API over an in-process stack (real gRPC and HTTP, in-memory Raft runners,
fake workers over real store collections): the flows, isolation, plans, bad input,
partial failures and the documents (/openapi.json, /metrics)."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest

from tests.services.gateway.conftest import Stack
from vectron.services.gateway.limits import TokenBucketLimiter


def H(cred: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {cred}"}


def make_points(n: int, dim: int = 4, seed: int = 0) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(n, dim)).astype(np.float32)
    return [{"id": i, "vector": vecs[i].tolist(), "payload": {"n": i, "tag": f"t{i % 3}", "nested": {"x": [i, "y"]}}} for i in range(n)]


def create(stack: Stack, key: str, name: str = "docs", dim: int = 4, **extra: Any) -> httpx.Response:
    return stack.http.put(f"/v1/collections/{name}", json={"dimension": dim, **extra}, headers=H(key))


def test_eight_flows_with_payloads(stack: Stack) -> None:
    http = stack.http
    r = http.post("/v1/users/register", json={"email": "Ada@Example.com", "password": "correct horse battery"})
    assert r.status_code == 201
    user = r.json()["user"]
    assert user["email"] == "ada@example.com" and user["id"] and user["created_at"].endswith("Z")
    r = http.post("/v1/users/login", json={"email": "ada@example.com", "password": "correct horse battery"})
    assert r.status_code == 200
    login = r.json()
    assert login["user"] == user and login["token"] and login["expires_at"]
    token = login["token"]
    r = http.post("/v1/keys", json={"name": "laptop"}, headers=H(token))
    assert r.status_code == 201
    key, info = r.json()["key"], r.json()["api_key"]
    assert key.startswith(f"vk_{info['id']}_") and info["prefix"] == f"vk_{info['id']}"
    assert info["plan"] == "unlimited" and info["scope"] == "read-write" and info["name"] == "laptop"  # the account's plan
    assert create(stack, key, "docs", 4, distance="cosine", shards=3).status_code == 201
    pts = make_points(30)
    pts.append({"id": "string-id", "vector": [0.5, 0.5, 0.5, 0.5], "payload": {"kind": "str", "ok": True, "n": None}})
    r = http.post("/v1/collections/docs/points", json={"points": pts}, headers=H(key))
    assert r.status_code == 200 and r.json() == {"upserted": 31}
    # get (single, by path) with payload and vector
    r = http.get("/v1/collections/docs/points/7", headers=H(key))
    assert r.status_code == 200
    point = r.json()["point"]
    assert point["id"] == 7 and point["payload"] == pts[7]["payload"]
    assert np.allclose(point["vector"], pts[7]["vector"], atol=1e-6)
    r = http.get("/v1/collections/docs/points/string-id", headers=H(key))
    assert r.json()["point"]["payload"] == {"kind": "str", "ok": True, "n": None}
    # get by ids, in the order asked, missing ids absent
    r = http.post("/v1/collections/docs/points/get", json={"ids": [29, "string-id", 999, 0]}, headers=H(key))
    assert [p["id"] for p in r.json()["points"]] == [29, "string-id", 0]
    assert r.json()["points"][0]["payload"] == pts[29]["payload"]
    # search: payloads come back, exact top-k over all shards
    q = pts[12]["vector"]
    r = http.post("/v1/collections/docs/points/search", json={"vector": q, "top_k": 5}, headers=H(key))
    assert r.status_code == 200
    res = r.json()
    assert res["partial"] is False
    hits = res["results"]
    assert hits[0]["id"] == 12 and hits[0]["payload"] == pts[12]["payload"]
    allv = np.array([p["vector"] for p in pts], dtype=np.float32)
    sims = (allv / np.linalg.norm(allv, axis=1, keepdims=True)) @ (np.array(q) / np.linalg.norm(q))
    ids = [p["id"] for p in pts]
    expected = [ids[i] for i in np.argsort(-sims)[:5]]
    assert [h["id"] for h in hits] == expected
    assert all(h["payload"] == next(p["payload"] for p in pts if p["id"] == h["id"]) for h in hits)
    # profile and list keys
    r = http.get("/v1/user/profile", headers=H(token))
    assert r.status_code == 200 and r.json() == {"user": user}
    r = http.get("/v1/keys", headers=H(token))
    assert [k["id"] for k in r.json()["api_keys"]] == [info["id"]]


def test_points_operations(stack: Stack) -> None:
    acc = stack.account()
    key = acc["key"]
    http = stack.http
    assert create(stack, key, "c", 4, distance="euclid", shards=3).status_code == 201
    pts = make_points(50, seed=3)
    assert http.post("/v1/collections/c/points", json={"points": pts}, headers=H(key)).json() == {"upserted": 50}
    assert http.post("/v1/collections/c/points/count", json={}, headers=H(key)).json() == {"count": 50}
    f = {"must": [{"key": "tag", "match": {"value": "t1"}}]}
    n_t1 = sum(1 for p in pts if p["payload"]["tag"] == "t1")
    assert http.post("/v1/collections/c/points/count", json={"filter": f}, headers=H(key)).json() == {"count": n_t1}
    # scroll across shards in id order, pages joined give every point once
    seen, offset = [], None
    while True:
        body: dict[str, Any] = {"limit": 7}
        if offset is not None:
            body["offset"] = offset
        r = http.post("/v1/collections/c/points/scroll", json=body, headers=H(key)).json()
        seen.extend(p["id"] for p in r["points"])
        assert all(p["payload"] == pts[p["id"]]["payload"] for p in r["points"])
        offset = r.get("next_offset")
        if offset is None:
            break
    assert seen == list(range(50))
    # filtered search on euclid: lower is better, filter respected
    r = http.post("/v1/collections/c/points/search", json={"vector": pts[4]["vector"], "top_k": 3, "filter": f}, headers=H(key)).json()
    assert all(h["payload"]["tag"] == "t1" for h in r["results"])
    scores = [h["score"] for h in r["results"]]
    assert scores == sorted(scores)
    # batch search: one result list per query
    r = http.post(
        "/v1/collections/c/points/search/batch",
        json={"searches": [{"vector": pts[1]["vector"], "top_k": 1}, {"vector": pts[2]["vector"], "top_k": 2, "filter": f}]},
        headers=H(key),
    ).json()
    assert len(r["results"]) == 2 and r["results"][0][0]["id"] == 1 and len(r["results"][1]) == 2
    # set payload, then delete by ids and by filter
    r = http.post("/v1/collections/c/points/payload", json={"ids": [1, 2], "payload": {"seen": True}}, headers=H(key))
    assert r.json() == {"updated": 2}
    assert http.get("/v1/collections/c/points/1", headers=H(key)).json()["point"]["payload"]["seen"] is True
    assert http.post("/v1/collections/c/points/delete", json={"ids": [1, 2, 999]}, headers=H(key)).json() == {"deleted": 2}
    assert http.get("/v1/collections/c/points/1", headers=H(key)).status_code == 404
    r = http.post("/v1/collections/c/points/delete", json={"filter": f}, headers=H(key)).json()
    assert r["deleted"] == n_t1 - (1 if pts[1]["payload"]["tag"] == "t1" else 0) - (1 if pts[2]["payload"]["tag"] == "t1" else 0)
    # collection info: config, point count, shard status
    info = http.get("/v1/collections/c", headers=H(key)).json()["collection"]
    remaining = http.post("/v1/collections/c/points/count", json={}, headers=H(key)).json()["count"]
    assert info["points_count"] == remaining and info["shards"] == 3 and info["distance"] == "euclid"
    assert [s["status"] for s in info["shard_status"]] == ["ok"] * 3
    assert http.get("/v1/collections", headers=H(key)).json()["collections"][0]["name"] == "c"
    assert http.delete("/v1/collections/c", headers=H(key)).json() == {"dropped": True}
    assert http.get("/v1/collections/c", headers=H(key)).status_code == 404


def test_tenant_isolation(stack: Stack) -> None:
    a = stack.account("a@example.com")
    b = stack.account("b@example.com")
    http = stack.http
    assert create(stack, a["key"], "docs").status_code == 201
    http.post("/v1/collections/docs/points", json={"points": make_points(3)}, headers=H(a["key"]))
    for method, path, body in [
        ("GET", "/v1/collections/docs", None),
        ("GET", "/v1/collections/docs/points/1", None),
        ("POST", "/v1/collections/docs/points/search", {"vector": [1, 0, 0, 0], "top_k": 1}),
        ("POST", "/v1/collections/docs/points", {"points": make_points(1)}),
        ("POST", "/v1/collections/docs/points/count", {}),
        ("DELETE", "/v1/collections/docs", None),
    ]:
        r = http.request(method, path, json=body, headers=H(b["key"]))
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"]["code"] == "collection_not_found"
    assert http.get("/v1/collections", headers=H(b["key"])).json() == {"collections": []}
    # b may have its own "docs", separate from a's
    assert create(stack, b["key"], "docs").status_code == 201
    assert http.post("/v1/collections/docs/points/count", json={}, headers=H(b["key"])).json() == {"count": 0}
    assert http.post("/v1/collections/docs/points/count", json={}, headers=H(a["key"])).json() == {"count": 3}


def test_credentials(stack: Stack) -> None:
    acc = stack.account()
    http = stack.http
    assert create(stack, acc["key"]).status_code == 201
    cases = [
        ("GET", "/v1/user/profile", {}, "session token is required"),
        ("GET", "/v1/user/profile", H(acc["key"]), "not an API key"),
        ("GET", "/v1/keys", H("garbage.token.here"), None),
        ("GET", "/v1/collections", {}, "API key is required"),
        ("GET", "/v1/collections", H(acc["token"]), "not a session token"),
        ("GET", "/v1/collections", H("vk_000000000000_" + "A" * 43), "invalid or revoked"),
        ("GET", "/v1/collections", {"Authorization": "Basic abc"}, "API key is required"),
    ]
    for method, path, headers, msg in cases:
        r = http.request(method, path, headers=headers)
        assert r.status_code == 401, (path, headers, r.text)
        assert r.json()["error"]["code"] == "unauthenticated"
        if msg:
            assert msg in r.json()["error"]["message"]
    # revocation: the key stops working (this gateway forgets it at once)
    assert http.delete(f"/v1/keys/{acc['key_id']}", headers=H(acc["token"])).json()["api_key"]["revoked"] is True
    assert http.get("/v1/collections", headers=H(acc["key"])).status_code == 401


def test_read_only_key_and_plans(stack: Stack) -> None:
    acc = stack.account(plan="free")
    http = stack.http
    ro = http.post("/v1/keys", json={"name": "ro", "scope": "read-only"}, headers=H(acc["token"])).json()["key"]
    assert create(stack, acc["key"]).status_code == 201
    r = http.post("/v1/collections/docs/points", json={"points": make_points(2)}, headers=H(ro))
    assert r.status_code == 403 and r.json()["error"]["code"] == "permission_denied"
    assert create(stack, ro, "other").status_code == 403
    assert http.post("/v1/collections/docs/points/count", json={}, headers=H(ro)).json() == {"count": 0}
    # free plan: dimension and collection count
    r = create(stack, acc["key"], "huge", 2000)
    assert r.status_code == 400 and r.json()["error"]["field"] == "dimension"
    assert create(stack, acc["key"], "two").status_code == 201
    assert create(stack, acc["key"], "three").status_code == 201
    r = create(stack, acc["key"], "four")
    assert r.status_code == 429 and r.json()["error"]["code"] == "resource_exhausted" and r.headers["Retry-After"] == "60"
    # free plan: 10 requests/s per account -> the 11th request of a burst gets 429 with Retry-After
    # (the limiter's clock is frozen here: no dependence on how fast the requests run)
    stack.node.gateway.limiter = TokenBucketLimiter(clock=lambda: 1000.0)
    statuses = [http.post("/v1/collections/docs/points/count", json={}, headers=H(acc["key"])) for _ in range(11)]
    assert [r.status_code for r in statuses] == [200] * 10 + [429]
    assert statuses[-1].headers["Retry-After"] == "1" and statuses[-1].json()["error"]["code"] == "rate_limited"
    # another key of the same account shares its bucket
    r = http.post("/v1/collections/docs/points/count", json={}, headers=H(ro))
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"


BAD = [
    ("bad json", "/v1/collections/docs/points", b"{not json", 400, "invalid_json", "body"),
    ("not an object", "/v1/collections/docs/points", b"[1,2]", 400, "invalid_json", "body"),
    ("wrong type", "/v1/collections/docs/points", {"points": [{"id": 1, "vector": "abc"}]}, 400, "invalid_argument", "points[0].vector"),
    ("string component", "/v1/collections/docs/points", {"points": [{"id": 1, "vector": ["1", 2, 3, 4]}]}, 400, "invalid_argument", "points[0].vector[0]"),
    ("wrong dimension", "/v1/collections/docs/points", {"points": [{"id": 1, "vector": [1, 2, 3]}]}, 400, "dimension_mismatch", "points[0].vector"),
    ("negative id", "/v1/collections/docs/points", {"points": [{"id": -1, "vector": [1, 2, 3, 4]}]}, 400, "invalid_argument", None),
    ("duplicate id", "/v1/collections/docs/points", {"points": [{"id": 1, "vector": [1, 2, 3, 4]}, {"id": 1, "vector": [1, 2, 3, 4]}]}, 400, "invalid_argument", "points[1].id"),
    ("zero vector cosine", "/v1/collections/docs/points", {"points": [{"id": 1, "vector": [0, 0, 0, 0]}]}, 400, "invalid_argument", "points[0].vector"),
    ("payload not object", "/v1/collections/docs/points", {"points": [{"id": 1, "vector": [1, 2, 3, 4], "payload": [1]}]}, 400, "invalid_argument", "points[0].payload"),
    ("unknown field", "/v1/collections/docs/points", {"points": [{"id": 1, "vector": [1, 2, 3, 4], "pay": {}}]}, 400, "invalid_argument", "points[0].pay"),
    ("empty batch", "/v1/collections/docs/points", {"points": []}, 400, "invalid_argument", "points"),
    ("search wrong dim", "/v1/collections/docs/points/search", {"vector": [1, 2], "top_k": 3}, 400, "dimension_mismatch", "vector"),
    ("search bad k", "/v1/collections/docs/points/search", {"vector": [1, 2, 3, 4], "top_k": 0}, 400, "invalid_argument", "top_k"),
    ("search bad filter", "/v1/collections/docs/points/search", {"vector": [1, 2, 3, 4], "filter": {"nope": []}}, 400, "invalid_filter", "filter"),
    ("unknown collection", "/v1/collections/nope/points", {"points": [{"id": 1, "vector": [1, 2, 3, 4]}]}, 404, "collection_not_found", None),
    ("unknown collection search", "/v1/collections/nope/points/search", {"vector": [1, 2, 3, 4]}, 404, "collection_not_found", None),
]


@pytest.mark.parametrize("name,path,body,status,code,field", BAD, ids=[b[0] for b in BAD])
def test_bad_input_changes_nothing(stack: Stack, name: str, path: str, body: Any, status: int, code: str, field: str | None) -> None:
    acc = stack.account()
    http = stack.http
    assert create(stack, acc["key"]).status_code == 201
    http.post("/v1/collections/docs/points", json={"points": make_points(3)}, headers=H(acc["key"]))
    before = http.post("/v1/collections/docs/points/scroll", json={"with_vector": True}, headers=H(acc["key"])).json()
    if isinstance(body, bytes):
        r = http.post(path, content=body, headers={**H(acc["key"]), "Content-Type": "application/json"})
    else:
        r = http.post(path, json=body, headers=H(acc["key"]))
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and err["message"]
    if field is not None:
        assert err["field"] == field
    after = http.post("/v1/collections/docs/points/scroll", json={"with_vector": True}, headers=H(acc["key"])).json()
    assert after == before


def test_nan_and_oversized_body(stack: Stack) -> None:
    acc = stack.account()
    http = stack.http
    assert create(stack, acc["key"]).status_code == 201
    r = http.post(
        "/v1/collections/docs/points",
        content=b'{"points": [{"id": 1, "vector": [NaN, 1, 2, 3]}]}',
        headers={**H(acc["key"]), "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "points[0].vector[0]"
    r = http.post("/v1/collections/docs/points/search", content=b'{"vector": [Infinity, 1, 2, 3]}', headers={**H(acc["key"]), "Content-Type": "application/json"})
    assert r.status_code == 400
    big = {"points": make_points(1) + [{"id": 2, "vector": [1.0, 2, 3, 4], "payload": {"x": "a" * (2 << 20)}}]}
    r = http.post("/v1/collections/docs/points", json=big, headers=H(acc["key"]))
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert http.post("/v1/collections/docs/points/count", json={}, headers=H(acc["key"])).json() == {"count": 0}


def test_partial_failures_are_reported(stack: Stack) -> None:
    acc = stack.account(plan="unlimited")
    http = stack.http
    assert create(stack, acc["key"], shards=3).status_code == 201
    pts = make_points(40)
    for w in stack.workers:
        w.down.add(1)
    r = http.post("/v1/collections/docs/points", json={"points": pts}, headers=H(acc["key"]))
    assert r.status_code == 503, r.text
    err = r.json()["error"]
    assert err["code"] == "partial_write"
    written, failed = set(err["written"]), set(err["failed"])
    assert written and failed and written | failed == set(range(40)) and not written & failed
    got = http.post("/v1/collections/docs/points/get", json={"ids": sorted(written)}, headers=H(acc["key"])).json()["points"]
    assert {p["id"] for p in got} == written
    # search: 503 unless partial results are allowed, then the answer says so
    q = {"vector": pts[0]["vector"], "top_k": 5}
    r = http.post("/v1/collections/docs/points/search", json=q, headers=H(acc["key"]))
    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
    r = http.post("/v1/collections/docs/points/search", json={**q, "allow_partial": True}, headers=H(acc["key"]))
    assert r.status_code == 200 and r.json()["partial"] is True and r.json()["failed_shards"] == [1]
    assert all(h["id"] in written for h in r.json()["results"])
    # shard back: a retried upsert completes
    for w in stack.workers:
        w.down.clear()
    assert http.post("/v1/collections/docs/points", json={"points": pts}, headers=H(acc["key"])).json() == {"upserted": 40}


def test_not_leader_is_retried(stack: Stack) -> None:
    acc = stack.account(plan="unlimited")
    http = stack.http
    assert create(stack, acc["key"], shards=3).status_code == 201
    for w in stack.workers:
        w.not_leader_once.update({0, 1, 2})
    r = http.post("/v1/collections/docs/points", json={"points": make_points(10)}, headers=H(acc["key"]))
    assert r.status_code == 200 and r.json() == {"upserted": 10}


def test_documents_and_health(stack: Stack) -> None:
    http = stack.http
    spec = http.get("/openapi.json").json()
    paths = spec["paths"]
    for p in [
        "/v1/users/register", "/v1/users/login", "/v1/user/profile", "/v1/keys", "/v1/keys/{key_id}",
        "/v1/collections", "/v1/collections/{collection}", "/v1/collections/{collection}/points",
        "/v1/collections/{collection}/points/{point_id}", "/v1/collections/{collection}/points/get",
        "/v1/collections/{collection}/points/delete", "/v1/collections/{collection}/points/scroll",
        "/v1/collections/{collection}/points/count", "/v1/collections/{collection}/points/payload",
        "/v1/collections/{collection}/points/search", "/v1/collections/{collection}/points/search/batch",
        "/healthz", "/readyz", "/metrics",
    ]:
        assert p in paths, p
    assert "SearchRequest" in spec["components"]["schemas"] and "ErrorResponse" in spec["components"]["schemas"]
    assert set(spec["components"]["securitySchemes"]) == {"session", "apiKey"}
    assert http.get("/docs").status_code == 200
    assert http.get("/healthz").json()["status"] == "ok"
    assert http.get("/readyz").json()["status"] == "ready"
    http.get("/v1/collections", headers=H(stack.account()["key"]))
    text = http.get("/metrics").text
    assert "vectron_gateway_requests_total" in text and 'operation="list_collections"' in text
    r = http.get("/v1/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_a_maybe_applied_shard_write_is_never_reported_as_not_applied(stack: Stack) -> None:
    """A shard answers "indeterminate" (it did apply), then is unreachable on the retry:
    the answer must not be a definite failure for its points."""
    acc = stack.account(plan="unlimited")
    assert create(stack, acc["key"], shards=3).status_code == 201
    pts = make_points(40)
    for w in stack.workers:
        w.applied_then_lost.add(1)
    r = stack.http.post("/v1/collections/docs/points", json={"points": pts}, headers=H(acc["key"]))
    err = r.json()["error"]
    assert r.status_code == 504 and err["code"] == "partial_write", r.text
    written, failed, unknown = set(err["written"]), set(err["failed"]), set(err["unknown"])
    assert written and unknown and not failed and written | unknown == set(range(40))
    for w in stack.workers:
        w.down.clear()
    got = stack.http.post("/v1/collections/docs/points/get", json={"ids": sorted(unknown)}, headers=H(acc["key"]))
    assert {p["id"] for p in got.json()["points"]} == unknown  # they were in fact written
