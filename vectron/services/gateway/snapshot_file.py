"""The collection snapshot file: an uncompressed tar holding ``manifest.json`` first, then
one ``shard-<i>.mdb`` per shard (each a consistent LMDB copy of that shard's store).

Owns :class:`Manifest` (validated with pydantic: a file from elsewhere is untrusted
input), :func:`write_snapshot` (streams the shard files into the tar, never holding a
file in memory) and :func:`unpack_snapshot` (reads the manifest, copies each shard
member out while hashing it and refuses the file, with
:class:`~vectron.errors.InvalidArgument`, on any mismatch: a truncated or corrupted
file changes nothing). Member names in the tar are never used as paths: shards are
written to names chosen here.
"""

from __future__ import annotations

import hashlib
import io
import json
import pathlib
import tarfile
import time
from collections.abc import Sequence
from typing import BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vectron.errors import InvalidArgument

__all__ = ["FORMAT", "HnswManifest", "CollectionManifest", "ShardManifest", "Manifest", "write_snapshot", "unpack_snapshot", "sha256_of"]

FORMAT = "vectron-collection-snapshot"
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 1 << 20
_CHUNK = 1 << 20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HnswManifest(_Strict):
    m: int = Field(ge=0)
    ef_construct: int = Field(ge=0)
    ef: int = Field(ge=0)


class CollectionManifest(_Strict):
    name: str
    dimension: int = Field(ge=1)
    distance: Literal["cosine", "dot", "euclid"]
    shard_count: int = Field(ge=1)
    replication_factor: int = Field(ge=1)
    hnsw: HnswManifest


class ShardManifest(_Strict):
    shard_id: int = Field(ge=0)
    file: str = Field(pattern=r"^shard-[0-9]+\.mdb$")
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    points: int = Field(ge=0)


class Manifest(_Strict):
    format: Literal["vectron-collection-snapshot"] = FORMAT
    version: Literal[1] = 1
    created_at_ms: int
    collection: CollectionManifest
    #: payload field -> index type, as the shards' stores had them
    payload_indexes: dict[str, str] = Field(default_factory=dict)
    shards: list[ShardManifest]

    @property
    def points(self) -> int:
        return sum(s.points for s in self.shards)


def sha256_of(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _add(tar: tarfile.TarFile, name: str, size: int, data: BinaryIO) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = int(time.time())
    tar.addfile(info, data)


def write_snapshot(out: pathlib.Path, manifest: Manifest, shard_files: Sequence[pathlib.Path]) -> None:
    """Write the tar at ``out``: the manifest, then each shard file (streamed)."""
    body = manifest.model_dump_json(indent=2).encode()
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, MANIFEST, len(body), io.BytesIO(body))
        for shard, path in zip(manifest.shards, shard_files, strict=True):
            with open(path, "rb") as f:
                _add(tar, shard.file, shard.bytes, f)


def _corrupt(why: str) -> InvalidArgument:
    return InvalidArgument(f"the snapshot file is corrupt or truncated: {why}; nothing was restored", field="body")


def unpack_snapshot(path: pathlib.Path, staging: pathlib.Path) -> tuple[Manifest, list[pathlib.Path]]:
    """Check the snapshot at ``path`` whole and copy its shard files into ``staging``;
    the manifest and the shard files in manifest order. InvalidArgument (400) if the
    file is not a snapshot, is truncated, or any shard's size or SHA-256 differs."""
    try:
        with tarfile.open(path, "r:") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile():
                raise _corrupt(f"it does not start with {MANIFEST}")
            if first.size > MAX_MANIFEST_BYTES:
                raise _corrupt(f"{MANIFEST} is over {MAX_MANIFEST_BYTES} bytes")
            raw = tar.extractfile(first).read()  # type: ignore[union-attr]
            try:
                manifest = Manifest.model_validate(json.loads(raw))
            except (ValueError, ValidationError) as exc:
                raise _corrupt(f"{MANIFEST} is not valid: {str(exc).splitlines()[0]}") from None
            ids = sorted(s.shard_id for s in manifest.shards)
            files = {s.file for s in manifest.shards}
            if not ids or ids != list(range(len(ids))) or len(files) != len(ids):
                raise _corrupt("the manifest's shard list is not shards 0..n-1 with one file each")
            wanted = {s.file: s for s in manifest.shards}
            copied: dict[str, pathlib.Path] = {}
            while (member := tar.next()) is not None:  # (iterating the TarFile would start over)
                shard = wanted.get(member.name)
                if shard is None or member.name in copied or not member.isfile():
                    raise _corrupt(f"unexpected member {member.name!r}")
                if member.size != shard.bytes:
                    raise _corrupt(f"{member.name} has {member.size} bytes, the manifest says {shard.bytes}")
                target = staging / f"shard-{shard.shard_id}.mdb"
                digest = hashlib.sha256()
                size = 0
                source = tar.extractfile(member)
                assert source is not None
                with open(target, "wb") as out:
                    while chunk := source.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                if size != shard.bytes or digest.hexdigest() != shard.sha256:
                    raise _corrupt(f"{member.name} does not match its SHA-256 in the manifest")
                copied[member.name] = target
            missing = sorted(set(wanted) - set(copied))
            if missing:
                raise _corrupt(f"missing shard file(s) {', '.join(missing)}")
    except tarfile.TarError as exc:
        raise _corrupt(f"not a readable tar ({exc})") from None
    except EOFError:
        raise _corrupt("it ends early") from None
    return manifest, [copied[s.file] for s in sorted(manifest.shards, key=lambda s: s.shard_id)]
