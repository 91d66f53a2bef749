"""Gateway unit tests: a Gateway built in this process over real auth, placement and
worker services on in-memory groups (see ``doubles.py``), no servers: the operations'
plain answers, payload sizes in UTF-8, partial writes that name their ids, retries on
a leader change, and maybe-applied writes never reported as not applied."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.services.gateway.doubles import Cluster
from vectron.errors import Indeterminate, PartialWrite, PayloadTooLarge, Unavailable
from vectron.limits import MAX_PAYLOAD_BYTES
from vectron.services.gateway import models as m
from vectron.services.gateway.api import Gateway, GatewayConfig
from vectron.services.gateway.workers import Hit, Point
from vectron.services.placement.service import Liveness

DIM = 4


def key_of(g: Gateway) -> str:
    g.register(m.Credentials(email="ada@example.com", password="correct horse battery"))
    token = g.login(m.Credentials(email="ada@example.com", password="correct horse battery")).token
    return g.create_key(token, m.CreateKeyRequest(name="k")).key


def points(n: int, seed: int = 0) -> list[m.PointIn]:
    vecs = np.random.default_rng(seed).normal(size=(n, DIM))
    return [m.PointIn(id=i, vector=vecs[i].tolist(), payload={"n": i, "odd": i % 2 == 1}) for i in range(n)]


@pytest.fixture
def gw(cluster: Cluster) -> tuple[Gateway, str]:
    g = cluster.gateway(GatewayConfig(retry_deadline=3.0, retry_attempts=4, default_shards=3))
    key = key_of(g)
    g.create_collection(key, "docs", m.CreateCollectionRequest(dimension=DIM, shards=3))
    return g, key


def test_operations_return_plain_data(gw: tuple[Gateway, str]) -> None:
    g, key = gw
    pts = points(30)
    assert g.upsert(key, "docs", m.UpsertRequest(points=pts)) == 30
    got = g.get_points(key, "docs", m.GetPointsRequest(ids=[29, 999, 0], with_vector=True))
    assert [p.id for p in got] == [29, 0] and all(isinstance(p, Point) for p in got)
    assert got[0].payload == {"n": 29, "odd": True} and np.allclose(got[0].vector, pts[29].vector, atol=1e-6)
    result = g.search(key, "docs", m.SearchRequest(vector=pts[7].vector, top_k=3))
    assert not result.partial and isinstance(result.results[0][0], Hit) and result.results[0][0].id == 7
    odd = {"must": [{"key": "odd", "match": {"value": True}}]}
    assert g.count(key, "docs", m.CountRequest(filter=odd)) == 15
    page = g.scroll(key, "docs", m.ScrollRequest(limit=20))
    assert [p.id for p in page.points] == list(range(20)) and page.next_offset == 20
    assert g.set_payload(key, "docs", m.SetPayloadRequest(ids=[1, 2], payload={"x": "é"})) == 2
    assert g.get_point(key, "docs", 2).payload == {"n": 2, "odd": False, "x": "é"}
    assert g.delete_points(key, "docs", m.DeletePointsRequest(filter=odd)) == 15
    detail = g.get_collection(key, "docs")
    assert detail.points == 15 and [s.status for s in detail.shards] == ["ok"] * 3


def test_a_non_ascii_payload_is_measured_in_utf8(gw: tuple[Gateway, str]) -> None:
    g, key = gw
    # 2 bytes a character in UTF-8 but 6 in ASCII-escaped JSON: accepted, as the store would
    text = "é" * (MAX_PAYLOAD_BYTES // 2 - 64)
    assert g.upsert(key, "docs", m.UpsertRequest(points=[m.PointIn(id=1, vector=[1.0, 0, 0, 0], payload={"t": text})])) == 1
    assert g.get_point(key, "docs", 1).payload == {"t": text}
    too_big = m.PointIn(id=2, vector=[1.0, 0, 0, 0], payload={"t": "é" * (MAX_PAYLOAD_BYTES // 2)})
    with pytest.raises(PayloadTooLarge) as err:
        g.upsert(key, "docs", m.UpsertRequest(points=[too_big]))
    assert err.value.field == "points[0].payload"
    assert g.count(key, "docs", m.CountRequest()) == 1


def test_partial_deletes_and_payload_updates_name_their_ids(cluster: Cluster, gw: tuple[Gateway, str]) -> None:
    g, key = gw
    g.upsert(key, "docs", m.UpsertRequest(points=points(30)))
    for w in cluster.workers.values():
        w.down.add(1)
    with pytest.raises(PartialWrite) as err:
        g.set_payload(key, "docs", m.SetPayloadRequest(ids=list(range(30)), payload={"y": 1}))
    written, failed = set(err.value.written), set(err.value.failed)
    assert written and failed and written | failed == set(range(30)) and not written & failed
    assert {p.id for p in g.get_points(key, "docs", m.GetPointsRequest(ids=sorted(written))) if p.payload.get("y") == 1} == written
    with pytest.raises(PartialWrite) as err:
        g.delete_points(key, "docs", m.DeletePointsRequest(ids=list(range(30))))
    assert set(err.value.failed) == failed and set(err.value.written) == written


def test_a_leader_change_is_retried(cluster: Cluster, gw: tuple[Gateway, str]) -> None:
    g, key = gw
    for w in cluster.workers.values():
        w.not_leader_once.update({0, 1, 2})
    assert g.upsert(key, "docs", m.UpsertRequest(points=points(12))) == 12
    assert g.count(key, "docs", m.CountRequest()) == 12


def test_a_maybe_applied_write_is_unknown_not_failed(cluster: Cluster, gw: tuple[Gateway, str]) -> None:
    g, key = gw
    for w in cluster.workers.values():
        w.applied_then_lost.add(2)
    with pytest.raises(PartialWrite) as err:
        g.upsert(key, "docs", m.UpsertRequest(points=points(30)))
    unknown = set(err.value.unknown)
    assert unknown and not err.value.failed and unknown | set(err.value.written) == set(range(30))
    assert isinstance(err.value.cause, Indeterminate)


def test_a_down_shard_fails_the_search_unless_partial_is_allowed(cluster: Cluster, gw: tuple[Gateway, str]) -> None:
    g, key = gw
    g.upsert(key, "docs", m.UpsertRequest(points=points(30)))
    for w in cluster.workers.values():
        w.down.add(0)
    with pytest.raises(Unavailable):
        g.search(key, "docs", m.SearchRequest(vector=[1.0, 0, 0, 0]))
    result = g.search(key, "docs", m.SearchRequest(vector=[1.0, 0, 0, 0], top_k=30, allow_partial=True))
    assert result.partial and result.failed_shards == [0] and 0 < len(result.results[0]) < 30


def test_no_shard_call_outlives_the_deadline(cluster: Cluster, gw: tuple[Gateway, str]) -> None:
    g, key = gw
    late = cluster.gateway(GatewayConfig(retry_deadline=0.0, retry_attempts=4))
    with pytest.raises(Unavailable) as err:
        late.count(key, "docs", m.CountRequest())
    assert "no time left" in err.value.message
    assert g.count(key, "docs", m.CountRequest()) == 0


def test_searches_at_once_only_when_nothing_would_wait(cluster: Cluster, gw: tuple[Gateway, str]) -> None:
    g, key = gw
    g.upsert(key, "docs", m.UpsertRequest(points=points(12)))
    q = m.SearchRequest(vector=[1.0, 0, 0, 0], top_k=3)
    assert g.searches_at_once(key, "docs", [q])  # key and table cached, every shard an in-process leader
    assert g.searches_at_once(key, "docs", [q.model_copy(update={"consistency": "any"})])
    assert not g.searches_at_once(key, "docs", [q.model_copy(update={"consistency": "linearizable"})])  # a read barrier waits
    assert not g.searches_at_once(key, "docs", [q.model_copy(update={"allow_partial": True})])
    assert not g.searches_at_once(key, "nope", [q])  # no routing table cached
    assert not g.searches_at_once("vk_000000000000_" + "B" * 43, "docs", [q])  # a key never validated
    assert not g.searches_at_once(None, "docs", [q])
    for w in range(2):
        cluster.worker_at(w).down.add(1)
    assert not g.searches_at_once(key, "docs", [q])  # shard 1 would not answer
    with pytest.raises(Unavailable):
        g.search(key, "docs", q, attempts=1)  # one attempt: fails at once, no retry
    for w in range(2):
        cluster.worker_at(w).down.clear()
    assert g.search(key, "docs", q, attempts=1).results[0]
def test_readiness_needs_every_worker_not_dead_live_and_every_known_shard_led(cluster: Cluster) -> None:
    now = [0.0]
    start_wall = time.time()
    cluster.placement.liveness = Liveness(5.0, clock=lambda: now[0], wall=lambda: start_wall + now[0])
    strict = cluster.gateway(GatewayConfig(dead_worker_after=300))
    lenient = cluster.gateway(GatewayConfig(dead_worker_after=60))
    assert strict.readiness().checks["workers"] is False  # registered, never heard from
    now[0] = -100.0
    cluster.placement.heartbeat("w1")  # w1: last heard 100 s ago
    now[0] = 0.0
    cluster.placement.heartbeat("w0")
    assert strict.readiness().checks["workers"] is False  # w1 is late, not dead yet
    assert lenient.readiness().status == "ready"  # w1 is dead for this gateway: it does not count
    cluster.placement.heartbeat("w1")
    assert strict.readiness().status == "ready"
    # a collection this gateway knows, whose shards report no leader yet
    key = key_of(strict)
    strict.create_collection(key, "docs", m.CreateCollectionRequest(dimension=DIM, shards=2, replication_factor=1))
    health = strict.readiness()
    assert health.status == "not ready" and health.checks["shard_leaders"] is False
    for worker_id, service in (("w0", cluster.worker_at(0)), ("w1", cluster.worker_at(1))):
        service.host.reconcile(list(cluster.placement.heartbeat(worker_id).assignments))
        cluster.placement.heartbeat(worker_id, service.shard_stats())
    assert strict.readiness().status == "ready"  # the cached table without leaders is fetched again


def test_readiness_extra_check_that_fails_or_raises_makes_it_not_ready(cluster: Cluster) -> None:
    g = cluster.gateway()
    for worker_id in ("w0", "w1"):
        cluster.placement.heartbeat(worker_id)
    assert g.readiness().status == "ready"
    g.extra_ready_checks["local_shards"] = lambda: False
    assert g.readiness().checks["local_shards"] is False and g.readiness().status == "not ready"

    def broken() -> bool:
        raise RuntimeError("cannot tell")

    g.extra_ready_checks["local_shards"] = broken
    assert g.readiness().status == "not ready"
