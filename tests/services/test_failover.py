"""FailoverStubs against real servers in their own processes: a paused node is
skipped by reads, and a write that may have reached it is never sent again."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vectron.errors import Indeterminate
from vectron.services.failover import FailoverStubs
from vectron.services.grpc_errors import may_have_been_applied

Start = Callable[[], tuple[subprocess.Popen[str], int]]


def health(stub: health_pb2_grpc.HealthStub, timeout: float) -> int:
    return int(stub.Check(health_pb2.HealthCheckRequest(), timeout=timeout).status)


@pytest.fixture
def first_paused(health_server_process: Start) -> Iterator[FailoverStubs[health_pb2_grpc.HealthStub]]:
    """Two nodes; the first answered once (so it is tried first), then was paused."""
    paused, port_a = health_server_process()
    _, port_b = health_server_process()
    stubs = FailoverStubs([f"127.0.0.1:{port_a}", f"127.0.0.1:{port_b}"], health_pb2_grpc.HealthStub, timeout=30.0, what="health")
    assert stubs.call(health) == health_pb2.HealthCheckResponse.SERVING
    os.kill(paused.pid, signal.SIGSTOP)
    yield stubs
    stubs.close()


def test_an_idempotent_call_moves_on_from_a_paused_node(first_paused: FailoverStubs[health_pb2_grpc.HealthStub]) -> None:
    assert first_paused.call(health) == health_pb2.HealthCheckResponse.SERVING


def test_a_write_that_may_have_reached_a_paused_node_ends_indeterminate(
    first_paused: FailoverStubs[health_pb2_grpc.HealthStub],
) -> None:
    with pytest.raises(Indeterminate, match="may have been applied"):
        first_paused.call(health, idempotent=False)


def test_a_write_that_could_not_connect_moves_on(health_server_process: Start) -> None:
    down, port_a = health_server_process()
    _, port_b = health_server_process()
    down.kill()
    down.wait()
    stubs = FailoverStubs([f"127.0.0.1:{port_a}", f"127.0.0.1:{port_b}"], health_pb2_grpc.HealthStub, timeout=30.0, what="health")
    try:
        assert stubs.call(health, idempotent=False) == health_pb2.HealthCheckResponse.SERVING
    finally:
        stubs.close()


def test_may_have_been_applied_classifies_failed_connects_apart() -> None:
    with grpc.insecure_channel("127.0.0.1:1") as channel:  # nothing listens on port 1
        with pytest.raises(grpc.RpcError) as info:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE and not may_have_been_applied(info.value)
