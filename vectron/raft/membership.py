"""Membership changes of a Raft group: add or remove one member at a time, through the log.

pysyncobj 0.3.17 has ``dynamicMembershipChange`` (a member change is a log
entry, in force on every node from the moment the entry is appended, undone
when it is truncated) but leaves gaps this module fills:

* **one change at a time**: pysyncobj's guard (``__changeClusterIDx``) is never
  set, so a leader would accept a second change while the first is
  uncommitted. :class:`MembershipNode` refuses a change while any membership
  entry of the log is not yet applied.
* **restarts**: pysyncobj keeps the topology only in the full dump and re-applies
  changes when entries are *applied*, so a node restarted with a stale partner
  list (or a dump older than its journal) ran with the wrong members until its
  replay caught up, and any change beyond the commit index was forgotten. Here
  the membership is derived from our own durable state at start: the snapshot's
  member list (the members *at the snapshot's index*, see
  :meth:`MembershipNode._rsm_members_at`) plus every membership entry of the
  durable journal after it, committed or not (Raft's rule: the latest
  configuration in the log is in force). Applying a membership entry is then a
  no-op: it took effect when it was appended.
* **its own membership**: pysyncobj ignores an entry that adds or removes the
  node itself; we record it (in the log it replays, and when such an entry
  reaches it), so ``members()`` and a restart agree with the others.
* **string members in a dump**: pysyncobj compares the dump's member ids with
  its ``Node`` objects (never equal), which would list the node as its own peer.

The caller-facing part is :func:`change_membership` (``RaftGroup.add_member`` /
``remove_member``): submit the change, wait for it to be committed, treat an
already-made change as done (so a retry after an unknown outcome is safe), and
retry while another change is in flight, a new leader has not committed its
first entry yet, or the member to remove still leads (pysyncobj's leader cannot
remove itself; a dead leader is soon replaced). A member never removes itself:
the leader stops sending to a removed node as soon as the change is appended,
so that node never sees its removal committed (nor, if it was running, learns
of it: whoever removes it stops it).

Order rule for callers (no learner stage in pysyncobj: a new member counts for
the majority at once): remove a dead member before adding its replacement, and
start a new member's node (with the current members as peers) right after it
was added.
"""

from __future__ import annotations

import logging
import pickle
import queue
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pysyncobj import FAIL_REASON, SyncObj
from pysyncobj.syncobj import _COMMAND_TYPE

from vectron.errors import Indeterminate, InvalidArgument, Unavailable

if TYPE_CHECKING:
    from vectron.raft.group import RaftGroup

__all__ = ["Change", "MembershipNode", "change_membership", "parse_change", "replay", "validate_address"]

logger = logging.getLogger(__name__)

_MEMBERSHIP = bytes([_COMMAND_TYPE.MEMBERSHIP])


@dataclass(frozen=True)
class Change:
    """One membership entry: ``op`` is "add" or "rem"."""

    op: str
    address: str


def parse_change(command: bytes) -> Change | None:
    """The membership change a log entry's command holds, or None for any other entry."""
    if command[:1] != _MEMBERSHIP:
        return None
    request = pickle.loads(command[1:])  # pysyncobj's own encoding of its membership entries
    return Change(str(request[0]), str(request[1]))


def replay(members: Iterable[str], changes: Iterable[Change]) -> set[str]:
    """``members`` after ``changes`` in order (redundant changes are no-ops, as in pysyncobj)."""
    result = set(members)
    for change in changes:
        if change.op == "add":
            result.add(change.address)
        elif change.op == "rem":
            result.discard(change.address)
    return result


def log_changes(entries: Iterable[tuple[bytes, int, int]], after: int = 0) -> list[Change]:
    """The membership changes among journal ``entries`` with an index above ``after``."""
    changes = []
    for command, idx, _term in entries:
        if idx > after:
            change = parse_change(command)
            if change is not None:
                changes.append(change)
    return changes


def validate_address(address: object) -> str:
    """``host:port`` or :class:`InvalidArgument` naming the field."""
    if not isinstance(address, str) or ":" not in address:
        raise InvalidArgument(f"member address must be 'host:port', got {address!r}", field="address")
    host, port = address.rsplit(":", 1)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidArgument(f"member address must be 'host:port', got {address!r}", field="address")
    return address


class MembershipNode(SyncObj):  # type: ignore[misc]
    """The membership side of our pysyncobj node (the base of ``pysyncobj_compat.Node``).

    Overrides pysyncobj 0.3.17 private methods (version pinned by the group);
    all run on the tick thread. ``_rsm_self_member`` must be set by the owner
    before the first tick (see :func:`members_from_log`).
    """

    _rsm_self_member = True
    _rsm_dump_members: set[str] | None = None

    # -- what the group asks (plain methods, like the rest of compat.Node) -----------------
    def members(self) -> list[str]:
        return self._rsm_members()

    def members_at(self, index: int) -> list[str]:
        return self._rsm_members_at(index)

    def set_self_member(self, member: bool) -> None:
        """Whether this node is itself a member: set before the first tick (see :func:`members_from_log`)."""
        self._rsm_self_member = member

    # -- what the log says ------------------------------------------------------------
    def _rsm_members(self) -> list[str]:
        members = {n.id for n in self._SyncObj__otherNodes}
        if self._rsm_self_member:
            members.add(self.selfNode.id)
        return sorted(members)

    def _rsm_members_at(self, index: int) -> list[str]:
        """The members in force at log ``index`` (<= the last entry): the current
        ones with every later membership entry undone."""
        members = set(self._rsm_members())
        for command, idx, _term in reversed(self._rsm_entries_after(index)):
            change = parse_change(command)
            if change is not None:
                members = replay(members, [Change("rem" if change.op == "add" else "add", change.address)])
        return sorted(members)

    def _rsm_entries_after(self, index: int) -> list[tuple[bytes, int, int]]:
        log = self._SyncObj__raftLog
        if len(log) == 0:
            return []
        first = log[0][1]
        return list(log[max(0, index + 1 - first):])

    def _rsm_change_pending(self) -> bool:
        """A membership entry is in the log but not applied yet."""
        return any(parse_change(e[0]) is not None for e in self._rsm_entries_after(self.raftLastApplied))

    # -- pysyncobj overrides -------------------------------------------------------------
    def _SyncObj__changeCluster(self, request: Any) -> bool:
        if self._rsm_change_pending():
            return False  # one change at a time (pysyncobj's own guard is never armed)
        if str(request[1]) == self.selfNode.id:
            return False  # pysyncobj's leader never adds or removes itself
        return bool(SyncObj._SyncObj__changeCluster(self, request))

    def _SyncObj__doChangeCluster(self, request: Any, reverse: bool = False) -> bool:
        op, address = str(request[0]), str(request[1])
        if address == self.selfNode.id:  # pysyncobj ignores changes of the node itself: we record them
            self._rsm_self_member = (op == "add") != reverse
            logger.info("raft %s: this node is %s a member", address, "now" if self._rsm_self_member else "no longer")
            return False
        changed = bool(SyncObj._SyncObj__doChangeCluster(self, request, reverse))
        if changed:
            logger.info("raft %s: members now %s", self.selfNode.id, ", ".join(self._rsm_members()))
        return changed

    def _SyncObj__doApplyCommand(self, command: bytes) -> Any:
        if command[:1] == _MEMBERSHIP:
            return None  # in force since it was appended (and derived from the log at start)
        return SyncObj._SyncObj__doApplyCommand(self, command)

    def _SyncObj__updateClusterConfiguration(self, newNodes: Any) -> None:
        # Only __loadDumpFile calls this, with the dump's members (strings here): applied after it.
        self._rsm_dump_members = {str(getattr(n, "id", n)) for n in newNodes}

    def _SyncObj__loadDumpFile(self, clearJournal: bool) -> None:
        self._rsm_dump_members = None
        SyncObj._SyncObj__loadDumpFile(self, clearJournal)
        if self._rsm_dump_members is None:
            return  # the load failed (logged by pysyncobj)
        members = self._rsm_dump_members
        if not clearJournal:  # at start: what the journal holds after the snapshot is in force too
            members = replay(members, log_changes(self._rsm_entries_after(self.raftLastApplied)))
        self._rsm_set_members(members)

    def _rsm_set_members(self, members: set[str]) -> None:
        me = self.selfNode.id
        self._rsm_self_member = me in members
        others = [self._SyncObj__nodeClass(a) for a in sorted(members - {me})]
        SyncObj._SyncObj__updateClusterConfiguration(self, others)
        logger.info("raft %s: members %s", me, ", ".join(self._rsm_members()))


def members_from_log(self_address: str, peers: Sequence[str], journal: Iterable[tuple[bytes, int, int]]) -> set[str]:
    """The members a node starts with: its configured peers (and itself) with
    every membership entry of its durable journal applied (a snapshot's member
    list, if there is one, is applied over this when pysyncobj loads it)."""
    return replay(set(peers) | {self_address}, log_changes(journal))


def change_membership(group: RaftGroup[Any], op: str, address: str, timeout: float) -> None:
    """Add (``op="add"``) or remove (``"rem"``) ``address`` through the log of
    ``group`` and wait until the change is committed and applied on this node.

    Done at once if the members (after a read barrier) already say so, so a
    retry is safe. Raises :class:`Unavailable` if it could not be made in
    ``timeout`` (nothing changed) or :class:`Indeterminate` if a submission's
    outcome stayed unknown.
    """
    validate_address(address)
    if op == "rem" and address == group.self_address:
        # the leader stops sending to a removed node as soon as the change is appended:
        # it could never see its own removal committed
        raise InvalidArgument("a member cannot remove itself: ask another member", field="address")
    want = op == "add"
    node = group._node
    deadline = time.monotonic() + timeout
    backoff = 0.05
    last = "not submitted"
    unknown = False
    while True:
        group._check_running()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            group.barrier(min(remaining, 5.0))  # every earlier entry (and change) is applied here now
            if (address in group.members()) == want and not node._rsm_change_pending():
                return
        except Unavailable as exc:
            last = str(exc)
        else:
            answers: queue.SimpleQueue[int] = queue.SimpleQueue()
            submit = node.addNodeToCluster if want else node.removeNodeFromCluster
            submit(address, callback=lambda _res, err: answers.put(err))
            try:
                err = answers.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                unknown = True
                break
            if err == FAIL_REASON.SUCCESS:
                logger.info("raft %s: %s %s done", group.self_address, "added" if want else "removed", address)
                return
            unknown = unknown or err in (FAIL_REASON.LEADER_CHANGED, FAIL_REASON.UNKNOWN_OUTCOME)
            last = f"pysyncobj answered {err}" + (" (the leader cannot remove itself)" if address == group.leader() else "")
        time.sleep(min(backoff, max(0.0, deadline - time.monotonic())))
        backoff = min(backoff * 2, 0.5)
    what = f"{'adding' if want else 'removing'} member {address}"
    if unknown:
        raise Indeterminate(f"{what}: outcome unknown after {timeout}s ({last})")
    raise Unavailable(f"{what} not done in {timeout}s ({last})")
