"""An in-memory runner of the group interface, for fast unit tests of FSMs.

:class:`InMemoryGroup` has the same propose/read API as :class:`vectron.raft.RaftGroup`
but no network, no log and no elections: ``propose`` assigns the next index and
applies the entry synchronously on the calling thread (serialized by a lock, so
the FSM threading rules still hold: one apply at a time).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, BinaryIO, Generic, TypeVar

from vectron.errors import InvalidArgument, Unavailable
from vectron.raft.fsm import Entry, StateMachine
from vectron.raft.protocol import Consistency

__all__ = ["InMemoryGroup"]

logger = logging.getLogger(__name__)

S = TypeVar("S", bound=StateMachine)
T = TypeVar("T")


class InMemoryGroup(Generic[S]):
    """A single-replica, always-leader group applying synchronously."""

    def __init__(self, fsm: S, *, address: str = "memory:0", start_index: int | None = None) -> None:
        self.fsm = fsm
        self._address = address
        self._lock = threading.Lock()
        self._index = fsm.applied_index() if start_index is None else start_index
        self._stopped = False

    # -- writes ---------------------------------------------------------------------
    def propose(
        self,
        body: bytes,
        request_id: str | None = None,
        timeout: float = 5.0,
        *,
        forward: bool = True,
    ) -> bytes:
        """Append ``body`` as the next entry, apply it and return the FSM's result.

        Always the leader, so ``forward`` changes nothing (same signature as RaftGroup)."""
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise InvalidArgument("command body must be bytes", field="body")
        if request_id is None:
            request_id = uuid.uuid4().hex
        with self._lock:
            if self._stopped:
                raise Unavailable("group is stopped")
            self._index += 1
            return self.fsm.apply(Entry(self._index, request_id, bytes(body)))

    # -- reads ----------------------------------------------------------------------
    def barrier(self, timeout: float = 5.0) -> int:
        """Everything proposed so far is applied (always true here); returns the index."""
        with self._lock:
            if self._stopped:
                raise Unavailable("group is stopped")
            self._index += 1  # a barrier takes a log index, as in the real group
            return self._index

    def read(self, fn: Callable[[S], T], consistency: str = Consistency.LINEARIZABLE, timeout: float = 5.0) -> T:
        """Run ``fn(fsm)`` after the read barrier the consistency level asks for."""
        if Consistency.parse(consistency) is Consistency.LINEARIZABLE:
            self.barrier(timeout)
        return fn(self.fsm)

    # -- discovery ------------------------------------------------------------------
    @property
    def self_address(self) -> str:
        return self._address

    def leader(self) -> str | None:
        return None if self._stopped else self._address

    def is_leader(self) -> bool:
        return not self._stopped

    def is_ready(self) -> bool:
        return not self._stopped

    def members(self) -> list[str]:
        return [self._address]

    def add_member(self, address: str, timeout: float = 10.0) -> None:
        raise Unavailable("an in-memory group has exactly one member")

    remove_member = add_member

    def wait_ready(self, timeout: float = 10.0) -> None:
        if self._stopped:
            raise Unavailable("group is stopped")

    def status(self) -> dict[str, Any]:
        return {
            "self": self._address,
            "leader": self.leader(),
            "role": "leader" if not self._stopped else "stopped",
            "term": 1,
            "commit_index": self._index,
            "applied_index": self._index,
            "fsm_applied_index": self.fsm.applied_index(),
            "log_size": 0,
            "ready": self.is_ready(),
            "stopped": self._stopped,
        }

    @property
    def fatal(self) -> str | None:
        return None

    def compact(self) -> None:
        """No log to compact (same interface as RaftGroup)."""

    # -- snapshots ------------------------------------------------------------------
    def snapshot_to(self, file: BinaryIO) -> None:
        """Write the FSM's snapshot (tests: round-trip an FSM through snapshot/restore)."""
        with self._lock:
            self.fsm.snapshot(file)

    def restore_from(self, file: BinaryIO) -> None:
        with self._lock:
            self.fsm.restore(file)
            self._index = max(self._index, self.fsm.applied_index())

    def stop(self) -> None:
        with self._lock:
            if not self._stopped:
                self._stopped = True
                self.fsm.close()

    close = stop

    def __enter__(self) -> InMemoryGroup[S]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
