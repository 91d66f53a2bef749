"""The replicated state machine: an FSM contract and Raft groups that run it.

Nothing outside this package imports pysyncobj. See ``fsm`` for the FSM
contract (with its threading rules), ``memory`` for the in-memory runner used
in unit tests, and ``group`` for :class:`RaftGroup` (one pysyncobj node).
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
