"""The public edge under the attacks of issue 11 (items 5, 6, 7), against one real
`vectrond --role all` with real defaults: each attack is refused with its documented
status, changes nothing, and (the memory ones) keeps the daemon's RSS growth under
100 MB while /healthz keeps answering."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
import httpx
import pytest

from tests.security.edge_attack import (  # noqa: F401 (http, node: module fixtures)
    ADMIN,
    MAX_RSS_GROWTH,
    PASSWORD,
    account,
    bearer,
    client_from,
    http,
    node,
    raw_request,
    read_status,
    send_body,
    wait_until,
    watched,
)
from tests.services.gateway.procs import Daemon
from vectron.v1 import gateway_pb2 as pb
from vectron.v1 import gateway_pb2_grpc, points_pb2

MB = 1 << 20


@pytest.fixture(scope="module")
def owner(http: httpx.Client) -> dict[str, str]:
    acc = account(http, "owner@example.com")
    r = http.put("/v1/collections/docs", json={"dimension": 4}, headers=bearer(acc["key"]))
    assert r.status_code == 201, r.text
    return acc


def _count(http: httpx.Client, key: str) -> int:
    r = http.post("/v1/collections/docs/points/count", json={}, headers=bearer(key))
    assert r.status_code == 200, r.text
    return int(r.json()["count"])


def _upsert_head(content_length: int, auth: str = "") -> str:
    return (
        "POST /v1/collections/docs/points HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {content_length}\r\n{auth}\r\n"
    )


def test_an_unauthenticated_60mb_upsert_is_refused_before_its_body_is_read(node: Daemon, http: httpx.Client, owner: dict[str, str]) -> None:
    # the answer comes before a single byte of the body was sent
    for auth in ("", "Authorization: Bearer vk_000000000000_" + "A" * 43 + "\r\n", "Authorization: Bearer not-a-key\r\n"):
        s = raw_request(node, _upsert_head(60 * MB, auth))
        status, raw = read_status(s)
        assert status == 401 and b'"unauthenticated"' in raw and b"connection: close" in raw.lower(), raw
        s.close()
    # and sending the 60 MB anyway pins nothing
    with watched(node) as w:
        s = raw_request(node, _upsert_head(60 * MB))
        sent = send_body(s, 60 * MB)
        s.close()
    assert w.growth < MAX_RSS_GROWTH, (w.growth, sent)
    assert not w.health_failures and w.health_checks > 0
    assert _count(http, owner["key"]) == 0


def test_bodies_held_one_byte_short_do_not_pin_memory(node: Daemon, http: httpx.Client, owner: dict[str, str]) -> None:
    with watched(node) as w:
        socks = [raw_request(node, _upsert_head(60 * MB)) for _ in range(8)]
        threads = [threading.Thread(target=send_body, args=(s, 60 * MB - 1)) for s in socks]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        for s in socks:
            s.close()
    assert w.growth < MAX_RSS_GROWTH, w.growth
    assert not w.health_failures
    assert _count(http, owner["key"]) == 0


def test_an_authenticated_body_over_the_limit_is_refused_while_streaming(node: Daemon, http: httpx.Client, owner: dict[str, str]) -> None:
    # declared too large: refused before reading; undeclared (chunked) too large: refused once crossed
    s = raw_request(node, _upsert_head(65 * MB, f"Authorization: Bearer {owner['key']}\r\n"))
    status, raw = read_status(s)
    assert status == 413 and b'"field": "body"' in raw, raw
    s.close()
    with watched(node) as w:
        def chunks() -> Iterator[bytes]:
            for _ in range(70):
                yield b" " * MB

        try:
            r = http.post("/v1/collections/docs/points", content=chunks(), headers=bearer(owner["key"]))
            assert r.status_code == 413 and r.json()["error"]["field"] == "body", r.text
        except httpx.HTTPError:
            pass  # the server closed the connection while the client was still sending
    assert w.growth < MAX_RSS_GROWTH + 64 * MB  # at most one body limit is ever buffered
    assert _count(http, owner["key"]) == 0


def test_connections_with_partial_headers_are_closed(node: Daemon, http: httpx.Client) -> None:
    socks = []
    for _ in range(100):
        s = raw_request(node, "POST /v1/collections/docs/points HTTP/1.1\r\nHost: x\r\nX-Slow: ", source="127.0.0.9")
        socks.append(s)

    def all_closed() -> bool:
        for s in socks:
            s.settimeout(0.01)
            try:
                if s.recv(1) != b"":
                    return False
            except (TimeoutError, BlockingIOError):
                return False
            except OSError:
                pass
        return True

    assert http.get("/healthz").status_code == 200  # other clients are served meanwhile
    assert wait_until(all_closed, timeout=60), "connections with half-sent headers were kept open"
    for s in socks:
        s.close()


def test_public_grpc_refuses_an_unauthenticated_message_before_reading_it(node: Daemon, owner: dict[str, str]) -> None:
    big = pb.UpsertPointsRequest(
        collection="docs", points=[points_pb2.Point(id=points_pb2.PointId(num=i), vector=[0.5] * 4, payload_json='{"p": "' + "x" * 60_000 + '"}') for i in range(1000)]
    )
    assert big.ByteSize() > 55 * MB
    options = [("grpc.max_send_message_length", 512 * MB)]
    with grpc.insecure_channel(node.grpc, options=options) as channel:
        stub = gateway_pb2_grpc.VectronServiceStub(channel)
        with watched(node) as w:
            for md in ((), (("authorization", "Bearer vk_000000000000_" + "A" * 43),), (("authorization", "Bearer x.y.z"),)):
                with pytest.raises(grpc.RpcError) as err:
                    stub.Upsert(big, metadata=md, timeout=60)
                assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED, err.value
        assert w.growth < MAX_RSS_GROWTH, w.growth
        assert not w.health_failures
        # over the body limit even with a good key: RESOURCE_EXHAUSTED, nothing written
        bigger = pb.UpsertPointsRequest(collection="docs", points=list(big.points) * 2)
        with pytest.raises(grpc.RpcError) as err:
            stub.Upsert(bigger, metadata=(("authorization", f"Bearer {owner['key']}"),), timeout=60)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        count = stub.Count(pb.CountPointsRequest(collection="docs"), metadata=(("authorization", f"Bearer {owner['key']}"),))
        assert count.count == 0


def test_a_batch_search_over_the_hits_cap_is_refused(node: Daemon, http: httpx.Client) -> None:
    acc = account(http, "searcher@example.com")
    admin = account(http, ADMIN)
    r = http.put("/v1/admin/users/searcher@example.com/plan", json={"plan": "unlimited"}, headers=bearer(admin["token"]))
    assert r.status_code == 200 and r.json()["user"]["plan"] == "unlimited"
    assert http.put("/v1/collections/s", json={"dimension": 4}, headers=bearer(acc["key"])).status_code == 201
    searches = [{"vector": [0.1, 0.2, 0.3, 0.4], "top_k": 10_000} for _ in range(200)]
    r = http.post("/v1/collections/s/points/search/batch", json={"searches": searches}, headers=bearer(acc["key"]))
    assert r.status_code == 400 and r.json()["error"]["field"] == "searches", r.text
    r = http.post("/v1/collections/s/points/scroll", json={"limit": 10_000, "with_vector": True}, headers=bearer(acc["key"]))
    assert r.status_code == 200  # 4-d vectors: well under the answer cap


def test_plans_cannot_be_chosen_by_their_user(node: Daemon, http: httpx.Client) -> None:
    acc = account(http, "mallory@example.com")
    before = http.get("/v1/keys", headers=bearer(acc["token"])).json()["api_keys"]
    r = http.post("/v1/keys", json={"name": "x", "plan": "unlimited"}, headers=bearer(acc["token"]))
    assert r.status_code == 400 and r.json()["error"]["field"] == "plan", r.text
    with grpc.insecure_channel(node.grpc) as channel:
        stub = gateway_pb2_grpc.VectronServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.CreateKey(pb.CreateKeyRequest(name="x", plan="unlimited"), metadata=(("authorization", f"Bearer {acc['token']}"),))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # nor by making themselves admin
    r = http.put("/v1/admin/users/mallory@example.com/plan", json={"plan": "unlimited"}, headers=bearer(acc["token"]))
    assert r.status_code == 403, r.text
    after = http.get("/v1/keys", headers=bearer(acc["token"])).json()["api_keys"]
    assert after == before and all(k["plan"] == "free" for k in after)
    assert http.get("/v1/user/profile", headers=bearer(acc["token"])).json()["user"]["plan"] == "free"


def test_the_rate_limit_is_per_account_and_every_429_says_when_to_retry(node: Daemon, http: httpx.Client) -> None:
    acc = account(http, "burst@example.com")
    second = http.post("/v1/keys", json={"name": "second"}, headers=bearer(acc["token"])).json()["key"]
    assert http.put("/v1/collections/b", json={"dimension": 4}, headers=bearer(acc["key"])).status_code == 201
    import time

    start = time.monotonic()
    answers = [
        http.post("/v1/collections/b/points/count", json={}, headers=bearer(k)) for k in [acc["key"], second] * 20
    ]
    elapsed = time.monotonic() - start
    ok = sum(r.status_code == 200 for r in answers)
    limited = [r for r in answers if r.status_code == 429]
    # free: 10 units/s for the account, whichever key: 40 requests get at most a burst plus the refill
    assert ok <= 10 + int(elapsed * 10) + 1 and limited, (ok, elapsed)
    assert all(int(r.headers["Retry-After"]) >= 1 for r in limited)
    # a batch is charged by its queries: 50 of them leave the account waiting ~5 s
    time.sleep(1.2)
    batch = {"searches": [{"vector": [0.1, 0.2, 0.3, 0.4], "top_k": 1}] * 50}
    assert http.post("/v1/collections/b/points/search/batch", json=batch, headers=bearer(second)).status_code == 200
    r = http.post("/v1/collections/b/points/count", json={}, headers=bearer(acc["key"]))
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 3


def test_login_spraying_does_not_lock_the_owner_out(node: Daemon, http: httpx.Client) -> None:
    account(http, "victim@example.com")
    with client_from(node, "127.0.0.2") as attacker:
        codes = [attacker.post("/v1/users/login", json={"email": "victim@example.com", "password": f"wrong-pass-{i}"}) for i in range(7)]
        assert [r.status_code for r in codes[:5]] == [401] * 5
        assert codes[-1].status_code == 429 and int(codes[-1].headers["Retry-After"]) >= 1
    # the owner, from another address, logs in at once
    with client_from(node, "127.0.0.3") as own:
        assert own.post("/v1/users/login", json={"email": "victim@example.com", "password": PASSWORD}).status_code == 200
    # spraying many emails from one address is cut off too
    with client_from(node, "127.0.0.4") as sprayer:
        statuses = [sprayer.post("/v1/users/login", json={"email": f"u{i}@example.com", "password": "wrong-pass"}).status_code for i in range(35)]
        assert statuses.count(401) == 30 and statuses[-1] == 429
        r = sprayer.post("/v1/users/login", json={"email": "victim@example.com", "password": "wrong-pass"})
        assert r.status_code == 429 and "Retry-After" in r.headers
    # registration is throttled per address, and the throttled ones create nothing
    with client_from(node, "127.0.0.5") as registrar:
        statuses = [registrar.post("/v1/users/register", json={"email": f"new{i}@example.com", "password": PASSWORD}).status_code for i in range(12)]
        assert statuses[:10] == [201] * 10 and statuses[10:] == [429, 429]
        r = registrar.post("/v1/users/register", json={"email": "new99@example.com", "password": PASSWORD})
        assert "Retry-After" in r.headers
    assert http.post("/v1/users/login", json={"email": "new11@example.com", "password": PASSWORD}).status_code == 401


def test_admin_email_is_configuration_not_registration(http: httpx.Client) -> None:
    # registering the admin's email gives an admin account only because the node says so
    acc = account(http, ADMIN)
    r = http.get("/v1/admin/users", params={"limit": 2}, headers=bearer(acc["token"]))
    assert r.status_code == 200 and len(r.json()["users"]) == 2 and r.json()["next_after"]
