"""The placement group's state machine: a thin file over the command dispatcher."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO, TypeVar

import lmdb

from vectron.errors import StorageError
from vectron.raft import Entry, LmdbStateMachine
from vectron.services.placement.commands import dispatch, error_result
from vectron.services.placement.storage import TABLES, PlacementStorage

__all__ = ["PlacementStateMachine"]

T = TypeVar("T")


class PlacementStateMachine(LmdbStateMachine):
    """Workers, collections, shards and replica ports, replicated by one Raft group."""

    def __init__(self, path: str | os.PathLike[str], *, map_size: int = 1 << 30, sync: bool = True) -> None:
        super().__init__(path, map_size=map_size, max_dbs=len(TABLES) + 2, sync=sync)
        self.storage = PlacementStorage(self.db)
        self._open_tables()

    def _open_tables(self) -> None:
        for name in TABLES:  # up front: never open a table inside apply's write txn
            self.db(name)

    def apply_command(self, txn: lmdb.Transaction, entry: Entry) -> bytes:
        return dispatch(self.storage, txn, entry)

    def error_result(self, entry: Entry, exc: BaseException) -> bytes:
        return error_result(StorageError(f"the placement state machine failed to apply entry {entry.index}")).SerializeToString()

    def restore(self, file: BinaryIO) -> None:
        super().restore(file)
        self._open_tables()

    def read(self, fn: Callable[[PlacementStorage, lmdb.Transaction], T]) -> T:
        """Run ``fn(storage, txn)`` in a read transaction of the local state."""
        with self.read_txn() as txn:
            return fn(self.storage, txn)
