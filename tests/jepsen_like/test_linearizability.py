"""The register linearizability checker on hand-written histories."""

from __future__ import annotations

import math
import random

from jepsen_like.history import History, Op, pair_events
from jepsen_like.linearizability import check_register_history, check_registers


def w(i: int, p: int, v: object, call: float, ret: float, outcome: str = "ok", key: object = "k") -> Op:
    return Op(id=i, process=p, f="write", key=key, value=v, outcome=outcome, call=call, ret=ret if outcome != "info" else math.inf)


def r(i: int, p: int, v: object, call: float, ret: float, outcome: str = "ok", key: object = "k") -> Op:
    return Op(id=i, process=p, f="read", key=key, value=v, outcome=outcome, call=call, ret=ret if outcome != "info" else math.inf)


def valid(ops: list[Op]) -> bool | None:
    return check_register_history(ops, key="k").valid


def test_empty_and_sequential() -> None:
    assert valid([]) is True
    assert valid([r(0, 0, None, 0, 1), w(1, 0, 1, 2, 3), r(2, 1, 1, 4, 5), w(3, 1, 2, 6, 7), r(4, 0, 2, 8, 9)]) is True


def test_stale_read_is_invalid() -> None:
    # 1 then 2 written one after the other; a later read sees 1
    res = check_register_history([w(0, 0, 1, 0, 1), w(1, 0, 2, 2, 3), r(2, 1, 1, 4, 5)], key="k")
    assert res.valid is False
    assert "NOT linearizable" in res.describe() and "#2" in res.describe()


def test_lost_write_is_invalid() -> None:
    # an acknowledged write is not visible to a read that starts after it
    assert valid([w(0, 0, 7, 0, 1), r(1, 1, None, 2, 3)]) is False


def test_read_of_a_never_written_value_is_invalid() -> None:
    assert valid([w(0, 0, 1, 0, 1), r(1, 1, 99, 2, 3)]) is False
    assert valid([r(0, 1, 99, 0, 3)]) is False


def test_concurrent_write_and_read_either_order() -> None:
    # the read overlaps the write: it may see the old or the new value
    assert valid([w(0, 0, 1, 0, 10), r(1, 1, None, 1, 2)]) is True
    assert valid([w(0, 0, 1, 0, 10), r(1, 1, 1, 1, 2)]) is True


def test_concurrent_writes_either_order() -> None:
    a, b = w(0, 0, 1, 0, 10), w(1, 1, 2, 1, 9)
    assert valid([a, b, r(2, 2, 1, 11, 12)]) is True
    assert valid([a, b, r(2, 2, 2, 11, 12)]) is True
    # but two sequential reads cannot flip back: 1, then 2, then 1 again
    assert valid([a, b, r(2, 2, 1, 11, 12), r(3, 2, 2, 13, 14), r(4, 2, 1, 15, 16)]) is False


def test_reads_must_agree_on_one_order() -> None:
    # two concurrent writes; two concurrent readers see them in opposite orders, sequentially
    ops = [w(0, 0, 1, 0, 10), w(1, 1, 2, 0, 10),
           r(2, 2, 1, 1, 2), r(3, 2, 2, 3, 4),
           r(4, 3, 2, 1, 2), r(5, 3, 1, 3, 4)]
    assert valid(ops) is False


def test_indeterminate_write_may_take_effect_late_or_never() -> None:
    x = w(0, 0, 5, 0, 0, outcome="info")
    assert valid([x, r(1, 1, None, 1, 2)]) is True          # never (yet)
    assert valid([x, r(1, 1, None, 1, 2), r(2, 1, 5, 100, 101)]) is True  # much later
    assert valid([x, r(1, 1, 5, 1, 2), r(2, 1, None, 3, 4)]) is False  # took effect, then undone
    # it cannot take effect before it was invoked
    assert valid([r(1, 1, 5, 0, 1), w(0, 0, 5, 2, 2, outcome="info")]) is False


def test_indeterminate_write_can_be_overwritten_or_overwrite() -> None:
    ops = [w(0, 0, 1, 0, 0, outcome="info"), w(1, 1, 2, 5, 6), r(2, 2, 1, 7, 8)]
    assert valid(ops) is True  # the info write landed after the ok one
    ops = [w(0, 0, 1, 0, 0, outcome="info"), w(1, 1, 2, 5, 6), r(2, 2, 1, 7, 8), r(3, 2, 2, 9, 10)]
    assert valid(ops) is False


def test_failed_ops_never_happened_and_info_reads_are_ignored() -> None:
    assert valid([w(0, 0, 3, 0, 1, outcome="fail"), r(1, 1, 3, 2, 3)]) is False
    assert valid([w(0, 0, 3, 0, 1, outcome="fail"), r(1, 1, None, 2, 3)]) is True
    assert valid([w(0, 0, 3, 0, 1), r(1, 1, 99, 2, 3, outcome="info")]) is True


def test_per_key_partitioning() -> None:
    ops = [w(0, 0, 1, 0, 1, key="a"), w(1, 0, 2, 0, 1, key="b"), r(2, 1, 1, 2, 3, key="a"), r(3, 1, 1, 2, 3, key="b")]
    res = {x.key: x.valid for x in check_registers(ops)}
    assert res == {"a": True, "b": False}


def test_history_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    h = History(tmp_path / "h.jsonl")
    a = h.invoke(0, "write", "k", 1)
    b = h.invoke(1, "read", "k")
    h.complete(a, "ok")
    h.complete(b, "ok", 1)
    c = h.invoke(0, "write", "k", 2)
    h.complete(c, "info", error="timeout")
    h.note("nemesis", action="kill", node="n1")
    h.close()
    from jepsen_like.history import load_history
    ops = load_history(tmp_path / "h.jsonl")
    assert [(o.f, o.value, o.outcome) for o in ops] == [("write", 1, "ok"), ("read", 1, "ok"), ("write", 2, "info")]
    assert math.isinf(ops[2].ret) and ops[2].extra["error"] == "timeout"
    assert check_registers(ops)[0].valid is True


def _simulate(seed: int, n: int = 40) -> list[Op]:
    """A linearizable history by construction: each op takes effect at a random
    instant inside its interval, applied to a real register in that order."""
    rng = random.Random(seed)
    procs = 4
    free_at = [0.0] * procs
    plans = []
    for i in range(n):
        p = rng.randrange(procs)
        call = free_at[p] + rng.random()
        ret = call + rng.random() * 3
        at = rng.uniform(call, ret)
        free_at[p] = ret
        plans.append((at, i, p, call, ret, rng.random() < 0.5))
    state = None
    ops = []
    for at, i, p, call, ret, is_write in sorted(plans):
        if is_write:
            state = i
            ops.append(w(i, p, i, call, ret))
        else:
            ops.append(r(i, p, state, call, ret))
    return ops


def test_random_linearizable_histories_pass_and_a_corrupted_read_fails() -> None:
    for seed in range(30):
        ops = _simulate(seed)
        assert valid(ops) is True, seed
    # corrupt: a read that returns a value written only after the read finished
    ops = _simulate(1)
    reads = [o for o in ops if o.f == "read"]
    last_write = max((o for o in ops if o.f == "write"), key=lambda o: o.call)
    early = min(reads, key=lambda o: o.call)
    if early.ret < last_write.call:
        early.value = last_write.value
        assert valid(ops) is False


def test_pair_events_unfinished_is_info() -> None:
    ops = pair_events([{"type": "invoke", "id": 0, "process": 0, "f": "write", "key": "k", "value": 1, "time": 0.5}])
    assert ops[0].outcome == "info" and math.isinf(ops[0].ret)


def test_recorded_stale_read_under_consistency_any() -> None:
    """Regression: a real 3-node run (seed 3, kill/pause/partition) whose register
    reads used consistency=any: a read returned a value two writes old."""
    import pathlib

    from jepsen_like.history import load_history

    path = pathlib.Path(__file__).parent / "histories" / "stale-read-consistency-any-seed3-key0.jsonl"
    res = check_registers(load_history(path))
    assert [x.valid for x in res] == [False]
    assert "#521" in res[0].describe()


def test_many_unobserved_indeterminate_writes_stay_cheap() -> None:
    ops = [w(i, i, 1000 + i, 0, 0, outcome="info") for i in range(60)]
    ops += [w(100, 0, 1, 1, 2), r(101, 1, 1, 3, 4), r(102, 2, 1000 + 7, 5, 6), r(103, 2, 1000 + 7, 7, 8)]
    res = check_register_history(ops, key="k", max_states=10_000)
    assert res.valid is True
    ops.append(r(104, 2, 1, 9, 10))  # back to 1 after 1007 was seen: impossible
    assert check_register_history(ops, key="k", max_states=10_000).valid is False
