"""Gateway benchmark: batch upsert throughput and search QPS / latency through REST and
gRPC (1 and 8 concurrent clients) against a real `vectrond --role all` process, and in
the same run the same queries on the embedded store, with recall@10 of each.

    .venv/bin/python bench/gateway_bench.py                       # 100,000 x 128, 3 shards
    .venv/bin/python bench/gateway_bench.py --points 20000 --queries 500
    .venv/bin/python bench/gateway_bench.py --url http://127.0.0.1:8080   # an already running gateway

Prints a Markdown table (the README's "Benchmarks / gateway").
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import signal
import socket
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

import vectron  # noqa: E402
from vectron.v1 import gateway_pb2 as pb  # noqa: E402
from vectron.v1 import gateway_pb2_grpc, points_pb2  # noqa: E402

log = logging.getLogger("gateway_bench")
K = 10


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


def start_daemon(data_dir: str, daemon: list[str]) -> tuple[subprocess.Popen, str, str]:
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


def run_clients(n_clients: int, queries: np.ndarray, make: Callable[[], Callable[[np.ndarray], list[Any]]]) -> dict[str, Any]:
    """Split the queries among ``n_clients`` threads, each with its own connection."""
    results: list[list[Any]] = [[] for _ in range(len(queries))]
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = np.array_split(np.arange(len(queries)), n_clients)
    barrier = threading.Barrier(n_clients + 1)

    def worker(idx: np.ndarray) -> None:
        search = make()
        search(queries[0])  # warm the connection
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
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    lat = np.array(latencies) * 1000
    return {"qps": len(queries) / wall, "p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99)), "found": results}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--shards", type=int, default=3)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--url", default=None, help="use a running gateway (REST URL) instead of starting one")
    ap.add_argument("--grpc", default=None, help="its gRPC address (with --url)")
    ap.add_argument("--daemon", default=f"{sys.executable} -m vectron.daemon", help="the vectrond command")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    rng = np.random.default_rng(0)
    data = rng.normal(size=(args.points, args.dim)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    pick = rng.choice(args.points, args.queries, replace=False)
    queries = data[pick] + rng.normal(scale=0.05, size=(args.queries, args.dim)).astype(np.float32)
    truth = np.argsort(-(queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ data.T, axis=1)[:, :K]
    payloads = [{"i": i, "tag": f"t{i % 10}"} for i in range(args.points)]

    tmp = tempfile.mkdtemp(prefix="gwbench-")
    proc = None
    if args.url:
        url, grpc_addr = args.url, args.grpc
    else:
        proc, url, grpc_addr = start_daemon(os.path.join(tmp, "node"), args.daemon.split())
    rows: list[tuple[str, ...]] = []
    try:
        admin = vectron.Client(url)
        email = f"bench-{os.getpid()}@example.com"
        admin.register(email, "bench-password-1")
        admin.login(email, "bench-password-1")
        key = admin.create_key("bench").key
        db = vectron.Client(url, api_key=key, timeout=300)
        db.create_collection("bench", args.dim, "cosine", shards=args.shards)
        # -- upsert: first half over REST, second half over gRPC, batches of args.batch
        half = args.points // 2
        t = time.perf_counter()
        for lo in range(0, half, args.batch):
            hi = min(lo + args.batch, half)
            db.upsert("bench", [{"id": i, "vector": data[i].tolist(), "payload": payloads[i]} for i in range(lo, hi)])
        rest_up = half / (time.perf_counter() - t)
        channel = grpc.insecure_channel(grpc_addr, options=[("grpc.max_send_message_length", 256 << 20)])
        stub = gateway_pb2_grpc.VectronServiceStub(channel)
        md = [("authorization", f"Bearer {key}")]
        t = time.perf_counter()
        for lo in range(half, args.points, args.batch):
            hi = min(lo + args.batch, args.points)
            stub.Upsert(pb.UpsertPointsRequest(collection="bench", points=[
                points_pb2.Point(id=points_pb2.PointId(num=i), vector=data[i], payload_json=json.dumps(payloads[i])) for i in range(lo, hi)
            ]), metadata=md, timeout=300)
        grpc_up = (args.points - half) / (time.perf_counter() - t)
        assert db.count("bench") == args.points
        log.info("upsert: REST %.0f points/s, gRPC %.0f points/s", rest_up, grpc_up)

        def rest_search() -> Callable[[np.ndarray], list[Any]]:
            http = httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {key}"})

            def search(q: np.ndarray) -> list[Any]:
                r = http.post("/v1/collections/bench/points/search", json={"vector": q.tolist(), "top_k": K})
                return [h["id"] for h in r.json()["results"]]

            return search

        def grpc_search() -> Callable[[np.ndarray], list[Any]]:
            ch = grpc.insecure_channel(grpc_addr)
            s = gateway_pb2_grpc.VectronServiceStub(ch)

            def search(q: np.ndarray) -> list[Any]:
                r = s.Search(pb.SearchPointsRequest(collection="bench", vector=q, top_k=K), metadata=md, timeout=60)
                return [h.id.num for h in r.results]

            return search

        measured: dict[tuple[str, int], dict[str, Any]] = {}
        for name, make in (("REST", rest_search), ("gRPC", grpc_search)):
            for clients in (1, 8):
                m = run_clients(clients, queries, make)
                m["recall"] = recall(m["found"], truth)
                measured[(name, clients)] = m
                log.info("%s x%d: %.0f QPS p50 %.2f ms p99 %.2f ms recall %.3f", name, clients, m["qps"], m["p50"], m["p99"], m["recall"])
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    # -- the embedded store, same data, same queries, same HNSW parameters
    with vectron.open(os.path.join(tmp, "embedded"), durable=False) as store:
        col = store.create_collection("bench", args.dim, "cosine")
        t = time.perf_counter()
        for lo in range(0, args.points, args.batch):
            hi = min(lo + args.batch, args.points)
            col.upsert(list(range(lo, hi)), data[lo:hi], payloads[lo:hi])
        emb_up = args.points / (time.perf_counter() - t)

        def emb_search() -> Callable[[np.ndarray], list[Any]]:
            return lambda q: [h.id for h in col.search(q, k=K)]

        for clients in (1, 8):
            m = run_clients(clients, queries, emb_search)
            m["recall"] = recall(m["found"], truth)
            measured[("embedded", clients)] = m
            log.info("embedded x%d: %.0f QPS p50 %.2f ms p99 %.2f ms recall %.3f", clients, m["qps"], m["p50"], m["p99"], m["recall"])

    print(f"\n{args.points:,} x {args.dim} (cosine), {args.shards} shards x 1 replica, {args.queries:,} queries, top-{K}, "
          f"batches of {args.batch}\n")
    print(f"| upsert | REST {rest_up:,.0f} points/s | gRPC {grpc_up:,.0f} points/s | embedded store {emb_up:,.0f} points/s |\n")
    print("| search | clients | QPS | p50 | p99 | recall@10 | QPS vs embedded |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in ("REST", "gRPC", "embedded"):
        for clients in (1, 8):
            m = measured[(name, clients)]
            ratio = m["qps"] / measured[("embedded", clients)]["qps"]
            print(f"| {name} | {clients} | {m['qps']:,.0f} | {m['p50']:.2f} ms | {m['p99']:.2f} ms | {m['recall']:.3f} | {ratio:.0%} |")


if __name__ == "__main__":
    main()
