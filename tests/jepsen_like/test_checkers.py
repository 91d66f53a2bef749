"""The set, auth-uniqueness, search-visibility, availability and convergence checkers on hand-made inputs
(and the availability checker on a recorded history)."""

from __future__ import annotations

import json
import math
import pathlib

from jepsen_like.checkers import (
    check_auth_uniqueness,
    check_availability,
    check_convergence,
    check_linearizable_registers,
    check_search_visibility,
    check_set,
)
from jepsen_like.history import FaultWindow, Op, fault_windows, pair_events


def add(i: int, k: int, outcome: str = "ok", **extra: object) -> Op:
    return Op(id=i, process=0, f="add", key=k, value={"v": k}, outcome=outcome, call=i, ret=i + 0.5 if outcome != "info" else math.inf,
              extra=dict(extra))


def reg(i: int, email: str, pw: str, outcome: str, code: str | None = None) -> Op:
    return Op(id=i, process=i, f="register", key=email, value=pw, outcome=outcome, call=0, ret=1, extra={"code": code} if code else {})


def test_set_all_present() -> None:
    adds = [add(0, 1), add(1, 2), add(2, 3, "info"), add(3, 4, "fail")]
    res = check_set(adds, {"n1": {1: {"v": 1}, 2: {"v": 2}}, "n2": {1: {"v": 1}, 2: {"v": 2}, 3: {"v": 3}}})
    assert res.valid, res.problems


def test_set_lost_write_wrong_payload_failed_present_and_unknown_ids() -> None:
    adds = [add(0, 1), add(1, 2), add(2, 4, "fail", error="503")]
    res = check_set(adds, {"n1": {2: {"v": 3}, 4: {"v": 4}, 9: {}}, "n2": None})
    assert not res.valid
    text = "\n".join(res.problems)
    assert "acknowledged id 1 is missing" in text
    assert "id 2 has payload" in text
    assert "id 4 is present although its add definitely failed" in text
    assert "id 9 was never added" in text
    assert "n2: the final read did not answer" in text


def test_set_retried_add_that_once_failed_and_once_succeeded_is_acknowledged() -> None:
    res = check_set([add(0, 1, "fail"), add(1, 1, "ok")], {"n1": {1: {"v": 1}}})
    assert res.valid, res.problems


def test_auth_one_winner_who_logs_in() -> None:
    ops = [reg(0, "a@x", "p0", "ok"), reg(1, "a@x", "p1", "fail", "already_exists"), reg(2, "a@x", "p2", "info")]
    assert check_auth_uniqueness(ops, {"a@x": {"p0": True, "p1": False, "p2": False}}).valid
    # an indeterminate attempt may be the one that won
    ops = [reg(0, "b@x", "p0", "info"), reg(1, "b@x", "p1", "fail", "already_exists")]
    assert check_auth_uniqueness(ops, {"b@x": {"p0": True, "p1": False}}).valid


def test_auth_two_winners_or_winner_locked_out() -> None:
    ops = [reg(0, "a@x", "p0", "ok"), reg(1, "a@x", "p1", "ok")]
    res = check_auth_uniqueness(ops, {"a@x": {"p0": True, "p1": False}})
    assert not res.valid and "2 registrations succeeded" in res.problems[0]
    res = check_auth_uniqueness([reg(0, "a@x", "p0", "ok")], {"a@x": {"p0": False}})
    assert not res.valid and "cannot log in" in res.problems[0]
    res = check_auth_uniqueness([reg(0, "a@x", "p0", "ok"), reg(1, "a@x", "p1", "fail", "already_exists")],
                                {"a@x": {"p0": False, "p1": True}})
    assert not res.valid


def test_auth_exists_without_a_winner_and_failed_password_logging_in() -> None:
    res = check_auth_uniqueness([reg(0, "a@x", "p0", "fail", "already_exists")], {"a@x": {"p0": False}})
    assert not res.valid and "no registration won" in res.problems[0]
    res = check_auth_uniqueness([reg(0, "a@x", "p0", "fail", "unavailable")], {"a@x": {"p0": True}})
    assert not res.valid and "definitely failed" in res.problems[0]


def test_search_visibility() -> None:
    assert check_search_visibility({1: {}, 2: {}}, {1: 1, 2: 2}).valid
    res = check_search_visibility({1: {}, 2: {}, 3: {}}, {1: 1, 2: 5})
    assert not res.valid and len(res.problems) == 2


def test_convergence() -> None:
    ok = [{"auth": {"n1": 5, "n2": 4}}, {"auth": {"n1": 5, "n2": 5}, "shard 1/0": {"n1": 9, "n3": 9}}]
    assert check_convergence(ok).valid
    res = check_convergence([{"auth": {"n1": 5, "n2": 4, "n3": None}}], bad_log_lines=["n2: snapshot restore failed"],
                            fatal={"n3/auth": "restore failed"})
    assert not res.valid and len(res.problems) == 4
    assert not check_convergence([]).valid


def test_linearizable_registers_wrapper() -> None:
    ops = [Op(0, 0, "write", "k", 1, "ok", 0, 1), Op(1, 1, "read", "k", 2, "ok", 2, 3)]
    res = check_linearizable_registers(ops)
    assert not res.valid and "NOT linearizable" in res.problems[0]
    assert check_linearizable_registers(ops[:1]).valid


def test_set_checker_on_collection_creates() -> None:
    creates = [Op(0, 0, "create", "c1", {"dimension": 2}, "ok", 0, 1), Op(1, 0, "create", "c2", {"dimension": 2}, "fail", 2, 3)]
    res = check_set(creates, {"n1": {"c1": {"dimension": 2}}}, f="create", name="collections")
    assert res.valid and res.name == "collections"
    res = check_set(creates, {"n1": {"c2": {"dimension": 2}}}, f="create", name="collections")
    assert not res.valid and len(res.problems) == 2


def write_via(i: int, node: str, call: float, took: float, outcome: str = "ok") -> Op:
    return Op(id=i, process=i, f="write", key=0, value=i, outcome=outcome, call=call,
              ret=call + took if outcome != "info" else math.inf, extra={"node": node})


def test_fault_windows_end_at_the_next_nemesis_note_and_skip_faults_without_cut_off() -> None:
    events = [
        {"type": "nemesis", "time": 1.0, "action": "kill-majority", "nodes": ["n1", "n2"]},
        {"type": "nemesis", "time": 5.0, "action": "restart", "nodes": ["n1", "n2"]},
        {"type": "nemesis", "time": 7.0, "action": "partition-one", "cut_off": ["n2"]},
        {"type": "invoke", "time": 8.0, "id": 0, "process": 0, "f": "write"},
        {"type": "nemesis", "time": 30.0, "action": "heal-network"},
        {"type": "nemesis", "time": 40.0, "action": "pause-one", "cut_off": ["n3"]},
    ]
    windows = fault_windows(events, {"n1": "u1", "n2": "u2", "n3": "u3"})
    assert windows == [FaultWindow("partition-one", 7.0, 30.0, frozenset({"u2"})),
                       FaultWindow("pause-one", 40.0, math.inf, frozenset({"u3"}))]


def test_availability_judges_only_reachable_gateways_after_the_grace() -> None:
    fault = [FaultWindow("partition-one", 10.0, 40.0, frozenset({"u2"}))]
    fine = [
        write_via(0, "u1", 12.0, 8.0, "info"),  # inside the grace: not judged
        write_via(1, "u2", 25.0, 20.0, "info"),  # through the cut-off node: not judged
        write_via(2, "u1", 25.0, 3.0),
        write_via(3, "u3", 39.0, 2.0),
        write_via(4, "u1", 41.0, 30.0, "info"),  # after the fault: not judged
    ]
    res = check_availability(fine, fault)
    assert res.valid and "2 writes" in res.summary, res
    assert check_availability([write_via(0, "u1", 25.0, 20.0, "info")], fault, grace=20.0).valid  # fault too short to judge
    two_away = [FaultWindow("partition-halves", 10.0, 40.0, frozenset({"u2", "u4"}))]  # may hold a shard's majority
    assert check_availability([write_via(0, "u1", 25.0, 20.0, "info")], two_away).valid


def test_availability_fails_on_a_slow_a_failed_or_an_indeterminate_write_through_a_reachable_node() -> None:
    fault = [FaultWindow("partition-one", 10.0, 40.0, frozenset({"u2"}))]
    for op in (write_via(0, "u1", 25.0, 10.5), write_via(0, "u3", 25.0, 1.0, "fail"), write_via(0, "u1", 30.0, 0, "info")):
        res = check_availability([op], fault)
        assert not res.valid and len(res.problems) == 1, res


def test_availability_fails_on_the_recorded_one_way_cut_stall() -> None:
    """Seed 21 with --nemesis leader-one-way --hold 18,25, recorded before the fix (gRPC keepalive,
    Raft transport pings and connect timeout): writes through the two reachable gateways timed out
    (504) during the cut. The nemesis notes had no ``cut_off`` field then; it was added from their
    text ("nobody reaches nX") when the history was stored."""
    path = pathlib.Path(__file__).parent / "histories" / "one-way-cut-stall-seed21.jsonl"
    events = [json.loads(line) for line in path.read_text().splitlines()]
    urls = next(e["urls"] for e in events if e["type"] == "setup")
    res = check_availability(pair_events(events), fault_windows(events, {f"n{i + 1}": u for i, u in enumerate(urls)}))
    assert not res.valid
    assert any("504 indeterminate" in p for p in res.problems), res.problems
