"""RaftGroup: one node of one replicated group running one state machine.

This module owns the group's lifecycle (start, tick thread, stop, the fatal
path), the replicated entry point :meth:`RaftGroup.propose`, reads at a
:class:`~vectron.raft.protocol.Consistency` level, and status. The parts it
is built from live beside it:

* ``pysyncobj_compat``: every use of pysyncobj 0.3.17's insides (the
  configuration, which binds the configured host; the transport that syncs the
  journal before any message leaves; PreVote and term notices; installing the
  journal and the snapshot serializer), version pinned;
* ``journal``: the durable journal (fsynced before any message leaves the node
  and before every tick; counts and logs every truncation);
* ``barrier``: the shared linearizable read barrier;
* ``snapshot_writer`` / ``snapshot_file``: one-file snapshots, written in the
  background when the FSM supports ``begin_snapshot``; a damaged snapshot stops
  the node (at start, or when installing one from the leader) instead of letting
  it run on empty state. An entry that cannot be decoded stops it the same way.
  An entry the FSM could not persist (``StorageError``: disk full, I/O error) is
  retried on the tick thread until it persists, so the node stalls (silent to its
  peers, which elect another leader) rather than skip it; it goes on by itself
  once the disk has room again.

What it adds over plain pysyncobj: classified outcomes for a write (success /
definite failure / indeterminate), one submission per leader term inside the
caller's budget, and an INFO log line on every role, term or leader change.

Threading: pysyncobj runs on one tick thread owned by the group; the FSM's
``apply``, ``snapshot`` and ``restore`` run there. ``propose``, ``barrier``,
``read``, ``status`` may be called from any number of threads.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import struct
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from vectron.errors import Indeterminate, InvalidArgument, NotLeader, StorageError, Unavailable
from vectron.raft import pysyncobj_compat as compat
from vectron.raft.barrier import BarrierBatcher, BarrierDone
from vectron.raft.durable_file import OS_FILES, FileLayer, fsync_dir
from vectron.raft.fsm import Entry, StateMachine
from vectron.raft.journal import DurableJournal
from vectron.raft.membership import change_membership, members_from_log
from vectron.raft.protocol import Consistency
from vectron.raft.snapshot_file import open_image, verify_snapshot, write_snapshot
from vectron.v1 import raft_pb2

__all__ = ["RaftConfig", "RaftGroup"]

logger = logging.getLogger(__name__)

S = TypeVar("S", bound=StateMachine)
T = TypeVar("T")

_U64 = struct.Struct(">Q")
_TIMEOUT = -1
#: How often a waiting write looks for a new term (to submit it again there).
_TERM_WATCH_PERIOD = 0.05


@dataclass
class RaftConfig:
    """How to run one node of one group.

    ``peers`` lists every member's ``host:port`` (``self_address`` may be in it).
    ``data_dir`` holds the journal and the snapshot file; the FSM's own files
    live wherever the FSM was opened. The Raft port listens on ``bind_address``
    (``host:port``; by default ``self_address``: the configured host, never
    0.0.0.0 unless asked for). ``password`` encrypts and authenticates
    node-to-node traffic (pysyncobj's messages are pickles: never run without).
    """

    self_address: str
    peers: Sequence[str]
    data_dir: str
    password: str
    durable: bool = True
    bind_address: str | None = None
    election_timeout_min: float = 0.4
    election_timeout_max: float = 1.4
    append_entries_period: float = 0.1
    leader_fallback_timeout: float = 2.0
    connection_timeout: float = 3.5
    connection_retry_time: float = 0.5
    #: A ping on every connection this often (see _Transport); well under connection_timeout.
    keepalive_period: float = 1.0
    #: A TCP connect still pending after this long is abandoned and retried.
    connect_timeout: float = 1.0
    log_compaction_min_entries: int = 5000
    log_compaction_min_time: float = 300.0
    commands_queue_size: int = 10_000
    max_bind_retries: int = 20
    bind_retry_time: float = 0.5
    tick_period: float = 0.05
    #: A barrier not answered for this long is abandoned (new readers start a new one).
    barrier_stale_after: float = 5.0


class RaftGroup(Generic[S]):
    """One node of one Raft group running ``fsm``.

    The constructor binds the port and starts the node's tick thread; it raises
    :class:`StorageError` if the snapshot file on disk is damaged (the node
    refuses to start rather than run on empty state) and :class:`Unavailable` if
    the port cannot be bound. Call :meth:`stop` (or use it as a context manager).
    """

    def __init__(self, fsm: S, config: RaftConfig, *, files: FileLayer = OS_FILES) -> None:
        if not config.password:
            raise InvalidArgument("a cluster password is required", field="password")
        compat.require_pinned_version()
        self.fsm = fsm
        self.config = config
        self._address = config.self_address
        #: The one stop flag: set by stop() and by the fatal path (then _fatal says why).
        self._stop = threading.Event()
        self._fatal: str | None = None
        self._teardown = threading.Lock()  # held for good by the first stop()
        self._storage_retries = 0  # apply attempts that failed on this node's storage (StorageError)
        os.makedirs(config.data_dir, exist_ok=True)
        self._journal_path = os.path.join(config.data_dir, "raft.journal")
        self._snapshot_path = os.path.join(config.data_dir, "raft.snapshot")
        if os.path.exists(self._snapshot_path):
            try:
                header = verify_snapshot(self._snapshot_path)
            except StorageError as exc:
                logger.critical("group %s refuses to start: %s", self._address, exc)
                raise
            logger.info("snapshot %s verified (index %d)", self._snapshot_path, header.applied_index)
        journal = DurableJournal(self._journal_path, durable=config.durable, files=files)
        conf = compat.make_conf(
            config, snapshot_path=self._snapshot_path, serialize=self._serialize, deserialize=self._deserialize
        )
        options = compat.NodeOptions(
            on_apply=self._on_apply,
            election_timeout_min=config.election_timeout_min,
            keepalive_period=config.keepalive_period,
            connect_timeout=config.connect_timeout,
        )
        members = members_from_log(config.self_address, config.peers, journal)  # the journal's changes win
        others = sorted(members - {config.self_address})
        try:
            self._node = compat.Node(config.self_address, others, conf, options)
        except Exception as exc:
            journal._destroy()
            raise Unavailable(f"raft node {config.self_address} could not start: {exc}") from exc
        self._serializer = compat.SnapshotSerializer(
            self._snapshot_path,
            conf.logCompactionBatchSize,
            self._serialize,
            self._deserialize,
            fsm.begin_snapshot,
            self._address,
            lambda index: self._node.members_at(index),
            fsm.applied_index,
        )
        self._node.set_self_member(config.self_address in members)
        self._node.install(journal, self._serializer)  # before the first tick
        self._journal = journal
        self._barriers = BarrierBatcher(self._issue_barrier, config.barrier_stale_after)
        self._woken_for = 0
        if not others:
            self._node.addOnTickCallback(self._commit_solo_entries_now)
        self._seen_role: tuple[str, str | None, int] = ("", None, -1)
        #: monitoring counters (read by status()): elections this node started (it became
        #: a candidate), leader changes it saw, snapshots installed from a leader
        self._elections = 0
        self._leader_changes = 0
        self._snapshot_installs = 0
        self._node.addOnTickCallback(self._log_role_changes)
        self._thread = threading.Thread(target=self._run, name=f"raft-{config.self_address}", daemon=True)
        self._overlaps = compat.OverlapNotices(journal, self._thread)
        self._overlaps.install()
        self._thread.start()

    # -- writes ---------------------------------------------------------------------
    def propose(
        self,
        body: bytes,
        request_id: str | None = None,
        timeout: float = 5.0,
        *,
        forward: bool = True,
    ) -> bytes:
        """Replicate ``body`` and return the FSM's result for it.

        Raises :class:`Unavailable` (nothing was applied: no leader, queue full,
        discarded...), :class:`NotLeader` with the leader's address (only when
        ``forward`` is False and this node does not lead), or
        :class:`Indeterminate` (the write may or may not have been applied) when
        the deadline passes. On a follower the command is forwarded to the leader
        and the call returns once the entry is applied locally.

        ``timeout`` is the call's whole budget: submissions, waits and backoffs
        included, the call returns or raises by then (a deadline the caller
        passes down, e.g. the gateway's remaining time). Within it, the one
        entry is delivered: submitted once per leader term and its answer
        waited for (a slow commit is no reason to submit again); submitted
        again, with the same request id (without a ``request_id`` a fresh one
        is generated so this stays safe), only after a definite failure
        (nothing was applied: e.g. no leader yet; after a backoff), an answer
        that leaves the outcome open (the leader changed, unknown outcome;
        after a backoff), or when this node sees a new term with a known leader
        while it waits (see :meth:`_submit`).

        Retrying a *call* that failed (a new budget) is not done here: that is
        the caller's decision, and in Vectron the one layer that retries a
        write is the gateway (it owns the client's deadline); services pass
        their remaining time down instead of looping around this method.
        """
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise InvalidArgument("command body must be bytes", field="body")
        if not (isinstance(timeout, (int, float)) and math.isfinite(timeout)):
            raise InvalidArgument("timeout must be a finite number of seconds", field="timeout")
        rid = request_id or uuid.uuid4().hex
        envelope = raft_pb2.RaftCommand(request_id=rid, body=bytes(body)).SerializeToString()
        deadline = time.monotonic() + timeout
        backoff = 0.02
        indeterminate: str | None = None
        last_error: Unavailable | None = None
        while True:
            try:
                self._check_running()
                if not forward and not self._node.is_leader():
                    raise NotLeader(f"{self._address} is not the leader", leader=self.leader())
            except Unavailable as exc:
                if indeterminate is not None:  # an earlier attempt may have been applied
                    raise Indeterminate(f"write {rid} outcome unknown ({indeterminate}; then: {exc})") from exc
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            err, res = self._submit(envelope, remaining)
            if err == compat.SUCCESS:
                if res is None:  # the state machine raised: the node stopped itself
                    raise Indeterminate(f"write {rid}: the state machine failed on it ({self._fatal})")
                return bytes(res)
            if err in compat.DEFINITE:
                if err == compat.NOT_LEADER:
                    last_error = NotLeader(f"write failed: {compat.DEFINITE[err]}", leader=self.leader())
                else:
                    last_error = Unavailable(f"write failed: {compat.DEFINITE[err]}")
            else:
                indeterminate = "timed out" if err == _TIMEOUT else compat.INDETERMINATE.get(err, str(err))
            logger.debug("propose %s: attempt failed (%s), retrying", rid, err)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(backoff, remaining))
            backoff = min(backoff * 2, 0.5)
        if indeterminate is not None:
            raise Indeterminate(f"write {rid} outcome unknown ({indeterminate})")
        raise last_error or Unavailable("write timed out before it could be submitted")

    def _submit(self, envelope: bytes, timeout: float) -> tuple[int, Any]:
        """One attempt: submit ``envelope`` and wait up to ``timeout`` for its
        outcome, ``(pysyncobj's FAIL_REASON or _TIMEOUT, result)``.

        A slow commit is waited for, never resubmitted. But if this node sees a
        new term with a known leader while no answer has come, the entry is
        submitted once more in that term (the leader that took it may be gone,
        and pysyncobj may answer the old submission only once the log grows
        past its index again); the first success of any submission wins. If
        every submission failed, an answer that leaves the outcome open is
        reported over a definite failure.
        """
        answers: queue.SimpleQueue[tuple[int, Any]] = queue.SimpleQueue()
        node = self._node
        deadline = time.monotonic() + timeout
        outstanding = 0
        failed: tuple[int, Any] | None = None

        def submit() -> int:
            nonlocal outstanding
            term = node.raftCurrentTerm
            outstanding += 1
            node.submit(envelope, lambda res, err: answers.put((err, res)))
            return int(term)

        term = submit()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _TIMEOUT, None
            try:
                err, res = answers.get(timeout=min(_TERM_WATCH_PERIOD, remaining))
            except queue.Empty:
                if self._stop.is_set():  # no answer will come
                    return _TIMEOUT, None
                if node.raftCurrentTerm != term and node.leader_address() is not None:
                    logger.debug("term %d -> %d while a write waited: submitted again", term, node.raftCurrentTerm)
                    term = submit()
                continue
            outstanding -= 1
            if err == compat.SUCCESS:
                return err, res
            if failed is None or (failed[0] in compat.DEFINITE and err not in compat.DEFINITE):
                failed = (err, res)
            if outstanding == 0:
                return failed

    # -- membership (see membership.py) ------------------------------------------------
    def add_member(self, address: str, timeout: float = 10.0) -> None:
        """Add ``address`` to the group through the log (one change at a time);
        start its node, with :meth:`members` as peers, right after."""
        change_membership(self, "add", address, timeout)

    def remove_member(self, address: str, timeout: float = 10.0) -> None:
        """Remove ``address`` from the group through the log (one change at a time)."""
        change_membership(self, "rem", address, timeout)

    def members(self) -> list[str]:
        """The members in force on this node (the latest change in its log, committed or not)."""
        return self._node.members()

    # -- reads ----------------------------------------------------------------------
    def barrier(self, timeout: float = 5.0) -> int:
        """Wait until a no-op appended after this call is committed and applied
        locally; returns its index. Concurrent callers share barriers."""
        self._check_running()
        return self._barriers.wait(timeout)

    def _issue_barrier(self, done: BarrierDone) -> None:
        def answered(res: Any, err: int) -> None:
            if err == compat.SUCCESS and isinstance(res, bytes) and len(res) == _U64.size:
                done(_U64.unpack(res)[0], None)
            elif err == compat.SUCCESS:
                done(None, "group stopped")
            else:
                done(None, compat.DEFINITE.get(err) or compat.INDETERMINATE.get(err) or str(err))

        self._node.submit(raft_pb2.RaftCommand(noop=True).SerializeToString(), answered)

    def read(self, fn: Callable[[S], T], consistency: str = Consistency.LINEARIZABLE, timeout: float = 5.0) -> T:
        """Run ``fn(fsm)`` locally after what ``consistency`` requires.

        * ``linearizable``: after a read barrier (sees every write acknowledged
          before the call, on any node); retried until ``timeout``.
        * ``leader``: only if this node believes it leads (else :class:`NotLeader`);
          a deposed leader may serve stale data for up to ``leader_fallback_timeout``.
        * ``any``: immediately, from this replica's state (may be stale).
        """
        level = Consistency.parse(consistency)
        self._check_running()
        if level is Consistency.LINEARIZABLE:
            deadline = time.monotonic() + timeout
            backoff = 0.02
            while True:
                try:
                    self.barrier(max(0.01, deadline - time.monotonic()))
                    break
                except Unavailable:
                    if time.monotonic() + backoff >= deadline:
                        raise
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 0.5)
        elif level is Consistency.LEADER and not self._node.is_leader():
            raise NotLeader(f"{self._address} is not the leader", leader=self.leader())
        return fn(self.fsm)

    # -- discovery ------------------------------------------------------------------
    @property
    def self_address(self) -> str:
        return self._address

    def leader(self) -> str | None:
        """The last known leader's address (a hint: never proof of leadership)."""
        if self._stop.is_set():
            return None
        return self._node.leader_address()

    def is_leader(self) -> bool:
        """Whether this node believes it leads (a hint; writes prove it)."""
        return not self._stop.is_set() and self._node.is_leader()

    def is_ready(self) -> bool:
        """Caught up with the leader once since start, and a leader is known."""
        return not self._stop.is_set() and bool(self._node.isReady()) and self.leader() is not None

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_ready():
            self._check_running()
            if time.monotonic() > deadline:
                raise Unavailable(f"group node {self._address} not ready after {timeout}s")
            time.sleep(0.05)

    def status(self) -> dict[str, Any]:
        node = self._node
        return {
            "self": self._address,
            "leader": self.leader(),
            "role": "stopped" if self._stop.is_set() else node.role(),
            "term": node.raftCurrentTerm,
            "commit_index": node.raftCommitIndex,
            "applied_index": node.raftLastApplied,
            "fsm_applied_index": self.fsm.applied_index(),
            "log_size": node.log_size(),
            "members": node.members(),
            "follower_lag": node.follower_lag(),
            "elections": self._elections,
            "leader_changes": self._leader_changes,
            "snapshot_installs": self._snapshot_installs,
            "ready": self.is_ready(),
            "fatal": self._fatal,
            "journal_syncs": self._journal.syncs,
            #: every log truncation (a conflict: entries replaced by different ones)
            "journal_truncations": self._journal.truncations,
            #: truncations reaching an applied entry: must stay 0 (RAFT-APPLIED-TRUNCATION)
            "applied_truncations": self._journal.applied_truncations,
            #: apply attempts that failed on this node's storage and were retried (disk full)
            "storage_retries": self._storage_retries,
        }

    def compact(self) -> None:
        """Ask for a log compaction (snapshot) at the next tick."""
        self._node.forceLogCompaction()

    @property
    def fatal(self) -> str | None:
        """Why the node stopped itself (a failed restore, an FSM that raised), or None."""
        return self._fatal

    # -- lifecycle ------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the tick thread, close the port, the journal and the FSM."""
        if not self._teardown.acquire(blocking=False):
            return  # stopped (or stopping) already
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()
        self._overlaps.remove()
        self._serializer.background.join()
        self._barriers.fail_all(Unavailable("group stopped"))
        self.fsm.close()

    close = stop

    def __enter__(self) -> RaftGroup[S]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _check_running(self) -> None:
        if self._fatal:
            raise Unavailable(f"group node {self._address} stopped: {self._fatal}")
        if self._stop.is_set():
            raise Unavailable(f"group node {self._address} is stopped")

    def _die(self, reason: str, exc: BaseException | None = None) -> None:
        logger.critical("group node %s stops: %s (%r)", self._address, reason, exc)
        self._fatal = reason
        self._stop.set()
        self._barriers.fail_all(Unavailable(f"group stopped: {reason}"))

    def _run(self) -> None:
        node = self._node
        try:
            while not self._stop.is_set():
                try:
                    self._journal.sync()
                    node.tick(self.config.tick_period)
                except Exception:
                    logger.exception("raft tick failed on %s", self._address)
                    time.sleep(self.config.tick_period)
        finally:
            try:
                node.destroy()  # autoTick off: destroys transport and journal synchronously
            except Exception:
                logger.exception("raft node %s did not shut down cleanly", self._address)

    # -- called on the tick thread -------------------------------------------------------
    def _commit_solo_entries_now(self) -> None:
        """A group without peers commits an entry on the tick after the one that
        appended it (pysyncobj counts the quorum at the start of a tick, appends
        new commands at its end, then waits ``tick_period`` for socket events).
        Runs at the end of every tick, after the appends: if this lone leader
        holds entries not yet committed, wake the poll at once so the next tick
        (journal sync, then commit and apply) runs without waiting. Woken at most
        once per new entry. A leader with peers needs nothing of the kind: it
        sends AppendEntries as soon as it appends, and the answers wake the poll."""
        node = self._node
        last = self._journal[-1][1]
        if last > self._woken_for and last > node.raftCommitIndex and node.is_leader():
            self._woken_for = last
            node.wake()

    def _log_role_changes(self) -> None:
        """One INFO line whenever this node's role, term or known leader changes:
        elections leave a trail in the node's log (and in jepsen-like runs)."""
        seen = (self._node.role(), self.leader(), self._node.raftCurrentTerm)
        if seen != self._seen_role:
            if seen[0] == "candidate" and (self._seen_role[0] != "candidate" or seen[2] != self._seen_role[2]):
                self._elections += 1
            if seen[1] and seen[1] != self._seen_role[1]:
                self._leader_changes += 1
            self._seen_role = seen
            logger.info("raft %s: %s in term %d, leader %s", self._address, seen[0], seen[2], seen[1] or "unknown")

    def _on_apply(self, index: int, command: bytes) -> bytes | None:
        if self._fatal:
            return None
        try:
            envelope = raft_pb2.RaftCommand.FromString(command)
        except Exception as exc:  # a log we cannot read: stop rather than skip it and diverge
            self._die(f"entry {index} cannot be decoded", exc)
            return None
        if envelope.noop:
            return _U64.pack(index)
        try:
            return self._apply_until_persisted(Entry(index, envelope.request_id or None, envelope.body))
        except BaseException as exc:  # the FSM broke its contract: stop rather than stall or diverge
            self._die(f"state machine raised on entry {index}", exc)
            return None

    def _apply_until_persisted(self, entry: Entry, first_delay: float = 0.1, max_delay: float = 2.0) -> bytes | None:
        """``fsm.apply``, retried while it raises StorageError (this node's disk is full or
        failing: the entry is not applied, and skipping it would diverge). Returns None
        if the group stops meanwhile."""
        delay, since = first_delay, time.monotonic()
        while True:
            try:
                result = self.fsm.apply(entry)
            except StorageError as exc:
                self._storage_retries += 1
                if delay == first_delay or self._storage_retries % 30 == 0:
                    logger.error("group node %s: entry %d not persisted (%s); retrying until the disk recovers",
                                 self._address, entry.index, exc)
                if self._stop.wait(delay):
                    return None
                delay = min(max_delay, delay * 2)
                continue
            if delay != first_delay:
                logger.warning("group node %s: entry %d persisted after %.1f s of storage errors",
                               self._address, entry.index, time.monotonic() - since)
            return result

    def _serialize(self, filename: str, data: tuple[Any, Any, Any]) -> None:
        last, prev, cluster = data
        try:
            write_snapshot(
                filename, self.fsm.snapshot, last, prev, [str(getattr(n, "id", n)) for n in cluster], self.fsm.applied_index()
            )
        except Exception:
            logger.exception("snapshot of %s failed", self._address)
            raise

    def _deserialize(self, filename: str) -> tuple[Any, Any, Any]:
        try:
            header = verify_snapshot(filename)
            # pysyncobj renames a received snapshot into place without syncing it
            with open(filename, "rb") as f:
                os.fsync(f.fileno())
            fsync_dir(filename)
            # the image's own index when known: the entries after it up to the snapshot's
            # last entry are no-ops (barriers, elections) the state machine never saw
            image_index = header.image_applied_index or header.applied_index
            if self.fsm.applied_index() >= image_index:
                logger.info(
                    "snapshot at %d (state machine image at %d) not restored: state machine already at %d",
                    header.applied_index,
                    image_index,
                    self.fsm.applied_index(),
                )
            else:
                with open_image(filename) as image:
                    self.fsm.restore(image)
                self._snapshot_installs += 1
                logger.info("restored snapshot at index %d on %s", header.applied_index, self._address)
        except BaseException as exc:
            self._die("snapshot restore failed", exc)
            raise
        last, prev = header.last_entry, header.prev_entry
        return (
            (last.command, last.index, last.term),
            (prev.command, prev.index, prev.term),
            tuple(header.cluster),
        )
