"""The shard FSM on a full disk (issue 14): an entry it cannot persist raises
StorageError with nothing changed (the Raft group retries it), never an error
result counted as applied (the replica would lose the points for good)."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

from tests.raft.smallfs import fill, small_filesystem
from vectron.errors import StorageError
from vectron.raft import Entry
from vectron.services.worker.fsm import ShardStateMachine, decode_result
from vectron.store import CollectionConfig
from vectron.v1 import worker_pb2

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs (root only)")

DIM = 64


def upsert(i: int) -> bytes:
    cmd = worker_pb2.UpsertCmd(vectors=np.full(DIM, i, dtype="<f4").tobytes())
    cmd.ids.add(num=i)
    cmd.payload_json.append('{"pad": "' + "x" * 4000 + '"}')
    return worker_pb2.ShardCommand(upsert=cmd).SerializeToString()


def test_a_shard_entry_that_cannot_be_persisted_raises_and_is_applied_once_there_is_room(tmp_path: pathlib.Path) -> None:
    with small_filesystem(tmp_path / "small") as small:
        fsm = ShardStateMachine(small / "points", CollectionConfig(name="s", dimension=DIM, distance="euclid"),
                                durable=True, map_size=1 << 24)
        try:
            assert decode_result(fsm.apply(Entry(1, "r1", upsert(1)))).affected == 1
            ballast = fill(small)
            failed = 0
            for i in range(2, 300):
                try:
                    fsm.apply(Entry(i, f"r{i}", upsert(i)))
                except StorageError as exc:
                    assert "could not persist entry" in str(exc)
                    failed = i
                    break
            assert failed, "the full filesystem never made an apply fail"
            assert fsm.applied_index() == failed - 1 and fsm.point_count() == failed - 1
            ballast.unlink()
            assert decode_result(fsm.apply(Entry(failed, f"r{failed}", upsert(failed)))).affected == 1
            assert fsm.applied_index() == failed and fsm.point_count() == failed
        finally:
            fsm.close()
