"""The one-file snapshot format of a Raft group.

Layout::

    b"VXSNAP01" | u32 header length | u32 crc32(header) | RaftSnapshotHeader | FSM image

The header (protobuf ``vectron.v1.RaftSnapshotHeader``) carries pysyncobj's own
state (its last two applied log entries and the cluster), the applied index,
and the size and sha256 of the FSM image that follows (an LMDB copy written by
``StateMachine.snapshot``). The file is fsynced before it is renamed into place
by pysyncobj. Nothing in it is a pickle of our state.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import zlib
from collections.abc import Sequence
from typing import BinaryIO

from vectron.errors import StorageError
from vectron.raft.fsm import StateMachine
from vectron.v1 import raft_pb2

__all__ = ["write_snapshot", "verify_snapshot", "open_image", "SNAPSHOT_MAGIC"]

logger = logging.getLogger(__name__)

SNAPSHOT_MAGIC = b"VXSNAP01"
_PREFIX = struct.Struct("<8sII")
_FORMAT = 1
_CHUNK = 1 << 20

LogEntryTuple = tuple[bytes, int, int]  # pysyncobj's (command, index, term)


def _entry(t: LogEntryTuple) -> raft_pb2.RaftLogEntry:
    return raft_pb2.RaftLogEntry(command=bytes(t[0]), index=int(t[1]), term=int(t[2]))


def write_snapshot(
    path: str,
    fsm: StateMachine,
    last_entry: LogEntryTuple,
    prev_entry: LogEntryTuple,
    cluster: Sequence[str],
) -> raft_pb2.RaftSnapshotHeader:
    """Write ``fsm``'s image and pysyncobj's state to ``path`` (fsynced)."""
    image_path = path + ".image"
    try:
        with open(image_path, "w+b") as image:
            fsm.snapshot(image)
            image.flush()
            size = image.seek(0, os.SEEK_END)
            image.seek(0)
            digest = hashlib.sha256()
            while chunk := image.read(_CHUNK):
                digest.update(chunk)
            header = raft_pb2.RaftSnapshotHeader(
                format=_FORMAT,
                applied_index=int(last_entry[1]),
                last_entry=_entry(last_entry),
                prev_entry=_entry(prev_entry),
                cluster=sorted(cluster),
                fsm_size=size,
                fsm_sha256=digest.digest(),
            )
            raw = header.SerializeToString()
            with open(path, "wb") as out:
                out.write(_PREFIX.pack(SNAPSHOT_MAGIC, len(raw), zlib.crc32(raw)))
                out.write(raw)
                image.seek(0)
                while chunk := image.read(_CHUNK):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
    finally:
        try:
            os.unlink(image_path)
        except FileNotFoundError:
            pass
    logger.info("snapshot %s written at index %d (%d bytes of state)", path, header.applied_index, size)
    return header


def _read_header(f: BinaryIO, path: str) -> tuple[raft_pb2.RaftSnapshotHeader, int]:
    prefix = f.read(_PREFIX.size)
    if len(prefix) != _PREFIX.size:
        raise StorageError(f"snapshot {path} is truncated")
    magic, length, crc = _PREFIX.unpack(prefix)
    if magic != SNAPSHOT_MAGIC:
        raise StorageError(f"snapshot {path} is not a Vectron snapshot")
    raw = f.read(length)
    if len(raw) != length or zlib.crc32(raw) != crc:
        raise StorageError(f"snapshot {path}: header checksum mismatch")
    header = raft_pb2.RaftSnapshotHeader.FromString(raw)
    if header.format != _FORMAT:
        raise StorageError(f"snapshot {path}: unknown format {header.format}")
    return header, _PREFIX.size + length


def verify_snapshot(path: str) -> raft_pb2.RaftSnapshotHeader:
    """Read and check a snapshot file; raise :class:`StorageError` if it is damaged."""
    try:
        with open(path, "rb") as f:
            header, _ = _read_header(f, path)
            digest = hashlib.sha256()
            size = 0
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise StorageError(f"snapshot {path} is unreadable: {exc}") from exc
    if size != header.fsm_size or digest.digest() != header.fsm_sha256:
        raise StorageError(f"snapshot {path}: state checksum mismatch (size {size}, expected {header.fsm_size})")
    return header


def open_image(path: str) -> BinaryIO:
    """Open ``path`` positioned at the first byte of the FSM image (the image runs to EOF)."""
    f = open(path, "rb")
    try:
        _, offset = _read_header(f, path)
        f.seek(offset)
    except BaseException:
        f.close()
        raise
    return f
