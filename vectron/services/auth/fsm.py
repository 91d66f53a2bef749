"""The auth group's state machine: a thin file over the command dispatcher.

:class:`AuthStateMachine` is an :class:`vectron.raft.fsm.LmdbStateMachine`
(which stores the applied index and the request-id dedup records in the same
write transaction as the effect, snapshots with an LMDB copy and restores by
swapping). ``apply_command`` hands the command to
:func:`vectron.services.auth.commands.dispatch`; reads go through
:meth:`AuthStateMachine.read` (its own LMDB read transaction, safe
concurrently with apply).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO, TypeVar

import lmdb

from vectron.errors import StorageError
from vectron.raft.fsm import Entry, LmdbStateMachine
from vectron.services.auth.commands import dispatch, error_result
from vectron.services.auth.storage import TABLES, AuthStorage

__all__ = ["AuthStateMachine"]

T = TypeVar("T")


class AuthStateMachine(LmdbStateMachine):
    """Users, API keys and revoked sessions, replicated by one Raft group."""

    def __init__(self, path: str | os.PathLike[str], *, map_size: int = 1 << 30, sync: bool = True) -> None:
        super().__init__(path, map_size=map_size, max_dbs=len(TABLES) + 2, sync=sync)
        self.storage = AuthStorage(self.db)
        self._open_tables()

    def _open_tables(self) -> None:
        # Open every table up front: opening one lazily inside apply's write
        # transaction would need a second write transaction.
        for name in TABLES:
            self.db(name)

    def apply_command(self, txn: lmdb.Transaction, entry: Entry) -> bytes:
        return dispatch(self.storage, txn, entry.body)

    def error_result(self, entry: Entry, exc: BaseException) -> bytes:
        return error_result(StorageError(f"the auth state machine failed to apply entry {entry.index}")).SerializeToString()

    def restore(self, file: BinaryIO) -> None:
        super().restore(file)
        self._open_tables()

    def read(self, fn: Callable[[AuthStorage, lmdb.Transaction], T]) -> T:
        """Run ``fn(storage, txn)`` in a read transaction of the local state."""
        with self.read_txn() as txn:
            return fn(self.storage, txn)
