"""Elections of RaftGroup: PreVote and term notices (what pysyncobj 0.3.17 lacks).

Real nodes on loopback ports in one process. A "deaf" node still sends but drops
every Raft message it receives (the in-process stand-in for the one-way cut the
jepsen-like run found: nobody reaches the node, it still reaches everybody).
"""

from __future__ import annotations

import pathlib
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from vectron.raft import RaftGroup

from .kvfsm import cmd
from .procs import wait_for
from .test_group import leader_of, res, three_nodes


@pytest.fixture
def trio(tmp_path: pathlib.Path) -> Iterator[list[RaftGroup]]:
    """A fresh group per test (the tests disturb it)."""
    with three_nodes(tmp_path) as groups:
        yield groups


def deafen(group: RaftGroup) -> threading.Event:
    """Drop every message ``group`` receives while the returned event is set."""
    deaf = threading.Event()
    deaf.set()
    node = group._node
    hear = node._rsm_on_message

    def on_message(peer: object, message: object) -> None:
        if not deaf.is_set():
            hear(peer, message)

    node._SyncObj__transport.setOnMessageReceivedCallback(on_message)
    return deaf


def on_tick_thread(group: RaftGroup, fn: Callable[[], None]) -> None:
    """Run ``fn`` once on the group's tick thread (pysyncobj's state is not locked)."""
    done = threading.Event()

    def once() -> None:
        if not done.is_set():
            fn()
            done.set()

    group._node.addOnTickCallback(once)
    assert done.wait(10)
    group._node.removeOnTickCallback(once)


def test_a_node_that_hears_nobody_neither_raises_its_term_nor_deposes_the_leader(trio: list[RaftGroup]) -> None:
    leader = leader_of(trio)
    deaf_node = next(g for g in trio if g is not leader)
    term = leader.status()["term"]
    deaf = deafen(deaf_node)
    for i in range(8):  # several election timeouts (0.4-1.4 s) while writes go on
        assert res(leader.propose(cmd(op="incr", k="c")))["v"] == i + 1
        time.sleep(0.5)
    assert deaf_node.status()["term"] == term  # its PreVotes went unanswered: no election
    assert leader.is_leader() and leader.status()["term"] == term
    deaf.clear()  # it hears again: it follows the same leader in the same term, no election
    wait_for(lambda: deaf_node.status()["applied_index"] >= leader.status()["commit_index"], what="the node to catch up")
    assert deaf_node.read(lambda f: f.get("c"), consistency="any") == 8
    assert {g.status()["term"] for g in trio} == {term} and leader.is_leader()


def test_a_node_whose_term_ran_ahead_makes_the_leader_step_down_and_rejoins(trio: list[RaftGroup]) -> None:
    leader = leader_of(trio)
    ahead = next(g for g in trio if g is not leader)
    term = leader.status()["term"]

    def run_ahead() -> None:
        node = ahead._node
        node._SyncObj__setCurrentTerm(term + 5, None)

    on_tick_thread(ahead, run_ahead)
    # the leader's next AppendEntries is from an older term: the node answers with its term,
    # the leader steps down, and the group elects a leader in a term the node accepts
    wait_for(lambda: leader_of(trio).status()["term"] >= term + 5, what="a leader in the newer term")
    new_leader = leader_of(trio)
    assert res(new_leader.propose(cmd(op="incr", k="c")))["v"] == 1
    wait_for(lambda: ahead.read(lambda f: f.get("c"), consistency="any") == 1, what="the node to apply the write")
    assert ahead.leader() == new_leader.self_address
