"""Automatic payload indexes: a filtered field gets an index built in the background,
kept up to date by writes, within a memory budget (least recently used evicted first),
never on a collection that turned it off, gone after a reopen or restore."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import vectron
from vectron import errors
from vectron.store import Collection, Store
from vectron.store.auto_index import AutoIndexes, estimate_bytes, infer_type
from vectron.store.payload_index import FieldIndex

N = 2000
CAT3 = {"must": [{"key": "cat", "match": {"value": "c3"}}]}
LOW_N = {"must": [{"key": "n", "range": {"lt": 100}}]}


def automatic(col: Collection) -> dict[str, str]:
    return {i.field: i.type for i in col.payload_indexes() if i.automatic}


@pytest.fixture
def col(store: Store, rng: np.random.Generator) -> Collection:
    c = store.create_collection("auto", dimension=8)
    c.upsert(list(range(N)), rng.normal(size=(N, 8)).astype(np.float32), [{"cat": f"c{i % 50}", "n": i, "flag": i % 3 == 0} for i in range(N)])
    return c


def test_a_filtered_field_gets_an_automatic_index_that_follows_writes(col: Collection, rng: np.random.Generator) -> None:
    assert automatic(col) == {}
    assert col.count(CAT3) == 40  # answered by a scan; the build starts in the background
    assert col.wait_auto_indexes(timeout=60)
    assert automatic(col) == {"cat": "keyword"}
    assert col.count(LOW_N) == 100 and col.wait_auto_indexes(timeout=60)
    assert automatic(col) == {"cat": "keyword", "n": "float"}
    query = rng.normal(size=8).astype(np.float32)
    hits = col.search(query, k=5, filter=CAT3)
    assert len(hits) == 5 and all(h.payload["cat"] == "c3" for h in hits)
    col.set_payload([0, 1], {"cat": "c3"})
    col.delete([3])
    col.upsert([N], query[None, :], [{"cat": "c3", "n": 5}])
    assert col.count(CAT3) == 40 + 2 - 1 + 1
    assert col.count(LOW_N) == 100 - 1 + 1
    assert col.search(query, k=1, filter=CAT3)[0].id == N
    # declaring an index on an automatic field makes it a declared one
    col.create_payload_index("cat", "keyword")
    assert [(i.field, i.automatic) for i in col.payload_indexes()] == [("cat", False), ("n", True)]
    assert col.count(CAT3) == 42


def test_turned_off_no_index_is_built_and_the_setting_persists(tmp_path: pathlib.Path, rng: np.random.Generator) -> None:
    with vectron.open(tmp_path) as store:
        c = store.create_collection("off", dimension=4, auto_index=False)
        c.upsert(list(range(100)), rng.normal(size=(100, 4)), [{"cat": f"c{i % 5}"} for i in range(100)])
        assert c.count({"must": [{"key": "cat", "match": {"value": "c1"}}]}) == 20
        assert c.wait_auto_indexes(timeout=60) and automatic(c) == {}
        on = store.create_collection("on", dimension=4)
        on.upsert([1], [[1, 0, 0, 0]], [{"cat": "x"}])
        on.count({"must": [{"key": "cat", "match": {"value": "x"}}]})
        assert on.wait_auto_indexes(timeout=60) and automatic(on) == {"cat": "keyword"}
        on.set_auto_index(False)  # drops what was built
        assert automatic(on) == {} and not on.config.auto_index
        on.count({"must": [{"key": "cat", "match": {"value": "x"}}]})
        assert on.wait_auto_indexes(timeout=60) and automatic(on) == {}
    with vectron.open(tmp_path) as store:
        assert not store.collection("off").config.auto_index and not store.collection("on").config.auto_index
        with pytest.raises(errors.InvalidArgument) as err:
            store.create_collection("bad", dimension=4, auto_index="yes")  # type: ignore[arg-type]
        assert err.value.field == "auto_index"
        with pytest.raises(errors.InvalidArgument) as err:
            store.collection("on").set_auto_index(True, memory=-1)
        assert err.value.field == "memory"


def test_the_memory_budget_refuses_and_evicts(col: Collection) -> None:
    col.set_auto_index(True, memory=1000)  # far below one index of 2,000 points
    assert col.count(CAT3) == 40 and col.wait_auto_indexes(timeout=60)
    assert automatic(col) == {}
    one = estimate_bytes(_built(col, "cat", "keyword"))
    col.set_auto_index(True, memory=one + one // 2)  # room for one index of this size, not two
    col.count(CAT3)
    assert col.wait_auto_indexes(timeout=60) and automatic(col) == {"cat": "keyword"}
    col.count({"must": [{"key": "flag", "match": {"value": True}}]})
    assert col.wait_auto_indexes(timeout=60) and automatic(col) == {"flag": "bool"}  # cat, least recently used, was evicted
    assert col.count(CAT3) == 40


def test_reopen_starts_without_automatic_indexes(tmp_path: pathlib.Path, rng: np.random.Generator) -> None:
    with vectron.open(tmp_path) as store:
        c = store.create_collection("c", dimension=4)
        c.upsert(list(range(50)), rng.normal(size=(50, 4)), [{"cat": f"c{i % 5}"} for i in range(50)])
        c.count({"must": [{"key": "cat", "match": {"value": "c1"}}]})
        assert c.wait_auto_indexes(timeout=60) and automatic(c) == {"cat": "keyword"}
    with vectron.open(tmp_path) as store:
        c = store.collection("c")
        assert automatic(c) == {} and c.config.payload_indexes == {}
        assert c.count({"must": [{"key": "cat", "match": {"value": "c1"}}]}) == 10


def test_infer_type_and_the_accounting() -> None:
    assert infer_type(["a", "b", 1]) == "keyword" and infer_type([True, False]) == "bool" and infer_type([1, 2.5]) == "float"
    assert infer_type([None, [], {}]) is None
    auto = AutoIndexes(budget=100)
    assert auto.missed("a") and not auto.missed("a")  # one build at a time per field
    assert auto.admit("a", "keyword", 60) == []
    assert auto.missed("b") and auto.admit("b", "keyword", 60) == ["a"]
    assert auto.missed("c") and auto.admit("c", "keyword", 101) is None and not auto.missed("c")  # refused
    assert auto.built() == {"b": "keyword"} and auto.memory() == 60


def _built(col: Collection, key: str, index_type: str) -> FieldIndex:
    index = FieldIndex(key, index_type)
    for record in col.scroll(limit=10_000)[0]:
        index.update(int(record.id), record.payload)
    return index
