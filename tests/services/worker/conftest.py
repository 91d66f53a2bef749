"""Fixtures: shard replicas run by the in-memory Raft runner, a WorkerService over
them, and a real gRPC server on a free loopback port."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import grpc
import pytest

from vectron.raft import InMemoryGroup
from vectron.services.placement.routing import HASH_SCHEME, shard_of
from vectron.services.serving import start_grpc_server
from vectron.services.worker.grpc_server import SERVICE_NAME, WorkerServicer
from vectron.services.worker.replicas import ReplicaHost
from vectron.services.worker.service import WorkerConfig, WorkerService
from vectron.v1 import placement_pb2, worker_pb2_grpc

DIM = 4
SHARDS = 2
EPOCH = 7


def collection_info(collection_id: str = "c1", shard_count: int = SHARDS, distance: str = "cosine") -> placement_pb2.CollectionInfo:
    return placement_pb2.CollectionInfo(
        collection_id=collection_id, owner="alice", name="docs", dimension=DIM, distance=distance,
        shard_count=shard_count, replication_factor=1, epoch=EPOCH, hash_scheme=HASH_SCHEME,
    )


def assignment(shard_id: int, collection_id: str = "c1", raft: str | None = None) -> placement_pb2.ReplicaAssignment:
    raft = raft or f"mem:{collection_id}:{shard_id}"
    return placement_pb2.ReplicaAssignment(
        collection=collection_info(collection_id), shard_id=shard_id, raft_address=raft,
        replicas=[placement_pb2.ReplicaInfo(worker_id="w0", grpc_address="127.0.0.1:1", raft_address=raft)],
    )


def ids_of_shard(shard_id: int, n: int, shard_count: int = SHARDS) -> list[int]:
    out = []
    i = 0
    while len(out) < n:
        if shard_of(i, shard_count) == shard_id:
            out.append(i)
        i += 1
    return out


def memory_factory(fsm, address, peers, data_dir):  # type: ignore[no-untyped-def]
    return InMemoryGroup(fsm, address=address)


@pytest.fixture
def host(tmp_path: pathlib.Path) -> Iterator[ReplicaHost]:
    h = ReplicaHost(tmp_path / "worker", memory_factory, durable=False, map_size=1 << 26)
    h.open(assignment(0))
    h.open(assignment(1))
    yield h
    h.close()


@pytest.fixture
def service(host: ReplicaHost) -> WorkerService:
    return WorkerService(host, "w0", WorkerConfig(write_timeout=1.0, read_timeout=1.0))


@pytest.fixture
def stub(service: WorkerService) -> Iterator[worker_pb2_grpc.WorkerServiceStub]:
    servicer = WorkerServicer(service)
    server = start_grpc_server("127.0.0.1:0", lambda s: worker_pb2_grpc.add_WorkerServiceServicer_to_server(servicer, s), [SERVICE_NAME])
    server.set_serving(True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield worker_pb2_grpc.WorkerServiceStub(channel)
    finally:
        server.stop(grace=None)
        servicer.channels.close()
