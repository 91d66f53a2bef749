"""The re-replication scheduler over the real placement FSM in the in-memory Raft runner."""

from __future__ import annotations

import pytest

from vectron.raft import InMemoryGroup
from vectron.services.placement import Liveness, PlacementConfig, PlacementService, PlacementStateMachine
from vectron.services.placement.healer import Healer, Move
from vectron.v1 import placement_pb2

from .conftest import FakeClock, worker_info

DEAD_AFTER = 30.0


def stats(collection_id: str, shard_id: int, leader: str = "127.0.0.1:1") -> placement_pb2.ShardStats:
    return placement_pb2.ShardStats(collection_id=collection_id, shard_id=shard_id, role="follower", leader_raft_address=leader)


class Cluster:
    """A placement service with ``n`` registered workers, a fake clock and a healer."""

    def __init__(self, group: InMemoryGroup[PlacementStateMachine], clock: FakeClock, n: int, *, in_flight: int = 2,
                 capacity: int = 0) -> None:
        config = PlacementConfig(liveness_timeout=5.0, write_timeout=2.0, dead_worker_timeout=DEAD_AFTER,
                                 max_moves_in_flight=in_flight)
        self.clock = clock
        self.service = PlacementService(group, config, liveness=Liveness(5.0, clock=clock, wall=clock))
        self.leading = True
        self.healer = Healer(self.service, lambda: self.leading, clock=clock)
        for i in range(n):
            self.service.register_worker(worker_info(i, capacity=capacity))
        self.alive = {f"w{i}" for i in range(n)}

    def beat(self) -> None:
        """Every alive worker heartbeats, reporting the shards it is assigned (as joined)."""
        for worker_id in sorted(self.alive):
            reply = self.service.heartbeat(worker_id)
            reported = [stats(a.collection.collection_id, a.shard_id) for a in reply.assignments]
            self.service.heartbeat(worker_id, reported)

    def pass_time(self, seconds: float, step: float = 1.0) -> list[Move]:
        moves: list[Move] = []
        end = self.clock.now + seconds
        while self.clock.now < end:
            self.clock.advance(step)
            self.beat()
            moves += self.healer.run_once()
        return moves

    def holders(self, name: str = "docs") -> list[list[str]]:
        table = self.service.get_routing_table("alice", name)
        return [sorted(r.worker_id for r in s.replicas) for s in table.shards]

    def workers(self) -> dict[str, placement_pb2.WorkerInfo]:
        return {w.worker_id: w for w in self.service.list_workers()}


@pytest.fixture
def make(group: InMemoryGroup[PlacementStateMachine], clock: FakeClock):  # type: ignore[no-untyped-def]
    return lambda n, **kw: Cluster(group, clock, n, **kw)


def test_a_silent_worker_is_declared_dead_after_the_timeout_and_its_replicas_move(make) -> None:  # type: ignore[no-untyped-def]
    c = make(4)
    c.beat()
    c.service.create_collection("alice", "docs", 4, shard_count=4, replication_factor=3)
    epoch = c.service.get_routing_table("alice", "docs").epoch
    before = c.holders()
    victim = "w1"
    c.alive.discard(victim)
    assert c.pass_time(DEAD_AFTER - 5) == []  # not yet: only silent for less than the timeout
    assert not c.workers()[victim].dead
    c.pass_time(20)
    assert c.workers()[victim].dead
    after = c.holders()
    for old, new in zip(before, after):
        assert victim not in new and len(set(new)) == 3  # back to 3 replicas on distinct live workers
        assert set(old) - {victim} <= set(new)  # only the dead worker's replica moved
    assert c.service.get_routing_table("alice", "docs").epoch > epoch  # the routing epoch moved


def test_the_least_loaded_spare_worker_gets_the_replica(make) -> None:  # type: ignore[no-untyped-def]
    c = make(5)
    c.beat()
    c.service.create_collection("alice", "docs", 4, shard_count=1, replication_factor=3)
    c.service.create_collection("alice", "busy", 4, shard_count=1, replication_factor=2)
    (holders,) = c.holders()
    spares = sorted({"w0", "w1", "w2", "w3", "w4"} - set(holders))
    busy = set(c.holders("busy")[0])
    victim = holders[0]
    c.alive.discard(victim)
    moves = c.pass_time(DEAD_AFTER + 5)
    assert [m.from_worker_id for m in moves] == [victim]
    load = {w: sum(w in h for h in c.holders("busy")) for w in spares}
    assert moves[0].to_worker_id == min(spares, key=lambda w: (load[w], w))
    assert moves[0].to_worker_id not in busy or all(w in busy for w in spares)


def test_with_no_spare_worker_the_shard_runs_degraded(make) -> None:  # type: ignore[no-untyped-def]
    c = make(3)
    c.beat()
    c.service.create_collection("alice", "docs", 4, shard_count=2, replication_factor=3)
    c.alive.discard("w2")
    assert c.pass_time(DEAD_AFTER + 5) == []
    assert c.workers()["w2"].dead
    cid = c.service.get_collection("alice", "docs").collection_id
    assert sorted(c.healer.degraded()) == [(cid, 0), (cid, 1)]
    assert all("w2" in h for h in c.holders())  # nothing moved
    # a new worker joins: the degraded shards move to it
    c.service.register_worker(worker_info(7))
    c.alive.add("w7")
    moves = c.pass_time(5)
    assert {(m.shard_id, m.to_worker_id) for m in moves} == {(0, "w7"), (1, "w7")}
    assert c.healer.degraded() == []


@pytest.mark.parametrize("replication, dead", [(1, 1), (3, 2), (2, 1)], ids=["rf1", "rf3-two-dead", "rf2"])
def test_a_shard_without_a_healthy_majority_is_not_moved(make, replication: int, dead: int) -> None:  # type: ignore[no-untyped-def]
    """Only the dead workers may hold its data (and the group could not commit a change):
    moving the replicas away would make those workers delete it when they come back."""
    c = make(replication + 2)
    c.beat()
    c.service.create_collection("alice", "docs", 4, shard_count=1, replication_factor=replication)
    c.beat()
    (holders,) = c.holders()
    for victim in holders[:dead]:
        c.alive.discard(victim)
    assert c.pass_time(DEAD_AFTER + 10) == []
    assert c.holders() == [holders]
    assert c.healer.degraded() == [(c.service.get_collection("alice", "docs").collection_id, 0)]


def test_moves_are_rate_limited_to_the_replicas_in_flight(make) -> None:  # type: ignore[no-untyped-def]
    c = make(4, in_flight=1)
    c.beat()
    c.service.create_collection("alice", "docs", 4, shard_count=4, replication_factor=3)
    victim = next(w for w in ("w0", "w1", "w2", "w3") if sum(w in h for h in c.holders()) >= 2)
    held = {w: [a.shard_id for a in c.service.heartbeat(w).assignments] for w in c.alive}
    cid = c.service.get_collection("alice", "docs").collection_id

    def beat_old_shards_only() -> None:  # a new replica never joins its group
        for w in sorted(c.alive):
            c.service.heartbeat(w, [stats(cid, shard) for shard in held[w]])

    c.beat = beat_old_shards_only  # type: ignore[method-assign]
    c.alive.discard(victim)
    moves = c.pass_time(DEAD_AFTER + 20)
    assert len(moves) == 1  # the second waits for the first to join
    c.beat = Cluster.beat.__get__(c)  # type: ignore[method-assign]
    moves = c.pass_time(5)
    assert len(moves) >= 1 and all(m.from_worker_id == victim for m in moves)
    assert all(victim not in h for h in c.holders())


def test_a_dead_worker_heard_again_is_declared_alive_and_loses_its_moved_replicas(make) -> None:  # type: ignore[no-untyped-def]
    c = make(4)
    c.beat()
    c.service.create_collection("alice", "docs", 4, shard_count=2, replication_factor=3)
    victim = c.holders()[0][0]
    c.alive.discard(victim)
    c.pass_time(DEAD_AFTER + 10)
    assert c.workers()[victim].dead
    c.alive.add(victim)
    c.pass_time(2)
    assert not c.workers()[victim].dead
    reply = c.service.heartbeat(victim)
    assert list(reply.assignments) == []  # its stale replicas are no longer assigned: it drops them


def test_only_the_leader_schedules_and_a_new_leader_waits_a_full_timeout(make) -> None:  # type: ignore[no-untyped-def]
    c = make(4)
    c.beat()
    c.service.create_collection("alice", "docs", 4, shard_count=1, replication_factor=3)
    c.leading = False
    c.alive.discard(c.holders()[0][0])
    assert c.pass_time(DEAD_AFTER + 10) == []
    # leadership arrives: silence before it does not count (its heartbeat table may be cold)
    c.leading = True
    assert c.pass_time(DEAD_AFTER - 5) == []
    assert len(c.pass_time(10)) == 1


def test_a_bad_move_is_refused_naming_the_field(make) -> None:  # type: ignore[no-untyped-def]
    c = make(4)
    c.beat()
    c.service.create_collection("alice", "docs", 4, shard_count=1, replication_factor=3)
    cid = c.service.get_collection("alice", "docs").collection_id
    holders = c.holders()[0]
    spare = next(w for w in ("w0", "w1", "w2", "w3") if w not in holders)
    cases = [
        (placement_pb2.MoveReplicaCmd(collection_id="nope", shard_id=0, from_worker_id=holders[0], to_worker_id=spare), "collection_id"),
        (placement_pb2.MoveReplicaCmd(collection_id=cid, shard_id=9, from_worker_id=holders[0], to_worker_id=spare), "shard_id"),
        (placement_pb2.MoveReplicaCmd(collection_id=cid, shard_id=0, from_worker_id=spare, to_worker_id=spare), "from_worker_id"),
        (placement_pb2.MoveReplicaCmd(collection_id=cid, shard_id=0, from_worker_id=holders[0], to_worker_id=holders[1]), "to_worker_id"),
        (placement_pb2.MoveReplicaCmd(collection_id=cid, shard_id=0, from_worker_id=holders[0], to_worker_id="ghost"), "to_worker_id"),
    ]
    from vectron.errors import VectronError

    for cmd, field in cases:
        with pytest.raises(VectronError) as info:
            c.service.move_replica(cmd.collection_id, cmd.shard_id, cmd.from_worker_id, cmd.to_worker_id)
        assert info.value.field == field
    assert c.holders()[0] == holders  # nothing changed
    with pytest.raises(VectronError) as info:
        c.service.set_worker_dead("ghost", True)
    assert info.value.field == "worker_id"


def test_a_dead_timeout_shorter_than_liveness_does_not_flap(group, clock) -> None:  # type: ignore[no-untyped-def]
    c = Cluster(group, clock, 4)
    c.service.config = PlacementConfig(liveness_timeout=5.0, write_timeout=2.0, dead_worker_timeout=1.0)
    c.beat()
    c.service.create_collection("alice", "docs", 4, shard_count=1, replication_factor=3)
    victim = c.holders()[0][0]
    c.alive.discard(victim)
    while not c.workers()[victim].dead:
        c.pass_time(0.25, step=0.25)
    # declared dead once, never alive again while silent, even while its last heartbeat is
    # younger than the liveness timeout (each declaration would bump the version)
    version = c.service.heartbeat("w0" if victim != "w0" else "w1").placement_version
    c.pass_time(3, step=0.25)
    assert c.workers()[victim].dead
    assert c.service.heartbeat("w0" if victim != "w0" else "w1").placement_version == version


def test_a_stuck_shard_does_not_hold_back_the_others(make) -> None:  # type: ignore[no-untyped-def]
    c = make(6, in_flight=1)
    c.beat()
    c.service.create_collection("alice", "stuck", 4, shard_count=1, replication_factor=3)
    (stuck,) = c.holders("stuck")
    c.service.create_collection("alice", "docs", 4, shard_count=1, replication_factor=3)
    c.beat()
    (docs,) = c.holders()
    assert not set(stuck) & set(docs)  # least loaded first: disjoint
    stuck_id = c.service.get_collection("alice", "stuck").collection_id

    def beat() -> None:  # the stuck shard's last replica knows no leader (no majority left)
        for w in sorted(c.alive):
            reply = c.service.heartbeat(w)
            c.service.heartbeat(w, [stats(a.collection.collection_id, a.shard_id,
                                          "" if a.collection.collection_id == stuck_id else "127.0.0.1:1")
                                    for a in reply.assignments])

    c.beat = beat  # type: ignore[method-assign]
    # two of the stuck shard's workers die (no majority left), one of the other shard's too
    for w in [*stuck[:2], docs[0]]:
        c.alive.discard(w)
    c.pass_time(DEAD_AFTER + 10)
    assert docs[0] not in c.holders()[0]  # moved despite the stuck shard
    assert c.holders("stuck") == [stuck]


def test_a_new_placement_leader_finishes_from_the_log_and_never_moves_twice(make) -> None:  # type: ignore[no-untyped-def]
    """Two placement nodes' healers over one placement log: leadership flips after a move."""
    c = make(5, in_flight=1)
    c.beat()
    c.service.create_collection("alice", "docs", 4, shard_count=3, replication_factor=3)
    c.beat()
    victim = max(("w0", "w1", "w2", "w3", "w4"), key=lambda w: sum(w in h for h in c.holders()))
    assert sum(victim in h for h in c.holders()) >= 2
    c.alive.discard(victim)
    other = Healer(c.service, lambda: not c.leading, clock=c.clock)
    moves: list[Move] = []
    while not moves:  # the first leader declares the death and makes one move (the limit is 1)...
        moves = c.pass_time(1)
    c.leading = False  # ...and loses its leadership: the new one finishes from the log
    later: list[Move] = []
    for _ in range(int(DEAD_AFTER) + 5):
        c.clock.advance(1.0)
        c.beat()
        later += other.run_once()
    assert later and all(m.from_worker_id == victim for m in moves + later)
    everything = moves + later
    assert len({(m.collection_id, m.shard_id) for m in everything}) == len(everything)  # never twice
    assert all(victim not in h and len(set(h)) == 3 for h in c.holders())
