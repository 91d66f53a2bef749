#!/usr/bin/env python3
"""Jepsen-like fault-injection run against real vectrond nodes.

    python jepsen-like-tests/run.py --nodes 3 --time 60 --workload register,set \
        --nemesis kill,pause,partition --seed 1

Exits 0 only when every checker passes. Needs root for network namespaces;
without them it says so and injects process faults only."""

from __future__ import annotations

import argparse
import logging
import pathlib
import secrets
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from jepsen_like.nemesis import FAMILIES, TARGETED
from jepsen_like.runner import RunConfig, run

WORKLOADS = ("register", "set", "collections")


def _list(value: str, allowed: tuple[str, ...], what: str) -> list[str]:
    items = [x.strip() for x in value.split(",") if x.strip()]
    if items == ["all"]:
        return list(allowed)
    bad = [x for x in items if x not in allowed]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown {what} {bad}; choose from {', '.join(allowed)}")
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=3, choices=range(3, 8), metavar="N")
    ap.add_argument("--time", type=float, default=60.0, help="seconds of faults and load")
    ap.add_argument("--workload", default="register,set", help=f"comma list of {', '.join(WORKLOADS)}, or all (register includes the auth races)")
    ap.add_argument("--nemesis", default="kill,pause,partition", help=f"comma list of {', '.join(FAMILIES + TARGETED)}, or all (= {', '.join(FAMILIES)})")
    ap.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    ap.add_argument("--clients", type=int, default=4, help="client threads per workload")
    ap.add_argument("--quiet", type=float, default=10.0, help="seconds of calm after healing, before the final checks")
    ap.add_argument("--out", type=pathlib.Path, default=pathlib.Path(__file__).resolve().parent / "store")
    ap.add_argument("--keep-data", action="store_true", help="keep the nodes' databases (logs and history are always kept)")
    ap.add_argument("--no-netns", action="store_true", help="loopback only: process faults, no partitions")
    ap.add_argument("--read-consistency", default="linearizable", choices=["linearizable", "leader", "any"],
                    help="consistency of the register workload's reads (weaker ones should make the checker fail)")
    ap.add_argument("--hold", default="2,6", help="a fault lasts between these many seconds (min,max); the availability "
                    "checker judges only faults held over 20 s")
    ap.add_argument("--min-judged-faults", type=int, default=0, metavar="N",
                    help="fail the run unless the availability checker judged at least N faults")
    ap.add_argument("--compaction", type=int, default=None, metavar="N",
                    help="start every node with --raft-compaction-entries N (e.g. 50): Raft logs are compacted so "
                         "often that a node killed or cut off catches up through a snapshot install")
    ap.add_argument("--log-level", default="INFO")
    a = ap.parse_args(argv)
    logging.basicConfig(level=a.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        workloads = _list(a.workload, WORKLOADS, "workload")
        nemeses = list(FAMILIES) if a.nemesis.strip() == "all" else _list(a.nemesis, FAMILIES + TARGETED, "nemesis")
    except argparse.ArgumentTypeError as exc:
        ap.error(str(exc))
    try:
        lo, hi = (float(x) for x in a.hold.split(","))
    except ValueError:
        ap.error("--hold takes min,max seconds, e.g. 2,6")
    if a.compaction is not None and a.compaction < 1:
        ap.error("--compaction takes a number of entries >= 1")
    seed = a.seed if a.seed is not None else secrets.randbelow(10**6)
    print(f"jepsen-like run: seed {seed}, {a.nodes} nodes, {a.time:.0f} s, workloads {workloads}, nemeses {nemeses}"
          + (f", compaction threshold {a.compaction}" if a.compaction else ""), flush=True)
    cfg = RunConfig(nodes=a.nodes, time=a.time, workloads=workloads, nemeses=nemeses, seed=seed, out_dir=a.out,
                    clients=a.clients, quiet=a.quiet, keep_data=a.keep_data, no_netns=a.no_netns,
                    read_consistency=a.read_consistency, hold=(lo, hi), compaction=a.compaction,
                    min_judged_faults=a.min_judged_faults)
    report = run(cfg)
    print(report.summary(), flush=True)
    return 0 if report.valid else 1


if __name__ == "__main__":
    sys.exit(main())
