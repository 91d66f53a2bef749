"""The Group protocol's vocabulary: Consistency levels, and propose's timeout as a whole budget."""

from __future__ import annotations

import pathlib
import time

import pytest

from vectron.errors import InvalidArgument, Unavailable
from vectron.raft import CONSISTENCY_LEVELS, Consistency, InMemoryGroup

from .kvfsm import KVStateMachine, cmd
from .procs import free_ports
from .test_group import make_group


def test_consistency_is_str_valued_and_parses_old_strings() -> None:
    assert Consistency.parse("any") is Consistency.ANY
    assert Consistency.LINEARIZABLE == "linearizable" and str(Consistency.LEADER) == "leader"
    assert CONSISTENCY_LEVELS == ("linearizable", "leader", "any")
    with pytest.raises(InvalidArgument) as info:
        Consistency.parse("eventual")
    assert info.value.field == "consistency"


def test_in_memory_group_reads_at_every_level_and_refuses_unknown(tmp_path: pathlib.Path) -> None:
    with InMemoryGroup(KVStateMachine(tmp_path / "fsm")) as g:
        g.propose(cmd(op="set", k="a", v=1))
        for level in (*Consistency, "any", "linearizable"):
            assert g.read(lambda f: f.get("a"), consistency=level) == 1
        with pytest.raises(InvalidArgument):
            g.read(lambda f: f.get("a"), consistency="sometimes")


def test_propose_never_outlives_its_timeout(tmp_path: pathlib.Path) -> None:
    """Two peers that do not exist: no leader ever. The call gives up within its budget."""
    addrs = [f"127.0.0.1:{p}" for p in free_ports(3)]
    with make_group(tmp_path, addrs[0], addrs, "alone") as g:
        start = time.monotonic()
        with pytest.raises(Unavailable):
            g.propose(cmd(op="set", k="a", v=1), timeout=0.5)
        assert time.monotonic() - start < 5.0  # generous: "did not keep retrying"
        with pytest.raises(InvalidArgument):
            g.propose(cmd(op="set", k="a", v=1), timeout=float("nan"))
