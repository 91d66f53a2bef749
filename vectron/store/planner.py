"""The read side of search: the query planner, exact scoring and turning hits into results.

``SearchPlanner`` is the search half of ``Collection`` (which mixes it in and
owns the state it reads: the LMDB env, the HNSW index, the payload indexes, the
live labels and the locks). It owns:

* ``search`` / ``search_batch``: argument checks, then one of three plans;
* the plan: an unfiltered graph search; for a filter, what the payload indexes
  say of it (remembered per filter until the next write), then exact scoring of
  few candidates or a graph walk with the filter applied;
* exact scoring (``exact_scores``), the fallback whenever hnswlib cannot return
  ``k`` results (fewer reachable through a filter, or its "contiguous 2D array"
  error for large ``k``);
* result resolution: (label, score) rows -> ``ScoredPoint`` with ids, payloads
  and vectors, dropping labels deleted meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import lmdb
import numpy as np

from vectron.errors import InvalidArgument
from vectron.store.filters import Candidates, Filter, compile_filter
from vectron.store.ids import PointId, decode_id, decode_label, encode_id, encode_label
from vectron.store.layout import U64, Dbs, load_payload
from vectron.store.payload_index import FieldIndex
from vectron.store.rwlock import RWLock
from vectron.store.types import CollectionConfig, ScoredPoint
from vectron.store.validation import MAX_BATCH_POINTS, MAX_EF, MAX_K, check_int, check_score_threshold, check_vectors
from vectron.store.vector_index import VectorIndex

# A filtered search scores its candidates exactly when there are at most this many
# (or this fraction of the collection); beyond that it walks the graph with the filter.
BRUTE_FORCE_MIN = 8_192
BRUTE_FORCE_FRACTION = 0.1
PLAN_CACHE_SIZE = 16  # filters whose index answers are remembered until the next write
PLANNER_SAMPLE = 256  # payloads read to estimate how many points pass conditions no index answers
PIPELINE_CHUNK = 128  # queries per graph search when a large unfiltered batch is pipelined

Rows = list[list[tuple[int, float]]]  # per query: (label, score), best first


def scores_from_distances(distance: str, dists: np.ndarray) -> np.ndarray:
    """hnswlib distances -> the store's scores (similarity for cosine/dot, distance for euclid)."""
    if distance == "euclid":
        out: np.ndarray = np.sqrt(np.maximum(dists, 0))
        return out
    return 1.0 - dists


def exact_scores(index: VectorIndex, distance: str, queries: np.ndarray, labels: list[int], k: int) -> Rows:
    """Score ``labels`` exactly against every query (the index's stored vectors); the best ``k`` per query."""
    if not labels or k <= 0:
        return [[] for _ in queries]
    vectors = index.vectors(labels)
    if distance == "cosine":
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    products = queries @ vectors.T
    if distance == "euclid":
        squared = (vectors * vectors).sum(1)[None, :] - 2 * products + (queries * queries).sum(1)[:, None]
        keys = scores = np.sqrt(np.maximum(squared, 0))
    else:
        scores = products
        keys = -products
    k = min(k, len(labels))
    top = np.argpartition(keys, k - 1, axis=1)[:, :k]
    label_arr = np.asarray(labels)
    out = []
    for i, row in enumerate(top):
        row = row[np.argsort(keys[i, row], kind="stable")]
        out.append(list(zip(label_arr[row].tolist(), scores[i, row].astype(float).tolist())))
    return out


class SearchPlanner:
    """Search over a collection's state (mixed into ``Collection``, which sets these attributes)."""

    config: CollectionConfig
    _rw: RWLock
    _index: VectorIndex
    _live: set[int]
    _ids: list[PointId | None]
    _field_indexes: dict[str, FieldIndex]
    _plans: dict[tuple[str, int], Candidates | None]
    _version: int
    _db: Dbs
    _env: lmdb.Environment

    if TYPE_CHECKING:

        def _reading(self) -> contextlib.AbstractContextManager[lmdb.Transaction]: ...

        def _check_open(self) -> None: ...

        def _auto_index_hit(self, key: str, index: FieldIndex | None) -> None: ...

    def search(
        self,
        vector: Any,
        k: int = 10,
        filter: dict[str, Any] | None = None,
        ef: int | None = None,
        score_threshold: float | None = None,
        with_payload: bool = True,
        with_vector: bool = False,
    ) -> list[ScoredPoint]:
        """The ``k`` points nearest to ``vector`` (matching ``filter``), best first."""
        queries = check_vectors(vector, self.config.dimension, self.config.distance, "vector")
        if len(queries) != 1:
            raise InvalidArgument("search takes one vector; use search_batch for several", field="vector")
        return self._search(queries, k, filter, ef, score_threshold, with_payload, with_vector)[0]

    def search_batch(
        self,
        vectors: Any,
        k: int = 10,
        filter: dict[str, Any] | None = None,
        ef: int | None = None,
        score_threshold: float | None = None,
        with_payload: bool = True,
        with_vector: bool = False,
    ) -> list[list[ScoredPoint]]:
        """One ``search`` per row of ``vectors``, run together (multi-threaded)."""
        queries = check_vectors(vectors, self.config.dimension, self.config.distance, "vectors")
        if len(queries) > MAX_BATCH_POINTS:
            raise InvalidArgument(f"a batch holds at most {MAX_BATCH_POINTS} queries", field="vectors")
        return self._search(queries, k, filter, ef, score_threshold, with_payload, with_vector)

    def _search(
        self,
        queries: np.ndarray,
        k: int,
        filter: dict[str, Any] | None,
        ef: int | None,
        score_threshold: float | None,
        with_payload: bool,
        with_vector: bool,
    ) -> list[list[ScoredPoint]]:
        k = check_int(k, "k", 1, MAX_K)
        ef = self.config.hnsw.ef if ef is None else check_int(ef, "ef", 1, MAX_EF)
        score_threshold = check_score_threshold(score_threshold)
        cond = compile_filter(filter)
        if cond is None:
            ef = max(ef, k)
            with self._rw.read():
                if self._index.ef == ef:
                    return self._search_all(queries, k, score_threshold, with_payload, with_vector)
            with self._rw.write():
                self._index.set_ef(ef)
                return self._search_all(queries, k, score_threshold, with_payload, with_vector)
        with self._reading() as txn:
            hits = self._filtered_search(txn, queries, k, max(ef, k), filter or {}, cond)
            # resolved against a transaction begun under the index lock: it is the published state or one
            # batch newer, so a label's payload belongs to the point the in-memory ids name (or is gone)
            with self._rw.read(), self._env.begin(db=self._db["payloads"]) as current:
                return self._resolve(current, hits, cond, score_threshold, with_payload, with_vector, k)

    def _search_all(
        self, queries: np.ndarray, k: int, score_threshold: float | None, with_payload: bool, with_vector: bool
    ) -> list[list[ScoredPoint]]:
        """An unfiltered search (hold the index lock: it also keeps the env open, as close and restore take it whole).

        A large batch runs in chunks: the graph search of the next chunk (hnswlib threads, without
        the GIL) overlaps the resolution of this one (Python).
        """
        self._check_open()
        graph_k = min(k, len(self._live))
        with self._env.begin(db=self._db["payloads"]) as txn:
            if len(queries) < 2 * PIPELINE_CHUNK:
                rows = self._unfiltered_rows(queries, graph_k)
                return self._resolve(txn, rows, None, score_threshold, with_payload, with_vector, k)
            out: list[list[ScoredPoint]] = []
            with ThreadPoolExecutor(1, thread_name_prefix="vectron-search") as pool:
                starts = range(0, len(queries), PIPELINE_CHUNK)
                pending = pool.submit(self._unfiltered_rows, queries[:PIPELINE_CHUNK], graph_k)
                for start in starts:
                    rows = pending.result()
                    following = queries[start + PIPELINE_CHUNK : start + 2 * PIPELINE_CHUNK]
                    if len(following):
                        pending = pool.submit(self._unfiltered_rows, following, graph_k)
                    out.extend(self._resolve(txn, rows, None, score_threshold, with_payload, with_vector, k))
            return out

    def _unfiltered_rows(self, queries: np.ndarray, k: int) -> Rows:
        """The graph search (hold the index); exact scoring of every point when hnswlib cannot return ``k``."""
        try:
            return self._graph_search(queries, k, None)
        except RuntimeError:  # hnswlib found fewer than k ("Cannot return the results in a contiguous 2D array")
            return exact_scores(self._index, self.config.distance, queries, sorted(self._live), k)

    @contextlib.contextmanager
    def _searching(self, ef: int) -> Iterator[None]:
        """Hold the index for a search at ``ef``: shared if ``ef`` is current, else exclusive to change it."""
        with self._rw.read():
            if self._index.ef == ef:
                yield
                return
        with self._rw.write():
            self._index.set_ef(ef)
            yield

    def _graph_search(self, queries: np.ndarray, k: int, allowed: Any) -> Rows:
        if k <= 0:
            return [[] for _ in queries]
        labels, dists = self._index.knn(queries, k, allowed=allowed, threads=1 if allowed is not None else -1)
        scores = scores_from_distances(self.config.distance, dists)
        return [list(zip(row_labels.tolist(), row_scores.tolist())) for row_labels, row_scores in zip(labels, scores)]

    def _candidates(self, spec: dict[str, Any] | None, cond: Filter) -> Candidates | None:
        """What the payload indexes say of ``cond`` (hold the shared lock).

        Remembered per filter until the next write, so that a filter repeated
        over many queries builds its label sets once. The sets are shared: never mutate them.
        """
        key = (json.dumps(spec, sort_keys=True), self._version)
        if key not in self._plans:
            if len(self._plans) >= PLAN_CACHE_SIZE:
                self._plans.clear()
            self._plans[key] = cond.candidates(_PlannerView(self))
        return self._plans[key]

    def _filtered_search(
        self, txn: lmdb.Transaction, queries: np.ndarray, k: int, ef: int, spec: dict[str, Any], cond: Filter
    ) -> Rows:
        """The query planner: exact scoring of few candidates, else graph traversal with the filter applied."""
        with self._rw.read():
            live = len(self._live)
            found = self._candidates(spec, cond)
            limit = max(BRUTE_FORCE_MIN, int(BRUTE_FORCE_FRACTION * live))
            pool = found.labels if found is not None else set(self._live)
        if found is not None and found.exact:
            matching = len(pool)
        else:  # estimate from a sample how many of the pool pass the conditions the indexes could not answer
            sample = random.Random(len(pool)).sample(list(pool), min(len(pool), PLANNER_SAMPLE))
            matching = len(pool) * len(self._labels_matching(txn, sample, cond)) // max(len(sample), 1)
        if matching <= limit:
            exact = pool if found is not None and found.exact else self._labels_matching(txn, pool, cond)
            return exact_scores(self._index, self.config.distance, queries, sorted(exact), k)
        allowed = self._allowed_predicate(txn, found, cond)
        boosted = min(MAX_EF, max(ef, int(ef / max(matching / max(live, 1), 0.01) ** 0.5)))
        with self._searching(boosted):
            try:
                return self._graph_search(queries, k, allowed)
            except RuntimeError:  # fewer than k reachable through the filter: score them exactly
                exact = pool if found is not None and found.exact else self._labels_matching(txn, pool, cond)
                return exact_scores(self._index, self.config.distance, queries, sorted(exact), k)

    def _labels_matching(self, txn: lmdb.Transaction, labels: Iterable[int], cond: Filter) -> set[int]:
        out = set()
        for label in labels:
            label_key = encode_label(label)
            key = txn.get(label_key, db=self._db["labels"])
            if key is not None and cond.matches(decode_id(key), load_payload(txn.get(label_key, db=self._db["payloads"]))):
                out.add(label)
        return out

    def _allowed_predicate(self, txn: lmdb.Transaction, found: Candidates | None, cond: Filter) -> Any:
        if found is not None and found.exact:
            return found.labels.__contains__
        seen: dict[int, bool] = {}
        candidates = found.labels if found is not None else None

        def allowed(label: int) -> bool:
            verdict = seen.get(label)
            if verdict is None:
                verdict = (candidates is None or label in candidates) and bool(self._labels_matching(txn, {label}, cond))
                seen[label] = verdict
            return verdict

        return allowed

    def _resolve(
        self,
        txn: lmdb.Transaction,
        rows: Rows,
        cond: Filter | None,
        score_threshold: float | None,
        with_payload: bool,
        with_vector: bool,
        k: int,
    ) -> list[list[ScoredPoint]]:
        """Turn rows of (label, score) into hits, best first; enforce filter, threshold and ``k``.

        Hold the shared index lock (point ids come from memory); ``txn``'s default database is
        ``payloads``. A label whose payload ``txn`` no longer holds was deleted by a batch
        committed but not yet published: dropped. Each payload is read and decoded once per batch.
        """
        if cond is None and score_threshold is None and not with_vector:
            return self._resolve_plain(txn, rows, with_payload)
        ids = self._ids
        get = txn.get
        vectors_db = self._db["vectors"]
        need_payload = with_payload or cond is not None
        higher_is_better = self.config.distance != "euclid"
        decoded: dict[int, dict[str, Any]] = {}
        out = []
        for row in rows:
            hits = []
            for label, score in row:
                if score_threshold is not None and (score < score_threshold if higher_is_better else score > score_threshold):
                    continue
                pid = ids[label] if label < len(ids) else None
                if pid is None:
                    continue
                payload = None
                if need_payload:
                    payload = decoded.get(label)
                    if payload is None:
                        data = get(encode_label(label))
                        if data is None:
                            continue
                        payload = decoded[label] = load_payload(data)
                    if cond is not None and not cond.matches(pid, payload):
                        continue
                vector = None
                if with_vector:
                    data = get(encode_label(label), db=vectors_db)
                    if data is None:
                        continue
                    vector = np.frombuffer(data, np.float32)
                hits.append(ScoredPoint(pid, score, payload if with_payload else None, vector))
                if len(hits) == k:
                    break
            out.append(hits)
        return out


    def _resolve_plain(self, txn: lmdb.Transaction, rows: Rows, with_payload: bool) -> list[list[ScoredPoint]]:
        """``_resolve`` without filter, threshold or vectors: the hot path of a plain search, kept tight.

        Rows hold at most ``k`` labels each (the graph search and exact scoring cut them), all
        below ``len(self._ids)`` (a label enters the index and ``_ids`` in the same publish).
        """
        ids = self._ids
        if not with_payload:
            return [[ScoredPoint(pid, score) for label, score in row if (pid := ids[label]) is not None] for row in rows]
        get, pack = txn.get, U64.pack
        decoded: dict[int, dict[str, Any]] = {}
        out = []
        for row in rows:
            hits = []
            for label, score in row:
                pid = ids[label]
                if pid is None:
                    continue
                payload = decoded.get(label)
                if payload is None:
                    data = get(pack(label))
                    if data is None:  # deleted by a batch committed but not yet published
                        continue
                    payload = decoded[label] = load_payload(data)
                hits.append(ScoredPoint(pid, score, payload))
            out.append(hits)
        return out


class _PlannerView:
    """The collection's payload indexes as the filter planner sees them (hold the shared lock)."""

    def __init__(self, collection: SearchPlanner) -> None:
        self._collection = collection

    def field_index(self, key: str) -> FieldIndex | None:
        index = self._collection._field_indexes.get(key)
        self._collection._auto_index_hit(key, index)  # an unindexed field may get an automatic index
        return index

    def all_labels(self) -> set[int]:
        return self._collection._live

    def labels_of_ids(self, ids: list[PointId]) -> set[int]:
        col = self._collection
        with col._env.begin() as txn:
            found = (txn.get(encode_id(pid), db=col._db["ids"]) for pid in ids)
            return {decode_label(k) for k in found if k is not None}
