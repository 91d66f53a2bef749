"""The stateless command dispatcher of the placement FSM: ``PlacementCommand`` in,
``PlacementResult`` out.

Deterministic: which workers host which shard, the collection id and its
creation time are decided by the proposing node and travel in the command;
the FSM checks them against the state and allocates each replica's Raft port
(the lowest free port of its worker's range). An erroring command writes
nothing. The routing epoch of a collection is the log index that created it.
"""

from __future__ import annotations

from collections.abc import Callable

import lmdb

from vectron.errors import (
    CollectionAlreadyExists,
    CollectionNotFound,
    InsufficientCapacity,
    InvalidArgument,
    NotFound,
    VectronError,
    error_from_code,
)
from vectron.raft import Entry
from vectron.services.placement.storage import PlacementStorage
from vectron.v1 import placement_pb2

__all__ = ["dispatch", "error_result", "decode_result"]


def error_result(error: VectronError) -> placement_pb2.PlacementResult:
    return placement_pb2.PlacementResult(
        error=placement_pb2.PlacementError(code=error.code, message=error.message, field=error.field or "")
    )


def decode_result(raw: bytes) -> placement_pb2.PlacementResult:
    """Parse an FSM result; raise the VectronError it carries, if any."""
    result = placement_pb2.PlacementResult.FromString(raw)
    kind = result.WhichOneof("result")
    if kind == "error":
        raise error_from_code(result.error.code, result.error.message, result.error.field or None)
    if kind is None:
        raise error_from_code("internal", "the placement state machine returned an empty result")
    return result


def _register_worker(store: PlacementStorage, txn: lmdb.Transaction, entry: Entry, cmd: placement_pb2.RegisterWorkerCmd) -> placement_pb2.PlacementResult:
    worker = placement_pb2.WorkerInfo()
    worker.CopyFrom(cmd.worker)
    worker.live = False
    worker.last_heartbeat_ms = 0
    if not worker.worker_id:
        return error_result(InvalidArgument("worker_id is required", field="worker_id"))
    if not worker.raft_port_min or worker.raft_port_max < worker.raft_port_min or worker.raft_port_max > 65535:
        return error_result(InvalidArgument("raft port range is invalid", field="raft_port_min"))
    old = store.worker(txn, worker.worker_id)
    if old != worker:
        store.put_worker(txn, worker)
        store.bump_version(txn)
    return placement_pb2.PlacementResult(worker=worker)


def _create_collection(store: PlacementStorage, txn: lmdb.Transaction, entry: Entry, cmd: placement_pb2.CreateCollectionCmd) -> placement_pb2.PlacementResult:
    info = placement_pb2.CollectionInfo()
    info.CopyFrom(cmd.collection)
    if store.collection(txn, info.owner, info.name) is not None:
        return error_result(CollectionAlreadyExists(f"collection {info.name!r} already exists", field="name"))
    if store.collection_by_id(txn, info.collection_id) is not None:
        return error_result(CollectionAlreadyExists("collection id already taken; retry", field="collection_id"))
    if len(cmd.shards) != info.shard_count or info.shard_count < 1:
        return error_result(InvalidArgument("one placement per shard is required", field="shard_count"))
    workers: dict[str, placement_pb2.WorkerInfo] = {}
    used: dict[str, set[int]] = {}
    wanted: dict[str, int] = {}
    for placement in cmd.shards:
        ids = list(placement.worker_ids)
        if len(ids) != info.replication_factor or len(set(ids)) != len(ids):
            return error_result(
                InvalidArgument("each shard needs replication_factor distinct workers", field="replication_factor")
            )
        for worker_id in ids:
            if worker_id not in workers:
                worker = store.worker(txn, worker_id)
                if worker is None:
                    return error_result(NotFound(f"worker {worker_id!r} is not registered", field="worker_id"))
                workers[worker_id] = worker
                used[worker_id] = {port for port, _, _ in store.ports_of(txn, worker_id)}
            wanted[worker_id] = wanted.get(worker_id, 0) + 1
    for worker_id, count in wanted.items():
        full = _no_room(workers[worker_id], len(used[worker_id]), count)
        if full is not None:
            return error_result(full)
    info.epoch = entry.index
    record = placement_pb2.CollectionRecord(collection=info)
    for shard_id, placement in enumerate(cmd.shards):
        shard = record.shards.add(shard_id=shard_id)
        for worker_id in placement.worker_ids:
            worker = workers[worker_id]
            port = next(p for p in range(worker.raft_port_min, worker.raft_port_max + 1) if p not in used[worker_id])
            used[worker_id].add(port)
            store.put_port(txn, worker_id, port, info.collection_id, shard_id)
            shard.replicas.add(worker_id=worker_id, raft_address=f"{worker.raft_host}:{port}")
    store.put_collection(txn, record)
    store.bump_version(txn)
    return placement_pb2.PlacementResult(routing=placement_pb2.RoutingTable(collection=info, shards=record.shards, epoch=info.epoch))


def _drop_collection(store: PlacementStorage, txn: lmdb.Transaction, entry: Entry, cmd: placement_pb2.DropCollectionCmd) -> placement_pb2.PlacementResult:
    record = store.collection(txn, cmd.owner, cmd.name)
    if record is None:
        return error_result(CollectionNotFound(f"collection {cmd.name!r} not found", field="name"))
    for shard in record.shards:
        for replica in shard.replicas:
            store.delete_port(txn, replica.worker_id, int(replica.raft_address.rpartition(":")[2]))
    store.delete_collection(txn, record)
    store.bump_version(txn)
    return placement_pb2.PlacementResult(ok=True)


def _no_room(worker: placement_pb2.WorkerInfo, used: int, more: int) -> InsufficientCapacity | None:
    """Why ``worker``, holding ``used`` replicas, cannot take ``more`` (None: it can)."""
    if worker.capacity and used + more > worker.capacity:
        return InsufficientCapacity(f"worker {worker.worker_id!r} is at its capacity of {worker.capacity} replicas (raise its --capacity)")
    if (worker.raft_port_max - worker.raft_port_min + 1) - used < more:
        return InsufficientCapacity(
            f"worker {worker.worker_id!r} has no free Raft port left in its range (one port per shard replica: widen its --raft-ports)"
        )
    return None


def _set_worker_dead(store: PlacementStorage, txn: lmdb.Transaction, entry: Entry, cmd: placement_pb2.SetWorkerDeadCmd) -> placement_pb2.PlacementResult:
    worker = store.worker(txn, cmd.worker_id)
    if worker is None:
        return error_result(NotFound(f"worker {cmd.worker_id!r} is not registered", field="worker_id"))
    if worker.dead != cmd.dead:
        worker.dead = cmd.dead
        store.put_worker(txn, worker)
        store.bump_version(txn)
    return placement_pb2.PlacementResult(worker=worker)


def _move_replica(store: PlacementStorage, txn: lmdb.Transaction, entry: Entry, cmd: placement_pb2.MoveReplicaCmd) -> placement_pb2.PlacementResult:
    """Replace the shard's replica on ``from_worker_id`` by a new one on ``to_worker_id``."""
    record = store.collection_by_id(txn, cmd.collection_id)
    if record is None:
        return error_result(CollectionNotFound(f"collection {cmd.collection_id!r} not found", field="collection_id"))
    if cmd.shard_id >= len(record.shards):
        return error_result(InvalidArgument(f"shard {cmd.shard_id} does not exist", field="shard_id"))
    shard = record.shards[cmd.shard_id]
    holders = [r.worker_id for r in shard.replicas]
    if cmd.from_worker_id not in holders:
        return error_result(NotFound(f"worker {cmd.from_worker_id!r} holds no replica of that shard", field="from_worker_id"))
    if cmd.to_worker_id in holders:
        return error_result(InvalidArgument(f"worker {cmd.to_worker_id!r} already holds that shard", field="to_worker_id"))
    target = store.worker(txn, cmd.to_worker_id)
    if target is None or target.dead:
        return error_result(NotFound(f"worker {cmd.to_worker_id!r} is not a registered live worker", field="to_worker_id"))
    used = {port for port, _, _ in store.ports_of(txn, target.worker_id)}
    full = _no_room(target, len(used), 1)
    if full is not None:
        return error_result(full)
    port = next(p for p in range(target.raft_port_min, target.raft_port_max + 1) if p not in used)
    replica = next(r for r in shard.replicas if r.worker_id == cmd.from_worker_id)
    store.delete_port(txn, replica.worker_id, int(replica.raft_address.rpartition(":")[2]))
    store.put_port(txn, target.worker_id, port, cmd.collection_id, cmd.shard_id)
    replica.worker_id = target.worker_id
    replica.raft_address = f"{target.raft_host}:{port}"
    replica.grpc_address = ""
    record.collection.epoch = entry.index
    store.put_collection(txn, record)
    store.bump_version(txn)
    return placement_pb2.PlacementResult(routing=placement_pb2.RoutingTable(collection=record.collection, shards=record.shards, epoch=entry.index))


def _set_payload_index(store: PlacementStorage, txn: lmdb.Transaction, entry: Entry, cmd: placement_pb2.SetPayloadIndexCmd) -> placement_pb2.PlacementResult:
    """Declare or undeclare a payload index in the collection record (the epoch does not move:
    routing is unchanged). Not changed: nothing is written."""
    record = store.collection(txn, cmd.owner, cmd.name)
    if record is None:
        return error_result(CollectionNotFound(f"collection {cmd.name!r} not found", field="name"))
    indexes = record.collection.payload_indexes
    before = {i.field: i.type for i in indexes}
    kept = [i for i in indexes if i.field != cmd.index.field]
    if not cmd.drop:
        kept.append(placement_pb2.PayloadIndexSpec(field=cmd.index.field, type=cmd.index.type))
    changed = {i.field: i.type for i in kept} != before
    if changed:
        del indexes[:]
        indexes.extend(kept)
        store.put_collection(txn, record)
        store.bump_version(txn)
    return placement_pb2.PlacementResult(payload_index=placement_pb2.SetPayloadIndexResponse(collection=record.collection, changed=changed))


_HANDLERS: dict[str, Callable[[PlacementStorage, lmdb.Transaction, Entry, object], placement_pb2.PlacementResult]] = {
    "register_worker": _register_worker,  # type: ignore[dict-item]
    "create_collection": _create_collection,  # type: ignore[dict-item]
    "drop_collection": _drop_collection,  # type: ignore[dict-item]
    "set_worker_dead": _set_worker_dead,  # type: ignore[dict-item]
    "move_replica": _move_replica,  # type: ignore[dict-item]
    "set_payload_index": _set_payload_index,  # type: ignore[dict-item]
}


def dispatch(store: PlacementStorage, txn: lmdb.Transaction, entry: Entry) -> bytes:
    """Apply one serialized ``PlacementCommand`` inside ``txn``; return a serialized ``PlacementResult``."""
    try:
        command = placement_pb2.PlacementCommand.FromString(entry.body)
    except Exception:
        return error_result(InvalidArgument("malformed placement command")).SerializeToString()
    kind = command.WhichOneof("cmd")
    handler = _HANDLERS.get(kind or "")
    if handler is None:
        return error_result(InvalidArgument(f"unknown placement command {kind!r}")).SerializeToString()
    return handler(store, txn, entry, getattr(command, kind)).SerializeToString()
