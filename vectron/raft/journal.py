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
* term, vote and commit index (the ``.meta`` file) are replaced through
  :func:`vectron.raft.durable_file.write_atomic` (temp written, fsynced,
  renamed, folder fsynced) before ``setCurrentTerm`` returns (Raft requires
  them durable before a vote is sent) and on pysyncobj's one-second timer;
* ``deleteEntriesFrom`` is lazy and only cuts the log on a real conflict (see
  its docstring: pysyncobj truncates and re-adds on every overlapping append);
* every real truncation is logged at WARNING with its indexes and terms and
  counted (:attr:`DurableJournal.truncations`); one that replaces an entry at
  or below the applied index with a different one is an ERROR carrying
  :data:`APPLIED_TRUNCATION_MARKER` and counted in
  :attr:`DurableJournal.applied_truncations` (it must never happen: the
  jepsen-like runner fails a run whose node logs contain the marker);
* compaction (``deleteEntriesTo``) rewrites the file beside and renames it.

All file operations that durability depends on go through a
:class:`~vectron.raft.durable_file.FileLayer` (injectable for tests).

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
from collections.abc import Callable
from typing import Any

from vectron.raft.durable_file import OS_FILES, FileLayer, fsync_dir, write_atomic
from vectron.raft.pysyncobj_compat import JournalBase

__all__ = ["APPLIED_TRUNCATION_MARKER", "DurableJournal"]

logger = logging.getLogger(__name__)

_MAGIC = b"VXJRNL01"
_LEN = struct.Struct("<I")
_IDX_TERM = struct.Struct("<QQ")
_CRC = struct.Struct("<I")

#: Starts the ERROR line logged when an applied entry is replaced by a different
#: one (state machines may have diverged). Scanned for by the jepsen-like runner.
APPLIED_TRUNCATION_MARKER = "RAFT-APPLIED-TRUNCATION"

LogEntry = tuple[bytes, int, int]  # pysyncobj's (command, index, term)


def _encode(command: bytes, idx: int, term: int) -> bytes:
    payload = _IDX_TERM.pack(idx, term) + command
    return _LEN.pack(len(payload)) + payload + _CRC.pack(zlib.crc32(payload))


class DurableJournal(JournalBase):  # type: ignore[misc]
    """pysyncobj's journal interface over an fsynced append-only file."""

    def __init__(self, path: str, *, durable: bool = True, files: FileLayer = OS_FILES) -> None:
        self._path = path
        self._meta_path = path + ".meta"
        self._durable = durable
        self._fs = files
        self._entries: list[LogEntry] = []
        self._offsets: list[int] = []
        self._shadow: list[tuple[LogEntry, int, int]] = []  # see deleteEntriesFrom
        self._dirty = False
        self._applied_index: Callable[[], int] = lambda: 0
        self._overlap: tuple[int, int] | None = None  # see expect_overlap
        self.syncs = 0  # number of fsyncs done (for benchmarks and tests)
        self.truncations = 0  # real conflicts: entries cut and replaced by different ones
        self.applied_truncations = 0  # ... reaching an applied entry (must stay 0)
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
        if self._overlap is not None:
            logger.debug(
                "journal %s: overlapping re-send from index %d (last applied %d): the entries were identical",
                self._path,
                *self._overlap,
            )
            self._overlap = None
        if self._dirty:
            self._dirty = False
            if self._durable:
                self._fs.fdatasync(self._fd)
                self.syncs += 1

    # -- conflict detection -------------------------------------------------------------
    def track_applied(self, applied_index: Callable[[], int]) -> None:
        """Where to read the applied index (truncating at or below it is an ERROR)."""
        self._applied_index = applied_index

    def expect_overlap(self, from_index: int, last_applied: int) -> None:
        """pysyncobj is about to replace entries from ``from_index`` on, some of
        them applied (its "truncating already-applied" notice). Whether that is
        a harmless re-send or a conflict shows when the entries come back: a
        different entry is a conflict (ERROR, see :meth:`_drop_shadow`);
        otherwise the notice is logged at DEBUG at the next :meth:`sync`."""
        self._overlap = (from_index, last_applied)

    # -- pysyncobj Journal -----------------------------------------------------------
    def add(self, command: bytes, idx: int, term: int) -> None:
        command = bytes(command)
        entry = (command, idx, term)
        if self._shadow:
            pos = idx - self._shadow[0][0][1]
            if 0 <= pos < len(self._shadow) and self._shadow[pos][0] == entry:
                if pos == 0 and self._shadow[0][1] == self._end:  # type: ignore[has-type]
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
            self._drop_shadow(entry)  # a real conflict: cut the old tail here
        record = _encode(command, idx, term)
        offset = self._end
        self._fs.pwrite(self._fd, record, offset)
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

    def deleteEntriesFrom(self, entryFrom: int) -> None:
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

    def _drop_shadow(self, new: LogEntry) -> None:
        """Cut the shadow tail because ``new`` does not match it; log and count it.

        Shadow entries at or after ``new``'s index are truncated (WARNING,
        :attr:`truncations`); if ``new`` differs from the entry at its own index
        and the cut reaches the applied index, that is an ERROR with
        :data:`APPLIED_TRUNCATION_MARKER` (:attr:`applied_truncations`). Entries
        before ``new`` (only after ``clear()``, for a snapshot that supersedes
        them) are just discarded."""
        cut = [e for e, _, _ in self._shadow if e[1] >= new[1]]
        superseded = len(self._shadow) - len(cut)
        if cut:
            self.truncations += 1
            logger.warning(
                "journal %s: truncating %d entries, index %d (term %d) to %d (term %d): entry %d of term %d replaces them",
                self._path, len(cut), cut[0][1], cut[0][2], cut[-1][1], cut[-1][2], new[1], new[2],
            )
            replaced = next((e for e in cut if e[1] == new[1]), None)
            applied = self._applied_index()
            if replaced != new and cut[0][1] <= applied:
                self.applied_truncations += 1
                logger.error(
                    "%s journal %s: applied entry %d (term %d) replaced by a different entry of term %d "
                    "(applied index %d): state machines may have diverged",
                    APPLIED_TRUNCATION_MARKER, self._path, cut[0][1], cut[0][2], new[2], applied,
                )
        if superseded:
            logger.info("journal %s: %d entries before index %d superseded by a snapshot", self._path, superseded, new[1])
        self._overlap = None
        self._shadow = []
        self._truncate(self._end)

    def _restore_shadow(self) -> None:
        for entry, offset, end in self._shadow:
            self._entries.append(entry)
            self._offsets.append(offset)
            self._end = end
        self._shadow = []

    def deleteEntriesTo(self, entryTo: int) -> None:
        if self._shadow:
            self._restore_shadow()
        keep = self._entries[entryTo:]
        offsets, end = self._rewrite(keep)
        self._entries = list(keep)
        self._offsets = offsets
        self._end = self._phys_end = end
        self._dirty = False

    def _rewrite(self, entries: list[LogEntry]) -> tuple[list[int], int]:
        """Replace the file with ``entries`` (:func:`write_atomic`); returns
        their offsets and the end offset."""
        offsets = []
        pos = len(_MAGIC)
        records = [_MAGIC]
        for command, idx, term in entries:
            record = _encode(command, idx, term)
            records.append(record)
            offsets.append(pos)
            pos += len(record)
        if self._durable:
            fsync_dir(self._path, fs=self._fs)  # a full dump renamed into this folder just before is durable first
        self._fs.close(self._fd)
        write_atomic(self._path, b"".join(records), fs=self._fs, durable=self._durable)
        self._fd = self._fs.open(self._path, os.O_RDWR)
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
                self._fs.close(self._fd)
                self._fd = -1

    def setRaftCommitIndex(self, raftCommitIndex: int) -> None:
        if self._meta.get("commit") != raftCommitIndex:
            self._meta["commit"] = raftCommitIndex
            self._meta_saved = False

    def getRaftCommitIndex(self) -> int:
        return int(self._meta.get("commit", 1))

    def setCurrentTerm(self, term: int, votedForNodeId: str | None) -> None:
        self._meta["term"] = term
        self._meta["voted_for"] = votedForNodeId
        self._save_meta(sync=self._durable)

    def getCurrentTerm(self) -> int:
        return int(self._meta.get("term", 0))

    def getVotedForNodeId(self) -> str | None:
        return self._meta.get("voted_for")

    def onOneSecondTimer(self) -> None:
        if not self._meta_saved:
            self._save_meta(sync=self._durable)  # never an empty meta after a power loss

    # -- internals -------------------------------------------------------------------
    def _truncate(self, offset: int) -> None:
        self._fs.truncate(self._fd, offset)
        self._end = self._phys_end = offset
        self._dirty = True

    def _open_and_load(self) -> int:
        fd = self._fs.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        data = b""
        size = os.fstat(fd).st_size
        if size:
            with open(self._path, "rb") as f:
                data = f.read()
        if not data.startswith(_MAGIC):
            if size:
                self._fs.close(fd)
                raise ValueError(f"{self._path} is not a Vectron raft journal")
            self._fs.pwrite(fd, _MAGIC, 0)
            if self._durable:
                self._fs.fsync(fd)
                fsync_dir(self._path, fs=self._fs)
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
            self._fs.truncate(fd, pos)
            if self._durable:
                self._fs.fsync(fd)
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
        write_atomic(self._meta_path, json.dumps(self._meta).encode(), fs=self._fs, durable=sync)
        self._meta_saved = True
