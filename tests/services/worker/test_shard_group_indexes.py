"""Payload index commands in real Raft groups (in-process pysyncobj nodes on loopback):
every replica of an RF-3 shard builds the index from the log, and a replica that
starts after the others compacted their logs gets it from the snapshot."""

from __future__ import annotations

import pathlib

import pytest

from vectron.services.worker.fsm import decode_result
from vectron.v1 import worker_pb2

from .test_shard_group import replica_starter, upsert_cmd, wait

pytestmark = pytest.mark.slow

GROUP_7 = {"must": [{"key": "i", "range": {"gte": 70, "lt": 80}}]}


def index_cmd(field: str, index_type: str = "", drop: bool = False) -> bytes:
    return worker_pb2.ShardCommand(payload_index=worker_pb2.PayloadIndexCmd(field=field, type=index_type, drop=drop)).SerializeToString()


def test_an_index_reaches_every_replica_and_travels_in_snapshots(tmp_path: pathlib.Path) -> None:
    start, groups = replica_starter(tmp_path)

    try:
        first = [start(0), start(1)]
        wait(lambda: any(g.is_leader() for g in first))
        leader = next(g for g in first if g.is_leader())
        assert decode_result(leader.propose(index_cmd("i", "integer"), request_id="idx-1", timeout=20)).affected == 1
        assert decode_result(leader.propose(index_cmd("i", "integer"), request_id="idx-2", timeout=20)).affected == 0
        for b in range(20):
            decode_result(leader.propose(upsert_cmd(list(range(b * 10, b * 10 + 10))), request_id=f"req-{b}", timeout=20))
        wait(lambda: all(g.fsm.applied_index() >= leader.fsm.applied_index() for g in first))
        for g in first:
            assert g.fsm.collection.config.payload_indexes == {"i": "integer"}
            assert g.fsm.collection.count(GROUP_7) == 10
            g.compact()
        wait(lambda: all(g.status()["log_size"] < 20 for g in first))
        late = start(2)  # created without the index: it arrives in the snapshot
        wait(lambda: late.fsm.applied_index() >= leader.fsm.applied_index() and late.fsm.point_count() == 200)
        assert [(i.field, i.type) for i in late.fsm.collection.payload_indexes()] == [("i", "integer")]
        assert late.fsm.collection.count(GROUP_7) == 10
        # a drop goes through the log to all three
        decode_result(leader.propose(index_cmd("i", drop=True), request_id="idx-3", timeout=20))
        wait(lambda: all(g.fsm.collection.config.payload_indexes == {} for g in groups))
        assert all(g.fsm.collection.count(GROUP_7) == 10 for g in groups)
        # a bad command is an error result on every replica, and changes nothing
        with pytest.raises(Exception) as bad:
            decode_result(leader.propose(index_cmd("a..b", "keyword"), request_id="idx-4", timeout=20))
        assert getattr(bad.value, "field", None) == "field"
        assert all(g.fsm.collection.config.payload_indexes == {} for g in groups)
    finally:
        for g in groups:
            g.stop()
