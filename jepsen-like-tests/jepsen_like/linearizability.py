"""Per-key linearizability of registers: Wing & Gong's search with Lowe's
memoisation (the algorithm of porcupine and Knossos' ``linear`` checker).

A history is split by key (registers are independent, so the whole history is
linearizable iff each key's is). For one key, the operations are events on a
doubly linked list ordered by time (invocations before completions at equal
times, the permissive choice). The search repeatedly tries to linearize a
*minimal* operation (one invoked before the first pending completion); a
``(linearized set, register state)`` pair already seen is never explored twice.
Reaching a completion whose operation is not yet linearized means the current
prefix is wrong: backtrack.

- ``ok`` operations must take effect between invocation and completion.
- ``info`` writes may take effect at any time after their invocation, or never:
  their completion time is infinity and the search succeeds once every ``ok``
  operation is linearized.
- ``info`` reads constrain nothing and ``fail`` operations never happened: both
  are dropped; so is an ``info`` write whose value no read returned (choosing
  "never happened" for it is always consistent).

The register starts as ``None`` (absent); a read of ``None`` reads the absent value.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jepsen_like.history import Op

__all__ = ["LinResult", "check_register_history", "check_registers"]


@dataclass
class LinResult:
    """``valid`` is True, False, or None when the search gave up (budget spent)."""

    valid: bool | None
    key: Any = None
    ops: int = 0
    explored: int = 0
    # when invalid: the longest linearizable prefix found and the ops that could not follow it
    best_prefix: list[Op] = field(default_factory=list)
    stuck_on: list[Op] = field(default_factory=list)

    def describe(self) -> str:
        if self.valid:
            return f"key {self.key!r}: linearizable ({self.ops} ops)"
        if self.valid is None:
            return f"key {self.key!r}: unknown (search budget spent after {self.explored} states, {self.ops} ops)"
        prefix = ", ".join(_fmt(o) for o in self.best_prefix[-6:])
        stuck = ", ".join(_fmt(o) for o in self.stuck_on[:6])
        return (f"key {self.key!r}: NOT linearizable ({self.ops} ops); longest linearization ends "
                f"[... {prefix}] (state {self.best_prefix[-1].value if self.best_prefix else None!r}), "
                f"then none of [{stuck}] can take effect")


def _fmt(o: Op) -> str:
    ret = "inf" if math.isinf(o.ret) else f"{o.ret:.3f}"
    return f"#{o.id} p{o.process} {o.f}({o.value!r}) {o.outcome} [{o.call:.3f},{ret}]"


@dataclass
class _Entry:
    op_index: int
    is_call: bool
    time: float
    prev: _Entry | None = None
    next: _Entry | None = None
    match: _Entry | None = None  # call <-> return


def _step(state: Any, op: Op) -> tuple[bool, Any]:
    if op.f == "write":
        return True, op.value
    if op.f == "read":
        return state == op.value, state
    raise ValueError(f"unknown register operation {op.f!r}")


def check_register_history(ops: Iterable[Op], *, key: Any = None, initial: Any = None,
                           max_states: int = 2_000_000) -> LinResult:
    """Is this single-register history linearizable?"""
    ops = list(ops)
    read_values = [o.value for o in ops if o.f == "read" and o.outcome == "ok"]
    usable: list[Op] = []
    for o in ops:
        if o.outcome == "fail":
            continue
        if o.outcome == "info" and o.f == "read":
            continue
        if o.outcome == "info" and o.f == "write" and o.value not in read_values:
            # never observed: "it never took effect" is always a valid choice for it, and
            # dropping it keeps long histories with many indeterminate writes tractable
            continue
        if o.outcome == "info":
            o = Op(id=o.id, process=o.process, f=o.f, key=o.key, value=o.value, outcome="info", call=o.call,
                   ret=math.inf, extra=o.extra)
        usable.append(o)
    n = len(usable)
    if n == 0:
        return LinResult(True, key, 0)
    entries: list[_Entry] = []
    for i, o in enumerate(usable):
        c = _Entry(i, True, o.call)
        r = _Entry(i, False, o.ret)
        c.match, r.match = r, c
        entries += [c, r]
    # invocations before completions at equal times; infinite completions last
    entries.sort(key=lambda e: (e.time, 0 if e.is_call else 1, e.op_index))
    head = _Entry(-1, True, -math.inf)
    prev = head
    for e in entries:
        prev.next, e.prev = e, prev
        prev = e

    def lift(e: _Entry) -> None:
        for x in (e, e.match):
            assert x is not None and x.prev is not None
            x.prev.next = x.next
            if x.next is not None:
                x.next.prev = x.prev

    def unlift(e: _Entry) -> None:
        for x in (e.match, e):
            assert x is not None and x.prev is not None
            x.prev.next = x
            if x.next is not None:
                x.next.prev = x

    required = sum(1 for o in usable if o.outcome == "ok")
    remaining = required
    linearized = 0
    state = initial
    cache: set[tuple[int, Any]] = set()
    stack: list[tuple[_Entry, Any]] = []
    best: list[int] = []
    explored = 0
    entry = head.next
    while True:
        if remaining == 0:
            return LinResult(True, key, n, explored)
        if explored >= max_states:
            return LinResult(None, key, n, explored)
        assert entry is not None  # a required op's completion is always reached before the end
        if entry.is_call:
            op = usable[entry.op_index]
            legal, new_state = _step(state, op)
            explored += 1
            if legal:
                new_lin = linearized | (1 << entry.op_index)
                memo = (new_lin, _hashable(new_state))
                if memo not in cache:
                    cache.add(memo)
                    stack.append((entry, state))
                    state = new_state
                    linearized = new_lin
                    if op.outcome == "ok":
                        remaining -= 1
                    lift(entry)
                    if len(stack) > len(best):
                        best = [e.op_index for e, _ in stack]
                    entry = head.next
                    continue
            entry = entry.next
        else:
            if not stack:
                return _invalid(key, usable, best, explored)
            top, state = stack.pop()
            linearized &= ~(1 << top.op_index)
            if usable[top.op_index].outcome == "ok":
                remaining += 1
            unlift(top)
            entry = top.next


def _invalid(key: Any, usable: list[Op], best: list[int], explored: int) -> LinResult:
    prefix = [usable[i] for i in best]
    done = set(best)
    # the ops that were pending right after the best prefix: everything not in it
    # that was invoked before the first unlinearized ok completion
    rest = [o for i, o in enumerate(usable) if i not in done]
    first_ret = min((o.ret for o in rest if o.outcome == "ok"), default=math.inf)
    stuck = [o for o in rest if o.call <= first_ret]
    return LinResult(False, key, len(usable), explored, prefix, stuck)


def _hashable(v: Any) -> Any:
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    return v


def check_registers(ops: Iterable[Op], *, max_states: int = 2_000_000) -> list[LinResult]:
    """Partition by key and check each register; one result per key, keys in sorted order."""
    by_key: dict[Any, list[Op]] = defaultdict(list)
    for o in ops:
        if o.f in ("read", "write"):
            by_key[o.key].append(o)
    return [check_register_history(v, key=k, max_states=max_states) for k, v in sorted(by_key.items(), key=lambda kv: repr(kv[0]))]
