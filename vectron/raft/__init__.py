"""The replicated state machine: an FSM contract and Raft groups that run it.

Nothing outside ``pysyncobj_compat`` imports pysyncobj. See ``fsm`` for the
FSM contract (with its threading rules), ``protocol`` for the :class:`Group`
protocol services type their group with and the read :class:`Consistency`
levels, ``memory`` for the in-memory runner used in unit tests, and ``group``
for :class:`RaftGroup` (one pysyncobj node).

Names are loaded on first use (``import vectron.raft`` alone loads neither
pysyncobj nor lmdb).

Public API::

    Entry(index, request_id, body)                       # one committed log entry
    StateMachine.apply(entry) -> bytes | snapshot(file) | restore(file)
    LmdbStateMachine(path, *, map_size, max_dbs, dedup_capacity, sync)
        .apply_command(txn, entry) -> bytes              # subclasses implement
        .error_result(entry, exc) -> bytes, .db(name), .read_txn(), .applied_index()
    DedupLedger(capacity, prefix)                        # the same bookkeeping as str -> bytes meta
    Group                                                # the protocol both groups satisfy
    Consistency.LINEARIZABLE | LEADER | ANY              # str-valued: "linearizable" works too
    RaftGroup(fsm, RaftConfig(self_address, peers, data_dir, password, ...))
    InMemoryGroup(fsm)                                   # same propose/read API, synchronous
        .propose(body, request_id=None, timeout=5.0, *, forward=True) -> bytes
        .barrier(timeout) -> int
        .read(fn, consistency=Consistency.LINEARIZABLE, timeout) -> fn(fsm)
        .leader(), .is_leader(), .is_ready(), .wait_ready(timeout), .status(), .compact(), .stop()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vectron.raft.fsm import RAFT_DB, DedupLedger, Entry, LmdbStateMachine, StateMachine
    from vectron.raft.group import RaftConfig, RaftGroup
    from vectron.raft.memory import InMemoryGroup
    from vectron.raft.protocol import CONSISTENCY_LEVELS, Consistency, Group

_WHERE = {
    "CONSISTENCY_LEVELS": "protocol",
    "Consistency": "protocol",
    "Group": "protocol",
    "DedupLedger": "fsm",
    "Entry": "fsm",
    "LmdbStateMachine": "fsm",
    "RAFT_DB": "fsm",
    "StateMachine": "fsm",
    "InMemoryGroup": "memory",
    "RaftConfig": "group",
    "RaftGroup": "group",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'vectron.raft' has no attribute {name!r}")
    return getattr(importlib.import_module(f"vectron.raft.{module}"), name)
