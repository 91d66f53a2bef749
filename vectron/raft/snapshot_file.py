"""The one-file snapshot format of a Raft group.

Layout::

    b"VXSNAP02" | u64 image size | sha256(image) (32 bytes) | u32 header length
    | u32 crc32(header) | RaftSnapshotHeader | FSM image (to the end of the file)

The header (protobuf ``vectron.v1.RaftSnapshotHeader``) carries pysyncobj's own
state (its last two applied log entries and the cluster) and the applied index;
the FSM image (an LMDB copy written by the state machine) follows it. The image
is written straight into the file, hashed by reading it back once, and the
fixed-size prefix is filled in last; the file is fsynced before pysyncobj (or
the group) renames it into place. Nothing in it is a pickle of our state.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import zlib
from collections.abc import Callable, Sequence
from typing import BinaryIO

from vectron.errors import StorageError
from vectron.v1 import raft_pb2

__all__ = ["write_snapshot", "verify_snapshot", "open_image", "SNAPSHOT_MAGIC"]

logger = logging.getLogger(__name__)

SNAPSHOT_MAGIC = b"VXSNAP02"
_PREFIX = struct.Struct("<8sQ32sII")
_FORMAT = 2
_CHUNK = 1 << 20

LogEntryTuple = tuple[bytes, int, int]  # pysyncobj's (command, index, term)


def _entry(t: LogEntryTuple) -> raft_pb2.RaftLogEntry:
    return raft_pb2.RaftLogEntry(command=bytes(t[0]), index=int(t[1]), term=int(t[2]))


def write_snapshot(
    path: str,
    write_image: Callable[[BinaryIO], None],
    last_entry: LogEntryTuple,
    prev_entry: LogEntryTuple,
    cluster: Sequence[str],
    image_applied_index: int = 0,
) -> raft_pb2.RaftSnapshotHeader:
    """Write a snapshot file at ``path`` (fsynced): pysyncobj's state, then the
    image ``write_image(file)`` writes (e.g. ``StateMachine.snapshot``), whose own
    applied index is ``image_applied_index`` (the state machine's, 0: unknown)."""
    header = raft_pb2.RaftSnapshotHeader(
        format=_FORMAT,
        applied_index=int(last_entry[1]),
        last_entry=_entry(last_entry),
        prev_entry=_entry(prev_entry),
        cluster=sorted(cluster),
        image_applied_index=int(image_applied_index),
    )
    raw = header.SerializeToString()
    start = _PREFIX.size + len(raw)
    with open(path, "w+b") as out:
        out.write(b"\0" * _PREFIX.size)  # filled in once the image is known
        out.write(raw)
        out.flush()
        write_image(out)
        out.flush()
        size = out.seek(0, os.SEEK_END) - start
        out.seek(start)
        digest = hashlib.sha256()
        while chunk := out.read(_CHUNK):
            digest.update(chunk)
        out.seek(0)
        out.write(_PREFIX.pack(SNAPSHOT_MAGIC, size, digest.digest(), len(raw), zlib.crc32(raw)))
        out.flush()
        os.fsync(out.fileno())
    logger.info("snapshot %s written at index %d (%d bytes of state)", path, header.applied_index, size)
    return header


def _read_prefix(f: BinaryIO, path: str) -> tuple[raft_pb2.RaftSnapshotHeader, int, bytes, int]:
    prefix = f.read(_PREFIX.size)
    if len(prefix) != _PREFIX.size:
        raise StorageError(f"snapshot {path} is truncated")
    magic, size, sha, length, crc = _PREFIX.unpack(prefix)
    if magic != SNAPSHOT_MAGIC:
        raise StorageError(f"snapshot {path} is not a Vectron snapshot (or an unfinished one)")
    raw = f.read(length)
    if len(raw) != length or zlib.crc32(raw) != crc:
        raise StorageError(f"snapshot {path}: header checksum mismatch")
    header = raft_pb2.RaftSnapshotHeader.FromString(raw)
    if header.format != _FORMAT:
        raise StorageError(f"snapshot {path}: unknown format {header.format}")
    return header, size, sha, _PREFIX.size + length


def verify_snapshot(path: str) -> raft_pb2.RaftSnapshotHeader:
    """Read and check a snapshot file; raise :class:`StorageError` if it is damaged."""
    try:
        with open(path, "rb") as f:
            header, expected_size, expected_sha, _ = _read_prefix(f, path)
            digest = hashlib.sha256()
            size = 0
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise StorageError(f"snapshot {path} is unreadable: {exc}") from exc
    if size != expected_size or digest.digest() != expected_sha:
        raise StorageError(f"snapshot {path}: state checksum mismatch (size {size}, expected {expected_size})")
    return header


def open_image(path: str) -> BinaryIO:
    """Open ``path`` positioned at the first byte of the FSM image (the image runs to EOF)."""
    f = open(path, "rb")
    try:
        _, _, _, offset = _read_prefix(f, path)
        f.seek(offset)
    except BaseException:
        f.close()
        raise
    return f
