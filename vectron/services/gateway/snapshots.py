"""Collection snapshots and restores: the gateway operations behind ``/v1/collections/{c}/snapshots``.

Owns :class:`Snapshots` and its results (:class:`SnapshotInfo`, :class:`Restored`).

* **create**: every shard's leader writes a consistent copy of its store (after a read
  barrier: it holds every write acknowledged before the call) and streams it here
  (``WorkerClient.export_shard``); the copies go into one file with a manifest and
  SHA-256 checksums (:mod:`.snapshot_file`).
* **where**: ``<snapshot folder>/<owner user id>/<collection>/<name>.tar`` (0600 files,
  0700 folders) with ``<name>.json`` beside it (size, checksum, point count). Only API keys
  of the owning user reach them: another user's snapshot is simply not found.
* **restore** (into a NEW collection, any shard count): the uploaded file is checked whole
  first (manifest, sizes, checksums, each shard's store config); only then is the
  collection created, and every point re-sent through the normal write path in batches,
  re-routed by the new collection's shard count. A failure after creation drops the new
  collection again.

Nothing here holds a whole file in memory: uploads, downloads and shard copies stream.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import re
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass

from pydantic import ValidationError

from vectron.errors import CollectionNotFound, InvalidArgument, NotFound, ResourceExhausted, Unavailable, VectronError
from vectron.services.gateway import models as m
from vectron.services.gateway.api import Gateway, Principal
from vectron.services.gateway.shard_calls import CallPolicy, ShardCaller, settle_writes
from vectron.services.gateway.snapshot_file import (
    CollectionManifest,
    HnswManifest,
    Manifest,
    ShardManifest,
    sha256_of,
    unpack_snapshot,
    write_snapshot,
)
from vectron.services.gateway.workers import PointWrite, ShardTarget, WorkerClient
from vectron.services.placement.routing import group_by_shard
from vectron.store import SnapshotPoint, SnapshotReader
from vectron.v1 import placement_pb2

__all__ = ["Snapshots", "SnapshotInfo", "Restored", "RESTORE_BATCH", "DEFAULT_MAX_UPLOAD_BYTES"]

log = logging.getLogger(__name__)

RESTORE_BATCH = 256  # points per upsert while restoring
DEFAULT_MAX_UPLOAD_BYTES = 64 << 30
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
#: a shard copy may take long: one attempt may last minutes, a few attempts in all
_EXPORT_POLICY = CallPolicy(call_timeout=1800.0, attempts=6, deadline=3600.0)


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    collection: str
    created_at_ms: int
    size: int
    sha256: str
    points: int
    shards: int


@dataclass(frozen=True)
class Restored:
    collection: placement_pb2.CollectionInfo
    points: int
    source: str


def _private_dir(path: pathlib.Path) -> pathlib.Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


class Snapshots:
    """Snapshot operations over a :class:`Gateway` (see the module docstring). ``folder``
    None: this gateway keeps no snapshots and every operation answers 503."""

    def __init__(self, gateway: Gateway, folder: str | os.PathLike[str] | None, *, max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
                 clock: Callable[[], float] = time.time) -> None:
        self.gateway = gateway
        self.folder = pathlib.Path(folder) if folder else None
        self.max_upload_bytes = max_upload_bytes
        self._clock = clock
        calls = gateway.shards
        self._exports = ShardCaller(calls.routing, calls.router, calls.workers, calls.pool, _EXPORT_POLICY)

    # -- places --------------------------------------------------------------------------
    def _root(self) -> pathlib.Path:
        if self.folder is None:
            raise Unavailable("this gateway keeps no snapshots (it was started without a data folder)")
        return _private_dir(self.folder)

    def _dir(self, p: Principal, collection: str) -> pathlib.Path:
        if not _NAME.match(collection):
            raise CollectionNotFound(f"collection {collection!r} not found", field="collection")
        return self._root() / p.user_id / collection

    def staging(self) -> pathlib.Path:
        """A private scratch folder (delete it when done)."""
        return pathlib.Path(tempfile.mkdtemp(prefix="staging-", dir=_private_dir(self._root() / ".staging")))

    # -- create, list, open, delete ------------------------------------------------------
    def create(self, api_key: str | None, collection: str) -> SnapshotInfo:
        p = self.gateway.authorize(api_key)
        table = self.gateway.routing.refresh(p.user_id, collection)
        info = table.collection
        staging = self.staging()
        try:
            files = {s.shard_id: staging / f"shard-{s.shard_id}.mdb" for s in table.shards}

            def export(path: pathlib.Path) -> Callable[[WorkerClient, ShardTarget, float], None]:
                def run(client: WorkerClient, shard: ShardTarget, timeout: float) -> None:
                    with open(path, "w+b") as out:
                        client.export_shard(shard, out, timeout)

                return run

            results = self._exports.fan_out(p.user_id, collection, {s: export(f) for s, f in files.items()}, write=False, consistency="linearizable")
            failed = {s: r for s, r in results.items() if isinstance(r, VectronError)}
            if failed:
                first = next(iter(failed.values()))
                raise Unavailable(f"shard(s) {sorted(failed)} of {collection!r} could not be copied: {first.message}")
            shards, indexes = [], {}
            for shard_id, path in sorted(files.items()):
                with SnapshotReader(path) as reader:
                    count = reader.count
                    indexes.update(reader.config.payload_indexes)
                shards.append(ShardManifest(shard_id=shard_id, file=f"shard-{shard_id}.mdb", bytes=path.stat().st_size,
                                            sha256=sha256_of(path), points=count))
            now = int(self._clock() * 1000)
            manifest = Manifest(
                created_at_ms=now,
                collection=CollectionManifest(
                    name=info.name, dimension=info.dimension, distance=info.distance, shard_count=info.shard_count,
                    replication_factor=info.replication_factor,
                    hnsw=HnswManifest(m=info.hnsw.m, ef_construct=info.hnsw.ef_construct, ef=info.hnsw.ef),
                ),
                payload_indexes=indexes,
                shards=shards,
            )
            name = f"{collection}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now / 1000))}-{secrets.token_hex(3)}"
            target = _private_dir(self._dir(p, collection))
            tmp = staging / "snapshot.tar"
            write_snapshot(tmp, manifest, [files[s.shard_id] for s in shards])
            os.chmod(tmp, 0o600)
            result = SnapshotInfo(name, collection, now, tmp.stat().st_size, sha256_of(tmp), manifest.points, len(shards))
            os.replace(tmp, target / f"{name}.tar")
            _write_private(target / f"{name}.json", json.dumps(asdict(result)).encode())
            log.info("snapshot %s of %s: %d points, %d bytes", name, collection, result.points, result.size)
            return result
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def list(self, api_key: str | None, collection: str) -> list[SnapshotInfo]:
        p = self.gateway.authorize(api_key)
        folder = self._dir(p, collection)
        out = []
        for meta in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                out.append(SnapshotInfo(**json.loads(meta.read_text())))
            except (OSError, ValueError, TypeError):
                log.warning("unreadable snapshot record %s", meta)
        return sorted(out, key=lambda s: (s.created_at_ms, s.name))

    def path(self, api_key: str | None, collection: str, name: str) -> tuple[pathlib.Path, SnapshotInfo]:
        """The file of one snapshot of the caller's (to stream back) and its record."""
        return self._find(self.gateway.authorize(api_key), collection, name)

    def delete(self, api_key: str | None, collection: str, name: str) -> None:
        tar, _ = self._find(self.gateway.authorize(api_key, write=True), collection, name)
        tar.unlink(missing_ok=True)
        tar.with_suffix(".json").unlink(missing_ok=True)

    def _find(self, p: Principal, collection: str, name: str) -> tuple[pathlib.Path, SnapshotInfo]:
        folder = self._dir(p, collection)
        tar = folder / f"{name}.tar"
        if not _NAME.match(name) or not tar.is_file():
            raise NotFound(f"snapshot {name!r} of collection {collection!r} not found", field="name")
        return tar, SnapshotInfo(**json.loads(tar.with_suffix(".json").read_text()))

    # -- restore -------------------------------------------------------------------------
    def restore(self, p: Principal, api_key: str | None, name: str, upload: pathlib.Path,
                shards: int | None = None, replication_factor: int | None = None) -> Restored:
        """Restore the snapshot file ``upload`` (already on disk, checked here) into the new
        collection ``name`` of ``p``; ``shards``/``replication_factor`` default to the snapshot's."""
        staging = self.staging()
        try:
            manifest, files = unpack_snapshot(upload, staging)
            readers = []
            try:
                for shard, path in zip(manifest.shards, files, strict=True):
                    reader = SnapshotReader(path)
                    readers.append(reader)
                    cfg = reader.config
                    if (cfg.dimension, cfg.distance) != (manifest.collection.dimension, manifest.collection.distance) or reader.count != shard.points:
                        raise InvalidArgument(f"the snapshot file is corrupt: {shard.file} does not match the manifest", field="body")
                return self._load(p, api_key, name, manifest, readers, shards, replication_factor)
            finally:
                for reader in readers:
                    reader.close()
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _load(self, p: Principal, api_key: str | None, name: str, manifest: Manifest, readers: list[SnapshotReader],
              shards: int | None, replication_factor: int | None) -> Restored:
        plan = p.plan
        if plan.max_points and manifest.points > plan.max_points:
            raise ResourceExhausted(f"plan {plan.name!r} allows {plan.max_points} points per collection; the snapshot has {manifest.points}", field="body")
        c = manifest.collection
        try:
            hnsw = m.HnswIn(m=c.hnsw.m or None, ef_construct=c.hnsw.ef_construct or None, ef=c.hnsw.ef or None)
            request = m.CreateCollectionRequest(
                dimension=c.dimension, distance=c.distance, shards=shards or c.shard_count,
                replication_factor=replication_factor or c.replication_factor, hnsw=hnsw,
                payload_indexes=[m.PayloadIndexIn(field=f, type=t) for f, t in sorted(manifest.payload_indexes.items())] or None,
            )
        except ValidationError as exc:
            raise InvalidArgument(f"the snapshot's collection settings are not valid here: {str(exc).splitlines()[0]}", field="body") from None
        info = self.gateway.create_collection(api_key, name, request)
        try:
            written = 0
            for reader in readers:
                for batch in reader.batches(RESTORE_BATCH):
                    written += self._upsert(p.user_id, name, info, batch)
        except BaseException:
            log.warning("restore into %s failed after %d points: dropping the new collection", name, written, exc_info=True)
            try:
                self.gateway.placement.drop_collection(p.user_id, name)
            except (NotFound, VectronError):
                log.exception("could not drop the half-restored collection %s", name)
            finally:
                self.gateway.routing.forget(p.user_id, name)
            raise
        log.info("restored %d points of %s into %s (%d shards)", written, c.name, name, info.shard_count)
        return Restored(info, written, c.name)

    def _upsert(self, owner: str, name: str, info: placement_pb2.CollectionInfo, batch: list[SnapshotPoint]) -> int:
        writes = [PointWrite(pt.id, pt.vector.tolist(), pt.payload, pt.payload_json) for pt in batch]
        groups = group_by_shard([pt.id for pt in batch], info.shard_count, info.hash_scheme)
        base = uuid.uuid4().hex

        def send(part: list[PointWrite], rid: str) -> Callable[[WorkerClient, ShardTarget, float], int]:
            return lambda client, shard, timeout: client.upsert(shard, part, rid, timeout)

        calls = {s: send([writes[i] for i in idx], f"{base}-{s}") for s, idx in groups.items()}
        results = self.gateway.shards.fan_out(owner, name, calls, write=True)
        settle_writes(results, {s: [batch[i].id for i in idx] for s, idx in groups.items()}, "restore", total=len(batch))
        return len(batch)


def _write_private(path: pathlib.Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
