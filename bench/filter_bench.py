"""Filtered search on the embedded store: explicit payload index vs automatic index vs none.

Three copies of one collection (same vectors, same payloads) differ only in how a
filter on the payload field is answered:

* ``explicit``: ``create_payload_index`` on every filtered field before the run;
* ``automatic``: nothing declared; the store indexes a field in the background the
  first time a filter uses it (``auto_index``, the default);
* ``none``: ``auto_index=False``: every filter reads and decodes the payloads.

Filters ``{"key": "sN", "match": {"value": 0}}`` select 50 / 10 / 1 / 0.1 % of the
points. Each case first runs ``--warmup`` queries (and, for ``automatic``, waits
for its background build), then times ``--queries`` single-query searches (k=10,
one thread; ``--scan-queries`` for the unindexed case, which reads every payload
per query); the table gives the median latency and QPS, and the ratio of the
automatic and unindexed medians to the explicit one.

    .venv/bin/python bench/filter_bench.py                  # 50,000 x 64
    .venv/bin/python bench/filter_bench.py --n 5000 --queries 20   # a smoke run
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import vectron  # noqa: E402

log = logging.getLogger("filter_bench")

K = 10
#: field -> (distinct values, selectivity of value 0)
FIELDS = {"s50": (2, "50%"), "s10": (10, "10%"), "s1": (100, "1%"), "s01": (1000, "0.1%")}
MODES = ("explicit", "automatic", "none")


def payloads(n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Each field's value 0 on exactly n / distinct points (shuffled)."""
    columns = {field: rng.permutation(np.arange(n) % distinct) for field, (distinct, _) in FIELDS.items()}
    return [{field: int(columns[field][i]) for field in FIELDS} | {"title": f"doc {i}"} for i in range(n)]


def load(store: vectron.Store, mode: str, vectors: np.ndarray, docs: list[dict[str, Any]]) -> vectron.Collection:
    col = store.create_collection(mode, dimension=vectors.shape[1], auto_index=mode != "none")
    if mode == "explicit":
        for field in FIELDS:
            col.create_payload_index(field, "integer")
    for start in range(0, len(vectors), 5_000):
        end = min(len(vectors), start + 5_000)
        col.upsert(list(range(start, end)), vectors[start:end], docs[start:end])
    return col


def wait_automatic(col: vectron.Collection, field: str, timeout: float = 120.0) -> float:
    """Seconds until ``field`` has an automatic index."""
    start = time.perf_counter()
    while not any(i.field == field and i.automatic for i in col.payload_indexes()):
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"no automatic index on {field} after {timeout} s")
        time.sleep(0.01)
    return time.perf_counter() - start


def timed(col: vectron.Collection, queries: np.ndarray, spec: dict[str, Any], matching: int) -> list[float]:
    out = []
    for q in queries:
        start = time.perf_counter()
        hits = col.search(q, k=K, filter=spec)
        out.append(time.perf_counter() - start)
        assert len(hits) == min(K, matching)
    return out


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--scan-queries", type=int, default=10, help="timed queries of the unindexed case (each reads every payload)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rng = np.random.default_rng(args.seed)
    vectors = rng.normal(size=(args.n, args.dim)).astype(np.float32)
    docs = payloads(args.n, rng)
    queries = rng.normal(size=(args.queries + args.warmup, args.dim)).astype(np.float32)
    medians: dict[tuple[str, str], float] = {}
    builds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, vectron.open(tmp, durable=False) as store:
        cols = {mode: load(store, mode, vectors, docs) for mode in MODES}
        for field, (distinct, _) in FIELDS.items():
            spec = {"must": [{"key": field, "match": {"value": 0}}]}
            matching = len(range(0, args.n, distinct))
            for mode, col in cols.items():
                timed(col, queries[: args.warmup], spec, matching)
                if mode == "automatic":
                    builds[field] = wait_automatic(col, field)
                timed_queries = queries[args.warmup : args.warmup + (args.scan_queries if mode == "none" else args.queries)]
                medians[(field, mode)] = statistics.median(timed(col, timed_queries, spec, matching))
            expected = {h.id for h in cols["none"].search(queries[0], k=K, filter=spec)}
            assert {h.id for h in cols["automatic"].search(queries[0], k=K, filter=spec)} == expected
        memory = {i.field: i.type for i in cols["automatic"].payload_indexes() if i.automatic}
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}; commit {commit()}")
    print(f"command: python bench/filter_bench.py --n {args.n} --dim {args.dim} --queries {args.queries} --scan-queries {args.scan_queries}")
    print("durability: durable=False (the load is not fsynced; the timed part only reads)")
    print(f"automatic indexes built: {memory}\n")
    print("| selectivity | explicit index p50 (QPS) | automatic index p50 (QPS) | no index p50 (QPS) | automatic / explicit | none / explicit | automatic build wait |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for field, (_, share) in FIELDS.items():
        e, a, n = (medians[(field, mode)] for mode in MODES)
        print(
            f"| {share} | {e * 1e3:.2f} ms ({1 / e:,.0f}) | {a * 1e3:.2f} ms ({1 / a:,.0f}) | {n * 1e3:.2f} ms ({1 / n:,.0f}) "
            f"| {a / e:.2f}x | {n / e:.1f}x | {builds[field] * 1e3:.0f} ms |"
        )


if __name__ == "__main__":
    main()
