"""Batch upsert throughput into one shard group (replication factor 1 and 3) against the
store alone, and the commit latency of a single small write.

    .venv/bin/python bench/worker_bench.py                      # 40 batches of 500 x 128-d per setup
    .venv/bin/python bench/worker_bench.py --batches 20 --latency-samples 100

Runs, in one go and on this machine:

* ``store alone``: ``Collection.upsert`` of the same batches in this process (LMDB +
  hnswlib, durable), the index build rate that bounds everything else, measured right
  before each shard group (the same time window on a shared machine);
* ``shard RF 1`` / ``shard RF 3``: real processes (one ``vectrond --role placement``,
  three ``vectrond --role worker``) on loopback; a collection of ONE shard with that
  replication factor; batches sent over gRPC ``WorkerService.Upsert`` to the shard's
  leader. An acknowledged batch is committed by a majority and applied on the leader
  (every replica builds its own HNSW index);
* commit latency: sequential single-point upserts (1 point, 128-d, small payload) to
  the leader of each shard group, p50 / p99.

Points carry a payload (``{"i": n, "tag": "t<k>", "text": 40 chars}``). The physical
bound for RF r is the store-alone rate divided by r on a machine whose cores the
replicas must share (each replica indexes every point).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import platform
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import grpc
import numpy as np
from grpc_health.v1 import health_pb2, health_pb2_grpc

import vectron
from vectron.services.channels import open_channel
from vectron.services.internal_auth import export_credential
from vectron.v1 import placement_pb2, placement_pb2_grpc, points_pb2, worker_pb2, worker_pb2_grpc

log = logging.getLogger("worker_bench")

DIM = 128
BATCH = 500


def make_batches(n: int, seed: int = 1) -> list[tuple[list[int], np.ndarray, list[dict]]]:
    rng = np.random.default_rng(seed)
    out = []
    for b in range(n):
        ids = list(range(b * BATCH, (b + 1) * BATCH))
        vectors = rng.normal(size=(BATCH, DIM)).astype(np.float32)
        payloads = [{"i": i, "tag": f"t{i % 7}", "text": "x" * 40} for i in ids]
        out.append((ids, vectors, payloads))
    return out


def bench_store(root: pathlib.Path, batches: list) -> float:
    with vectron.open(root / "store") as store:
        coll = store.create_collection("bench", DIM, "cosine")
        start = time.perf_counter()
        for ids, vectors, payloads in batches:
            coll.upsert(ids, vectors, payloads)
        elapsed = time.perf_counter() - start
    return len(batches) * BATCH / elapsed


# -- a small cluster of real processes ------------------------------------------------------


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _port_range(size: int, taken: set[int]) -> tuple[int, int]:
    for _ in range(200):
        base = random.randrange(20000, 32000)
        ports = set(range(base, base + size))
        if ports & taken:
            continue
        try:
            for p in ports:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
        except OSError:
            continue
        taken |= ports
        return base, base + size - 1
    raise RuntimeError("no free port range")


def _serving(address: str) -> bool:
    with open_channel(address) as ch:
        try:
            reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=1)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


@contextmanager
def cluster(root: pathlib.Path, workers: int = 3) -> Iterator[str]:
    """Start a placement node and ``workers`` workers; yield the placement gRPC address."""
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "VECTRON_CLUSTER_PASSWORD": secrets.token_hex(16)}
    export_credential(env["VECTRON_CLUSTER_PASSWORD"], "bench")  # internal RPC needs the cluster token
    ports = _free_ports(2 + workers)
    taken = set(ports)
    pd = f"127.0.0.1:{ports[1]}"
    cmds = [[sys.executable, "-m", "vectron.daemon", "--role", "placement", "--data-dir", str(root / "pd"),
             "--raft-addr", f"127.0.0.1:{ports[0]}", "--grpc-listen", pd, "--log-level", "WARNING"]]
    grpc_addrs = [pd]
    for i in range(workers):
        lo, hi = _port_range(4, taken)
        addr = f"127.0.0.1:{ports[2 + i]}"
        grpc_addrs.append(addr)
        cmds.append([sys.executable, "-m", "vectron.daemon", "--role", "worker", "--data-dir", str(root / f"w{i}"),
                     "--worker-id", f"w{i}", "--placement", pd, "--grpc-listen", addr, "--raft-ports", f"{lo}-{hi}",
                     "--log-level", "WARNING"])
    procs = []
    try:
        for cmd in cmds:
            with open(root / f"{len(procs)}.log", "ab") as out:
                procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True))
        deadline = time.monotonic() + 120
        while not all(_serving(a) for a in grpc_addrs):
            if time.monotonic() > deadline:
                raise TimeoutError("cluster did not start")
            time.sleep(0.3)
        with open_channel(pd) as ch:
            stub = placement_pb2_grpc.PlacementServiceStub(ch)
            while sum(w.live for w in stub.ListWorkers(placement_pb2.ListWorkersRequest(), timeout=5).workers) < workers:
                time.sleep(0.3)
        yield pd
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def shard_group(pd: str, name: str, rf: int) -> tuple[placement_pb2.RoutingTable, str]:
    """Create a 1-shard collection; wait for its leader; return (routing table, leader address)."""
    with open_channel(pd) as ch:
        stub = placement_pb2_grpc.PlacementServiceStub(ch)
        stub.CreateCollection(placement_pb2.CreateCollectionRequest(
            owner="bench", name=name, dimension=DIM, distance="cosine", shard_count=1, replication_factor=rf), timeout=30)
        deadline = time.monotonic() + 120
        while True:
            table = stub.GetRoutingTable(placement_pb2.GetRoutingTableRequest(
                collection=placement_pb2.CollectionRef(owner="bench", name=name)), timeout=10).routing
            if table.shards[0].leader_grpc_address:
                return table, table.shards[0].leader_grpc_address
            if time.monotonic() > deadline:
                raise TimeoutError("no shard leader")
            time.sleep(0.3)


def to_request(table: placement_pb2.RoutingTable, ids: list[int], vectors: np.ndarray, payloads: list[dict]) -> worker_pb2.UpsertRequest:
    ref = worker_pb2.ShardRef(collection_id=table.collection.collection_id, shard_id=0, epoch=table.epoch)
    points = [points_pb2.Point(id=points_pb2.PointId(num=i), vector=v, payload_json=json.dumps(p))
              for i, v, p in zip(ids, vectors.tolist(), payloads)]
    return worker_pb2.UpsertRequest(shard=ref, points=points, request_id=uuid.uuid4().hex)


def bench_group(pd: str, rf: int, batches: list, latency_samples: int, clients: int = 1) -> tuple[float, float, float]:
    table, leader = shard_group(pd, f"rf{rf}-c{clients}", rf)
    requests = [to_request(table, *b) for b in batches]  # serialised before timing
    with open_channel(leader) as ch:
        stub = worker_pb2_grpc.WorkerServiceStub(ch)
        start = time.perf_counter()
        if clients == 1:
            for request in requests:
                stub.Upsert(request, timeout=120)
        else:
            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(lambda r: stub.Upsert(r, timeout=120), requests))
        rate = len(batches) * BATCH / (time.perf_counter() - start)
        rng = np.random.default_rng(7)
        lat = []
        for n in range(latency_samples):
            pid = 10_000_000 + n
            req = to_request(table, [pid], rng.normal(size=(1, DIM)).astype(np.float32), [{"n": n}])
            t0 = time.perf_counter()
            stub.Upsert(req, timeout=30)
            lat.append(time.perf_counter() - t0)
    lat.sort()
    return rate, statistics.median(lat) * 1000, lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--clients", type=int, default=1, help="concurrent senders of batches (1: one batch at a time)")
    parser.add_argument("--rf", default="1,3", help="replication factors to measure")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    batches = make_batches(args.batches)
    with tempfile.TemporaryDirectory(prefix="worker-bench-") as tmp:
        root = pathlib.Path(tmp)
        # The machine may be shared: the store alone is measured right before each shard
        # group (same time window), and each ratio is against that adjacent measurement.
        rows = []
        with cluster(root / "cluster") as pd:
            for rf in [int(x) for x in args.rf.split(",")]:
                store_rate = bench_store(root / f"store-rf{rf}", batches)
                log.info("store alone: %.0f points/s", store_rate)
                rate, p50, p99 = bench_group(pd, rf, batches, args.latency_samples, args.clients)
                log.info("shard RF %d: %.0f points/s, commit p50 %.2f ms, p99 %.2f ms", rf, rate, p50, p99)
                rows.append((rf, store_rate, rate, p50, p99))
    n = args.batches * BATCH
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.batches} batches of {BATCH} x {DIM}-d with payloads ({n:,} points), {args.clients} client(s); "
          f"load average at the end {os.getloadavg()[0]:.1f}\n")
    print("| replication factor | store alone (same window) | shard group upsert throughput | vs bound (store / RF) | single-write commit p50 / p99 |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for rf, store_rate, rate, p50, p99 in rows:
        print(f"| {rf} | {store_rate:,.0f} points/s | {rate:,.0f} points/s | {100 * rate / (store_rate / rf):.0f}% | {p50:.1f} ms / {p99:.1f} ms |")


if __name__ == "__main__":
    main()
