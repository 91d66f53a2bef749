"""Checkers other than linearizability. Each takes plain data (operation records
and what the final reads returned) and returns a :class:`CheckResult`; none of
them talks to a cluster, so each is unit-tested on hand-made inputs."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jepsen_like.history import FaultWindow, Op
from jepsen_like.linearizability import check_registers

__all__ = [
    "BAD_LOG",
    "CheckResult",
    "check_final_reads",
    "expect_replicas",
    "scan_node_log",
    "check_auth_uniqueness",
    "check_availability",
    "check_convergence",
    "check_disk_full",
    "check_linearizable_registers",
    "check_search_visibility",
    "check_set",
]


@dataclass
class CheckResult:
    name: str
    valid: bool
    summary: str
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        verdict = "PASS" if self.valid else "FAIL"
        return f"{verdict} {self.name}: {self.summary}"


#: Node log lines that fail a run: an applied Raft entry replaced by a different one
#: (vectron.raft.journal's RAFT-APPLIED-TRUNCATION ERROR), any CRITICAL line (among
#: them pysyncobj's "truncating already-applied" notice, should it ever escape the
#: journal's check), a group that stopped itself (a damaged snapshot, an entry it
#: cannot decode, a state machine that raised), a snapshot that failed to load.
BAD_LOG = re.compile(
    r"RAFT-APPLIED-TRUNCATION|\bCRITICAL\b|truncating already-applied|group node \S+ stops:"
    r"|failed to (load|restore|install) (the )?snapshot",
    re.IGNORECASE,
)


def scan_node_log(node: str, text: str) -> list[str]:
    """The lines of one node's log that fail a run (:data:`BAD_LOG`), prefixed with the node."""
    return [f"{node}: {line.strip()[:240]}" for line in text.splitlines() if BAD_LOG.search(line)]


def expect_replicas(sample: dict[str, dict[str, int | None]], nodes: Sequence[str], replicas: int,
                    everywhere: Sequence[str] = ("auth", "placement")) -> None:
    """Mark missing replicas in one status sample (group -> {node: applied index}) as
    None: the ``everywhere`` groups on every node, every other group (a shard) on
    ``replicas`` nodes (a shard replica that reports nothing is missing too)."""
    for group, seen in sample.items():
        if group in everywhere:
            for n in nodes:
                seen.setdefault(n, None)
        else:
            for i in range(replicas - len(seen)):
                seen[f"missing replica {i + 1} of {replicas}"] = None


def check_final_reads(final_reads: Iterable[Op]) -> CheckResult:
    """Every final read (after healing and the quiet period) must succeed: a key whose
    every attempt through a gateway failed is flagged, not dropped from the checks."""
    attempts: dict[tuple[Any, Any], list[Op]] = defaultdict(list)
    for o in final_reads:
        attempts[(o.extra.get("node"), o.key)].append(o)
    problems = []
    for (node, key), ops in sorted(attempts.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        if not any(o.outcome == "ok" for o in ops):
            last = ops[-1]
            problems.append(f"{last.f} {key!r} via {node}: {len(ops)} attempts, last {last.outcome} "
                            f"{last.extra.get('error') or ''}".rstrip())
    return CheckResult("final reads", not problems, f"{len(attempts)} keys read through every gateway, {len(problems)} "
                       "never answered", _limit(problems))


def _limit(problems: list[str], n: int = 20) -> list[str]:
    return problems if len(problems) <= n else problems[:n] + [f"... and {len(problems) - n} more"]


def check_linearizable_registers(ops: Iterable[Op], *, max_states: int = 2_000_000) -> CheckResult:
    """Per-key register linearizability; an undecided key (search budget spent) fails
    the check rather than passing silently."""
    results = check_registers(ops, max_states=max_states)
    bad = [r for r in results if r.valid is not True]
    n_ops = sum(r.ops for r in results)
    summary = f"{len(results)} keys, {n_ops} ops checked, {len(bad)} not linearizable or undecided"
    return CheckResult("register linearizability", not bad, summary, _limit([r.describe() for r in bad]))


def check_set(adds: Iterable[Op], final_reads: Mapping[str, Mapping[Any, Any] | None], *, f: str = "add",
              name: str = "set") -> CheckResult:
    """``adds``: operations ``f="add"`` with ``key`` the id and ``value`` the payload.
    ``final_reads``: reader name (a gateway, a replica) -> {id: payload} it returned
    after healing (None: that reader could not answer, which is itself a failure).

    Every acknowledged id must be present with its payload in every read; no id whose
    add definitely failed may be present; no id that was never added may appear.
    Indeterminate adds may be present (with their payload) or absent."""
    problems: list[str] = []
    by_id: dict[Any, list[Op]] = defaultdict(list)
    for o in adds:
        if o.f == f:
            by_id[o.key].append(o)
    acked = {k: os_ for k, os_ in by_id.items() if any(o.outcome == "ok" for o in os_)}
    failed = {k for k, os_ in by_id.items() if all(o.outcome == "fail" for o in os_)}
    info = {k for k, os_ in by_id.items() if k not in acked and k not in failed}
    present_info = 0
    for reader, seen in final_reads.items():
        if seen is None:
            problems.append(f"{reader}: the final read did not answer")
            continue
        for k, os_ in acked.items():
            if k not in seen:
                problems.append(f"{reader}: acknowledged id {k!r} is missing (lost write; add #{os_[0].id})")
            elif seen[k] not in [o.value for o in os_]:
                problems.append(f"{reader}: id {k!r} has payload {seen[k]!r}, written {[o.value for o in os_]!r}")
        for k in seen:
            if k in failed:
                problems.append(f"{reader}: id {k!r} is present although its add definitely failed "
                                f"({'; '.join(str(o.extra.get('error', '')) for o in by_id[k])})")
            elif k not in by_id:
                problems.append(f"{reader}: id {k!r} was never added")
            elif k in info:
                present_info += 1
                if seen[k] not in [o.value for o in by_id[k]]:
                    problems.append(f"{reader}: id {k!r} has payload {seen[k]!r}, written {[o.value for o in by_id[k]]!r}")
    summary = (f"{len(acked)} acknowledged, {len(failed)} definitely failed, {len(info)} indeterminate "
               f"(present in {present_info} final reads), {len(final_reads)} final reads, {len(problems)} problems")
    return CheckResult(name, not problems, summary, _limit(problems))


def check_auth_uniqueness(registers: Iterable[Op], final_logins: Mapping[str, Mapping[str, bool | None]]) -> CheckResult:
    """``registers``: operations ``f="register"``, ``key`` the email, ``value`` the
    password that attempt used (each attempt its own password). ``final_logins``:
    email -> {password: logged in? (None: no answer)} after healing.

    Per email: at most one registration succeeds; after healing exactly one
    password logs in when any attempt succeeded, and it is the successful one's;
    when no attempt succeeded, a password that logs in must be an indeterminate
    attempt's; an ``already_exists`` answer implies some attempt won."""
    problems: list[str] = []
    by_email: dict[str, list[Op]] = defaultdict(list)
    for o in registers:
        if o.f == "register":
            by_email[o.key].append(o)
    winners = 0
    for email, attempts in sorted(by_email.items()):
        ok = [o for o in attempts if o.outcome == "ok"]
        info = [o for o in attempts if o.outcome == "info"]
        exists = [o for o in attempts if o.outcome == "fail" and o.extra.get("code") == "already_exists"]
        logins = final_logins.get(email)
        if len(ok) > 1:
            problems.append(f"{email}: {len(ok)} registrations succeeded (#{', #'.join(str(o.id) for o in ok)})")
        if logins is None:
            problems.append(f"{email}: no final login was tried")
            continue
        unanswered = [p for p, v in logins.items() if v is None]
        if unanswered:
            problems.append(f"{email}: {len(unanswered)} final logins did not answer")
        works = [p for p, v in logins.items() if v]
        if len(works) > 1:
            problems.append(f"{email}: {len(works)} different passwords log in")
        if ok:
            winners += 1
            if works and works != [ok[0].value]:
                problems.append(f"{email}: the winner #{ok[0].id} cannot log in; another attempt's password does")
            elif not works and not unanswered:
                problems.append(f"{email}: the winner #{ok[0].id} cannot log in after healing")
        elif works:
            winners += 1
            if works[0] not in [o.value for o in info]:
                problems.append(f"{email}: a password of a definitely failed registration logs in")
        elif exists and not info and not unanswered:
            problems.append(f"{email}: answered already_exists (#{exists[0].id}) but no registration won")
    summary = f"{len(by_email)} emails, {sum(len(v) for v in by_email.values())} registrations, {winners} winners, {len(problems)} problems"
    return CheckResult("auth uniqueness", not problems, summary, _limit(problems))


def check_search_visibility(expected: Mapping[Any, Any], top_hits: Mapping[Any, Any]) -> CheckResult:
    """``expected``: acknowledged id -> its payload. ``top_hits``: id -> the id ranked
    first by a search for that id's own vector after healing (None: the search
    failed or found nothing). Each acknowledged point must be its own top hit."""
    problems = []
    for k in expected:
        if k not in top_hits:
            problems.append(f"id {k!r}: not searched")
        elif top_hits[k] != k:
            problems.append(f"id {k!r}: a search for its vector ranked {top_hits[k]!r} first")
    summary = f"{len(expected)} acknowledged points searched, {len(problems)} not found at rank 1"
    return CheckResult("search visibility", not problems, summary, _limit(problems))


def check_convergence(samples: Sequence[Mapping[str, Mapping[str, int | None]]], *, bad_log_lines: Sequence[str] = (),
                      fatal: Mapping[str, str] | None = None) -> CheckResult:
    """``samples``: successive observations after healing, each group -> {node: applied
    index (None: not reported)}. Valid when the last sample has every group's replicas
    at one applied index, no replica stopped itself (``fatal``: replica -> why), and no
    log line says an applied entry was truncated or a snapshot failed to load."""
    problems: list[str] = []
    if not samples:
        problems.append("no status sample was taken")
    else:
        last = samples[-1]
        for group, nodes in sorted(last.items()):
            values = {v for v in nodes.values() if v is not None}
            missing = sorted(n for n, v in nodes.items() if v is None)
            if missing:
                problems.append(f"{group}: no status from {', '.join(missing)}")
            if len(values) > 1:
                problems.append(f"{group}: replicas at different applied indexes {dict(sorted(nodes.items()))}")
    for where, why in sorted((fatal or {}).items()):
        problems.append(f"{where}: stopped itself: {why}")
    problems += [f"log: {line}" for line in bad_log_lines]
    groups = len(samples[-1]) if samples else 0
    summary = f"{groups} groups, {len(samples)} samples, {len(problems)} problems"
    return CheckResult("convergence", not problems, summary, _limit(problems))


def check_availability(ops: Iterable[Op], faults: Sequence[FaultWindow], *, grace: float = 10.0,
                       writes: tuple[str, ...] = ("add", "write"), max_cut_off: int = 1,
                       min_faults: int = 0) -> CheckResult:
    """A fault that takes away a minority must not stop the majority. For each fault
    longer than ``2 * grace`` that cuts off at most ``max_cut_off`` nodes (groups have
    3 replicas: two nodes away, on 5 nodes, can be a shard's majority): every write
    sent through the gateway of a node it did not cut off, from ``grace`` seconds
    after it began (time for failure detection and an election) until it ended, is
    acknowledged ok within ``grace`` seconds. Writes through the cut-off nodes are
    not judged (they may hang or fail). Fewer than ``min_faults`` judged faults is a
    failure too (a run whose holds are too short to judge anything proves nothing)."""
    problems: list[str] = []
    judged = windows = 0
    slowest = 0.0
    ops = list(ops)
    for w in faults:
        if w.end - w.start < 2 * grace or len(w.cut_off) > max_cut_off:
            continue
        windows += 1
        for o in ops:
            node = o.extra.get("node")
            if o.f not in writes or node is None or node in w.cut_off or not (w.start + grace <= o.call < w.end):
                continue
            judged += 1
            if o.outcome == "ok":
                slowest = max(slowest, o.ret - o.call)
            if o.outcome != "ok" or o.ret - o.call > grace:
                took = f"ok after {o.ret - o.call:.1f} s" if o.outcome == "ok" else o.outcome
                problems.append(f"{w.action} at {w.start:.1f}-{w.end:.1f} s (cut off: {', '.join(sorted(w.cut_off))}): "
                                f"{o.f} {o.key!r} via {node} at {o.call:.1f} s: {took} {o.extra.get('error') or ''}".rstrip())
    if windows < min_faults:
        problems.insert(0, f"only {windows} faults could be judged (held over {2 * grace:.0f} s, at most {max_cut_off} "
                           f"node cut off); this run asks for at least {min_faults}: longer --hold or --time")
    summary = (f"{windows} faults of at most {max_cut_off} node held over {2 * grace:.0f} s, {judged} writes through reachable nodes judged "
               f"(slowest ok {slowest:.1f} s), {len(problems)} not acknowledged in {grace:.0f} s")
    return CheckResult("availability", not problems, summary, _limit(problems))


def check_disk_full(ops: Iterable[Op], faults: Sequence[FaultWindow], freed: Sequence[Mapping[str, Any]],
                    *, ready_within: float = 60.0) -> CheckResult:
    """The ``disk-full`` nemesis: ``faults`` its windows (``disk-full-*`` actions),
    ``freed`` its ``disk-freed`` notes (``node``, ``alive``, ``ready_s``). A node whose
    disk filled must not die or wedge: alive when its disk is freed, its gateway ready
    within ``ready_within`` s. No operation sent during a full disk (through any
    gateway) may be answered HTTP 500: a full disk is a clear 503/504/507, not an
    internal error. (Nothing acknowledged lost and an undamaged LMDB and journal are
    the set, register and convergence checkers' part.) The summary counts how the
    full node's own gateway answered."""
    problems: list[str] = []
    windows = [w for w in faults if w.action.startswith("disk-full")]
    answers: dict[str, int] = defaultdict(int)
    for w in windows:
        for o in ops:
            if not (w.start <= o.call < w.end):
                continue
            error = str(o.extra.get("error") or "")
            if error.startswith("HTTP 500"):
                problems.append(f"{w.action} ({', '.join(sorted(w.cut_off))}): {o.f} {o.key!r} via "
                                f"{o.extra.get('node')}: {error[:200]}")
            if o.extra.get("node") in w.cut_off:
                answers[o.outcome if not error else f"{o.outcome} {error.split(':')[0]}"] += 1
    for note in freed:
        if not note.get("alive"):
            problems.append(f"{note.get('node')} died while its disk was full (see its log)")
        elif note.get("ready_s") is None:
            problems.append(f"{note.get('node')} not ready {ready_within:.0f} s after its disk was freed")
    seen = ", ".join(f"{k} x{v}" for k, v in sorted(answers.items())) or "none"
    summary = (f"{len(windows)} full disks, {len(freed)} freed; answers through the full node: {seen}; "
               f"{len(problems)} problems")
    return CheckResult("disk-full", not problems, summary, _limit(problems))
