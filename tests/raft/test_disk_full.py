"""A replica whose disk fills (issue 14, found by the jepsen-like ``disk-full``
nemesis): its state machine cannot persist committed entries. It must neither
count them applied without their effect (it would silently diverge: the
jepsen-like run lost acknowledged points that way) nor stop for good; it retries
the entry and catches up once the disk has room. Real LMDB on a real small
filesystem (tmpfs of 4 MiB, so root only), real pysyncobj nodes on loopback."""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from vectron.errors import StorageError
from vectron.raft import Entry, RaftConfig, RaftGroup

from .kvfsm import KVStateMachine, cmd
from .procs import free_ports, wait_for
from .smallfs import fill, small_filesystem

PASSWORD = "disk-full-test-password"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs (root only)")


def _write(fsm: KVStateMachine, index: int, key: str) -> bytes:
    return fsm.apply(Entry(index, f"r{index}", cmd(op="set", k=key, v=index)))


def test_an_entry_the_fsm_cannot_persist_raises_and_changes_nothing(tmp_path: pathlib.Path) -> None:
    with small_filesystem(tmp_path / "small") as small:
        fsm = KVStateMachine(small / "fsm")
        try:
            assert json.loads(_write(fsm, 1, "a")) == {"ok": True, "v": 1}
            ballast = fill(small)
            for i in range(2, 200):  # LMDB reuses freed pages for a while; sooner or later it needs a new one
                try:
                    _write(fsm, i, f"k{i}" * 200)
                except StorageError as exc:
                    assert "could not persist entry" in str(exc)
                    failed = i
                    break
            else:
                pytest.fail("the full filesystem never made an apply fail")
            assert fsm.applied_index() == failed - 1  # not counted applied, no error result recorded
            assert fsm.lookup_result(f"r{failed}") is None
            ballast.unlink()
            assert json.loads(_write(fsm, failed, "after"))["ok"]  # the same entry, once there is room
            assert fsm.applied_index() == failed
            assert fsm.get("after") == failed
        finally:
            fsm.close()


def test_a_replica_whose_disk_fills_catches_up_once_freed(tmp_path: pathlib.Path) -> None:
    addrs = [f"127.0.0.1:{p}" for p in free_ports(3)]
    with small_filesystem(tmp_path / "small") as small:
        groups: list[RaftGroup] = []
        try:
            for i, addr in enumerate(addrs):
                # n2's state machine lives on the small filesystem (its journal does not)
                fsm = KVStateMachine((small if i == 2 else tmp_path / f"n{i}") / "fsm")
                groups.append(RaftGroup(fsm, RaftConfig(self_address=addr, peers=addrs,
                                                        data_dir=str(tmp_path / f"n{i}" / "raft"), password=PASSWORD)))
            for g in groups:
                g.wait_ready(30)
            full = groups[2]
            ballast = fill(small)
            written = 0
            for i in range(300):  # through the nodes whose disks have room, until n2 stalls on one
                groups[i % 2].propose(cmd(op="set", k=f"k{i}", v="x" * 2000), timeout=15)
                written += 1
                if full.status()["storage_retries"] > 0:
                    break
            assert full.status()["storage_retries"] > 0, "n2's full disk never failed an apply"
            stalled_at = full.fsm.applied_index()
            assert groups[0].fsm.applied_index() > stalled_at
            assert full.fatal is None  # stalled, not stopped
            ballast.unlink()
            target = groups[0].fsm.applied_index()
            wait_for(lambda: full.fsm.applied_index() >= target, timeout=60, what="n2 to catch up once freed")
            kv = full.fsm
            assert isinstance(kv, KVStateMachine)
            for i in range(written):
                assert kv.get(f"k{i}") == "x" * 2000, f"k{i} missing on the replica whose disk filled"
        finally:
            for g in groups:
                g.stop()
