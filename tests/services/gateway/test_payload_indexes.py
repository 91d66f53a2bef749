"""Payload indexes through the Gateway (in-process services, see ``doubles.py``): declared
in the placement record, built by every replica of every shard through its log, listed
by get_collection, given to replicas created later, refused when bad."""

from __future__ import annotations

import pytest

from tests.services.gateway.doubles import Cluster
from tests.services.gateway.test_api import key_of, points
from vectron.errors import CollectionNotFound, InvalidArgument, PermissionDenied, Unavailable
from vectron.services.gateway import models as m
from vectron.services.gateway.api import Gateway, GatewayConfig

ODD = {"must": [{"key": "odd", "match": {"value": True}}]}


def replica_indexes(cluster: Cluster, name: str = "docs") -> list[dict[str, str]]:
    """The store's declared indexes of every replica of the collection ``name``, replica by replica."""
    out = []
    for worker in cluster.workers.values():
        for replica in worker.host.replicas():
            if replica.collection.name == name:
                out.append(dict(replica.fsm.collection.config.payload_indexes))
    return out


@pytest.fixture
def gw(cluster: Cluster) -> tuple[Gateway, str]:
    g = cluster.gateway(GatewayConfig(retry_deadline=3.0, retry_attempts=4))
    key = key_of(g)
    g.create_collection(key, "docs", m.CreateCollectionRequest(dimension=4, shards=3))
    g.upsert(key, "docs", m.UpsertRequest(points=points(30)))
    return g, key


def test_create_is_idempotent_reaches_every_replica_and_is_listed(cluster: Cluster, gw: tuple[Gateway, str]) -> None:
    g, key = gw
    assert g.create_payload_index(key, "docs", m.PayloadIndexIn(field="odd", type="bool")) is True
    assert g.create_payload_index(key, "docs", m.PayloadIndexIn(field="odd", type="bool")) is False
    assert g.create_payload_index(key, "docs", m.PayloadIndexIn(field="meta.lang", type="keyword")) is True
    every = replica_indexes(cluster)
    assert len(every) == 3 and all(i == {"odd": "bool", "meta.lang": "keyword"} for i in every)
    detail = g.get_collection(key, "docs")
    assert [(i.field, i.type, i.automatic) for i in detail.payload_indexes] == [("odd", "bool", False), ("meta.lang", "keyword", False)]
    assert [(i.field, i.type) for i in g.list_collections(key)[0].payload_indexes] == [("odd", "bool"), ("meta.lang", "keyword")]
    assert g.count(key, "docs", m.CountRequest(filter=ODD)) == 15
    assert g.drop_payload_index(key, "docs", "odd") is True
    assert g.drop_payload_index(key, "docs", "odd") is False
    assert all(i == {"meta.lang": "keyword"} for i in replica_indexes(cluster))
    assert [i.field for i in g.get_collection(key, "docs").payload_indexes] == ["meta.lang"]
    assert g.count(key, "docs", m.CountRequest(filter=ODD)) == 15


def test_indexes_declared_at_creation_and_given_to_a_replica_created_later(cluster: Cluster) -> None:
    g = cluster.gateway(GatewayConfig(retry_deadline=3.0, retry_attempts=4))
    key = key_of(g)
    specs = [m.PayloadIndexIn(field="odd", type="bool"), m.PayloadIndexIn(field="n", type="integer")]
    g.create_collection(key, "docs", m.CreateCollectionRequest(dimension=4, shards=2, payload_indexes=specs))
    g.upsert(key, "docs", m.UpsertRequest(points=points(10)))
    assert replica_indexes(cluster) == [{"odd": "bool", "n": "integer"}] * 2
    g.create_payload_index(key, "docs", m.PayloadIndexIn(field="tag", type="keyword"))
    # a replica re-created from the placement record (as on another worker) starts with every declared index
    worker = next(w for w in cluster.workers.values() if w.host.replicas())
    replica = worker.host.replicas()[0]
    worker.host.drop(*replica.key)
    worker._sync()
    recreated = worker.host.get(*replica.key)
    assert recreated.fsm.collection.config.payload_indexes == {"odd": "bool", "n": "integer", "tag": "keyword"}


def test_a_failed_shard_is_reported_and_a_retry_completes_it(cluster: Cluster, gw: tuple[Gateway, str]) -> None:
    g, key = gw
    for w in cluster.workers.values():
        w.down.add(2)
    with pytest.raises(Unavailable):
        g.create_payload_index(key, "docs", m.PayloadIndexIn(field="n", type="integer"))
    for w in cluster.workers.values():
        w.down.clear()
    assert g.create_payload_index(key, "docs", m.PayloadIndexIn(field="n", type="integer")) is False  # declared already
    assert all(i == {"n": "integer"} for i in replica_indexes(cluster))


def test_bad_input_names_the_field_and_changes_nothing(cluster: Cluster, gw: tuple[Gateway, str]) -> None:
    g, key = gw
    for bad in ("a..b", ".x", "x" * 300):
        with pytest.raises(InvalidArgument) as err:
            g.create_payload_index(key, "docs", m.PayloadIndexIn(field=bad, type="keyword"))
        assert err.value.field == "field"
    with pytest.raises(InvalidArgument) as err:
        g.drop_payload_index(key, "docs", "")
    assert err.value.field == "field"
    with pytest.raises(CollectionNotFound):
        g.create_payload_index(key, "nope", m.PayloadIndexIn(field="n", type="integer"))
    token = g.login(m.Credentials(email="ada@example.com", password="correct horse battery")).token
    read_only = g.create_key(token, m.CreateKeyRequest(name="ro", scope="read-only")).key
    with pytest.raises(PermissionDenied):
        g.create_payload_index(read_only, "docs", m.PayloadIndexIn(field="n", type="integer"))
    with pytest.raises(PermissionDenied):
        g.drop_payload_index(read_only, "docs", "n")
    twice = [m.PayloadIndexIn(field="n", type="integer"), m.PayloadIndexIn(field="n", type="keyword")]
    with pytest.raises(InvalidArgument) as err:
        g.create_collection(key, "other", m.CreateCollectionRequest(dimension=4, payload_indexes=twice))
    assert err.value.field == "payload_indexes[1].field"
    with pytest.raises(InvalidArgument) as err:
        g.create_collection(key, "other", m.CreateCollectionRequest(dimension=4, payload_indexes=[m.PayloadIndexIn(field="a..", type="bool")]))
    assert err.value.field == "payload_indexes[0].field"
    assert [c.name for c in g.list_collections(key)] == ["docs"]
    assert all(i == {} for i in replica_indexes(cluster)) and g.get_collection(key, "docs").payload_indexes == []


def test_automatic_indexing_can_be_turned_off_at_creation(cluster: Cluster) -> None:
    g = cluster.gateway(GatewayConfig(retry_deadline=3.0, retry_attempts=4))
    key = key_of(g)
    info = g.create_collection(key, "plain", m.CreateCollectionRequest(dimension=4, shards=2, auto_index=False))
    assert info.auto_index_off
    g.upsert(key, "plain", m.UpsertRequest(points=points(10)))
    configs = [r.fsm.collection.config for w in cluster.workers.values() for r in w.host.replicas()]
    assert len(configs) == 2 and not any(c.auto_index for c in configs)
    g.create_collection(key, "auto", m.CreateCollectionRequest(dimension=4))
    g.upsert(key, "auto", m.UpsertRequest(points=points(10)))
    assert [r.fsm.collection.config.auto_index for w in cluster.workers.values() for r in w.host.replicas() if r.collection.name == "auto"] == [True]
