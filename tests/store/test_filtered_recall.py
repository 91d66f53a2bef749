"""Filtered search keeps its recall at every selectivity (the planner picks exact scoring or a filtered walk)."""

import numpy as np
import pytest

N, DIM, QUERIES = 20_000, 32, 40


@pytest.fixture(scope="module")
def clustered(tmp_path_factory):
    import vectron

    rng = np.random.default_rng(7)
    centers = rng.normal(size=(50, DIM)) * 4
    vectors = (centers[rng.integers(0, 50, N)] + rng.normal(size=(N, DIM))).astype(np.float32)
    buckets = rng.permutation(N) % 1000
    store = vectron.open(tmp_path_factory.mktemp("recall"), durable=False)
    col = store.create_collection("c", dimension=DIM, distance="euclid", hnsw=dict(m=16, ef_construct=100, ef=64))
    for start in range(0, N, 5000):
        ids = list(range(start, start + 5000))
        col.upsert(ids, vectors[start : start + 5000], [{"bucket": int(buckets[i]), "plain": int(buckets[i])} for i in ids])
    col.create_payload_index("bucket", "integer")
    queries = (centers[rng.integers(0, 50, QUERIES)] + rng.normal(size=(QUERIES, DIM))).astype(np.float32)
    yield col, vectors, buckets, queries
    store.close()


def recall(col, vectors, buckets, queries, key, below) -> float:
    allowed = np.flatnonzero(buckets < below)
    found = total = 0
    results = col.search_batch(queries, k=10, filter={"must": [{"key": key, "range": {"lt": below}}]})
    for query, hits in zip(queries, results):
        dist = np.linalg.norm(vectors[allowed] - query, axis=1)
        truth = set(allowed[np.argsort(dist)[:10]].tolist())
        found += len(truth & {h.id for h in hits})
        total += len(truth)
        assert all(buckets[h.id] < below for h in hits)
    return found / total


@pytest.mark.parametrize("below", [500, 100, 10, 1], ids=["50%", "10%", "1%", "0.1%"])
def test_indexed_filter_recall(clustered, below) -> None:
    assert recall(*clustered, "bucket", below) >= 0.95


@pytest.mark.parametrize("below", [500, 100, 10, 1], ids=["50%", "10%", "1%", "0.1%"])
def test_unindexed_filter_recall(clustered, below) -> None:
    assert recall(*clustered, "plain", below) >= 0.95
