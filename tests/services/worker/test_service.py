"""WorkerService and its gRPC servicer over in-memory shard groups: payloads end to end,
consistency levels, ownership by the routing hash, bad input changing nothing,
forwarding to the leader, shard status, and replicas dropped with their files."""

from __future__ import annotations

import json
import pathlib

import grpc
import numpy as np
import pytest

from vectron.errors import DimensionMismatch, InvalidArgument, InvalidFilter, NotFound, NotLeader, StaleEpoch
from vectron.raft import InMemoryGroup
from vectron.services.serving import start_grpc_server
from vectron.services.worker.grpc_server import SERVICE_NAME, WorkerServicer
from vectron.services.worker.replicas import ReplicaHost
from vectron.services.worker.service import ShardKey, WorkerConfig, WorkerService
from vectron.v1 import points_pb2, worker_pb2, worker_pb2_grpc

from .conftest import DIM, EPOCH, assignment, ids_of_shard, memory_factory

S0 = ShardKey("c1", 0, EPOCH)


def vecs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def applied(service: WorkerService, key: ShardKey = S0) -> int:
    return service.replica(key).fsm.applied_index()


def test_upsert_get_search_with_payloads(service: WorkerService) -> None:
    ids = ids_of_shard(0, 20)
    vectors = vecs(20)
    result = service.upsert(S0, ids, vectors, [{"i": i, "tag": "even" if i % 2 == 0 else "odd"} for i in ids])
    assert result.affected == 20 and result.index >= 1
    got = service.get(S0, [ids[3], 10**9], with_vector=True)
    assert [r.id for r in got] == [ids[3]] and got[0].payload["i"] == ids[3]
    assert np.allclose(got[0].vector, vectors[3])
    hits = service.search(S0, vectors[:2], k=3)
    assert [row[0].id for row in hits] == ids[:2]
    assert hits[0][0].payload == {"i": ids[0], "tag": "even" if ids[0] % 2 == 0 else "odd"}
    filtered = service.search(S0, vectors[:1], k=50, filter={"must": [{"key": "tag", "match": {"value": "odd"}}]})
    assert filtered[0] and all(h.payload["tag"] == "odd" for h in filtered[0])
    for level in ("linearizable", "leader", "any"):
        assert service.count(S0, consistency=level) == 20
    records, nxt = service.scroll(S0, limit=15)
    assert len(records) == 15 and nxt is not None
    rest, end = service.scroll(S0, limit=15, offset=nxt)
    assert len(rest) == 5 and end is None
    assert service.set_payload(S0, ids[:2], {"x": 1}).affected == 2
    assert service.get(S0, [ids[0]])[0].payload["x"] == 1
    assert service.set_payload(S0, ids[:1], {"y": 2}, overwrite=True).affected == 1
    assert service.get(S0, [ids[0]])[0].payload == {"y": 2}
    assert service.delete(S0, ids=ids[:5]).affected == 5
    assert service.delete(S0, filter={"must": [{"key": "tag", "match": {"value": "odd"}}]}).affected > 0
    assert service.count(S0) < 15


def test_request_id_retry_is_applied_once(service: WorkerService) -> None:
    ids = ids_of_shard(0, 3)
    first = service.upsert(S0, ids, vecs(3), request_id="req-1")
    service.delete(S0, ids=ids)
    again = service.upsert(S0, ids, vecs(3), request_id="req-1")
    assert again == first and service.count(S0) == 0


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda s: s.upsert(S0, ids_of_shard(0, 2), np.ones((2, DIM + 1))), DimensionMismatch),
        (lambda s: s.upsert(S0, ids_of_shard(1, 2), vecs(2)), InvalidArgument),  # ids of another shard
        (lambda s: s.upsert(S0, ids_of_shard(0, 1) * 2, vecs(2)), InvalidArgument),  # duplicate ids
        (lambda s: s.upsert(S0, ids_of_shard(0, 1), np.full((1, DIM), np.nan)), InvalidArgument),
        (lambda s: s.upsert(S0, ids_of_shard(0, 1), np.zeros((1, DIM))), InvalidArgument),  # cosine zero vector
        (lambda s: s.upsert(S0, ids_of_shard(0, 1), vecs(1), ["x"]), InvalidArgument),
        (lambda s: s.upsert(S0, [], vecs(0)), InvalidArgument),
        (lambda s: s.upsert(ShardKey("c1", 0, EPOCH + 1), ids_of_shard(0, 1), vecs(1)), StaleEpoch),
        (lambda s: s.upsert(ShardKey("nope", 0), ids_of_shard(0, 1), vecs(1)), NotFound),
        (lambda s: s.upsert(ShardKey("c1", 5), ids_of_shard(0, 1), vecs(1)), NotFound),
        (lambda s: s.delete(S0), InvalidArgument),
        (lambda s: s.delete(S0, filter={"must": 5}), InvalidFilter),
        (lambda s: s.search(S0, np.ones((1, DIM + 2))), DimensionMismatch),
        (lambda s: s.count(S0, consistency="eventual"), InvalidArgument),
    ],
)
def test_bad_input_changes_nothing(service: WorkerService, call, error) -> None:  # type: ignore[no-untyped-def]
    service.upsert(S0, ids_of_shard(0, 3), vecs(3))
    before = (applied(service), service.count(S0))
    with pytest.raises(error):
        call(service)
    assert (applied(service), service.count(S0)) == before


def test_shard_status(service: WorkerService) -> None:
    service.upsert(S0, ids_of_shard(0, 4), vecs(4))
    status = {(s.collection_id, s.shard_id): s for s in service.shard_status()}
    s0 = status[("c1", 0)]
    assert (s0.point_count, s0.role, s0.epoch, s0.applied_index) == (4, "leader", EPOCH, 1)
    assert s0.leader == s0.raft_address and list(s0.replicas) == [s0.raft_address]
    assert status[("c1", 1)].point_count == 0
    stats = service.shard_stats()
    assert {(s.shard_id, s.point_count) for s in stats} == {(0, 4), (1, 0)}


def test_reconcile_drops_replicas_and_their_files(host: ReplicaHost, service: WorkerService) -> None:
    service.upsert(S0, ids_of_shard(0, 4), vecs(4))
    folder = host.folder_of("c1", 0)
    assert (folder / "points" / "CURRENT").exists()
    opened, dropped = host.reconcile([assignment(1), assignment(0, "c2")])
    assert opened == [("c2", 0)] and dropped == [("c1", 0)]
    assert not folder.exists()
    assert sorted(r.key for r in host.replicas()) == [("c1", 1), ("c2", 0)]
    with pytest.raises(NotFound):
        service.count(S0)


def test_replicas_reopen_from_disk(tmp_path: pathlib.Path) -> None:
    host = ReplicaHost(tmp_path / "w", memory_factory, durable=False, map_size=1 << 24)
    host.open(assignment(0))
    svc = WorkerService(host)
    svc.upsert(ShardKey("c1", 0), ids_of_shard(0, 5), vecs(5), [{"k": 1}] * 5)
    host.close()
    again = ReplicaHost(tmp_path / "w", memory_factory, durable=False, map_size=1 << 24)
    try:
        assert [r.key for r in again.open_local()] == [("c1", 0)]
        svc2 = WorkerService(again)
        assert svc2.count(ShardKey("c1", 0)) == 5
        assert svc2.get(ShardKey("c1", 0), ids_of_shard(0, 1))[0].payload == {"k": 1}
    finally:
        again.close()


def point(pid: int, vector: np.ndarray, payload: dict) -> points_pb2.Point:
    return points_pb2.Point(id=points_pb2.PointId(num=pid), vector=vector.tolist(), payload_json=json.dumps(payload))


def ref(shard: int = 0, epoch: int = EPOCH) -> worker_pb2.ShardRef:
    return worker_pb2.ShardRef(collection_id="c1", shard_id=shard, epoch=epoch)


def test_grpc_roundtrip_and_statuses(stub: worker_pb2_grpc.WorkerServiceStub) -> None:
    ids = ids_of_shard(0, 5)
    vectors = vecs(5)
    reply = stub.Upsert(worker_pb2.UpsertRequest(shard=ref(), points=[point(i, v, {"i": i}) for i, v in zip(ids, vectors)]))
    assert reply.affected == 5
    got = stub.Get(worker_pb2.GetRequest(shard=ref(), ids=[points_pb2.PointId(num=ids[0])]))
    assert json.loads(got.points[0].payload_json) == {"i": ids[0]}
    found = stub.Search(worker_pb2.SearchRequest(shard=ref(), queries=[worker_pb2.SearchQuery(vector=vectors[1].tolist())], k=2, with_payload=True))
    top = found.results[0].hits[0]
    assert top.id.num == ids[1] and json.loads(top.payload_json) == {"i": ids[1]} and top.score > 0.99
    assert stub.Count(worker_pb2.CountRequest(shard=ref(), consistency=worker_pb2.ANY)).count == 5
    page = stub.Scroll(worker_pb2.ScrollRequest(shard=ref(), limit=3))
    assert len(page.points) == 3 and page.HasField("next_offset")
    assert stub.SetPayload(worker_pb2.SetPayloadRequest(shard=ref(), ids=[points_pb2.PointId(num=ids[0])], payload_json='{"z": 1}')).affected == 1
    assert stub.Delete(worker_pb2.DeleteRequest(shard=ref(), filter_json='{"must": [{"key": "z", "match": {"value": 1}}]}')).affected == 1
    status = stub.ShardStatus(worker_pb2.ShardStatusRequest())
    assert status.worker_id == "w0" and {s.shard_id: s.point_count for s in status.shards} == {0: 4, 1: 0}

    def code(fn) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
        with pytest.raises(grpc.RpcError) as info:
            fn()
        return info.value.code()

    bad_dim = points_pb2.Point(id=points_pb2.PointId(num=ids[0]), vector=[1.0] * (DIM + 1))
    assert code(lambda: stub.Upsert(worker_pb2.UpsertRequest(shard=ref(), points=[bad_dim]))) == grpc.StatusCode.INVALID_ARGUMENT
    assert code(lambda: stub.Upsert(worker_pb2.UpsertRequest(shard=ref(epoch=1), points=[point(ids[0], vectors[0], {})]))) == grpc.StatusCode.FAILED_PRECONDITION
    assert code(lambda: stub.Get(worker_pb2.GetRequest(shard=worker_pb2.ShardRef(collection_id="zz")))) == grpc.StatusCode.NOT_FOUND
    assert code(lambda: stub.Count(worker_pb2.CountRequest(shard=ref(), filter_json="{bad"))) == grpc.StatusCode.INVALID_ARGUMENT
    assert code(lambda: stub.Upsert(worker_pb2.UpsertRequest(shard=ref(), points=[point(ids_of_shard(1, 1)[0], vectors[0], {})]))) == grpc.StatusCode.INVALID_ARGUMENT
    assert stub.Count(worker_pb2.CountRequest(shard=ref())).count == 4


class FollowerGroup(InMemoryGroup):  # a test double: a replica that knows another one leads
    def __init__(self, fsm, address: str, leader: str) -> None:  # type: ignore[no-untyped-def]
        super().__init__(fsm, address=address)
        self._leader = leader

    def is_leader(self) -> bool:
        return False

    def leader(self) -> str | None:
        return self._leader


def test_follower_forwards_to_the_leader(tmp_path: pathlib.Path, service: WorkerService) -> None:
    leader_servicer = WorkerServicer(service)
    leader_server = start_grpc_server(
        "127.0.0.1:0", lambda s: worker_pb2_grpc.add_WorkerServiceServicer_to_server(leader_servicer, s), [SERVICE_NAME]
    )
    leader_target = f"127.0.0.1:{leader_server.port}"
    leader_raft = service.replica(S0).raft_address
    # the follower worker hosts the same shard; its group says the leader's Raft address leads,
    # and the leader's gRPC address is learnt from the assignment's replica list
    a = assignment(0)
    del a.replicas[:]
    a.raft_address = "mem:follower"
    a.replicas.add(worker_id="w1", grpc_address="127.0.0.1:1", raft_address="mem:follower")
    a.replicas.add(worker_id="w0", grpc_address=leader_target, raft_address=leader_raft)
    host = ReplicaHost(
        tmp_path / "follower", lambda fsm, addr, peers, d: FollowerGroup(fsm, addr, leader_raft), durable=False, map_size=1 << 24
    )
    follower = WorkerService(host, "w1", WorkerConfig(write_timeout=1.0, read_timeout=1.0))
    servicer = WorkerServicer(follower)
    server = start_grpc_server("127.0.0.1:0", lambda s: worker_pb2_grpc.add_WorkerServiceServicer_to_server(servicer, s), [SERVICE_NAME])
    try:
        host.open(a)
        with pytest.raises(NotLeader) as info:
            follower.count(S0)
        assert info.value.leader == leader_target
        assert follower.count(S0, consistency="any") == 0
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            fstub = worker_pb2_grpc.WorkerServiceStub(channel)
            ids = ids_of_shard(0, 2)
            reply = fstub.Upsert(worker_pb2.UpsertRequest(shard=ref(), points=[point(i, v, {}) for i, v in zip(ids, vecs(2))]))
            assert reply.affected == 2
            assert service.count(S0) == 2  # written on the leader
            assert fstub.Count(worker_pb2.CountRequest(shard=ref())).count == 2  # forwarded read
            assert fstub.Count(worker_pb2.CountRequest(shard=ref(), consistency=worker_pb2.ANY)).count == 0  # local
            # a call that was already forwarded once is not forwarded again
            with pytest.raises(grpc.RpcError) as err:
                fstub.Count(worker_pb2.CountRequest(shard=ref()), metadata=[("vectron-forwarded", "1")])
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
            assert dict(err.value.trailing_metadata())["vectron-leader"] == leader_target
    finally:
        server.stop(grace=None)
        servicer.channels.close()
        leader_server.stop(grace=None)
        host.close()


def test_the_callers_deadline_bounds_a_write_without_a_leader(host: ReplicaHost) -> None:
    """The worker waits for a leader only as long as its caller will (``timeout``), not its own
    ``write_timeout``, and does not retry the write itself."""
    import time

    service = WorkerService(host, "w0", WorkerConfig(write_timeout=120.0, read_timeout=120.0))
    service.replica(S0).group.stop()  # a stopped group knows no leader: as during an election
    start = time.monotonic()
    with pytest.raises(NotLeader):
        service.upsert(S0, ids_of_shard(0, 1), vecs(1), timeout=0.3)
    with pytest.raises(NotLeader):
        service.count(S0, timeout=0.3)
    assert time.monotonic() - start < 60  # did not wait out the worker's own 120 s
