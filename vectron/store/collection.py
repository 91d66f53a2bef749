"""A collection: points in one LMDB environment, an HNSW index beside it.

LMDB is the source of truth. Its sub-databases::

    meta      config (JSON), version (u64, +1 per write transaction), next_label (u64)
    ids       point id key -> label          labels    label -> point id key
    vectors   label -> float32 bytes         payloads  label -> JSON bytes
    free      labels of deleted points, re-used by later inserts
    user      caller metadata written with a batch (a Raft FSM keeps its applied index here)

The env lives in ``lmdb-<generation>/``, named by the file ``CURRENT``; a
restore writes the next generation and switches ``CURRENT`` atomically.

A write batch runs in one LMDB write transaction and then updates the
in-memory structures (HNSW index, payload indexes, live labels) under an
exclusive lock; searches hold the shared side of that lock, so a search sees
either all of a batch or none of it. Labels freed by a batch are re-used only
by later batches, so an in-flight search never maps an old label to a new point.

Threading: any number of threads may read and write; writes are serialised.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import math
import os
import pathlib
import random
import shutil
import struct
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import lmdb
import numpy as np
import orjson

from vectron.errors import (
    DimensionMismatch,
    InvalidArgument,
    PayloadTooLarge,
    StorageError,
)
from vectron.store.filters import Candidates, Filter, compile_filter
from vectron.store.ids import (
    PointId,
    check_ids,
    decode_id,
    decode_label,
    encode_id,
    encode_label,
)
from vectron.store.auto_index import AutoIndexing
from vectron.store.payload_index import FieldIndex, check_index_field, check_index_type
from vectron.store.rwlock import RWLock
from vectron.store.types import (
    CollectionConfig,
    Delete,
    DeletePayloadKeys,
    OverwritePayload,
    Record,
    ScoredPoint,
    SetPayload,
    Upsert,
    WriteOp,
)
from vectron.store.vector_index import VectorIndex

log = logging.getLogger(__name__)

from vectron.limits import MAX_BATCH_POINTS, MAX_EF, MAX_K, MAX_PAYLOAD_BYTES, MAX_SCROLL_LIMIT  # noqa: E402
# A filtered search scores its candidates exactly when there are at most this many
# (or this fraction of the collection); beyond that it walks the graph with the filter.
BRUTE_FORCE_MIN = 8_192
BRUTE_FORCE_FRACTION = 0.1
PLAN_CACHE_SIZE = 16  # filters whose index answers are remembered until the next write
PLANNER_SAMPLE = 256  # payloads read to estimate how many points pass conditions no index answers
_U64 = struct.Struct(">Q")
_CURRENT = "CURRENT"  # names the LMDB folder in use: lmdb-<generation>
_DBS = ("meta", "ids", "labels", "vectors", "payloads", "free", "user")


def _dump_payload(payload: Any, field_name: str = "payloads") -> bytes:
    if not isinstance(payload, dict):
        raise InvalidArgument(f"a payload must be a JSON object, got {type(payload).__name__}", field=field_name)
    try:
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"payload is not valid JSON: {exc}", field=field_name) from None
    if len(data) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"payload is {len(data)} bytes; at most {MAX_PAYLOAD_BYTES}", field=field_name)
    return data


def _load_payload(data: bytes) -> dict[str, Any]:
    """Decode a stored payload (orjson: the hot path of every hit; json for integers beyond 64 bits)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _check_int(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise InvalidArgument(f"{name} must be an integer in [{lo}, {hi}], got {value!r}", field=name)
    return int(value)


@dataclass
class _BatchEffects:
    """What a committed batch changes in memory: final vector/payload per touched label."""

    vectors: dict[int, np.ndarray | None] = field(default_factory=dict)
    payloads: dict[int, dict[str, Any] | None] = field(default_factory=dict)
    allocated: set[int] = field(default_factory=set)
    freed: list[int] = field(default_factory=list)


class Collection(AutoIndexing):
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
        for leftover in folder.glob("lmdb-*"):  # from a restore that crashed before or after switching
            if leftover != self._env_dir:
                shutil.rmtree(leftover, ignore_errors=True)
        self._load_memory_state()

    # ---------------------------------------------------------------- lifecycle

    @classmethod
    def create(cls, folder: pathlib.Path, config: CollectionConfig, **options: Any) -> "Collection":
        """Initialise a new collection in the empty ``folder``."""
        folder.mkdir(parents=True)
        env = lmdb.open(str(folder / "lmdb-0"), max_dbs=len(_DBS), map_size=options.get("map_size", 1 << 36))
        try:
            with env.begin(write=True) as txn:
                meta = env.open_db(b"meta", txn=txn)
                for name in _DBS[1:]:
                    env.open_db(name.encode(), txn=txn)
                txn.put(b"config", json.dumps(config.to_json()).encode(), db=meta)
                txn.put(b"version", _U64.pack(0), db=meta)
                txn.put(b"next_label", _U64.pack(0), db=meta)
        finally:
            env.close()
        _write_current(folder, "lmdb-0")
        return cls(folder, **options)

    @staticmethod
    def exists(folder: pathlib.Path) -> bool:
        """Whether ``folder`` holds a collection."""
        return (folder / _CURRENT).is_file()

    def _open_env(self) -> None:
        """Open the LMDB env that ``CURRENT`` names (a restore switches to a new one)."""
        self._env_dir = self.folder / (self.folder / _CURRENT).read_text().strip()
        self._env = lmdb.open(
            str(self._env_dir),
            max_dbs=len(_DBS),
            map_size=self._map_size,
            sync=self._durable,
            metasync=self._durable,
            readahead=False,
            max_readers=1024,
            create=False,
        )
        self._db = {name: self._env.open_db(name.encode(), create=False) for name in _DBS}

    def _load_memory_state(self) -> None:
        """Read config and version, then load or rebuild the HNSW index and the payload indexes."""
        with self._env.begin() as txn:
            self.config = CollectionConfig.from_json(json.loads(txn.get(b"config", db=self._db["meta"])))
            self._version = _U64.unpack(txn.get(b"version", db=self._db["meta"]))[0]
            next_label = _U64.unpack(txn.get(b"next_label", db=self._db["meta"]))[0]
            self._live = {decode_label(k) for k in txn.cursor(db=self._db["labels"]).iternext(values=False)}
        cfg = self.config
        index = VectorIndex.load(self.folder, cfg.dimension, cfg.distance, cfg.hnsw, self._version)
        self._saved_version = self._version if index is not None else -1
        if index is None:
            index = self._rebuild_index(next_label)
        else:
            for labels, vectors in self._stored_vectors():
                index.remember(labels, vectors)
        self._index = index
        self._field_indexes = {key: self._build_field_index(key, kind) for key, kind in cfg.payload_indexes.items()}
        self._plans: dict[tuple[str, int], Candidates | None] = {}
        self._auto_reset()

    def _rebuild_index(self, capacity: int) -> VectorIndex:
        cfg = self.config
        index = VectorIndex(cfg.dimension, cfg.distance, cfg.hnsw, capacity=capacity)
        for labels, vectors in self._stored_vectors():
            index.add(labels, vectors)
        log.info("rebuilt the index of %s from LMDB (%d points)", cfg.name, len(index))
        return index

    def _stored_vectors(self, chunk: int = 10_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Every stored (labels, vectors), ``chunk`` at a time."""
        with self._env.begin() as txn:
            labels: list[int] = []
            chunks: list[bytes] = []
            for key, value in txn.cursor(db=self._db["vectors"]):
                labels.append(decode_label(key))
                chunks.append(value)
                if len(labels) == chunk:
                    yield np.array(labels), np.frombuffer(b"".join(chunks), np.float32).reshape(len(labels), -1)
                    labels, chunks = [], []
            if labels:
                yield np.array(labels), np.frombuffer(b"".join(chunks), np.float32).reshape(len(labels), -1)

    def _build_field_index(self, key: str, index_type: str) -> FieldIndex:
        index = FieldIndex(key, index_type)
        with self._env.begin() as txn:
            for label_key, data in txn.cursor(db=self._db["payloads"]):
                index.update(decode_label(label_key), _load_payload(data))
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
                self._env = None  # type: ignore[assignment]
                self._closed = True

    @contextlib.contextmanager
    def _reading(self) -> Iterator[lmdb.Transaction]:
        """A read transaction, with the env held open (close and restore wait for it)."""
        with self._env_lock.read():
            self._check_open()
            with self._env.begin() as txn:
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

    # ---------------------------------------------------------------- validation

    def _check_vectors(self, vectors: Any, field_name: str) -> np.ndarray:
        try:
            arr = np.asarray(vectors, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"vectors must be numeric arrays: {exc}", field=field_name) from None
        if arr.ndim == 1 and arr.size == self.config.dimension and field_name == "vector":
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != self.config.dimension:
            shape = "x".join(map(str, arr.shape)) or "scalar"
            raise DimensionMismatch(
                f"expected vectors of dimension {self.config.dimension}, got an array of shape {shape}", field=field_name
            )
        if not np.isfinite(arr).all():
            bad = int(np.argwhere(~np.isfinite(arr))[0][0])
            raise InvalidArgument(f"vector {bad} has NaN or infinite components", field=field_name)
        if self.config.distance == "cosine" and not np.einsum("ij,ij->i", arr, arr).all():
            raise InvalidArgument("a zero vector has no cosine similarity", field=field_name)
        return np.ascontiguousarray(arr)

    def _prepare(self, op: WriteOp) -> WriteOp:
        """Validate one operation; returns it with canonical ids, vectors and encoded payloads."""
        if isinstance(op, Upsert):
            ids = check_ids(op.ids)
            if len(ids) > MAX_BATCH_POINTS:
                raise InvalidArgument(f"a batch holds at most {MAX_BATCH_POINTS} points, got {len(ids)}", field="ids")
            vectors = self._check_vectors(op.vectors, "vectors")
            if len(vectors) != len(ids):
                raise InvalidArgument(f"{len(ids)} ids but {len(vectors)} vectors", field="vectors")
            payloads = op.payloads if op.payloads is not None else [None] * len(ids)
            if not isinstance(payloads, Sequence) or isinstance(payloads, str) or len(payloads) != len(ids):
                raise InvalidArgument("payloads must be a list with one JSON object (or null) per id", field="payloads")
            encoded = [_dump_payload(p if p is not None else {}) for p in payloads]
            return Upsert(ids, vectors, encoded)  # type: ignore[arg-type]
        if isinstance(op, Delete):
            if (op.ids is None) == (op.filter is None):
                raise InvalidArgument("delete takes either ids or a filter", field="ids")
            if op.ids is not None:
                return Delete(ids=check_ids(op.ids, unique=False))
            compile_filter(op.filter)
            return op
        if isinstance(op, (SetPayload, OverwritePayload)):
            _dump_payload(op.payload, "payload")
            return type(op)(check_ids(op.ids, unique=False), op.payload)
        if isinstance(op, DeletePayloadKeys):
            if not isinstance(op.keys, Sequence) or isinstance(op.keys, str) or not all(isinstance(k, str) and k for k in op.keys):
                raise InvalidArgument("keys must be a list of non-empty strings", field="keys")
            return DeletePayloadKeys(check_ids(op.ids, unique=False), list(op.keys))
        raise InvalidArgument(f"unknown write operation {type(op).__name__}")

    # ---------------------------------------------------------------- writes

    def apply_batch(self, ops: Sequence[WriteOp], meta: Mapping[str, bytes | None] | None = None) -> list[int]:
        """Apply ``ops`` and write ``meta`` (key -> bytes, None deletes) in one LMDB transaction.

        All or nothing: a bad operation raises before anything changes. Returns,
        per operation, the number of points it wrote or deleted. This is the hook
        a Raft FSM drives: it keeps its applied index and request ids in ``meta``.
        """
        prepared = [self._prepare(op) for op in ops]
        with self._write_mutex:
            self._check_open()
            effects = _BatchEffects()
            try:
                with self._env.begin(write=True) as txn:
                    results = [self._apply_op(txn, op, effects) for op in prepared]
                    for label in effects.freed:  # re-usable from the next batch on
                        txn.put(encode_label(label), b"", db=self._db["free"])
                    version = _U64.unpack(txn.get(b"version", db=self._db["meta"]))[0] + 1
                    txn.put(b"version", _U64.pack(version), db=self._db["meta"])
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
            for pid, vector, payload in zip(op.ids, op.vectors, op.payloads):  # type: ignore[arg-type]
                key = encode_id(pid)
                found = txn.get(key, db=self._db["ids"])
                if found is None:
                    label = self._allocate_label(txn, effects)
                    txn.put(key, encode_label(label), db=self._db["ids"])
                    txn.put(encode_label(label), key, db=self._db["labels"])
                else:
                    label = decode_label(found)
                txn.put(encode_label(label), vector.tobytes(), db=self._db["vectors"])
                txn.put(encode_label(label), payload, db=self._db["payloads"])
                effects.vectors[label] = vector
                effects.payloads[label] = _load_payload(payload) if self._field_indexes else {}
            return len(op.ids)
        if isinstance(op, Delete):
            if op.ids is not None:
                keys = [encode_id(pid) for pid in op.ids]
            else:
                cond = compile_filter(op.filter)
                touched = effects.vectors.keys() | effects.payloads.keys()
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
                payload = _load_payload(txn.get(found, db=self._db["payloads"]))
                if isinstance(op, SetPayload):
                    payload.update(op.payload)
                else:
                    for name in op.keys:
                        payload.pop(name, None)
            txn.put(found, _dump_payload(payload, "payload"), db=self._db["payloads"])
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
            label = _U64.unpack(txn.get(b"next_label", db=self._db["meta"]))[0]
            txn.put(b"next_label", _U64.pack(label + 1), db=self._db["meta"])
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
                if cond.matches(decode_id(key), _load_payload(txn.get(label_key, db=self._db["payloads"])))
            ]
        keys = []
        for label in found.labels | touched:
            label_key = encode_label(label)
            key = txn.get(label_key, db=self._db["labels"])
            if key is None:  # deleted (by this batch)
                continue
            if (found.exact and label not in touched) or cond.matches(
                decode_id(key), _load_payload(txn.get(label_key, db=self._db["payloads"]))
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

    def create_payload_index(self, field_name: str, index_type: str) -> bool:
        """Index a payload field (dotted path) as keyword, integer, float or bool (another type
        replaces the field's index). True if this changed the indexes, False if already there."""
        check_index_type(index_type)
        check_index_field(field_name)
        if self.config.payload_indexes.get(field_name) == index_type:
            return False
        return self._set_payload_indexes({**self.config.payload_indexes, field_name: index_type}, field_name)

    def drop_payload_index(self, field_name: str) -> bool:
        """Stop indexing a payload field. True if it was indexed, False if not."""
        check_index_field(field_name)
        if field_name not in self.config.payload_indexes:
            return False
        indexes = {k: v for k, v in self.config.payload_indexes.items() if k != field_name}
        return self._set_payload_indexes(indexes, field_name)

    def _set_payload_indexes(self, indexes: dict[str, str], changed: str) -> bool:
        """Store the declared index list and build or drop the index of ``changed``."""
        with self._write_mutex:
            self._check_open()
            if self.config.payload_indexes == indexes:
                return False
            self._write_config(dataclasses.replace(self.config, payload_indexes=indexes))
            index = self._build_field_index(changed, indexes[changed]) if changed in indexes else None
            with self._rw.write():
                if index is None:
                    self._field_indexes.pop(changed, None)
                else:
                    self._field_indexes[changed] = index
                self._plans.clear()
            self._auto.forget(changed)
            return True

    def _write_config(self, config: CollectionConfig) -> None:
        """Persist ``config`` (one transaction, the version moves) and make it current (hold the write mutex)."""
        with self._env.begin(write=True) as txn:
            txn.put(b"config", json.dumps(config.to_json()).encode(), db=self._db["meta"])
            version = _U64.unpack(txn.get(b"version", db=self._db["meta"]))[0] + 1
            txn.put(b"version", _U64.pack(version), db=self._db["meta"])
        with self._rw.write():
            self.config = config
            self._version = version

    def _payload_sample(self, n: int) -> list[dict[str, Any]]:
        """The first ``n`` stored payloads (by label)."""
        with self._env.begin() as txn:
            return [_load_payload(data) for _, data in itertools.islice(txn.cursor(db=self._db["payloads"]), n)]

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
        payload = _load_payload(txn.get(label_key, db=self._db["payloads"])) if with_payload else None
        vector = np.frombuffer(txn.get(label_key, db=self._db["vectors"]), np.float32) if with_vector else None
        return Record(pid, payload, vector)

    def count(self, filter: dict[str, Any] | None = None) -> int:
        """The number of points (matching ``filter``)."""
        cond = compile_filter(filter)
        with self._reading() as txn:
            if cond is None:
                return txn.stat(self._db["ids"])["entries"]
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
        limit = _check_int(limit, "limit", 1, MAX_SCROLL_LIMIT)
        start = None if offset is None else encode_id(check_ids([offset], "offset")[0])
        records: list[Record] = []
        with self._reading() as txn:
            cursor = txn.cursor(db=self._db["ids"])
            if not (cursor.set_range(start) if start is not None else cursor.first()):
                return [], None
            for key, label_key in cursor:
                pid = decode_id(key)
                if cond is not None and not cond.matches(pid, _load_payload(txn.get(label_key, db=self._db["payloads"]))):
                    continue
                if len(records) == limit:
                    return records, pid
                records.append(self._record(txn, pid, label_key, with_payload, with_vector))
        return records, None

    def search(
        self,
        vector: Any,
        k: int = 10,
        filter: dict[str, Any] | None = None,
        ef: int | None = None,
        score_threshold: float | None = None,
        with_payload: bool = True,
        with_vector: bool = False,
    ) -> list[ScoredPoint]:
        """The ``k`` points nearest to ``vector`` (matching ``filter``), best first."""
        queries = self._check_vectors(vector, "vector")
        if len(queries) != 1:
            raise InvalidArgument("search takes one vector; use search_batch for several", field="vector")
        return self._search(queries, k, filter, ef, score_threshold, with_payload, with_vector)[0]

    def search_batch(
        self,
        vectors: Any,
        k: int = 10,
        filter: dict[str, Any] | None = None,
        ef: int | None = None,
        score_threshold: float | None = None,
        with_payload: bool = True,
        with_vector: bool = False,
    ) -> list[list[ScoredPoint]]:
        """One ``search`` per row of ``vectors``, run together (multi-threaded)."""
        queries = self._check_vectors(vectors, "vectors")
        if len(queries) > MAX_BATCH_POINTS:
            raise InvalidArgument(f"a batch holds at most {MAX_BATCH_POINTS} queries", field="vectors")
        return self._search(queries, k, filter, ef, score_threshold, with_payload, with_vector)

    def _search(
        self,
        queries: np.ndarray,
        k: int,
        filter: dict[str, Any] | None,
        ef: int | None,
        score_threshold: float | None,
        with_payload: bool,
        with_vector: bool,
    ) -> list[list[ScoredPoint]]:
        k = _check_int(k, "k", 1, MAX_K)
        ef = self.config.hnsw.ef if ef is None else _check_int(ef, "ef", 1, MAX_EF)
        if score_threshold is not None and (
            isinstance(score_threshold, bool)
            or not isinstance(score_threshold, (int, float))
            or not math.isfinite(score_threshold)
        ):
            raise InvalidArgument("score_threshold must be a finite number", field="score_threshold")
        cond = compile_filter(filter)
        with self._reading() as txn:
            if cond is None:
                with self._searching(max(ef, k)):
                    hits = self._graph_search(queries, min(k, len(self._live)), None)
            else:
                hits = self._filtered_search(txn, queries, k, max(ef, k), filter, cond)
            return self._resolve(txn, hits, cond, score_threshold, with_payload, with_vector, k)

    @contextlib.contextmanager
    def _searching(self, ef: int) -> Iterator[None]:
        """Hold the index for a search at ``ef``: shared if ``ef`` is current, else exclusive to change it."""
        with self._rw.read():
            if self._index.ef == ef:
                yield
                return
        with self._rw.write():
            self._index.set_ef(ef)
            yield

    def _graph_search(self, queries: np.ndarray, k: int, allowed: Any) -> list[list[tuple[int, float]]]:
        if k <= 0:
            return [[] for _ in queries]
        labels, dists = self._index.knn(queries, k, allowed=allowed, threads=1 if allowed is not None else -1)
        scores = self._scores_from_distances(dists)
        return [list(zip(row_labels.tolist(), row_scores.tolist())) for row_labels, row_scores in zip(labels, scores)]

    def _scores_from_distances(self, dists: np.ndarray) -> np.ndarray:
        if self.config.distance == "euclid":
            return np.sqrt(np.maximum(dists, 0))
        return 1.0 - dists

    def _candidates(self, spec: dict[str, Any] | None, cond: Filter) -> Candidates | None:
        """What the payload indexes say of ``cond`` (hold the shared lock).

        Remembered per filter until the next write, so that a filter repeated
        over many queries builds its label sets once. The sets are shared: never mutate them.
        """
        key = (json.dumps(spec, sort_keys=True), self._version)
        if key not in self._plans:
            if len(self._plans) >= PLAN_CACHE_SIZE:
                self._plans.clear()
            self._plans[key] = cond.candidates(_PlannerView(self))
        return self._plans[key]

    def _filtered_search(
        self, txn: lmdb.Transaction, queries: np.ndarray, k: int, ef: int, spec: dict[str, Any], cond: Filter
    ) -> list[list[tuple[int, float]]]:
        """The query planner: exact scoring of few candidates, else graph traversal with the filter applied."""
        with self._rw.read():
            live = len(self._live)
            found = self._candidates(spec, cond)
            limit = max(BRUTE_FORCE_MIN, int(BRUTE_FORCE_FRACTION * live))
            pool = found.labels if found is not None else set(self._live)
        if found is not None and found.exact:
            matching = len(pool)
        else:  # estimate from a sample how many of the pool pass the conditions the indexes could not answer
            sample = random.Random(len(pool)).sample(list(pool), min(len(pool), PLANNER_SAMPLE))
            matching = len(pool) * len(self._labels_matching(txn, sample, cond)) // max(len(sample), 1)
        if matching <= limit:
            exact = pool if found is not None and found.exact else self._labels_matching(txn, pool, cond)
            return self._exact_search(queries, sorted(exact), k)
        allowed = self._allowed_predicate(txn, found, cond)
        boosted = min(MAX_EF, max(ef, int(ef / max(matching / max(live, 1), 0.01) ** 0.5)))
        with self._searching(boosted):
            try:
                return self._graph_search(queries, k, allowed)
            except RuntimeError:  # fewer than k reachable through the filter: score them exactly
                exact = pool if found is not None and found.exact else self._labels_matching(txn, pool, cond)
                return self._exact_search(queries, sorted(exact), k)

    def _labels_matching(self, txn: lmdb.Transaction, labels: Iterable[int], cond: Filter) -> set[int]:
        out = set()
        for label in labels:
            label_key = encode_label(label)
            key = txn.get(label_key, db=self._db["labels"])
            if key is not None and cond.matches(decode_id(key), _load_payload(txn.get(label_key, db=self._db["payloads"]))):
                out.add(label)
        return out

    def _allowed_predicate(self, txn: lmdb.Transaction, found: Candidates | None, cond: Filter) -> Any:
        if found is not None and found.exact:
            return found.labels.__contains__
        seen: dict[int, bool] = {}
        candidates = found.labels if found is not None else None

        def allowed(label: int) -> bool:
            verdict = seen.get(label)
            if verdict is None:
                verdict = (candidates is None or label in candidates) and bool(self._labels_matching(txn, {label}, cond))
                seen[label] = verdict
            return verdict

        return allowed

    def _exact_search(self, queries: np.ndarray, labels: list[int], k: int) -> list[list[tuple[int, float]]]:
        """Score ``labels`` exactly against every query (the index's stored vectors)."""
        if not labels:
            return [[] for _ in queries]
        vectors = self._index.vectors(labels)
        if self.config.distance == "cosine":
            queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        products = queries @ vectors.T
        if self.config.distance == "euclid":
            squared = (vectors * vectors).sum(1)[None, :] - 2 * products + (queries * queries).sum(1)[:, None]
            keys = scores = np.sqrt(np.maximum(squared, 0))
        else:
            scores = products
            keys = -products
        k = min(k, len(labels))
        top = np.argpartition(keys, k - 1, axis=1)[:, :k]
        label_arr = np.asarray(labels)
        out = []
        for i, row in enumerate(top):
            row = row[np.argsort(keys[i, row], kind="stable")]
            out.append(list(zip(label_arr[row].tolist(), scores[i, row].astype(float).tolist())))
        return out

    def _resolve(
        self,
        txn: lmdb.Transaction,
        rows: list[list[tuple[int, float]]],
        cond: Filter | None,
        score_threshold: float | None,
        with_payload: bool,
        with_vector: bool,
        k: int,
    ) -> list[list[ScoredPoint]]:
        """Turn rows of (label, score) into hits; drop labels deleted meanwhile, enforce filter and threshold.

        Each label is read (one ``getmulti`` per sub-db) and decoded once for the whole batch.
        """
        if score_threshold is not None:
            higher_is_better = self.config.distance != "euclid"
            rows = [
                [(label, score) for label, score in row if (score >= score_threshold if higher_is_better else score <= score_threshold)]
                for row in rows
            ]
        labels = sorted({label for row in rows for label, _ in row})
        keys = [encode_label(label) for label in labels]
        label_of = dict(zip(keys, labels))

        def read(db: str) -> list[tuple[bytes, bytes]]:
            return txn.cursor(db=self._db[db]).getmulti(keys)  # type: ignore[no-any-return]

        ids = {label_of[key]: decode_id(value) for key, value in read("labels")}
        payloads = {label_of[key]: _load_payload(value) for key, value in read("payloads")} if with_payload or cond else {}
        vectors = {label_of[key]: value for key, value in read("vectors")} if with_vector else {}
        out = []
        for row in rows:
            hits = []
            for label, score in row:
                pid = ids.get(label)
                if pid is None or (cond is not None and not cond.matches(pid, payloads[label])):
                    continue
                vector = np.frombuffer(vectors[label], np.float32) if with_vector else None
                hits.append(ScoredPoint(pid, score, payloads[label] if with_payload else None, vector))
                if len(hits) == k:
                    break
            out.append(hits)
        return out

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
        generation = int(self._env_dir.name.rsplit("-", 1)[1]) + 1
        staging = self.folder / f"lmdb-{generation}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            with open(staging / "data.mdb", "wb") as out:
                shutil.copyfileobj(file, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            incoming = _read_config(staging)
            if (incoming.dimension, incoming.distance) != (self.config.dimension, self.config.distance):
                raise InvalidArgument(
                    f"snapshot holds a {incoming.dimension}-d {incoming.distance} collection; "
                    f"this one is {self.config.dimension}-d {self.config.distance}"
                )
            with self._write_mutex, self._env_lock.write(), self._rw.write():
                self._check_open()
                VectorIndex.discard(self.folder)
                _write_current(self.folder, staging.name)
                old_dir = self._env_dir
                self._open_env()
                self._load_memory_state()
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        shutil.rmtree(old_dir, ignore_errors=True)  # unlinked files stay readable to the old env's mapping


def _write_current(folder: pathlib.Path, env_name: str) -> None:
    tmp = folder / (_CURRENT + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(env_name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / _CURRENT)
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _read_config(folder: pathlib.Path) -> CollectionConfig:
    try:
        env = lmdb.open(str(folder), max_dbs=len(_DBS), readonly=True, lock=False, create=False)
    except lmdb.Error as exc:
        raise InvalidArgument(f"not a collection snapshot: {exc}") from None
    try:
        with env.begin() as txn:
            meta = env.open_db(b"meta", txn=txn, create=False)
            return CollectionConfig.from_json(json.loads(txn.get(b"config", db=meta)))
    except (lmdb.Error, TypeError, ValueError, KeyError) as exc:
        raise InvalidArgument(f"not a collection snapshot: {exc}") from None
    finally:
        env.close()


class _PlannerView:
    """The collection's payload indexes as the filter planner sees them (hold the shared lock)."""

    def __init__(self, collection: Collection) -> None:
        self._collection = collection

    def field_index(self, key: str) -> FieldIndex | None:
        index = self._collection._field_indexes.get(key)
        self._collection._auto_index_hit(key, index)
        return index

    def all_labels(self) -> set[int]:
        return self._collection._live

    def labels_of_ids(self, ids: list[PointId]) -> set[int]:
        col = self._collection
        with col._env.begin() as txn:
            found = (txn.get(encode_id(pid), db=col._db["ids"]) for pid in ids)
            return {decode_label(k) for k in found if k is not None}

