"""The finite state machine (FSM) contract of a Raft group, hashicorp/raft style.

A Raft group (:class:`vectron.raft.RaftGroup`, or :class:`vectron.raft.InMemoryGroup`
in unit tests) owns a replicated log. Every committed entry is handed, in log
order, to the group's :class:`StateMachine`. The FSM is the only place where a
group's state changes.

Commands
    A command body is opaque bytes to this package: a serialized protobuf
    message of the group (one ``oneof`` per group, defined by each service).
    The group wraps it in an :class:`Entry` with the Raft index and the client's
    request id.

Determinism
    ``apply`` must compute the same result and the same effect on every replica.
    Anything random or time-dependent (UUIDs, salts, password hashes, timestamps)
    is decided by the proposing node and carried inside the command body.

Never raise, except StorageError
    ``apply`` returns a serialized result; errors are result *values* (e.g. a
    protobuf result with an error code, see :func:`vectron.errors.error_from_code`).
    An exception escaping ``apply`` inside pysyncobj stalls the node on that entry
    forever, so :class:`RaftGroup` catches it, logs it at CRITICAL and stops the
    node; :class:`LmdbStateMachine` turns exceptions of ``apply_command`` into
    :meth:`LmdbStateMachine.error_result` values and records them like results.
    The one exception: a failure of this replica's storage (disk full, I/O
    error: LMDB errors, OSError) is not a property of the entry and must never be
    recorded as its result (the replica would count the entry applied without
    its effect and diverge from the others, issue 14). ``apply`` then raises
    :class:`vectron.errors.StorageError` with nothing changed, and
    :class:`RaftGroup` retries the same entry until it persists (or the group
    stops); nothing after it is applied meanwhile.

Idempotence across restarts
    pysyncobj replays its journal on restart, and a client may retry a write
    whose outcome it did not learn. The FSM therefore persists, in ONE write
    transaction, (a) the effect, (b) the applied Raft index, (c) the dedup record
    ``request id -> result``. An entry at or below the stored applied index is
    skipped; a request id already seen is answered with the remembered result and
    not applied again. :class:`LmdbStateMachine` does this bookkeeping for you;
    :class:`DedupLedger` expresses it as plain key/value metadata so that an FSM
    over another LMDB writer (a store ``Collection.apply_batch(ops, meta=...)``)
    can reuse it.

Threading rules
    * ``apply``, ``snapshot`` and ``restore`` are called from ONE thread, the
      group's Raft thread, never concurrently with each other.
    * ``apply`` is called with strictly increasing indices (gaps are possible:
      the group itself consumes no-op entries such as read barriers and never
      hands them to the FSM).
    * Reads (:meth:`RaftGroup.read`) run on caller threads, concurrently with
      ``apply``. An FSM must make reads safe against a concurrent ``apply``: an
      LMDB FSM reads in its own read transaction (MVCC), never from Python
      structures that ``apply`` mutates without a lock.
    * ``snapshot`` must capture a consistent point-in-time image, i.e. exactly
      the state after the last applied entry (an LMDB copy taken in one pinned
      read transaction).
    * Optionally, ``begin_snapshot`` (called on the Raft thread) fixes that
      point and returns a writer the group runs on a helper thread, while
      ``apply`` goes on; the writer must only read the view it pinned.
      :class:`LmdbStateMachine` does this, so large snapshots never pause the
      node. The default (None) makes the group call ``snapshot`` on the Raft
      thread instead, which pauses heartbeats while it runs.
    * ``restore`` replaces the whole state with the image and must leave the old
      state intact if it fails (build beside, then swap). It raises on failure;
      the group then stops the node instead of running on empty state.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import shutil
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

import lmdb

from vectron.errors import StorageError
from vectron.raft.durable_file import fsync_dir

__all__ = [
    "Entry",
    "StateMachine",
    "DedupLedger",
    "LmdbStateMachine",
    "RAFT_DB",
    "is_storage_failure",
]

logger = logging.getLogger(__name__)

#: Name of the LMDB sub-database that holds the applied index and dedup records.
RAFT_DB = b"_raft"


def is_storage_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is this replica's storage failing (an LMDB
    error such as a full disk, an OSError) rather than something about the entry:
    ``apply`` must then raise StorageError, not record a result."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (lmdb.Error, OSError)):
            return True
        seen = seen.__cause__
    return False


@dataclass(frozen=True, slots=True)
class Entry:
    """One committed log entry handed to :meth:`StateMachine.apply`.

    ``index`` is the Raft log index (strictly increasing per group, starts at 1);
    ``request_id`` is the client's idempotency key (None: no dedup);
    ``body`` is the group's serialized protobuf command.
    """

    index: int
    request_id: str | None
    body: bytes


class StateMachine(abc.ABC):
    """The FSM contract: ``apply``, ``snapshot``, ``restore``. See the module docstring."""

    @abc.abstractmethod
    def apply(self, entry: Entry) -> bytes:
        """Apply one committed entry and return its serialized result.

        Never raises, except :class:`StorageError` when this replica's storage
        failed (nothing changed; the group retries the entry). Skips entries at
        or below the applied index and answers a request id already seen with
        the remembered result.
        """

    @abc.abstractmethod
    def snapshot(self, file: BinaryIO) -> None:
        """Write a consistent image of the whole state (applied index and dedup
        records included) to ``file``, a binary file open for writing. The caller
        frames, checksums and fsyncs it."""

    @abc.abstractmethod
    def restore(self, file: BinaryIO) -> None:
        """Replace the whole state with an image written by :meth:`snapshot`.

        ``file`` is positioned at the image's first byte and holds exactly the
        image (the caller already verified its checksum). Raise on failure and
        leave the previous state in place.
        """

    def applied_index(self) -> int:
        """The index of the last entry whose effect is persisted (0: none)."""
        return 0

    def begin_snapshot(self) -> Callable[[BinaryIO], None] | None:
        """Optional: fix the state *now* (on the Raft thread) and return a
        function that writes its image to a file later, on another thread,
        while ``apply`` goes on (e.g. an LMDB copy in a read transaction opened
        here). The group then takes snapshots without pausing the node. Return
        None (the default) to have ``snapshot`` called on the Raft thread."""
        return None

    def close(self) -> None:
        """Release resources (called once, when the group stops)."""


# --------------------------------------------------------------------------------------
# Dedup bookkeeping as key/value metadata
# --------------------------------------------------------------------------------------

_U64 = struct.Struct(">Q")


@dataclass(frozen=True, slots=True)
class DedupLedger:
    """Pure functions for the applied index and the dedup records as metadata.

    Everything is expressed as ``str -> bytes`` metadata written in the same
    transaction as the effect (``None`` as a value means "delete this key"), so
    any LMDB writer can carry it, e.g. a store ``Collection.apply_batch(ops,
    meta=...)`` with ``Collection.get_meta(key)`` as ``get``.

    Dedup records are bounded: they live in a ring of ``capacity`` slots; writing
    the record number ``n`` evicts the record that held slot ``n % capacity``.
    A retry therefore dedups as long as fewer than ``capacity`` other requests
    with ids were applied in between.

    Keys (under ``prefix``): ``applied`` (u64 index), ``dedup.count`` (u64),
    ``dedup.slot.<n>`` (request id), ``dedup.req.<request id>`` (u64 index + result).
    """

    capacity: int = 100_000
    prefix: str = "raft."

    @property
    def applied_key(self) -> str:
        return self.prefix + "applied"

    def _count_key(self) -> str:
        return self.prefix + "dedup.count"

    def _slot_key(self, slot: int) -> str:
        return f"{self.prefix}dedup.slot.{slot}"

    def request_key(self, request_id: str) -> str:
        return self.prefix + "dedup.req." + request_id

    # -- reading ---------------------------------------------------------------
    @staticmethod
    def decode_index(raw: bytes | None) -> int:
        return 0 if raw is None else _U64.unpack(bytes(raw[:8]))[0]

    def applied_index(self, get: Callable[[str], bytes | None]) -> int:
        """The stored applied index (0 if none), read with ``get(key)``."""
        return self.decode_index(get(self.applied_key))

    def lookup(self, get: Callable[[str], bytes | None], request_id: str | None) -> bytes | None:
        """The remembered result of ``request_id`` or None if not (or no longer) remembered."""
        if request_id is None:
            return None
        raw = get(self.request_key(request_id))
        if raw is None:
            return None
        return bytes(raw[8:])

    # -- writing ---------------------------------------------------------------
    def applied_meta(self, index: int) -> dict[str, bytes | None]:
        """Metadata for an entry that only advances the applied index."""
        return {self.applied_key: _U64.pack(index)}

    def record_meta(
        self,
        get: Callable[[str], bytes | None],
        index: int,
        request_id: str | None,
        result: bytes,
    ) -> dict[str, bytes | None]:
        """Metadata to write with the effect of entry ``index``: applied index and,
        if there is a request id, its dedup record (evicting the oldest when full)."""
        meta = self.applied_meta(index)
        if request_id is None:
            return meta
        count = self.decode_index(get(self._count_key()))
        slot_key = self._slot_key(count % self.capacity)
        evicted = get(slot_key)
        if evicted is not None:
            old_id = bytes(evicted).decode()
            if old_id != request_id:
                meta[self.request_key(old_id)] = None
        meta[slot_key] = request_id.encode()
        meta[self._count_key()] = _U64.pack(count + 1)
        meta[self.request_key(request_id)] = _U64.pack(index) + result
        return meta


# --------------------------------------------------------------------------------------
# An FSM over one LMDB environment
# --------------------------------------------------------------------------------------


class LmdbStateMachine(StateMachine):
    """A :class:`StateMachine` over one LMDB environment that does the bookkeeping.

    Subclasses implement :meth:`apply_command` (and may override
    :meth:`error_result`). The base class:

    * opens the env at ``path`` (a directory) with a ``_raft`` sub-db for the
      applied index and the dedup records (:class:`DedupLedger`);
    * skips entries at or below the applied index, answers seen request ids from
      their dedup record, and otherwise runs ``apply_command`` in a write
      transaction that also stores the applied index and the dedup record;
    * snapshots with ``env.copyfd(fd, compact=True, txn=pinned_read_txn)`` and
      restores by writing the copy beside the env, opening it, and swapping it in.

    Subclasses declare their named sub-dbs in :attr:`sub_dbs` (opened with the
    env, and again after every restore), get handles with :meth:`db` (never
    cache a handle across calls: a restore replaces it) and read with
    :meth:`read_txn`. :meth:`db` never opens a sub-db inside a transaction:
    opening one needs a write transaction of its own, which inside
    ``apply_command``'s would wait for itself forever. ``apply_command`` may only
    touch the transaction it is given. ``max_dbs`` counts the ``_raft`` sub-db too.
    """

    #: Names of the sub-dbs the subclass uses; opened (created) with the env and
    #: after every restore.
    sub_dbs: tuple[str, ...] = ()

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        map_size: int = 1 << 30,
        max_dbs: int = 16,
        dedup_capacity: int = 100_000,
        sync: bool = True,
    ) -> None:
        self._path = os.fspath(path)
        self._map_size = map_size
        self._max_dbs = max_dbs
        self._sync = sync
        self.ledger = DedupLedger(capacity=dedup_capacity, prefix="")
        self._lock = threading.RLock()  # guards the sub-db handle cache
        self._swap = threading.Condition()  # readers vs. env swaps (restore/close)
        self._readers = 0
        self._swapping = False
        self._dbs: dict[bytes, object] = {}
        self._late_dbs: list[bytes] = []  # undeclared names opened by db() outside a txn: reopened after a restore
        self._txns = threading.local()  # .depth: transactions of this object open on this thread
        self._recover_swap()
        self._env: lmdb.Environment | None = self._open(self._path)
        self._open_sub_dbs()
        self._applied = self._read_applied()

    # -- subclass API ------------------------------------------------------------
    @abc.abstractmethod
    def apply_command(self, txn: lmdb.Transaction, entry: Entry) -> bytes:
        """Apply ``entry.body`` inside ``txn`` (a write txn) and return the result.

        Deterministic; errors should be returned as result values. If it raises,
        the transaction is aborted (no effect) and :meth:`error_result` is
        recorded as the result instead.
        """

    def error_result(self, entry: Entry, exc: BaseException) -> bytes:
        """The result recorded when :meth:`apply_command` raised. Override to return
        the group's serialized error value; the default is empty bytes."""
        return b""

    @property
    def env(self) -> lmdb.Environment:
        env = self._env
        if env is None:
            raise StorageError(f"state machine at {self._path} is closed")
        return env

    @property
    def path(self) -> str:
        return self._path

    def db(self, name: bytes | str) -> object:
        """The handle of a sub-db declared in :attr:`sub_dbs` (or ``_raft``).

        An undeclared name is opened (created) on first use only outside any
        transaction (e.g. in a subclass's ``__init__``; it is then reopened after
        every restore too); inside ``apply_command`` or :meth:`read_txn` it raises
        :class:`StorageError` instead: opening a sub-db needs a write transaction
        of its own, which inside ``apply_command``'s would wait for itself forever.
        """
        key = name.encode() if isinstance(name, str) else name
        handle = self._dbs.get(key)
        if handle is None:
            if getattr(self._txns, "depth", 0):
                raise StorageError(
                    f"sub-db {key.decode(errors='replace')!r} of {type(self).__name__} is not open and cannot be "
                    "opened inside a transaction: declare it in sub_dbs (opened with the env and after every restore)"
                )
            with self._lock:
                handle = self._dbs.get(key)
                if handle is None:
                    handle = self.env.open_db(key, create=True)
                    self._dbs[key] = handle
                    if key not in self._late_dbs:
                        self._late_dbs.append(key)
        return handle

    @contextlib.contextmanager
    def _txn_scope(self) -> Iterator[None]:
        """Marks a transaction of this object open on the calling thread (see :meth:`db`)."""
        self._txns.depth = getattr(self._txns, "depth", 0) + 1
        try:
            yield
        finally:
            self._txns.depth -= 1

    @contextlib.contextmanager
    def read_txn(self) -> Iterator[lmdb.Transaction]:
        """A read transaction: a consistent view, safe concurrently with ``apply``
        and with ``restore`` (which waits for open read transactions to end and
        holds new ones back while it swaps the env). Keep it short and never wait
        on the group (propose, barrier) inside it: a restore would wait for it."""
        with self._swap:
            while self._swapping:
                self._swap.wait()
            self._readers += 1
        try:
            with self._txn_scope(), self.env.begin(write=False) as txn:
                yield txn
        finally:
            with self._swap:
                self._readers -= 1
                if self._readers == 0:
                    self._swap.notify_all()

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        with self._swap:
            self._swapping = True
            while self._readers:
                self._swap.wait()
        try:
            with self._lock:
                yield
        finally:
            with self._swap:
                self._swapping = False
                self._swap.notify_all()

    def applied_index(self) -> int:
        return self._applied

    def lookup_result(self, request_id: str) -> bytes | None:
        """The remembered result of a request id (None if not remembered)."""
        with self.read_txn() as txn:
            raft_db = self.db(RAFT_DB)
            return self.ledger.lookup(lambda k: txn.get(k.encode(), db=raft_db), request_id)

    # -- StateMachine --------------------------------------------------------------
    def apply(self, entry: Entry) -> bytes:
        try:
            return self._apply(entry)
        except Exception as exc:  # never raise out of apply, but for this replica's storage failing (retried)
            if is_storage_failure(exc):
                raise StorageError(f"state machine {self._path} could not persist entry {entry.index}: {exc!r}") from exc
            logger.critical("state machine %s failed to persist entry %d: %r", self._path, entry.index, exc)
            return self.error_result(entry, exc)

    def _apply(self, entry: Entry) -> bytes:
        env = self.env
        raft_db = self.db(RAFT_DB)
        if entry.index <= self._applied:
            logger.debug("skipping entry %d (applied index %d)", entry.index, self._applied)
            with env.begin() as txn:
                remembered = self.ledger.lookup(lambda k: txn.get(k.encode(), db=raft_db), entry.request_id)
            return remembered if remembered is not None else b""
        result: bytes
        try:
            with self._txn_scope(), env.begin(write=True) as txn:
                get = lambda k: txn.get(k.encode(), db=raft_db)  # noqa: E731
                remembered = self.ledger.lookup(get, entry.request_id)
                if remembered is not None:
                    logger.debug("request %s already applied; answering from dedup", entry.request_id)
                    self._write_meta(txn, raft_db, self.ledger.applied_meta(entry.index))
                    result = remembered
                else:
                    result = self.apply_command(txn, entry)
                    self._write_meta(txn, raft_db, self.ledger.record_meta(get, entry.index, entry.request_id, result))
        except Exception as exc:
            if is_storage_failure(exc):
                raise  # the disk, not the entry: never recorded as its result (apply raises StorageError)
            logger.exception("apply_command raised on entry %d; recording an error result", entry.index)
            result = self.error_result(entry, exc)
            with self._txn_scope(), env.begin(write=True) as txn:
                get = lambda k: txn.get(k.encode(), db=raft_db)  # noqa: E731
                self._write_meta(txn, raft_db, self.ledger.record_meta(get, entry.index, entry.request_id, result))
        self._applied = entry.index
        return result

    @staticmethod
    def _write_meta(txn: lmdb.Transaction, db: object, meta: Mapping[str, bytes | None]) -> None:
        for key, value in meta.items():
            if value is None:
                txn.delete(key.encode(), db=db)
            else:
                txn.put(key.encode(), value, db=db)

    def snapshot(self, file: BinaryIO) -> None:
        with self._lock:
            env = self.env
            with env.begin(write=False) as txn:  # pinned: the copy is exactly this txn's view
                self._copy(env, txn, file)

    def begin_snapshot(self) -> Callable[[BinaryIO], None] | None:
        """Pin a read transaction now; the returned writer copies exactly that
        view (``env.copyfd(compact=True, txn=...)``) from any thread."""
        env = self.env
        txn = env.begin(write=False)

        def write(file: BinaryIO) -> None:
            try:
                self._copy(env, txn, file)
            finally:
                txn.abort()

        return write

    def _copy(self, env: lmdb.Environment, txn: lmdb.Transaction, file: BinaryIO) -> None:
        try:
            fd = file.fileno()
        except (AttributeError, OSError):
            fd = -1
        if fd >= 0:
            file.flush()
            env.copyfd(fd, compact=True, txn=txn)
            file.seek(0, os.SEEK_END)  # copyfd wrote through the fd
        else:
            with tempfile.TemporaryFile(dir=os.path.dirname(self._path) or ".") as tmp:
                env.copyfd(tmp.fileno(), compact=True, txn=txn)
                tmp.seek(0)
                shutil.copyfileobj(tmp, file, 1 << 20)

    def restore(self, file: BinaryIO) -> None:
        new_dir = self._path + ".restore"
        old_dir = self._path + ".old"
        shutil.rmtree(new_dir, ignore_errors=True)
        os.makedirs(new_dir)
        with open(os.path.join(new_dir, "data.mdb"), "wb") as out:
            shutil.copyfileobj(file, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        with self._exclusive():
            # Open the copy before touching the current env: a bad image fails here.
            probe = self._open(new_dir)
            try:
                with probe.begin() as txn:
                    raft_db = probe.open_db(RAFT_DB, txn=txn, create=False)
                    applied = self.ledger.applied_index(lambda k: txn.get(k.encode(), db=raft_db))
            finally:
                probe.close()
            # The old env is not closed here: a reader thread may still hold (just
            # finished) transaction objects of it, and closing an env while another
            # thread frees one of its transactions corrupts py-lmdb's memory. Those
            # objects keep the env alive; it closes itself when the last one goes
            # (it lives on at old_dir, another file: never the same file twice).
            self._env = None
            self._dbs = {}
            shutil.rmtree(old_dir, ignore_errors=True)
            os.rename(self._path, old_dir)
            os.rename(new_dir, self._path)
            fsync_dir(self._path)  # the folder holding both renames
            self._env = self._open(self._path)
            self._open_sub_dbs()
            shutil.rmtree(old_dir, ignore_errors=True)
            self._applied = applied
        logger.info("state machine %s restored at index %d", self._path, applied)

    def close(self) -> None:
        with self._exclusive():
            if self._env is not None:
                self._env.close()
                self._env = None
            self._dbs.clear()

    # -- internals -------------------------------------------------------------------
    def _open(self, path: str) -> lmdb.Environment:
        os.makedirs(path, exist_ok=True)
        env = lmdb.open(
            path,
            subdir=True,
            map_size=self._map_size,
            max_dbs=self._max_dbs,
            sync=self._sync,
            metasync=self._sync,
            readahead=False,
        )
        return env

    def _open_sub_dbs(self) -> None:
        env = self.env
        dbs: dict[bytes, object] = {}
        names = dict.fromkeys([RAFT_DB, *(n.encode() for n in self.sub_dbs), *self._late_dbs])
        with env.begin(write=True) as txn:
            for name in names:
                dbs[name] = env.open_db(name, txn=txn, create=True)
        self._dbs = dbs

    def _read_applied(self) -> int:
        raft_db = self.db(RAFT_DB)
        with self.env.begin() as txn:
            return self.ledger.applied_index(lambda k: txn.get(k.encode(), db=raft_db))

    def _recover_swap(self) -> None:
        """Finish or undo a restore interrupted by a crash."""
        new_dir = self._path + ".restore"
        old_dir = self._path + ".old"
        if not os.path.exists(self._path) and os.path.exists(old_dir):
            logger.warning("recovering %s from an interrupted restore", self._path)
            os.rename(old_dir, self._path)
        shutil.rmtree(new_dir, ignore_errors=True)
        shutil.rmtree(old_dir, ignore_errors=True)
