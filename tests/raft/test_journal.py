"""DurableJournal: pysyncobj's journal interface, fsynced, no pickles."""

from __future__ import annotations

import pathlib

from vectron.raft.journal import DurableJournal


def entries(j: DurableJournal) -> list[tuple[bytes, int, int]]:
    return [j[i] for i in range(len(j))]


def fill(j: DurableJournal, n: int, term: int = 1, start: int = 1) -> None:
    for i in range(start, start + n):
        j.add(b"cmd%d" % i, i, term)


def test_entries_survive_reopen_and_are_synced(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "j")
    j = DurableJournal(path)
    fill(j, 5)
    j.sync()
    assert j.syncs == 1  # one fsync covers every entry added since the last (group commit)
    j.sync()
    assert j.syncs == 1
    j.setCurrentTerm(3, "127.0.0.1:1")
    j._destroy()
    j = DurableJournal(path)
    assert entries(j) == [(b"cmd%d" % i, i, 1) for i in range(1, 6)]
    assert j.getCurrentTerm() == 3 and j.getVotedForNodeId() == "127.0.0.1:1"
    assert j[-1][1] == 5 and [e[1] for e in j[1:3]] == [2, 3]
    j._destroy()


def test_torn_tail_is_cut(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "j"
    j = DurableJournal(str(path))
    fill(j, 3)
    j._destroy()
    path.write_bytes(path.read_bytes()[:-3])
    j = DurableJournal(str(path))
    assert [e[1] for e in entries(j)] == [1, 2]
    j.add(b"x", 3, 2)
    j._destroy()
    assert [e[1:] for e in entries(DurableJournal(str(path)))] == [(1, 1), (2, 1), (3, 2)]


def test_overlapping_resend_does_not_truncate(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "j")
    j = DurableJournal(path)
    fill(j, 6)
    j.sync()
    size = pathlib.Path(path).stat().st_size
    # pysyncobj: deleteEntriesFrom(3) then re-adds entries 4..5 of the same term
    j.deleteEntriesFrom(3)
    assert len(j) == 3
    fill(j, 2, start=4)
    assert pathlib.Path(path).stat().st_size == size  # nothing rewritten or cut
    j.sync()  # entry 6 met no conflict: restored, as Raft says
    assert [e[1] for e in entries(j)] == [1, 2, 3, 4, 5, 6]
    j._destroy()
    assert len(DurableJournal(path)) == 6


def test_conflicting_entry_cuts_the_tail(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "j")
    j = DurableJournal(path)
    fill(j, 6)
    j.deleteEntriesFrom(3)
    j.add(b"cmd4", 4, 1)  # same
    j.add(b"other", 5, 2)  # conflict at 5: 5 and 6 go
    j.sync()
    assert entries(j)[3:] == [(b"cmd4", 4, 1), (b"other", 5, 2)]
    j._destroy()
    assert entries(DurableJournal(path))[3:] == [(b"cmd4", 4, 1), (b"other", 5, 2)]


def test_compaction_and_clear(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "j")
    j = DurableJournal(path)
    fill(j, 10)
    j.deleteEntriesTo(8)
    assert [e[1] for e in entries(j)] == [9, 10]
    j.add(b"c11", 11, 1)
    j._destroy()
    j = DurableJournal(path)
    assert [e[1] for e in entries(j)] == [9, 10, 11]
    j.clear()
    assert len(j) == 0
    j.add(b"a", 20, 4)
    j._destroy()
    assert entries(DurableJournal(path)) == [(b"a", 20, 4)]


def test_not_durable_never_fsyncs(tmp_path: pathlib.Path) -> None:
    j = DurableJournal(str(tmp_path / "j"), durable=False)
    fill(j, 3)
    j.sync()
    assert j.syncs == 0
    j._destroy()


def test_clear_then_snapshot_entries_found_keeps_the_tail(tmp_path: pathlib.Path) -> None:
    # pysyncobj loading a dump at index 5 (prev 4) over a journal still holding 1..8
    path = str(tmp_path / "j")
    j = DurableJournal(path)
    fill(j, 8)
    j.sync()
    j.clear()
    j.add(b"cmd4", 4, 1)
    j.add(b"cmd5", 5, 1)
    assert [e[1] for e in entries(j)] == [4, 5]
    j.sync()  # 6..8 follow the snapshot's last entry: kept
    assert [e[1] for e in entries(j)] == [4, 5, 6, 7, 8]
    j.add(b"cmd9", 9, 1)
    j._destroy()
    assert [e[1] for e in entries(DurableJournal(path))] == [4, 5, 6, 7, 8, 9]


def test_clear_then_unknown_snapshot_entries_drop_the_old_log(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "j")
    j = DurableJournal(path)
    fill(j, 8)
    j.clear()
    j.add(b"other", 20, 3)
    j.add(b"other2", 21, 3)
    j.sync()
    assert [e[1] for e in entries(j)] == [20, 21]
    j._destroy()
    assert [e[1] for e in entries(DurableJournal(path))] == [20, 21]


def test_clear_at_the_head_is_cheap(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "j")
    j = DurableJournal(path)
    fill(j, 4)
    j.clear()
    j.add(b"cmd1", 1, 1)
    j.add(b"cmd2", 2, 1)
    j.sync()
    assert [e[1] for e in entries(j)] == [1, 2, 3, 4]
    j._destroy()
    assert [e[1] for e in entries(DurableJournal(path))] == [1, 2, 3, 4]
