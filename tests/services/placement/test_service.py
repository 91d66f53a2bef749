"""PlacementService over the in-memory Raft runner: registration, liveness, placement,
namespacing by owner, routing and bad input (which changes nothing)."""

from __future__ import annotations

import grpc
import pytest

from vectron.errors import CollectionAlreadyExists, CollectionNotFound, InvalidArgument, NotFound
from vectron.services.placement import PlacementService, choose_workers, shard_of
from vectron.v1 import placement_pb2

from .conftest import FakeClock, worker_info


def register(service: PlacementService, n: int, **kw: object) -> None:
    for i in range(n):
        service.register_worker(worker_info(i, **kw))  # type: ignore[arg-type]


def version(service: PlacementService) -> int:
    return service.group.read(lambda fsm: fsm.read(lambda s, txn: s.version(txn)))  # type: ignore[attr-defined]


def test_replicas_on_distinct_workers_spread_evenly(service: PlacementService) -> None:
    register(service, 3)
    table = service.create_collection("alice", "docs", 4, "cosine", shard_count=3, replication_factor=3)
    assert table.epoch > 0 and table.collection.hash_scheme == "blake2b64-mod-v1"
    assert [s.shard_id for s in table.shards] == [0, 1, 2]
    for shard in table.shards:
        assert sorted(r.worker_id for r in shard.replicas) == ["w0", "w1", "w2"]
        assert all(r.grpc_address and r.raft_address for r in shard.replicas)
    # every replica got its own Raft port from its worker's range
    addresses = [r.raft_address for s in table.shards for r in s.replicas]
    assert len(set(addresses)) == 9
    assert {a.rsplit(":", 1)[1] for a in addresses} == {"21000", "21001", "21002", "22000", "22001", "22002", "20000", "20001", "20002"}


def test_replication_factor_one_spreads_over_workers(service: PlacementService) -> None:
    register(service, 3)
    table = service.create_collection("alice", "one", 4, shard_count=6, replication_factor=1)
    owners = [s.replicas[0].worker_id for s in table.shards]
    assert sorted(owners) == ["w0", "w0", "w1", "w1", "w2", "w2"]
    # the next collection keeps balancing on top of the existing load
    table2 = service.create_collection("alice", "two", 4, shard_count=2, replication_factor=2)
    assert all(len({r.worker_id for r in s.replicas}) == 2 for s in table2.shards)


def test_choose_workers_balances_and_respects_capacity() -> None:
    placed = choose_workers(["a", "b", "c"], {"a": 5}, 4, 2, {"c": 1})
    # least loaded first; "c" is full after one replica, "a" starts with 5
    assert placed == [["b", "c"], ["b", "a"], ["b", "a"], ["b", "a"]]
    with pytest.raises(InvalidArgument):
        choose_workers(["a"], {}, 1, 2)


def test_replication_factor_above_live_workers_is_an_error_and_changes_nothing(service: PlacementService, clock: FakeClock) -> None:
    register(service, 3)
    before = version(service)
    with pytest.raises(InvalidArgument) as info:
        service.create_collection("alice", "docs", 4, replication_factor=4)
    assert info.value.field == "replication_factor"
    # a worker that stops heartbeating is not live any more
    clock.advance(3)
    service.heartbeat("w0")
    service.heartbeat("w1")
    clock.advance(3)
    assert {w.worker_id: w.live for w in service.list_workers()} == {"w0": True, "w1": True, "w2": False}
    with pytest.raises(InvalidArgument):
        service.create_collection("alice", "docs", 4, replication_factor=3)
    assert version(service) == before
    assert service.list_collections("alice") == []
    table = service.create_collection("alice", "docs", 4, shard_count=2, replication_factor=2)
    assert all({r.worker_id for r in s.replicas} == {"w0", "w1"} for s in table.shards)


def test_owners_are_namespaces(service: PlacementService) -> None:
    register(service, 2)
    a = service.create_collection("alice", "docs", 4)
    b = service.create_collection("bob", "docs", 8)
    assert a.collection.collection_id != b.collection.collection_id
    assert [c.name for c in service.list_collections("alice")] == ["docs"]
    assert service.get_collection("bob", "docs").dimension == 8
    with pytest.raises(CollectionAlreadyExists):
        service.create_collection("alice", "docs", 4)
    service.drop_collection("alice", "docs")
    assert service.list_collections("alice") == []
    assert service.get_collection("bob", "docs").dimension == 8
    with pytest.raises(CollectionNotFound):
        service.get_collection("alice", "docs")
    with pytest.raises(CollectionNotFound):
        service.drop_collection("alice", "docs")
    with pytest.raises(CollectionNotFound):
        service.get_collection("carol", "docs")


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"dimension": 0}, "dimension"),
        ({"distance": "hamming"}, "distance"),
        ({"shard_count": 0}, "shard_count"),
        ({"replication_factor": 0}, "replication_factor"),
        ({"name": "bad name!"}, "name"),
        ({"owner": ""}, "owner"),
        ({"hnsw": {"m": 1}}, "hnsw.m"),
    ],
)
def test_bad_create_requests(service: PlacementService, kwargs: dict, field: str) -> None:
    register(service, 1)
    args = {"owner": "alice", "name": "docs", "dimension": 4, **kwargs}
    before = version(service)
    with pytest.raises(InvalidArgument) as info:
        service.create_collection(**args)
    assert info.value.field == field
    assert version(service) == before


def test_heartbeat_returns_assignments_and_drop_removes_them(service: PlacementService) -> None:
    register(service, 3)
    table = service.create_collection("alice", "docs", 4, shard_count=2, replication_factor=2)
    reply = service.heartbeat("w0")
    mine = {(a.collection.collection_id, a.shard_id) for a in reply.assignments}
    expected = {(table.collection.collection_id, s.shard_id) for s in table.shards if "w0" in [r.worker_id for r in s.replicas]}
    assert mine == expected and mine
    for a in reply.assignments:
        assert a.raft_address in [r.raft_address for r in a.replicas]
        assert len(a.replicas) == 2
    v1 = reply.placement_version
    service.drop_collection("alice", "docs")
    reply = service.heartbeat("w0")
    assert reply.placement_version > v1 and list(reply.assignments) == []
    # the freed ports are re-used
    again = service.create_collection("alice", "docs", 4, shard_count=2, replication_factor=2)
    assert sorted(r.raft_address for s in again.shards for r in s.replicas) == sorted(r.raft_address for s in table.shards for r in s.replicas)
    with pytest.raises(NotFound):
        service.heartbeat("nobody")


def test_routing_leader_hint_and_get_worker(service: PlacementService) -> None:
    register(service, 3)
    table = service.create_collection("alice", "docs", 4, shard_count=3, replication_factor=3)
    cid = table.collection.collection_id
    assert all(not s.leader_worker_id for s in table.shards)
    service.heartbeat("w1", [placement_pb2.ShardStats(collection_id=cid, shard_id=0, role="leader", term=2)])
    service.heartbeat("w2", [placement_pb2.ShardStats(collection_id=cid, shard_id=0, role="follower", term=2)])
    routing = service.get_routing_table("alice", "docs")
    assert routing.epoch == table.epoch
    assert routing.shards[0].leader_worker_id == "w1"
    assert routing.shards[0].leader_grpc_address == "127.0.0.1:9001"
    pid = next(i for i in range(100) if shard_of(i, 3) == 0)
    answer = service.get_worker("alice", "docs", pid)
    assert (answer.shard_id, answer.grpc_address, answer.collection_id) == (0, "127.0.0.1:9001", cid)
    other = next(i for i in range(100) if shard_of(i, 3) == 1)
    assert service.get_worker("alice", "docs", other).shard_id == 1


def test_capacity_and_port_range_limits(service: PlacementService) -> None:
    service.register_worker(worker_info(0, ports=(30000, 30001)))
    service.create_collection("alice", "a", 4, shard_count=2)
    from vectron.errors import InsufficientCapacity, ResourceExhausted

    with pytest.raises(InsufficientCapacity) as err:  # the cluster's problem: 507, never a 429 "slow down"
        service.create_collection("alice", "b", 4, shard_count=1)
    assert err.value.http_status == 507 and err.value.code == "insufficient_capacity"
    assert not isinstance(err.value, ResourceExhausted) and "--raft-ports" in err.value.message
    assert [c.name for c in service.list_collections("alice")] == ["a"]  # nothing changed


def test_reregistering_unchanged_worker_does_not_touch_the_log(service: PlacementService) -> None:
    register(service, 1)
    before = version(service)
    register(service, 1)
    assert version(service) == before
    with pytest.raises(InvalidArgument):
        service.register_worker(placement_pb2.WorkerInfo(worker_id="x", grpc_address="nohost"))


def test_grpc_statuses(stub, service: PlacementService) -> None:  # type: ignore[no-untyped-def]
    stub.RegisterWorker(placement_pb2.RegisterWorkerRequest(worker=worker_info(0)))
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateCollection(placement_pb2.CreateCollectionRequest(owner="a", name="d", dimension=4, replication_factor=2))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    reply = stub.CreateCollection(placement_pb2.CreateCollectionRequest(owner="a", name="d", dimension=4, shard_count=2))
    assert len(reply.routing.shards) == 2
    with pytest.raises(grpc.RpcError) as info:
        stub.CreateCollection(placement_pb2.CreateCollectionRequest(owner="a", name="d", dimension=4))
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    ref = placement_pb2.CollectionRef(owner="a", name="d")
    assert stub.GetRoutingTable(placement_pb2.GetRoutingTableRequest(collection=ref)).routing.epoch == reply.routing.epoch
    w = stub.GetWorker(placement_pb2.GetWorkerRequest(collection=ref, str="doc-1"))
    assert w.shard_id == shard_of("doc-1", 2) and w.grpc_address == "127.0.0.1:9000"
    with pytest.raises(grpc.RpcError) as info:
        stub.GetWorker(placement_pb2.GetWorkerRequest(collection=ref))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as info:
        stub.GetCollection(placement_pb2.GetCollectionRequest(collection=placement_pb2.CollectionRef(owner="b", name="d")))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert [c.name for c in stub.ListCollections(placement_pb2.ListCollectionsRequest(owner="a")).collections] == ["d"]
    assert len(stub.ListWorkers(placement_pb2.ListWorkersRequest()).workers) == 1
    stub.DropCollection(placement_pb2.DropCollectionRequest(collection=ref))
    assert list(stub.ListCollections(placement_pb2.ListCollectionsRequest(owner="a")).collections) == []


def test_fsm_snapshot_roundtrip(service: PlacementService, group, tmp_path) -> None:  # type: ignore[no-untyped-def]
    register(service, 2)
    service.create_collection("alice", "docs", 4, shard_count=2, replication_factor=2)
    path = tmp_path / "snap"
    with open(path, "wb") as f:
        group.snapshot_to(f)
    service.drop_collection("alice", "docs")
    with open(path, "rb") as f:
        group.restore_from(f)
    assert [c.name for c in service.list_collections("alice")] == ["docs"]
