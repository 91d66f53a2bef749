"""A collection: the public ``Collection`` and its write path (plus lifecycle, point reads, snapshots).

What lives elsewhere: the LMDB layout and env generations in ``layout``, input
checks and limits in ``validation``, search (planner, exact scoring, results)
in ``planner``, which ``Collection`` mixes in.

A write batch runs in one LMDB write transaction and then updates the
in-memory structures (HNSW index, payload indexes, live labels, and the point id
of every label, so a search reads only payloads from LMDB: about 60 bytes per
point) under an
exclusive lock; searches hold the shared side of that lock, so a search sees
either all of a batch or none of it. Labels freed by a batch are re-used only
by later batches, so an in-flight search never maps an old label to a new point.

Threading: any number of threads may read and write; writes are serialised.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

import lmdb
import numpy as np

from vectron.errors import InvalidArgument, StorageError
from vectron.store import layout
from vectron.store.filters import Candidates, Filter, compile_filter
from vectron.store.ids import PointId, check_ids, decode_id, decode_label, encode_id, encode_label
from vectron.store.indexing import PayloadIndexing
from vectron.store.layout import U64, load_payload
from vectron.store.payload_index import FieldIndex
from vectron.store.planner import SearchPlanner
from vectron.store.rwlock import RWLock
from vectron.store.types import (
    CollectionConfig,
    Delete,
    DeletePayloadKeys,
    OverwritePayload,
    Record,
    SetPayload,
    Upsert,
    WriteOp,
)
from vectron.store.validation import (  # MAX_BATCH_POINTS, MAX_PAYLOAD_BYTES: also imported from here by services
    MAX_BATCH_POINTS,
    MAX_PAYLOAD_BYTES,
    MAX_SCROLL_LIMIT,
    check_int,
    check_vectors,
    dump_payload,
)
from vectron.store.vector_index import VectorIndex

__all__ = ["MAX_BATCH_POINTS", "MAX_PAYLOAD_BYTES", "Collection", "prepare"]

log = logging.getLogger(__name__)


def prepare(op: WriteOp, config: CollectionConfig) -> WriteOp:
    """Validate one operation; returns it with canonical ids, vectors and encoded payloads."""
    if isinstance(op, Upsert):
        ids = check_ids(op.ids)
        if len(ids) > MAX_BATCH_POINTS:
            raise InvalidArgument(f"a batch holds at most {MAX_BATCH_POINTS} points, got {len(ids)}", field="ids")
        vectors = check_vectors(op.vectors, config.dimension, config.distance, "vectors")
        if len(vectors) != len(ids):
            raise InvalidArgument(f"{len(ids)} ids but {len(vectors)} vectors", field="vectors")
        payloads = op.payloads if op.payloads is not None else [None] * len(ids)
        if not isinstance(payloads, Sequence) or isinstance(payloads, str) or len(payloads) != len(ids):
            raise InvalidArgument("payloads must be a list with one JSON object (or null) per id", field="payloads")
        encoded = [dump_payload(p if p is not None else {}) for p in payloads]
        return Upsert(ids, vectors, encoded)  # type: ignore[arg-type]
    if isinstance(op, Delete):
        if (op.ids is None) == (op.filter is None):
            raise InvalidArgument("delete takes either ids or a filter", field="ids")
        if op.ids is not None:
            return Delete(ids=check_ids(op.ids, unique=False))
        compile_filter(op.filter)
        return op
    if isinstance(op, (SetPayload, OverwritePayload)):
        dump_payload(op.payload, "payload")
        return type(op)(check_ids(op.ids, unique=False), op.payload)
    if isinstance(op, DeletePayloadKeys):
        if not isinstance(op.keys, Sequence) or isinstance(op.keys, str) or not all(isinstance(k, str) and k for k in op.keys):
            raise InvalidArgument("keys must be a list of non-empty strings", field="keys")
        return DeletePayloadKeys(check_ids(op.ids, unique=False), list(op.keys))
    raise InvalidArgument(f"unknown write operation {type(op).__name__}")


@dataclass
class _BatchEffects:
    """What a committed batch changes in memory: final vector/payload/point id per touched label."""

    ids: dict[int, PointId | None] = field(default_factory=dict)
    vectors: dict[int, np.ndarray | None] = field(default_factory=dict)
    payloads: dict[int, dict[str, Any] | None] = field(default_factory=dict)
    allocated: set[int] = field(default_factory=set)
    freed: list[int] = field(default_factory=list)


class Collection(SearchPlanner, PayloadIndexing):
    """Points of one dimension and distance, searchable by similarity. Obtain from ``Store``."""

    def __init__(self, folder: pathlib.Path, *, durable: bool = True, map_size: int = 1 << 36) -> None:
        self.folder = folder
        self._durable = durable
        self._map_size = map_size
        self._write_mutex = threading.Lock()
        self._rw = RWLock()  # in-memory index state: searches share it, publishing a batch takes it whole
        self._env_lock = RWLock()  # the LMDB env itself: readers share it, close and restore take it whole
        self._closed = False
        self._open_env()
        layout.remove_other_generations(folder, self._env_dir)
        self._load_memory_state()

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    def create(cls, folder: pathlib.Path, config: CollectionConfig, **options: Any) -> Collection:
        """Initialise a new collection in the empty ``folder``."""
        layout.create(folder, config, options.get("map_size", 1 << 36))
        return cls(folder, **options)

    @staticmethod
    def exists(folder: pathlib.Path) -> bool:
        """Whether ``folder`` holds a collection."""
        return layout.exists(folder)

    def _open_env(self) -> None:
        """Open the LMDB env that ``CURRENT`` names (a restore switches to a new one)."""
        self._env_dir, self._env, self._db = layout.open_current(self.folder, durable=self._durable, map_size=self._map_size)

    def _load_memory_state(self) -> None:
        """Read config and version, then load or rebuild the HNSW index and the payload indexes."""
        with self._env.begin() as txn:
            self.config = layout.read_config(txn, self._db)
            self._version = layout.read_u64(txn, self._db, b"version")
            next_label = layout.read_u64(txn, self._db, b"next_label")
            self._ids: list[PointId | None] = [None] * next_label  # label -> point id (None: free)
            for label_key, key in txn.cursor(db=self._db["labels"]):
                self._ids[decode_label(label_key)] = decode_id(key)
            self._live = {label for label, pid in enumerate(self._ids) if pid is not None}
        cfg = self.config
        index = VectorIndex.load(self.folder, cfg.dimension, cfg.distance, cfg.hnsw, self._version)
        self._saved_version = self._version if index is not None else -1
        if index is None:
            index = VectorIndex(cfg.dimension, cfg.distance, cfg.hnsw, capacity=next_label)
            for labels, vectors in layout.stored_vectors(self._env, self._db):
                index.add(labels, vectors)
            log.info("rebuilt the index of %s from LMDB (%d points)", cfg.name, len(index))
        else:
            for labels, vectors in layout.stored_vectors(self._env, self._db):
                index.remember(labels, vectors)
        self._index = index
        self._field_indexes = {key: self._build_field_index(key, kind) for key, kind in cfg.payload_indexes.items()}
        self._plans: dict[tuple[str, int], Candidates | None] = {}
        self._auto_reset()

    def _build_field_index(self, key: str, index_type: str) -> FieldIndex:
        index = FieldIndex(key, index_type)
        with self._env.begin() as txn:
            for label_key, data in txn.cursor(db=self._db["payloads"]):
                index.update(decode_label(label_key), load_payload(data))
        return index

    def flush(self) -> None:
        """Save the HNSW index now, so the next open loads it instead of rebuilding."""
        with self._write_mutex, self._rw.read():
            self._check_open()
            self._save_index()

    def _save_index(self) -> None:
        if self._saved_version != self._version:
            self._index.save(self.folder, self._version)
            self._saved_version = self._version

    def close(self) -> None:
        """Save the index and close LMDB. Idempotent."""
        with self._write_mutex, self._env_lock.write(), self._rw.write():
            if self._closed:
                return
            try:
                self._save_index()
            finally:
                # Dropped, not env.close(): a reader thread may still be freeing its last
                # transaction object, and py-lmdb can crash if the env closes meanwhile.
                # The env closes itself when its last reference goes (at once, normally).
                self._env = None
                self._closed = True

    @contextlib.contextmanager
    def _reading(self) -> Iterator[lmdb.Transaction]:
        """A read transaction (default database: payloads), with the env held open (close and restore wait for it)."""
        with self._env_lock.read():
            self._check_open()
            with self._env.begin(db=self._db["payloads"]) as txn:
                yield txn

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"collection {self.config.name!r} is closed")

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def version(self) -> int:
        """The LMDB state version: +1 for every committed write batch."""
        return self._version

    # ---------------------------------------------------------------- writes

    def apply_batch(self, ops: Sequence[WriteOp], meta: Mapping[str, bytes | None] | None = None) -> list[int]:
        """Apply ``ops`` and write ``meta`` (key -> bytes, None deletes) in one LMDB transaction.

        All or nothing: a bad operation raises before anything changes. Returns,
        per operation, the number of points it wrote or deleted. This is the hook
        a Raft FSM drives: it keeps its applied index and request ids in ``meta``.
        """
        prepared = [prepare(op, self.config) for op in ops]
        with self._write_mutex:
            self._check_open()
            effects = _BatchEffects()
            try:
                with self._env.begin(write=True) as txn:
                    results = [self._apply_op(txn, op, effects) for op in prepared]
                    for label in effects.freed:  # re-usable from the next batch on
                        txn.put(encode_label(label), b"", db=self._db["free"])
                    version = layout.bump_version(txn, self._db)
                    for key, value in (meta or {}).items():
                        if value is None:
                            txn.delete(key.encode(), db=self._db["user"])
                        else:
                            txn.put(key.encode(), value, db=self._db["user"])
            except lmdb.Error as exc:
                raise StorageError(f"write to {self.name!r} failed: {exc}") from exc
            self._publish(effects, version)
            return results

    def _apply_op(self, txn: lmdb.Transaction, op: WriteOp, effects: _BatchEffects) -> int:
        if isinstance(op, Upsert):
            for pid, vector, encoded in zip(op.ids, op.vectors, cast("list[bytes]", op.payloads)):  # encoded by prepare()
                key = encode_id(pid)
                found = txn.get(key, db=self._db["ids"])
                if found is None:
                    label = self._allocate_label(txn, effects)
                    effects.ids[label] = pid
                    txn.put(key, encode_label(label), db=self._db["ids"])
                    txn.put(encode_label(label), key, db=self._db["labels"])
                else:
                    label = decode_label(found)
                    old = txn.get(encode_label(label), db=self._db["vectors"])
                    if old is not None and old == vector.tobytes() and label not in effects.vectors:
                        # the same vector again: the graph keeps it (hnswlib re-links an
                        # updated point's neighbourhood, ~15x the cost of a fresh insert)
                        txn.put(encode_label(label), encoded, db=self._db["payloads"])
                        effects.payloads[label] = load_payload(encoded) if self._field_indexes else {}
                        continue
                txn.put(encode_label(label), vector.tobytes(), db=self._db["vectors"])
                txn.put(encode_label(label), encoded, db=self._db["payloads"])
                effects.vectors[label] = vector
                effects.payloads[label] = load_payload(encoded) if self._field_indexes else {}
            return len(op.ids)
        if isinstance(op, Delete):
            if op.ids is not None:
                keys = [encode_id(pid) for pid in op.ids]
            else:
                cond = compile_filter(op.filter)
                touched = effects.vectors.keys() | effects.payloads.keys()
                assert cond is not None  # prepare() refused a delete with neither ids nor a filter
                keys = self._keys_matching(txn, cond, self._indexed(op.filter, cond), touched)
            deleted = 0
            for key in keys:
                found = txn.pop(key, db=self._db["ids"])
                if found is None:
                    continue
                label_key = found
                for db in ("labels", "vectors", "payloads"):
                    txn.delete(label_key, db=self._db[db])
                label = decode_label(label_key)
                effects.ids[label] = None
                effects.vectors[label] = None
                effects.payloads[label] = None
                effects.freed.append(label)
                deleted += 1
            return deleted
        changed = 0
        for pid in op.ids:
            found = txn.get(encode_id(pid), db=self._db["ids"])
            if found is None:
                continue
            if isinstance(op, OverwritePayload):
                payload = dict(op.payload)
            else:
                payload = load_payload(txn.get(found, db=self._db["payloads"]))
                if isinstance(op, SetPayload):
                    payload.update(op.payload)
                else:
                    for name in op.keys:
                        payload.pop(name, None)
            txn.put(found, dump_payload(payload, "payload"), db=self._db["payloads"])
            effects.payloads[decode_label(found)] = payload
            changed += 1
        return changed

    def _allocate_label(self, txn: lmdb.Transaction, effects: _BatchEffects) -> int:
        cursor = txn.cursor(db=self._db["free"])
        if cursor.first():
            label_key = cursor.key()
            cursor.delete()
            label = decode_label(label_key)
        else:
            label = layout.read_u64(txn, self._db, b"next_label")
            txn.put(b"next_label", U64.pack(label + 1), db=self._db["meta"])
        effects.allocated.add(label)
        return label

    def _indexed(self, spec: dict[str, Any] | None, cond: Filter) -> Candidates | None:
        """What the payload indexes say of ``cond`` (takes the shared lock)."""
        with self._rw.read():
            return self._candidates(spec, cond)

    def _keys_matching(
        self, txn: lmdb.Transaction, cond: Filter, found: Candidates | None, touched: AbstractSet[int] = frozenset()
    ) -> list[bytes]:
        """The id keys (in id order) of the points in ``txn`` that match ``cond``.

        With the indexes' answer ``found``, only its candidates are read (an exact
        answer is taken as is). The indexes reflect the last committed batch, so
        labels ``touched`` by the batch being applied are read and checked whatever
        they say. Without it (``None``) every payload is read."""
        if found is None:
            return [
                bytes(key)
                for key, label_key in txn.cursor(db=self._db["ids"])
                if cond.matches(decode_id(key), load_payload(txn.get(label_key, db=self._db["payloads"])))
            ]
        keys = []
        for label in found.labels | touched:
            label_key = encode_label(label)
            key = txn.get(label_key, db=self._db["labels"])
            if key is None:  # deleted (by this batch)
                continue
            if (found.exact and label not in touched) or cond.matches(
                decode_id(key), load_payload(txn.get(label_key, db=self._db["payloads"]))
            ):
                keys.append(bytes(key))
        keys.sort()  # the order of a scan: replicas free labels in the same order
        return keys

    def _publish(self, effects: _BatchEffects, version: int) -> None:
        """Make a committed batch visible to searches."""
        with self._rw.write():
            try:
                added = [(label, vec) for label, vec in effects.vectors.items() if vec is not None]
                removed = [
                    label
                    for label, vec in effects.vectors.items()
                    if vec is None and label not in effects.allocated and label in self._live
                ]
                self._index.mark_deleted(removed)
                if added:
                    labels = np.fromiter((label for label, _ in added), dtype=np.uint64, count=len(added))
                    self._index.add(labels, np.stack([vec for _, vec in added]))
                self._live.difference_update(removed)
                self._live.update(label for label, _ in added)
                for label, pid in effects.ids.items():
                    if label >= len(self._ids):
                        self._ids.extend([None] * max(label + 1 - len(self._ids), len(self._ids)))
                    self._ids[label] = pid
                for label, payload in effects.payloads.items():
                    for index in self._field_indexes.values():
                        index.update(label, payload)
            except Exception:  # the LMDB state is committed: rebuild memory from it
                log.exception("updating the in-memory index of %s failed; rebuilding it from LMDB", self.name)
                self._version = version
                self._load_memory_state()
            self._version = version

    def upsert(self, ids: Sequence[PointId], vectors: Any, payloads: Sequence[dict[str, Any] | None] | None = None) -> int:
        """Insert or replace points (vector and whole payload). Atomic: all or none."""
        return self.apply_batch([Upsert(ids, vectors, payloads)])[0]

    def delete(self, ids: Sequence[PointId] | None = None, filter: dict[str, Any] | None = None) -> int:
        """Delete points by ids or by filter; returns how many were deleted."""
        return self.apply_batch([Delete(ids, filter)])[0]

    def set_payload(self, ids: Sequence[PointId], payload: dict[str, Any]) -> int:
        """Merge ``payload``'s keys into each point's payload; returns the number of points changed."""
        return self.apply_batch([SetPayload(ids, payload)])[0]

    def overwrite_payload(self, ids: Sequence[PointId], payload: dict[str, Any]) -> int:
        return self.apply_batch([OverwritePayload(ids, payload)])[0]

    def delete_payload_keys(self, ids: Sequence[PointId], keys: Sequence[str]) -> int:
        return self.apply_batch([DeletePayloadKeys(ids, keys)])[0]

    def get_meta(self, key: str) -> bytes | None:
        """Read caller metadata written by ``apply_batch(..., meta=...)``."""
        with self._reading() as txn:
            value = txn.get(key.encode(), db=self._db["user"])
            return None if value is None else bytes(value)

    # ---------------------------------------------------------------- reads

    def get(self, ids: Sequence[PointId], with_vector: bool = False, with_payload: bool = True) -> list[Record]:
        """The points with these ids, in the order asked; missing ids are absent."""
        wanted = check_ids(ids, unique=False)
        out = []
        with self._reading() as txn:
            for pid in wanted:
                label_key = txn.get(encode_id(pid), db=self._db["ids"])
                if label_key is not None:
                    out.append(self._record(txn, pid, label_key, with_payload, with_vector))
        return out

    def _record(
        self, txn: lmdb.Transaction, pid: PointId, label_key: bytes, with_payload: bool, with_vector: bool
    ) -> Record:
        payload = load_payload(txn.get(label_key, db=self._db["payloads"])) if with_payload else None
        vector = np.frombuffer(txn.get(label_key, db=self._db["vectors"]), np.float32) if with_vector else None
        return Record(pid, payload, vector)

    def count(self, filter: dict[str, Any] | None = None) -> int:
        """The number of points (matching ``filter``)."""
        cond = compile_filter(filter)
        with self._reading() as txn:
            if cond is None:
                entries: int = txn.stat(self._db["ids"])["entries"]
                return entries
            found = self._indexed(filter, cond)
            if found is not None and found.exact:
                return len(found.labels)
            return len(self._keys_matching(txn, cond, found))

    def scroll(
        self,
        filter: dict[str, Any] | None = None,
        limit: int = 100,
        offset: PointId | None = None,
        with_payload: bool = True,
        with_vector: bool = False,
    ) -> tuple[list[Record], PointId | None]:
        """Points in id order from ``offset`` (inclusive); returns (records, next offset or None)."""
        cond = compile_filter(filter)
        limit = check_int(limit, "limit", 1, MAX_SCROLL_LIMIT)
        start = None if offset is None else encode_id(check_ids([offset], "offset")[0])
        records: list[Record] = []
        with self._reading() as txn:
            cursor = txn.cursor(db=self._db["ids"])
            if not (cursor.set_range(start) if start is not None else cursor.first()):
                return [], None
            for key, label_key in cursor:
                pid = decode_id(key)
                if cond is not None and not cond.matches(pid, load_payload(txn.get(label_key, db=self._db["payloads"]))):
                    continue
                if len(records) == limit:
                    return records, pid
                records.append(self._record(txn, pid, label_key, with_payload, with_vector))
        return records, None



    # ---------------------------------------------------------------- snapshots

    def snapshot(self, file: BinaryIO) -> None:
        """Write a consistent, compacted copy of the LMDB state to ``file`` (a real file)."""
        file.flush()
        with self._reading() as txn:
            self._env.copyfd(file.fileno(), compact=True, txn=txn)

    def restore(self, file: BinaryIO) -> None:
        """Replace this collection's whole state by a ``snapshot``; the index is rebuilt from it.

        The copy is written to a new LMDB folder and checked there; ``CURRENT`` then
        switches to it atomically. The old env is not closed here but dropped: py-lmdb
        may crash when an env is closed while another thread still frees one of its
        transactions, so it closes itself once its last transaction is gone.
        A snapshot of a collection with another dimension or distance is refused.
        """
        staging = self.folder / layout.next_generation(self._env_dir)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            with open(staging / "data.mdb", "wb") as out:
                shutil.copyfileobj(file, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            incoming = layout.snapshot_config(staging)
            if (incoming.dimension, incoming.distance) != (self.config.dimension, self.config.distance):
                raise InvalidArgument(
                    f"snapshot holds a {incoming.dimension}-d {incoming.distance} collection; "
                    f"this one is {self.config.dimension}-d {self.config.distance}"
                )
            with self._write_mutex, self._env_lock.write(), self._rw.write():
                self._check_open()
                VectorIndex.discard(self.folder)
                layout.write_current(self.folder, staging.name)
                old_dir = self._env_dir
                self._open_env()
                self._load_memory_state()
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        shutil.rmtree(old_dir, ignore_errors=True)  # unlinked files stay readable to the old env's mapping

