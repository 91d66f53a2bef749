"""Vectron's embedded store against raw hnswlib, numpy brute force and (optionally) chromadb.

    .venv/bin/python bench/store_bench.py                      # 100,000 x 128 clustered vectors (seeded)
    .venv/bin/python bench/store_bench.py --quick              # 10,000 points: a smoke run
    .venv/bin/python bench/store_bench.py --data my.npy        # your own (n, d) float array
    .venv/bin/python bench/store_bench.py --no-chroma --efs 32,64,128,256 --out results.json

One run measures, side by side and on the same data:

* build / upsert throughput in batches of 1,000 (the store and chromadb get a
  small JSON payload per point; the store is durable: fsync on every commit);
* recall@10 against exact ground truth and queries per second, one query at a
  time and as one batch (``search_batch``), for several ``ef``;
* filtered search (payload field ``bucket`` in [0, 1000) with a payload index,
  filters ``bucket < N``) at 50 / 10 / 1 / 0.1 % selectivity, against exact
  ground truth over the matching points;
* the time to reopen the store (close, ``vectron.open``, first search) and peak
  memory (RSS sampled while each engine runs);

then prints the target ratios (PASS / MISS), a markdown report, and writes the
JSON results under bench/results/ (or ``--out``). All engines use the same
distance (``--distance``, cosine by default), M, ef_construct and ef; single
queries run on one thread, batches on all cores (hnswlib's default).

chromadb is optional (``pip install -e '.[bench]'``); without it, or with
``--no-chroma``, its columns are left out.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gc
import json
import logging
import os
import pathlib
import platform
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import hnswlib
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import vectron  # noqa: E402

log = logging.getLogger("store_bench")

K = 10
BATCH = 1_000
BUCKETS = 1_000
RECALL_TARGET = 0.95
# filter "bucket < N" for N in SELECTIVITY: 50 %, 10 %, 1 %, 0.1 % of the points
SELECTIVITY = {"50%": 500, "10%": 100, "1%": 10, "0.1%": 1}
_HNSW_SPACE = {"cosine": "cosine", "dot": "ip", "euclid": "l2"}
_CHROMA_SPACE = {"cosine": "cosine", "dot": "ip", "euclid": "l2"}


# ---------------------------------------------------------------- memory


def rss_bytes() -> int:
    """The current resident set size of this process."""
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class RssSampler:
    """Samples RSS every 20 ms on a thread: the peak of a phase, and the growth over its start."""

    def __init__(self) -> None:
        self.start = rss_bytes()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    def report(self) -> dict[str, float]:
        return {"rss_start_mb": self.start / 2**20, "rss_peak_mb": self.peak / 2**20, "rss_growth_mb": (self.peak - self.start) / 2**20,
                "load_1min_end": os.getloadavg()[0]}


# ---------------------------------------------------------------- data


def clustered(n: int, dim: int, n_queries: int, seed: int, centers: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs around ``centers`` random centers; queries are fresh draws from the same blobs."""
    rng = np.random.default_rng(seed)
    mids = rng.normal(size=(centers, dim)).astype(np.float32)

    def draw(count: int) -> np.ndarray:
        which = rng.integers(0, centers, size=count)
        return (mids[which] + rng.normal(scale=0.5, size=(count, dim))).astype(np.float32)

    return draw(n), draw(n_queries)


def load_npy(path: str, n: int | None, n_queries: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``path``: the last ``n_queries`` rows are the queries (never inserted), the first ``n`` the data."""
    arr = np.load(path, mmap_mode="r")
    if arr.ndim != 2:
        raise SystemExit(f"{path}: expected a 2-d array (n, d), got shape {arr.shape}")
    if len(arr) <= n_queries:
        raise SystemExit(f"{path}: {len(arr)} rows is too few for {n_queries} queries")
    data_rows = len(arr) - n_queries
    n = data_rows if n is None else min(n, data_rows)
    data = np.ascontiguousarray(arr[:n], dtype=np.float32)
    queries = np.ascontiguousarray(arr[len(arr) - n_queries :], dtype=np.float32)
    if not (np.isfinite(data).all() and np.isfinite(queries).all()):
        raise SystemExit(f"{path}: NaN or infinite values")
    return data, queries


def prepared(x: np.ndarray, distance: str) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True) if distance == "cosine" else x


def exact_topk(data: np.ndarray, queries: np.ndarray, distance: str, k: int = K, chunk: int = 256) -> np.ndarray:
    """Exact top-k row numbers of ``data`` (already prepared) for each query, best first."""
    q = prepared(queries, distance)
    out = np.empty((len(q), min(k, len(data))), dtype=np.int64)
    norms = (data * data).sum(1) if distance == "euclid" else None
    for s in range(0, len(q), chunk):
        block = q[s : s + chunk] @ data.T
        keys = norms[None, :] - 2 * block if norms is not None else -block
        kk = out.shape[1]
        top = np.argpartition(keys, kk - 1, axis=1)[:, :kk]
        order = np.take_along_axis(keys, top, 1).argsort(1, kind="stable")
        out[s : s + chunk] = np.take_along_axis(top, order, 1)
    return out


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    hits = total = 0
    for row, true in zip(found, truth):
        true_set = set(true.tolist())
        hits += len(true_set.intersection(row[: len(true_set)]))
        total += len(true_set)
    return hits / max(total, 1)


def payload_of(i: int, bucket: int) -> dict[str, Any]:
    return {"bucket": bucket, "tag": f"t{i % 10}", "title": f"point {i}"}


# ---------------------------------------------------------------- timing helpers


def timed_loop(fn: Callable[[int], list[int]], count: int, budget_s: float, min_s: float) -> tuple[list[list[int]], float, int]:
    """Call ``fn(i)`` for i in range(count) after one untimed warm-up call; (first-pass results, calls/s, results).

    Passes repeat until at least ``min_s`` seconds have gone by (short loops are noisy on a shared
    machine); a slow loop stops early after ``budget_s`` (its recall is then over the queries done).
    """
    fn(0)
    out: list[list[int]] = []
    calls = 0
    t0 = time.perf_counter()
    elapsed = 0.0
    first = True
    while True:
        for i in range(count):
            found = fn(i)
            if first:
                out.append(found)
            calls += 1
            elapsed = time.perf_counter() - t0
            if elapsed > budget_s and calls >= 10:
                return out, calls / elapsed, len(out)
        first = False
        if elapsed >= min_s:
            return out, calls / elapsed, len(out)


def timed_batch(fn: Callable[[np.ndarray], list[list[int]]], queries: np.ndarray, repeats: int = 3) -> tuple[list[list[int]], float]:
    """Best of ``repeats`` timed runs of ``fn(queries)``, after one untimed warm-up on a few queries."""
    fn(queries[:8])
    best = float("inf")
    found: list[list[int]] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        found = fn(queries)
        best = min(best, time.perf_counter() - t0)
    return found, len(queries) / best


# ---------------------------------------------------------------- engines


class Context:
    """Everything an engine needs: data, queries, ground truth, filters, parameters."""

    def __init__(self, args: argparse.Namespace, data: np.ndarray, queries: np.ndarray) -> None:
        self.args = args
        self.data = data
        self.queries = queries
        self.n, self.dim = data.shape
        self.distance = args.distance
        self.efs = args.efs
        rng = np.random.default_rng(args.seed + 1)
        self.buckets = rng.integers(0, BUCKETS, size=self.n)
        self.payloads = [payload_of(i, int(b)) for i, b in enumerate(self.buckets)]
        t0 = time.perf_counter()
        self.prepared = np.ascontiguousarray(prepared(data, self.distance), dtype=np.float32)
        self.truth = exact_topk(self.prepared, queries, self.distance)
        self.fq = queries[: args.filter_queries]
        self.filter_truth: dict[str, np.ndarray] = {}
        self.filter_rows: dict[str, np.ndarray] = {}
        for name, limit in SELECTIVITY.items():
            rows = np.flatnonzero(self.buckets < limit)
            self.filter_rows[name] = rows
            self.filter_truth[name] = rows[exact_topk(self.prepared[rows], self.fq, self.distance)] if len(rows) else np.empty((len(self.fq), 0), np.int64)
        log.info("ground truth in %.1f s", time.perf_counter() - t0)

    @staticmethod
    def filter_of(name: str) -> dict[str, Any]:
        return {"must": [{"key": "bucket", "range": {"lt": SELECTIVITY[name]}}]}


def bench_hnswlib(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    res: dict[str, Any] = {"engine": "hnswlib"}
    with RssSampler() as mem:
        index = hnswlib.Index(space=_HNSW_SPACE[ctx.distance], dim=ctx.dim)
        index.init_index(max_elements=ctx.n, M=a.m, ef_construction=a.ef_construct, random_seed=100)
        labels = np.arange(ctx.n)
        t0 = time.perf_counter()
        for s in range(0, ctx.n, BATCH):
            index.add_items(ctx.data[s : s + BATCH], labels[s : s + BATCH])
        res["build_s"] = time.perf_counter() - t0
        res["build_rate"] = ctx.n / res["build_s"]
        log.info("hnswlib: built %d in %.1f s", ctx.n, res["build_s"])
        res["search"] = {}
        for ef in ctx.efs:
            index.set_ef(ef)
            q = ctx.queries
            single, single_qps, done = timed_loop(lambda i: index.knn_query(q[i : i + 1], k=K, num_threads=1)[0][0].tolist(), len(q), a.budget, a.min_time)
            batch, batch_qps = timed_batch(lambda qs: index.knn_query(qs, k=K)[0].tolist(), q)
            res["search"][ef] = {
                "recall": recall(batch, ctx.truth),
                "recall_single": recall(single, ctx.truth[:done]),
                "single_qps": single_qps,
                "batch_qps": batch_qps,
                "single_queries": done,
            }
            log.info("hnswlib ef=%d %s", ef, res["search"][ef])
        # filtered: hnswlib's own filter callback (a Python predicate on labels), at the operating ef
        # the operating ef (filtered search for every engine, and the targets): the smallest reaching the recall target
        reached = [ef for ef in ctx.efs if res["search"][ef]["recall"] >= RECALL_TARGET]
        ctx.op_ef = reached[0] if reached else ctx.efs[-1]
        log.info("operating ef: %d", ctx.op_ef)
        res["filtered"] = {}
        ef = ctx.op_ef
        index.set_ef(ef)
        for name, limit in SELECTIVITY.items():
            buckets = ctx.buckets

            def query(i: int) -> list[int]:
                try:
                    return index.knn_query(ctx.fq[i : i + 1], k=K, num_threads=1, filter=lambda label: buckets[label] < limit)[0][0].tolist()
                except RuntimeError:  # fewer than k reachable
                    return []

            found, qps, done = timed_loop(query, len(ctx.fq), a.budget, a.min_time)
            res["filtered"][name] = {"recall": recall(found, ctx.filter_truth[name][:done]), "qps": qps, "queries": done, "ef": ef}
            log.info("hnswlib filtered %s %s", name, res["filtered"][name])
        del index
        gc.collect()
    res["memory"] = mem.report()
    return res


def bench_brute(ctx: Context) -> dict[str, Any]:
    a = ctx.args
    res: dict[str, Any] = {"engine": "numpy brute force"}
    with RssSampler() as mem:
        t0 = time.perf_counter()
        matrix = np.ascontiguousarray(prepared(ctx.data, ctx.distance), dtype=np.float32)
        res["build_s"] = time.perf_counter() - t0
        res["build_rate"] = ctx.n / res["build_s"]
        sq = (matrix * matrix).sum(1) if ctx.distance == "euclid" else None

        def topk(m: np.ndarray, norms: np.ndarray | None, qs: np.ndarray) -> np.ndarray:
            qs = prepared(qs, ctx.distance)
            prod = qs @ m.T
            keys = norms[None, :] - 2 * prod if norms is not None else -prod
            kk = min(K, len(m))
            top = np.argpartition(keys, kk - 1, axis=1)[:, :kk]
            return np.take_along_axis(top, np.take_along_axis(keys, top, 1).argsort(1), 1)

        q = ctx.queries
        single, single_qps, done = timed_loop(lambda i: topk(matrix, sq, q[i : i + 1])[0].tolist(), len(q), a.budget, a.min_time)
        batch, batch_qps = timed_batch(lambda qs: np.concatenate([topk(matrix, sq, qs[s : s + 256]) for s in range(0, len(qs), 256)]).tolist(), q)
        res["search"] = {"exact": {"recall": recall(batch, ctx.truth), "recall_single": recall(single, ctx.truth[:done]),
                                   "single_qps": single_qps, "batch_qps": batch_qps, "single_queries": done}}
        log.info("brute force %s", res["search"]["exact"])
        res["filtered"] = {}
        for name in SELECTIVITY:
            rows = ctx.filter_rows[name]
            t0 = time.perf_counter()
            sub = matrix[rows]  # what a brute-force filter costs: gather the matching rows, then score them
            sub_sq = sq[rows] if sq is not None else None
            gather_s = time.perf_counter() - t0
            if len(rows) == 0:
                res["filtered"][name] = {"recall": 1.0, "qps": float("nan"), "queries": 0}
                continue
            found, qps, done = timed_loop(lambda i: rows[topk(sub, sub_sq, ctx.fq[i : i + 1])[0]].tolist(), len(ctx.fq), a.budget, a.min_time)
            res["filtered"][name] = {"recall": recall(found, ctx.filter_truth[name][:done]), "qps": qps, "queries": done, "gather_s": gather_s}
        del matrix
        gc.collect()
    res["memory"] = mem.report()
    return res


def bench_store(ctx: Context, workdir: pathlib.Path) -> dict[str, Any]:
    a = ctx.args
    res: dict[str, Any] = {"engine": "vectron store"}
    folder = workdir / "vectron"
    with RssSampler() as mem:
        store = vectron.open(folder)  # durable by default: fsync on every commit
        col = store.create_collection("bench", dimension=ctx.dim, distance=ctx.distance, hnsw=dict(m=a.m, ef_construct=a.ef_construct, ef=ctx.efs[0]))
        col.create_payload_index("bucket", "integer")
        ids = list(range(ctx.n))
        t0 = time.perf_counter()
        for s in range(0, ctx.n, BATCH):
            col.upsert(ids[s : s + BATCH], ctx.data[s : s + BATCH], ctx.payloads[s : s + BATCH])
        res["build_s"] = time.perf_counter() - t0
        res["build_rate"] = ctx.n / res["build_s"]
        log.info("store: upserted %d in %.1f s", ctx.n, res["build_s"])
        q = ctx.queries
        res["search"] = {}
        for ef in ctx.efs:
            single, single_qps, done = timed_loop(lambda i: [h.id for h in col.search(q[i], k=K, ef=ef)], len(q), a.budget, a.min_time)
            batch, batch_qps = timed_batch(lambda qs: [[h.id for h in row] for row in col.search_batch(qs, k=K, ef=ef)], q)
            res["search"][ef] = {
                "recall": recall(batch, ctx.truth),
                "recall_single": recall(single, ctx.truth[:done]),
                "single_qps": single_qps,
                "batch_qps": batch_qps,
                "single_queries": done,
            }
            log.info("store ef=%d %s", ef, res["search"][ef])
        # payloads are really returned
        sample = col.search(q[0], k=1, ef=ctx.op_ef)
        res["payload_check"] = bool(sample) and sample[0].payload == ctx.payloads[sample[0].id]
        res["filtered"] = {}
        ef = ctx.op_ef
        for name in SELECTIVITY:
            flt = ctx.filter_of(name)
            found, qps, done = timed_loop(lambda i: [h.id for h in col.search(ctx.fq[i], k=K, filter=flt, ef=ef)], len(ctx.fq), a.budget, a.min_time)
            entry = {"recall": recall(found, ctx.filter_truth[name][:done]), "qps": qps, "queries": done, "ef": ef}
            t0 = time.perf_counter()
            batch_found = [[h.id for h in row] for row in col.search_batch(ctx.fq[:done], k=K, filter=flt, ef=ef)]
            entry["batch_qps"] = done / (time.perf_counter() - t0)
            entry["batch_recall"] = recall(batch_found, ctx.filter_truth[name][:done])
            res["filtered"][name] = entry
            log.info("store filtered %s %s", name, entry)
        # reopen: close (saves the index), open again, first search
        t0 = time.perf_counter()
        store.close()
        res["close_s"] = time.perf_counter() - t0
        del col, store
        gc.collect()
        t0 = time.perf_counter()
        store = vectron.open(folder)
        col = store.collection("bench")
        first = col.search(q[0], k=K, ef=ctx.op_ef)
        res["reopen_s"] = time.perf_counter() - t0
        after = [[h.id for h in col.search(q[i], k=K, ef=ctx.op_ef)] for i in range(min(100, len(q)))]
        res["reopen_recall"] = recall(after, ctx.truth[: len(after)])
        res["reopen_first_hits"] = len(first)
        res["reopen_count"] = col.count()
        log.info("store: close %.2f s, reopen + first search %.2f s", res["close_s"], res["reopen_s"])
        store.close()
        res["disk_mb"] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
        gc.collect()
    res["memory"] = mem.report()
    return res


def bench_chroma(ctx: Context, workdir: pathlib.Path) -> dict[str, Any]:
    a = ctx.args
    try:
        import chromadb
        from chromadb.api.client import SharedSystemClient
        from chromadb.config import Settings
    except Exception as exc:
        return {"engine": "chromadb", "skipped": f"chromadb not importable: {exc!r}"}
    res: dict[str, Any] = {"engine": "chromadb", "version": getattr(chromadb, "__version__", "?")}
    try:
        with RssSampler() as mem:
            def connect() -> Any:
                return chromadb.PersistentClient(path=str(workdir / "chroma"), settings=Settings(anonymized_telemetry=False))

            def with_ef(ef: int) -> Any:
                """The collection searching at ``ef``: a running client keeps the ef it loaded the index with
                (``modify`` alone changes nothing until the client is recreated; checked with chromadb 1.5)."""
                nonlocal client
                client.get_collection("bench", embedding_function=None).modify(configuration={"hnsw": {"ef_search": ef}})
                SharedSystemClient.clear_system_cache()
                client = connect()
                got = client.get_collection("bench", embedding_function=None)
                res.setdefault("ef_applied", {})[ef] = (got.configuration_json or {}).get("hnsw", {}).get("ef_search")
                return got

            client = connect()
            hnsw = {"space": _CHROMA_SPACE[ctx.distance], "max_neighbors": a.m, "ef_construction": a.ef_construct, "ef_search": ctx.efs[0]}
            col = client.create_collection("bench", embedding_function=None, configuration={"hnsw": hnsw})
            str_ids = [str(i) for i in range(ctx.n)]
            t0 = time.perf_counter()
            for s in range(0, ctx.n, BATCH):
                col.add(ids=str_ids[s : s + BATCH], embeddings=ctx.data[s : s + BATCH], metadatas=ctx.payloads[s : s + BATCH])
            res["build_s"] = time.perf_counter() - t0
            res["build_rate"] = ctx.n / res["build_s"]
            log.info("chromadb: added %d in %.1f s", ctx.n, res["build_s"])
            q = ctx.queries

            def ids_of(answer: dict[str, Any]) -> list[list[int]]:
                return [[int(x) for x in row] for row in answer["ids"]]

            res["search"] = {}
            for ef in ctx.efs:
                col = with_ef(ef)
                single, single_qps, done = timed_loop(lambda i: ids_of(col.query(query_embeddings=q[i : i + 1], n_results=K))[0], len(q), a.budget, a.min_time)
                batch, batch_qps = timed_batch(lambda qs: ids_of(col.query(query_embeddings=qs, n_results=K)), q)
                res["search"][ef] = {
                    "recall": recall(batch, ctx.truth),
                    "recall_single": recall(single, ctx.truth[:done]),
                    "single_qps": single_qps,
                    "batch_qps": batch_qps,
                    "single_queries": done,
                }
                log.info("chromadb ef=%d %s", ef, res["search"][ef])
            res["filtered"] = {}
            ef = ctx.op_ef
            col = with_ef(ef)
            for name, limit in SELECTIVITY.items():
                found, qps, done = timed_loop(
                    lambda i: ids_of(col.query(query_embeddings=ctx.fq[i : i + 1], n_results=K, where={"bucket": {"$lt": limit}}))[0],
                    len(ctx.fq),
                    a.budget,
                    a.min_time,
                )
                res["filtered"][name] = {"recall": recall(found, ctx.filter_truth[name][:done]), "qps": qps, "queries": done, "ef": ef}
                log.info("chromadb filtered %s %s", name, res["filtered"][name])
            del col, client
            gc.collect()
        res["memory"] = mem.report()
    except Exception as exc:
        log.exception("chromadb failed")
        return {"engine": "chromadb", "skipped": f"chromadb failed: {exc!r}", **{k: v for k, v in res.items() if k != "engine"}}
    return res


# ---------------------------------------------------------------- targets and report


def best_at_recall(res: dict[str, Any], key: str, target: float = RECALL_TARGET) -> tuple[Any, float] | None:
    """(ef, qps) of the fastest configuration whose recall@10 reaches ``target``."""
    ok = [(ef, m[key]) for ef, m in res.get("search", {}).items() if m["recall"] >= target]
    return max(ok, key=lambda t: t[1]) if ok else None


def targets(results: dict[str, Any], op_ef: int) -> list[dict[str, Any]]:
    raw, store = results["hnswlib"], results["store"]
    out: list[dict[str, Any]] = []

    def add(name: str, measured: float, base: float, goal: float, note: str, higher_is_better: bool = True) -> None:
        ratio = measured / base if base else float("nan")
        ok = ratio >= goal if higher_is_better else ratio <= goal
        out.append({"target": name, "store": measured, "baseline": base, "ratio": ratio, "goal": goal, "pass": bool(ok), "note": note})

    rs, ss = raw["search"][op_ef], store["search"][op_ef]
    at = f"ef={op_ef}: recall store {ss['recall']:.3f}, hnswlib {rs['recall']:.3f}"
    add("single-query search QPS (with payloads) vs raw hnswlib", ss["single_qps"], rs["single_qps"], 0.60, at)
    add("batch search QPS vs raw hnswlib", ss["batch_qps"], rs["batch_qps"], 0.80, at)
    add("durable upsert rate vs raw hnswlib add rate", store["build_rate"], raw["build_rate"], 0.50, "batches of 1,000")
    add("reopen time vs build time", store["reopen_s"], store["build_s"], 0.10, "close, open, first search", higher_is_better=False)
    worst = min(m["recall"] for m in store["filtered"].values())
    out.append({"target": "filtered recall@10 >= 0.95 at 50/10/1/0.1 %", "store": worst, "baseline": None, "ratio": None,
                "goal": RECALL_TARGET, "pass": worst >= RECALL_TARGET, "note": f"lowest filtered recall, ef={op_ef}"})
    chroma = results.get("chroma")
    if chroma and "search" in chroma and "skipped" not in chroma:
        for key, label in (("single_qps", "single-query"), ("batch_qps", "batch")):
            s, c = best_at_recall(store, key), best_at_recall(chroma, key)
            if s is None or c is None:
                out.append({"target": f"{label} QPS vs chromadb at recall >= 0.95", "store": None, "baseline": None, "ratio": None,
                            "goal": 1.0, "pass": False, "note": f"recall {RECALL_TARGET} not reached (store {s}, chroma {c})"})
            else:
                add(f"{label} QPS vs chromadb at recall@10 >= 0.95", s[1], c[1], 1.0, f"store ef={s[0]}, chromadb ef={c[0]}")
        add("durable upsert rate vs chromadb add rate", store["build_rate"], chroma["build_rate"], 1.0, "batches of 1,000 with payloads")
    return out


def fmt(x: Any, digits: int = 0) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        if x != x:
            return "—"
        return f"{x:,.{digits}f}"
    return str(x)


def report(meta: dict[str, Any], results: dict[str, Any], checks: list[dict[str, Any]]) -> str:
    engines = [(key, results[key]) for key in ("hnswlib", "store", "brute", "chroma") if key in results and "search" in results[key]]
    names = {"hnswlib": "raw hnswlib", "store": "vectron store", "brute": "numpy brute force", "chroma": "chromadb"}
    lines = [
        f"{meta['n']:,} x {meta['dim']} {meta['data']}, {meta['distance']}, M={meta['m']}, ef_construct={meta['ef_construct']}, "
        f"{meta['queries']} queries (filtered: {meta['filter_queries']}), k={K}; load average {meta['load_before']} before, {meta['load_after']} after",
        "",
        "| engine | build / upsert (points/s) | build time (s) | peak RSS growth (MB) | load avg (1 min) after |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for key, r in engines:
        lines.append(f"| {names[key]} | {fmt(r['build_rate'])} | {fmt(r['build_s'], 2)} | {fmt(r['memory']['rss_growth_mb'])} | {fmt(r['memory'].get('load_1min_end'), 2)} |")
    lines += ["", "| engine | ef | recall@10 | single-query QPS | batch QPS |", "| --- | ---: | ---: | ---: | ---: |"]
    for key, r in engines:
        for ef, m in r["search"].items():
            lines.append(f"| {names[key]} | {ef} | {m['recall']:.3f} | {fmt(m['single_qps'])} | {fmt(m['batch_qps'])} |")
    head = "| selectivity | matching points |"
    rule = "| ---: | ---: |"
    for key, _ in engines:
        head += f" {names[key]} recall | {names[key]} QPS |"
        rule += " ---: | ---: |"
    head += " store batch QPS |"
    rule += " ---: |"
    lines += ["", f"Filtered search (`bucket < N`, ef={meta['op_ef']}, single queries; store batch = `search_batch`):", "", head, rule]
    for name in SELECTIVITY:
        row = f"| {name} | {meta['matching'][name]:,} |"
        for key, r in engines:
            f = r.get("filtered", {}).get(name)
            row += f" {f['recall']:.3f} | {fmt(f['qps'])} |" if f else " — | — |"
        row += f" {fmt(results['store']['filtered'][name].get('batch_qps'))} |"
        lines.append(row)
    s = results["store"]
    lines += [
        "",
        f"Store reopen: close (saves the index) {s['close_s']:.2f} s; open + first search {s['reopen_s']:.2f} s "
        f"(build {s['build_s']:.1f} s); recall after reopen {s['reopen_recall']:.3f}; on disk {s['disk_mb']:.0f} MB. "
        f"Process peak RSS {meta['peak_rss_mb']:.0f} MB.",
        "",
        "| target | store | baseline | ratio | goal | result | note |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for c in checks:
        digits = 3 if c["ratio"] is None else (2 if "reopen" in c["target"] else 0)
        ratio = "—" if c["ratio"] is None else f"{c['ratio']:.2f}"
        goal = f"{'<=' if 'reopen' in c['target'] else '>='} {c['goal']:.2f}"
        lines.append(f"| {c['target']} | {fmt(c['store'], digits)} | {fmt(c['baseline'], digits)} | {ratio} | {goal} | "
                     f"{'PASS' if c['pass'] else 'MISS'} | {c['note']} |")
    chroma = results.get("chroma")
    if chroma and "skipped" in chroma:
        lines += ["", f"chromadb skipped: {chroma['skipped']}"]
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=None, help="points (default 100,000; 10,000 with --quick; all rows of --data)")
    p.add_argument("--dim", type=int, default=128, help="dimension of the generated vectors (default 128)")
    p.add_argument("--queries", type=int, default=None, help="queries (default 1,000; 200 with --quick)")
    p.add_argument("--filter-queries", type=int, default=None, help="queries per filtered case (default 200; 50 with --quick)")
    p.add_argument("--data", help="a .npy file of shape (n, d): the last --queries rows are the queries")
    p.add_argument("--distance", choices=("cosine", "dot", "euclid"), default="cosine")
    p.add_argument("--efs", default="32,64,128,256", help="search ef values (comma-separated)")
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construct", type=int, default=200)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--budget", type=float, default=None, help="max seconds per single-query loop (default 20; 5 with --quick)")
    p.add_argument("--min-time", type=float, default=None, help="min seconds per single-query measurement (default 1; 0.1 with --quick)")
    p.add_argument("--no-chroma", action="store_true", help="skip chromadb even if installed")
    p.add_argument("--workdir", help="folder for the store and chromadb files (default: a temporary folder, removed after)")
    p.add_argument("--out", help="JSON results file (default bench/results/store_bench-<time>.json)")
    p.add_argument("--quick", action="store_true", help="a smoke run: 10,000 points, fewer queries")
    a = p.parse_args(argv)
    a.efs = sorted({int(x) for x in a.efs.split(",") if x.strip()})
    if a.n is None and not a.data:
        a.n = 10_000 if a.quick else 100_000
    a.queries = a.queries or (200 if a.quick else 1_000)
    a.filter_queries = min(a.filter_queries or (50 if a.quick else 200), a.queries)
    a.budget = a.budget or (5.0 if a.quick else 20.0)
    a.min_time = a.min_time if a.min_time is not None else (0.1 if a.quick else 1.0)
    return a


def machine() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpus": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem_gb, 1), "python": platform.python_version(),
            "numpy": np.__version__, "hnswlib": getattr(hnswlib, "__version__", "0.8.x")}


@contextlib.contextmanager
def working_folder(path: str | None) -> Iterator[pathlib.Path]:
    if path:
        folder = pathlib.Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("vectron", "chroma"):
            shutil.rmtree(folder / name, ignore_errors=True)
        yield folder
    else:
        with tempfile.TemporaryDirectory(prefix="store_bench-") as tmp:
            yield pathlib.Path(tmp)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("vectron").setLevel(logging.WARNING)
    a = parse_args(argv)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if a.data:
        data, queries = load_npy(a.data, a.n, a.queries, a.seed)
        source = f"vectors from {a.data}"
    else:
        data, queries = clustered(a.n, a.dim, a.queries, a.seed)
        source = "clustered vectors (100 gaussian blobs, seeded)"
    ctx = Context(a, data, queries)
    ctx.op_ef = a.efs[-1]  # replaced below by the smallest ef reaching the recall target
    results: dict[str, Any] = {}
    with working_folder(a.workdir) as workdir:
        results["hnswlib"] = raw = bench_hnswlib(ctx)
        results["store"] = bench_store(ctx, workdir)
        results["brute"] = bench_brute(ctx)
        if not a.no_chroma:
            results["chroma"] = bench_chroma(ctx, workdir)
    # the operating ef must also reach the target on the store; if not, use the smallest ef where both do
    both = [ef for ef in a.efs if raw["search"][ef]["recall"] >= RECALL_TARGET and results["store"]["search"][ef]["recall"] >= RECALL_TARGET]
    target_ef = both[0] if both else a.efs[-1]
    checks = targets(results, target_ef)
    meta = {
        "n": ctx.n, "dim": ctx.dim, "data": source, "distance": a.distance, "m": a.m, "ef_construct": a.ef_construct,
        "efs": a.efs, "queries": len(queries), "filter_queries": len(ctx.fq), "op_ef": ctx.op_ef, "target_ef": target_ef,
        "matching": {name: int(len(rows)) for name, rows in ctx.filter_rows.items()},
        "load_before": load_before, "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "machine": machine(), "command": " ".join([pathlib.Path(sys.executable).name, *sys.argv]),
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    text = report(meta, results, checks)
    print(text)
    out = pathlib.Path(a.out) if a.out else ROOT / "bench" / "results" / f"store_bench-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"meta": meta, "results": results, "targets": checks, "report": text}
    out.write_text(json.dumps(doc, indent=2, default=str))
    print(f"\nresults written to {out}")
    return doc


if __name__ == "__main__":
    main()
