"""Calling shards: one call with retries, one fan-out, one partial-write account.

Owns: :class:`ShardCaller`. :meth:`ShardCaller.call` sends one operation to
the right replica of one shard and retries it with exponential backoff and
jitter (``tenacity``) within one deadline: to the leader a worker names, to the
next replica when one is unavailable, after a routing refresh on a stale epoch
or an unknown shard. Every attempt passes the time left to the worker (which
passes it to the shard's Raft group), so nothing below outlives the caller; the
gateway is the only layer that retries a write, always with the same request id
(the shard FSM applies a request id once). :meth:`ShardCaller.fan_out` runs one
such call per shard in parallel and returns each shard's result or error;
:func:`settle_writes` turns the per-shard results of a write into its count or
a :class:`~vectron.errors.PartialWrite` naming the ids written, not written and
unknown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_exponential_jitter

from vectron.errors import Indeterminate, NotFound, NotLeader, PartialWrite, StaleEpoch, Unavailable, VectronError
from vectron.services.gateway.routing import Router, RoutingCache
from vectron.services.gateway.workers import ShardTarget, WorkerClient, WorkerClients
from vectron.v1.placement_pb2 import RoutingTable
from vectron.wire import PointId

__all__ = ["CallPolicy", "ShardCaller", "ShardFn", "settle_writes", "worst"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: one attempt: (client of the chosen replica, the shard at the current epoch, seconds left) -> answer
ShardFn = Callable[[WorkerClient, ShardTarget, float], T]


@dataclass(frozen=True)
class CallPolicy:
    #: longest single attempt
    call_timeout: float = 10.0
    #: attempts and total time of one shard call (a new collection's shards open on the
    #: workers' next heartbeat; a leader election takes a second or two)
    attempts: int = 40
    deadline: float = 15.0


def worst(errors: Iterable[VectronError]) -> VectronError:
    """The error to report for several shards: an indeterminate one first (it must never read as "not applied")."""
    listed = list(errors)
    return next((e for e in listed if isinstance(e, Indeterminate)), listed[0])


class ShardCaller:
    """Shard calls with retries and parallel fan-out (see the module docstring)."""

    def __init__(
        self, routing: RoutingCache, router: Router, workers: WorkerClients, pool: ThreadPoolExecutor, policy: CallPolicy
    ) -> None:
        self.routing = routing
        self.router = router
        self.workers = workers
        self.pool = pool
        self.policy = policy

    def call(
        self,
        owner: str,
        name: str,
        shard_id: int,
        fn: ShardFn[T],
        *,
        write: bool,
        consistency: str | None = None,
        attempts: int | None = None,
    ) -> T:
        """``fn`` on the right replica of one shard, retried until it answers, fails for good,
        or the deadline passes. A write that may have been applied by an earlier attempt ends
        as Indeterminate, never as a definite failure."""
        deadline = time.monotonic() + self.policy.deadline
        state = {"attempt": 0, "refresh": False, "follow": False, "indeterminate": False}

        def once() -> T:
            attempt = state["attempt"]
            state["attempt"] += 1
            table = self.routing.refresh(owner, name) if state["refresh"] else self.routing.get(owner, name)
            state["refresh"] = False
            try:
                shard, address = self.router.pick(table, shard_id, write, consistency, attempt, bool(state["follow"]))
            except Unavailable:
                state["refresh"] = True
                raise
            state["follow"] = False
            target = ShardTarget(table.collection.collection_id, shard_id, table.epoch)
            left = min(self.policy.call_timeout, deadline - time.monotonic())
            if left <= 0:
                raise Unavailable(f"shard {shard_id} of {name!r}: no time left")
            try:
                out = fn(self.workers.client(address), target, left)
            except NotLeader as err:
                self.router.set_leader(target.collection_id, shard, err.leader)
                state["follow"] = bool(err.leader)
                state["refresh"] = not err.leader
                raise
            except (StaleEpoch, NotFound) as err:
                # a stale epoch, a shard this worker does not (yet) host, a collection it has not opened
                state["refresh"] = True
                raise Unavailable(f"shard {shard_id} of {name!r}: {err.message}") from None
            except (Unavailable, Indeterminate) as err:
                self.router.set_leader(target.collection_id, shard, None)
                state["refresh"] = True
                if isinstance(err, Indeterminate):
                    state["indeterminate"] = True  # the write may have been applied
                    raise Indeterminate(f"shard {shard_id} of {name!r}: {err.message}") from None
                raise
            if write or consistency != "any":
                self.router.set_leader(target.collection_id, shard, address)
            return out

        retrying = Retrying(
            stop=stop_after_attempt(attempts or self.policy.attempts) | stop_after_delay(self.policy.deadline),
            wait=wait_exponential_jitter(multiplier=0.05, max=1.0),
            retry=retry_if_exception(lambda exc: isinstance(exc, (Unavailable, Indeterminate))),
            reraise=True,
        )
        try:
            return retrying(once)
        except Unavailable as exc:
            if state["indeterminate"]:  # a later definite failure does not undo an earlier maybe-applied write
                raise Indeterminate(
                    f"shard {shard_id} of {name!r}: an earlier attempt may have been applied; last error: {exc.message}"
                ) from None
            raise

    def fan_out(
        self,
        owner: str,
        name: str,
        calls: Mapping[int, ShardFn[T]],
        *,
        write: bool,
        consistency: str | None = None,
        attempts: int | None = None,
    ) -> dict[int, T | VectronError]:
        """One :meth:`call` per shard (``{shard: fn}``), in parallel; each shard's answer or
        the VectronError it ended with. Shards whose replica to call is a worker in this
        process are answered on this thread, one after the other (an in-process search
        costs less than a thread hand-off); the others go to the pool, except the last one
        when no shard is local (a one-shard collection costs no thread hand-off)."""

        def run(shard_id: int, fn: ShardFn[T]) -> T:
            return self.call(owner, name, shard_id, fn, write=write, consistency=consistency, attempts=attempts)

        local, remote = [], []
        for item in calls.items():
            (local if self._local(owner, name, item[0], write, consistency) else remote).append(item)
        if not local and remote:
            local.append(remote.pop())
        futures: dict[int, Future[T]] = {s: self.pool.submit(run, s, fn) for s, fn in remote}
        out: dict[int, T | VectronError] = {}
        for shard_id, fn in local:
            out[shard_id] = _outcome(shard_id, lambda: run(shard_id, fn))
        for shard_id, fut in futures.items():
            out[shard_id] = _outcome(shard_id, fut.result)
        return dict(sorted(out.items()))

    def _local(self, owner: str, name: str, shard_id: int, write: bool, consistency: str | None) -> bool:
        """Whether the first replica a call of this shard would try is in this process."""
        try:
            _, address = self.router.pick(self.routing.get(owner, name), shard_id, write, consistency, 0, False)
        except VectronError:
            return False
        return self.workers.is_local(address)

    def serves_now(self, table: RoutingTable, consistency: str | None) -> bool:
        """Whether every shard of ``table`` would be answered by a worker in this process at
        once (a read at ``consistency``: nothing to wait for, no network)."""
        for shard in table.shards:
            target = ShardTarget(table.collection.collection_id, shard.shard_id, table.epoch)
            if consistency == "any":  # round robin: any replica may be the one called
                addresses = [r.grpc_address for r in shard.replicas]
            else:
                try:
                    addresses = [self.router.pick(table, shard.shard_id, False, consistency, 0, False)[1]]
                except VectronError:
                    return False
            if not addresses or not all(self.workers.serves_now(a, target, consistency) for a in addresses):
                return False
        return True


def _outcome(shard_id: int, get: Callable[[], T]) -> T | VectronError:
    try:
        return get()
    except VectronError as exc:
        return exc
    except Exception as exc:
        log.exception("shard %d call failed", shard_id)
        return Unavailable(f"shard {shard_id}: internal error ({type(exc).__name__})")


def settle_writes(
    results: Mapping[int, int | VectronError], ids_by_shard: Mapping[int, Sequence[PointId]] | None, what: str, total: int | None = None
) -> int:
    """The number of points a write affected on all its shards, or the error: the shards'
    own error when every shard failed, else PartialWrite with the ids written, the ids
    not written and the ids whose outcome is unknown (``ids_by_shard`` None: a write by
    filter, whose ids are not known)."""
    failed = {s: r for s, r in results.items() if isinstance(r, VectronError)}
    if not failed:
        return sum(int(r) for r in results.values() if not isinstance(r, VectronError))
    cause = worst(failed.values())
    if len(failed) == len(results):
        raise cause
    unknown = {s for s, r in failed.items() if isinstance(r, Indeterminate)}
    ids = ids_by_shard or {}

    def of(shards: Iterable[int]) -> list[PointId]:
        return [pid for s in sorted(shards) for pid in ids.get(s, ())]

    written = of(s for s in results if s not in failed)
    done = sorted(s for s in results if s not in failed)
    count = f"{len(written)} of {total} points were written; " if total is not None else f"{what} applied on shard(s) {done}; "
    raise PartialWrite(
        f"{count}shard(s) {', '.join(map(str, sorted(failed)))} failed: {cause.message}",
        cause=cause, written=written, failed=of(set(failed) - unknown), unknown=of(unknown),
    )
