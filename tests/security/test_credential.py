"""The cluster credential and the RegisterWorker rule, in-process: tokens expire,
tolerate clock skew, name their node; a worker may move itself, nobody else may."""

from __future__ import annotations

import pathlib
import time
from collections.abc import Iterator

import pytest

from vectron.errors import PermissionDenied, Unauthenticated
from vectron.raft import InMemoryGroup
from vectron.services.internal_auth import CLOCK_SKEW_SECONDS, TOKEN_TTL_SECONDS, ClusterCredential
from vectron.services.placement import PlacementConfig, PlacementService, PlacementStateMachine
from vectron.v1 import placement_pb2


def test_tokens_name_their_node_expire_and_tolerate_skew() -> None:
    cred = ClusterCredential("s3cret", "worker-a")
    now = time.time()
    assert cred.verify(cred.token(now), now) == "worker-a"
    # a caller whose clock is a minute behind or ahead is still accepted
    assert cred.verify(cred.token(now - 60), now) == "worker-a"
    assert cred.verify(cred.token(now + 60), now) == "worker-a"
    with pytest.raises(Unauthenticated, match="expired"):
        cred.verify(cred.token(now - TOKEN_TTL_SECONDS - CLOCK_SKEW_SECONDS - 1), now)
    with pytest.raises(Unauthenticated, match="future"):
        cred.verify(cred.token(now + CLOCK_SKEW_SECONDS + 1), now)
    with pytest.raises(Unauthenticated, match="signed"):
        cred.verify(ClusterCredential("other", "worker-a").token(now), now)
    for bad in (None, "", "v2.a.1.b", "v1.***.1.ab", "v1.YQ.\u00b2.ab", "v1.YQ.1.\u00e9", "v1.YQ.notanumber.ab", "v1.YQ." + "9" * 40 + ".ab"):
        with pytest.raises(Unauthenticated):
            cred.verify(bad, now)
    with pytest.raises(ValueError):
        ClusterCredential("")


@pytest.fixture
def placement(tmp_path: pathlib.Path) -> Iterator[PlacementService]:
    fsm = PlacementStateMachine(tmp_path / "pd", sync=False, map_size=1 << 24)
    group = InMemoryGroup(fsm)
    yield PlacementService(group, PlacementConfig(liveness_timeout=5.0, write_timeout=2.0))
    group.stop()
    fsm.close()


def addresses(placement: PlacementService) -> dict[str, str]:
    return {w.worker_id: w.grpc_address for w in placement.list_workers()}


def test_only_the_worker_itself_registers_or_moves_its_entry(placement: PlacementService) -> None:
    info = placement_pb2.WorkerInfo(worker_id="w1", grpc_address="127.0.0.1:9001", raft_host="127.0.0.1",
                                    raft_port_min=20000, raft_port_max=20099)
    placement.register_worker(info, caller="w1")
    moved = placement_pb2.WorkerInfo()
    moved.CopyFrom(info)
    moved.grpc_address = "127.0.0.1:6666"
    with pytest.raises(PermissionDenied, match="registers itself"):
        placement.register_worker(moved, caller="w2")
    assert addresses(placement)["w1"] == "127.0.0.1:9001"
    with pytest.raises(PermissionDenied):  # nor may anyone register a worker in another's name
        placement.register_worker(placement_pb2.WorkerInfo(worker_id="w3", grpc_address="127.0.0.1:1", raft_host="h",
                                                           raft_port_min=1, raft_port_max=2), caller="w1")
    assert "w3" not in addresses(placement)
    moved.grpc_address = "127.0.0.1:9002"  # the worker itself, restarted on another port
    assert placement.register_worker(moved, caller="w1").grpc_address == "127.0.0.1:9002"
    assert addresses(placement)["w1"] == "127.0.0.1:9002"
