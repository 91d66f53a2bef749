"""The runner's safety signals fire: node-log scan, final reads never answered,
missing shard replicas, too few judged faults, network faults without namespaces."""

from __future__ import annotations

import pathlib

from jepsen_like.checkers import check_availability, check_convergence, check_final_reads, expect_replicas, scan_node_log
from jepsen_like.history import FaultWindow, Op
from jepsen_like.runner import RunConfig, refuse_without_namespaces, run

from vectron.raft.journal import APPLIED_TRUNCATION_MARKER

LOG = """\
2026-11-30 12:00:00,001 INFO vectron.raft.group: raft 10.0.0.11:7000: follower in term 2, leader 10.0.0.12:7000
2026-11-30 12:00:01,002 WARNING vectron.raft.journal: journal /d/raft.journal: truncating 1 entries, index 9 (term 2) to 9 (term 2): entry 9 of term 3 replaces them
2026-11-30 12:00:01,003 ERROR vectron.raft.journal: RAFT-APPLIED-TRUNCATION journal /d/raft.journal: applied entry 7 (term 2) replaced by a different entry of term 3 (applied index 8): state machines may have diverged
2026-11-30 12:00:02,004 CRITICAL vectron.raft.group: group node 10.0.0.11:7000 stops: entry 12 cannot be decoded (DecodeError())
2026-11-30 12:00:03,005 CRITICAL pysyncobj.syncobj: truncating already-applied log entries from index 5 (last applied: 6) - state machine may have diverged from other cluster members
"""


def test_the_log_scan_fires_on_each_marker_and_not_on_a_plain_truncation() -> None:
    bad = scan_node_log("n1", LOG)
    assert len(bad) == 3 and all(line.startswith("n1: ") for line in bad)
    assert APPLIED_TRUNCATION_MARKER in bad[0]  # the journal's marker is what the runner looks for
    assert "cannot be decoded" in bad[1] and "truncating already-applied" in bad[2]
    assert scan_node_log("n1", LOG.splitlines()[1]) == []  # a truncation of unapplied entries is normal Raft
    result = check_convergence([{"g": {"n1": 5, "n2": 5}}], bad_log_lines=bad)
    assert not result.valid and len(result.problems) == 3


def read(i: int, key: int, node: str, outcome: str) -> Op:
    return Op(id=i, process=99_999, f="read", key=key, outcome=outcome, call=i, ret=i + 1, extra={"node": node, "error": "boom"})


def test_a_final_read_never_answered_is_flagged_a_retried_one_is_not() -> None:
    ok = check_final_reads([read(1, 0, "u1", "fail"), read(2, 0, "u1", "ok"), read(3, 1, "u1", "ok")])
    assert ok.valid
    bad = check_final_reads([read(1, 0, "u1", "ok"), read(2, 1, "u2", "fail"), read(3, 1, "u2", "info")])
    assert not bad.valid and bad.problems == ["read 1 via u2: 2 attempts, last info boom"]


def test_a_missing_shard_replica_is_flagged_like_a_missing_auth_replica() -> None:
    sample: dict[str, dict[str, int | None]] = {"auth": {"n1": 4, "n2": 4}, "shard c/0": {"n1": 9, "n3": 9}}
    expect_replicas(sample, ["n1", "n2", "n3"], 3)
    assert sample["auth"]["n3"] is None
    assert None in sample["shard c/0"].values() and len(sample["shard c/0"]) == 3
    result = check_convergence([sample])
    assert not result.valid and any("shard c/0: no status from missing replica 1 of 3" in p for p in result.problems)
    full: dict[str, dict[str, int | None]] = {"shard c/0": {"n1": 9, "n2": 9, "n3": 9}}
    expect_replicas(full, ["n1", "n2", "n3"], 3)
    assert check_convergence([full]).valid


def test_too_few_judged_faults_fail_the_availability_check() -> None:
    short = [FaultWindow("pause-one", 10.0, 16.0, frozenset({"u1"}))]  # 6 s: too short to judge
    assert check_availability([], short).valid
    result = check_availability([], short, min_faults=2)
    assert not result.valid and "only 0 faults could be judged" in result.problems[0]


def test_network_faults_without_namespaces_are_refused() -> None:
    notes = ["network namespaces unavailable (not root): partitions and netem NOT run"]
    why = refuse_without_namespaces(["kill", "partition"], False, notes)
    assert why is not None and "partition" in why and "not root" in why
    assert refuse_without_namespaces(["leader-one-way"], False, ["--no-netns: partitions and netem NOT run"])
    assert refuse_without_namespaces(["kill", "pause"], False, notes) is None
    assert refuse_without_namespaces(["partition"], True, []) is None


def test_a_run_asking_for_partitions_without_namespaces_is_invalid(tmp_path: pathlib.Path) -> None:
    report = run(RunConfig(nemeses=["kill", "partition"], no_netns=True, out_dir=tmp_path, time=1.0))
    assert report.error is not None and report.error.startswith("refused:") and "partition" in report.error
    assert not report.valid and report.summary().endswith("INVALID")
