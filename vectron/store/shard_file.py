"""Reading a collection snapshot file (``Collection.snapshot``'s LMDB copy) without opening
it as a collection: its config and its points, in id order, a batch at a time.

Owns :class:`SnapshotReader`. A backup restore uses it to re-send the points of each
shard of a snapshot through the normal write path (so a restore may use another shard
count). The file is opened read-only and without a lock file; callers check its
integrity (a checksum) before handing it here: LMDB trusts the pages it maps.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lmdb
import numpy as np

from vectron.errors import InvalidArgument
from vectron.store.ids import PointId, decode_id
from vectron.store.layout import DBS, load_payload
from vectron.store.types import CollectionConfig

__all__ = ["SnapshotPoint", "SnapshotReader"]


@dataclass(frozen=True)
class SnapshotPoint:
    id: PointId
    vector: np.ndarray
    payload: dict[str, Any]
    payload_json: str


class SnapshotReader:
    """A snapshot file opened read-only (use as a context manager)."""

    def __init__(self, path: str | pathlib.Path) -> None:
        try:
            self._env = lmdb.open(
                str(path), subdir=False, readonly=True, lock=False, create=False, max_dbs=len(DBS), readahead=False
            )
        except lmdb.Error as exc:
            raise InvalidArgument(f"not a collection snapshot: {exc}") from None
        try:
            self._db = {name: self._env.open_db(name.encode(), create=False) for name in ("meta", "ids", "vectors", "payloads")}
            with self._env.begin() as txn:
                self.config = CollectionConfig.from_json(json.loads(txn.get(b"config", db=self._db["meta"])))
                self.count = int(txn.stat(self._db["ids"])["entries"])
        except (lmdb.Error, TypeError, ValueError, KeyError) as exc:
            self._env.close()
            raise InvalidArgument(f"not a collection snapshot: {exc}") from None

    def __enter__(self) -> SnapshotReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._env.close()

    def batches(self, size: int) -> Iterator[list[SnapshotPoint]]:
        """Every point, in id order, ``size`` at a time (one read transaction throughout)."""
        batch: list[SnapshotPoint] = []
        with self._env.begin() as txn:
            for key, label in txn.cursor(db=self._db["ids"]):
                raw = bytes(txn.get(label, db=self._db["payloads"]) or b"{}")
                vector = np.frombuffer(txn.get(label, db=self._db["vectors"]), np.float32)
                batch.append(SnapshotPoint(decode_id(bytes(key)), vector, load_payload(raw), raw.decode()))
                if len(batch) == size:
                    yield batch
                    batch = []
        if batch:
            yield batch
