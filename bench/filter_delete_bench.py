"""Delete and count by filter: through a payload index vs reading every payload.

Two payload fields hold the same values, ``bucket`` (with an integer payload
index) and ``bucket_copy`` (no index), so the same filter on each compares the
index path with the scan the store falls back to. Each delete runs on its own
copy of the collection (deletes change it).

    .venv/bin/python bench/filter_delete_bench.py            # 100,000 points
    .venv/bin/python bench/filter_delete_bench.py --n 20000
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import vectron


def build(folder: Path, n: int, dim: int, buckets: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.integers(0, buckets, n)
    with vectron.open(folder) as store:
        col = store.create_collection("c", dimension=dim, hnsw=dict(m=8, ef_construct=32))
        col.create_payload_index("bucket", "integer")
        for start in range(0, n, 5000):
            ids = list(range(start, min(n, start + 5000)))
            vectors = rng.normal(size=(len(ids), dim)).astype(np.float32) + 0.1
            col.upsert(ids, vectors, [{"bucket": int(values[i]), "bucket_copy": int(values[i]), "tag": f"t{i % 10}"} for i in ids])


def timed(folder: Path, work: Path, spec: dict, delete: bool) -> tuple[int, float]:
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(folder, work)
    with vectron.open(work) as store:
        col = store.collection("c")
        col.count()  # the collection is open and warm before the clock starts
        start = time.perf_counter()
        done = col.delete(filter=spec) if delete else col.count(spec)
        return done, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--buckets", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, work = Path(tmp) / "base", Path(tmp) / "work"
        build(folder, args.n, args.dim, args.buckets, args.seed)
        cases = {
            "match": lambda f: {"must": [{"key": f, "match": {"value": 7}}]},
            "range + unindexed": lambda f: {"must": [{"key": f, "range": {"lt": 5}}, {"key": "tag", "match": {"value": "t3"}}]},
        }
        print(f"{args.n:,} points, {args.buckets} bucket values, durable store")
        print("| filter | operation | points | indexed field | unindexed field | speed-up |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for name, spec_of in cases.items():
            for delete in (False, True):
                n_idx, t_idx = timed(folder, work, spec_of("bucket"), delete)
                n_scan, t_scan = timed(folder, work, spec_of("bucket_copy"), delete)
                assert n_idx == n_scan, (n_idx, n_scan)
                op = "delete" if delete else "count"
                print(f"| {name} | {op} | {n_idx:,} | {t_idx * 1e3:.1f} ms | {t_scan * 1e3:.1f} ms | {t_scan / t_idx:.0f}x |")


if __name__ == "__main__":
    main()
