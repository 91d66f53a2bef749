"""Gateway benchmark: search QPS / latency through REST (the Python client, one
connection per client) and gRPC with 1 and 8 concurrent clients, on 1-shard and
3-shard collections of one real ``vectrond --role all`` process, next to the
embedded store on the same data in the same run, with recall@10 of each; batch
upsert throughput of each side (both durable: fsync on every commit); and the
REST per-request overhead (REST p50 minus the embedded store's p50, plus
``/healthz``).

Data: gaussian blobs (bench/store_bench.py's ``clustered``), so recall@10 is
meaningful (random high-dimensional vectors have no near neighbours). Each
repetition measures every side back to back; the table reports medians.

    .venv/bin/python bench/gateway_bench.py                          # 20,000 x 128, shards 1 and 3, 3 repetitions
    .venv/bin/python bench/gateway_bench.py --points 5000 --queries 300 --reps 1
    .venv/bin/python bench/gateway_bench.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc
import httpx
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from store_bench import clustered  # noqa: E402

import vectron  # noqa: E402
from vectron.v1 import gateway_pb2 as pb  # noqa: E402
from vectron.v1 import gateway_pb2_grpc, points_pb2  # noqa: E402

log = logging.getLogger("gateway_bench")
K = 10
HNSW = {"m": 16, "ef_construct": 200, "ef": 64}


def free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def start_daemon(data_dir: str, daemon: list[str]) -> tuple[subprocess.Popen[bytes], str, str]:
    p = free_ports(7)
    base = 20000 + (os.getpid() % 300) * 30
    rest, grpc_addr = f"127.0.0.1:{p[0]}", f"127.0.0.1:{p[1]}"
    args = [
        *daemon, "--role", "all", "--data-dir", data_dir, "--rest-listen", rest, "--public-grpc-listen", grpc_addr,
        "--auth-raft", f"127.0.0.1:{p[2]}", "--auth-grpc", f"127.0.0.1:{p[3]}", "--placement-raft", f"127.0.0.1:{p[4]}",
        "--placement-grpc", f"127.0.0.1:{p[5]}", "--worker-grpc", f"127.0.0.1:{p[6]}", "--raft-ports", f"{base}-{base + 20}",
        "--bcrypt-rounds", "4", "--default-plan", "unlimited", "--log-level", "WARNING",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECTRON_")}
    os.makedirs(os.path.dirname(data_dir), exist_ok=True)
    log_file = open(os.path.join(os.path.dirname(data_dir), "vectrond.log"), "ab")
    proc = subprocess.Popen(args, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    log_file.close()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"vectrond exited with {proc.returncode}")
        try:
            if httpx.get(f"http://{rest}/readyz", timeout=2).status_code == 200:
                return proc, f"http://{rest}", grpc_addr
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("vectrond not ready")


def recall(found: list[list[Any]], truth: np.ndarray) -> float:
    hits = sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth))
    return hits / (len(truth) * K)


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system, all threads) of process ``pid`` (None: this one), from /proc."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_clients(
    n_clients: int, queries: np.ndarray, make: Callable[[], Callable[[np.ndarray], list[Any]]], server: int | None
) -> dict[str, Any]:
    """Split the queries among ``n_clients`` threads, each with its own client (connection).
    ``cpu_ms``: CPU per query of the answering process (``server``'s pid, or this one)."""
    results: list[list[Any]] = [[] for _ in range(len(queries))]
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = np.array_split(np.arange(len(queries)), n_clients)
    barrier = threading.Barrier(n_clients + 1)

    def worker(idx: np.ndarray) -> None:
        search = make()
        for q in queries[:3]:
            search(q)  # warm the connection
        barrier.wait()
        mine = []
        for i in idx:
            t = time.perf_counter()
            results[i] = search(queries[i])
            mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    cpu = cpu_seconds(server)
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    cpu_ms = (cpu_seconds(server) - cpu) / len(queries) * 1000
    lat = np.array(latencies) * 1000
    return {"qps": len(queries) / wall, "p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99)), "cpu_ms": cpu_ms,
            "found": results}


def p50_of(fn: Callable[[], Any], n: int) -> float:
    for _ in range(5):
        fn()
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - t)
    return float(np.percentile(np.array(lat) * 1000, 50))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--shards", default="1,3", help="shard counts, comma-separated (one collection each)")
    ap.add_argument("--clients", default="1,8", help="concurrent clients, comma-separated")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3, help="repetitions of the search measurements (medians reported)")
    ap.add_argument("--daemon", default=f"{sys.executable} -m vectron.daemon", help="the vectrond command")
    ap.add_argument("--json", default=None, help="write every measurement here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    shard_counts = [int(s) for s in args.shards.split(",")]
    client_counts = [int(c) for c in args.clients.split(",")]

    data, queries = clustered(args.points, args.dim, args.queries, seed=0)
    nd = data / np.linalg.norm(data, axis=1, keepdims=True)
    nq = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    truth = np.argsort(-(nq @ nd.T), axis=1)[:, :K]
    payloads = [{"i": i, "tag": f"t{i % 10}"} for i in range(args.points)]
    load_before = os.getloadavg()

    tmp = tempfile.mkdtemp(prefix="gwbench-")
    proc, url, grpc_addr = start_daemon(os.path.join(tmp, "node", "data"), args.daemon.split())
    runs: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    upserts: dict[str, float] = {}
    overhead: list[dict[str, float]] = []
    try:
        admin = vectron.Client(url)
        email = f"bench-{os.getpid()}@example.com"
        admin.register(email, "bench-password-1")
        admin.login(email, "bench-password-1")
        key = admin.create_key("bench").key
        db = vectron.Client(url, api_key=key, timeout=300)
        md = [("authorization", f"Bearer {key}")]
        channel = grpc.insecure_channel(grpc_addr, options=[("grpc.max_send_message_length", 256 << 20)])
        stub = gateway_pb2_grpc.VectronServiceStub(channel)
        half = args.points // 2
        for shards in shard_counts:
            name = f"bench{shards}"
            db.create_collection(name, args.dim, "cosine", shards=shards, hnsw=HNSW)
            # upsert: first half over REST, second half over gRPC, batches of args.batch (durable: fsynced journal + LMDB)
            t = time.perf_counter()
            for lo in range(0, half, args.batch):
                hi = min(lo + args.batch, half)
                db.upsert(name, [{"id": i, "vector": data[i].tolist(), "payload": payloads[i]} for i in range(lo, hi)])
            upserts[f"REST {shards}"] = half / (time.perf_counter() - t)
            t = time.perf_counter()
            for lo in range(half, args.points, args.batch):
                hi = min(lo + args.batch, args.points)
                stub.Upsert(pb.UpsertPointsRequest(collection=name, points=[
                    points_pb2.Point(id=points_pb2.PointId(num=i), vector=data[i], payload_json=json.dumps(payloads[i]))
                    for i in range(lo, hi)
                ]), metadata=md, timeout=300)
            upserts[f"gRPC {shards}"] = (args.points - half) / (time.perf_counter() - t)
            assert db.count(name) == args.points
            log.info("upsert %d shard(s): REST %.0f, gRPC %.0f points/s", shards, upserts[f"REST {shards}"], upserts[f"gRPC {shards}"])

        with vectron.open(os.path.join(tmp, "embedded"), durable=True) as store:
            col = store.create_collection("bench", args.dim, "cosine", hnsw=HNSW)
            t = time.perf_counter()
            for lo in range(0, args.points, args.batch):
                hi = min(lo + args.batch, args.points)
                col.upsert(list(range(lo, hi)), data[lo:hi], payloads[lo:hi])
            upserts["embedded"] = args.points / (time.perf_counter() - t)
            log.info("upsert embedded (durable): %.0f points/s", upserts["embedded"])

            def embedded() -> Callable[[np.ndarray], list[Any]]:
                return lambda q: [h.id for h in col.search(q, k=K)]

            def rest(name: str) -> Callable[[], Callable[[np.ndarray], list[Any]]]:
                def make() -> Callable[[np.ndarray], list[Any]]:
                    client = vectron.Client(url, api_key=key, timeout=60)
                    return lambda q: [h.id for h in client.search(name, q.tolist(), K)]
                return make

            def grpc_(name: str) -> Callable[[], Callable[[np.ndarray], list[Any]]]:
                def make() -> Callable[[np.ndarray], list[Any]]:
                    s = gateway_pb2_grpc.VectronServiceStub(grpc.insecure_channel(grpc_addr))
                    return lambda q: [h.id.num for h in s.Search(
                        pb.SearchPointsRequest(collection=name, vector=q, top_k=K), metadata=md, timeout=60).results]
                return make

            for rep in range(args.reps):
                for shards in shard_counts:
                    for clients in client_counts:
                        for side, make, pid in (
                            ("embedded", embedded, None), ("REST", rest(f"bench{shards}"), proc.pid), ("gRPC", grpc_(f"bench{shards}"), proc.pid),
                        ):
                            m = run_clients(clients, queries, make, pid)
                            m["recall"] = recall(m.pop("found"), truth)
                            runs.setdefault((side, shards, clients), []).append(m)
                            log.info("rep %d %s %d shard(s) x%d: %.0f QPS p50 %.2f ms p99 %.2f ms recall %.3f cpu %.2f ms/query",
                                     rep, side, shards, clients, m["qps"], m["p50"], m["p99"], m["recall"], m["cpu_ms"])
                # REST per-request overhead, 1 shard, one client, one connection
                one = vectron.Client(url, api_key=key, timeout=60)
                q = queries[0]
                o = {
                    "rest_search": p50_of(lambda: one.search(f"bench{shard_counts[0]}", q.tolist(), K), 300),
                    "embedded_search": p50_of(lambda: col.search(q, k=K), 300),
                    "healthz": p50_of(lambda: one._http.get("/healthz"), 300),
                }
                one.close()
                overhead.append(o)
                log.info("rep %d overhead: %s", rep, o)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    load_after = os.getloadavg()

    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"\ncommit {commit}; {args.points:,} x {args.dim} clustered (cosine), {args.queries:,} queries, top-{K}, "
          f"hnsw {HNSW}; medians of {args.reps} repetitions; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
          f"nproc {os.cpu_count()}\n")
    print("| upsert (batches of %d, durable on both sides) | points/s |" % args.batch)
    print("| --- | ---: |")
    for k, v in upserts.items():
        print(f"| {k if k == 'embedded' else k + ' shard(s)'} | {v:,.0f} |")
    print("\n| side | shards | clients | QPS | p50 | p99 | recall@10 | QPS vs embedded | CPU / query (answering process) "
          "| embedded CPU / this CPU |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    med: dict[tuple[str, int, int], dict[str, float]] = {
        k: {f: statistics.median(r[f] for r in v) for f in ("qps", "p50", "p99", "recall", "cpu_ms")} for k, v in runs.items()
    }
    for shards in shard_counts:
        for side in ("REST", "gRPC", "embedded"):
            for clients in client_counts:
                m = med[(side, shards, clients)]
                e = med[("embedded", shards, clients)]
                print(f"| {side} | {shards} | {clients} | {m['qps']:,.0f} | {m['p50']:.2f} ms | {m['p99']:.2f} ms | {m['recall']:.3f} "
                      f"| {m['qps'] / e['qps']:.0%} | {m['cpu_ms']:.2f} ms | {e['cpu_ms'] / m['cpu_ms']:.0%} |")
    o = {f: statistics.median(x[f] for x in overhead) for f in overhead[0]}
    print(f"\nREST per-request overhead (1 shard, one client, one connection, p50): search {o['rest_search']:.2f} ms - "
          f"embedded {o['embedded_search']:.2f} ms = {o['rest_search'] - o['embedded_search']:.2f} ms; /healthz {o['healthz']:.2f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"commit": commit, "upserts": upserts, "overhead": overhead,
                       "runs": {f"{a}/{b}/{c}": v for (a, b, c), v in runs.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
