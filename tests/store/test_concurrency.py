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
        except BaseException as exc:
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
        except BaseException as exc:
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


def test_restore_while_other_threads_read(store: Store, tmp_path) -> None:
    col = store.create_collection("r", dimension=4, distance="euclid")
    col.upsert(list(range(500)), np.random.default_rng(1).normal(size=(500, 4)), [{"id": i} for i in range(500)])
    snap = tmp_path / "snap.mdb"
    with open(snap, "wb") as fh:
        col.snapshot(fh)
    failures: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                assert all(r.payload["id"] == r.id for r in col.get(list(range(0, 500, 7))))
                assert len(col.search(np.zeros(4), k=5)) == 5
                assert col.count() in (500, 600)
                col.scroll(limit=50)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for round_ in range(5):
        col.upsert(list(range(500, 600)), np.ones((100, 4)), [{"id": i} for i in range(500, 600)])
        with open(snap, "rb") as fh:
            col.restore(fh)
    stop.set()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    assert col.count() == 500
