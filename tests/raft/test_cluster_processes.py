"""Real 3-node groups as separate processes on loopback ports, with kill -9."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from .procs import Cluster, NodeProc, wait_for


@pytest.fixture
def cluster(tmp_path: pathlib.Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        yield c.start()
    finally:
        c.stop()


def incr(node: NodeProc, key: str = "c", rid: str | None = None, timeout: float = 15.0) -> int:
    return node.ok({"op": "propose", "body": {"op": "incr", "k": key}, "rid": rid, "timeout": timeout})["v"]


def get(node: NodeProc, key: str = "c", consistency: str = "linearizable") -> object:
    return node.ok({"op": "get", "key": key, "consistency": consistency})


def applies(node: NodeProc) -> int:
    return node.ok({"op": "applies"})


def caught_up(node: NodeProc, value: object, key: str = "c") -> bool:
    return get(node, key, "any") == value


def test_leader_killed_and_a_new_leader_takes_writes(cluster: Cluster) -> None:
    leader = cluster.leader()
    for i in range(1, 4):
        assert incr(leader) == i
    leader.kill()
    survivor = cluster.followers(leader)[0]
    assert incr(survivor) == 4  # retried inside its deadline while a new leader is elected
    new_leader = cluster.leader(among=cluster.followers(leader))
    assert new_leader.addr != leader.addr
    assert incr(new_leader) == 5
    leader.start()  # the old leader comes back as a follower and catches up
    wait_for(lambda: caught_up(leader, 5), what="old leader to catch up")
    assert applies(leader) == 5
    assert get(leader) == 5  # linearizable read through the log from a follower


def test_follower_restarted_after_compaction_catches_up_through_a_snapshot(cluster: Cluster) -> None:
    leader = cluster.leader()
    lagging, other = cluster.followers(leader)
    for _ in range(3):
        incr(leader)
    wait_for(lambda: caught_up(lagging, 3), what="follower to apply")
    lagging.kill()
    for _ in range(30):
        incr(leader)
    for node in (leader, other):
        node.ok({"op": "compact"})
    wait_for(lambda: leader.status()["log_size"] <= 3 and other.status()["log_size"] <= 3, what="log compaction")
    assert (leader.dir / "raft" / "raft.snapshot").exists()
    lagging.start()
    wait_for(lambda: caught_up(lagging, 33), what="lagging follower to catch up")
    log = lagging.stderr_path.read_text()
    assert (lagging.dir / "raft" / "raft.snapshot").exists(), log[-3000:]  # installed from the leader
    assert "restored snapshot at index" in log, log[-3000:]
    assert applies(lagging) == 33  # the counter came with the snapshot: nothing applied twice
    assert incr(lagging) == 34  # and the group goes on


def test_restart_without_compaction_replays_the_journal_without_applying_twice(cluster: Cluster) -> None:
    leader = cluster.leader()
    follower = cluster.followers(leader)[0]
    for _ in range(10):
        incr(leader)
    wait_for(lambda: caught_up(follower, 10), what="follower to apply")
    assert applies(follower) == 10
    follower.kill()
    follower.start()
    wait_for(lambda: follower.status()["applied_index"] >= leader.status()["commit_index"], what="journal replay")
    assert get(follower, consistency="any") == 10
    assert applies(follower) == 10
    # and the whole group restarted at once: every node replays its journal
    cluster.kill_all()
    cluster.start()
    node = cluster.leader()
    assert get(node) == 10
    for n in cluster.nodes:
        wait_for(lambda n=n: caught_up(n, 10), what="replay after a full restart")
        assert applies(n) == 10


def test_a_write_retried_with_the_same_request_id_is_applied_once(cluster: Cluster) -> None:
    leader = cluster.leader()
    a, b = cluster.followers(leader)
    assert incr(leader, rid="req-1") == 1
    assert incr(a, rid="req-1") == 1  # answered from the dedup record, through the log
    assert incr(b, rid="req-1") == 1
    assert incr(leader, rid="req-2") == 2
    for n in cluster.nodes:
        assert get(n) == 2
        assert applies(n) == 2


def test_acknowledged_writes_survive_kill9_of_every_node(cluster: Cluster) -> None:
    leader = cluster.leader()
    followers = cluster.followers(leader)
    acked = 0
    for i in range(20):
        acked = incr(leader if i % 2 else followers[i % 4 // 2])
    assert acked == 20
    cluster.kill_all()  # SIGKILL to all three before waiting for any
    cluster.start()
    for n in cluster.nodes:
        assert get(n) == 20
    for n in cluster.nodes:
        wait_for(lambda n=n: caught_up(n, 20), what="replay")
        assert applies(n) == 20


def test_a_corrupted_snapshot_makes_the_node_refuse_to_start(cluster: Cluster) -> None:
    leader = cluster.leader()
    node = cluster.followers(leader)[0]
    for _ in range(5):
        incr(leader)
    wait_for(lambda: caught_up(node, 5), what="follower to apply")
    node.ok({"op": "compact"})
    snapshot = node.dir / "raft" / "raft.snapshot"
    wait_for(snapshot.exists, what="snapshot file")
    node.kill()
    data = bytearray(snapshot.read_bytes())
    data[-100] ^= 0xFF  # one flipped bit pattern inside the LMDB image
    snapshot.write_bytes(bytes(data))
    node.start(expect_started=False)
    assert node.wait(timeout=60) == 3
    assert "checksum mismatch" in node.stderr_path.read_text()
    # the rest of the group is unaffected
    assert incr(leader) == 6
