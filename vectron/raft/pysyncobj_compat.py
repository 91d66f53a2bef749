"""Everything that touches pysyncobj's insides, pinned to pysyncobj 0.3.17.

The rest of ``vectron.raft`` talks to :class:`Node` (a ``SyncObj``) through
the plain methods defined here and never imports pysyncobj. This module owns:

* the version pin (:func:`require_pinned_version`);
* the configuration (:func:`make_conf`): binds the configured host, never
  pysyncobj's default 0.0.0.0;
* :class:`Transport`: the journal is synced before any message leaves, pings,
  a connect timeout;
* :class:`Node`: PreVote, term notices, the replicated entry point, installing
  the durable journal and the background snapshot serializer (pysyncobj has no
  hook for either: name-mangled private attributes);
* :class:`OverlapNotices`: pysyncobj's CRITICAL "truncating already-applied"
  line, handed to the journal, which tells a re-send from a conflict;
* the classification of pysyncobj's FAIL_REASON codes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pysyncobj import FAIL_REASON, SERIALIZER_STATE, SyncObjConf, replicated
from pysyncobj.journal import Journal as JournalBase
from pysyncobj.monotonic import monotonic as pysyncobj_clock
from pysyncobj.serializer import Serializer
from pysyncobj.syncobj import _RAFT_STATE
from pysyncobj.tcp_connection import CONNECTION_STATE
from pysyncobj.transport import TCPTransport
from pysyncobj.version import VERSION as PYSYNCOBJ_VERSION

from vectron.errors import StorageError
from vectron.raft.membership import MembershipNode
from vectron.raft.snapshot_writer import BackgroundSnapshot

if TYPE_CHECKING:
    from vectron.raft.group import RaftConfig
    from vectron.raft.journal import DurableJournal

__all__ = [
    "DEFINITE",
    "FAIL_REASON",
    "INDETERMINATE",
    "JournalBase",
    "NOT_LEADER",
    "Node",
    "NodeOptions",
    "OverlapNotices",
    "SUCCESS",
    "SUPPORTED_PYSYNCOBJ",
    "SnapshotSerializer",
    "make_conf",
    "require_pinned_version",
]

logger = logging.getLogger(__name__)

#: The one pysyncobj release whose private state this module knows.
SUPPORTED_PYSYNCOBJ = "0.3.17"

SUCCESS = FAIL_REASON.SUCCESS
NOT_LEADER = FAIL_REASON.NOT_LEADER
#: Failures after which nothing was applied.
DEFINITE = {
    FAIL_REASON.QUEUE_FULL: "queue full",
    FAIL_REASON.MISSING_LEADER: "no leader",
    FAIL_REASON.NOT_LEADER: "not the leader",
    FAIL_REASON.DISCARDED: "discarded by a new leader",
    FAIL_REASON.REQUEST_DENIED: "request denied",
}
#: Failures that leave the outcome open.
INDETERMINATE = {
    FAIL_REASON.LEADER_CHANGED: "leader changed",
    FAIL_REASON.UNKNOWN_OUTCOME: "unknown outcome",
}


def require_pinned_version(installed: str = PYSYNCOBJ_VERSION) -> None:
    """Raise :class:`StorageError` unless ``installed`` is the pinned release."""
    if installed != SUPPORTED_PYSYNCOBJ:
        raise StorageError(f"vectron.raft needs pysyncobj=={SUPPORTED_PYSYNCOBJ}, found {installed}")


@dataclass(frozen=True)
class NodeOptions:
    """What :class:`Node` and :class:`Transport` need beyond SyncObjConf."""

    on_apply: Callable[[int, bytes], bytes | None]
    election_timeout_min: float
    keepalive_period: float
    connect_timeout: float


def make_conf(
    config: RaftConfig,
    *,
    snapshot_path: str,
    serialize: Callable[[str, Any], None],
    deserialize: Callable[[str], Any],
) -> Any:
    """pysyncobj's configuration for ``config`` as vectron runs it (one place)."""
    return SyncObjConf(
        password=config.password,
        # pysyncobj's default is 0.0.0.0 on the self port: bind the configured host
        bindAddress=config.bind_address or config.self_address,
        autoTick=False,  # the group's own tick thread (the journal is in place before the first tick)
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
        journalFile=None,  # replaced by the durable journal (Node.install)
        fullDumpFile=snapshot_path,
        serializer=serialize,
        deserializer=deserialize,
        useFork=False,
        maxBindRetries=config.max_bind_retries,
        bindRetryTime=config.bind_retry_time,
        dynamicMembershipChange=True,  # see membership.py
    )


class Transport(TCPTransport):  # type: ignore[misc]
    """pysyncobj's TCP transport, made durable and quick to notice a silent network.

    * It syncs the journal before any Raft message leaves the node: an entry is
      acknowledged (or replicated by a leader) and a vote is sent only once it
      is on disk.
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

    def __init__(self, syncObj: Any, selfNode: Any, otherNodes: Any) -> None:
        options: NodeOptions = syncObj._rsm_options
        self._keepalive_period = options.keepalive_period
        self._connect_timeout = options.connect_timeout
        self._next_ping = 0.0
        super().__init__(syncObj, selfNode, otherNodes)

    def send(self, node: Any, message: Any) -> bool:
        journal = self._syncObj._rsm_journal
        if journal is not None:
            journal.sync()
        return bool(super().send(node, message))

    def _onTick(self) -> None:
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


class SnapshotSerializer(Serializer):  # type: ignore[misc]
    """pysyncobj's Serializer, writing snapshots in the background
    (:class:`vectron.raft.snapshot_writer.BackgroundSnapshot`) when the state
    machine offers a writer (``begin_snapshot()`` returns one), synchronously
    otherwise. pysyncobj sees SERIALIZING until the file is in place and only
    then compacts its log; a snapshot installed from the leader meanwhile wins."""

    _RUNNING = -3  # our value of Serializer.__pid while the helper thread works

    def __init__(
        self,
        file_name: str,
        batch_size: int,
        serialize: Callable[[str, Any], None],
        deserialize: Callable[[str], Any],
        begin_snapshot: Callable[[], Any],
        owner: str,
        members_at: Callable[[int], list[str]],
        applied_index: Callable[[], int] = lambda: 0,
    ) -> None:
        super().__init__(file_name, batch_size, False, serialize, deserialize, None)
        self._begin_snapshot = begin_snapshot
        self._members_at = members_at  # a snapshot records the members as of its own index
        self._applied_index = applied_index
        self.background = BackgroundSnapshot(file_name, owner)

    def serialize(self, data: Any, id: Any) -> None:
        if self._Serializer__pid != 0:  # type: ignore[has-type]
            return
        data = (*data[:3], self._members_at(data[1][1]))
        image_index = self._applied_index()  # on the Raft thread, where apply runs: the pinned view's
        writer = self._begin_snapshot()
        if writer is None:
            super().serialize(data, id)  # synchronous, through the group's serialize hook
            return
        self._Serializer__currentID = id
        self._Serializer__pid = self._RUNNING
        self.background.start(writer, data[1], data[2], [str(getattr(n, "id", n)) for n in data[3]], image_index)

    def checkSerializing(self) -> Any:
        if self._Serializer__pid == self._RUNNING:
            if self.background.running():
                return SERIALIZER_STATE.SERIALIZING, self._Serializer__currentID
            self._Serializer__pid = -1 if self.background.succeeded() else -2
        return super().checkSerializing()

    def setTransmissionData(self, data: Any) -> Any:
        return self.background.installing(lambda: bool(super(SnapshotSerializer, self).setTransmissionData(data)))


class OverlapNotices(logging.Filter):
    """pysyncobj logs CRITICAL "truncating already-applied log entries from
    index N" whenever an append overlaps applied entries, before it deletes and
    re-adds them: on every overlapping re-send, conflict or not. It cannot tell
    the two apart; the journal can (it compares each re-added entry with the
    one it replaces). So on one node's tick thread this filter hands the notice
    to that node's journal (:meth:`DurableJournal.expect_overlap`) and drops the
    pysyncobj line; the journal logs an identical re-send at DEBUG and a
    different entry as the ERROR ``RAFT-APPLIED-TRUNCATION``."""

    _PREFIX = "truncating already-applied"

    def __init__(self, journal: DurableJournal, thread: threading.Thread) -> None:
        super().__init__()
        self._journal = journal
        self._thread = thread
        self._target = logging.getLogger("pysyncobj.syncobj")

    def install(self) -> None:
        self._target.addFilter(self)

    def remove(self) -> None:
        self._target.removeFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        if (
            record.levelno == logging.CRITICAL
            and record.thread == self._thread.ident
            and str(record.msg).startswith(self._PREFIX)
            and isinstance(record.args, tuple)
            and len(record.args) == 2
        ):
            self._journal.expect_overlap(int(record.args[0]), int(record.args[1]))  # type: ignore[call-overload]
            return False
        return True


class Node(MembershipNode):
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

    Everything the group asks of it (role, leader, submit, wake, ...) is a plain
    method below, so no other module reads pysyncobj's private state.
    """

    _PRE_VOTE = "vectron_pre_vote"
    _PRE_VOTE_REPLY = "vectron_pre_vote_reply"
    _TERM_NOTICE = "vectron_term"

    def __init__(self, self_address: str, others: list[str], conf: Any, options: NodeOptions) -> None:
        self._rsm_options = options
        self._rsm_journal: DurableJournal | None = None
        self._rsm_leader_heard = 0.0  # when an AppendEntries of the current term last arrived
        self._rsm_pre_vote_round = 0
        self._rsm_pre_votes: set[Any] = set()
        self._rsm_pre_vote_won = False
        super().__init__(self_address, others, conf, transportClass=Transport)
        self._SyncObj__transport.setOnMessageReceivedCallback(self._rsm_on_message)

    # -- set-up (before the first tick) -----------------------------------------------------
    def install(self, journal: DurableJournal, serializer: SnapshotSerializer) -> None:
        """Swap in the durable journal and the snapshot serializer (pysyncobj
        offers no hook), mirroring what SyncObj.__init__ does with its own."""
        if len(journal) == 0:
            journal.add(b"\x01", 1, 0)  # pysyncobj's initial NO_OP entry
            journal.sync()
        self._SyncObj__raftLog = journal
        self._SyncObj__raftCurrentTerm = max(journal.getCurrentTerm(), journal[-1][2])
        self._SyncObj__votedForNodeId = journal.getVotedForNodeId()
        self._SyncObj__raftCommitIndex = journal.getRaftCommitIndex()
        self._SyncObj__serializer = serializer
        journal.track_applied(lambda: int(self.raftLastApplied))
        self._rsm_journal = journal

    # -- what the group asks ----------------------------------------------------------------
    def submit(self, command: bytes, callback: Callable[[Any, int], None]) -> None:
        """Append ``command`` (forwarded to the leader on a follower); ``callback(result, FAIL_REASON)``."""
        self._rsm_apply(command, callback=callback)

    def tick(self, period: float) -> None:
        self.doTick(period)

    def is_leader(self) -> bool:
        return bool(self._isLeader())

    def leader_address(self) -> str | None:
        node = self._getLeader()
        return None if node is None else str(node.id)

    def role(self) -> str:
        state = getattr(self, "_SyncObj__raftState", None)
        return {_RAFT_STATE.FOLLOWER: "follower", _RAFT_STATE.CANDIDATE: "candidate", _RAFT_STATE.LEADER: "leader"}.get(
            state, "unknown"
        )

    def log_size(self) -> int:
        return int(self._getRaftLogSize())

    def follower_lag(self) -> int:
        """On a leader: how many committed entries the furthest-behind peer still lacks
        (commit index minus its match index); 0 elsewhere."""
        if not self._isLeader():
            return 0
        match = getattr(self, "_SyncObj__raftMatchIndex", {}) or {}
        commit = int(self.raftCommitIndex)
        return max((max(0, commit - int(m)) for m in match.values()), default=0)

    def wake(self) -> None:
        """Wake the tick's poll at once (pysyncobj's own pipe notifier)."""
        notifier = getattr(self, "_SyncObj__pipeNotifier", None)
        if notifier is not None:
            notifier.notify()

    # -- elections: PreVote and term notices (run on the tick thread) -------------------
    def _onTick(self, timeToWait: float = 0.0) -> None:
        """Hold back an election whose timer ran out until a PreVote round won it."""
        if (
            self._SyncObj__raftState != _RAFT_STATE.LEADER
            and self._SyncObj__otherNodes
            and self._SyncObj__raftElectionDeadline < pysyncobj_clock()  # type: ignore[has-type]
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
        leader_quiet = pysyncobj_clock() - self._rsm_leader_heard > self._rsm_options.election_timeout_min
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
            logger.info("raft %s: a peer is in term %d (we are in %d): stepping down", self.selfNode.id,
                        term, self.raftCurrentTerm)
            self._SyncObj__setCurrentTerm(term, None)
            self._SyncObj__setState(_RAFT_STATE.FOLLOWER)
            self._SyncObj__raftLeader = None

    @replicated  # type: ignore[untyped-decorator]
    def _rsm_apply(self, command: bytes) -> bytes | None:
        # pysyncobj increments raftLastApplied right after this returns.
        return self._rsm_options.on_apply(self.raftLastApplied + 1, command)
