"""Shard FSMs in real Raft groups (in-process pysyncobj nodes on loopback): a replica that
starts after the others compacted their logs catches up through a snapshot of the store
collection, dedup records included."""

from __future__ import annotations

import pathlib
import secrets
import time
from collections.abc import Callable

import numpy as np
import pytest

from vectron.raft import RaftConfig, RaftGroup
from vectron.services.worker.fsm import ShardStateMachine, decode_result
from vectron.store import CollectionConfig
from vectron.v1 import worker_pb2

from .cluster import free_ports

pytestmark = pytest.mark.slow

CONFIG = CollectionConfig(name="s", dimension=8, distance="cosine")


def upsert_cmd(ids: list[int]) -> bytes:
    rng = np.random.default_rng(ids[0])
    cmd = worker_pb2.UpsertCmd(vectors=rng.normal(size=(len(ids), 8)).astype("<f4").tobytes())
    for i in ids:
        cmd.ids.add(num=i)
    cmd.payload_json.extend(f'{{"i": {i}}}' for i in ids)
    return worker_pb2.ShardCommand(upsert=cmd).SerializeToString()


def wait(fn, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not fn():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def replica_starter(tmp_path: pathlib.Path, replicas: int = 3) -> tuple[Callable[[int], RaftGroup], list[RaftGroup]]:
    """``start(i)`` runs replica i of one shard group (small log compaction, so late replicas
    catch up by snapshot); ``groups`` lists the started ones, for the test to stop."""
    addresses = [f"127.0.0.1:{p}" for p in free_ports(replicas)]
    password = secrets.token_hex(8)
    groups: list[RaftGroup] = []

    def start(i: int) -> RaftGroup:
        fsm = ShardStateMachine(tmp_path / f"r{i}" / "points", CONFIG, durable=False, map_size=1 << 26)
        config = RaftConfig(
            self_address=addresses[i], peers=addresses, data_dir=str(tmp_path / f"r{i}" / "raft"), password=password,
            durable=False, log_compaction_min_entries=10, log_compaction_min_time=0.5,
        )
        group = RaftGroup(fsm, config)
        groups.append(group)
        return group

    return start, groups


def test_late_replica_catches_up_from_a_snapshot(tmp_path: pathlib.Path) -> None:
    start, groups = replica_starter(tmp_path)

    try:
        first = [start(0), start(1)]
        wait(lambda: any(g.is_leader() for g in first))
        leader = next(g for g in first if g.is_leader())
        for b in range(30):
            decode_result(leader.propose(upsert_cmd(list(range(b * 10, b * 10 + 10))), request_id=f"req-{b}", timeout=20))
        for g in first:
            g.compact()
        wait(lambda: all(g.status()["log_size"] < 30 for g in first))
        late = start(2)
        wait(lambda: late.fsm.applied_index() >= leader.fsm.applied_index() and late.fsm.point_count() == 300)
        assert late.fsm.collection.get([123])[0].payload == {"i": 123}
        hits = late.fsm.collection.search(np.random.default_rng(120).normal(size=(10, 8))[3], k=1)
        assert hits[0].id == 123
        # the dedup records came with the snapshot: a retried request id is not applied twice
        before = late.fsm.applied_index()
        decode_result(leader.propose(upsert_cmd([5000]), request_id="req-0", timeout=20))
        wait(lambda: late.fsm.applied_index() > before)
        assert late.fsm.point_count() == 300 and leader.fsm.point_count() == 300
    finally:
        for g in groups:
            g.stop()
