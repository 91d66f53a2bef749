"""The shard replicas a worker hosts: opening, finding, closing and deleting them.

Layout under the worker's data folder::

    shards/<collection id>-<shard id>/replica.pb   the ReplicaAssignment (what to rebuild at start)
    shards/<collection id>-<shard id>/points/      the store collection (the shard FSM's state)
    shards/<collection id>-<shard id>/raft/        the replica's Raft journal and snapshots

A replica is a :class:`ShardStateMachine` run by one Raft group member, built by
the ``group_factory`` given to :class:`ReplicaHost` (a real ``RaftGroup`` in
the daemon, ``InMemoryGroup`` in unit tests). At start a worker reopens every
replica found on disk, so its groups recover before the placement driver is
even reachable; :meth:`ReplicaHost.reconcile` then opens what the placement
driver assigned, closes and deletes what it no longer assigns (a worker back
from the dead drops the replicas moved away meanwhile), and takes in the new
member lists of the replicas it keeps. :meth:`ReplicaHost.converge_members`
makes each group this worker leads match its assignment through Raft
membership changes, one at a time, removing members before adding any (a
group never waits for a vote of a dead member it is about to lose).
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vectron.errors import NotFound
from vectron.raft.durable_file import write_atomic
from vectron.services.worker.fsm import ShardStateMachine
from vectron.store import CollectionConfig, HnswParams
from vectron.v1 import placement_pb2

__all__ = ["GroupFactory", "ReplicaHost", "ShardReplica", "collection_config"]

log = logging.getLogger(__name__)

#: (fsm, self Raft address, peer Raft addresses, Raft data folder) -> a started group
GroupFactory = Callable[[ShardStateMachine, str, list[str], pathlib.Path], Any]

MANIFEST = "replica.pb"


def collection_config(info: placement_pb2.CollectionInfo, shard_id: int) -> CollectionConfig:
    """The store configuration of one shard of a collection: a replica created at any time
    starts with the payload indexes declared in the placement record (its log or snapshot
    then brings it to the group's state)."""
    defaults = HnswParams()
    hnsw = HnswParams(
        m=info.hnsw.m or defaults.m,
        ef_construct=info.hnsw.ef_construct or defaults.ef_construct,
        ef=info.hnsw.ef or defaults.ef,
    )
    return CollectionConfig(
        name=f"{info.collection_id}-{shard_id}", dimension=info.dimension, distance=info.distance, hnsw=hnsw,
        payload_indexes={i.field: i.type for i in info.payload_indexes}, auto_index=not info.auto_index_off,
    )


@dataclass
class ShardReplica:
    """One hosted replica: its assignment, its FSM and its group member."""

    assignment: placement_pb2.ReplicaAssignment
    folder: pathlib.Path
    fsm: ShardStateMachine
    group: Any
    _grpc_by_raft: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.reassign(self.assignment)

    def reassign(self, assignment: placement_pb2.ReplicaAssignment) -> None:
        """Take in a new member list (after a move)."""
        self.assignment = assignment
        self._grpc_by_raft = {r.raft_address: r.grpc_address for r in assignment.replicas}

    @property
    def key(self) -> tuple[str, int]:
        return self.assignment.collection.collection_id, self.assignment.shard_id

    @property
    def collection(self) -> placement_pb2.CollectionInfo:
        return self.assignment.collection

    @property
    def raft_address(self) -> str:
        return self.assignment.raft_address

    def grpc_address_of(self, raft_address: str | None) -> str | None:
        """The worker gRPC address of the group member at ``raft_address``."""
        return None if not raft_address else self._grpc_by_raft.get(raft_address)

    def leader_grpc_address(self) -> str | None:
        try:
            return self.grpc_address_of(self.group.leader())
        except Exception:
            return None


class ReplicaHost:
    """The replicas of one worker, keyed by (collection id, shard id). Thread-safe."""

    def __init__(self, root: str | os.PathLike[str], group_factory: GroupFactory, *, durable: bool = True, map_size: int = 1 << 34) -> None:
        self.root = pathlib.Path(root) / "shards"
        self.root.mkdir(parents=True, exist_ok=True)
        self._factory = group_factory
        self._durable = durable
        self._map_size = map_size
        self._lock = threading.RLock()
        self._open_lock = threading.Lock()
        self._replicas: dict[tuple[str, int], ShardReplica] = {}
        self._closed = False

    def folder_of(self, collection_id: str, shard_id: int) -> pathlib.Path:
        return self.root / f"{collection_id}-{shard_id}"

    # -- lookup ------------------------------------------------------------------------
    def get(self, collection_id: str, shard_id: int) -> ShardReplica:
        with self._lock:
            replica = self._replicas.get((collection_id, shard_id))
        if replica is None:
            raise NotFound(f"shard {shard_id} of collection {collection_id!r} is not hosted on this worker", field="shard")
        return replica

    def replicas(self) -> list[ShardReplica]:
        with self._lock:
            return list(self._replicas.values())

    # -- lifecycle ---------------------------------------------------------------------
    def open_local(self) -> list[ShardReplica]:
        """Reopen every replica found on disk (at start)."""
        opened = []
        for folder in sorted(self.root.iterdir()):
            manifest = folder / MANIFEST
            if not manifest.is_file():
                if ".drop-" in folder.name or ".create-" in folder.name:
                    shutil.rmtree(folder, ignore_errors=True)
                continue
            assignment = placement_pb2.ReplicaAssignment.FromString(manifest.read_bytes())
            try:
                opened.append(self.open(assignment))
            except Exception:
                log.exception("cannot reopen the replica in %s", folder)
        return opened

    def open(self, assignment: placement_pb2.ReplicaAssignment) -> ShardReplica:
        """Open (creating if new) the replica of ``assignment``; idempotent."""
        key = (assignment.collection.collection_id, assignment.shard_id)
        # Opens are serialized by their own lock: ``_lock`` is held only to read or change
        # the table, so lookups and the heartbeat's stats never wait for an open (seconds).
        with self._open_lock:
            with self._lock:
                if self._closed:
                    raise NotFound("the worker is shutting down")
                existing = self._replicas.get(key)
            if existing is not None:
                return existing
            folder = self.folder_of(*key)
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(str(folder / MANIFEST), assignment.SerializeToString())
            fsm = ShardStateMachine(
                folder / "points", collection_config(assignment.collection, assignment.shard_id),
                durable=self._durable, map_size=self._map_size,
            )
            peers = [r.raft_address for r in assignment.replicas if r.raft_address != assignment.raft_address]
            try:
                group = self._factory(fsm, assignment.raft_address, peers, folder / "raft")
            except BaseException:
                fsm.close()
                raise
            replica = ShardReplica(assignment=assignment, folder=folder, fsm=fsm, group=group)
            with self._lock:
                closed = self._closed
                if not closed:
                    self._replicas[key] = replica
            if closed:
                _stop(replica)
                raise NotFound("the worker is shutting down")
        log.info("opened shard %s/%d at %s (peers %s)", key[0], key[1], assignment.raft_address, ", ".join(peers) or "none")
        return replica

    def drop(self, collection_id: str, shard_id: int) -> None:
        """Close the replica and delete its files."""
        with self._lock:
            replica = self._replicas.pop((collection_id, shard_id), None)
        folder = self.folder_of(collection_id, shard_id)
        if replica is not None:
            _stop(replica)
        if folder.exists():
            trash = folder.with_name(folder.name + f".drop-{uuid.uuid4().hex}")
            os.rename(folder, trash)
            shutil.rmtree(trash, ignore_errors=True)
        log.info("dropped shard %s/%d", collection_id, shard_id)

    def update(self, assignment: placement_pb2.ReplicaAssignment) -> None:
        """Take in a new member list of a hosted replica (after a move)."""
        key = (assignment.collection.collection_id, assignment.shard_id)
        with self._lock:
            replica = self._replicas.get(key)
            if replica is None or replica.assignment == assignment:
                return
            write_atomic(str(replica.folder / MANIFEST), assignment.SerializeToString())
            replica.reassign(assignment)
        log.info("shard %s/%d members now %s", key[0], key[1], ", ".join(r.raft_address for r in assignment.replicas))

    def converge_members(self, timeout: float = 5.0) -> list[str]:
        """On every group this worker leads, make one membership change towards
        its assignment (removals first). Returns what was changed."""
        done = []
        for replica in self.replicas():
            group = replica.group
            if not group.is_leader():
                continue
            wanted = {r.raft_address for r in replica.assignment.replicas}
            current = set(group.members())
            removals, additions = sorted(current - wanted), sorted(wanted - current)
            try:
                if removals:
                    group.remove_member(removals[0], timeout=timeout)
                    done.append(f"{replica.key[0]}/{replica.key[1]} -{removals[0]}")
                elif additions:
                    group.add_member(additions[0], timeout=timeout)
                    done.append(f"{replica.key[0]}/{replica.key[1]} +{additions[0]}")
            except Exception as exc:
                log.warning("membership change of shard %s/%d failed: %s", *replica.key, exc)
        if done:
            log.info("membership changes: %s", ", ".join(done))
        return done

    def reconcile(self, assignments: Sequence[placement_pb2.ReplicaAssignment]) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """Open the assigned replicas not open yet; drop the open ones no longer assigned.
        Returns (opened keys, dropped keys)."""
        wanted = {(a.collection.collection_id, a.shard_id): a for a in assignments}
        with self._lock:
            have = set(self._replicas)
        opened, dropped = [], []
        for key in sorted(have - set(wanted)):
            self.drop(*key)
            dropped.append(key)
        for key in sorted(set(wanted) & have):
            self.update(wanted[key])
        for key in sorted(set(wanted) - have):
            try:
                self.open(wanted[key])
                opened.append(key)
            except Exception:
                log.exception("cannot open shard %s/%d", *key)
        return opened, dropped

    def close(self) -> None:
        """Stop every group (their state stays on disk)."""
        with self._lock:
            self._closed = True
            replicas = list(self._replicas.values())
            self._replicas.clear()
        for replica in replicas:
            _stop(replica)


def _stop(replica: ShardReplica) -> None:
    try:
        replica.group.stop()
    except Exception:
        log.exception("stopping the group of shard %s/%d failed", *replica.key)
    try:
        replica.fsm.close()
    except Exception:
        log.exception("closing shard %s/%d failed", *replica.key)


