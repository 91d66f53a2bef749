"""RaftGroup in-process: real pysyncobj nodes on loopback ports, one process."""

from __future__ import annotations

import contextlib
import json
import pathlib
import shutil
import threading
from collections.abc import Iterator

import pytest

from vectron.errors import Indeterminate, InvalidArgument, NotLeader, StorageError, Unavailable
from vectron.raft import Entry, RaftConfig, RaftGroup, StateMachine
from vectron.raft.pysyncobj_compat import FAIL_REASON

from .kvfsm import KVStateMachine, cmd
from .procs import free_ports, wait_for

PASSWORD = "in-process-test-password"


def make_group(tmp: pathlib.Path, addr: str, peers: list[str], name: str, fsm: StateMachine | None = None) -> RaftGroup:
    fsm = fsm or KVStateMachine(tmp / name / "fsm")
    return RaftGroup(fsm, RaftConfig(self_address=addr, peers=peers, data_dir=str(tmp / name / "raft"), password=PASSWORD))


@contextlib.contextmanager
def three_nodes(tmp: pathlib.Path) -> Iterator[list[RaftGroup]]:
    """Three in-process nodes of one group on free loopback ports, ready; stopped on exit."""
    addrs = [f"127.0.0.1:{p}" for p in free_ports(3)]
    groups: list[RaftGroup] = []
    try:
        for i, a in enumerate(addrs):
            groups.append(make_group(tmp, a, addrs, f"n{i}"))
        for g in groups:
            g.wait_ready(30)
        yield groups
    finally:
        for g in groups:
            g.stop()


@pytest.fixture(scope="module")
def trio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RaftGroup]]:
    with three_nodes(tmp_path_factory.mktemp("trio")) as groups:
        yield groups


def leader_of(groups: list[RaftGroup]) -> RaftGroup:
    def find() -> RaftGroup | None:
        leaders = {g.leader() for g in groups}
        if len(leaders) == 1 and None not in leaders:
            addr = leaders.pop()
            return next((g for g in groups if g.self_address == addr and g.is_leader()), None)
        return None

    return wait_for(find, what="a leader")


def res(raw: bytes) -> dict:
    return json.loads(raw)


def test_writes_on_a_follower_are_forwarded_and_readable_there(trio: list[RaftGroup]) -> None:
    leader = leader_of(trio)
    follower = next(g for g in trio if g is not leader)
    before = leader.read(lambda f: f.get("fwd")) or 0
    assert res(follower.propose(cmd(op="incr", k="fwd")))["v"] == before + 1
    # the call returned once applied locally: read-your-writes on the follower
    assert follower.read(lambda f: f.get("fwd"), consistency="any") == before + 1
    assert leader.read(lambda f: f.get("fwd"), consistency="leader") == before + 1


def test_follower_without_forwarding_redirects_to_the_leader(trio: list[RaftGroup]) -> None:
    leader = leader_of(trio)
    follower = next(g for g in trio if g is not leader)
    with pytest.raises(NotLeader) as info:
        follower.propose(cmd(op="incr", k="x"), forward=False)
    assert info.value.leader == leader.self_address
    with pytest.raises(NotLeader):
        follower.read(lambda f: f.get("x"), consistency="leader")


def test_concurrent_linearizable_reads_share_barriers(trio: list[RaftGroup]) -> None:
    leader = leader_of(trio)
    follower = next(g for g in trio if g is not leader)
    follower.propose(cmd(op="set", k="shared", v=1))
    start = threading.Barrier(20)
    results: list[object] = []

    def reader() -> None:
        start.wait()
        results.append(follower.read(lambda f: f.get("shared")))

    before = leader.status()["commit_index"]
    threads = [threading.Thread(target=reader) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [1] * 20
    used = leader.status()["commit_index"] - before
    assert 1 <= used < 20  # far fewer barrier entries than readers


def test_status_reports_the_group(trio: list[RaftGroup]) -> None:
    leader = leader_of(trio)
    leader.propose(cmd(op="incr", k="s"))
    st = leader.status()
    assert st["role"] == "leader" and st["leader"] == leader.self_address == st["self"]
    assert st["commit_index"] >= st["fsm_applied_index"] >= 1
    assert st["journal_syncs"] >= 1
    assert st["term"] >= 1 and st["ready"] and st["fatal"] is None


def test_outcomes_are_classified(trio: list[RaftGroup], monkeypatch: pytest.MonkeyPatch) -> None:
    g = leader_of(trio)
    monkeypatch.setattr(g, "_submit", lambda env, timeout: (FAIL_REASON.LEADER_CHANGED, None))
    with pytest.raises(Indeterminate):
        g.propose(cmd(op="incr", k="z"), timeout=0.3)
    monkeypatch.setattr(g, "_submit", lambda env, timeout: (FAIL_REASON.QUEUE_FULL, None))
    with pytest.raises(Unavailable) as info:
        g.propose(cmd(op="incr", k="z"), timeout=0.3)
    assert not isinstance(info.value, Indeterminate)
    outcomes = iter([(FAIL_REASON.UNKNOWN_OUTCOME, None), (FAIL_REASON.MISSING_LEADER, None)])
    monkeypatch.setattr(g, "_submit", lambda env, timeout: next(outcomes, (-1, None)))
    with pytest.raises(Indeterminate):  # once an attempt may have applied, failure is indeterminate
        g.propose(cmd(op="incr", k="z"), timeout=0.3)


def test_no_quorum_is_a_definite_failure(tmp_path: pathlib.Path) -> None:
    addrs = [f"127.0.0.1:{p}" for p in free_ports(3)]
    with make_group(tmp_path, addrs[0], addrs, "alone") as g:  # its two peers never start
        with pytest.raises(Unavailable) as info:
            g.propose(cmd(op="incr", k="c"), timeout=1.0)
        assert not isinstance(info.value, Indeterminate)
        with pytest.raises(Unavailable):
            g.read(lambda f: f.get("c"), timeout=0.5)
        assert g.read(lambda f: f.get("c"), consistency="any") is None


def test_a_password_is_required(tmp_path: pathlib.Path) -> None:
    with pytest.raises(InvalidArgument):
        RaftGroup(KVStateMachine(tmp_path / "f"), RaftConfig("127.0.0.1:1", ["127.0.0.1:1"], str(tmp_path), ""))


class _Raising(StateMachine):
    def apply(self, entry: Entry) -> bytes:
        raise RuntimeError("broken fsm")

    def snapshot(self, file) -> None:  # type: ignore[no-untyped-def]
        pass

    def restore(self, file) -> None:  # type: ignore[no-untyped-def]
        pass


def test_an_fsm_that_raises_stops_the_node(tmp_path: pathlib.Path) -> None:
    addr = f"127.0.0.1:{free_ports(1)[0]}"
    with make_group(tmp_path, addr, [addr], "single", fsm=_Raising()) as g:
        g.wait_ready(10)
        with pytest.raises(Indeterminate):  # the FSM failed on the entry: its effect is unknown
            g.propose(cmd(op="x"), timeout=3.0)
        with pytest.raises(Unavailable):
            g.propose(cmd(op="x"), timeout=3.0)
        wait_for(lambda: g.fatal is not None, what="the node to stop")
        assert g.status()["role"] == "stopped"


class _SyncSnapshotKV(KVStateMachine):
    def begin_snapshot(self):  # type: ignore[no-untyped-def]
        return None  # snapshots on the Raft thread, through snapshot(file)


@pytest.mark.parametrize("fsm_class", [KVStateMachine, _SyncSnapshotKV], ids=["background", "raft-thread"])
def test_single_node_group_snapshot_and_restart(tmp_path: pathlib.Path, fsm_class: type[KVStateMachine]) -> None:
    addr = f"127.0.0.1:{free_ports(1)[0]}"
    with make_group(tmp_path, addr, [addr], "one", fsm=fsm_class(tmp_path / "one" / "fsm")) as g:
        g.wait_ready(10)
        for _ in range(5):
            g.propose(cmd(op="incr", k="c"))
        g.compact()
        wait_for(lambda: g.status()["log_size"] <= 3, what="compaction")
        g.propose(cmd(op="incr", k="c"))
    with make_group(tmp_path, addr, [addr], "one", fsm=fsm_class(tmp_path / "one" / "fsm")) as g:
        g.wait_ready(10)
        assert g.read(lambda f: f.get("c")) == 6
        assert g.read(lambda f: f.applies()) == 6
    # damage the snapshot: the node refuses to start
    snap = tmp_path / "one" / "raft" / "raft.snapshot"
    raw = bytearray(snap.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    snap.write_bytes(bytes(raw))
    fsm = KVStateMachine(tmp_path / "one" / "fsm")
    with pytest.raises(StorageError):
        RaftGroup(fsm, RaftConfig(addr, [addr], str(tmp_path / "one" / "raft"), PASSWORD))
    fsm.close()


class _CountingRestoreKV(KVStateMachine):
    restores = 0

    def restore(self, file) -> None:  # type: ignore[no-untyped-def]
        type(self).restores += 1
        super().restore(file)


class _CountingSyncRestoreKV(_CountingRestoreKV, _SyncSnapshotKV):
    restores = 0


@pytest.mark.parametrize("fsm_class", [_CountingRestoreKV, _CountingSyncRestoreKV], ids=["background", "raft-thread"])
def test_restart_skips_the_restore_when_only_noops_follow_the_state_machine(
    tmp_path: pathlib.Path, fsm_class: type[_CountingRestoreKV]
) -> None:
    """A snapshot whose last entries are no-ops (read barriers, a leader's election
    entry) is not restored over a state machine already at its image's index: a clean
    restart reopens the state as it is. A state machine behind it is restored."""
    addr = f"127.0.0.1:{free_ports(1)[0]}"
    with make_group(tmp_path, addr, [addr], "one", fsm=fsm_class(tmp_path / "one" / "fsm")) as g:
        g.wait_ready(10)
        for _ in range(5):
            g.propose(cmd(op="incr", k="c"))
        g.barrier()  # the last entries are no-ops the state machine never sees
        fsm_index = g.fsm.applied_index()
        g.compact()
        wait_for(lambda: g.status()["log_size"] <= 3, what="compaction")
        assert g.status()["applied_index"] > fsm_index
    with make_group(tmp_path, addr, [addr], "one", fsm=fsm_class(tmp_path / "one" / "fsm")) as g:
        g.wait_ready(10)
        assert g.read(lambda f: f.get("c")) == 5 and g.read(lambda f: f.applies()) == 5
    assert fsm_class.restores == 0
    shutil.rmtree(tmp_path / "one" / "fsm")  # a state machine behind the snapshot: restored
    with make_group(tmp_path, addr, [addr], "one", fsm=fsm_class(tmp_path / "one" / "fsm")) as g:
        g.wait_ready(10)
        assert g.read(lambda f: f.get("c")) == 5
    assert fsm_class.restores == 1


class _FailingRestoreKV(KVStateMachine):
    def restore(self, file) -> None:  # type: ignore[no-untyped-def]
        raise StorageError("disk full (simulated)")


def _stop_a_follower_and_compact(groups: list[RaftGroup]) -> tuple[RaftGroup, int]:
    """Stop a follower, write 10 entries, compact the others' logs past them: the
    follower can only catch up through a snapshot. The leader and the follower's index."""
    leader = leader_of(groups)
    lagging = next(g for g in groups if g is not leader)
    lagging.stop()
    live = [g for g in groups if g is not lagging]
    for _ in range(10):
        leader.propose(cmd(op="incr", k="c"))
    for g in live:
        g.compact()
    wait_for(lambda: all(g.status()["log_size"] <= 3 for g in live), what="compaction")
    return leader, groups.index(lagging)


def test_status_counts_elections_lag_and_snapshot_installs(tmp_path: pathlib.Path) -> None:
    addrs = [f"127.0.0.1:{p}" for p in free_ports(3)]
    groups = [make_group(tmp_path, a, addrs, f"n{i}") for i, a in enumerate(addrs)]
    try:
        for g in groups:
            g.wait_ready(30)
        leader = leader_of(groups)
        assert sum(g.status()["elections"] for g in groups) >= 1  # somebody stood for election
        assert all(g.status()["leader_changes"] >= 1 for g in groups)
        leader, i = _stop_a_follower_and_compact(groups)
        assert leader.status()["follower_lag"] >= 10  # the stopped follower lacks the 10 entries
        assert groups[i].status()["snapshot_installs"] == 0
        groups[i] = make_group(tmp_path, addrs[i], addrs, f"n{i}", fsm=KVStateMachine(tmp_path / f"n{i}" / "fsm-new"))
        wait_for(lambda: groups[i].status()["snapshot_installs"] == 1, what="the snapshot install")
        wait_for(lambda: leader.status()["follower_lag"] == 0, what="the follower to catch up")
        assert groups[i].read(lambda f: f.get("c"), consistency="any") == 10
        assert all(g.status()["follower_lag"] == 0 for g in groups if g is not leader)  # 0 on followers
    finally:
        for g in groups:
            g.stop()


def test_a_failed_snapshot_install_stops_the_follower(tmp_path: pathlib.Path) -> None:
    addrs = [f"127.0.0.1:{p}" for p in free_ports(3)]
    groups = [make_group(tmp_path, a, addrs, f"n{i}") for i, a in enumerate(addrs)]
    try:
        for g in groups:
            g.wait_ready(30)
        leader, i = _stop_a_follower_and_compact(groups)
        groups[i] = lagging = make_group(
            tmp_path, addrs[i], addrs, f"n{i}", fsm=_FailingRestoreKV(tmp_path / f"n{i}" / "fsm")
        )
        wait_for(lambda: lagging.fatal is not None, what="the follower to stop itself")
        assert "restore" in (lagging.fatal or "")
        assert lagging.status()["role"] == "stopped"
        with pytest.raises(Unavailable):
            lagging.propose(cmd(op="incr", k="c"), timeout=1.0)
        with pytest.raises(Unavailable):
            lagging.read(lambda f: f.get("c"), consistency="any")
        assert res(leader.propose(cmd(op="incr", k="c")))["v"] == 11  # the majority goes on
    finally:
        for g in groups:
            g.stop()


def _long_ticks(groups: list[RaftGroup], period: float) -> None:
    """Make every node poll for ``period`` between ticks (takes effect after the
    current tick); only socket events or a wake-up run the next tick sooner."""
    for g in groups:
        g.config.tick_period = period


def test_a_single_node_group_commits_without_waiting_for_a_tick(tmp_path: pathlib.Path) -> None:
    addr = f"127.0.0.1:{free_ports(1)[0]}"
    with make_group(tmp_path, addr, [addr], "solo") as g:
        g.wait_ready(10)
        g.propose(cmd(op="incr", k="c"))
        _long_ticks([g], 3600.0)
        try:
            g.propose(cmd(op="incr", k="c"))  # the tick that may still run with the old period
            # Each commit now needs a tick after the one that appended the entry: without
            # a wake-up the node would sleep for the hour and these would time out.
            for i in range(3, 6):
                assert res(g.propose(cmd(op="incr", k="c"), timeout=60.0))["v"] == i
        finally:
            _long_ticks([g], 0.05)
            g.propose(cmd(op="incr", k="c"))  # wakes the node so that it stops promptly


def test_a_leader_with_peers_replicates_without_waiting_for_a_tick(trio: list[RaftGroup]) -> None:
    leader = leader_of(trio)
    follower = next(g for g in trio if g is not leader)
    before = leader.read(lambda f: f.get("t")) or 0
    _long_ticks(trio, 3600.0)
    try:
        leader.propose(cmd(op="incr", k="t"))  # the ticks that may still run with the old period
        # The leader sends AppendEntries as it appends and the answers wake it: no tick waited for.
        assert res(leader.propose(cmd(op="incr", k="t"), timeout=60.0))["v"] == before + 2
        assert res(follower.propose(cmd(op="incr", k="t"), timeout=60.0))["v"] == before + 3
    finally:
        _long_ticks(trio, 0.05)
        leader.propose(cmd(op="incr", k="t"))  # wakes every node


class _GatedKV(KVStateMachine):
    """``{"op": "gated"}`` waits (on the Raft thread) until ``gate`` is set."""

    def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*a, **kw)
        self.gate = threading.Event()

    def apply_command(self, txn, entry: Entry) -> bytes:  # type: ignore[no-untyped-def]
        if json.loads(entry.body).get("op") == "gated":
            self.gate.wait(60)
            return json.dumps({"ok": True, "v": "gated"}).encode()
        return super().apply_command(txn, entry)


def test_a_slow_commit_is_waited_for_not_resubmitted(tmp_path: pathlib.Path) -> None:
    addr = f"127.0.0.1:{free_ports(1)[0]}"
    fsm = _GatedKV(tmp_path / "gated" / "fsm")
    with make_group(tmp_path, addr, [addr], "gated", fsm=fsm) as g:
        g.wait_ready(10)
        submissions: list[bytes] = []
        apply = g._node.submit

        def counting(envelope: bytes, callback):  # type: ignore[no-untyped-def]
            submissions.append(envelope)
            return apply(envelope, callback)

        g._node.submit = counting
        start_index = g.status()["commit_index"]
        out: list[object] = []
        writer = threading.Thread(target=lambda: out.append(g.propose(cmd(op="gated"), "gated-1", timeout=5.0)))
        writer.start()
        wait_for(lambda: submissions, what="the submission")
        # Hold the entry's apply for longer than a third of the timeout (the old
        # per-attempt limit, after which it was submitted again).
        threading.Event().wait(2.5)
        fsm.gate.set()
        writer.join(60)
        assert out and res(out[0]) == {"ok": True, "v": "gated"}  # type: ignore[arg-type]
        assert len(submissions) == 1
        assert g.status()["commit_index"] == start_index + 1  # one entry in the log, no duplicate
