"""The shard group's state machine: a store :class:`~vectron.store.Collection` driven by
``ShardCommand`` entries.

Every entry is applied with ONE ``Collection.apply_batch(ops, meta)`` call: the
operations and the :class:`~vectron.raft.DedupLedger` metadata (applied index,
request id -> result) commit in the same LMDB transaction, all or nothing. An
entry at or below the stored applied index is skipped (pysyncobj replays its
journal on restart); a request id already applied is answered from its dedup
record. A command the store refuses (bad dimension, bad filter...) is recorded
as an error result with an empty batch, so the applied index still moves and
every replica answers the same. A payload index command changes the collection's
declared indexes in its own transaction just before the entry's metadata (replaying
it after a crash in between is a no-op). Snapshots are the collection's compacted LMDB
copy (the dedup records, applied index and declared payload indexes included); restoring rebuilds the
HNSW index from it.

Threading: ``apply``, ``snapshot`` and ``restore`` come from the group's Raft
thread; reads run on caller threads against the collection (safe: it has its
own read/write locking and LMDB MVCC).
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import shutil
import tempfile
import uuid
from typing import Any, BinaryIO

import numpy as np

from vectron.errors import InvalidArgument, StorageError, VectronError, error_from_code
from vectron.raft import DedupLedger, Entry, StateMachine
from vectron.raft.fsm import is_storage_failure
from vectron.services.worker.convert import ids_from_proto
from vectron.store import Collection, CollectionConfig, Delete, OverwritePayload, SetPayload, Upsert, WriteOp
from vectron.v1 import worker_pb2

__all__ = ["ShardStateMachine", "decode_result", "error_result"]

log = logging.getLogger(__name__)


def error_result(error: VectronError, index: int = 0) -> worker_pb2.ShardResult:
    return worker_pb2.ShardResult(
        error=worker_pb2.ShardError(code=error.code, message=error.message, field=error.field or ""), index=index
    )


def decode_result(raw: bytes) -> worker_pb2.ShardResult:
    """Parse an FSM result; raise the VectronError it carries, if any."""
    result = worker_pb2.ShardResult.FromString(raw)
    kind = result.WhichOneof("result")
    if kind == "error":
        raise error_from_code(result.error.code, result.error.message, result.error.field or None)
    if kind is None:
        raise error_from_code("internal", "the shard state machine returned an empty result")
    return result


class ShardStateMachine(StateMachine):
    """One shard replica's state: a store collection in ``folder`` (created if missing)."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        config: CollectionConfig,
        *,
        durable: bool = True,
        map_size: int = 1 << 34,
        dedup_capacity: int = 100_000,
    ) -> None:
        self.folder = pathlib.Path(folder)
        self.ledger = DedupLedger(capacity=dedup_capacity, prefix="raft.")
        options: dict[str, Any] = {"durable": durable, "map_size": map_size}
        if not Collection.exists(self.folder):
            staging = self.folder.with_name(self.folder.name + f".create-{uuid.uuid4().hex}")
            try:
                Collection.create(staging, config, **options).close()
                os.rename(staging, self.folder)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        self.collection = Collection(self.folder, **options)
        self._applied = self.ledger.applied_index(self.collection.get_meta)

    # -- StateMachine --------------------------------------------------------------------
    def applied_index(self) -> int:
        return self._applied

    def apply(self, entry: Entry) -> bytes:
        try:
            return self._apply(entry)
        except Exception as exc:  # never raise out of apply, but for this replica's disk failing (the group retries it)
            if is_storage_failure(exc):
                raise StorageError(f"shard {self.folder} could not persist entry {entry.index}: {exc!r}") from exc
            log.critical("shard %s failed to persist entry %d: %r", self.folder, entry.index, exc)
            return error_result(StorageError(f"the shard failed to apply entry {entry.index}"), entry.index).SerializeToString()

    def _apply(self, entry: Entry) -> bytes:
        get = self.collection.get_meta
        if entry.index <= self._applied:
            remembered = self.ledger.lookup(get, entry.request_id)
            return remembered if remembered is not None else worker_pb2.ShardResult(affected=0, index=entry.index).SerializeToString()
        remembered = self.ledger.lookup(get, entry.request_id)
        if remembered is not None:
            self.collection.apply_batch([], meta=self.ledger.applied_meta(entry.index))
            self._applied = entry.index
            return remembered
        try:
            ops, affected = self._decode(entry.body)
            result = worker_pb2.ShardResult(affected=affected, index=entry.index).SerializeToString()
            self.collection.apply_batch(ops, meta=self.ledger.record_meta(get, entry.index, entry.request_id, result))
        except VectronError as exc:
            if is_storage_failure(exc):
                raise  # never recorded as the entry's result: the replica would count it applied without it
            result = error_result(exc, entry.index).SerializeToString()
            self.collection.apply_batch([], meta=self.ledger.record_meta(get, entry.index, entry.request_id, result))
        self._applied = entry.index
        return result

    def _decode(self, body: bytes) -> tuple[list[WriteOp], int]:
        """The store operations of a command and how many points it affects (read before writing)."""
        try:
            return self._decode_command(body)
        except (ValueError, TypeError) as exc:  # bad JSON inside a command
            raise InvalidArgument(f"malformed shard command: {exc}") from None

    def _decode_command(self, body: bytes) -> tuple[list[WriteOp], int]:
        try:
            command = worker_pb2.ShardCommand.FromString(body)
        except Exception:
            raise InvalidArgument("malformed shard command") from None
        kind = command.WhichOneof("cmd")
        if kind == "upsert":
            cmd = command.upsert
            ids = ids_from_proto(cmd.ids)
            dim = self.collection.config.dimension
            raw = np.frombuffer(cmd.vectors, dtype="<f4")
            if raw.size != len(ids) * dim:
                raise InvalidArgument(f"{len(ids)} ids but {raw.size} vector components (dimension {dim})", field="vectors")
            payloads = [json.loads(p) if p else {} for p in cmd.payload_json] if cmd.payload_json else None
            return [Upsert(ids, raw.reshape(len(ids), dim).astype(np.float32), payloads)], len(ids)
        if kind == "delete":
            cmd = command.delete
            if cmd.by_filter:
                flt = json.loads(cmd.filter_json) if cmd.filter_json else {}
                return [Delete(filter=flt)], self.collection.count(flt)
            ids = ids_from_proto(cmd.ids)
            return [Delete(ids=ids)], len(self.collection.get(ids, with_payload=False))
        if kind == "set_payload":
            cmd = command.set_payload
            ids = ids_from_proto(cmd.ids)
            payload = json.loads(cmd.payload_json)
            op: WriteOp = OverwritePayload(ids, payload) if cmd.overwrite else SetPayload(ids, payload)
            return [op], len(self.collection.get(ids, with_payload=False))
        if kind == "payload_index":  # applied here, in its own transaction; idempotent if the entry is replayed
            cmd = command.payload_index
            if cmd.drop:
                changed = self.collection.drop_payload_index(cmd.field)
            else:
                changed = self.collection.create_payload_index(cmd.field, cmd.type)
            return [], int(changed)
        raise InvalidArgument(f"unknown shard command {kind!r}")

    def snapshot(self, file: BinaryIO) -> None:
        try:
            fd = file.fileno()
        except (AttributeError, OSError):
            fd = -1
        if fd >= 0:
            self.collection.snapshot(file)
            file.seek(0, os.SEEK_END)
            return
        with tempfile.TemporaryFile(dir=self.folder.parent) as tmp:
            self.collection.snapshot(tmp)
            tmp.seek(0)
            shutil.copyfileobj(tmp, file, 1 << 20)

    def restore(self, file: BinaryIO) -> None:
        self.collection.restore(file)
        self._applied = self.ledger.applied_index(self.collection.get_meta)
        log.info("shard %s restored at index %d", self.folder, self._applied)

    def close(self) -> None:
        self.collection.close()

    # -- reads -------------------------------------------------------------------------
    def point_count(self) -> int:
        return self.collection.count()
