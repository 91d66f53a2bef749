"""Unit tests of the FSM bookkeeping with the in-memory runner."""

from __future__ import annotations

import io
import json
import pathlib

import pytest

from vectron.errors import InvalidArgument
from vectron.raft import DedupLedger, Entry, InMemoryGroup

from .kvfsm import KVStateMachine, cmd


def res(raw: bytes) -> dict:
    return json.loads(raw)


@pytest.fixture
def fsm(tmp_path: pathlib.Path):
    m = KVStateMachine(tmp_path / "fsm")
    yield m
    m.close()


def test_apply_returns_result_and_persists_index(tmp_path: pathlib.Path) -> None:
    m = KVStateMachine(tmp_path / "fsm")
    assert res(m.apply(Entry(1, "a", cmd(op="set", k="x", v=1)))) == {"ok": True, "v": 1}
    assert m.applied_index() == 1
    m.close()
    m = KVStateMachine(tmp_path / "fsm")
    assert m.applied_index() == 1
    assert m.get("x") == 1
    m.close()


def test_entries_at_or_below_applied_index_are_skipped(fsm: KVStateMachine) -> None:
    fsm.apply(Entry(1, "a", cmd(op="incr", k="c")))
    fsm.apply(Entry(2, None, cmd(op="incr", k="c")))
    # a journal replay hands the same entries again
    assert res(fsm.apply(Entry(1, "a", cmd(op="incr", k="c")))) == {"ok": True, "v": 1}
    fsm.apply(Entry(2, None, cmd(op="incr", k="c")))
    assert fsm.get("c") == 2
    assert fsm.applies() == 2


def test_retried_request_id_is_applied_once(fsm: KVStateMachine) -> None:
    first = fsm.apply(Entry(1, "req-1", cmd(op="incr", k="c")))
    again = fsm.apply(Entry(2, "req-1", cmd(op="incr", k="c")))
    assert first == again
    assert fsm.get("c") == 1
    assert fsm.applied_index() == 2


def test_apply_never_raises_and_records_error(fsm: KVStateMachine) -> None:
    out = res(fsm.apply(Entry(1, "r", cmd(op="fail"))))
    assert "boom" in out["error"]
    assert fsm.applied_index() == 1
    assert fsm.applies() == 0  # the effect was rolled back
    assert res(fsm.apply(Entry(2, "r", cmd(op="fail")))) == out


def test_dedup_ring_is_bounded(tmp_path: pathlib.Path) -> None:
    m = KVStateMachine(tmp_path / "fsm", dedup_capacity=3)
    for i in range(1, 6):
        m.apply(Entry(i, f"r{i}", cmd(op="incr", k="c")))
    assert m.lookup_result("r1") is None and m.lookup_result("r2") is None
    assert res(m.lookup_result("r5")) == {"ok": True, "v": 5}
    # r1 was forgotten: a retry now applies again (the documented bound)
    m.apply(Entry(6, "r1", cmd(op="incr", k="c")))
    assert m.get("c") == 6
    m.close()


def test_ledger_as_plain_metadata() -> None:
    meta: dict[str, bytes] = {}
    ledger = DedupLedger(capacity=2)
    for i, rid in enumerate(["a", "b", "c"], start=1):
        for k, v in ledger.record_meta(meta.get, i, rid, f"res-{rid}".encode()).items():
            if v is None:
                meta.pop(k, None)
            else:
                meta[k] = v
    assert ledger.applied_index(meta.get) == 3
    assert ledger.lookup(meta.get, "a") is None
    assert ledger.lookup(meta.get, "c") == b"res-c"
    assert ledger.lookup(meta.get, None) is None
    assert all(k.startswith("raft.") for k in meta)


def test_snapshot_restore_round_trip(tmp_path: pathlib.Path) -> None:
    a = KVStateMachine(tmp_path / "a")
    for i in range(1, 11):
        a.apply(Entry(i, f"r{i}", cmd(op="set", k=f"k{i}", v=i)))
    buf = io.BytesIO()
    a.snapshot(buf)
    with open(tmp_path / "snap", "wb") as f:  # a real fd goes through copyfd directly
        a.snapshot(f)
    assert (tmp_path / "snap").stat().st_size == len(buf.getvalue())
    b = KVStateMachine(tmp_path / "b")
    b.apply(Entry(1, "other", cmd(op="set", k="gone", v=0)))
    buf.seek(0)
    b.restore(buf)
    assert b.applied_index() == 10
    assert b.get("k7") == 7 and b.get("gone") is None
    assert res(b.apply(Entry(11, "r3", cmd(op="set", k="k3", v=99)))) == {"ok": True, "v": 3}
    assert b.get("k3") == 3
    a.close()
    b.close()


def test_failed_restore_keeps_old_state(fsm: KVStateMachine) -> None:
    fsm.apply(Entry(1, "r", cmd(op="set", k="x", v=1)))
    with pytest.raises(Exception):
        fsm.restore(io.BytesIO(b"not an lmdb file" * 100))
    assert fsm.get("x") == 1 and fsm.applied_index() == 1


def test_in_memory_group(fsm: KVStateMachine) -> None:
    with InMemoryGroup(fsm) as g:
        assert res(g.propose(cmd(op="incr", k="c"), "r1")) == {"ok": True, "v": 1}
        assert res(g.propose(cmd(op="incr", k="c"), "r1")) == {"ok": True, "v": 1}
        g.propose(cmd(op="incr", k="c"))
        assert g.read(lambda m: m.get("c")) == 2
        assert g.read(lambda m: m.get("c"), consistency="any") == 2
        with pytest.raises(InvalidArgument):
            g.read(lambda m: None, consistency="bogus")
        assert g.leader() == g.self_address and g.is_ready()
        assert g.status()["fsm_applied_index"] == fsm.applied_index()


def test_reads_during_restore_never_fail(tmp_path: pathlib.Path) -> None:
    import threading

    a = KVStateMachine(tmp_path / "a")
    for i in range(1, 200):
        a.apply(Entry(i, None, cmd(op="set", k=f"k{i % 7}", v=i)))
    image = io.BytesIO()
    a.snapshot(image)
    b = KVStateMachine(tmp_path / "b")
    b.apply(Entry(1, None, cmd(op="set", k="k1", v=-1)))
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                assert b.get("k1") in (-1, 197)
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for _ in range(5):
        image.seek(0)
        b.restore(image)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    assert b.get("k1") == 197
    a.close()
    b.close()


def test_snapshot_file_round_trip_and_damage(tmp_path: pathlib.Path) -> None:
    from vectron.errors import StorageError
    from vectron.raft.snapshot_file import open_image, verify_snapshot, write_snapshot

    a = KVStateMachine(tmp_path / "a")
    for i in range(1, 50):
        a.apply(Entry(i, f"r{i}", cmd(op="set", k=f"k{i}", v=i)))
    path = str(tmp_path / "snap")
    writer = a.begin_snapshot()
    assert writer is not None
    a.apply(Entry(50, "r50", cmd(op="set", k="k50", v=50)))  # after the state was fixed: not in the image
    write_snapshot(path, writer, (b"c49", 49, 1), (b"c48", 48, 1), ["h:2", "h:1"])
    header = verify_snapshot(path)
    assert header.applied_index == 49 and list(header.cluster) == ["h:1", "h:2"]
    b = KVStateMachine(tmp_path / "b")
    with open_image(path) as image:
        b.restore(image)
    assert b.applied_index() == 49 and b.get("k49") == 49 and b.get("k50") is None
    raw = bytearray(pathlib.Path(path).read_bytes())
    raw[-1] ^= 0x40
    pathlib.Path(path).write_bytes(bytes(raw))
    with pytest.raises(StorageError):
        verify_snapshot(path)
    a.close()
    b.close()


class _LateSubDbKV(KVStateMachine):
    """Uses a sub-db it never declared, first inside ``apply_command``."""

    def apply_command(self, txn, entry: Entry) -> bytes:  # type: ignore[no-untyped-def]
        txn.put(b"k", entry.body, db=self.db("late"))
        return b"ok"


def _in_thread(fn, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    """Run ``fn`` on a daemon thread; fail (instead of hanging the suite) if it never returns."""
    import threading

    box: list[object] = []
    t = threading.Thread(target=lambda: box.append(fn()), daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "hung (an LMDB write transaction waiting for the one it is inside)"
    return box[0]


def test_undeclared_sub_db_inside_apply_is_an_error_not_a_hang(tmp_path: pathlib.Path) -> None:
    from vectron.errors import StorageError

    m = _LateSubDbKV(tmp_path / "fsm")
    out = res(_in_thread(lambda: m.apply(Entry(1, "r", cmd(op="set", k="x", v=1)))))
    assert "sub_dbs" in out["error"] and "late" in out["error"]  # recorded as the entry's error result
    assert m.applied_index() == 1
    with m.read_txn():
        with pytest.raises(StorageError, match="sub_dbs"):  # nor inside a read transaction
            m.db("late")
    m.close()


def test_sub_dbs_are_open_after_a_restore(tmp_path: pathlib.Path) -> None:
    a = KVStateMachine(tmp_path / "a")
    a.apply(Entry(1, "r1", cmd(op="set", k="x", v=1)))
    image = io.BytesIO()
    a.snapshot(image)
    b = _LateSubDbKV(tmp_path / "b")
    b.db("late")  # opened outside any transaction: allowed, and remembered
    image.seek(0)
    b.restore(image)
    # declared ones and the remembered one are open again: usable inside apply
    assert _in_thread(lambda: b.apply(Entry(2, "r2", b"v"))) == b"ok"
    assert b.get("x") == 1
    with b.read_txn() as txn:
        assert txn.get(b"k", db=b.db("late")) == b"v"
    a.close()
    b.close()
