"""The cost of a durable Raft journal: commits/s with and without fsync.

    .venv/bin/python bench/raft_bench.py                    # 3 nodes on loopback, 5 s per mode
    .venv/bin/python bench/raft_bench.py --seconds 10 --modes fsync,nofsync,nothing
    .venv/bin/python bench/raft_bench.py --nodes 1          # a group without peers

Starts a group of ``--nodes`` nodes (one process per node, loopback ports;
default 3, 1 is a group without peers, e.g. a replication-factor-1 shard) and
lets the leader propose single small writes (a ~40-byte command, one at a time: each
waits for its commit and apply) for ``--seconds``; reports commits per second
and latency percentiles. Modes:

* ``fsync``: the journal fsyncs before an entry counts (``durable=True``, the
  default) and the FSM's LMDB syncs each commit;
* ``nofsync``: the journal is never fsynced (pysyncobj's own behaviour); the
  FSM's LMDB still syncs each commit;
* ``nothing``: neither the journal nor the FSM syncs (an upper bound).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import socket
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from typing import Any

import lmdb

from vectron.raft import Entry, LmdbStateMachine, RaftConfig, RaftGroup

log = logging.getLogger("raft_bench")


class _BenchFSM(LmdbStateMachine):
    sub_dbs = ("data",)

    def apply_command(self, txn: lmdb.Transaction, entry: Entry) -> bytes:
        txn.put(entry.body[:16], entry.body, db=self.db("data"))
        return b"ok"


def _node(addr: str, peers: list[str], root: str, durable: bool, fsm_sync: bool, conn: Connection) -> None:
    logging.basicConfig(level=logging.WARNING)
    fsm = _BenchFSM(os.path.join(root, "fsm"), sync=fsm_sync)
    group = RaftGroup(fsm, RaftConfig(addr, peers, os.path.join(root, "raft"), "bench-password", durable=durable))
    try:
        while True:
            req = conn.recv()
            if req[0] == "status":
                conn.send(group.status())
            elif req[0] == "run":
                seconds = req[1]
                latencies: list[float] = []
                body = b"k" * 8 + b"v" * 32
                end = time.perf_counter() + seconds
                i = 0
                while time.perf_counter() < end:
                    t0 = time.perf_counter()
                    group.propose(body[:8] + str(i).encode().rjust(8, b"0") + body[16:], timeout=10.0)
                    latencies.append(time.perf_counter() - t0)
                    i += 1
                conn.send((latencies, group.status()["journal_syncs"]))
            elif req[0] == "stop":
                break
    finally:
        group.stop()


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def run_mode(mode: str, seconds: float, nodes: int = 3) -> dict[str, Any]:
    durable, fsm_sync = {"fsync": (True, True), "nofsync": (False, True), "nothing": (False, False)}[mode]
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="raft-bench-", dir=os.environ.get("BENCH_DIR")) as root:
        addrs = [f"127.0.0.1:{p}" for p in _free_ports(nodes)]
        procs, conns = [], []
        for i, addr in enumerate(addrs):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_node, args=(addr, addrs, os.path.join(root, f"n{i}"), durable, fsm_sync, child))
            p.start()
            procs.append(p)
            conns.append(parent)
        try:
            leader = None
            deadline = time.monotonic() + 60
            while leader is None and time.monotonic() < deadline:
                for c in conns:
                    c.send(("status",))
                statuses = [c.recv() for c in conns]
                leader = next((c for c, s in zip(conns, statuses) if s["role"] == "leader" and s["ready"]), None)
                if leader is None:
                    time.sleep(0.2)
            if leader is None:
                raise RuntimeError("no leader elected")
            leader.send(("run", 0.5))  # warm up
            leader.recv()
            leader.send(("run", seconds))
            latencies, syncs = leader.recv()
        finally:
            for c in conns:
                try:
                    c.send(("stop",))
                except OSError:
                    pass
            for p in procs:
                p.join(30)
                if p.is_alive():
                    p.kill()
    latencies.sort()
    return {
        "mode": mode,
        "nodes": nodes,
        "commits": len(latencies),
        "commits_per_s": len(latencies) / sum(latencies),
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
        "leader_journal_fsyncs": syncs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--modes", default="fsync,nofsync")
    ap.add_argument("--nodes", type=int, default=3, help="group size (1: no peers)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for mode in args.modes.split(","):
        r = run_mode(mode, args.seconds, args.nodes)
        log.info(
            "%d node(s) %-8s %6.1f commits/s  p50 %6.2f ms  p99 %6.2f ms  (%d commits, %d leader journal fsyncs)",
            r["nodes"], r["mode"], r["commits_per_s"], r["p50_ms"], r["p99_ms"], r["commits"], r["leader_journal_fsyncs"],
        )


if __name__ == "__main__":
    main()
