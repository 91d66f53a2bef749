"""write_atomic and the journal's durability order, seen through a recording file layer."""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import pytest

from vectron.raft import RaftConfig, RaftGroup, pysyncobj_compat
from vectron.raft.durable_file import write_atomic
from vectron.raft.journal import DurableJournal

from .kvfsm import KVStateMachine, cmd
from .procs import free_ports
from .recording_files import RecordingFiles
from .test_group import PASSWORD, leader_of


def test_write_atomic_writes_syncs_renames_then_syncs_the_folder(tmp_path: pathlib.Path) -> None:
    rec = RecordingFiles()
    path = str(tmp_path / "state")
    tmp = path + ".tmp"
    write_atomic(path, b"v1", fs=rec)
    assert rec.events == [
        ("open", tmp),
        ("write", tmp, b"v1"),
        ("fsync", tmp),
        ("close", tmp),
        ("replace", tmp, path),
        ("fsync_dir", str(tmp_path)),
    ]
    assert pathlib.Path(path).read_bytes() == b"v1" and not os.path.exists(tmp)
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_write_atomic_without_durability_skips_only_the_fsyncs(tmp_path: pathlib.Path) -> None:
    rec = RecordingFiles()
    write_atomic(str(tmp_path / "state"), b"v1", fs=rec, durable=False)
    assert [e[0] for e in rec.events] == ["open", "write", "close", "replace"]


def meta_writes(rec: RecordingFiles, meta: str) -> list[list[str]]:
    """The operation sequences of each replacement of ``meta``."""
    out: list[list[str]] = []
    for e in rec.events:
        if e[0] == "open" and e[1] == meta + ".tmp":
            out.append([])
        if out and (meta in str(e[1:]) or (e[0] == "fsync_dir" and out[-1] and out[-1][-1] == "replace")):
            out[-1].append(e[0])
    return out


def test_term_vote_and_commit_index_are_replaced_durably(tmp_path: pathlib.Path) -> None:
    rec = RecordingFiles()
    path = str(tmp_path / "j")
    j = DurableJournal(path, files=rec)
    j.setCurrentTerm(3, "127.0.0.1:1")
    j.setRaftCommitIndex(7)
    j.onOneSecondTimer()
    full = ["open", "write", "fsync", "close", "replace", "fsync_dir"]
    assert meta_writes(rec, path + ".meta") == [full, full]
    j._destroy()
    assert json.loads(pathlib.Path(path + ".meta").read_bytes()) == {"term": 3, "voted_for": "127.0.0.1:1", "commit": 7}


def test_votes_and_entries_are_on_disk_before_any_message_says_so(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three real nodes on one recording file layer; every message leaving a node is
    recorded at the wire (below the transport's journal sync). At each one: the
    node's journal has nothing written and not yet fsynced, a RequestVote's term
    and self-vote and a granted vote's term and candidate are in the fsynced,
    renamed meta file."""
    rec = RecordingFiles()
    wire_send = pysyncobj_compat.TCPTransport.send

    def recording_send(transport: Any, node: Any, message: Any) -> Any:
        if isinstance(message, dict):
            rec.note("send", transport._selfNode.id, node.id, message)
        return wire_send(transport, node, message)

    monkeypatch.setattr(pysyncobj_compat.TCPTransport, "send", recording_send)
    addrs = [f"127.0.0.1:{p}" for p in free_ports(3)]
    dirs = {a: str(tmp_path / f"n{i}" / "raft") for i, a in enumerate(addrs)}
    groups = []
    try:
        for i, a in enumerate(addrs):
            config = RaftConfig(self_address=a, peers=addrs, data_dir=dirs[a], password=PASSWORD)
            groups.append(RaftGroup(KVStateMachine(tmp_path / f"n{i}" / "fsm"), config, files=rec))
        for g in groups:
            g.wait_ready(30)
        leader = leader_of(groups)
        for i in range(10):
            leader.propose(cmd(op="set", k=f"k{i}", v=i))
    finally:
        for g in groups:
            g.stop()

    dirty = {a: False for a in addrs}
    pending: dict[str, dict[str, Any] | None] = {a: None for a in addrs}
    on_disk: dict[str, dict[str, Any]] = {a: {} for a in addrs}
    renamed = {a: False for a in addrs}
    checked = {"request_vote": 0, "response_vote": 0, "next_node_idx": 0}
    for event in rec.events:
        op = event[0]
        if op == "send":
            _, src, dst, message = event
            assert not dirty[src], f"{src} sent {message['type']} with journal writes not yet fsynced"
            kind = message.get("type")
            if kind == "request_vote":
                assert (on_disk[src].get("term"), on_disk[src].get("voted_for")) == (message["term"], src)
            elif kind == "response_vote":
                assert (on_disk[src].get("term"), on_disk[src].get("voted_for")) == (message["term"], dst)
            elif kind == "next_node_idx" and message["success"]:
                pass
            else:
                continue
            checked[kind] += 1
            continue
        node = next((a for a, d in dirs.items() if str(event[1]).startswith(d)), None)
        if node is None:
            continue
        journal = os.path.join(dirs[node], "raft.journal")
        if op in ("pwrite", "truncate") and event[1] == journal:
            dirty[node] = True
        elif op in ("fdatasync", "fsync") and event[1] == journal:
            dirty[node] = False
        elif op == "write" and event[1] == journal + ".meta.tmp":
            pending[node] = json.loads(event[2])
        elif op == "replace" and event[2] == journal + ".meta":
            renamed[node] = True
        elif op == "fsync_dir" and event[1] == dirs[node] and renamed[node]:
            on_disk[node], renamed[node] = pending[node] or {}, False
    assert all(checked.values()), checked  # an election and acknowledged entries were seen
