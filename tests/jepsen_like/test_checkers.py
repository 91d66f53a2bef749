"""The set, auth-uniqueness, search-visibility and convergence checkers on hand-made inputs."""

from __future__ import annotations

import math

from jepsen_like.checkers import (
    check_auth_uniqueness,
    check_convergence,
    check_linearizable_registers,
    check_search_visibility,
    check_set,
)
from jepsen_like.history import Op


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
