"""The store's public contract, operation by operation."""

import numpy as np
import pytest

import vectron
from vectron import errors
from vectron.store import Collection, Store


def brute_force(vectors: np.ndarray, query: np.ndarray, distance: str, k: int) -> list[tuple[int, float]]:
    if distance == "cosine":
        v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        scores = v @ (query / np.linalg.norm(query))
        order = np.argsort(-scores)
    elif distance == "dot":
        scores = vectors @ query
        order = np.argsort(-scores)
    else:
        scores = np.linalg.norm(vectors - query, axis=1)
        order = np.argsort(scores)
    return [(int(i), float(scores[i])) for i in order[:k]]


def test_open_create_list_drop(tmp_path) -> None:
    with vectron.open(tmp_path) as store:
        store.create_collection("a", dimension=3)
        store.create_collection("b", dimension=4, distance="euclid", hnsw=dict(m=8, ef_construct=64))
        assert store.list_collections() == ["a", "b"]
        assert store.collection("b").config.hnsw.m == 8
        store.drop_collection("a")
        assert store.list_collections() == ["b"]
        assert not (tmp_path / "collections" / "a").exists()
        with pytest.raises(errors.CollectionNotFound):
            store.collection("a")
    with vectron.open(tmp_path) as store:
        assert store.list_collections() == ["b"]
        assert store.collection("b").config.distance == "euclid"


@pytest.mark.parametrize("distance", ["cosine", "dot", "euclid"])
def test_search_scores_match_brute_force(store: Store, rng, distance: str) -> None:
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    col = store.create_collection("c", dimension=16, distance=distance)
    col.upsert(list(range(500)), vectors)
    query = rng.normal(size=16).astype(np.float32)
    expected = brute_force(vectors, query, distance, 5)
    hits = col.search(query, k=5, ef=500)
    assert [h.id for h in hits] == [i for i, _ in expected]
    assert [h.score for h in hits] == pytest.approx([s for _, s in expected], rel=1e-4, abs=1e-4)


def test_payloads_travel_with_points(docs: Collection) -> None:
    [record] = docs.get([7])
    assert record.payload == {"n": 7, "tag": "odd", "group": 7} and record.vector is None
    [hit] = docs.search(docs.test_vectors[7], k=1)
    assert hit.id == 7 and hit.payload == {"n": 7, "tag": "odd", "group": 7}
    [hit] = docs.search(docs.test_vectors[7], k=1, with_payload=False, with_vector=True)
    assert hit.payload is None
    np.testing.assert_array_equal(hit.vector, docs.test_vectors[7])


def test_get_keeps_order_and_skips_missing(docs: Collection) -> None:
    records = docs.get([5, 999, 3], with_vector=True)
    assert [r.id for r in records] == [5, 3]
    np.testing.assert_array_equal(records[0].vector, docs.test_vectors[5])


def test_string_and_integer_ids(store: Store) -> None:
    col = store.create_collection("ids", dimension=2, distance="euclid")
    col.upsert(["a", 5, "b", 2**64 - 1], [[0, 0], [1, 0], [2, 0], [3, 0]], [{"k": 1}, None, {}, {"big": True}])
    assert [r.id for r in col.get(["b", 2**64 - 1, "a", 5])] == ["b", 2**64 - 1, "a", 5]
    assert col.get([5])[0].payload == {}
    records, nxt = col.scroll(limit=10)
    assert [r.id for r in records] == [5, 2**64 - 1, "a", "b"] and nxt is None


def test_upsert_replaces_vector_and_payload_and_reuses_label(docs: Collection) -> None:
    size = len(docs._index)
    new = np.ones(8, dtype=np.float32)
    docs.upsert([3], [new], [{"replaced": True}])
    assert docs.count() == 200 and len(docs._index) == size
    [record] = docs.get([3], with_vector=True)
    assert record.payload == {"replaced": True}
    np.testing.assert_array_equal(record.vector, new)
    assert docs.search(new, k=1)[0].id == 3


def test_upsert_of_the_same_vector_leaves_the_graph_alone_and_replaces_the_payload(docs: Collection, monkeypatch) -> None:
    [before] = docs.get([5], with_vector=True)
    added: list[np.ndarray] = []
    real_add = docs._index.add
    monkeypatch.setattr(docs._index, "add", lambda labels, vectors: (added.append(labels), real_add(labels, vectors)))
    moved = np.arange(1, 9, dtype=np.float32) ** 3
    docs.upsert([5, 6], [before.vector, moved], [{"again": True}, None])
    assert len(added) == 1 and len(added[0]) == 1  # only point 6, whose vector changed, went to the graph
    [record] = docs.get([5], with_vector=True)
    assert record.payload == {"again": True}
    np.testing.assert_array_equal(record.vector, before.vector)
    assert docs.search(before.vector, k=1)[0].id == 5
    assert docs.search(moved, k=1)[0].id == 6


def test_delete_tombstones_and_space_is_reused(docs: Collection) -> None:
    size = len(docs._index)
    assert docs.delete([1, 2, 3, 12345]) == 3
    assert docs.count() == 197 and docs.get([1, 2, 3]) == []
    assert all(h.id not in (1, 2, 3) for h in docs.search(docs.test_vectors[2], k=20))
    docs.upsert(["x", "y"], np.ones((2, 8)), None)
    assert len(docs._index) == size  # the new points took freed labels
    assert docs.count() == 199


def test_delete_by_filter(docs: Collection) -> None:
    assert docs.delete(filter={"must": [{"key": "tag", "match": {"value": "odd"}}]}) == 100
    assert docs.count() == 100
    assert all(r.payload["tag"] == "even" for r in docs.scroll(limit=200)[0])


def test_index_grows_past_its_initial_capacity(store: Store, rng) -> None:
    col = store.create_collection("big", dimension=4, distance="dot")
    vectors = rng.normal(size=(3000, 4)).astype(np.float32)
    for start in range(0, 3000, 1000):
        col.upsert(list(range(start, start + 1000)), vectors[start : start + 1000])
    assert col.count() == 3000 and col._index._index.max_elements >= 3000
    assert col.search(vectors[2500], k=1, ef=200)[0].id in {int(i) for i, _ in brute_force(vectors, vectors[2500], "dot", 3)}


def test_search_batch_is_one_search_per_query(docs: Collection) -> None:
    queries = docs.test_vectors[:5]
    batched = docs.search_batch(queries, k=3)
    assert [[h.id for h in row] for row in batched] == [[h.id for h in docs.search(q, k=3)] for q in queries]


def test_score_threshold(store: Store) -> None:
    col = store.create_collection("t", dimension=2, distance="euclid")
    col.upsert([1, 2, 3], [[0, 0], [1, 0], [5, 0]])
    assert [h.id for h in col.search([0, 0], k=3, score_threshold=1.5)] == [1, 2]
    cos = store.create_collection("tc", dimension=2, distance="cosine")
    cos.upsert([1, 2], [[1, 0], [0, 1]])
    assert [h.id for h in cos.search([1, 0.1], k=2, score_threshold=0.5)] == [1]


def test_k_larger_than_collection(docs: Collection) -> None:
    assert len(docs.search(docs.test_vectors[0], k=1000)) == 200


def test_empty_collection_search(store: Store) -> None:
    col = store.create_collection("empty", dimension=3)
    assert col.search([1, 2, 3], k=5) == []
    assert col.search([1, 2, 3], k=5, filter={"must": [{"key": "a", "match": {"value": 1}}]}) == []
    assert col.scroll() == ([], None) and col.count() == 0


def test_scroll_pages_through_everything(docs: Collection) -> None:
    seen, offset = [], None
    while True:
        records, offset = docs.scroll(limit=30, offset=offset)
        seen.extend(r.id for r in records)
        if offset is None:
            break
    assert seen == list(range(200))
    odd, nxt = docs.scroll(filter={"must": [{"key": "tag", "match": {"value": "odd"}}]}, limit=5, offset=10)
    assert [r.id for r in odd] == [11, 13, 15, 17, 19] and nxt == 21


def test_count_with_filter(docs: Collection) -> None:
    f = {"must": [{"key": "group", "range": {"gte": 3, "lt": 5}}]}
    assert docs.count(f) == 40
    docs.create_payload_index("group", "integer")
    assert docs.count(f) == 40


def test_payload_updates(docs: Collection) -> None:
    assert docs.set_payload([1, 2, 999], {"color": "red", "n": -1}) == 2
    assert docs.get([1])[0].payload == {"n": -1, "tag": "odd", "group": 1, "color": "red"}
    assert docs.overwrite_payload([1], {"only": 1}) == 1
    assert docs.get([1])[0].payload == {"only": 1}
    assert docs.delete_payload_keys([2], ["tag", "absent"]) == 1
    assert docs.get([2])[0].payload == {"n": -1, "group": 2, "color": "red"}


def test_payload_index_follows_updates(docs: Collection) -> None:
    docs.create_payload_index("tag", "keyword")
    red = {"must": [{"key": "tag", "match": {"value": "red"}}]}
    assert docs.count(red) == 0
    docs.set_payload([4, 6], {"tag": "red"})
    assert docs.count(red) == 2
    assert {h.id for h in docs.search(docs.test_vectors[0], k=10, filter=red)} == {4, 6}
    docs.delete([4])
    assert [h.id for h in docs.search(docs.test_vectors[0], k=10, filter=red)] == [6]


def test_apply_batch_is_atomic_with_metadata(docs: Collection) -> None:
    from vectron.store import Delete, SetPayload, Upsert

    version = docs.version
    results = docs.apply_batch(
        [Upsert([500], np.ones((1, 8)), [{"new": 1}]), Delete(ids=[0, 1]), SetPayload([500], {"more": 2})],
        meta={"raft.applied_index": b"\x00\x07"},
    )
    assert results == [1, 2, 1]
    assert docs.version == version + 1
    assert docs.get_meta("raft.applied_index") == b"\x00\x07"
    assert docs.get([500])[0].payload == {"new": 1, "more": 2}
    with pytest.raises(errors.DimensionMismatch):
        docs.apply_batch([Delete(ids=[2]), Upsert([501], np.ones((1, 3)))], meta={"raft.applied_index": b"x"})
    assert docs.get_meta("raft.applied_index") == b"\x00\x07" and docs.get([2]) and docs.version == version + 1


def test_payload_integers_beyond_64_bits_round_trip(store: Store) -> None:
    col = store.create_collection("big_ints", dimension=2, distance="euclid")
    col.upsert([1], [[0, 0]], [{"huge": 2**70, "neg": -(2**65)}])
    assert col.get([1])[0].payload == {"huge": 2**70, "neg": -(2**65)}
    assert col.search([0, 0], k=1)[0].payload["huge"] == 2**70


FILTERS = {
    "indexed, exact": {"must": [{"key": "bucket", "match": {"value": 3}}]},
    "indexed range and unindexed": {"must": [{"key": "bucket", "range": {"lt": 5}}, {"key": "tag", "match": {"value": "odd"}}]},
    "unindexed": {"must": [{"key": "tag", "match": {"value": "odd"}}]},
    "should": {"should": [{"key": "bucket", "match": {"value": 1}}, {"key": "n", "range": {"gte": 290}}]},
    "must_not": {"must_not": [{"key": "bucket", "range": {"gte": 1}}]},
}


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_delete_and_count_by_filter_through_the_payload_indexes_match_a_scan(store: Store, rng, name: str) -> None:
    spec = FILTERS[name]
    col = store.create_collection("f", dimension=4)
    col.create_payload_index("bucket", "integer")
    payloads = [{"n": i, "bucket": int(rng.integers(0, 10)), "tag": "odd" if i % 2 else "even"} for i in range(300)]
    col.upsert(list(range(300)), rng.normal(size=(300, 4)).astype(np.float32) + 0.1, payloads)
    condition = vectron.store.filters.compile_filter(spec)
    expected = {i for i, p in enumerate(payloads) if condition.matches(i, p)}
    assert 0 < len(expected) < 300
    assert col.count(spec) == len(expected)
    assert col.delete(filter=spec) == len(expected)
    assert {r.id for r in col.scroll(limit=300)[0]} == set(range(300)) - expected


def test_delete_by_an_indexed_filter_sees_the_earlier_operations_of_its_batch(store: Store, rng) -> None:
    col = store.create_collection("f", dimension=4)
    col.create_payload_index("bucket", "integer")
    col.upsert(list(range(20)), rng.normal(size=(20, 4)).astype(np.float32) + 0.1, [{"bucket": i % 2} for i in range(20)])
    spec = {"must": [{"key": "bucket", "match": {"value": 1}}]}
    results = col.apply_batch([
        vectron.store.Upsert([100], rng.normal(size=(1, 4)).astype(np.float32) + 0.1, [{"bucket": 1}]),  # new: matches
        vectron.store.SetPayload([1], {"bucket": 0}),  # matched before the batch, no longer does
        vectron.store.Delete(filter=spec),
    ])
    assert results == [1, 1, 10]  # 3, 5, ..., 19 and the new 100; not 1
    assert {r.id for r in col.scroll(limit=100)[0]} == set(range(0, 20, 2)) | {1}


def test_delete_by_an_exact_indexed_filter_reads_only_the_matching_points(store: Store, rng, monkeypatch) -> None:
    col = store.create_collection("f", dimension=4)
    col.create_payload_index("bucket", "integer")
    col.upsert(list(range(1000)), rng.normal(size=(1000, 4)).astype(np.float32) + 0.1, [{"bucket": i % 100} for i in range(1000)])
    loads = []
    real = vectron.store.collection.load_payload
    monkeypatch.setattr(vectron.store.collection, "load_payload", lambda data: loads.append(1) or real(data))
    assert col.delete(filter={"must": [{"key": "bucket", "match": {"value": 42}}]}) == 10
    assert len(loads) == 0  # the index answered exactly: no payload was read to decide
    assert col.delete(filter={"must": [{"key": "bucket", "range": {"lt": 2}}, {"key": "bucket", "match": {"value": 1}}]}) == 10
    assert len(loads) <= 20  # candidates of the range only (buckets 0 and 1), not all 990 points


def test_payload_index_create_is_idempotent_and_drop_falls_back_to_a_scan(docs: Collection) -> None:
    tagged = {"must": [{"key": "tag", "match": {"value": "odd"}}]}
    assert docs.create_payload_index("tag", "keyword") is True
    assert docs.create_payload_index("tag", "keyword") is False
    assert docs.config.payload_indexes == {"tag": "keyword"} and docs.count(tagged) == 100
    assert docs.drop_payload_index("tag") is True
    assert docs.drop_payload_index("tag") is False
    assert docs.config.payload_indexes == {} and docs.count(tagged) == 100


def test_payload_index_bad_field_or_type_names_the_field(docs: Collection) -> None:
    with pytest.raises(errors.InvalidArgument) as bad_field:
        docs.create_payload_index("a..b", "keyword")
    assert bad_field.value.field == "field"
    with pytest.raises(errors.InvalidArgument) as bad_type:
        docs.create_payload_index("tag", "text")
    assert bad_type.value.field == "type"
    with pytest.raises(errors.InvalidArgument):
        docs.drop_payload_index("")
    assert docs.config.payload_indexes == {}


@pytest.mark.parametrize("distance", ["dot", "cosine", "euclid"])
def test_top_k_beyond_what_the_graph_returns_falls_back_to_exact_scoring(store: Store, rng, distance) -> None:
    """hnswlib raises "Cannot return the results in a contiguous 2D array" when it finds fewer than k
    (typical for dot with a large k); the store scores every point exactly instead."""
    n = 3000
    col = store.create_collection("big", dimension=8, distance=distance)
    vectors = rng.normal(size=(n, 8)).astype(np.float32)
    col.upsert(list(range(n)), vectors, [{"i": i} for i in range(n)])
    col.delete([0, 1])
    queries = rng.normal(size=(2, 8)).astype(np.float32)
    for k in (n - 3, n, 10_000):
        rows = col.search_batch(queries, k=k)
        single = col.search(queries[0], k=k)
        assert [h.id for h in single] == [h.id for h in rows[0]]
        for query, hits in zip(queries, rows):
            assert len(hits) == min(k, n - 2)
            assert {0, 1}.isdisjoint(h.id for h in hits)
            assert all(h.payload == {"i": h.id} for h in hits)
            scores = [h.score for h in hits]
            assert scores == sorted(scores, reverse=distance != "euclid")
            if k >= n - 2:  # every live point: the scores are the exact ones
                kept = vectors[2:]
                if distance == "dot":
                    expected = kept @ query
                elif distance == "cosine":
                    expected = (kept / np.linalg.norm(kept, axis=1, keepdims=True)) @ (query / np.linalg.norm(query))
                else:
                    expected = np.linalg.norm(kept - query, axis=1)
                got = np.array([h.score for h in sorted(hits, key=lambda h: h.id)])
                np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
