"""Placement and workers as real processes on loopback: a 3-node placement group, three workers,
shard groups over real Raft.

* placement calls go to the group's first node, leader or not (followers forward writes);
* 3 shards x replication factor 3: upserts go to the right shards (by GetRoutingTable),
  a worker holding leaders is killed with SIGKILL, writes and reads go on, the worker
  restarts and catches up, and every acknowledged point is on every replica with its
  payload.
* replication factor 1 over several workers; dropping frees the replicas' files.
* two owners with a collection of the same name stay apart; bad input gets clear statuses.

Nothing asserts on elapsed time; waits poll with generous timeouts.
"""

from __future__ import annotations

import json
import pathlib
import time
import uuid
from collections.abc import Iterator

import grpc
import numpy as np
import pytest

from vectron.services.placement.routing import shard_of
from vectron.v1 import placement_pb2, points_pb2, worker_pb2

from .cluster import RETRYABLE, ShardCluster, poll

pytestmark = [pytest.mark.slow]

DIM = 8


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ShardCluster]:
    c = ShardCluster(pathlib.Path(tmp_path_factory.mktemp("shard-cluster")), placement_nodes=3)
    try:
        c.start_all()
        c.wait_serving()
        c.wait_live_workers(3)
        yield c
    finally:
        c.stop_all()


def ref_of(owner: str, name: str) -> placement_pb2.CollectionRef:
    return placement_pb2.CollectionRef(owner=owner, name=name)


def routing(cluster: ShardCluster, owner: str, name: str) -> placement_pb2.RoutingTable:
    return cluster.placement().GetRoutingTable(placement_pb2.GetRoutingTableRequest(collection=ref_of(owner, name)), timeout=10).routing


def wait_leaders(cluster: ShardCluster, owner: str, name: str, exclude: str | None = None) -> placement_pb2.RoutingTable:
    def ready() -> placement_pb2.RoutingTable | None:
        table = routing(cluster, owner, name)
        ok = all(s.leader_worker_id and s.leader_worker_id != exclude for s in table.shards)
        return table if ok else None

    return poll(ready, 90, "a leader for every shard")


def vector(pid: int) -> list[float]:
    v = np.random.default_rng(pid).normal(size=DIM)
    return v.tolist()


def payload(pid: int) -> dict:
    return {"pid": pid, "tag": f"t{pid % 5}"}


def shard_ref(table: placement_pb2.RoutingTable, shard_id: int) -> worker_pb2.ShardRef:
    return worker_pb2.ShardRef(collection_id=table.collection.collection_id, shard_id=shard_id, epoch=table.epoch)


def addresses(table: placement_pb2.RoutingTable, shard_id: int, cluster: ShardCluster) -> list[str]:
    shard = table.shards[shard_id]
    out = [shard.leader_grpc_address] if shard.leader_grpc_address else []
    out += [r.grpc_address for r in shard.replicas if r.grpc_address not in out]
    live = {p.grpc_addr for p in cluster.procs.values() if p.proc is not None}
    return [a for a in out if a in live]


def call_shard(cluster: ShardCluster, table: placement_pb2.RoutingTable, shard_id: int, method: str, request, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    """Call a worker of the shard (leader hint first), retrying retryable failures on the others."""
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        targets = addresses(table, shard_id, cluster)
        target = targets[attempt % len(targets)]
        attempt += 1
        try:
            return getattr(cluster.worker_stub(target), method)(request, timeout=10)
        except grpc.RpcError as exc:
            if exc.code() not in RETRYABLE or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def upsert(cluster: ShardCluster, table: placement_pb2.RoutingTable, ids: list[int], acked: dict[int, dict]) -> None:
    by_shard: dict[int, list[int]] = {}
    for pid in ids:
        by_shard.setdefault(shard_of(pid, table.collection.shard_count), []).append(pid)
    for shard_id, members in by_shard.items():
        request = worker_pb2.UpsertRequest(
            shard=shard_ref(table, shard_id),
            points=[points_pb2.Point(id=points_pb2.PointId(num=p), vector=vector(p), payload_json=json.dumps(payload(p))) for p in members],
            request_id=uuid.uuid4().hex,  # the same id on every retry: applied once
        )
        reply = call_shard(cluster, table, shard_id, "Upsert", request)
        assert reply.affected == len(members)
        acked.update({p: payload(p) for p in members})


def read_back(cluster: ShardCluster, table: placement_pb2.RoutingTable, ids: list[int]) -> None:
    by_shard: dict[int, list[int]] = {}
    for pid in ids:
        by_shard.setdefault(shard_of(pid, table.collection.shard_count), []).append(pid)
    for shard_id, members in by_shard.items():
        request = worker_pb2.GetRequest(shard=shard_ref(table, shard_id), ids=[points_pb2.PointId(num=p) for p in members])
        got = call_shard(cluster, table, shard_id, "Get", request)
        assert sorted(p.id.num for p in got.points) == sorted(members)
        assert all(json.loads(p.payload_json) == payload(p.id.num) for p in got.points)


def replica_has_all(cluster: ShardCluster, address: str, table: placement_pb2.RoutingTable, shard_id: int, acked: dict[int, dict]) -> bool:
    wanted = [p for p in acked if shard_of(p, table.collection.shard_count) == shard_id]
    request = worker_pb2.GetRequest(
        shard=shard_ref(table, shard_id), ids=[points_pb2.PointId(num=p) for p in wanted], consistency=worker_pb2.ANY
    )
    got = cluster.worker_stub(address).Get(request, timeout=10)
    found = {p.id.num: json.loads(p.payload_json) for p in got.points}
    return found == {p: acked[p] for p in wanted}


def test_rf3_survives_kill_9_of_a_worker_holding_leaders(cluster: ShardCluster) -> None:
    pd = cluster.placement()
    created = pd.CreateCollection(
        placement_pb2.CreateCollectionRequest(owner="alice", name="docs", dimension=DIM, distance="cosine", shard_count=3, replication_factor=3),
        timeout=30,
    ).routing
    assert len(created.shards) == 3 and all(len({r.worker_id for r in s.replicas}) == 3 for s in created.shards)
    table = wait_leaders(cluster, "alice", "docs")
    acked: dict[int, dict] = {}
    next_id = 0
    for _ in range(4):
        upsert(cluster, table, list(range(next_id, next_id + 30)), acked)
        next_id += 30
    read_back(cluster, table, list(acked))

    # kill -9 the worker leading the most shards
    leaders = [s.leader_worker_id for s in table.shards]
    victim = max(set(leaders), key=leaders.count)
    cluster.kill(cluster.worker_name(victim))
    for _ in range(6):  # keep writing and reading through the survivors
        batch = list(range(next_id, next_id + 30))
        next_id += 30
        upsert(cluster, table, batch, acked)
        read_back(cluster, table, batch)
    table = wait_leaders(cluster, "alice", "docs", exclude=victim)
    assert all(s.leader_worker_id != victim for s in table.shards)

    cluster.start(victim)
    cluster.wait_serving([victim])
    upsert(cluster, table, list(range(next_id, next_id + 30)), acked)
    # every acknowledged point is on every replica, with its payload
    for shard in table.shards:
        for replica in shard.replicas:
            poll(lambda: replica_has_all(cluster, replica.grpc_address, table, shard.shard_id, acked), 120,
                 f"shard {shard.shard_id} on {replica.worker_id} to catch up")
    # and the status call shows the shard groups from the restarted worker's side
    status = cluster.worker_stub(cluster.procs[victim].grpc_addr).ShardStatus(
        worker_pb2.ShardStatusRequest(collection_id=table.collection.collection_id), timeout=10
    )
    assert sorted(s.shard_id for s in status.shards) == [0, 1, 2]
    counts = {s.shard_id: s.point_count for s in status.shards}
    assert sum(counts.values()) == len(acked)
    assert all(s.term >= 1 and s.applied_index > 0 and len(s.replicas) == 3 and s.leader for s in status.shards)


def test_rf1_spreads_over_workers_and_drop_frees_files(cluster: ShardCluster) -> None:
    pd = cluster.placement()
    table = pd.CreateCollection(
        placement_pb2.CreateCollectionRequest(owner="alice", name="single", dimension=DIM, shard_count=3, replication_factor=1), timeout=30
    ).routing
    assert sorted(s.replicas[0].worker_id for s in table.shards) == ["w0", "w1", "w2"]
    table = wait_leaders(cluster, "alice", "single")
    acked: dict[int, dict] = {}
    upsert(cluster, table, list(range(90)), acked)
    read_back(cluster, table, list(acked))
    cid = table.collection.collection_id
    folders = [cluster.procs[s.replicas[0].worker_id].data_dir / "worker" / "shards" / f"{cid}-{s.shard_id}" for s in table.shards]
    assert all((f / "points" / "CURRENT").exists() for f in folders)
    pd.DropCollection(placement_pb2.DropCollectionRequest(collection=ref_of("alice", "single")), timeout=30)
    poll(lambda: not any(f.exists() for f in folders), 60, "the dropped replicas' folders to go")
    with pytest.raises(grpc.RpcError) as info:
        pd.GetRoutingTable(placement_pb2.GetRoutingTableRequest(collection=ref_of("alice", "single")), timeout=10)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as info:
        cluster.worker_stub(table.shards[0].replicas[0].grpc_address).Count(worker_pb2.CountRequest(shard=shard_ref(table, 0)), timeout=10)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_owners_are_apart_and_bad_input_is_refused(cluster: ShardCluster) -> None:
    pd = cluster.placement()
    tables = {}
    for owner in ("carol", "dave"):
        pd.CreateCollection(
            placement_pb2.CreateCollectionRequest(owner=owner, name="notes", dimension=DIM, shard_count=1, replication_factor=2), timeout=30
        )
        tables[owner] = wait_leaders(cluster, owner, "notes")
    assert tables["carol"].collection.collection_id != tables["dave"].collection.collection_id
    acked: dict[int, dict] = {}
    upsert(cluster, tables["carol"], [1, 2, 3], acked)
    count = lambda owner: call_shard(cluster, tables[owner], 0, "Count", worker_pb2.CountRequest(shard=shard_ref(tables[owner], 0))).count  # noqa: E731
    assert (count("carol"), count("dave")) == (3, 0)
    assert [c.name for c in pd.ListCollections(placement_pb2.ListCollectionsRequest(owner="dave"), timeout=10).collections] == ["notes"]

    def status_of(call) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
        with pytest.raises(grpc.RpcError) as info:
            call()
        return info.value.code()

    table = tables["carol"]
    target = addresses(table, 0, cluster)[0]
    stub = cluster.worker_stub(target)
    stale = worker_pb2.ShardRef(collection_id=table.collection.collection_id, shard_id=0, epoch=table.epoch + 1)
    good_point = points_pb2.Point(id=points_pb2.PointId(num=9), vector=vector(9))
    assert status_of(lambda: stub.Upsert(worker_pb2.UpsertRequest(shard=stale, points=[good_point]), timeout=10)) == grpc.StatusCode.FAILED_PRECONDITION
    bad_dim = points_pb2.Point(id=points_pb2.PointId(num=9), vector=[1.0] * (DIM + 1))
    assert status_of(lambda: stub.Upsert(worker_pb2.UpsertRequest(shard=shard_ref(table, 0), points=[bad_dim]), timeout=10)) == grpc.StatusCode.INVALID_ARGUMENT
    unknown = worker_pb2.ShardRef(collection_id="no-such-collection", shard_id=0)
    assert status_of(lambda: stub.Get(worker_pb2.GetRequest(shard=unknown), timeout=10)) == grpc.StatusCode.NOT_FOUND
    assert status_of(lambda: stub.Get(worker_pb2.GetRequest(shard=worker_pb2.ShardRef(collection_id=table.collection.collection_id, shard_id=4)), timeout=10)) == grpc.StatusCode.NOT_FOUND
    too_many = placement_pb2.CreateCollectionRequest(owner="carol", name="big", dimension=DIM, replication_factor=4)
    assert status_of(lambda: pd.CreateCollection(too_many, timeout=10)) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(lambda: pd.GetRoutingTable(placement_pb2.GetRoutingTableRequest(collection=ref_of("carol", "big")), timeout=10)) == grpc.StatusCode.NOT_FOUND
    assert count("carol") == 3  # nothing changed
    # search returns ids, scores and payloads
    found = call_shard(cluster, table, 0, "Search", worker_pb2.SearchRequest(
        shard=shard_ref(table, 0), queries=[worker_pb2.SearchQuery(vector=vector(2))], k=2, with_payload=True))
    top = found.results[0].hits[0]
    assert top.id.num == 2 and json.loads(top.payload_json) == payload(2) and top.score > 0.99
