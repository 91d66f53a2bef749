"""The gateway's WorkerClients: over gRPC every failure arrives as the vectron error the
worker raised (mapped once), a write that may have been applied as Indeterminate and a
read that timed out as Unavailable; in process the same calls reach WorkerService."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import grpc
import pytest

from tests.services.gateway.doubles import Cluster, FaultyWorkerService, build_cluster
from vectron.errors import Indeterminate, NotLeader, StaleEpoch, Unavailable
from vectron.services.gateway.workers import GrpcWorkerClient, LocalWorkerClient, PointWrite, ShardTarget, WorkerClient
from vectron.services.serving import start_grpc_server
from vectron.services.worker.grpc_server import SERVICE_NAME, WorkerServicer
from vectron.v1 import worker_pb2_grpc


@pytest.fixture
def worker(tmp_path: pathlib.Path) -> Iterator[tuple[Cluster, FaultyWorkerService, ShardTarget]]:
    cluster = build_cluster(tmp_path, workers=1)
    table = cluster.placement.create_collection("alice", "docs", 2, shard_count=1)
    service = cluster.worker_at(0)
    yield cluster, service, ShardTarget(table.collection.collection_id, 0, table.epoch)
    cluster.close()


@pytest.fixture(params=["grpc", "local"])
def client(request: pytest.FixtureRequest, worker: tuple[Cluster, FaultyWorkerService, ShardTarget]) -> Iterator[WorkerClient]:
    _, service, _ = worker
    if request.param == "local":
        yield LocalWorkerClient(service)
        return
    servicer = WorkerServicer(service)
    server = start_grpc_server("127.0.0.1:0", lambda s: worker_pb2_grpc.add_WorkerServiceServicer_to_server(servicer, s), [SERVICE_NAME])
    server.set_serving(True)
    with grpc.insecure_channel(server.address) as channel:
        yield GrpcWorkerClient(worker_pb2_grpc.WorkerServiceStub(channel))
    server.stop(None)
    servicer.channels.close()


def test_calls_and_errors_are_the_same_either_way(client: WorkerClient, worker: tuple[Cluster, FaultyWorkerService, ShardTarget]) -> None:
    _, service, shard = worker
    batch = [PointWrite(1, [1.0, 0.0], {"é": 1}, '{"é":1}'), PointWrite("a", [0.0, 1.0], None, "")]
    assert client.upsert(shard, batch, "r1", 5.0) == 2
    assert [(p.id, p.payload) for p in client.get(shard, [1, "a"], False, True, None, 5.0)] == [(1, {"é": 1}), ("a", {})]
    assert client.count(shard, None, "", "any", 5.0) == 2
    stale = ShardTarget(shard.collection_id, 0, shard.epoch + 1)
    with pytest.raises(StaleEpoch):
        client.count(stale, None, "", None, 5.0)
    service.not_leader_once.add(0)
    with pytest.raises(NotLeader):
        client.upsert(shard, batch, "r2", 5.0)
    service.down.add(0)
    with pytest.raises(Unavailable):
        client.upsert(shard, batch, "r3", 5.0)


def test_a_grpc_deadline_is_indeterminate_for_a_write_and_unavailable_for_a_read(
    worker: tuple[Cluster, FaultyWorkerService, ShardTarget],
) -> None:
    _, service, shard = worker
    servicer = WorkerServicer(service)
    server = start_grpc_server("127.0.0.1:0", lambda s: worker_pb2_grpc.add_WorkerServiceServicer_to_server(servicer, s), [SERVICE_NAME])
    try:
        with grpc.insecure_channel(server.address) as channel:
            client = GrpcWorkerClient(worker_pb2_grpc.WorkerServiceStub(channel))
            with pytest.raises(Indeterminate):
                client.upsert(shard, [PointWrite(1, [1.0, 0.0], None, "")], "r1", 1e-6)
            with pytest.raises(Unavailable):
                client.count(shard, None, "", None, 1e-6)
    finally:
        server.stop(None)
        servicer.channels.close()


def test_export_shard_is_the_same_either_way(client: WorkerClient, worker: tuple[Cluster, FaultyWorkerService, ShardTarget],
                                             tmp_path: pathlib.Path) -> None:
    from vectron.store.shard_file import SnapshotReader

    _, _, shard = worker
    batch = [PointWrite(i, [1.0, float(i)], {"i": i}, f'{{"i":{i}}}') for i in range(5)]
    assert client.upsert(shard, batch, "r1", 5.0) == 5
    path = tmp_path / "shard.mdb"
    with open(path, "w+b") as out:
        out.write(b"left over from an earlier attempt" * 1000)
        client.export_shard(shard, out, 5.0)
    with SnapshotReader(path) as reader:
        assert reader.count == 5 and reader.config.dimension == 2
        assert [(p.id, p.payload) for b in reader.batches(2) for p in b] == [(i, {"i": i}) for i in range(5)]
    with pytest.raises(StaleEpoch), open(tmp_path / "stale.mdb", "w+b") as out:
        client.export_shard(ShardTarget(shard.collection_id, 0, shard.epoch + 1), out, 5.0)
