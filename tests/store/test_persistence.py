"""Reopening, index reload vs rebuild, snapshots and restore."""

import io
import logging
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import vectron
from vectron import errors

REBUILT = "rebuilt the index"


def fill(path, n=300, dim=8, seed=0):
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    with vectron.open(path) as store:
        col = store.create_collection("c", dimension=dim)
        col.create_payload_index("group", "integer")
        col.upsert(list(range(n)), vectors, [{"group": i % 7} for i in range(n)])
        col.delete([0, 1])
    return vectors


def test_reopen_loads_a_current_index_without_rebuilding(tmp_path, caplog) -> None:
    vectors = fill(tmp_path)
    caplog.set_level(logging.INFO, logger="vectron.store")
    with vectron.open(tmp_path) as store:
        col = store.collection("c")
        assert col.count() == 298
        assert col.search(vectors[10], k=1)[0].id == 10
        assert col.count({"must": [{"key": "group", "match": {"value": 3}}]}) == len([i for i in range(2, 300) if i % 7 == 3])
    assert REBUILT not in caplog.text


def test_a_missing_index_is_rebuilt(tmp_path, caplog) -> None:
    vectors = fill(tmp_path)
    (tmp_path / "collections" / "c" / "index.hnsw").unlink()
    caplog.set_level(logging.INFO, logger="vectron.store")
    with vectron.open(tmp_path) as store:
        col = store.collection("c")
        assert col.search(vectors[10], k=1)[0].id == 10 and col.get([0]) == []
    assert REBUILT in caplog.text


def test_a_stale_index_after_a_crash_is_rebuilt(tmp_path, caplog) -> None:
    fill(tmp_path)
    writer = textwrap.dedent(
        f"""
        import os, numpy as np, vectron
        store = vectron.open({str(tmp_path)!r})
        col = store.collection("c")
        col.upsert([1000], np.full((1, 8), 3.0, np.float32), [{{"late": True}}])
        os._exit(0)  # no close: the saved index is one version behind
        """
    )
    subprocess.run([sys.executable, "-c", writer], check=True)
    caplog.set_level(logging.INFO, logger="vectron.store")
    with vectron.open(tmp_path) as store:
        col = store.collection("c")
        assert col.search(np.full(8, 3.0), k=1)[0].id == 1000
        assert col.get([1000])[0].payload == {"late": True}
    assert REBUILT in caplog.text


def test_snapshot_and_restore(tmp_path) -> None:
    vectors = fill(tmp_path / "a")
    with vectron.open(tmp_path / "a") as store:
        col = store.collection("c")
        col.apply_batch([], meta={"applied": b"41"})
        snap = tmp_path / "snap.mdb"
        with open(snap, "wb") as fh:
            col.snapshot(fh)
        col.upsert([5000], np.ones((1, 8)), [{"after": 1}])
        col.delete(list(range(2, 100)))
        with open(snap, "rb") as fh:
            col.restore(fh)
        assert col.count() == 298 and col.get([5000]) == [] and col.get_meta("applied") == b"41"
        assert col.search(vectors[50], k=1)[0].id == 50
        assert col.count({"must": [{"key": "group", "match": {"value": 0}}]}) == len([i for i in range(2, 300) if i % 7 == 0])
    # the snapshot also seeds a collection elsewhere
    with vectron.open(tmp_path / "b") as store:
        other = store.create_collection("c", dimension=8)
        with open(snap, "rb") as fh:
            other.restore(fh)
        assert other.count() == 298 and other.get([2])[0].payload == {"group": 2}
    with vectron.open(tmp_path / "b") as store:
        assert store.collection("c").count() == 298


def test_restore_refuses_bad_snapshots_and_keeps_state(tmp_path) -> None:
    fill(tmp_path / "a")
    with vectron.open(tmp_path / "a") as store:
        col = store.collection("c")
        snap = tmp_path / "snap.mdb"
        with open(snap, "wb") as fh:
            col.snapshot(fh)
    with vectron.open(tmp_path / "b") as store:
        wrong = store.create_collection("w", dimension=4)
        wrong.upsert([1], np.ones((1, 4)))
        with open(snap, "rb") as fh, pytest.raises(errors.InvalidArgument):
            wrong.restore(fh)
        with pytest.raises(errors.InvalidArgument):
            wrong.restore(io.BytesIO(b"not an lmdb file" * 1000))
        assert wrong.count() == 1 and wrong.search(np.ones(4), k=1)[0].id == 1
        folder = tmp_path / "b" / "collections" / "w"
        assert sorted(p.name for p in folder.glob("lmdb-*")) == [(folder / "CURRENT").read_text().strip()]


def test_a_snapshot_carries_the_payload_indexes(tmp_path) -> None:
    fill(tmp_path / "a")
    with vectron.open(tmp_path / "a") as source, vectron.open(tmp_path / "b") as target:
        col = source.collection("c")
        col.create_payload_index("tag", "keyword")
        col.drop_payload_index("group")
        col.set_payload([5, 6], {"tag": "x"})
        other = target.create_collection("c", dimension=8)
        other.create_payload_index("group", "integer")
        buf = tmp_path / "snap"
        with open(buf, "wb") as out:
            col.snapshot(out)
        with open(buf, "rb") as src:
            other.restore(src)
        assert other.config.payload_indexes == {"tag": "keyword"}
        x = {"must": [{"key": "tag", "match": {"value": "x"}}]}
        assert other.count(x) == 2
        assert other._field_indexes["tag"].lookup_values(["x"]) is not None and "group" not in other._field_indexes
