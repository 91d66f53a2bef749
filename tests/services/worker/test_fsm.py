"""The shard FSM: one apply_batch per entry with the dedup metadata, replays skipped,
retried request ids applied once, errors recorded as values, snapshot/restore."""

from __future__ import annotations

import io
import json
import pathlib

import numpy as np
import pytest

from vectron.errors import InvalidArgument
from vectron.raft import Entry
from vectron.services.worker.fsm import ShardStateMachine, decode_result
from vectron.store import CollectionConfig
from vectron.v1 import worker_pb2

CONFIG = CollectionConfig(name="s", dimension=3, distance="euclid")


def upsert(ids: list[int], payload: dict | None = None, dim: int = 3) -> bytes:
    cmd = worker_pb2.UpsertCmd(vectors=np.arange(len(ids) * dim, dtype="<f4").tobytes())
    for i in ids:
        cmd.ids.add(num=i)
    cmd.payload_json.extend([json.dumps({"n": i} if payload is None else payload) for i in ids])
    return worker_pb2.ShardCommand(upsert=cmd).SerializeToString()


@pytest.fixture
def fsm(tmp_path: pathlib.Path):  # type: ignore[no-untyped-def]
    machine = ShardStateMachine(tmp_path / "points", CONFIG, durable=False, map_size=1 << 24)
    yield machine
    machine.close()


def test_apply_and_idempotence(fsm: ShardStateMachine, tmp_path: pathlib.Path) -> None:
    res = decode_result(fsm.apply(Entry(1, "r1", upsert([1, 2]))))
    assert (res.affected, res.index) == (2, 1)
    assert fsm.applied_index() == 1
    # a replayed entry (same index) is skipped and answered from the dedup record
    again = decode_result(fsm.apply(Entry(1, "r1", upsert([3]))))
    assert again.affected == 2 and fsm.point_count() == 2
    # a retried request id under a new index is not applied twice
    retry = decode_result(fsm.apply(Entry(2, "r1", upsert([1, 2, 4]))))
    assert retry.affected == 2 and retry.index == 1 and fsm.point_count() == 2
    assert fsm.applied_index() == 2
    delete = worker_pb2.ShardCommand(delete=worker_pb2.DeleteCmd(ids=[worker_pb2.ShardCommand().upsert.ids.add(num=1)]))
    assert decode_result(fsm.apply(Entry(3, "r2", delete.SerializeToString()))).affected == 1
    fsm.close()
    reopened = ShardStateMachine(tmp_path / "points", CONFIG, durable=False, map_size=1 << 24)
    try:
        assert reopened.applied_index() == 3 and reopened.point_count() == 1
        assert reopened.collection.get([2])[0].payload == {"n": 2}
    finally:
        reopened.close()


def test_bad_command_is_an_error_value_and_advances_the_index(fsm: ShardStateMachine) -> None:
    raw = fsm.apply(Entry(1, "bad", upsert([1], dim=4)))
    with pytest.raises(InvalidArgument):
        decode_result(raw)
    assert fsm.applied_index() == 1 and fsm.point_count() == 0
    # the store's own validation error (wrong dimension via a consistent byte count) also changes nothing
    cmd = worker_pb2.UpsertCmd(vectors=np.zeros(4, dtype="<f4").tobytes())
    cmd.ids.add(num=1)
    with pytest.raises(InvalidArgument):
        decode_result(fsm.apply(Entry(2, None, worker_pb2.ShardCommand(upsert=cmd).SerializeToString())))
    with pytest.raises(InvalidArgument):
        decode_result(fsm.apply(Entry(3, None, b"\xff\xff garbage")))
    filt = worker_pb2.ShardCommand(delete=worker_pb2.DeleteCmd(by_filter=True, filter_json='{"must": 5}'))
    with pytest.raises(InvalidArgument):
        decode_result(fsm.apply(Entry(4, None, filt.SerializeToString())))
    assert fsm.applied_index() == 4 and fsm.point_count() == 0


def test_snapshot_restore(fsm: ShardStateMachine, tmp_path: pathlib.Path) -> None:
    fsm.apply(Entry(1, "a", upsert([1, 2, 3])))
    path = tmp_path / "snap"
    with open(path, "wb") as f:
        fsm.snapshot(f)
    fsm.apply(Entry(2, "b", upsert([10, 11])))
    assert fsm.point_count() == 5
    with open(path, "rb") as f:
        fsm.restore(f)
    assert fsm.applied_index() == 1 and fsm.point_count() == 3
    # the dedup record travels with the snapshot
    assert decode_result(fsm.apply(Entry(2, "a", upsert([9])))).affected == 3
    assert fsm.point_count() == 3
    buf = io.BytesIO()
    fsm.snapshot(buf)  # not a real file: goes through a temporary file
    assert buf.getvalue()[:0] == b"" and len(buf.getvalue()) > 0


def test_set_payload_and_delete_by_filter(fsm: ShardStateMachine) -> None:
    fsm.apply(Entry(1, None, upsert([1, 2, 3])))
    cmd = worker_pb2.SetPayloadCmd(payload_json='{"tag": "x"}')
    cmd.ids.add(num=1)
    cmd.ids.add(num=99)
    assert decode_result(fsm.apply(Entry(2, None, worker_pb2.ShardCommand(set_payload=cmd).SerializeToString()))).affected == 1
    assert fsm.collection.get([1])[0].payload == {"n": 1, "tag": "x"}
    flt = worker_pb2.DeleteCmd(by_filter=True, filter_json='{"must": [{"key": "tag", "match": {"value": "x"}}]}')
    assert decode_result(fsm.apply(Entry(3, None, worker_pb2.ShardCommand(delete=flt).SerializeToString()))).affected == 1
    assert fsm.point_count() == 2
