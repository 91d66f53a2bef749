"""What services may ask of a replicated group: the :class:`Group` protocol and
the read :class:`Consistency` levels.

:class:`vectron.raft.RaftGroup` (real, replicated) and
:class:`vectron.raft.InMemoryGroup` (the test double) both satisfy
:class:`Group`; services type their group with it and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from vectron.errors import InvalidArgument

__all__ = ["CONSISTENCY_LEVELS", "Consistency", "Group"]

T = TypeVar("T")


class Consistency(StrEnum):
    """How fresh a :meth:`Group.read` must be (str-valued: ``"any"`` works too)."""

    #: after a read barrier: sees every write acknowledged before the call, on any node
    LINEARIZABLE = "linearizable"
    #: only on a node that believes it leads (a deposed leader may be briefly stale)
    LEADER = "leader"
    #: this replica's state right now (may be stale)
    ANY = "any"

    @classmethod
    def parse(cls, value: str) -> Consistency:
        """``value`` as a level, or :class:`InvalidArgument` naming the field."""
        try:
            return cls(value)
        except ValueError:
            levels = ", ".join(c.value for c in cls)
            raise InvalidArgument(f"consistency must be one of {levels} (got {value!r})", field="consistency") from None


#: The level names, for messages and old callers.
CONSISTENCY_LEVELS: tuple[str, ...] = tuple(c.value for c in Consistency)


class Group(Protocol):
    """One node of a replicated group running a state machine.

    ``propose``'s ``timeout`` is the call's whole budget; retrying a call that
    failed is the caller's decision (see :meth:`vectron.raft.RaftGroup.propose`).
    """

    @property
    def self_address(self) -> str: ...

    @property
    def fatal(self) -> str | None: ...

    def propose(self, body: bytes, request_id: str | None = None, timeout: float = 5.0, *, forward: bool = True) -> bytes: ...

    def barrier(self, timeout: float = 5.0) -> int: ...

    def read(self, fn: Callable[[Any], T], consistency: str = Consistency.LINEARIZABLE, timeout: float = 5.0) -> T: ...

    def leader(self) -> str | None: ...

    def is_leader(self) -> bool: ...

    def is_ready(self) -> bool: ...

    def wait_ready(self, timeout: float = 30.0) -> None: ...

    def status(self) -> dict[str, Any]: ...

    def compact(self) -> None: ...

    def stop(self) -> None: ...
