"""How long a `vectrond --role all` node takes to come back after a clean stop, with a
shard of N x D points, against rebuilding that shard's index (issue 12).

    .venv/bin/python bench/restart_bench.py                # 50,000 x 128
    .venv/bin/python bench/restart_bench.py --points 5000  # quicker

One node, one collection of one shard. The log is compacted every 20 entries and
linearizable counts (read barriers: no-op entries) follow the last write, so the
shard's snapshot ends with no-ops, the case that used to restore the snapshot and
rebuild the index at every restart. Three timings from process start to a 200 on
/readyz, then a search: an empty node (the fixed cost of starting), the node with its
shard after SIGTERM (saved index reused), and the node after its saved index was
removed (the index rebuilt from LMDB: the cost of building it). It also counts the
"restored snapshot" lines of each start (0 expected after a clean stop).
"""

from __future__ import annotations

import argparse
import pathlib
import signal
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from tests.services.gateway.procs import Daemon, single_node
from vectron.client import Client
from vectron.errors import Indeterminate


def start_timed(node: Daemon, timeout: float = 600.0) -> float:
    t0 = time.monotonic()
    node.start()
    node.wait_ready(timeout)
    return time.monotonic() - t0


def restores(node: Daemon) -> int:
    return node.log.read_text(errors="replace").count("restored snapshot at index")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=50_000)
    ap.add_argument("--dim", type=int, default=128)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        node = single_node(pathlib.Path(tmp), "--raft-compaction-entries", "20", "--default-shards", "1")
        try:
            start_timed(node)
            node.stop(signal.SIGTERM, timeout=60)
            empty = start_timed(node)  # a restart with no shard: the fixed cost of starting
            admin = Client(node.url)
            admin.register("bench@example.com", "correct horse battery")
            admin.login("bench@example.com", "correct horse battery")
            client = Client(node.url, api_key=admin.create_key("bench", plan="unlimited").key, timeout=120, retries=10)
            client.create_collection("b", args.dim, shards=1)
            vectors = np.random.default_rng(0).normal(size=(args.points, args.dim)).astype(np.float32)
            t0 = time.monotonic()
            for lo in range(0, args.points, 500):
                chunk = vectors[lo:lo + 500]
                batch = [{"id": lo + i, "vector": v.tolist()} for i, v in enumerate(chunk)]
                for attempt in range(5):  # an upsert is idempotent: one whose outcome is unknown is sent again
                    try:
                        client.upsert("b", batch)
                        break
                    except Indeterminate:
                        if attempt == 4:
                            raise
            upload = time.monotonic() - t0
            for _ in range(30):  # read barriers after the last write: the snapshot ends with no-ops
                assert client.count("b") == args.points
            time.sleep(2)
            node.stop(signal.SIGTERM, timeout=60)
            before = restores(node)
            clean = start_timed(node)
            hits = client.search("b", vectors[7].tolist(), top_k=1)
            assert hits[0].id == 7, hits
            clean_restores = restores(node) - before
            node.stop(signal.SIGTERM, timeout=60)
            saved = list(pathlib.Path(tmp).glob("node1/worker/shards/*/points/index.json"))
            assert saved, "no saved index after a clean stop"
            for marker in saved:
                marker.unlink()
            rebuild = start_timed(node)
            assert client.search("b", vectors[7].tolist(), top_k=1)[0].id == 7
            node.stop(signal.SIGTERM, timeout=60)
        finally:
            node.stop()
    print(f"{args.points} x {args.dim}: upload {upload:.1f}s")
    print(f"start to ready: empty node {empty:.1f}s, after a clean stop {clean:.1f}s "
          f"(snapshot restores: {clean_restores}), index rebuilt from LMDB {rebuild:.1f}s")
    print(f"whole restart after a clean stop vs with the index rebuilt: {100 * clean / rebuild:.1f}%; "
          f"less the fixed cost: reopening the shard {max(clean - empty, 0):.1f}s vs building its index {rebuild - empty:.1f}s "
          f"({100 * max(clean - empty, 0) / max(rebuild - empty, 1e-9):.1f}%)")


if __name__ == "__main__":
    main()
