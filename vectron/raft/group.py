"""RaftGroup: one pysyncobj node running one group's state machine.

This is the only module (with ``journal``) that imports pysyncobj. What it adds
on top of pysyncobj 0.3.17:

* the configuration DESIGN.md asks for: ``appendEntriesUseBatch=False``,
  ``commandsWaitLeader=False``, a short ``leaderFallbackTimeout``, a journal
  and a full dump file always, a cluster password, ``maxBindRetries``;
* a durable journal (:class:`vectron.raft.journal.DurableJournal`): fsynced
  before any message leaves the node and before every tick;
* one replicated entry point, :meth:`RaftGroup.propose`, with classified
  outcomes (success / definite failure / indeterminate) and, inside the
  caller's deadline, one submission per leader term (resubmitted with the same
  request id only after a failure or a leader change, never merely because a
  commit is slow);
* a shared, linearizable read barrier (a no-op through the log, applied
  locally) and :meth:`RaftGroup.read` with three consistency levels;
* PreVote and term notices (:class:`_Node`): a node that cannot reach a
  majority never raises its term or deposes a working leader, and a node whose
  term ran ahead is not locked out;
* a transport that notices a silent peer (:class:`_Transport`: pings on every
  connection, a connect timeout), and an INFO log line on every role, term or
  leader change;
* one-file snapshots (``snapshot_file``) through pysyncobj's
  ``serializer``/``deserializer`` hooks, written in the background when the
  FSM supports ``begin_snapshot``: no pickle of our state; a damaged snapshot
  stops the node (at start, or when installing one from the leader) instead
  of letting it run on empty state.

Threading: pysyncobj runs on one tick thread owned by the group; the FSM's
``apply``, ``snapshot`` and ``restore`` run there. ``propose``, ``barrier``,
``read``, ``status`` may be called from any number of threads.
"""

from __future__ import annotations

import logging
import os
import queue
import struct
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pysyncobj import FAIL_REASON, SERIALIZER_STATE, SyncObj, SyncObjConf, replicated
from pysyncobj.serializer import Serializer
from pysyncobj.syncobj import _RAFT_STATE
from pysyncobj.monotonic import monotonic as pysyncobj_clock
from pysyncobj.tcp_connection import CONNECTION_STATE
from pysyncobj.transport import TCPTransport
from pysyncobj.version import VERSION as PYSYNCOBJ_VERSION

from vectron.errors import Indeterminate, InvalidArgument, NotLeader, StorageError, Unavailable
from vectron.raft.fsm import Entry, StateMachine
from vectron.raft.journal import DurableJournal
from vectron.raft.membership import MembershipNode, change_membership, members_from_log
from vectron.raft.memory import CONSISTENCY_LEVELS
from vectron.raft.snapshot_file import open_image, verify_snapshot, write_snapshot
from vectron.v1 import raft_pb2

__all__ = ["RaftConfig", "RaftGroup"]

logger = logging.getLogger(__name__)

S = TypeVar("S", bound=StateMachine)
T = TypeVar("T")

_U64 = struct.Struct(">Q")

_DEFINITE = {
    FAIL_REASON.QUEUE_FULL: "queue full",
    FAIL_REASON.MISSING_LEADER: "no leader",
    FAIL_REASON.NOT_LEADER: "not the leader",
    FAIL_REASON.DISCARDED: "discarded by a new leader",
    FAIL_REASON.REQUEST_DENIED: "request denied",
}
_INDETERMINATE = {
    FAIL_REASON.LEADER_CHANGED: "leader changed",
    FAIL_REASON.UNKNOWN_OUTCOME: "unknown outcome",
}
_TIMEOUT = -1
#: How often a waiting write looks for a new term (to submit it again there).
_TERM_WATCH_PERIOD = 0.05

#: The wrapper reaches into pysyncobj's private state (journal, serializer): pinned.
_SUPPORTED_PYSYNCOBJ = "0.3.17"


@dataclass
class RaftConfig:
    """How to run one node of one group.

    ``peers`` lists every member's ``host:port`` (``self_address`` may be in it).
    ``data_dir`` holds the journal and the snapshot file; the FSM's own files
    live wherever the FSM was opened. ``password`` encrypts and authenticates
    node-to-node traffic (pysyncobj's messages are pickles: never run without).
    """

    self_address: str
    peers: Sequence[str]
    data_dir: str
    password: str
    durable: bool = True
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


def _fsync_dir(path: str) -> None:
    dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(path)


class _ResendNoiseFilter(logging.Filter):
    """pysyncobj logs CRITICAL "truncating already-applied log entries" on every
    overlapping re-send, although it re-adds identical entries (and our journal
    keeps them, see DurableJournal.deleteEntriesFrom). Re-log it at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.CRITICAL and str(record.msg).startswith("truncating already-applied"):
            logger.debug("pysyncobj (overlapping re-send): %s", record.getMessage())
            return False
        return True


def _install_noise_filter() -> None:
    target = logging.getLogger("pysyncobj.syncobj")
    if not any(isinstance(f, _ResendNoiseFilter) for f in target.filters):
        target.addFilter(_ResendNoiseFilter())


class _Transport(TCPTransport):  # type: ignore[misc]
    """pysyncobj's TCP transport, made durable and quick to notice a silent network.

    * It syncs the journal before any Raft message leaves the node: an entry is
      acknowledged (or replicated by a leader) only once it is on disk.
    * Every ``keepalive_period`` it sends a ping on every connection. pysyncobj
      closes a connection that has read nothing for ``connection_timeout``, but
      only when it next sends on it; two followers exchange nothing, so after a
      leader's loss the first RequestVote between them found the connection
      "stale", closed it and was lost, and a connection killed by a silent
      partition stayed "connected" until someone sent on it. With pings, every
      live connection reads something every period and a dead one is closed
      within ``connection_timeout`` on both sides.
    * A connection attempt pending for ``connect_timeout`` is abandoned and
      retried with a fresh socket. pysyncobj only checks timeouts on socket
      events, and a SYN lost to a partition is retried by the kernel with
      exponential backoff (1, 2, 4, 8, 16 s...), so after the partition healed
      a node could wait tens of seconds before it reconnected.
    """

    _PING = {"type": "vectron_ping"}  # SyncObj ignores message types it does not know

    def __init__(self, syncObj: Any, selfNode: Any, otherNodes: Any) -> None:  # noqa: N803 (pysyncobj's names)
        config: RaftConfig = syncObj._rsm_group.config
        self._keepalive_period = config.keepalive_period
        self._connect_timeout = config.connect_timeout
        self._next_ping = 0.0
        super().__init__(syncObj, selfNode, otherNodes)

    def send(self, node: Any, message: Any) -> bool:
        journal = getattr(self._syncObj, "_rsm_journal", None)
        if journal is not None:
            journal.sync()
        return bool(super().send(node, message))

    def _onTick(self) -> None:  # noqa: N802
        super()._onTick()
        now = pysyncobj_clock()  # the clock of _lastConnectAttempt
        for node, conn in list(self._connections.items()):
            started = self._lastConnectAttempt.get(node)
            if conn.state == CONNECTION_STATE.CONNECTING and started is not None and now - started > self._connect_timeout:
                conn.disconnect()  # retried after connection_retry_time, with a new socket
        if now >= self._next_ping:
            self._next_ping = now + self._keepalive_period
            for node in list(self._connections):
                if self._syncObj.isNodeConnected(node):  # handshake done (keys exchanged)
                    TCPTransport.send(self, node, self._PING)  # no journal sync needed for a ping


class _SnapshotSerializer(Serializer):  # type: ignore[misc]
    """pysyncobj's Serializer, taking snapshots in the background.

    When the FSM supports :meth:`StateMachine.begin_snapshot`, the state is
    fixed on the Raft thread (a pinned read transaction) and the file is
    written, fsynced and renamed into place by a helper thread while the node
    keeps ticking (a long copy would otherwise stop heartbeats and cost the
    group its leader). pysyncobj sees SERIALIZING until the file is in place
    and only then compacts its log. A snapshot installed from the leader
    meanwhile wins: the background one is then discarded.
    """

    _RUNNING = -3  # our value of Serializer.__pid while the helper thread works

    def __init__(self, group: "RaftGroup[Any]", file_name: str, batch_size: int) -> None:
        super().__init__(file_name, batch_size, False, group._serialize, group._deserialize, None)
        self._group = group
        self._file_name = file_name
        self._thread: threading.Thread | None = None
        self._outcome = 0
        self._installs = 0
        self._rename_lock = threading.Lock()

    def serialize(self, data: Any, id: Any) -> None:  # noqa: A002 (pysyncobj's name)
        if self._Serializer__pid != 0:
            return
        data = (*data[:3], self._group._node._rsm_members_at(data[1][1]))  # the members at the snapshot's index
        writer = self._group.fsm.begin_snapshot()
        if writer is None:
            super().serialize(data, id)  # synchronous, through RaftGroup._serialize
            return
        self._Serializer__currentID = id
        self._Serializer__pid = self._RUNNING
        installs = self._installs
        last, prev, cluster = data[1], data[2], [str(getattr(n, "id", n)) for n in data[3]]

        def run() -> None:
            ok = False
            tmp = self._file_name + ".tmp"
            try:
                write_snapshot(tmp, writer, last, prev, cluster)
                with self._rename_lock:
                    if self._installs != installs:
                        logger.info("background snapshot at %d discarded: a newer one was installed", last[1])
                        os.unlink(tmp)
                    else:
                        os.replace(tmp, self._file_name)
                        _fsync_dir(self._file_name)
                        ok = True
            except Exception:
                logger.exception("background snapshot of %s failed", self._group.self_address)
            self._outcome = -1 if ok else -2

        self._thread = threading.Thread(target=run, name=f"raft-snapshot-{self._group.self_address}", daemon=True)
        self._thread.start()

    def checkSerializing(self) -> Any:  # noqa: N802
        if self._Serializer__pid == self._RUNNING:
            if self._thread is not None and self._thread.is_alive():
                return SERIALIZER_STATE.SERIALIZING, self._Serializer__currentID
            self._Serializer__pid = self._outcome
        return super().checkSerializing()

    def setTransmissionData(self, data: Any) -> Any:  # noqa: N802
        with self._rename_lock:
            done = super().setTransmissionData(data)
            if done:
                self._installs += 1
        return done

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()


class _Node(MembershipNode):
    """The pysyncobj object: one replicated method that hands entries to the group,
    plus what pysyncobj 0.3.17 lacks for elections (its private state, version pinned):

    * **PreVote** (Raft thesis 9.6): before a follower or candidate starts an
      election (a new term) it asks its peers whether they would vote for it; only
      with a majority of yeses does the real election start. A peer says yes when
      its log is not newer and it has not heard from a leader for
      ``election_timeout_min`` (and is not the leader). So a node that cannot
      reach a majority (cut off, one-way or not) never raises its term, and on
      rejoining it does not depose a working leader: before, every heal cost each
      of its groups an election.
    * **Term notice**: pysyncobj ignores an AppendEntries from an older term
      without a word, so a node whose term got ahead (an election it started
      and lost) would never hear its leader again, and with PreVote nobody would
      grant its elections: it tells such a leader its term instead, the leader
      steps down and the group elects a leader both accept (standard Raft: a
      reply carries the term).
    """

    _PRE_VOTE = "vectron_pre_vote"
    _PRE_VOTE_REPLY = "vectron_pre_vote_reply"
    _TERM_NOTICE = "vectron_term"

    def __init__(self, group: "RaftGroup[Any]", self_address: str, others: list[str], conf: SyncObjConf) -> None:
        self._rsm_group = group
        self._rsm_journal: DurableJournal | None = None
        self._rsm_leader_heard = 0.0  # when an AppendEntries of the current term last arrived
        self._rsm_pre_vote_round = 0
        self._rsm_pre_votes: set[Any] = set()
        self._rsm_pre_vote_won = False
        super().__init__(self_address, others, conf, transportClass=_Transport)
        self._SyncObj__transport.setOnMessageReceivedCallback(self._rsm_on_message)

    # -- elections: PreVote and term notices (run on the tick thread) -------------------
    def _onTick(self, timeToWait: float = 0.0) -> None:  # noqa: N802, N803 (pysyncobj's names)
        """Hold back an election whose timer ran out until a PreVote round won it."""
        if (
            self._SyncObj__raftState != _RAFT_STATE.LEADER
            and self._SyncObj__otherNodes
            and self._SyncObj__raftElectionDeadline < pysyncobj_clock()
        ):
            if self._rsm_pre_vote_won:
                self._rsm_pre_vote_won = False  # pysyncobj starts the election in this tick
                self._rsm_pre_vote_round += 1  # late yeses of the round just won count for nothing
            else:
                self._SyncObj__raftElectionDeadline = pysyncobj_clock() + self._SyncObj__generateRaftTimeout()
                self._rsm_ask_pre_votes()
        super()._onTick(timeToWait)

    def _rsm_ask_pre_votes(self) -> None:
        self._rsm_pre_vote_round += 1
        self._rsm_pre_votes = {self.selfNode}
        message = {
            "type": self._PRE_VOTE,
            "round": self._rsm_pre_vote_round,
            "last_log_index": self._SyncObj__getCurrentLogIndex(),
            "last_log_term": self._SyncObj__getCurrentLogTerm(),
        }
        for node in self._SyncObj__otherNodes:
            self._SyncObj__transport.send(node, message)

    def _rsm_on_message(self, node: Any, message: Any) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == self._PRE_VOTE:
            self._rsm_answer_pre_vote(node, message)
        elif kind == self._PRE_VOTE_REPLY:
            self._rsm_count_pre_vote(node, message)
        elif kind == self._TERM_NOTICE:
            self._rsm_on_term_notice(message["term"])
        else:
            if kind == "append_entries":
                if message["term"] < self.raftCurrentTerm:
                    self._SyncObj__transport.send(node, {"type": self._TERM_NOTICE, "term": self.raftCurrentTerm})
                else:
                    self._rsm_leader_heard = pysyncobj_clock()
                    self._rsm_pre_vote_won = False  # a leader is there after all
            self._SyncObj__onMessageReceived(node, message)

    def _rsm_answer_pre_vote(self, node: Any, message: dict[str, Any]) -> None:
        our_term, our_index = self._SyncObj__getCurrentLogTerm(), self._SyncObj__getCurrentLogIndex()
        log_ok = (message["last_log_term"], message["last_log_index"]) >= (our_term, our_index)
        leader_quiet = pysyncobj_clock() - self._rsm_leader_heard > self._rsm_group.config.election_timeout_min
        granted = log_ok and leader_quiet and self._SyncObj__raftState != _RAFT_STATE.LEADER
        self._SyncObj__transport.send(node, {"type": self._PRE_VOTE_REPLY, "round": message["round"], "granted": granted})

    def _rsm_count_pre_vote(self, node: Any, message: dict[str, Any]) -> None:
        if not message["granted"] or message["round"] != self._rsm_pre_vote_round or self._SyncObj__raftState == _RAFT_STATE.LEADER:
            return
        self._rsm_pre_votes.add(node)
        if len(self._rsm_pre_votes) > (len(self._SyncObj__otherNodes) + 1) / 2 and not self._rsm_pre_vote_won:
            self._rsm_pre_vote_won = True
            self._SyncObj__raftElectionDeadline = 0.0  # the next tick starts the election

    def _rsm_on_term_notice(self, term: int) -> None:
        if term > self.raftCurrentTerm:
            logger.info("raft %s: a peer is in term %d (we are in %d): stepping down", self._rsm_group.self_address,
                        term, self.raftCurrentTerm)
            self._SyncObj__setCurrentTerm(term, None)
            self._SyncObj__setState(_RAFT_STATE.FOLLOWER)
            self._SyncObj__raftLeader = None

    @replicated
    def _rsm_apply(self, command: bytes) -> bytes | None:
        # pysyncobj increments raftLastApplied right after this returns.
        return self._rsm_group._on_apply(self.raftLastApplied + 1, command)

    def _rsm_install_journal(self, journal: DurableJournal) -> None:
        """Swap in our durable journal (pysyncobj offers no hook; version pinned to 0.3.17).

        Done before the first tick, mirroring what SyncObj.__init__ does with its own."""
        if len(journal) == 0:
            journal.add(b"\x01", 1, 0)  # pysyncobj's initial NO_OP entry
            journal.sync()
        self._SyncObj__raftLog = journal
        self._SyncObj__raftCurrentTerm = max(journal.getCurrentTerm(), journal[-1][2])
        self._SyncObj__votedForNodeId = journal.getVotedForNodeId()
        self._SyncObj__raftCommitIndex = journal.getRaftCommitIndex()
        self._rsm_journal = journal

    def _rsm_role(self) -> str:
        state = getattr(self, "_SyncObj__raftState", None)
        return {0: "follower", 1: "candidate", 2: "leader"}.get(state, "unknown")  # type: ignore[arg-type]


class _BarrierRound:
    __slots__ = ("event", "index", "error", "started")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.index = 0
        self.error: Exception | None = None
        self.started = 0.0


class _BarrierBatcher:
    """Shares read barriers among concurrent readers.

    A reader joins the round that will be *issued after it arrived*: if no round
    is in flight it issues one, otherwise it waits for the next round, which is
    issued when the in-flight one completes. So every reader's barrier entry
    enters the log after the reader arrived (linearizable), and at most two
    barrier entries are outstanding no matter how many readers there are.
    """

    def __init__(self, issue: Callable[[Callable[[Any, int], None]], None], stale_after: float) -> None:
        self._issue = issue
        self._stale_after = stale_after
        self._lock = threading.RLock()
        self._inflight: _BarrierRound | None = None
        self._next: _BarrierRound | None = None

    def wait(self, timeout: float) -> int:
        with self._lock:
            now = time.monotonic()
            if self._inflight is not None and now - self._inflight.started > self._stale_after:
                stale, self._inflight = self._inflight, None
                stale.error = Unavailable("read barrier abandoned (no answer)")
                stale.event.set()
                if self._next is not None:
                    self._start(self._next)
                    self._next = None
            if self._inflight is None:
                rnd = _BarrierRound()
                self._start(rnd)
            else:
                if self._next is None:
                    self._next = _BarrierRound()
                rnd = self._next
        if not rnd.event.wait(timeout):
            raise Unavailable("read barrier timed out")
        if rnd.error is not None:
            raise rnd.error
        return rnd.index

    def fail_all(self, error: Exception) -> None:
        with self._lock:
            for rnd in (self._inflight, self._next):
                if rnd is not None:
                    rnd.error = error
                    rnd.event.set()
            self._inflight = self._next = None

    def _start(self, rnd: _BarrierRound) -> None:
        rnd.started = time.monotonic()
        self._inflight = rnd
        self._issue(lambda res, err: self._done(rnd, res, err))

    def _done(self, rnd: _BarrierRound, res: Any, err: int) -> None:
        with self._lock:
            if err == FAIL_REASON.SUCCESS and isinstance(res, bytes) and len(res) == _U64.size:
                rnd.index = _U64.unpack(res)[0]
            elif err == FAIL_REASON.SUCCESS:
                rnd.error = Unavailable("read barrier failed: group stopped")
            else:
                rnd.error = Unavailable(f"read barrier failed: {_DEFINITE.get(err) or _INDETERMINATE.get(err) or err}")
            rnd.event.set()
            if self._inflight is rnd:
                self._inflight = None
                if self._next is not None:
                    nxt, self._next = self._next, None
                    self._start(nxt)


class RaftGroup(Generic[S]):
    """One node of one Raft group running ``fsm``.

    The constructor binds the port and starts the node's tick thread; it raises
    :class:`StorageError` if the snapshot file on disk is damaged (the node
    refuses to start rather than run on empty state) and :class:`Unavailable` if
    the port cannot be bound. Call :meth:`stop` (or use it as a context manager).
    """

    def __init__(self, fsm: S, config: RaftConfig) -> None:
        if not config.password:
            raise InvalidArgument("a cluster password is required", field="password")
        if PYSYNCOBJ_VERSION != _SUPPORTED_PYSYNCOBJ:
            raise StorageError(f"vectron.raft needs pysyncobj=={_SUPPORTED_PYSYNCOBJ}, found {PYSYNCOBJ_VERSION}")
        self.fsm = fsm
        self.config = config
        self._address = config.self_address
        self._stop_event = threading.Event()
        self._fatal: str | None = None
        self._stopped = False
        self._stop_lock = threading.Lock()
        os.makedirs(config.data_dir, exist_ok=True)
        _install_noise_filter()
        self._journal_path = os.path.join(config.data_dir, "raft.journal")
        self._snapshot_path = os.path.join(config.data_dir, "raft.snapshot")
        if os.path.exists(self._snapshot_path):
            try:
                header = verify_snapshot(self._snapshot_path)
            except StorageError as exc:
                logger.critical("group %s refuses to start: %s", self._address, exc)
                raise
            logger.info("snapshot %s verified (index %d)", self._snapshot_path, header.applied_index)
        journal = DurableJournal(self._journal_path, durable=config.durable)
        conf = SyncObjConf(
            password=config.password,
            autoTick=False,  # our own tick thread (so our journal is in place before the first tick)
            appendEntriesUseBatch=False,
            commandsWaitLeader=False,
            leaderFallbackTimeout=config.leader_fallback_timeout,
            raftMinTimeout=config.election_timeout_min,
            raftMaxTimeout=config.election_timeout_max,
            appendEntriesPeriod=config.append_entries_period,
            connectionTimeout=config.connection_timeout,
            connectionRetryTime=config.connection_retry_time,
            commandsQueueSize=config.commands_queue_size,
            logCompactionMinEntries=config.log_compaction_min_entries,
            logCompactionMinTime=config.log_compaction_min_time,
            journalFile=None,  # replaced by DurableJournal at self._journal_path
            fullDumpFile=self._snapshot_path,
            serializer=self._serialize,
            deserializer=self._deserialize,
            useFork=False,
            maxBindRetries=config.max_bind_retries,
            bindRetryTime=config.bind_retry_time,
            dynamicMembershipChange=True,  # see membership.py
        )
        members = members_from_log(config.self_address, config.peers, journal)  # the journal's changes win
        others = sorted(members - {config.self_address})
        try:
            self._node = _Node(self, config.self_address, others, conf)
        except Exception as exc:
            journal._destroy()
            raise Unavailable(f"raft node {config.self_address} could not start: {exc}") from exc
        self._node._rsm_self_member = config.self_address in members
        self._node._rsm_install_journal(journal)
        self._journal = journal
        self._serializer = _SnapshotSerializer(self, self._snapshot_path, conf.logCompactionBatchSize)
        self._node._SyncObj__serializer = self._serializer  # before the first tick (version pinned)
        self._barriers = _BarrierBatcher(self._issue_barrier, config.barrier_stale_after)
        self._solo = not others
        self._woken_for = 0
        if self._solo:
            self._node.addOnTickCallback(self._commit_solo_entries_now)
        self._seen_role: tuple[str, str | None, int] = ("", None, -1)
        self._node.addOnTickCallback(self._log_role_changes)
        self._thread = threading.Thread(target=self._run, name=f"raft-{config.self_address}", daemon=True)
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

        The entry is submitted once per leader term and its answer waited for
        until ``timeout`` (a slow commit is no reason to submit again). It is
        submitted again, with the same request id (without a ``request_id`` a
        fresh one is generated so this stays safe), only after a definite
        failure (nothing was applied: e.g. no leader yet; after a backoff), an
        answer that leaves the outcome open (the leader changed, unknown
        outcome; after a backoff), or when this node sees a new term with a
        known leader while it waits (see :meth:`_submit`).
        """
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise InvalidArgument("command body must be bytes", field="body")
        rid = request_id or uuid.uuid4().hex
        envelope = raft_pb2.RaftCommand(request_id=rid, body=bytes(body)).SerializeToString()
        deadline = time.monotonic() + timeout
        backoff = 0.02
        indeterminate: str | None = None
        last_error: Unavailable | None = None
        while True:
            try:
                self._check_running()
                if not forward and not self._node._isLeader():
                    raise NotLeader(f"{self._address} is not the leader", leader=self.leader())
            except Unavailable as exc:
                if indeterminate is not None:  # an earlier attempt may have been applied
                    raise Indeterminate(f"write {rid} outcome unknown ({indeterminate}; then: {exc})") from exc
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            err, res = self._submit(envelope, remaining)
            if err == FAIL_REASON.SUCCESS:
                if res is None:  # the state machine raised: the node stopped itself
                    raise Indeterminate(f"write {rid}: the state machine failed on it ({self._fatal})")
                return bytes(res)
            if err in _DEFINITE:
                if err == FAIL_REASON.NOT_LEADER:
                    last_error = NotLeader(f"write failed: {_DEFINITE[err]}", leader=self.leader())
                else:
                    last_error = Unavailable(f"write failed: {_DEFINITE[err]}")
            else:
                indeterminate = "timed out" if err == _TIMEOUT else _INDETERMINATE.get(err, str(err))
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
        outcome, ``(FAIL_REASON or _TIMEOUT, result)``.

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
            node._rsm_apply(envelope, callback=lambda res, err: answers.put((err, res)))
            return term

        term = submit()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _TIMEOUT, None
            try:
                err, res = answers.get(timeout=min(_TERM_WATCH_PERIOD, remaining))
            except queue.Empty:
                if self._stopped or self._fatal:  # no answer will come
                    return _TIMEOUT, None
                if node.raftCurrentTerm != term and node._getLeader() is not None:
                    logger.debug("term %d -> %d while a write waited: submitted again", term, node.raftCurrentTerm)
                    term = submit()
                continue
            outstanding -= 1
            if err == FAIL_REASON.SUCCESS:
                return err, res
            if failed is None or (failed[0] in _DEFINITE and err not in _DEFINITE):
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
        return self._node._rsm_members()

    # -- reads ----------------------------------------------------------------------
    def barrier(self, timeout: float = 5.0) -> int:
        """Wait until a no-op appended after this call is committed and applied
        locally; returns its index. Concurrent callers share barriers."""
        self._check_running()
        return self._barriers.wait(timeout)

    def _issue_barrier(self, callback: Callable[[Any, int], None]) -> None:
        envelope = raft_pb2.RaftCommand(noop=True).SerializeToString()
        self._node._rsm_apply(envelope, callback=callback)

    def read(self, fn: Callable[[S], T], consistency: str = "linearizable", timeout: float = 5.0) -> T:
        """Run ``fn(fsm)`` locally after what ``consistency`` requires.

        * ``linearizable``: after a read barrier (sees every write acknowledged
          before the call, on any node); retried until ``timeout``.
        * ``leader``: only if this node believes it leads (else :class:`NotLeader`);
          a deposed leader may serve stale data for up to ``leader_fallback_timeout``.
        * ``any``: immediately, from this replica's state (may be stale).
        """
        if consistency not in CONSISTENCY_LEVELS:
            raise InvalidArgument(f"unknown consistency {consistency!r}", field="consistency")
        self._check_running()
        if consistency == "linearizable":
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
        elif consistency == "leader" and not self._node._isLeader():
            raise NotLeader(f"{self._address} is not the leader", leader=self.leader())
        return fn(self.fsm)

    # -- discovery ------------------------------------------------------------------
    @property
    def self_address(self) -> str:
        return self._address

    def leader(self) -> str | None:
        """The last known leader's address (a hint: never proof of leadership)."""
        if self._stopped or self._fatal:
            return None
        node = self._node._getLeader()
        return None if node is None else str(node.id)

    def is_leader(self) -> bool:
        """Whether this node believes it leads (a hint; writes prove it)."""
        return not (self._stopped or self._fatal) and bool(self._node._isLeader())

    def is_ready(self) -> bool:
        """Caught up with the leader once since start, and a leader is known."""
        return not (self._stopped or self._fatal) and bool(self._node.isReady()) and self.leader() is not None

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
            "role": "stopped" if (self._stopped or self._fatal) else node._rsm_role(),
            "term": node.raftCurrentTerm,
            "commit_index": node.raftCommitIndex,
            "applied_index": node.raftLastApplied,
            "fsm_applied_index": self.fsm.applied_index(),
            "log_size": node._getRaftLogSize(),
            "members": node._rsm_members(),
            "ready": self.is_ready(),
            "fatal": self._fatal,
            "journal_syncs": self._journal.syncs,
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
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self._stop_event.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()
        self._serializer.join()
        self._barriers.fail_all(Unavailable("group stopped"))
        self.fsm.close()

    close = stop

    def __enter__(self) -> "RaftGroup[S]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _check_running(self) -> None:
        if self._fatal:
            raise Unavailable(f"group node {self._address} stopped: {self._fatal}")
        if self._stopped:
            raise Unavailable(f"group node {self._address} is stopped")

    def _die(self, reason: str, exc: BaseException | None = None) -> None:
        logger.critical("group node %s stops: %s (%r)", self._address, reason, exc)
        self._fatal = reason
        self._stop_event.set()
        self._barriers.fail_all(Unavailable(f"group stopped: {reason}"))

    def _run(self) -> None:
        node = self._node
        try:
            while not self._stop_event.is_set():
                try:
                    self._journal.sync()
                    node.doTick(self.config.tick_period)
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
        if last > self._woken_for and last > node.raftCommitIndex and node._isLeader():
            self._woken_for = last
            notifier = getattr(node, "_SyncObj__pipeNotifier", None)  # pysyncobj's own (version pinned)
            if notifier is not None:
                notifier.notify()

    def _log_role_changes(self) -> None:
        """One INFO line whenever this node's role, term or known leader changes:
        elections leave a trail in the node's log (and in jepsen-like runs)."""
        seen = (self._node._rsm_role(), self.leader(), self._node.raftCurrentTerm)
        if seen != self._seen_role:
            self._seen_role = seen
            logger.info("raft %s: %s in term %d, leader %s", self._address, seen[0], seen[2], seen[1] or "unknown")

    def _on_apply(self, index: int, command: bytes) -> bytes | None:
        if self._fatal:
            return None
        try:
            envelope = raft_pb2.RaftCommand.FromString(command)
        except Exception:
            logger.error("entry %d of %s is not a RaftCommand; skipped", index, self._address)
            return b""
        if envelope.noop:
            return _U64.pack(index)
        try:
            return self.fsm.apply(Entry(index, envelope.request_id or None, envelope.body))
        except BaseException as exc:  # the FSM broke its contract: stop rather than stall or diverge
            self._die(f"state machine raised on entry {index}", exc)
            return None

    def _serialize(self, filename: str, data: tuple[Any, Any, Any]) -> None:
        last, prev, cluster = data
        try:
            write_snapshot(filename, self.fsm.snapshot, last, prev, [str(getattr(n, "id", n)) for n in cluster])
        except Exception:
            logger.exception("snapshot of %s failed", self._address)
            raise

    def _deserialize(self, filename: str) -> tuple[Any, Any, Any]:
        try:
            header = verify_snapshot(filename)
            _fsync_file(filename)  # pysyncobj renames a received snapshot into place without syncing it
            if self.fsm.applied_index() >= header.applied_index:
                logger.info(
                    "snapshot at %d not restored: state machine already at %d",
                    header.applied_index,
                    self.fsm.applied_index(),
                )
            else:
                with open_image(filename) as image:
                    self.fsm.restore(image)
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
