"""Fixtures: the placement FSM on a temporary LMDB env in the in-memory Raft runner,
a PlacementService with a settable clock, and a real gRPC server on a free port."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import grpc
import pytest

from vectron.raft import InMemoryGroup
from vectron.services.placement import Liveness, PlacementConfig, PlacementService, PlacementStateMachine
from vectron.services.placement.grpc_server import SERVICE_NAME, PlacementServicer
from vectron.services.serving import start_grpc_server
from vectron.v1 import placement_pb2, placement_pb2_grpc


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def worker_info(n: int, ports: tuple[int, int] = (20000, 20099), capacity: int = 0) -> placement_pb2.WorkerInfo:
    return placement_pb2.WorkerInfo(
        worker_id=f"w{n}", grpc_address=f"127.0.0.1:{9000 + n}", raft_host="127.0.0.1",
        raft_port_min=ports[0] + 1000 * n, raft_port_max=ports[1] + 1000 * n, capacity=capacity,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fsm(tmp_path: pathlib.Path) -> Iterator[PlacementStateMachine]:
    machine = PlacementStateMachine(tmp_path / "pd", sync=False, map_size=1 << 24)
    yield machine
    machine.close()


@pytest.fixture
def group(fsm: PlacementStateMachine) -> Iterator[InMemoryGroup[PlacementStateMachine]]:
    g = InMemoryGroup(fsm)
    yield g
    g.stop()


@pytest.fixture
def service(group: InMemoryGroup[PlacementStateMachine], clock: FakeClock) -> PlacementService:
    config = PlacementConfig(liveness_timeout=5.0, write_timeout=2.0)
    return PlacementService(group, config, liveness=Liveness(5.0, clock=clock, wall=clock))


@pytest.fixture
def stub(service: PlacementService) -> Iterator[placement_pb2_grpc.PlacementServiceStub]:
    server = start_grpc_server(
        "127.0.0.1:0", lambda s: placement_pb2_grpc.add_PlacementServiceServicer_to_server(PlacementServicer(service), s), [SERVICE_NAME]
    )
    server.set_serving(True)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield placement_pb2_grpc.PlacementServiceStub(channel)
    finally:
        server.stop(grace=None)
