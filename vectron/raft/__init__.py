"""The replicated state machine: an FSM contract and Raft groups that run it.

Nothing outside this package imports pysyncobj. See ``fsm`` for the FSM
contract (with its threading rules), ``memory`` for the in-memory runner used
in unit tests, and ``group`` for :class:`RaftGroup` (one pysyncobj node).

Public API::

    Entry(index, request_id, body)                       # one committed log entry
    StateMachine.apply(entry) -> bytes | snapshot(file) | restore(file)
    LmdbStateMachine(path, *, map_size, max_dbs, dedup_capacity, sync)
        .apply_command(txn, entry) -> bytes              # subclasses implement
        .error_result(entry, exc) -> bytes, .db(name), .read_txn(), .applied_index()
    DedupLedger(capacity, prefix)                        # the same bookkeeping as str -> bytes meta
    RaftGroup(fsm, RaftConfig(self_address, peers, data_dir, password, ...))
    InMemoryGroup(fsm)                                   # same propose/read API, synchronous
        .propose(body, request_id=None, timeout=5.0, *, forward=True) -> bytes
        .barrier(timeout) -> int
        .read(fn, consistency="linearizable" | "leader" | "any", timeout) -> fn(fsm)
        .leader(), .is_leader(), .is_ready(), .wait_ready(timeout), .status(), .compact(), .stop()
"""

from vectron.raft.fsm import RAFT_DB, DedupLedger, Entry, LmdbStateMachine, StateMachine
from vectron.raft.group import RaftConfig, RaftGroup
from vectron.raft.memory import CONSISTENCY_LEVELS, InMemoryGroup

__all__ = [
    "CONSISTENCY_LEVELS",
    "DedupLedger",
    "Entry",
    "InMemoryGroup",
    "LmdbStateMachine",
    "RAFT_DB",
    "RaftConfig",
    "RaftGroup",
    "StateMachine",
]
