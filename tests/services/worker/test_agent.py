"""The placement agent against a real PlacementService gRPC server (in-memory placement
group): registration, assignments opened, stale answers ignored, drops delete files."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from vectron.raft import InMemoryGroup
from vectron.services.placement import PlacementConfig, PlacementService, PlacementStateMachine
from vectron.services.placement.grpc_server import SERVICE_NAME, PlacementServicer
from vectron.services.serving import start_grpc_server
from vectron.services.worker.agent import PlacementAgent
from vectron.services.worker.replicas import ReplicaHost
from vectron.services.worker.service import ShardKey, WorkerService
from vectron.v1 import placement_pb2, placement_pb2_grpc

from .conftest import assignment, ids_of_shard, memory_factory


@pytest.fixture
def placement(tmp_path: pathlib.Path) -> Iterator[tuple[PlacementService, str]]:
    fsm = PlacementStateMachine(tmp_path / "pd", sync=False, map_size=1 << 24)
    group = InMemoryGroup(fsm)
    service = PlacementService(group, PlacementConfig(write_timeout=2.0))
    server = start_grpc_server(
        "127.0.0.1:0", lambda s: placement_pb2_grpc.add_PlacementServiceServicer_to_server(PlacementServicer(service), s), [SERVICE_NAME]
    )
    try:
        yield service, f"127.0.0.1:{server.port}"
    finally:
        server.stop(grace=None)
        group.stop()


def make_agent(tmp_path: pathlib.Path, n: int, address: str) -> tuple[PlacementAgent, ReplicaHost]:
    host = ReplicaHost(tmp_path / f"w{n}", memory_factory, durable=False, map_size=1 << 24)
    info = placement_pb2.WorkerInfo(
        worker_id=f"w{n}", grpc_address=f"127.0.0.1:{9100 + n}", raft_host="127.0.0.1",
        raft_port_min=30000 + 100 * n, raft_port_max=30099 + 100 * n,
    )
    service = WorkerService(host, f"w{n}")
    return PlacementAgent(info, [address], host, service.shard_stats, rpc_timeout=2.0), host


def test_agents_register_open_assigned_replicas_and_drop_them(tmp_path: pathlib.Path, placement) -> None:  # type: ignore[no-untyped-def]
    service, address = placement
    agents = [make_agent(tmp_path, n, address) for n in range(2)]
    try:
        for agent, _ in agents:
            agent.run_once()
            assert agent.registered
        table = service.create_collection("alice", "docs", 4, shard_count=2, replication_factor=1)
        cid = table.collection.collection_id
        for agent, _ in agents:
            assert agent.run_once()
        hosted = {n: sorted(r.key for r in host.replicas()) for n, (_, host) in enumerate(agents)}
        assert sorted(k for keys in hosted.values() for k in keys) == [(cid, 0), (cid, 1)]
        assert all(len(keys) == 1 for keys in hosted.values())  # spread over both workers
        # the heartbeat stats reach the placement driver: the leader hint appears
        for agent, _ in agents:
            agent.run_once()
        routing = service.get_routing_table("alice", "docs")
        assert all(s.leader_worker_id for s in routing.shards)
        # a write on the hosting worker
        owner = next(host for _, host in agents if host.replicas() and host.replicas()[0].key == (cid, 0))
        WorkerService(owner).upsert(ShardKey(cid, 0, table.epoch), ids_of_shard(0, 3), [[1.0, 0, 0, 0]] * 3)
        folders = [host.folder_of(cid, s) for s in (0, 1) for _, host in agents if host.folder_of(cid, s).exists()]
        assert len(folders) == 2
        # an answer older than what the agent applied is ignored
        agent0, host0 = agents[0]
        agent0.placement_version += 100
        assert not agent0.run_once()
        agent0.placement_version -= 100
        service.drop_collection("alice", "docs")
        for agent, host in agents:
            assert agent.run_once()
            assert host.replicas() == []
        assert not any(f.exists() for f in folders)
    finally:
        for agent, host in agents:
            agent.stop()
            host.close()


def test_agent_without_placement_keeps_trying(tmp_path: pathlib.Path) -> None:
    agent, host = make_agent(tmp_path, 0, "127.0.0.1:1")
    try:
        assert not agent.run_once() and not agent.registered
    finally:
        agent.stop()
        host.close()


def test_the_newest_placement_version_survives_a_restart(tmp_path: pathlib.Path, placement) -> None:  # type: ignore[no-untyped-def]
    service, address = placement
    host = ReplicaHost(tmp_path / "w", memory_factory, durable=False, map_size=1 << 24)
    info = placement_pb2.WorkerInfo(worker_id="w0", grpc_address="127.0.0.1:9100", raft_host="127.0.0.1", raft_port_min=30000, raft_port_max=30009)
    state = tmp_path / "w" / "placement-version"
    agent = PlacementAgent(info, [address], host, lambda: [], state_file=state)
    try:
        assert agent.run_once()
        service.create_collection("alice", "docs", 4)
        assert agent.run_once() and len(host.replicas()) == 1
        seen = agent.placement_version
        assert int(state.read_text()) == seen > 0
    finally:
        agent.stop()
    again = PlacementAgent(info, [address], host, lambda: [], state_file=state)
    try:
        assert again.placement_version == seen
    finally:
        again.stop()
        host.close()


def test_a_worker_back_from_the_dead_drops_its_moved_replicas_and_their_files(tmp_path: pathlib.Path) -> None:
    from vectron.services.placement import Liveness
    from vectron.services.placement.healer import Healer

    from ..placement.conftest import FakeClock

    clock = FakeClock()
    fsm = PlacementStateMachine(tmp_path / "pd", sync=False, map_size=1 << 24)
    group = InMemoryGroup(fsm)
    service = PlacementService(group, PlacementConfig(write_timeout=2.0, dead_worker_timeout=3.0),
                               liveness=Liveness(2.0, clock=clock, wall=clock))
    healer = Healer(service, lambda: True, clock=clock)
    server = start_grpc_server(
        "127.0.0.1:0", lambda s: placement_pb2_grpc.add_PlacementServiceServicer_to_server(PlacementServicer(service), s), [SERVICE_NAME]
    )
    agents = [make_agent(tmp_path, n, f"127.0.0.1:{server.port}") for n in range(4)]
    try:
        for agent, _ in agents:
            agent.run_once()
        table = service.create_collection("alice", "docs", 4, shard_count=1, replication_factor=3)
        cid = table.collection.collection_id
        for agent, _ in agents:
            agent.run_once()
        for agent, _ in agents:
            agent.run_once()  # the stats of the opened replicas reach the placement driver
        holders = [n for n, (_, host) in enumerate(agents) if host.replicas()]
        spare = next(n for n in range(4) if n not in holders)
        agent_dead, host_dead = agents[holders[0]]
        folder = host_dead.folder_of(cid, 0)
        assert folder.exists()
        others = [agents[n][0] for n in range(4) if n != holders[0]]
        healer.run_once()
        for _ in range(5):  # one holder goes silent; the others keep beating
            clock.advance(1.0)
            for agent in others:
                agent.run_once()
            healer.run_once()
        assert [w.worker_id for w in service.list_workers() if w.dead] == [f"w{holders[0]}"]
        agents[spare][0].run_once()
        assert [r.key for r in agents[spare][1].replicas()] == [(cid, 0)]  # re-created on the spare worker
        # the dead worker comes back: declared alive again, it drops the moved replica and its files
        assert agent_dead.run_once()
        healer.run_once()
        assert not any(w.dead for w in service.list_workers())
        assert host_dead.replicas() == [] and not folder.exists()
    finally:
        for agent, host in agents:
            agent.stop()
            host.close()
        server.stop(grace=None)
        group.stop()


def test_the_shard_leader_makes_its_group_match_a_moved_assignment(tmp_path: pathlib.Path) -> None:
    """Real Raft groups: a replica's worker dies, placement moves it; the shard's leader removes
    the dead member first, then adds the new one, which catches up."""
    from tests.raft.procs import free_ports, wait_for
    from vectron.raft import RaftConfig, RaftGroup

    def raft_factory(fsm, address, peers, data_dir):  # type: ignore[no-untyped-def]
        return RaftGroup(fsm, RaftConfig(self_address=address, peers=[address, *peers], data_dir=str(data_dir),
                                         password="test-password", durable=False))

    addrs = [f"127.0.0.1:{p}" for p in free_ports(4)]

    def assigned(i: int, members: list[int]) -> placement_pb2.ReplicaAssignment:
        a = assignment(0, raft=addrs[i])
        del a.replicas[:]
        a.replicas.extend(placement_pb2.ReplicaInfo(worker_id=f"w{m}", grpc_address=f"127.0.0.1:{9100 + m}",
                                                    raft_address=addrs[m]) for m in members)
        return a

    hosts = [ReplicaHost(tmp_path / f"w{i}", raft_factory, durable=False, map_size=1 << 24) for i in range(4)]
    try:
        for i in range(3):
            hosts[i].open(assigned(i, [0, 1, 2]))
        groups = [hosts[i].get("c1", 0).group for i in range(3)]
        for g in groups:
            g.wait_ready(30)
        (leader,) = wait_for(lambda: [i for i in range(3) if groups[i].is_leader()], what="a leader")
        dead = next(i for i in range(3) if i != leader)
        WorkerService(hosts[leader]).upsert(ShardKey("c1", 0, 7), ids_of_shard(0, 5), [[1.0, 0, 0, 0]] * 5)
        hosts[dead].close()
        moved = [0, 1, 2, 3]
        moved.remove(dead)
        for i in moved[:2]:
            hosts[i].reconcile([assigned(i, moved)])  # the survivors take in the new member list
        assert [r.raft_address for r in hosts[leader].get("c1", 0).assignment.replicas] == [addrs[m] for m in moved]
        hosts[3].reconcile([assigned(3, moved)])  # the new worker opens its replica
        changes: list[str] = []
        wait_for(lambda: changes.extend(h for i in moved[:2] for h in hosts[i].converge_members()) or
                 groups[leader].members() == sorted(addrs[m] for m in moved), what="the moved membership")
        assert changes == [f"c1/0 -{addrs[dead]}", f"c1/0 +{addrs[3]}"]  # removal first
        new = hosts[3].get("c1", 0)
        wait_for(lambda: new.fsm.point_count() == 5, what="the new replica caught up")
        assert hosts[leader].converge_members() == []  # converged: nothing more to do
    finally:
        for h in hosts:
            h.close()
