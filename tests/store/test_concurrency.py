"""Concurrent searches and writes from several threads."""

import threading

import numpy as np

from vectron.store import Store


def test_concurrent_readers_and_writers(store: Store) -> None:
    dim = 16
    col = store.create_collection("c", dimension=dim, distance="euclid")
    col.create_payload_index("writer", "integer")
    rng = np.random.default_rng(0)
    col.upsert(list(range(1000)), rng.normal(size=(1000, dim)), [{"id": i, "writer": -1} for i in range(1000)])
    failures: list[BaseException] = []
    stop = threading.Event()

    def writer(w: int) -> None:
        try:
            local = np.random.default_rng(w)
            for round_ in range(30):
                ids = [10_000 * (w + 1) + round_ * 20 + j for j in range(20)]
                col.upsert(ids, local.normal(size=(20, dim)), [{"id": i, "writer": w} for i in ids])
                col.delete(ids[:5])
                col.set_payload(ids[5:10], {"touched": True})
                col.upsert(list(range(round_ * 10, round_ * 10 + 10)), local.normal(size=(10, dim)), [{"id": i, "writer": w} for i in range(round_ * 10, round_ * 10 + 10)])
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            failures.append(exc)

    def reader(r: int) -> None:
        local = np.random.default_rng(100 + r)
        try:
            while not stop.is_set():
                flt = {"must": [{"key": "writer", "match": {"value": r % 2}}]} if r % 2 else None
                for hits in col.search_batch(local.normal(size=(4, dim)), k=10, filter=flt):
                    scores = [h.score for h in hits]
                    assert scores == sorted(scores)
                    for hit in hits:
                        assert hit.payload["id"] == hit.id
                        if flt:
                            assert hit.payload["writer"] == 1
                col.get(list(range(50)))
                col.count()
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    writers = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    readers = [threading.Thread(target=reader, args=(r,)) for r in range(4)]
    for t in writers + readers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not failures, failures[:3]
    assert col.count() == 1000 + 3 * 30 * 15
    assert col.count({"must": [{"key": "touched", "match": {"value": True}}]}) == 3 * 30 * 5
