"""A 3-node auth group of real `vectrond --role auth` processes on loopback ports.

Same-email registrations racing on different nodes: exactly one wins. A
workload of registrations and key validations keeps going while the leader
(twice) and a follower are killed with SIGKILL and restarted; no acknowledged
registration is lost. Waits have generous timeouts; nothing
asserts on elapsed time.
"""

from __future__ import annotations

import itertools
import pathlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest

from vectron.v1 import auth_pb2

from .cluster import AuthCluster, Node

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthCluster]:
    c = AuthCluster(pathlib.Path(tmp_path_factory.mktemp("auth-cluster")))
    try:
        c.start_all()
        c.wait_serving()
        yield c
    finally:
        c.stop_all()


def call_any(
    cluster: AuthCluster, fn: Callable[[Node], Any], *, first: int = 0, timeout: float = 30.0
) -> Any:
    """Call ``fn(node)`` on live nodes in turn until it succeeds or fails for good."""
    deadline = time.monotonic() + timeout
    for i in itertools.count(first):
        node = cluster.nodes[i % len(cluster.nodes)]
        if node.proc is None:
            continue
        try:
            return fn(node)
        except grpc.RpcError as exc:
            if exc.code() not in RETRYABLE or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


def test_same_email_racing_on_three_nodes_exactly_one_wins(cluster: AuthCluster) -> None:
    for round_ in range(5):
        email = f"race{round_}@example.com"
        barrier = threading.Barrier(len(cluster.nodes))
        outcomes: list[Any] = []
        lock = threading.Lock()

        def attempt(node: Node) -> None:
            barrier.wait()
            try:
                node.stub().RegisterUser(auth_pb2.RegisterUserRequest(email=email, password=PASSWORD), timeout=20)
                outcome: Any = "ok"
            except grpc.RpcError as exc:
                outcome = exc.code()
            with lock:
                outcomes.append(outcome)

        threads = [threading.Thread(target=attempt, args=(n,)) for n in cluster.nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(map(str, outcomes)) == sorted(["ok"] + [str(grpc.StatusCode.ALREADY_EXISTS)] * 2), outcomes
        # every node agrees on the one account
        ids = {n.stub().Login(auth_pb2.LoginRequest(email=email, password=PASSWORD), timeout=20).user.user_id for n in cluster.nodes}
        assert len(ids) == 1


class Workload:
    """Registers users and validates a key through whichever nodes are up."""

    def __init__(self, cluster: AuthCluster, key: str) -> None:
        self.cluster = cluster
        self.key = key
        self.acked: list[str] = []
        self.validations = 0
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            for i in itertools.count():
                if self._stop.is_set():
                    return
                email = f"churn{i}@example.com"
                request = auth_pb2.RegisterUserRequest(email=email, password=PASSWORD)
                try:
                    call_any(self.cluster, lambda n: n.stub().RegisterUser(request, timeout=5), first=i)
                except grpc.RpcError as exc:
                    # a retry of a registration whose first outcome was unknown may find it done
                    if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
                        raise
                with self._lock:
                    self.acked.append(email)
                check = call_any(
                    self.cluster,
                    lambda n: n.stub().ValidateAPIKey(auth_pb2.ValidateAPIKeyRequest(key=self.key), timeout=5),
                    first=i + 1,
                )
                assert check.valid, "a live key was reported invalid during failover"
                with self._lock:
                    self.validations += 1
        except BaseException as exc:
            self.errors.append(exc)

    def start(self) -> None:
        self._thread.start()

    def count(self) -> int:
        with self._lock:
            return len(self.acked)

    def wait_progress(self, more: int, timeout: float = 60.0) -> None:
        target = self.count() + more
        deadline = time.monotonic() + timeout
        while self.count() < target:
            assert not self.errors, self.errors
            if time.monotonic() > deadline:
                raise TimeoutError(f"workload stuck at {self.count()} registrations (wanted {target})")
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def test_group_keeps_serving_while_the_leader_is_killed_and_restarted(cluster: AuthCluster) -> None:
    request = auth_pb2.RegisterUserRequest(email="owner@example.com", password=PASSWORD)
    call_any(cluster, lambda n: n.stub().RegisterUser(request, timeout=10))
    token = call_any(cluster, lambda n: n.stub().Login(auth_pb2.LoginRequest(email=request.email, password=PASSWORD), timeout=10)).token
    md = [("authorization", f"Bearer {token}")]
    key = call_any(cluster, lambda n: n.stub().CreateAPIKey(auth_pb2.CreateAPIKeyRequest(name="k"), metadata=md, timeout=10))

    workload = Workload(cluster, key.key)
    workload.start()
    try:
        workload.wait_progress(3)
        killed_leaders: list[str] = []
        for round_ in range(3):
            leader = cluster.leader()
            # rounds 1 and 2 kill the leader; round 3 a follower
            node = leader if round_ < 2 else next(n for n in cluster.nodes if n is not leader)
            if node is leader:
                killed_leaders.append(node.raft)
            cluster.kill(node)
            workload.wait_progress(5)  # the two survivors keep taking writes (after an election)
            cluster.start(node)
            cluster.wait_serving([node])
            workload.wait_progress(3)
        assert len(killed_leaders) == 2
    finally:
        workload.stop()
    assert not workload.errors, workload.errors
    assert workload.count() >= 27 and workload.validations >= 27

    # No acknowledged registration was lost, and every node sees all of them.
    for node in cluster.nodes:
        stub = node.stub()
        for email in workload.acked[:: max(1, len(workload.acked) // 10)] + workload.acked[-3:]:
            assert stub.Login(auth_pb2.LoginRequest(email=email, password=PASSWORD), timeout=20).user.email == email
    # A revocation through one node is seen by a linearizable read on every node.
    cluster.nodes[0].stub().RevokeAPIKey(auth_pb2.RevokeAPIKeyRequest(key_id=key.info.key_id), metadata=md, timeout=20)
    for node in cluster.nodes:
        assert not node.stub().ValidateAPIKey(auth_pb2.ValidateAPIKeyRequest(key=key.key), timeout=20).valid
