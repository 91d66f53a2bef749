"""A durable Raft journal for pysyncobj: entries are fsynced before they count.

pysyncobj's own ``FileJournal`` writes through an mmap and never syncs it (nor
its term/vote meta file), so a power loss can forget entries this node already
acknowledged. :class:`DurableJournal` implements pysyncobj's ``Journal``
interface over an append-only file of checksummed records:

* ``add``/``clear`` write immediately (the page cache:
  enough to survive a process crash) and mark the journal dirty;
* :meth:`DurableJournal.sync` fdatasyncs a dirty journal. The group calls it
  before every message leaves the node (so no ``next_node_idx`` acknowledgement
  and no ``append_entries`` goes out for an entry that is not on disk) and
  before every tick (so a leader counts its own entry only once it is on disk).
  One fsync covers every entry added since the last one (group commit);
* term and vote are written with fsync before ``setCurrentTerm`` returns (Raft
  requires them durable before a vote is sent);
* ``deleteEntriesFrom`` is lazy and only cuts the log on a real conflict (see
  its docstring: pysyncobj truncates and re-adds on every overlapping append);
* compaction (``deleteEntriesTo``) rewrites the file beside and renames it.

A torn or corrupt tail (crash in the middle of a write) is cut off at load.
With ``durable=False`` nothing is ever fsynced: acknowledged writes then
survive a process crash (kill -9) but not a power loss or kernel crash.

Nothing is pickled: records are ``u32 length | u64 index | u64 term | command
bytes | u32 crc32``; the meta file is JSON.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from typing import Any

from pysyncobj.journal import Journal

__all__ = ["DurableJournal"]

logger = logging.getLogger(__name__)

_MAGIC = b"VXJRNL01"
_LEN = struct.Struct("<I")
_IDX_TERM = struct.Struct("<QQ")
_CRC = struct.Struct("<I")


def _fsync_dir(path: str) -> None:
    fd = os.open(os.path.dirname(os.path.abspath(path)) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _encode(command: bytes, idx: int, term: int) -> bytes:
    payload = _IDX_TERM.pack(idx, term) + command
    return _LEN.pack(len(payload)) + payload + _CRC.pack(zlib.crc32(payload))


class DurableJournal(Journal):  # type: ignore[misc]
    """pysyncobj's journal interface over an fsynced append-only file."""

    def __init__(self, path: str, *, durable: bool = True) -> None:
        self._path = path
        self._meta_path = path + ".meta"
        self._durable = durable
        self._entries: list[tuple[bytes, int, int]] = []
        self._offsets: list[int] = []
        self._shadow: list[tuple[tuple[bytes, int, int], int, int]] = []  # see deleteEntriesFrom
        self._dirty = False
        self.syncs = 0  # number of fsyncs done (for benchmarks and tests)
        self._fd = self._open_and_load()
        self._meta: dict[str, Any] = self._load_meta()
        self._meta_saved = True

    # -- durability ------------------------------------------------------------------
    @property
    def durable(self) -> bool:
        return self._durable

    def sync(self) -> None:
        """Make every entry added so far durable (no-op when clean or not durable).

        Also settles a lazy ``deleteEntriesFrom`` whose tail met no conflict."""
        if self._shadow:
            self._restore_shadow()
        if self._dirty:
            self._dirty = False
            if self._durable:
                os.fdatasync(self._fd)
                self.syncs += 1

    # -- pysyncobj Journal -----------------------------------------------------------
    def add(self, command: bytes, idx: int, term: int) -> None:
        command = bytes(command)
        entry = (command, idx, term)
        if self._shadow:
            pos = idx - self._shadow[0][0][1]
            if 0 <= pos < len(self._shadow) and self._shadow[pos][0] == entry:
                if pos == 0 and self._shadow[0][1] == self._end:
                    # re-sent entry identical to the one on disk: take it back, no write
                    _, offset, end = self._shadow.pop(0)
                    self._entries.append(entry)
                    self._offsets.append(offset)
                    self._end = end
                    return
                if not self._entries:
                    # after clear(): a snapshot's entry found in the old log; keep what follows it
                    keep = [e for e, _, _ in self._shadow[pos:]]
                    offsets, end = self._rewrite(keep)
                    ends = offsets[1:] + [end]
                    self._entries, self._offsets = [keep[0]], [offsets[0]]
                    self._end = ends[0]
                    self._phys_end = end
                    self._shadow = list(zip(keep[1:], offsets[1:], ends[1:]))
                    return
            self._drop_shadow()  # a real conflict: cut the old tail here
        record = _encode(command, idx, term)
        offset = self._end
        os.pwrite(self._fd, record, offset)
        self._entries.append(entry)
        self._offsets.append(offset)
        self._end = self._phys_end = offset + len(record)
        self._dirty = True

    def clear(self) -> None:
        """Empty the log, lazily: pysyncobj clears the journal when it loads a
        snapshot whose entries are not the journal's first two (a crash between
        writing the dump and compacting, or a snapshot sent by the leader) and
        re-adds the snapshot's last two entries. As Raft says, if the log holds
        the snapshot's last entry, the entries after it are kept (restored at
        the next :meth:`sync`); otherwise the whole old log goes."""
        ends = self._offsets[1:] + [self._end]
        self._shadow = list(zip(self._entries, self._offsets, ends)) + self._shadow
        self._entries = []
        self._offsets = []
        self._end = len(_MAGIC)

    def deleteEntriesFrom(self, entryFrom: int) -> None:  # noqa: N802 (pysyncobj's name)
        """Remove entries from position ``entryFrom`` on, lazily.

        pysyncobj 0.3.17 calls this for every append_entries that overlaps the
        log, conflict or not, and then re-adds the same entries (Raft only
        truncates on a conflict). The removed records stay on disk as a shadow
        tail: re-added identical entries are taken back without a write; the
        first different entry cuts the tail; at the next :meth:`sync` (before
        anything is sent) a tail that met no conflict is restored, as Raft says.
        """
        if entryFrom >= len(self._entries):
            return
        ends = self._offsets[entryFrom + 1 :] + [self._end]
        removed = [(e, o, end) for e, o, end in zip(self._entries[entryFrom:], self._offsets[entryFrom:], ends)]
        self._shadow = removed + self._shadow
        self._end = self._offsets[entryFrom]
        del self._entries[entryFrom:]
        del self._offsets[entryFrom:]

    def _drop_shadow(self) -> None:
        self._shadow = []
        self._truncate(self._end)

    def _restore_shadow(self) -> None:
        for entry, offset, end in self._shadow:
            self._entries.append(entry)
            self._offsets.append(offset)
            self._end = end
        self._shadow = []

    def deleteEntriesTo(self, entryTo: int) -> None:  # noqa: N802
        if self._shadow:
            self._restore_shadow()
        keep = self._entries[entryTo:]
        offsets, end = self._rewrite(keep)
        self._entries = list(keep)
        self._offsets = offsets
        self._end = self._phys_end = end
        self._dirty = False

    def _rewrite(self, entries: list[tuple[bytes, int, int]]) -> tuple[list[int], int]:
        """Replace the file with ``entries`` (written beside, fsynced, renamed);
        returns their offsets and the end offset."""
        tmp = self._path + ".tmp"
        offsets = []
        pos = len(_MAGIC)
        with open(tmp, "wb") as f:
            f.write(_MAGIC)
            for command, idx, term in entries:
                record = _encode(command, idx, term)
                f.write(record)
                offsets.append(pos)
                pos += len(record)
            f.flush()
            if self._durable:
                os.fsync(f.fileno())
        if self._durable:
            _fsync_dir(self._path)  # a full dump renamed into this folder just before is durable first
        os.close(self._fd)
        os.replace(tmp, self._path)
        if self._durable:
            _fsync_dir(self._path)
        self._fd = os.open(self._path, os.O_RDWR)
        return offsets, pos

    def __getitem__(self, item: int | slice) -> Any:
        return self._entries[item]

    def __len__(self) -> int:
        return len(self._entries)

    def _destroy(self) -> None:
        if self._fd >= 0:
            try:
                self.sync()
                self._save_meta(sync=self._durable)
            finally:
                os.close(self._fd)
                self._fd = -1

    def setRaftCommitIndex(self, raftCommitIndex: int) -> None:  # noqa: N802,N803
        if self._meta.get("commit") != raftCommitIndex:
            self._meta["commit"] = raftCommitIndex
            self._meta_saved = False

    def getRaftCommitIndex(self) -> int:  # noqa: N802
        return int(self._meta.get("commit", 1))

    def setCurrentTerm(self, term: int, votedForNodeId: str | None) -> None:  # noqa: N802,N803
        self._meta["term"] = term
        self._meta["voted_for"] = votedForNodeId
        self._save_meta(sync=self._durable)

    def getCurrentTerm(self) -> int:  # noqa: N802
        return int(self._meta.get("term", 0))

    def getVotedForNodeId(self) -> str | None:  # noqa: N802
        return self._meta.get("voted_for")

    def onOneSecondTimer(self) -> None:  # noqa: N802
        if not self._meta_saved:
            self._save_meta(sync=False)  # the commit index is a hint: no fsync needed

    # -- internals -------------------------------------------------------------------
    def _truncate(self, offset: int) -> None:
        os.ftruncate(self._fd, offset)
        self._end = self._phys_end = offset
        self._dirty = True

    def _open_and_load(self) -> int:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        data = b""
        size = os.fstat(fd).st_size
        if size:
            with open(self._path, "rb") as f:
                data = f.read()
        if not data.startswith(_MAGIC):
            if size:
                os.close(fd)
                raise ValueError(f"{self._path} is not a Vectron raft journal")
            os.pwrite(fd, _MAGIC, 0)
            if self._durable:
                os.fsync(fd)
                _fsync_dir(self._path)
            self._end = self._phys_end = len(_MAGIC)
            return fd
        pos = len(_MAGIC)
        while pos + _LEN.size <= len(data):
            (length,) = _LEN.unpack_from(data, pos)
            end = pos + _LEN.size + length + _CRC.size
            if length < _IDX_TERM.size or end > len(data):
                break
            payload = data[pos + _LEN.size : pos + _LEN.size + length]
            if _CRC.unpack_from(data, end - _CRC.size)[0] != zlib.crc32(payload):
                break
            idx, term = _IDX_TERM.unpack_from(payload, 0)
            self._entries.append((payload[_IDX_TERM.size :], idx, term))
            self._offsets.append(pos)
            pos = end
        if pos != len(data):
            logger.warning("journal %s: cutting a torn tail of %d bytes", self._path, len(data) - pos)
            os.ftruncate(fd, pos)
            if self._durable:
                os.fsync(fd)
        self._end = self._phys_end = pos
        return fd

    def _load_meta(self) -> dict[str, Any]:
        try:
            with open(self._meta_path, "rb") as f:
                meta = json.loads(f.read())
                return meta if isinstance(meta, dict) else {}
        except FileNotFoundError:
            return {}
        except ValueError:
            logger.error("journal meta %s is unreadable; starting from term 0", self._meta_path)
            return {}

    def _save_meta(self, *, sync: bool) -> None:
        tmp = self._meta_path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(json.dumps(self._meta).encode())
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.replace(tmp, self._meta_path)
        if sync:
            _fsync_dir(self._meta_path)
        self._meta_saved = True
