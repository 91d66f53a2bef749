"""Conflict detection that fires: truncations are logged and counted, an applied
entry replaced by a different one is an ERROR with a fixed marker, pysyncobj's
"truncating already-applied" notice on a harmless re-send stays DEBUG, and an
entry the group cannot decode stops the node."""

from __future__ import annotations

import logging
import pathlib
import threading
from typing import Any

import pytest

from vectron.errors import Unavailable
from vectron.raft.journal import APPLIED_TRUNCATION_MARKER, DurableJournal

from .kvfsm import cmd
from .procs import free_ports, wait_for
from .test_group import leader_of, make_group, three_nodes
from .test_group_elections import on_tick_thread


def journal_with(tmp_path: pathlib.Path, n: int, applied: int) -> DurableJournal:
    j = DurableJournal(str(tmp_path / "j"))
    for i in range(1, n + 1):
        j.add(b"cmd%d" % i, i, 1)
    j.sync()
    j.track_applied(lambda: applied)
    return j


def test_a_conflicting_append_past_the_applied_index_is_a_counted_warning(tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    j = journal_with(tmp_path, 6, applied=3)
    with caplog.at_level(logging.DEBUG, logger="vectron.raft.journal"):
        j.deleteEntriesFrom(4)  # position 4: index 5
        j.add(b"other", 5, 2)
    assert (j.truncations, j.applied_truncations) == (1, 0)
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert "index 5 (term 1) to 6 (term 1)" in warning.getMessage() and "entry 5 of term 2" in warning.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [e[1:] for e in j[:]] == [(1, 1), (2, 1), (3, 1), (4, 1), (5, 2)]
    j._destroy()


def test_replacing_an_applied_entry_is_an_error_with_the_marker(tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    j = journal_with(tmp_path, 6, applied=5)
    with caplog.at_level(logging.DEBUG, logger="vectron.raft.journal"):
        j.expect_overlap(4, 5)  # pysyncobj's notice precedes the delete
        j.deleteEntriesFrom(3)  # index 4 on
        j.add(b"forged", 4, 1)  # same term, different command: a real conflict
    assert (j.truncations, j.applied_truncations) == (1, 1)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith(APPLIED_TRUNCATION_MARKER) and "applied entry 4" in errors[0]
    j._destroy()


def test_an_identical_resend_over_applied_entries_is_debug_only(tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    j = journal_with(tmp_path, 6, applied=6)
    with caplog.at_level(logging.DEBUG, logger="vectron.raft.journal"):
        j.expect_overlap(3, 6)
        j.deleteEntriesFrom(2)
        for i in (3, 4):
            j.add(b"cmd%d" % i, i, 1)
        j.sync()
    assert (j.truncations, j.applied_truncations) == (0, 0)
    assert len(j) == 6
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "identical" in caplog.records[0].getMessage()
    j._destroy()


def test_a_conflicting_append_on_a_live_follower_fires_every_signal(tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    """A forged AppendEntries from the leader (same term) replaces an applied entry on a follower."""
    with three_nodes(tmp_path) as groups:
        leader = leader_of(groups)
        for i in range(5):
            leader.propose(cmd(op="set", k=f"k{i}", v=i))
        follower = next(g for g in groups if g is not leader)
        wait_for(lambda: follower.status()["applied_index"] >= leader.status()["commit_index"], what="catch-up")
        node: Any = follower._node
        journal = follower._journal
        target = follower.status()["applied_index"] - 1  # an applied entry
        first = journal[0][1]
        prev_term = journal[target - 1 - first][2]
        term = journal[target - first][2]

        def inject() -> None:
            node._rsm_on_message(
                node._getLeader(),
                {
                    "type": "append_entries",
                    "term": node.raftCurrentTerm,
                    "commit_index": node.raftCommitIndex,
                    "prevLogIdx": target - 1,
                    "prevLogTerm": prev_term,
                    "entries": [(b"forged", target, term)],
                },
            )

        with caplog.at_level(logging.DEBUG):
            on_tick_thread(follower, inject)
        status = follower.status()
        assert status["journal_truncations"] >= 1 and status["applied_truncations"] == 1
        lines = [r.getMessage() for r in caplog.records]
        assert any(line.startswith(APPLIED_TRUNCATION_MARKER) and f"applied entry {target}" in line for line in lines)
        assert any(r.levelno == logging.WARNING and "truncating" in r.getMessage() for r in caplog.records)
        # pysyncobj's own CRITICAL notice went to the journal, not to the log
        assert not [r for r in caplog.records if r.levelno == logging.CRITICAL]


def test_an_entry_the_group_cannot_decode_stops_the_node(tmp_path: pathlib.Path) -> None:
    addr = f"127.0.0.1:{free_ports(1)[0]}"
    with make_group(tmp_path, addr, [addr], "undecodable") as g:
        g.wait_ready(10)
        done = threading.Event()
        g._node.submit(b"\x07not a RaftCommand", lambda res, err: done.set())
        assert done.wait(10)
        wait_for(lambda: g.fatal, what="the node to stop itself")
        assert "cannot be decoded" in (g.fatal or "")
        assert g.status()["role"] == "stopped"
        with pytest.raises(Unavailable, match="cannot be decoded"):
            g.propose(cmd(op="set", k="a", v=1), timeout=1.0)
