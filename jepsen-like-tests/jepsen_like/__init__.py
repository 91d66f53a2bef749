"""Jepsen-like fault-injection tests for Vectron: a history recorder, checkers
(per-key register linearizability, set, auth uniqueness, search visibility,
convergence), and a harness that runs real ``vectrond`` nodes in network
namespaces while a nemesis kills, pauses and partitions them."""

from jepsen_like.history import History, Op, load_history
from jepsen_like.linearizability import (
    LinResult,
    check_register_history,
    check_registers,
)

__all__ = ["History", "LinResult", "Op", "check_register_history", "check_registers", "load_history"]
