"""The placement state in LMDB: tables and index maintenance. No Raft, no gRPC, no clock.

Tables (LMDB named sub-databases); values are protobuf messages of placement.proto:

======================  ==========================================  ======================
table                   key                                         value
======================  ==========================================  ======================
``pd.workers``          worker id                                   ``WorkerInfo``
``pd.collections``      owner ``\\0`` name                           ``CollectionRecord``
``pd.collection_ids``   collection id                               owner ``\\0`` name
``pd.ports``            worker id ``\\0`` Raft port (u16 BE)         collection id ``\\0`` shard (u32 BE)
``pd.meta``             ``version``                                 u64: +1 per placement change
======================  ==========================================  ======================

``pd.ports`` is both the port allocator of each worker and the index of the
replicas a worker hosts: a worker's assignments are one prefix range read.
``ListCollections(owner)`` is a prefix range read of ``pd.collections``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

import lmdb

from vectron.v1 import placement_pb2

__all__ = ["PlacementStorage", "TABLES"]

WORKERS = b"pd.workers"
COLLECTIONS = b"pd.collections"
COLLECTION_IDS = b"pd.collection_ids"
PORTS = b"pd.ports"
META = b"pd.meta"
TABLES = (WORKERS, COLLECTIONS, COLLECTION_IDS, PORTS, META)

_SEP = b"\x00"
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


def collection_key(owner: str, name: str) -> bytes:
    return owner.encode() + _SEP + name.encode()


class PlacementStorage:
    """Reads and writes of the placement tables inside a caller's LMDB transaction."""

    def __init__(self, db: Callable[[bytes], object]) -> None:
        self._db = db

    # -- version -------------------------------------------------------------------
    def version(self, txn: lmdb.Transaction) -> int:
        raw = txn.get(b"version", db=self._db(META))
        return 0 if raw is None else _U64.unpack(raw)[0]

    def bump_version(self, txn: lmdb.Transaction) -> int:
        version = self.version(txn) + 1
        txn.put(b"version", _U64.pack(version), db=self._db(META))
        return version

    # -- workers ---------------------------------------------------------------------
    def worker(self, txn: lmdb.Transaction, worker_id: str) -> placement_pb2.WorkerInfo | None:
        raw = txn.get(worker_id.encode(), db=self._db(WORKERS))
        return None if raw is None else placement_pb2.WorkerInfo.FromString(raw)

    def put_worker(self, txn: lmdb.Transaction, worker: placement_pb2.WorkerInfo) -> None:
        txn.put(worker.worker_id.encode(), worker.SerializeToString(), db=self._db(WORKERS))

    def workers(self, txn: lmdb.Transaction) -> list[placement_pb2.WorkerInfo]:
        return [placement_pb2.WorkerInfo.FromString(v) for _, v in txn.cursor(db=self._db(WORKERS))]

    # -- ports / assignments ------------------------------------------------------------
    def ports_of(self, txn: lmdb.Transaction, worker_id: str) -> Iterator[tuple[int, str, int]]:
        """(port, collection id, shard id) of every replica the worker hosts, by port."""
        prefix = worker_id.encode() + _SEP
        cursor = txn.cursor(db=self._db(PORTS))
        if not cursor.set_range(prefix):
            return
        for key, value in cursor:
            if not key.startswith(prefix):
                return
            port = _U16.unpack(key[len(prefix):])[0]
            value = bytes(value)
            yield port, value[:-5].decode(), _U32.unpack(value[-4:])[0]

    def put_port(self, txn: lmdb.Transaction, worker_id: str, port: int, collection_id: str, shard_id: int) -> None:
        txn.put(
            worker_id.encode() + _SEP + _U16.pack(port),
            collection_id.encode() + _SEP + _U32.pack(shard_id),
            db=self._db(PORTS),
        )

    def delete_port(self, txn: lmdb.Transaction, worker_id: str, port: int) -> None:
        txn.delete(worker_id.encode() + _SEP + _U16.pack(port), db=self._db(PORTS))

    # -- collections ---------------------------------------------------------------------
    def collection(self, txn: lmdb.Transaction, owner: str, name: str) -> placement_pb2.CollectionRecord | None:
        raw = txn.get(collection_key(owner, name), db=self._db(COLLECTIONS))
        return None if raw is None else placement_pb2.CollectionRecord.FromString(raw)

    def collection_by_id(self, txn: lmdb.Transaction, collection_id: str) -> placement_pb2.CollectionRecord | None:
        key = txn.get(collection_id.encode(), db=self._db(COLLECTION_IDS))
        if key is None:
            return None
        raw = txn.get(key, db=self._db(COLLECTIONS))
        return None if raw is None else placement_pb2.CollectionRecord.FromString(raw)

    def put_collection(self, txn: lmdb.Transaction, record: placement_pb2.CollectionRecord) -> None:
        info = record.collection
        key = collection_key(info.owner, info.name)
        txn.put(key, record.SerializeToString(), db=self._db(COLLECTIONS))
        txn.put(info.collection_id.encode(), key, db=self._db(COLLECTION_IDS))

    def delete_collection(self, txn: lmdb.Transaction, record: placement_pb2.CollectionRecord) -> None:
        info = record.collection
        txn.delete(collection_key(info.owner, info.name), db=self._db(COLLECTIONS))
        txn.delete(info.collection_id.encode(), db=self._db(COLLECTION_IDS))

    def collections_of(self, txn: lmdb.Transaction, owner: str) -> list[placement_pb2.CollectionRecord]:
        prefix = owner.encode() + _SEP
        cursor = txn.cursor(db=self._db(COLLECTIONS))
        out: list[placement_pb2.CollectionRecord] = []
        if not cursor.set_range(prefix):
            return out
        for key, value in cursor:
            if not key.startswith(prefix):
                break
            out.append(placement_pb2.CollectionRecord.FromString(value))
        return out

    def all_collections(self, txn: lmdb.Transaction) -> list[placement_pb2.CollectionRecord]:
        return [placement_pb2.CollectionRecord.FromString(v) for _, v in txn.cursor(db=self._db(COLLECTIONS))]

    def replica_counts(self, txn: lmdb.Transaction) -> dict[str, int]:
        """Number of replicas each worker hosts (one walk of ``pd.ports``)."""
        counts: dict[str, int] = {}
        for key in txn.cursor(db=self._db(PORTS)).iternext(values=False):
            worker_id = bytes(key[:-3]).decode()
            counts[worker_id] = counts.get(worker_id, 0) + 1
        return counts
