"""Automatic re-replication, run by the placement leader only.

Every ``heal_interval`` seconds, on the node that leads the placement group:

1. a registered worker not heard from (by this node) for ``dead_worker_timeout``
   seconds is declared dead (``SetWorkerDeadCmd``); a node that just became
   leader counts from then, so a fresh leader with an empty heartbeat table
   declares nobody dead before the timeout has passed under it. A dead worker
   heard from again is declared alive again (its stale replicas were moved
   away: the worker drops them and deletes their files on its next heartbeat,
   see ``worker/replicas.py``);
2. a replica on a dead worker moves (``MoveReplicaCmd``) to a live worker that
   does not hold that shard, least loaded first (ties by worker id), one move
   per shard at a time, and only while the shard's healthy replicas (on workers
   not dead, reporting the shard with a known leader) are a majority of it:
   the group can then commit the membership change and feed the new replica.
   Otherwise (no spare worker, RF 1, or a lost majority: only the dead worker
   may still hold the data, and moving its replica away would make it delete
   that data when it comes back) the shard stays degraded
   (:meth:`Healer.degraded`) and is looked at again next round;
3. moves are rate-limited: at most ``max_moves_in_flight`` new replicas may be
   joining at once (assigned, but not yet reporting the shard with a known
   leader in their heartbeats).

Every decision is one placement-log entry that bumps the placement version (and
a move, the collection's routing epoch): workers and gateways follow one
history, and a placement leader change mid-move cannot strand half a move. The
Raft membership change of the shard group itself is level-triggered: the
shard's leader makes its group's members match the assignment (remove the dead
member first, then add the new one).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from vectron.errors import VectronError
from vectron.services.placement.service import PlacementService
from vectron.v1 import placement_pb2

__all__ = ["Healer", "Move"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Move:
    collection_id: str
    shard_id: int
    from_worker_id: str
    to_worker_id: str


class Healer:
    """The re-replication scheduler of one placement node (acts only while it leads)."""

    def __init__(
        self,
        service: PlacementService,
        is_leader: Callable[[], bool],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self._is_leader = is_leader
        self._clock = clock
        self._leading_since: float | None = None
        self._degraded: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one round -------------------------------------------------------------------
    def run_once(self) -> list[Move]:
        """One scheduling round; returns the moves proposed."""
        if not self._is_leader():
            self._leading_since = None
            self._degraded = []  # the leader's scheduler reports them
            return []
        now = self._clock()
        if self._leading_since is None:
            self._leading_since = now
        service = self.service
        workers, records, load = service.cluster_view()
        dead = self._declare(workers, now, self._leading_since)
        live = {w.worker_id: w for w in workers if w.worker_id not in dead and service.liveness.is_live(w.worker_id)}
        budget = service.config.max_moves_in_flight - self._in_flight(records, dead)
        moves: list[Move] = []
        degraded: list[tuple[str, int]] = []
        for record in sorted(records, key=lambda r: r.collection.collection_id):
            cid = record.collection.collection_id
            for shard in record.shards:
                lost = [r.worker_id for r in shard.replicas if r.worker_id in dead]
                if not lost:
                    continue
                holders = {r.worker_id for r in shard.replicas}
                target = self._target(live, holders, load)
                if target is None or 2 * self._healthy(cid, shard, dead) <= len(shard.replicas):
                    degraded.append((cid, shard.shard_id))
                    continue
                if budget <= 0:
                    continue
                move = Move(cid, shard.shard_id, lost[0], target)
                if self._propose_move(move):
                    moves.append(move)
                    load[target] = load.get(target, 0) + 1
                    budget -= 1
        self._degraded = degraded
        return moves

    def degraded(self) -> list[tuple[str, int]]:
        """(collection id, shard) of the shards with a replica on a dead worker that cannot be
        moved (no spare worker, or no healthy majority left), as of this leader's last round."""
        return list(self._degraded)

    def _declare(self, workers: list[placement_pb2.WorkerInfo], now: float, leading_since: float) -> set[str]:
        """Declare silent workers dead and heard-from dead workers alive; returns the dead ids."""
        liveness = self.service.liveness
        timeout = self.service.config.dead_worker_timeout
        dead = set()
        for worker in workers:
            seen = liveness.seen_at(worker.worker_id)
            silent_for = now - max(seen if seen is not None else leading_since, leading_since)
            heard_lately = seen is not None and now - seen < min(timeout, liveness.timeout)
            if worker.dead and heard_lately:
                if self._set_dead(worker.worker_id, False):
                    continue
            if worker.dead or (silent_for > timeout and self._set_dead(worker.worker_id, True)):
                dead.add(worker.worker_id)
        return dead

    def _healthy(self, collection_id: str, shard: placement_pb2.ShardInfo, dead: set[str]) -> int:
        """Replicas of the shard on workers not dead that report it with a known leader."""
        liveness = self.service.liveness
        return sum(
            1 for r in shard.replicas
            if r.worker_id not in dead and (stats := liveness.reports(r.worker_id, collection_id, shard.shard_id)) is not None
            and stats.leader_raft_address
        )

    def _in_flight(self, records: list[placement_pb2.CollectionRecord], dead: set[str]) -> int:
        """Replicas joining a working shard: on workers not dead, not (yet) reporting the shard
        with a known leader while the rest of it is a healthy majority. (A shard without a
        healthy majority is stuck, not in flight: it must not hold back the others.)"""
        count = 0
        for record in records:
            cid = record.collection.collection_id
            for shard in record.shards:
                healthy = self._healthy(cid, shard, dead)
                if 2 * healthy > len(shard.replicas):
                    count += sum(1 for r in shard.replicas if r.worker_id not in dead) - healthy
        return count

    @staticmethod
    def _target(live: dict[str, placement_pb2.WorkerInfo], holders: set[str], load: dict[str, int]) -> str | None:
        room = [
            w for w in live.values()
            if w.worker_id not in holders and (not w.capacity or load.get(w.worker_id, 0) < w.capacity)
        ]
        if not room:
            return None
        return min(room, key=lambda w: (load.get(w.worker_id, 0), w.worker_id)).worker_id

    def _set_dead(self, worker_id: str, dead: bool) -> bool:
        try:
            self.service.set_worker_dead(worker_id, dead)
        except VectronError as exc:
            log.warning("declaring worker %s %s failed: %s", worker_id, "dead" if dead else "alive", exc)
            return False
        log.warning("worker %s declared %s", worker_id, "dead" if dead else "alive again")
        return True

    def _propose_move(self, move: Move) -> bool:
        try:
            self.service.move_replica(move.collection_id, move.shard_id, move.from_worker_id, move.to_worker_id)
        except VectronError as exc:
            log.warning("moving shard %s/%d off %s failed: %s", move.collection_id, move.shard_id, move.from_worker_id, exc)
            return False
        log.warning("re-replicating shard %s/%d: %s -> %s", move.collection_id, move.shard_id, move.from_worker_id, move.to_worker_id)
        return True

    # -- the loop ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="placement-healer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.service.config.heal_interval):
            try:
                self.run_once()
            except Exception:
                log.exception("re-replication round failed")
