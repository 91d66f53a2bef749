"""Every bad input gets a clear error and changes nothing."""

import math

import numpy as np
import pytest

from vectron import errors
from vectron.store import Collection, Store
from vectron.store.validation import MAX_BATCH_POINTS, MAX_PAYLOAD_BYTES, MAX_PAYLOAD_DEPTH


def nested(levels: int) -> dict:
    """A payload whose deepest value sits ``levels`` objects/arrays down (the payload itself is level 1)."""
    value: object = 1
    for i in range(levels - 1):
        value = {"a": value} if i % 2 else [value]
    return {"deep": value}


def snapshot_state(col: Collection) -> tuple:
    records, _ = col.scroll(limit=10_000, with_vector=True)
    return col.version, [(r.id, r.payload, r.vector.tobytes()) for r in records]


BAD_WRITES = [
    ("wrong dimension", lambda c: c.upsert([1000], np.ones((1, 7))), errors.DimensionMismatch, "vectors"),
    ("1-d vectors", lambda c: c.upsert([1000], np.ones(8)), errors.DimensionMismatch, "vectors"),
    ("NaN component", lambda c: c.upsert([1000, 1001], [[0.0] * 8, [math.nan] + [0.0] * 7]), errors.InvalidArgument, "vectors"),
    ("inf component", lambda c: c.upsert([1000], [[math.inf] + [1.0] * 7]), errors.InvalidArgument, "vectors"),
    ("zero vector for cosine", lambda c: c.upsert([1000], [[0.0] * 8]), errors.InvalidArgument, "vectors"),
    ("non-numeric vector", lambda c: c.upsert([1000], [["a"] * 8]), errors.InvalidArgument, "vectors"),
    ("duplicate ids", lambda c: c.upsert([1000, 1000], np.ones((2, 8))), errors.InvalidArgument, "ids"),
    ("duplicate ids of an existing point", lambda c: c.upsert([5, 5], np.ones((2, 8))), errors.InvalidArgument, "ids"),
    ("negative id", lambda c: c.upsert([-1], np.ones((1, 8))), errors.InvalidArgument, "ids"),
    ("id too large", lambda c: c.upsert([2**64], np.ones((1, 8))), errors.InvalidArgument, "ids"),
    ("float id", lambda c: c.upsert([1.5], np.ones((1, 8))), errors.InvalidArgument, "ids"),
    ("bool id", lambda c: c.upsert([True], np.ones((1, 8))), errors.InvalidArgument, "ids"),
    ("empty string id", lambda c: c.upsert([""], np.ones((1, 8))), errors.InvalidArgument, "ids"),
    ("string id too long", lambda c: c.upsert(["x" * 257], np.ones((1, 8))), errors.InvalidArgument, "ids"),
    ("ids count != vectors", lambda c: c.upsert([1000, 1001], np.ones((1, 8))), errors.InvalidArgument, "vectors"),
    ("payload not an object", lambda c: c.upsert([1000], np.ones((1, 8)), [[1, 2]]), errors.InvalidArgument, "payloads"),
    ("payload with NaN", lambda c: c.upsert([1000], np.ones((1, 8)), [{"x": math.nan}]), errors.InvalidArgument, "payloads"),
    ("payload with inf", lambda c: c.upsert([1000], np.ones((1, 8)), [{"x": math.inf}]), errors.InvalidArgument, "payloads"),
    ("payload with 1e400", lambda c: c.upsert([1000], np.ones((1, 8)), [{"x": [float("1e400")]}]), errors.InvalidArgument, "payloads"),
    ("payload with nested -inf", lambda c: c.upsert([1000], np.ones((1, 8)), [{"a": {"b": -math.inf}}]), errors.InvalidArgument, "payloads"),
    ("payload nested too deep", lambda c: c.upsert([1000], np.ones((1, 8)), [nested(MAX_PAYLOAD_DEPTH + 1)]), errors.InvalidArgument, "payloads"),
    ("payload nested 10,000 deep", lambda c: c.upsert([1000], np.ones((1, 8)), [nested(10_000)]), errors.InvalidArgument, "payloads"),
    ("set_payload with NaN", lambda c: c.set_payload([1], {"x": math.nan}), errors.InvalidArgument, "payload"),
    ("set_payload nested too deep", lambda c: c.set_payload([1], nested(MAX_PAYLOAD_DEPTH + 1)), errors.InvalidArgument, "payload"),
    ("overwrite_payload with inf", lambda c: c.overwrite_payload([1], {"x": math.inf}), errors.InvalidArgument, "payload"),
    ("payload not JSON", lambda c: c.upsert([1000], np.ones((1, 8)), [{"x": object()}]), errors.InvalidArgument, "payloads"),
    (
        "payload too large",
        lambda c: c.upsert([1000], np.ones((1, 8)), [{"x": "a" * MAX_PAYLOAD_BYTES}]),
        errors.PayloadTooLarge,
        "payloads",
    ),
    ("payload count != ids", lambda c: c.upsert([1000], np.ones((1, 8)), [{}, {}]), errors.InvalidArgument, "payloads"),
    (
        "oversized batch",
        lambda c: c.upsert(list(range(MAX_BATCH_POINTS + 1)), np.ones((MAX_BATCH_POINTS + 1, 8))),
        errors.InvalidArgument,
        "ids",
    ),
    ("delete with ids and filter", lambda c: c.delete([1], filter={}), errors.InvalidArgument, "ids"),
    ("delete with nothing", lambda c: c.delete(), errors.InvalidArgument, "ids"),
    ("delete with bad filter", lambda c: c.delete(filter={"must": [{"key": "n"}]}), errors.InvalidFilter, "filter"),
    ("set_payload not an object", lambda c: c.set_payload([1], ["a"]), errors.InvalidArgument, "payload"),
    (
        "set_payload making a payload too large",
        lambda c: c.set_payload([1, 2], {"big": "a" * (MAX_PAYLOAD_BYTES - 20)}),
        errors.PayloadTooLarge,
        "payload",
    ),
    ("delete_payload_keys with a non-string key", lambda c: c.delete_payload_keys([1], [3]), errors.InvalidArgument, "keys"),
    ("bad index type", lambda c: c.create_payload_index("n", "text"), errors.InvalidArgument, "type"),
    ("bad index field", lambda c: c.create_payload_index("a..b", "keyword"), errors.InvalidArgument, "field"),
]


@pytest.mark.parametrize("name,write,error,field", BAD_WRITES, ids=[w[0] for w in BAD_WRITES])
def test_bad_write_changes_nothing(docs: Collection, name, write, error, field) -> None:
    before = snapshot_state(docs)
    with pytest.raises(error) as caught:
        write(docs)
    assert caught.value.field == field
    assert caught.value.message
    assert snapshot_state(docs) == before


def test_bad_payload_errors_name_where_the_value_is(docs: Collection) -> None:
    with pytest.raises(errors.InvalidArgument, match=r"payloads\.a\.b\[1\] is inf"):
        docs.upsert([1000], np.ones((1, 8)), [{"a": {"b": [0.5, math.inf]}}])
    with pytest.raises(errors.InvalidArgument, match=f"nested deeper than {MAX_PAYLOAD_DEPTH} levels"):
        docs.upsert([1000], np.ones((1, 8)), [nested(MAX_PAYLOAD_DEPTH + 1)])


def test_payload_at_the_depth_limit_is_stored_and_read_back(docs: Collection) -> None:
    payload = nested(MAX_PAYLOAD_DEPTH)
    docs.upsert([1000], np.ones((1, 8)), [payload])
    assert docs.get([1000])[0].payload == payload
    assert docs.search(np.ones(8), k=1, filter={"must": [{"has_id": [1000]}]})[0].payload == payload


BAD_READS = [
    ("k = 0", lambda c: c.search(np.ones(8), k=0), errors.InvalidArgument),
    ("k negative", lambda c: c.search(np.ones(8), k=-3), errors.InvalidArgument),
    ("k absurd", lambda c: c.search(np.ones(8), k=10**9), errors.InvalidArgument),
    ("k not an int", lambda c: c.search(np.ones(8), k="10"), errors.InvalidArgument),
    ("ef zero", lambda c: c.search(np.ones(8), ef=0), errors.InvalidArgument),
    ("query dimension", lambda c: c.search(np.ones(9)), errors.DimensionMismatch),
    ("query NaN", lambda c: c.search([math.nan] * 8), errors.InvalidArgument),
    ("several queries to search", lambda c: c.search(np.ones((2, 8))), errors.InvalidArgument),
    ("batch dimension", lambda c: c.search_batch(np.ones((2, 3))), errors.DimensionMismatch),
    ("threshold NaN", lambda c: c.search(np.ones(8), score_threshold=math.nan), errors.InvalidArgument),
    ("filter not an object", lambda c: c.search(np.ones(8), filter=[1]), errors.InvalidFilter),
    ("filter unknown clause", lambda c: c.search(np.ones(8), filter={"mustnt": []}), errors.InvalidFilter),
    ("scroll limit 0", lambda c: c.scroll(limit=0), errors.InvalidArgument),
    ("scroll bad offset", lambda c: c.scroll(offset=-1), errors.InvalidArgument),
    ("get bad id", lambda c: c.get([None]), errors.InvalidArgument),
    ("get not a list", lambda c: c.get(5), errors.InvalidArgument),
    ("count bad filter", lambda c: c.count({"must": [{"key": "n", "range": {}}]}), errors.InvalidFilter),
]


@pytest.mark.parametrize("name,read,error", BAD_READS, ids=[r[0] for r in BAD_READS])
def test_bad_read_is_refused(docs: Collection, name, read, error) -> None:
    with pytest.raises(error):
        read(docs)


@pytest.mark.parametrize(
    "kwargs,error",
    [
        (dict(name="../escape", dimension=3), errors.InvalidArgument),
        (dict(name="", dimension=3), errors.InvalidArgument),
        (dict(name="a" * 129, dimension=3), errors.InvalidArgument),
        (dict(name="ok", dimension=0), errors.InvalidArgument),
        (dict(name="ok", dimension=3.5), errors.InvalidArgument),
        (dict(name="ok", dimension=70_000), errors.InvalidArgument),
        (dict(name="ok", dimension=3, distance="manhattan"), errors.InvalidArgument),
        (dict(name="ok", dimension=3, hnsw={"M": 16}), errors.InvalidArgument),
        (dict(name="ok", dimension=3, hnsw={"m": 1}), errors.InvalidArgument),
        (dict(name="docs", dimension=3), errors.CollectionAlreadyExists),
    ],
)
def test_bad_collection_requests(store: Store, docs: Collection, kwargs, error) -> None:
    with pytest.raises(error):
        store.create_collection(**kwargs)
    assert store.list_collections() == ["docs"]


def test_unknown_collection(store: Store) -> None:
    with pytest.raises(errors.CollectionNotFound):
        store.collection("nope")
    with pytest.raises(errors.CollectionNotFound):
        store.drop_collection("nope")


def test_closed_store_refuses(tmp_path) -> None:
    import vectron

    store = vectron.open(tmp_path)
    col = store.create_collection("c", dimension=2)
    store.close()
    with pytest.raises(errors.StorageError):
        col.upsert([1], [[1, 2]])
    with pytest.raises(errors.StorageError):
        store.create_collection("d", dimension=2)
