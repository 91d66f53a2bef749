"""Membership changes of real RaftGroups (in-process pysyncobj nodes on loopback ports)."""

from __future__ import annotations

import pathlib
import queue
import threading

import pytest

from vectron.errors import InvalidArgument, Unavailable
from vectron.raft import RaftGroup
from vectron.raft.pysyncobj_compat import FAIL_REASON

from .kvfsm import cmd
from .procs import free_ports, wait_for
from .test_group import leader_of, make_group, res, three_nodes


def value_on(group: RaftGroup, key: str) -> object:
    return group.read(lambda f: f.get(key), consistency="any")


def agree(groups: list[RaftGroup], members: list[str]) -> bool:
    return all(g.members() == sorted(members) for g in groups)


def start_member(tmp: pathlib.Path, group: RaftGroup, addr: str, name: str) -> RaftGroup:
    """Add ``addr`` through ``group`` and start its node with the current members as peers."""
    group.add_member(addr, timeout=20)
    new = make_group(tmp, addr, group.members(), name)
    new.wait_ready(30)
    return new


def test_a_fourth_member_catches_up_and_counts(tmp_path: pathlib.Path) -> None:
    with three_nodes(tmp_path) as trio:
        leader = leader_of(trio)
        for i in range(20):
            leader.propose(cmd(op="set", k=f"k{i}", v=i))
        (new_addr,) = [f"127.0.0.1:{p}" for p in free_ports(1)]
        new = start_member(tmp_path, trio[0], new_addr, "n3")
        try:
            four = [*trio, new]
            wait_for(lambda: agree(four, [g.self_address for g in four]), what="four members everywhere")
            wait_for(lambda: value_on(new, "k19") == 19, what="the new member caught up")
            assert res(new.propose(cmd(op="incr", k="c")))["v"] == 1  # it forwards writes too
            # the new member counts for the majority: with two of four stopped, no write commits
            stopped = [g for g in trio if g is not leader_of(four)][:2]
            for g in stopped:
                g.stop()
            live = [g for g in four if g not in stopped]
            with pytest.raises(Exception):
                live[0].propose(cmd(op="incr", k="c"), timeout=2)
        finally:
            new.stop()


def test_a_new_member_catches_up_through_a_snapshot_when_the_log_is_compacted(tmp_path: pathlib.Path) -> None:
    with three_nodes(tmp_path) as trio:
        leader = leader_of(trio)
        for i in range(30):
            leader.propose(cmd(op="set", k=f"k{i}", v=i))
        compact_all(trio)
        (new_addr,) = [f"127.0.0.1:{p}" for p in free_ports(1)]
        new = start_member(tmp_path, leader, new_addr, "n3")
        try:
            wait_for(lambda: value_on(new, "k29") == 29, what="the new member restored the snapshot")
            assert (tmp_path / "n3" / "raft" / "raft.snapshot").exists()  # installed from the leader
            assert new.members() == sorted([*(g.self_address for g in trio), new_addr])
        finally:
            new.stop()


def test_a_removed_member_no_longer_counts_for_the_majority(tmp_path: pathlib.Path) -> None:
    with three_nodes(tmp_path) as trio:
        leader = leader_of(trio)
        (new_addr,) = [f"127.0.0.1:{p}" for p in free_ports(1)]
        new = start_member(tmp_path, leader, new_addr, "n3")
        try:
            follower = next(g for g in trio if g is not leader)
            leader.remove_member(new_addr, timeout=20)
            wait_for(lambda: agree(trio, [g.self_address for g in trio]), what="three members again")
            # (the removed node itself may never hear of it: the leader stops sending to it at once;
            # whoever removed it stops it)
            new.stop()
            follower.stop()
            # two of three members left: a majority (it would not be of four)
            live = [g for g in trio if g is not follower]
            assert res(live[0].propose(cmd(op="incr", k="after"), timeout=15))["v"] == 1
        finally:
            new.stop()


def test_a_dead_member_is_replaced_remove_first_then_add(tmp_path: pathlib.Path) -> None:
    with three_nodes(tmp_path) as trio:
        leader = leader_of(trio)
        leader.propose(cmd(op="set", k="before", v=1))
        dead = next(g for g in trio if g is not leader)
        dead.stop()
        survivors = [g for g in trio if g is not dead]
        survivors[1].remove_member(dead.self_address, timeout=20)  # from any member: forwarded
        (new_addr,) = [f"127.0.0.1:{p}" for p in free_ports(1)]
        new = start_member(tmp_path, survivors[0], new_addr, "n3")
        try:
            group = [*survivors, new]
            wait_for(lambda: agree(group, [g.self_address for g in group]), what="the replacement everywhere")
            wait_for(lambda: value_on(new, "before") == 1, what="the replacement caught up")
            leader_of(group).propose(cmd(op="set", k="after", v=2))
            wait_for(lambda: value_on(new, "after") == 2, what="new writes reach the replacement")
        finally:
            new.stop()


def compact_all(groups: list[RaftGroup]) -> None:
    for g in groups:
        g.compact()
    wait_for(lambda: all(g.status()["log_size"] <= 3 for g in groups), what="compaction")


@pytest.mark.parametrize("compact", ["never", "before", "after"])
def test_a_restart_keeps_the_changed_membership(tmp_path: pathlib.Path, compact: str) -> None:
    """Every node restarts with the ORIGINAL peer list: the members come from its durable state.
    "before": the snapshot predates the changes (pysyncobj issue #133: its topology won)."""
    addrs = [f"127.0.0.1:{p}" for p in free_ports(5)]
    original, added = addrs[:3], addrs[3]
    groups = [make_group(tmp_path, a, original, f"n{i}") for i, a in enumerate(original)]
    try:
        for g in groups:
            g.wait_ready(30)
        leader_of(groups).propose(cmd(op="set", k="x", v=0))
        if compact == "before":
            compact_all(groups)
        groups.append(start_member(tmp_path, groups[0], added, "n3"))
        leader = leader_of(groups).self_address
        removed = next(a for a in original[1:] if a != leader)  # neither the caller nor the leader
        final = sorted({*original, added} - {removed})
        groups[0].remove_member(removed, timeout=20)
        kept = [g for g in groups if g.self_address != removed]
        wait_for(lambda: agree(kept, final), what="changed members")
        leader_of(kept).propose(cmd(op="set", k="x", v=1))
        if compact == "after":
            compact_all(groups)
        for g in groups:
            g.stop()
        groups = [make_group(tmp_path, a, original, f"n{i}") for i, a in enumerate(addrs[:4]) if a != removed]
        wait_for(lambda: agree(groups, final), what="the changed members after restart")
        leader = leader_of(groups)
        assert res(leader.propose(cmd(op="incr", k="c"), timeout=15))["v"] == 1
        wait_for(lambda: all(value_on(g, "c") == 1 for g in groups), what="a write after restart everywhere")
    finally:
        for g in groups:
            g.stop()


def test_a_change_survives_a_leader_change_mid_way(tmp_path: pathlib.Path) -> None:
    with three_nodes(tmp_path) as trio:
        leader = leader_of(trio)
        follower = next(g for g in trio if g is not leader)
        (new_addr,) = [f"127.0.0.1:{p}" for p in free_ports(1)]
        errors: queue.Queue[BaseException | None] = queue.Queue()

        def add() -> None:
            try:
                follower.add_member(new_addr, timeout=40)
                errors.put(None)
            except BaseException as exc:
                errors.put(exc)

        adder = threading.Thread(target=add)
        adder.start()
        leader.stop()  # at once: the change may or may not have reached the log
        # the new node starts with every member it may have to count on
        new = make_group(tmp_path, new_addr, [g.self_address for g in trio] + [new_addr], "n3")
        try:
            adder.join(60)
            assert errors.get_nowait() is None
            live = [g for g in trio if g is not leader] + [new]
            expected = sorted(g.self_address for g in [*trio, new])
            wait_for(lambda: agree(live, expected), what="one membership on every live node")
            # the stopped leader is still a member: remove it (3 of 4 live) and write
            live[0].remove_member(leader.self_address, timeout=30)
            wait_for(lambda: agree(live, [g.self_address for g in live]), what="the old leader removed")
            assert res(leader_of(live).propose(cmd(op="incr", k="c"), timeout=15))["v"] == 1
        finally:
            new.stop()


def test_one_change_at_a_time(tmp_path: pathlib.Path) -> None:
    with three_nodes(tmp_path) as trio:
        leader = leader_of(trio)
        a, b = (f"127.0.0.1:{p}" for p in free_ports(2))
        answers: queue.Queue[tuple[str, int]] = queue.Queue()
        leader._node.addNodeToCluster(a, callback=lambda _r, err: answers.put((a, err)))
        leader._node.addNodeToCluster(b, callback=lambda _r, err: answers.put((b, err)))
        got = dict(answers.get(timeout=10) for _ in range(2))
        assert got == {a: FAIL_REASON.SUCCESS, b: FAIL_REASON.REQUEST_DENIED}
        leader.remove_member(a, timeout=20)  # a never started: 3 of 4 live could still commit
        wait_for(lambda: agree(trio, [g.self_address for g in trio]), what="back to three")


def test_a_live_leader_is_removed_once_it_no_longer_leads(tmp_path: pathlib.Path) -> None:
    with three_nodes(tmp_path) as trio:
        leader = leader_of(trio)
        with pytest.raises(InvalidArgument):
            leader.remove_member(leader.self_address)  # never of itself
        other = next(g for g in trio if g is not leader)
        with pytest.raises(Unavailable, match="cannot remove itself"):
            other.remove_member(leader.self_address, timeout=2)  # pysyncobj's leader refuses
        assert all(len(g.members()) == 3 for g in trio)
        leader.stop()  # a new leader is elected among the other two: now it can be removed
        rest = [g for g in trio if g is not leader]
        other.remove_member(leader.self_address, timeout=30)
        wait_for(lambda: agree(rest, [g.self_address for g in rest]), what="the old leader removed")
        assert res(leader_of(rest).propose(cmd(op="incr", k="c"), timeout=15))["v"] == 1


def test_adding_or_removing_is_idempotent(tmp_path: pathlib.Path) -> None:
    with three_nodes(tmp_path) as trio:
        members = trio[0].members()
        trio[1].add_member(trio[2].self_address, timeout=10)  # already a member: done at once
        (stranger,) = [f"127.0.0.1:{p}" for p in free_ports(1)]
        trio[1].remove_member(stranger, timeout=10)  # not a member: done at once
        assert trio[0].members() == members


@pytest.mark.parametrize("address", ["", "nohost", "host:", ":80", "h:0", "h:99999", "h:x", 7])
def test_a_bad_member_address_is_refused_naming_the_field(tmp_path: pathlib.Path, address: object) -> None:
    g = make_group(tmp_path, f"127.0.0.1:{free_ports(1)[0]}", [], "solo")
    try:
        with pytest.raises(InvalidArgument) as info:
            g.add_member(address)  # type: ignore[arg-type]
        assert info.value.field == "address"
        assert g.members() == [g.self_address]
    finally:
        g.stop()
